"""Every DAG file imports cleanly and keeps the house rules."""

from __future__ import annotations

import warnings
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from .conftest import DAGS

pytestmark = pytest.mark.airflow

HTTP_POOL = "sina_http"
ARTICLES_ALIAS = "newsflow_articles_changed"


@pytest.fixture(scope="module")
def dagbag(airflow_home: Path) -> tuple[Any, list[warnings.WarningMessage]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        from airflow.dag_processing.dagbag import DagBag

        bag = DagBag(dag_folder=str(DAGS))
    return bag, list(caught)


def test_every_dag_file_imports(dagbag: tuple[Any, list[warnings.WarningMessage]]) -> None:
    bag, _ = dagbag
    assert bag.import_errors == {}
    assert set(bag.dag_ids) == {"news_ingest", "archive_import", "news_live"}
    files = {Path(dag.fileloc).name for dag in bag.dags.values()}
    assert files == {"news_ingest.py", "archive_import.py", "news_live.py"}


def test_no_deprecation_warnings(dagbag: tuple[Any, list[warnings.WarningMessage]]) -> None:
    _, caught = dagbag
    deprecations = [
        f"{w.filename}:{w.lineno}: {w.message}"
        for w in caught
        if issubclass(w.category, DeprecationWarning | PendingDeprecationWarning | FutureWarning)
    ]
    assert deprecations == []


@pytest.mark.parametrize("dag_id", ["news_ingest", "archive_import", "news_live"])
def test_house_rules(dagbag: tuple[Any, list[warnings.WarningMessage]], dag_id: str) -> None:
    dag = dagbag[0].dags[dag_id]
    assert "newsflow" in dag.tags
    assert dag.doc_md and len(dag.doc_md) > 200
    # the Details page shows it: one line saying what the DAG is for
    assert dag.description and 20 < len(dag.description) < 120
    if dag.timetable.can_be_scheduled and "Asset" not in type(dag.timetable).__name__:  # not event-driven ones
        # a scheduled DAG tells its operator how to backfill it, through each of the three doors
        # (in the 3.3 UI the backfill form is behind the Trigger button; there is no Backfill button)
        for door in ("*Trigger* → *Backfill*", "airflow backfill create", "POST /api/v2/backfills"):
            assert door in dag.doc_md
    assert "Backfill* button" not in dag.doc_md
    assert dag.max_active_runs is not None and dag.max_active_runs <= 5
    assert dag.catchup is False
    # no task exists for a window before start_date: backfills must reach the data sets' years
    assert dag.start_date <= datetime(2018, 1, 1, tzinfo=UTC)
    # Verdict and health-check tasks judge what happened: asking again changes nothing, so they fail
    # at once; every task that does I/O retries with backoff.
    judging = {"report", "check_feeds"}
    for t in dag.tasks:
        if t.task_id in judging:
            assert t.retries == 0, t.task_id
            continue
        assert t.retries >= 2, t.task_id
        assert t.retry_exponential_backoff, t.task_id
        assert t.max_retry_delay is not None, t.task_id
    # The loading task's outlet is the alias through which it announces changed articles; a plain
    # Asset outlet would send an event on every successful run (see test_dag_run for the events).
    loaders = [t for t in dag.tasks if any(getattr(o, "name", None) == ARTICLES_ALIAS for o in t.outlets)]
    expected = {"news_ingest": ["process"], "archive_import": ["import_posts"], "news_live": ["ingest"]}[dag_id]
    assert [t.task_id for t in loaders] == expected
    assert not [o for t in dag.tasks for o in t.outlets if getattr(o, "uri", None)], "a static Asset outlet"


def test_news_timetable_gives_real_ten_minute_windows(
    dagbag: tuple[Any, list[warnings.WarningMessage]],
) -> None:
    import pendulum
    from airflow.sdk import CronDataIntervalTimetable
    from airflow.serialization.encoders import coerce_to_core_timetable

    dag = dagbag[0].dags["news_ingest"]
    assert isinstance(dag.timetable, CronDataIntervalTimetable)
    core = coerce_to_core_timetable(dag.timetable)
    interval = core.infer_manual_data_interval(run_after=pendulum.datetime(2026, 3, 1, 12, 34, 56, tz="UTC"))
    assert interval.end - interval.start == timedelta(minutes=10)
    assert interval.start == datetime(2026, 3, 1, 12, 20, tzinfo=UTC)
    assert interval.end == datetime(2026, 3, 1, 12, 30, tzinfo=UTC)


def test_http_tasks_share_the_pool(dagbag: tuple[Any, list[warnings.WarningMessage]]) -> None:
    dag = dagbag[0].dags["news_ingest"]
    pools = {t.task_id: t.pool for t in dag.tasks}
    assert pools["discover"] == HTTP_POOL and pools["fetch"] == HTTP_POOL
    # tasks that only touch Postgres do not take a slot from the HTTP cap
    assert pools["process"] != HTTP_POOL and pools["report"] != HTTP_POOL and pools["check_feeds"] != HTTP_POOL
    order = [t.task_id for t in dag.topological_sort()]
    assert order == ["discover", "fetch", "process", "report", "check_feeds"]


def test_settings_params_default_to_the_workers_settings(
    airflow_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The dag-processor's environment does not leak into the Params: None means "the worker's setting"."""
    from airflow.dag_processing.dagbag import DagBag

    monkeypatch.setenv("NEWSFLOW_ROLL_PAIRS", "1:2")
    monkeypatch.setenv("NEWSFLOW_ZHIBO_IDS", "")
    monkeypatch.setenv("NEWSFLOW_MAX_PAGES", "7")
    bag = DagBag(dag_folder=str(DAGS / "news_ingest.py"))
    assert bag.import_errors == {}
    params = bag.dags["news_ingest"].params
    for name in ("roll_pairs", "zhibo_ids", "max_pages"):
        assert params[name] is None, name
    assert params["fallback_minutes"] == 60 and params["overlap_minutes"] == 5
    # a bad environment is the worker's problem at run time, not a parse error of the file
    monkeypatch.setenv("NEWSFLOW_MAX_PAGES", "many")
    assert DagBag(dag_folder=str(DAGS / "news_ingest.py")).import_errors == {}


def test_archive_path_has_no_default(dagbag: tuple[Any, list[warnings.WarningMessage]]) -> None:
    params = dagbag[0].dags["archive_import"].params
    assert params["path"] is None


def test_dag_files_import_no_launcher_or_stage_at_parse_time(airflow_home: Path) -> None:
    """Parsing a DAG file loads the small glue module and the alert notifier, not the launcher or a stage."""
    import subprocess
    import sys

    code = (
        "import runpy, sys\n"
        "for f in sys.argv[1:]:\n"
        "    runpy.run_path(f)\n"
        "print(' '.join(sorted(m for m in sys.modules if m.split('.')[0] == 'pipeline')))\n"
    )
    files = [str(DAGS / "news_ingest.py"), str(DAGS / "archive_import.py")]
    out = subprocess.run([sys.executable, "-c", code, *files], capture_output=True, text=True, check=True)
    loaded = set(out.stdout.strip().splitlines()[-1].split())
    assert "pipeline.airflow_glue" in loaded  # the check sees what the files import
    # the DAG's callbacks are notifier objects, built when the file is parsed
    allowed = {"pipeline", "pipeline.airflow_glue", "pipeline.airflow_notify", "pipeline.notify", "pipeline.errors"}
    assert loaded <= allowed, loaded


def test_news_live_runs_on_the_feed_watcher(dagbag: tuple[Any, list[warnings.WarningMessage]]) -> None:
    """Event-driven: scheduled on the feeds Asset, whose watcher is the project's trigger (run by the triggerer)."""
    from pipeline.airflow_watch import FeedWatchTrigger

    dag = dagbag[0].dags["news_live"]
    (asset,) = dag.timetable.asset_condition.objects
    assert asset.name == "newsflow_feeds"
    (watcher,) = asset.watchers
    assert isinstance(watcher.trigger, FeedWatchTrigger)
    classpath, kwargs = watcher.trigger.serialize()
    assert classpath == "pipeline.airflow_watch.FeedWatchTrigger" and kwargs["poll_seconds"] > 0
    assert dag.max_active_runs == 1
    (only,) = dag.tasks
    assert only.pool == HTTP_POOL
