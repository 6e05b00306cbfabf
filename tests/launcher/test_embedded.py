"""The embedded PostgreSQL as an earlier, crashed `./run` leaves it: taken over, stopped, or recovered."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg2
import pytest

from pipeline import db
from pipeline.launcher.embedded import inspect, take_over_or_start

from ..conftest import REPO

pytestmark = pytest.mark.db


def _query(url: str) -> int:
    conn = psycopg2.connect(url)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT pg_backend_pid()")
            row = cur.fetchone()
            assert row is not None
            return int(row[0])
    finally:
        conn.close()


def _postmaster(pgdata: Path) -> int:
    return int((pgdata / "postmaster.pid").read_text().splitlines()[0])


def _gone(pid: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            return
        if state == "Z":
            return
        time.sleep(0.1)
    raise AssertionError(f"pid {pid} still alive")


@pytest.fixture()
def pgdata() -> Iterator[Path]:
    # Under the worktree like the session's server: the user pgserver runs as (when we are root)
    # must reach it, and pytest's shared temp folders are pruned by concurrent sessions.
    path = REPO / ".newsflow" / f"test-embedded-{uuid.uuid4().hex[:8]}"
    db.start_embedded(path)
    yield path
    state = inspect(path)
    if state.pid is not None and state.kind != "stale":
        db.stop_embedded(path)
    shutil.rmtree(path, ignore_errors=True)


def test_a_running_server_is_taken_over(pgdata: Path) -> None:
    pid = _postmaster(pgdata)
    url, done = take_over_or_start(pgdata)
    assert done == f"taken over (pid {pid})"
    assert _postmaster(pgdata) == pid
    _query(url)


def test_a_server_killed_with_sigkill_leaves_a_stale_pid_file_that_is_recovered(pgdata: Path) -> None:
    pid = _postmaster(pgdata)
    os.kill(pid, signal.SIGKILL)
    _gone(pid)
    assert (pgdata / "postmaster.pid").exists()
    assert inspect(pgdata).kind == "stale"
    url, done = take_over_or_start(pgdata)
    assert "after an earlier crash" in done
    assert _postmaster(pgdata) != pid
    _query(url)


def test_a_pid_file_naming_another_program_is_recovered(pgdata: Path) -> None:
    """pgserver takes any live pid for a running server; here that pid is a `sleep`."""
    db.stop_embedded(pgdata)
    other = subprocess.Popen(["sleep", "60"])
    try:
        (pgdata / "postmaster.pid").write_text(
            f"{other.pid}\n{pgdata}\n1700000000\n5432\n{pgdata}\n\n  1 2\nready\n"
        )
        assert inspect(pgdata).kind == "stale"
        url, _ = take_over_or_start(pgdata)
        _query(url)
        assert other.poll() is None  # the unrelated program is left alone
    finally:
        other.kill()
        other.wait(10)


def test_a_truncated_pid_file_is_recovered(pgdata: Path) -> None:
    db.stop_embedded(pgdata)
    (pgdata / "postmaster.pid").write_text("")
    url, _ = take_over_or_start(pgdata)
    _query(url)


def test_a_half_shut_down_server_is_stopped_and_started_again(pgdata: Path) -> None:
    """A smart shutdown waits for its clients for ever: what orphaned Airflow workers caused."""
    url, _ = take_over_or_start(pgdata)
    pid = _postmaster(pgdata)
    client = psycopg2.connect(url)  # the orphan's connection
    try:
        os.kill(pid, signal.SIGTERM)  # smart shutdown: no new sessions, waits for this one
        deadline = time.monotonic() + 20
        while inspect(pgdata).kind != "unfinished":
            assert time.monotonic() < deadline
            time.sleep(0.1)
        assert inspect(pgdata).status == "stopping"
        url, done = take_over_or_start(pgdata)
        assert "restarted" in done and "stopping" in done
        assert _postmaster(pgdata) != pid
        _query(url)
    finally:
        client.close()
