"""`./run` as a user runs it: kill -9 of the scheduler is survived, two Ctrl-C leave nothing behind.

Starts `python -m pipeline.launcher --offline` (what `./run --offline` execs) in a NEWSFLOW_HOME of
its own, with its own embedded PostgreSQL, and drives it with signals and the REST API.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from pipeline.airflow_glue import NEWS_DAG_ID
from pipeline.launcher import rest
from pipeline.launcher.stack import free_port
from pipeline.launcher.supervisor import proc_table, session_members

from ..conftest import REPO

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


class Run:
    """A `./run` child with its output collected line by line."""

    def __init__(self, home: Path, port: int) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("NEWSFLOW_", "AIRFLOW"))}
        env.update({"NEWSFLOW_HOME": str(home), "NEWSFLOW_MIN_INTERVAL_PER_HOST": "0"})
        self.home = home
        self.port = port
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "pipeline.launcher", "--offline", "--no-unpause", "--port", str(port)],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,  # our Ctrl-C stays ours; the test sends its own
        )
        self.lines: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def wait_for(self, text: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.output:
            assert self.proc.poll() is None, f"./run exited {self.proc.returncode}:\n{self.output[-4000:]}"
            assert time.monotonic() < deadline, f"no {text!r} after {timeout}s:\n{self.output[-4000:]}"
            time.sleep(0.5)

    def recorded(self) -> dict[str, object]:
        return dict(json.loads((self.home / "run-sessions.json").read_text()))


def _until(cond: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, what
        time.sleep(1)


def _postgres_of(pgdata: Path) -> list[int]:
    out = []
    for p in proc_table():
        try:
            if Path(os.readlink(f"/proc/{p.pid}/cwd")) == pgdata.resolve():
                out.append(p.pid)
        except OSError:
            continue
    return out


@pytest.fixture()
def run() -> Iterator[Run]:
    home = REPO / ".newsflow" / f"e2e-run-{uuid.uuid4().hex[:8]}"
    r = Run(home, free_port())
    try:
        yield r
    finally:
        if r.proc.poll() is None:
            os.kill(r.proc.pid, signal.SIGTERM)
            r.proc.wait(120)
        if r.proc.returncode not in (0, None):
            print(r.output[-4000:])
        shutil.rmtree(home, ignore_errors=True)


def test_a_killed_scheduler_is_restarted_and_two_ctrl_c_leave_nothing_behind(run: Run) -> None:
    run.wait_for("newsflow is up", timeout=400)
    scheduler = int(run.recorded()["components"]["scheduler"])  # type: ignore[index]
    old = [(sid, start) for sid, start in run.recorded()["sessions"] if sid == scheduler]  # type: ignore[attr-defined]
    # the scheduler with its LocalExecutor workers
    assert len(session_members(old)) >= 2

    os.kill(scheduler, signal.SIGKILL)
    run.wait_for("restarted scheduler", timeout=120)
    assert session_members(old) == []  # the old workers went before the new scheduler came
    assert run.proc.poll() is None  # the stack stays up

    password = json.loads((run.home / "airflow-passwords.json").read_text())["admin"]
    base = f"http://127.0.0.1:{run.port}"
    with rest.session(base, "admin", password) as api:
        _until(lambda: rest.healthy(rest.health(base)), 180, "the restarted scheduler never reported healthy")
        rest.unpause(api, base, NEWS_DAG_ID)

        def scheduled_runs() -> list[dict[str, object]]:
            r = api.get(
                f"{base}/api/v2/dags/{NEWS_DAG_ID}/dagRuns", params={"run_type": "scheduled"}, timeout=30
            )
            r.raise_for_status()
            return list(r.json()["dag_runs"])

        # the restarted scheduler creates the latest window's run and runs it to success
        _until(
            lambda: any(r["state"] in ("success", "failed") for r in scheduled_runs()),
            400,
            "no scheduled run finished",
        )
        # A slow machine may cross a 10-minute boundary meanwhile: a later window's run may still be
        # going, but no scheduled run may have failed, and the first to finish succeeded.
        states = [r["state"] for r in scheduled_runs()]
        assert "failed" not in states and "success" in states, states

    sessions = [tuple(s) for s in run.recorded()["sessions"]]  # type: ignore[attr-defined]
    assert session_members(sessions)  # things run now
    pgdata = run.home / "pgdata"
    assert _postgres_of(pgdata)

    os.kill(run.proc.pid, signal.SIGINT)
    run.wait_for("\nstopping...", timeout=30)
    time.sleep(0.5)
    os.kill(run.proc.pid, signal.SIGINT)  # a second Ctrl-C while the components stop
    assert run.proc.wait(180) == 0
    time.sleep(1)  # the reader thread has the last lines
    assert "Traceback" not in run.output, run.output[-4000:]
    assert "still stopping" in run.output
    assert session_members(sessions) == []  # every component, worker and task process
    assert _postgres_of(pgdata) == []  # the embedded server this run started is stopped
    assert not (pgdata / "postmaster.pid").exists()
