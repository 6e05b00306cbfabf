"""Fetch leases: no transaction stays open across a request, two workers fetch each page once, and a
worker whose lease ran out cannot overwrite the worker that took the item over."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import psycopg2

from pipeline import flow
from pipeline.config import Settings
from pipeline.replay import ReplayServer

from .conftest import ALL_TIME, assert_complete, open_dead_letters, rows


def _discovered(db_url: str, settings: Settings, *run_keys: str) -> list[int]:
    run_ids = [flow.begin_run(key, "ingest", ALL_TIME, db_url) for key in run_keys]
    flow.discover(run_ids[0], ALL_TIME, settings, db_url)
    return run_ids


def _in_threads(jobs: dict[str, Callable[[], dict[str, int]]], starts: dict[str, float]) -> dict[str, Any]:
    results: dict[str, Any] = {}

    def run(name: str) -> None:
        time.sleep(starts.get(name, 0.0))
        try:
            results[name] = jobs[name]()
        except BaseException as exc:
            results[name] = exc

    threads = [threading.Thread(target=run, args=(name,), name=name) for name in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not any(t.is_alive() for t in threads)
    assert not any(isinstance(r, BaseException) for r in results.values()), results
    return results


def test_two_workers_fetch_each_page_once_and_hold_no_transaction_while_fetching(
    db_url: str, replay: ReplayServer, settings: Settings
) -> None:
    run_a, run_b = _discovered(db_url, settings, "lease/a", "lease/b")
    pages = rows(db_url, "SELECT count(*) FROM feed_items WHERE kind = 'sina_page'")[0][0]
    replay.set_fault("*.shtml", "slow", seconds=0.4)  # every page request takes a while
    replay.httpd.requests_seen.clear()

    # Watch the workers' sessions from outside: the oldest transaction left open between statements.
    longest = [0.0]
    stop = threading.Event()

    def watch() -> None:
        conn = psycopg2.connect(db_url)
        conn.autocommit = True
        try:
            with conn.cursor() as cur:
                while not stop.is_set():
                    cur.execute(
                        "SELECT COALESCE(max(extract(epoch FROM clock_timestamp() - xact_start)), 0)"
                        " FROM pg_stat_activity WHERE datname = current_database()"
                        " AND application_name = 'newsflow' AND state LIKE 'idle in transaction%%'"
                    )
                    longest[0] = max(longest[0], float(cur.fetchone()[0]))
                    time.sleep(0.02)
        finally:
            conn.close()

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        counts = _in_threads(
            {
                "a": lambda: flow.fetch(run_a, ALL_TIME, settings, db_url),
                "b": lambda: flow.fetch(run_b, ALL_TIME, settings, db_url),
            },
            {},
        )
    finally:
        stop.set()
        watcher.join(10)

    page_gets = Counter(r["path"] for r in replay.request_log() if r["path"].endswith(".shtml"))
    assert len(page_gets) == pages and set(page_gets.values()) == {1}, page_gets  # each page fetched once
    assert counts["a"]["fetched"] > 0 and counts["b"]["fetched"] > 0  # both workers did share the work
    assert counts["a"]["lost_lease"] == counts["b"]["lost_lease"] == 0
    # A request takes 0.4 s; a transaction that waited on one would stay open at least that long.
    assert longest[0] < 0.3, f"a transaction stayed open {longest[0]:.2f} s while a worker fetched"

    flow.process(run_a, ALL_TIME, db_url)
    replay.clear_faults()
    assert_complete(db_url, replay)
    assert rows(db_url, "SELECT count(*) FROM feed_items WHERE lease_owner IS NOT NULL") == [(0,)]


def test_a_worker_whose_lease_ran_out_cannot_overwrite_the_one_that_took_over(
    db_url: str, replay: ReplayServer, settings: Settings
) -> None:
    settings = dataclasses.replace(settings, read_timeout=5.0)
    run_a, run_b = _discovered(db_url, settings, "lease/stale", "lease/fresh")
    # The page worker A claims first (claim order: oldest first) answers slowly, longer than A's lease.
    first_url, fid = rows(
        db_url,
        "SELECT url, feed_item_id FROM feed_items WHERE kind = 'sina_page' ORDER BY published_at, feed_item_id LIMIT 1",
    )[0]
    slow_path = urlsplit(first_url).path
    replay.set_fault(slow_path, "slow", seconds=2.0)
    replay.httpd.requests_seen.clear()

    counts = _in_threads(
        {
            # A holds each item for 0.5 s only: its slow request outlives the lease, its session stays up.
            "a": lambda: flow.fetch(run_a, ALL_TIME, settings, db_url, lease=0.5),
            "b": lambda: flow.fetch(run_b, ALL_TIME, settings, db_url),
        },
        {"b": 1.0},  # B starts once A's lease on the slow page has run out, and takes the page over
    )

    assert counts["a"]["lost_lease"] == 1 and counts["b"]["lost_lease"] == 0
    slow_gets = [r for r in replay.request_log() if r["path"] == slow_path]
    assert len(slow_gets) == 2  # the lease ran out, so the page was fetched again, by B ...
    # ... and only B's result was written: one fetched item, counted once, by B's run.
    items = rows(db_url, "SELECT count(*) FROM feed_items")[0][0]  # pages and flashes
    assert counts["a"]["fetched"] + counts["b"]["fetched"] == items
    assert rows(db_url, "SELECT status, lease_owner FROM feed_items WHERE feed_item_id = %s", (fid,)) == [
        ("fetched", None)
    ]
    per_run = dict(rows(db_url, "SELECT run_key, fetched FROM ingest_runs WHERE run_key LIKE 'lease/%%'"))
    assert per_run == {"lease/stale": counts["a"]["fetched"], "lease/fresh": counts["b"]["fetched"]}
    assert open_dead_letters(db_url) == []

    flow.process(run_b, ALL_TIME, db_url)
    replay.clear_faults()
    assert_complete(db_url, replay)
