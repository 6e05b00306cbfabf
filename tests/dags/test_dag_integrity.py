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
    assert set(bag.dag_ids) == {"news_ingest", "archive_import"}
    files = {Path(dag.fileloc).name for dag in bag.dags.values()}
    assert files == {"news_ingest.py", "archive_import.py"}


def test_no_deprecation_warnings(dagbag: tuple[Any, list[warnings.WarningMessage]]) -> None:
    _, caught = dagbag
    deprecations = [
        f"{w.filename}:{w.lineno}: {w.message}"
        for w in caught
        if issubclass(w.category, DeprecationWarning | PendingDeprecationWarning | FutureWarning)
    ]
    assert deprecations == []


@pytest.mark.parametrize("dag_id", ["news_ingest", "archive_import"])
def test_house_rules(dagbag: tuple[Any, list[warnings.WarningMessage]], dag_id: str) -> None:
    dag = dagbag[0].dags[dag_id]
    assert "newsflow" in dag.tags
    assert dag.doc_md and len(dag.doc_md) > 200
    if dag.timetable.can_be_scheduled:
        # a scheduled DAG tells its operator how to backfill it, through each of the three doors
        for door in ("Backfill", "airflow backfill create", "POST /api/v2/backfills"):
            assert door in dag.doc_md
    assert dag.max_active_runs is not None and dag.max_active_runs <= 5
    assert dag.catchup is False
    # no task exists for a window before start_date: backfills must reach the data sets' years
    assert dag.start_date <= datetime(2018, 1, 1, tzinfo=UTC)
    for t in dag.tasks:
        assert t.retries >= 2, t.task_id
        assert t.retry_exponential_backoff, t.task_id
        assert t.max_retry_delay is not None, t.task_id
    loaders = [t for t in dag.tasks if any(o.uri.startswith("postgres://") for o in t.outlets)]
    assert [t.task_id for t in loaders] == (["process"] if dag_id == "news_ingest" else ["import_posts"])


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
    assert pools["process"] != HTTP_POOL and pools["report"] != HTTP_POOL
    order = [t.task_id for t in dag.topological_sort()]
    assert order == ["discover", "fetch", "process", "report"]


def test_news_params_have_working_defaults(dagbag: tuple[Any, list[warnings.WarningMessage]]) -> None:
    from pipeline.config import parse_pairs

    params = dagbag[0].dags["news_ingest"].params
    assert parse_pairs(params["roll_pairs"])
    assert int(params["max_pages"]) >= 1
    assert params["fallback_minutes"] == 60
