"""
### news_ingest: Sina Finance news into PostgreSQL, one 10-minute window per run

Every run handles exactly its own data interval `[data_interval_start - overlap, data_interval_end)`
(UTC). The overlap (param `overlap_minutes`, default 5) catches items that Sina lists late; nothing
is loaded twice because every load is an upsert on a natural key (docid, canonical URL, title + body).

* `discover` (pool `sina_http`): lists the roll API pairs (`roll_pairs`), the 7x24 feeds
  (`zhibo_ids`) and RSS URLs into `feed_items`. A backfill run lists its window; a scheduled or
  manual run pages each source back to its cursor (the newest item listed before), so a downtime
  is refilled; where the feed no longer reaches the cursor it records a coverage gap and alerts.
* `fetch` (pool `sina_http`): fetches the pages of items not already stored into `raw_pages`;
  per-item failures go to `dead_letters` and are retried on a schedule (5 min … daily) by later runs.
* `process`: parse, dedup, tag and load into `articles`. It sends an event for the Asset
  `newsflow_articles` (through the alias `newsflow_articles_changed`) only when the run added
  articles or new versions of changed ones, so DAGs scheduled on the Asset run for a reason.
* `report` (no retries): writes the run's counts and verdict to `ingest_runs`; it **fails** when
  every item of the window failed or failures exceed `max_failure_ratio` (usually a Sina layout
  change), whichever run loaded them; a run that met a coverage gap or an unreadable source is
  `degraded` (and alerts once).
* `check_feeds` (runs whatever happened before it): alerts once when a feed went silent or far
  below its usual rate (`source_health`). A failed run alerts through `on_failure_callback`.

Tasks hand work to each other through Postgres; XCom carries only the run id and counts. The
database is the Airflow Connection `news_db` (`AIRFLOW_CONN_NEWS_DB`).

A run triggered by hand has no data interval: it handles the **hour before the run's
`run_after` time** (`fallback_minutes`, default 60).

Settings come from the worker's environment when a task runs (`NEWSFLOW_ROLL_PAIRS`,
`NEWSFLOW_ZHIBO_IDS`, `NEWSFLOW_MAX_PAGES`, ...; see the README). The params `roll_pairs`,
`zhibo_ids` and `max_pages` are empty by default and override those settings for one run only.

**Backfill** (every window is a normal run; the `sina_http` pool caps requests across all of them):

* UI: DAG page → *Trigger* → *Backfill* → date range.
* CLI: `airflow backfill create --dag-id news_ingest --from-date 2025-01-01T00:00 --to-date 2025-01-01T06:00`
* REST: `POST /api/v2/backfills` with `{"dag_id": "news_ingest", "from_date": ..., "to_date": ...}`.

How far back: the Sina roll API has no date parameter; it is a "latest N" feed paged by
`page`, so a window is found by paging back (`max_pages`) until `ctime` leaves it. In practice
that reaches hours to a few days back. Older history comes from archives: the `archive_import` DAG.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from airflow.sdk import CronDataIntervalTimetable, Param, dag, get_current_context, task

from pipeline.airflow_glue import NEWS_DAG_ID, POOL_NAME, announce_changes, articles_changed, news_db_url
from pipeline.airflow_notify import AlertNotifier, ClearAlerts


def _discover_mode() -> str:
    """Backfills read their own window; scheduled and manual runs page back to each source's cursor."""
    run_type = get_current_context()["dag_run"].run_type
    return "window" if str(getattr(run_type, "value", run_type)) == "backfill" else "cursor"


def _window() -> Any:
    """The run's window: its data interval widened by the overlap, or the fallback for manual runs."""
    from pipeline.flow import Window

    ctx = get_current_context()
    params = ctx["params"]
    start = ctx.get("data_interval_start")
    end = ctx.get("data_interval_end")
    if start is None or end is None or start == end:
        # A run triggered by hand with no logical date: a fixed window before its run_after, so a
        # retry of the same run handles the same window.
        end = ctx["dag_run"].run_after
        start = end - timedelta(minutes=int(params["fallback_minutes"]))
    start = start - timedelta(minutes=int(params["overlap_minutes"]))
    return Window(start=start.astimezone(UTC), end=end.astimezone(UTC))


def _settings() -> Any:
    """The worker's settings, read now (not when the file was parsed), with this run's overrides."""
    import dataclasses

    from pipeline.config import Settings, parse_pairs

    params = get_current_context()["params"]
    overrides: dict[str, Any] = {}
    if params.get("roll_pairs") is not None:
        overrides["roll_pairs"] = parse_pairs(str(params["roll_pairs"]))
    if params.get("zhibo_ids") is not None:
        overrides["zhibo_ids"] = tuple(int(x) for x in str(params["zhibo_ids"]).split(",") if x.strip())
    if params.get("max_pages") is not None:
        overrides["max_pages"] = int(params["max_pages"])
    return dataclasses.replace(Settings.from_env(), **overrides)


def _run_key() -> str:
    ctx = get_current_context()
    return f"{ctx['dag'].dag_id}/{ctx['run_id']}"


@dag(
    dag_id=NEWS_DAG_ID,
    description="Sina Finance news into PostgreSQL: one 10-minute window per run, backfills by window",
    schedule=CronDataIntervalTimetable("*/10 * * * *", timezone="UTC"),
    # Early on purpose: Airflow creates no task for a window before the start date, and backfills
    # (and the replay data set, 2018-2022) reach that far; catchup=False keeps the scheduler at now.
    start_date=datetime(2015, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=3,
    dagrun_timeout=timedelta(hours=1),
    default_args={
        "owner": "newsflow",
        "retries": 3,
        "retry_delay": timedelta(seconds=30),
        "retry_exponential_backoff": 2.0,
        "max_retry_delay": timedelta(minutes=10),
        "execution_timeout": timedelta(minutes=30),
    },
    params={
        # None: the worker's setting (NEWSFLOW_ROLL_PAIRS, ...) when the task runs.
        "roll_pairs": Param(
            None,
            type=["null", "string"],
            description="Roll API pageid:lid pairs, comma-separated (e.g. 155:1686,155:1687); "
            "empty: NEWSFLOW_ROLL_PAIRS or the package default.",
        ),
        "zhibo_ids": Param(
            None,
            type=["null", "string"],
            description='7x24 feed ids, comma-separated, "" for none; empty: NEWSFLOW_ZHIBO_IDS or the default.',
        ),
        "max_pages": Param(
            None,
            type=["null", "integer"],
            minimum=1,
            maximum=500,
            description="Roll API pages to read back per pair; empty: NEWSFLOW_MAX_PAGES or the default.",
        ),
        "overlap_minutes": Param(
            5,
            type="integer",
            minimum=0,
            maximum=120,
            description="Widen the window backwards to catch late-listed items.",
        ),
        "fallback_minutes": Param(
            60,
            type="integer",
            minimum=1,
            maximum=7 * 24 * 60,
            description="Window length for runs with no data interval.",
        ),
        "max_failure_ratio": Param(
            0.5,
            type="number",
            minimum=0,
            maximum=1,
            description="The report task fails above this share of failed items.",
        ),
    },
    tags=["newsflow", "sina", "ingest"],
    doc_md=__doc__,
    # One alert per condition until it clears (the alerts table); the channels come from the
    # environment (NEWSFLOW_ALERT_WEBHOOK_URL, NEWSFLOW_ALERT_EMAIL).
    on_failure_callback=AlertNotifier("run_failed"),
    on_success_callback=ClearAlerts(("run_failed",)),
)
def news_ingest() -> None:
    @task(pool=POOL_NAME)
    def discover() -> dict[str, int]:
        from pipeline import flow

        url = news_db_url()
        window = _window()
        run_id = flow.begin_run(_run_key(), "ingest", window, url=url)
        found = flow.discover(run_id, window, settings=_settings(), url=url, mode=_discover_mode())
        return {"run_id": run_id, "discovered": found}

    @task(pool=POOL_NAME)
    def fetch(started: dict[str, int]) -> dict[str, int]:
        from pipeline import flow

        counts = flow.fetch(started["run_id"], _window(), settings=_settings(), url=news_db_url())
        return {"run_id": started["run_id"], **counts}

    @task(outlets=[articles_changed()])
    def process(fetched: dict[str, int]) -> dict[str, int]:
        from pipeline import flow

        counts = flow.process(fetched["run_id"], _window(), url=news_db_url())
        announce_changes(get_current_context()["outlet_events"], counts)
        return {"run_id": fetched["run_id"], **counts}

    # No retries: a verdict on the window's items does not change by asking again.
    @task(retries=0)
    def report(processed: dict[str, int]) -> dict[str, int]:
        from airflow.sdk.exceptions import AirflowFailException

        from pipeline import flow, notify
        from pipeline.errors import PipelineError

        ratio = float(get_current_context()["params"]["max_failure_ratio"])
        url = news_db_url()
        try:
            counts = flow.finish_run(processed["run_id"], url=url, max_failure_ratio=ratio)
        except PipelineError as exc:  # the run did not do its job: fail the task, and the run, at once
            raise AirflowFailException(str(exc)) from exc
        if counts["degraded"]:
            notify.raise_alert(
                notify.Alert(
                    source=NEWS_DAG_ID,
                    condition="run_degraded",
                    summary=f"run {processed['run_id']} loaded its items but is degraded (see ingest_runs)",
                    details={"run_id": processed["run_id"]},
                ),
                url,
            )
        else:
            notify.clear_alert(NEWS_DAG_ID, "run_degraded", url)
        return counts

    # Runs whatever happened upstream: a feed that went silent is news even when the run failed.
    @task(trigger_rule="all_done", retries=0)
    def check_feeds() -> int:
        from pipeline import notify

        return len(notify.check_sources(news_db_url()))

    report(process(fetch(discover()))) >> check_feeds()


news_ingest()
