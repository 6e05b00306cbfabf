"""The per-host rate limit kept in PostgreSQL: separate Fetchers (as separate workers) share it."""

from __future__ import annotations

import dataclasses
import itertools
import threading
import time

import pytest

from pipeline.errors import UpstreamStatusError
from pipeline.fetch import Fetcher
from pipeline.replay import ReplayServer
from pipeline.store.ratelimit import SharedHostGate

from ..helpers import quick_settings

pytestmark = pytest.mark.db

INTERVAL = 0.25


def _roll(fetcher: Fetcher, base: str) -> None:
    fetcher.get_bytes(f"{base}/api/roll/get", params={"pageid": 155, "lid": 1686, "num": 1, "page": 1})


def test_two_fetchers_together_send_what_one_would(db_url: str) -> None:
    with ReplayServer() as replay:
        settings = dataclasses.replace(quick_settings(replay.base_url), min_interval_per_host=INTERVAL)
        # two Fetchers with nothing in common but the database: two workers, as far as spacing goes
        fetchers = [Fetcher(settings, gate=SharedHostGate(db_url)) for _ in range(2)]
        for f in fetchers:  # robots.txt first, so only the feed requests below are timed
            f.allowed(replay.base_url + "/api/roll/get")
        replay.clear_log()
        threads = [threading.Thread(target=lambda f=f: [_roll(f, replay.base_url) for _ in range(5)]) for f in fetchers]
        t0 = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        took = time.monotonic() - t0
        times = sorted(e["time"] for e in replay.request_log() if e["path"] == "/api/roll/get")
    assert len(times) == 10
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert min(gaps) >= INTERVAL - 0.05, gaps  # never two at once, whichever Fetcher sent them
    assert took >= 9 * INTERVAL - 0.1


def test_a_retry_after_seen_by_one_fetcher_holds_the_other(db_url: str) -> None:
    with ReplayServer() as replay:
        # the rate limit on (any spacing): slots, and holds, come from the shared gate
        settings = dataclasses.replace(quick_settings(replay.base_url), retries=0, min_interval_per_host=0.05)
        first, second = (Fetcher(settings, gate=SharedHostGate(db_url)) for _ in range(2))
        for f in (first, second):
            f.allowed(replay.base_url + "/api/roll/get")
        replay.set_fault("/api/roll/get", "429", count=1, retry_after=1)
        with pytest.raises(UpstreamStatusError):  # the 429 itself, after no retries
            _roll(first, replay.base_url)
        held_at = time.time()
        _roll(second, replay.base_url)
        waited = time.time() - held_at
    assert waited >= 0.9, waited  # the other "worker" waited for the Retry-After it never saw


def test_without_the_database_a_fetcher_stays_polite_on_its_own() -> None:
    with ReplayServer() as replay:
        settings = dataclasses.replace(quick_settings(replay.base_url), min_interval_per_host=INTERVAL)
        fetcher = Fetcher(settings, gate=SharedHostGate("postgresql://nobody@127.0.0.1:1/none?connect_timeout=1"))
        replay.clear_log()
        for _ in range(3):
            _roll(fetcher, replay.base_url)
        times = sorted(e["time"] for e in replay.request_log() if e["path"] == "/api/roll/get")
    assert len(times) == 3 and min(b - a for a, b in itertools.pairwise(times)) >= INTERVAL - 0.05
