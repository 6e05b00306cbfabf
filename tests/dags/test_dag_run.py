"""`dag.test()` of the news DAG: real HTTP to the replay server, a real PostgreSQL, Airflow in-process."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from pipeline.airflow_glue import ARTICLES_ASSET_NAME, psycopg2_url
from pipeline.replay import ReplayServer

from ..conftest import FIXTURES
from ..helpers import query_rows
from .conftest import DAGS

pytestmark = [pytest.mark.airflow, pytest.mark.db]

# dag.test(logical_date=09:30) gets the data interval [09:20, 09:30); overlap_minutes=25 widens it
# to [09:05, 09:30), which holds two recorded articles (09:13:06, 09:23:01) and one 7x24 flash
# (09:05:06) while the neighbours (the 09:34:01 flash, the next article at 2021-11-30) stay out.
LOGICAL = datetime(2021, 11, 6, 9, 30, tzinfo=UTC)
OVERLAP = 25
WINDOW = (LOGICAL - timedelta(minutes=10 + OVERLAP), LOGICAL)


def _snapshot(url: str) -> dict[str, list[tuple[Any, ...]]]:
    return {
        "articles": query_rows(
            url, "SELECT article_id, docid, content_key, version, updated_at FROM articles ORDER BY 1"
        ),
        "versions": query_rows(url, "SELECT article_id, version FROM article_versions ORDER BY 1, 2"),
        "raw_pages": query_rows(url, "SELECT raw_page_id, url, body_sha256 FROM raw_pages ORDER BY 1"),
        "feed_items": query_rows(url, "SELECT feed_item_id, source, item_key, status FROM feed_items ORDER BY 1"),
        "dead_letters": query_rows(url, "SELECT source, item_key FROM dead_letters ORDER BY 1, 2"),
    }


@pytest.fixture()
def replay(monkeypatch: pytest.MonkeyPatch) -> Iterator[ReplayServer]:
    with ReplayServer() as server:
        monkeypatch.setenv("NEWSFLOW_REPLAY_URL", server.base_url)
        monkeypatch.setenv("NEWSFLOW_MIN_INTERVAL_PER_HOST", "0")
        yield server


@pytest.fixture()
def news_dag(airflow_home: Path, db_url: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    # The DAG reads its database from the Airflow Connection, as in production.
    monkeypatch.setenv("AIRFLOW_CONN_NEWS_DB", db_url)
    monkeypatch.delenv("NEWSFLOW_DATABASE_URL")
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(DAGS / "news_ingest.py"))
    assert bag.import_errors == {}
    return bag.dags["news_ingest"]


def _articles_events() -> list[tuple[Any, ...]]:
    """The articles Asset's events in the Airflow metadata database: (dag_id, run_id, extra)."""
    meta = psycopg2_url(os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"])
    return query_rows(
        meta,
        "SELECT e.source_dag_id, e.source_run_id, e.extra::text FROM asset_event e "
        "JOIN asset a ON a.id = e.asset_id WHERE a.name = %s ORDER BY e.id",
        (ARTICLES_ASSET_NAME,),
    )


def _expected(replay: ReplayServer) -> tuple[set[str], int]:
    start, end = (int(t.timestamp()) for t in WINDOW)
    docids = {a["docid"] for a in replay.manifest() if start <= a["ctime"] < end}
    flashes = sum(1 for z in replay.data.flashes if start <= z["_ctime"] < end)
    return docids, flashes


def test_news_dag_loads_its_window_and_a_rerun_changes_nothing(
    news_dag: Any, db_url: str, replay: ReplayServer
) -> None:
    docids, flashes = _expected(replay)
    assert len(docids) == 2 and flashes == 1  # the window was chosen for this; see WINDOW
    events_before = _articles_events()

    run = news_dag.test(logical_date=LOGICAL, run_conf={"overlap_minutes": OVERLAP})
    assert run.state == "success"
    loaded = {r[0] for r in query_rows(db_url, "SELECT docid FROM articles WHERE kind = 'sina_page'")}
    assert loaded == docids
    assert query_rows(db_url, "SELECT count(*) FROM articles WHERE kind = 'zhibo_flash'") == [(flashes,)]
    runs = query_rows(db_url, "SELECT run_key, status, window_start, window_end, loaded, failed FROM ingest_runs")
    assert runs == [(f"news_ingest/{run.run_id}", "success", WINDOW[0], WINDOW[1], len(docids) + flashes, 0)]
    pages_fetched = sum(1 for r in replay.request_log() if r["path"].endswith(".shtml"))
    assert pages_fetched == len(docids)

    # one Asset event for the run that loaded articles, saying how many
    new_events = _articles_events()[len(events_before) :]
    assert [(dag_id, run_id) for dag_id, run_id, _ in new_events] == [("news_ingest", run.run_id)]
    assert f'"loaded": {len(docids) + flashes}' in new_events[0][2]

    before = _snapshot(db_url)
    events = _articles_events()
    again = news_dag.test(logical_date=LOGICAL, run_conf={"overlap_minutes": OVERLAP})
    assert again.state == "success"
    assert _snapshot(db_url) == before
    # nothing changed, so nothing is announced to DAGs scheduled on the Asset
    assert _articles_events() == events
    # stored pages are not fetched again
    assert sum(1 for r in replay.request_log() if r["path"].endswith(".shtml")) == pages_fetched


def test_a_run_without_data_interval_takes_the_documented_fallback_window(
    news_dag: Any, db_url: str, replay: ReplayServer
) -> None:
    run = news_dag.test(logical_date=None)
    assert run.state == "success"
    assert run.data_interval_start is None
    [(start, end)] = query_rows(db_url, "SELECT window_start, window_end FROM ingest_runs")
    # the hour before run_after, widened by the default 5-minute overlap
    assert end == run.run_after
    assert end - start == timedelta(minutes=60 + 5)


def test_settings_are_read_by_the_worker_when_the_task_runs(
    news_dag: Any, db_url: str, replay: ReplayServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The DAG was parsed above with the 7x24 feed on; the worker's environment now turns it off."""
    docids, flashes = _expected(replay)
    assert flashes == 1
    monkeypatch.setenv("NEWSFLOW_ZHIBO_IDS", "")
    run = news_dag.test(logical_date=LOGICAL, run_conf={"overlap_minutes": OVERLAP})
    assert run.state == "success"
    assert query_rows(db_url, "SELECT count(*) FROM articles WHERE kind = 'zhibo_flash'") == [(0,)]
    assert {r[0] for r in query_rows(db_url, "SELECT docid FROM articles WHERE kind = 'sina_page'")} == docids
    # a param given for one run overrides the worker's setting
    again = news_dag.test(
        logical_date=LOGICAL, run_conf={"overlap_minutes": OVERLAP, "zhibo_ids": "152"}
    )
    assert again.state == "success"
    assert query_rows(db_url, "SELECT count(*) FROM articles WHERE kind = 'zhibo_flash'") == [(flashes,)]


@pytest.fixture()
def archive_dag(airflow_home: Path, db_url: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("AIRFLOW_CONN_NEWS_DB", db_url)
    monkeypatch.delenv("NEWSFLOW_DATABASE_URL")
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(DAGS / "archive_import.py"))
    assert bag.import_errors == {}
    return bag.dags["archive_import"]


def test_archive_import_without_a_path_fails_and_loads_nothing(archive_dag: Any, db_url: str) -> None:
    run = archive_dag.test()
    assert run.state == "failed"
    [ti] = run.get_task_instances()
    assert ti.try_number == 1  # failed for good: a retry cannot supply the folder
    assert query_rows(db_url, "SELECT count(*) FROM articles") == [(0,)]
    assert query_rows(db_url, "SELECT count(*) FROM ingest_runs") == [(0,)]

    run = archive_dag.test(run_conf={"path": str(FIXTURES / "no such folder")})
    assert run.state == "failed"
    assert query_rows(db_url, "SELECT count(*) FROM ingest_runs") == [(0,)]


def test_archive_import_announces_only_what_it_loaded(archive_dag: Any, db_url: str) -> None:
    events = _articles_events()
    run = archive_dag.test(run_conf={"path": str(FIXTURES / "hexo_posts")})
    assert run.state == "success"
    [(loaded,)] = query_rows(db_url, "SELECT count(*) FROM articles")
    assert loaded > 0
    assert [r[:2] for r in _articles_events()[len(events) :]] == [("archive_import", run.run_id)]

    events = _articles_events()
    again = archive_dag.test(run_conf={"path": str(FIXTURES / "hexo_posts")})
    assert again.state == "success"
    assert query_rows(db_url, "SELECT count(*) FROM articles") == [(loaded,)]
    assert _articles_events() == events
