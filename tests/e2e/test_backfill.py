"""Backfills through the REST API on a real scheduler: every window runs, counts land, nothing doubles."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from pipeline.airflow_glue import NEWS_DAG_ID, POOL_NAME
from pipeline.launcher.stack import Stack
from pipeline.replay import ReplayServer

from ..helpers import query_rows

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.db]

# Three 10-minute windows around recorded items: articles at 09:13:06 and 09:23:01, a flash at 09:05:06.
FIRST = (datetime(2021, 11, 6, 9, 0, tzinfo=UTC), datetime(2021, 11, 6, 9, 20, tzinfo=UTC))
# Overlaps the first by two windows, which are run again (reprocess completed runs); its two new,
# earlier windows hold no recorded item, so nothing new may appear.
SECOND = (datetime(2021, 11, 6, 8, 40, tzinfo=UTC), datetime(2021, 11, 6, 9, 10, tzinfo=UTC))
OVERLAP = timedelta(minutes=5)  # the DAG's default overlap_minutes


def _backfill(stack: Stack, api: requests.Session, window: tuple[datetime, datetime], reprocess: str) -> int:
    r = api.post(
        f"{stack.base_url}/api/v2/backfills",
        json={
            "dag_id": NEWS_DAG_ID,
            "from_date": window[0].isoformat(),
            "to_date": window[1].isoformat(),
            "reprocess_behavior": reprocess,
            "max_active_runs": 3,
        },
        timeout=30,
    )
    assert r.status_code == 200, r.text
    return int(r.json()["id"])


def _wait_backfill(
    stack: Stack, api: requests.Session, backfill_id: int, timeout: float = 420
) -> list[dict[str, Any]]:
    """The backfill's runs once it has completed; fails on a failed run or the timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        stack.check_alive()
        bf = api.get(f"{stack.base_url}/api/v2/backfills/{backfill_id}", timeout=30).json()
        runs = [
            run
            for run in api.get(
                f"{stack.base_url}/api/v2/dags/{NEWS_DAG_ID}/dagRuns",
                params={"run_type": "backfill", "limit": 100},
                timeout=30,
            ).json()["dag_runs"]
        ]
        failed = [r["dag_run_id"] for r in runs if r["state"] == "failed"]
        assert not failed, f"backfill runs failed: {failed}"
        if bf["completed_at"] and runs and all(r["state"] == "success" for r in runs):
            return runs
        time.sleep(2)
    raise AssertionError(f"backfill {backfill_id} not done after {timeout:.0f}s")


def _in(window: tuple[datetime, datetime], ts: int) -> bool:
    return window[0] - OVERLAP <= datetime.fromtimestamp(ts, UTC) < window[1]


def test_backfill_over_rest_runs_every_window_and_a_second_one_adds_nothing(
    stack: Stack, replay_server: ReplayServer
) -> None:
    url = stack.news_url
    with stack.api() as api:
        pool = api.get(f"{stack.base_url}/api/v2/pools/{POOL_NAME}", timeout=30).json()
        assert pool["slots"] >= 1

        first_id = _backfill(stack, api, FIRST, "none")
        runs = _wait_backfill(stack, api, first_id)
        intervals = sorted(
            (datetime.fromisoformat(r["data_interval_start"]), datetime.fromisoformat(r["data_interval_end"]))
            for r in runs
        )
        assert len(intervals) >= 3
        assert all(end - start == timedelta(minutes=10) for start, end in intervals)

        # rows: exactly the recorded items whose time falls in the backfilled span
        span = (intervals[0][0], intervals[-1][1])
        want_docids = {a["docid"] for a in replay_server.manifest() if _in(span, a["ctime"])}
        want_flashes = sum(1 for z in replay_server.data.flashes if _in(span, z["_ctime"]))
        assert len(want_docids) == 2 and want_flashes >= 1
        got = {r[0] for r in query_rows(url, "SELECT docid FROM articles WHERE kind = 'sina_page'")}
        assert got == want_docids
        assert query_rows(url, "SELECT count(*) FROM articles WHERE kind = 'zhibo_flash'") == [(want_flashes,)]

        # per-run counts: one success row per window, its own window, and every article loaded once
        per_run = query_rows(
            url,
            "SELECT run_key, status, window_start, window_end, loaded, failed FROM ingest_runs "
            "WHERE run_key LIKE %s ORDER BY window_start",
            (f"{NEWS_DAG_ID}/backfill__%",),
        )
        assert [(r[2], r[3]) for r in per_run] == [(s - OVERLAP, e) for s, e in intervals]
        assert all(r[1] == "success" and r[5] == 0 for r in per_run)
        assert sum(r[4] for r in per_run) == len(want_docids) + want_flashes
        articles_before = query_rows(
            url, "SELECT article_id, docid, content_key, version FROM articles ORDER BY 1"
        )
        pages_before = query_rows(url, "SELECT count(*) FROM raw_pages")

        second_id = _backfill(stack, api, SECOND, "completed")
        second_runs = _wait_backfill(stack, api, second_id)
        assert len(second_runs) > len(runs)  # the new windows ran, the overlapping ones ran again
        assert min(datetime.fromisoformat(r["data_interval_start"]) for r in second_runs) < intervals[0][0]

    assert (
        query_rows(url, "SELECT article_id, docid, content_key, version FROM articles ORDER BY 1")
        == articles_before
    )
    assert query_rows(url, "SELECT count(*) FROM raw_pages") == pages_before
    assert query_rows(url, "SELECT count(*) FROM article_versions WHERE version > 1") == [(0,)]
    assert query_rows(url, "SELECT count(*) FROM ingest_runs WHERE status <> 'success'") == [(0,)]
