"""The supervisor with small real child processes: restarts, limits, and stops that leave nothing behind."""

from __future__ import annotations

import itertools
import json
import os
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline.launcher.supervisor import (
    RestartLimitError,
    RestartPolicy,
    Supervisor,
    end_recorded_sessions,
    proc_table,
)

# A component like the scheduler: it forks a worker that moves to a process group of its own (as
# Airflow's task processes do), renames itself (as LocalExecutor workers do) and ignores SIGTERM,
# then both wait. The worker's pid is written to the file given as argv[1].
FORKING = r"""
import os, signal, sys, time
pid = os.fork()
if pid == 0:
    os.setpgid(0, 0)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    with open("/proc/self/comm", "w") as fh:
        fh.write("renamed-worker")
    with open(sys.argv[1] + ".tmp", "w") as fh:
        fh.write(str(os.getpid()))
    os.rename(sys.argv[1] + ".tmp", sys.argv[1])
    while True:
        time.sleep(1)
while True:
    time.sleep(1)
"""

# Dies on its own after a moment, every time it is started; each start appends a line to argv[1].
DYING = r"""
import sys, time
with open(sys.argv[1], "a") as fh:
    fh.write(f"{time.monotonic()}\n")
time.sleep(0.2)
sys.exit(3)
"""


def alive(pid: int) -> bool:
    """Running and not a zombie (an orphan's zombie may wait for a PID 1 that does not reap)."""
    return any(p.pid == pid and p.state not in ("Z", "X") for p in proc_table())


def wait_for(cond: object, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if callable(cond) and cond():
            return
        time.sleep(0.05)
    raise AssertionError(f"not true after {timeout}s: {cond}")


def read_pid(path: Path) -> int:
    wait_for(path.exists)
    return int(path.read_text())


@pytest.fixture()
def supervisor(tmp_path: Path) -> Iterator[Supervisor]:
    sup = Supervisor(
        logdir=tmp_path / "logs",
        cwd=tmp_path,
        policy=RestartPolicy(first_delay=0.3, max_delay=1.0, max_per_hour=3),
        state_file=tmp_path / "sessions.json",
    )
    yield sup
    sup.stop(grace=1.0)  # whatever a failing test left


def test_a_dying_component_is_restarted_with_growing_delays_then_the_limit_stops_it(
    supervisor: Supervisor, tmp_path: Path
) -> None:
    starts = tmp_path / "starts"
    supervisor.start("dier", [sys.executable, "-c", DYING, str(starts)])
    with pytest.raises(RestartLimitError) as err:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            supervisor.check()
            time.sleep(0.02)
    # started once, restarted three times (the limit), and the fourth death gives up
    times = [float(x) for x in starts.read_text().split()]
    assert len(times) == 4
    gaps = [b - a for a, b in itertools.pairwise(times)]
    # each gap is the 0.2 s run plus the backoff: 0.3, 0.6, then 1.0 (capped)
    for gap, delay in zip(gaps, (0.3, 0.6, 1.0), strict=True):
        assert gap >= 0.2 + delay, gaps
    assert gaps[2] > gaps[0]
    msg = str(err.value)
    assert "dier" in msg and "exit code 3" in msg and "3 restarts within an hour" in msg
    assert str(tmp_path / "logs" / "dier.log") in msg


def test_restarts_older_than_an_hour_do_not_count(tmp_path: Path) -> None:
    now = [1000.0]
    sup = Supervisor(
        logdir=tmp_path / "logs",
        cwd=tmp_path,
        policy=RestartPolicy(first_delay=0.0, max_delay=0.0, max_per_hour=1),
        clock=lambda: now[0],
    )
    try:
        starts = tmp_path / "starts"
        sup.start("dier", [sys.executable, "-c", DYING, str(starts)])

        def die_and_restart() -> None:
            proc = sup.components["dier"].proc
            assert proc is not None
            proc.wait(10)
            sup.check()  # notices the death
            assert sup.check() == ["dier"]  # due at once (no delay): restarted

        die_and_restart()
        sup.components["dier"].proc.wait(10)  # type: ignore[union-attr]
        with pytest.raises(RestartLimitError):
            sup.check()  # a second restart within the same hour is one too many
        now[0] += 3601
        assert sup.check() == []  # the death is noticed again, the old restart has aged out
        assert sup.check() == ["dier"]
    finally:
        sup.stop(grace=1.0)


def test_stop_ends_forked_workers_in_their_own_group_that_ignore_sigterm(
    supervisor: Supervisor, tmp_path: Path
) -> None:
    supervisor.start("sched", [sys.executable, "-c", FORKING, str(tmp_path / "worker")])
    worker = read_pid(tmp_path / "worker")
    leader = supervisor.pids()["sched"]
    assert os.getpgid(worker) == worker != leader  # its own process group: killpg(leader) misses it

    t0 = time.monotonic()
    assert supervisor.stop(grace=1.0) == []
    assert not alive(worker) and not alive(leader)
    assert time.monotonic() - t0 < 10  # SIGKILL after the grace period, not a hang
    assert not (tmp_path / "sessions.json").exists()  # a clean stop leaves nothing to recover


def test_stop_ends_the_workers_of_a_component_that_died(supervisor: Supervisor, tmp_path: Path) -> None:
    """kill -9 of the leader orphans its worker; stop() still finds it through the session."""
    supervisor.start("sched", [sys.executable, "-c", FORKING, str(tmp_path / "worker")])
    worker = read_pid(tmp_path / "worker")
    os.kill(supervisor.pids()["sched"], signal.SIGKILL)
    wait_for(lambda: not supervisor.pids())
    assert alive(worker)  # the orphan lives on, as LocalExecutor workers did
    assert supervisor.stop(grace=0.5) == []
    assert not alive(worker)


def test_a_restart_first_ends_what_the_dead_leader_left(supervisor: Supervisor, tmp_path: Path) -> None:
    supervisor.start("sched", [sys.executable, "-c", FORKING, str(tmp_path / "worker")])
    first_worker = read_pid(tmp_path / "worker")
    (tmp_path / "worker").unlink()
    first = supervisor.pids()["sched"]
    os.kill(first, signal.SIGKILL)
    deadline = time.monotonic() + 20
    while supervisor.check() != ["sched"]:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert not alive(first_worker)  # no orphan holding what the new scheduler needs
    second = supervisor.pids()["sched"]
    assert second != first
    second_worker = read_pid(tmp_path / "worker")
    assert alive(second_worker)
    assert len(supervisor.sessions()) == 2


def test_a_second_supervisor_ends_what_a_crashed_one_left(tmp_path: Path) -> None:
    """The session record lets the next ./run end the processes of one that was killed."""
    state = tmp_path / "sessions.json"
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from pipeline.launcher.supervisor import Supervisor\n"
        "sup = Supervisor(logdir=Path(sys.argv[1]), cwd=Path(sys.argv[1]), state_file=Path(sys.argv[2]))\n"
        f"sup.start('sched', [sys.executable, '-c', {FORKING!r}, sys.argv[3]])\n"
        "import time\n"
        "while True: time.sleep(1)\n"
    )
    import subprocess

    crashed = subprocess.Popen(
        [sys.executable, "-c", code, str(tmp_path), str(state), str(tmp_path / "worker")]
    )
    try:
        worker = read_pid(tmp_path / "worker")
        leader = json.loads(state.read_text())["components"]["sched"]
    finally:
        crashed.kill()  # the supervisor dies without stopping anything
        crashed.wait(10)
    assert alive(worker) and alive(leader)
    ended = end_recorded_sessions(state, grace=0.5)
    assert set(ended) >= {worker, leader}
    assert not alive(worker) and not alive(leader)
    assert not state.exists()
    assert end_recorded_sessions(state) == []  # nothing recorded: nothing to do


def test_a_recorded_session_id_reused_by_a_new_session_is_left_alone(tmp_path: Path) -> None:
    """A live session whose leader is not the recorded one (its start time differs) is not ours."""
    import subprocess

    other = subprocess.Popen(["sleep", "60"], start_new_session=True)
    try:
        wait_for(lambda: alive(other.pid))
        start = next(p.start for p in proc_table() if p.pid == other.pid)
        state = tmp_path / "sessions.json"
        state.write_text(json.dumps({"sessions": [[other.pid, start + 1]]}))
        assert end_recorded_sessions(state, grace=0.5) == []
        assert alive(other.pid)
        state.write_text(json.dumps({"sessions": [[other.pid, start]]}))
        assert end_recorded_sessions(state, grace=0.5) == [other.pid]  # the same record, matching: ended
        other.wait(10)
    finally:
        other.kill()
        other.wait(10)
