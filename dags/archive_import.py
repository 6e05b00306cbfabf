"""
### archive_import: load a folder of Hexo posts (the RSSHub archives) into PostgreSQL

For history the live Sina feeds no longer serve. Trigger it by hand (*Trigger* on the DAG page)
with the param `path`, a folder of Hexo `.md` posts (searched recursively) readable by the Airflow
worker, e.g. a checkout of `Rock-Candy-Tea/RSSHUB-PAGE` at `source/_posts/金融/新浪财经`. `path`
has no default: a run without it, or with a path that is not a folder, fails at once and loads
nothing.

The posts go through the same parse, dedup, tag and load code as the live feed. The archive has no
URL or docid, so duplicates are found by normalized title + body hash and near-duplicate
signatures; importing the same folder twice changes nothing. Counts land in `ingest_runs`
(kind `archive`). The database is the Airflow Connection `news_db` (`AIRFLOW_CONN_NEWS_DB`). Like
`news_ingest`, the task sends an event for the Asset `newsflow_articles` only when it loaded
articles.

CLI equivalent: `airflow dags trigger archive_import --conf '{"path": "/data/hexo_posts"}'`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from airflow.sdk import Param, dag, get_current_context, task

from pipeline.airflow_glue import ARCHIVE_DAG_ID, announce_changes, articles_changed, news_db_url


@dag(
    dag_id=ARCHIVE_DAG_ID,
    description="A folder of Hexo posts (RSSHub archives of Sina news) into PostgreSQL, by hand",
    schedule=None,
    start_date=datetime(2015, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    default_args={
        "owner": "newsflow",
        "retries": 2,
        "retry_delay": timedelta(seconds=30),
        "retry_exponential_backoff": 2.0,
        "max_retry_delay": timedelta(minutes=10),
    },
    params={
        # No default: a trigger that forgets the folder must not load some other posts.
        "path": Param(
            None,
            type=["null", "string"],
            description="Folder of Hexo posts (.md), read recursively by the worker. Required.",
        ),
    },
    tags=["newsflow", "sina", "archive"],
    doc_md=__doc__,
)
def archive_import() -> None:
    @task(outlets=[articles_changed()])
    def import_posts() -> dict[str, int]:
        from airflow.sdk.exceptions import AirflowFailException

        from pipeline import flow

        ctx = get_current_context()
        raw = ctx["params"].get("path")
        if not raw or not str(raw).strip():
            # Retrying cannot supply a missing param: fail the task without retries.
            raise AirflowFailException(
                'archive_import needs the param "path", the folder of Hexo posts to load: '
                'trigger it with conf {"path": "/folder/of/posts"}'
            )
        directory = Path(str(raw)).expanduser()
        if not directory.is_dir():
            raise AirflowFailException(
                f'archive_import: param "path" {str(directory)!r} is not a folder on this worker'
            )
        counts = flow.import_archive(
            directory, url=news_db_url(), run_key=f"{ctx['dag'].dag_id}/{ctx['run_id']}"
        )
        announce_changes(ctx["outlet_events"], counts)
        return counts

    import_posts()


archive_import()
