"""Live ingestion without Airflow: the feed poll the watcher runs, the live run, and the latency record."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import psycopg2
import pytest

from pipeline import flow
from pipeline.discover import configured_sources
from pipeline.fetch import Fetcher
from pipeline.replay import ReplayServer

from ..helpers import quick_settings

pytestmark = pytest.mark.db


def _rows(url: str, sql: str) -> list[tuple[object, ...]]:
    conn = psycopg2.connect(url)
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
            return cur.fetchall()
    finally:
        conn.close()


def test_the_poll_sees_new_items_the_live_run_loads_them_and_their_latency_is_recorded(db_url: str) -> None:
    with ReplayServer(live_rate=60.0) as replay:  # a copy every second, after the recorded set
        settings = quick_settings(replay.base_url)
        first = flow.poll_new(settings, db_url)
        assert first  # no cursor yet: every source that lists something is new
        counts = flow.ingest_live("test/live-1", datetime.now(UTC), settings, db_url)
        assert counts["loaded"] > 0
        # caught up: the cursors are at the newest item, so the poll sees nothing new ...
        replay.clear_log()
        assert flow.poll_new(settings, db_url) == {}
        # ... and a poll is one small request per source (page 1, five items)
        polls = [e for e in replay.request_log() if e["path"] in ("/api/roll/get", "/api/zhibo/feed")]
        assert len(polls) == len(configured_sources(Fetcher(settings))) and all(
            "num=5" in str(e["query"]) or "page_size=5" in str(e["query"]) for e in polls
        ), polls
        time.sleep(3.5)  # ... until the live replay publishes the next copies
        new = flow.poll_new(settings, db_url)
        assert new and all(" " in v for v in new.values())
        t0 = time.time()
        flow.ingest_live("test/live-2", datetime.now(UTC), settings, db_url)
        took = time.time() - t0
    copies = _rows(
        db_url,
        "SELECT a.title, l.published_at, l.listed_at, l.fetched_at, l.stored_at, l.publication_to_searchable_s"
        " FROM article_latency l JOIN articles a USING (article_id) WHERE a.title LIKE '%（回放1）'",
    )
    assert copies, "no live copy was loaded"
    for title, published, listed, fetched, stored, lag in copies:
        assert published <= listed <= stored, title  # type: ignore[operator]
        if fetched is not None:  # pages are fetched; 7x24 flashes carry their text in the feed
            assert listed <= fetched <= stored, title  # type: ignore[operator]
        # published a few seconds before the poll that saw it; stored by the run that followed
        assert 0 <= float(lag) <= 10 + took, (title, lag)  # type: ignore[arg-type]
    health = _rows(db_url, "SELECT source, lag_p50_hour, lag_p95_hour FROM source_health WHERE lag_p95_hour IS NOT NULL")
    assert health
