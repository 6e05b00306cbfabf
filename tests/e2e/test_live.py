"""Event-driven ingestion on a real scheduler and triggerer: the feed watcher's Asset event starts news_live.

The live replay publishes a new copy of a recorded item every few seconds. news_ingest (the
10-minute schedule) stays paused, so no scheduled run exists: an item the replay publishes after
the stack is up can only reach `search_articles` through the triggerer's watcher, its Asset event
and the news_live run the scheduler starts for it.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pipeline import db, search
from pipeline.airflow_glue import LIVE_DAG_ID, NEWS_DAG_ID
from pipeline.launcher import rest
from pipeline.launcher.stack import Stack, free_port
from pipeline.replay import ReplayServer

from ..helpers import drop_database, query_rows

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.db]

RATE = 20.0  # items per minute: one every 3 s


@pytest.fixture(scope="module")
def live_replay() -> Iterator[ReplayServer]:
    with ReplayServer(live_rate=RATE) as server:
        yield server


@pytest.fixture(scope="module")
def live_stack(
    pg_admin_url: str, live_replay: ReplayServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    tag = uuid.uuid4().hex[:8]
    news_db, meta_db = f"nf_live_{tag}", f"af_live_{tag}"
    for name in (news_db, meta_db):
        db.ensure_database(pg_admin_url, name)
    home: Path = tmp_path_factory.mktemp("newsflow_live")
    stack = Stack(
        home=home,
        news_url=db.with_database(pg_admin_url, news_db),
        meta_url=db.with_database(pg_admin_url, meta_db),
        port=free_port(),
        parallelism=4,
        extra_env={
            "NEWSFLOW_REPLAY_URL": live_replay.base_url,
            "NEWSFLOW_POLL_SECONDS": "5",
            # the DAG file is parsed again soon after news_live is unpaused, which registers its watcher
            "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "10",
        },
    )
    try:
        stack.up(unpause=False, timeout=300)
        with stack.api() as api:
            rest.unpause(api, stack.base_url, LIVE_DAG_ID)
        yield stack
    except BaseException:
        for log in sorted((home / "logs").glob("*.log")):
            print(f"==== {log.name}\n{log.read_text(errors='replace')[-4000:]}")
        raise
    finally:
        stack.stop()
        for name in (news_db, meta_db):
            drop_database(pg_admin_url, name)


def _runs(stack: Stack, dag_id: str) -> list[dict[str, Any]]:
    with stack.api() as api:
        r = api.get(f"{stack.base_url}/api/v2/dags/{dag_id}/dagRuns", timeout=30)
        r.raise_for_status()
        return list(r.json()["dag_runs"])


def test_an_item_published_live_is_searchable_through_the_watchers_asset_event(
    live_stack: Stack, live_replay: ReplayServer
) -> None:
    up_at = time.time()
    found: list[search.SearchHit] = []
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        # a copy the replay published after the stack was up (its title carries the loop mark)
        hits = search.search("回放", url=live_stack.news_url, collapse=False, order_by="recent", limit=50)
        found = [h for h in hits if h.published_at is not None and h.published_at.timestamp() > up_at]
        if found:
            break
        for name in live_stack.supervise():
            print(f"restarted {name}")
        time.sleep(3)
    assert found, f"no live item became searchable within 300 s; news_live runs: {_runs(live_stack, LIVE_DAG_ID)}"

    assert _runs(live_stack, NEWS_DAG_ID) == []  # no scheduled (or any) news_ingest run in between
    live_runs = _runs(live_stack, LIVE_DAG_ID)
    assert live_runs and all(r["run_type"] == "asset_triggered" for r in live_runs), live_runs
    with live_stack.api() as api:
        r = api.get(f"{live_stack.base_url}/api/v2/assets/events", params={"limit": 100}, timeout=30)
        r.raise_for_status()
        events = [e for e in r.json()["asset_events"] if e.get("extra", {}).get("from_trigger")]
    assert events, "no Asset event came from the watcher's trigger"
    assert any("new" in (e["extra"].get("payload") or {}) for e in events)
    # the run that loaded it recorded itself, and the article's latency is on record
    kinds = query_rows(live_stack.news_url, "SELECT DISTINCT kind FROM ingest_runs")
    assert kinds == [("live",)]
    lags = query_rows(
        live_stack.news_url,
        "SELECT publication_to_searchable_s FROM article_latency l JOIN articles a USING (article_id)"
        " WHERE a.title LIKE %s",
        ("%回放%",),
    )
    assert lags and all(0 <= float(lag) < 300 for (lag,) in lags)  # type: ignore[arg-type]
