"""
### news_live: what Sina lists now, ingested within seconds of the feed watcher seeing it

Event-driven (Airflow 3 `AssetWatcher`): the feed watcher (`pipeline.airflow_watch.FeedWatchTrigger`)
runs in the **triggerer**, polls page 1 of every roll API pair and 7x24 feed every
`NEWSFLOW_POLL_SECONDS` seconds (default 15), and when a source lists an item newer than its cursor
it emits an event for the Asset `newsflow_feeds`; this DAG is scheduled on that Asset, so a run
starts as soon as something is new, not at the end of a 10-minute window.

One task, `ingest` (pool `sina_http`), so the run costs one task's scheduling: it pages each source
back to its cursor, fetches the new pages, parses, dedups, tags and loads them, and records the run
(`ingest_runs.kind = 'live'`) with its verdict, like a `news_ingest` run. Events that arrive while a
run is going are merged into the next run (`max_active_runs=1`).

`news_ingest` (every 10 minutes, and backfills) stays the safety net: whatever a live run missed
(the triggerer down, a failed run), the next scheduled run finds from the same cursors.

Like every new DAG it starts **paused**; `./run` unpauses it. The watcher polls only while the DAG
is unpaused (Airflow registers the watchers of active DAGs only).
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

from airflow.sdk import Asset, AssetWatcher, dag, get_current_context, task

from pipeline.airflow_glue import LIVE_DAG_ID, POOL_NAME, announce_changes, articles_changed, news_db_url
from pipeline.airflow_notify import AlertNotifier, ClearAlerts
from pipeline.airflow_watch import DEFAULT_POLL_SECONDS, FEEDS_ASSET_NAME, FEEDS_ASSET_URI, FeedWatchTrigger

feeds = Asset(
    name=FEEDS_ASSET_NAME,
    uri=FEEDS_ASSET_URI,
    watchers=[
        AssetWatcher(
            name="sina_feed_watcher",
            trigger=FeedWatchTrigger(
                poll_seconds=float(os.environ.get("NEWSFLOW_POLL_SECONDS", DEFAULT_POLL_SECONDS))
            ),
        )
    ],
)


@dag(
    dag_id=LIVE_DAG_ID,
    description="Sina Finance news as it is listed: runs on the feed watcher's events",
    schedule=[feeds],
    start_date=datetime(2015, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=timedelta(minutes=30),
    default_args={
        "owner": "newsflow",
        "retries": 2,
        "retry_delay": timedelta(seconds=10),
        "retry_exponential_backoff": 2.0,
        "max_retry_delay": timedelta(minutes=2),
        "execution_timeout": timedelta(minutes=20),
    },
    tags=["newsflow", "sina", "ingest", "live"],
    doc_md=__doc__,
    on_failure_callback=AlertNotifier("run_failed"),
    on_success_callback=ClearAlerts(("run_failed",)),
)
def news_live() -> None:
    @task(pool=POOL_NAME, outlets=[articles_changed()])
    def ingest() -> dict[str, int]:
        from airflow.sdk.exceptions import AirflowFailException

        from pipeline import flow
        from pipeline.config import Settings
        from pipeline.errors import PipelineError

        ctx = get_current_context()
        run_key = f"{ctx['dag'].dag_id}/{ctx['run_id']}"
        try:
            counts = flow.ingest_live(run_key, datetime.now(UTC), Settings.from_env(), news_db_url())
        except PipelineError as exc:  # no source could be listed, or the run's verdict is a failure
            raise AirflowFailException(str(exc)) from exc
        announce_changes(ctx["outlet_events"], counts)
        return counts

    ingest()


news_live()
