"""
### archive_import: load a folder of Hexo posts (the RSSHub archives) into PostgreSQL

For history the live Sina feeds no longer serve. Trigger it by hand with the param `path`, a folder
of Hexo `.md` posts (searched recursively) readable by the Airflow worker, e.g. a checkout of
`Rock-Candy-Tea/RSSHUB-PAGE` at `source/_posts/金融/新浪财经`.

The posts go through the same parse, dedup, tag and load code as the live feed. The archive has no
URL or docid, so duplicates are found by normalized title + body hash and near-duplicate
signatures; importing the same folder twice changes nothing. Counts land in `ingest_runs`
(kind `archive`). The database is the Airflow Connection `news_db` (`AIRFLOW_CONN_NEWS_DB`).

CLI equivalent: `airflow dags trigger archive_import --conf '{"path": "/data/hexo_posts"}'`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from airflow.sdk import Asset, Param, dag, get_current_context, task

ARTICLES = Asset(name="newsflow_articles", uri="postgres://news_db/newsflow/public/articles")
# The posts shipped with the project's tests: a small real archive to try the DAG on.
SAMPLE_POSTS = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "hexo_posts"


@dag(
    dag_id="archive_import",
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
        "path": Param(
            str(SAMPLE_POSTS),
            type="string",
            minLength=1,
            description="Folder of Hexo posts (.md), read recursively.",
        ),
    },
    tags=["newsflow", "sina", "archive"],
    doc_md=__doc__,
)
def archive_import() -> None:
    @task(outlets=[ARTICLES])
    def import_posts() -> dict[str, int]:
        from airflow.sdk import BaseHook

        from pipeline import flow
        from pipeline.airflow_run import psycopg2_url

        ctx = get_current_context()
        directory = Path(str(ctx["params"]["path"]))
        url = psycopg2_url(BaseHook.get_connection("news_db").get_uri())
        return flow.import_archive(directory, url=url, run_key=f"{ctx['dag'].dag_id}/{ctx['run_id']}")

    import_posts()


archive_import()
