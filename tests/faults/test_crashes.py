"""The database going away and the loader being killed, in the middle of a run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg2
import pytest

from pipeline import db, flow
from pipeline.config import Settings
from pipeline.replay import ReplayServer

from .conftest import (
    ALL_TIME,
    assert_batches_whole,
    assert_complete,
    assert_no_duplicates,
    rows,
)

REPO = Path(__file__).resolve().parents[2]


def _wait_for(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def _count(url: str, sql: str) -> int:
    try:
        return int(rows(url, sql)[0][0])
    except psycopg2.Error:
        return 0


@pytest.fixture()
def private_pg(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A PostgreSQL of this test's own (stopping the shared test server would break every other test)."""
    pgdata = tmp_path / "pg"
    admin = db.start_embedded(pgdata)
    db.ensure_database(admin, "newsflow")
    url = db.with_database(admin, "newsflow")
    db.migrate(url)
    try:
        yield pgdata, url
    finally:
        db.stop_embedded(pgdata)


def _restart(pgdata: Path) -> str:
    # A fresh process: pgserver caches the handle of a server it started, and would not start it again.
    code = "import sys; from pathlib import Path; from pipeline import db; print(db.start_embedded(Path(sys.argv[1])))"
    out = subprocess.run(
        [sys.executable, "-c", code, str(pgdata)],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO,
        timeout=120,
    )
    return out.stdout.strip().splitlines()[-1]


def test_postgres_stopped_mid_run_then_restarted(
    private_pg: tuple[Path, str], replay: ReplayServer, settings: Settings
) -> None:
    pgdata, url = private_pg
    replay.set_fault("*.shtml", "slow", seconds=0.25)  # ~7 s of fetching: time to pull the plug
    errors: list[BaseException] = []

    def run() -> None:
        try:
            flow.ingest_window(ALL_TIME, settings, url, run_key="crash/pg")
        except BaseException as exc:
            errors.append(exc)

    worker = threading.Thread(target=run)
    worker.start()
    _wait_for(
        lambda: _count(url, "SELECT count(*) FROM raw_pages WHERE kind = 'sina_page'") >= 5,
        60,
        "pages fetched",
    )
    assert db.stop_embedded(pgdata)
    worker.join(60)
    assert not worker.is_alive()
    # the stage failed (the task fails, Airflow retries it): no swallowed error, no green run
    assert len(errors) == 1 and isinstance(errors[0], psycopg2.Error), errors

    url = db.with_database(_restart(pgdata), "newsflow")
    assert rows(url, "SELECT status, finished_at FROM ingest_runs") == [("running", None)]
    fetched = _count(url, "SELECT count(*) FROM raw_pages WHERE kind = 'sina_page'")
    assert 5 <= fetched < 26
    # what committed before the stop is whole: every fetched item has its bytes, nothing half-loaded
    assert rows(url, "SELECT count(*) FROM feed_items WHERE status = 'fetched' AND raw_page_id IS NULL") == [
        (0,)
    ]
    assert_batches_whole(url)

    replay.clear_faults()
    replay.wait_idle(10)
    counts = flow.ingest_window(ALL_TIME, settings, url, run_key="crash/pg")  # the task's retry
    assert counts["failed"] == 0
    assert rows(url, "SELECT status FROM ingest_runs") == [("success",)]
    assert_complete(url, replay)
    assert_batches_whole(url)
    # pages stored before the stop were not fetched again; only the one in flight when it stopped
    page_gets = [r for r in replay.request_log() if r["path"].endswith(".shtml") and r["status"] == 200]
    assert len(page_gets) - len({r["path"] for r in page_gets}) <= 1


def test_loader_killed_mid_batch_then_the_next_run_completes_the_window(
    db_url: str, replay: ReplayServer, settings: Settings
) -> None:
    replay.set_fault("*.shtml", "slow", seconds=0.25)
    env = dict(os.environ)
    env.update(
        {
            "NEWSFLOW_DATABASE_URL": db_url,
            "NEWSFLOW_REPLAY_URL": replay.base_url,
            "NEWSFLOW_ROLL_PAIRS": "155:1686",
            "NEWSFLOW_ZHIBO_IDS": "152",
            "NEWSFLOW_PAGE_SIZE": "10",
            "NEWSFLOW_READ_TIMEOUT": "5",
            "NEWSFLOW_RETRIES": "1",
            "NEWSFLOW_MIN_INTERVAL_PER_HOST": "0",
        }
    )
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pipeline.cli",
            "ingest",
            "--since",
            "2015-01-01T00:00Z",
            "--until",
            "2025-01-01T00:00Z",
        ],
        env=env,
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for(
            lambda: _count(db_url, "SELECT count(*) FROM raw_pages WHERE kind = 'sina_page'") >= 5,
            60,
            "pages fetched",
        )
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(30)
    assert proc.returncode == -signal.SIGKILL
    # the server notices the dead client and drops its open transaction and row locks
    _wait_for(
        lambda: _count(
            db_url, "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ) == 0,
        30,
        "the killed client's backend to go",
    )  # fmt: skip
    killed = rows(db_url, "SELECT run_id, status, finished_at FROM ingest_runs")
    assert len(killed) == 1 and killed[0][1:] == ("running", None)
    assert _count(db_url, "SELECT count(*) FROM raw_pages WHERE kind = 'sina_page'") < 26
    assert_batches_whole(db_url)

    replay.clear_faults()
    replay.wait_idle(10)
    counts = flow.ingest_window(ALL_TIME, settings, db_url)
    assert counts["failed"] == 0
    assert_complete(db_url, replay)
    assert_batches_whole(db_url)
    assert_no_duplicates(db_url)
    runs = rows(db_url, "SELECT run_id, status, finished_at IS NOT NULL FROM ingest_runs ORDER BY run_id")
    assert runs == [(killed[0][0], "running", False), (counts["run_id"], "success", True)]
