"""Child processes that are restarted when they die and stopped with everything they started.

Each component runs in a session of its own (`start_new_session`). Stopping signals every process
of every session a component ever had, found by session id in /proc, not by process group or by
name: Airflow's task processes move to process groups of their own (so `killpg` of the scheduler's
group misses them), LocalExecutor workers rename their process title and ignore SIGTERM, and all of
them outlive a scheduler killed with SIGKILL while holding database connections. A process cannot
leave its session without calling setsid(), which none of them does. Linux only (/proc).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from pipeline.errors import PipelineError

log = logging.getLogger(__name__)

HOUR = 3600.0


class RestartLimitError(PipelineError):
    """A component died more often within an hour than the policy allows."""


@dataclass(frozen=True)
class RestartPolicy:
    first_delay: float = 2.0  # seconds before the first restart; doubles for each death in a row
    max_delay: float = 60.0
    max_per_hour: int = 5  # restarts of one component within any hour; one more death stops everything
    stable_after: float = 120.0  # a component up this long starts again from `first_delay`


@dataclass
class _Component:
    name: str
    argv: list[str]
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    delay: float = 0.0
    due: float | None = None  # when a dead component is started again
    restarts: deque[float] = field(default_factory=deque)
    sessions: list[tuple[int, int]] = field(default_factory=list)  # (session id, leader start time)


# --- /proc ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProcInfo:
    pid: int
    ppid: int
    pgid: int
    sid: int
    state: str
    start: int  # clock ticks after boot


def proc_table() -> list[ProcInfo]:
    """Every process we can read, from /proc/<pid>/stat."""
    rows = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # exited while we looked
        # The command name (field 2) may hold spaces and parentheses: split after the last ")".
        f = stat[stat.rindex(")") + 2 :].split()
        rows.append(ProcInfo(int(entry.name), int(f[1]), int(f[2]), int(f[3]), f[0], int(f[19])))
    return rows


def _start_time(pid: int) -> int | None:
    for p in proc_table():
        if p.pid == pid:
            return p.start
    return None


def session_members(sessions: Iterable[tuple[int, int]], table: list[ProcInfo] | None = None) -> list[int]:
    """Live (not zombie) pids of the given sessions, each given as (session id, leader start time).

    Linux does not hand out a pid while it still names a process group or session, so a process in
    session `sid` belongs to the recorded session unless every member exited and `sid` was reused:
    then its members all started after a new leader whose start time differs from the recorded one.
    """
    wanted = dict(sessions)
    table = proc_table() if table is None else table
    leaders = {p.pid: p.start for p in table}
    me = os.getpid()
    out = []
    for p in table:
        if p.sid not in wanted or p.state in ("Z", "X") or p.pid == me:
            continue
        recorded = wanted[p.sid]
        if p.sid in leaders and leaders[p.sid] != recorded:
            continue  # a new session with a reused id
        if p.start < recorded:
            continue
        out.append(p.pid)
    return out


def signal_sessions(sessions: Iterable[tuple[int, int]], sig: int) -> int:
    """Send `sig` to every live member of the sessions; returns how many were signalled."""
    n = 0
    for pid in session_members(list(sessions)):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)
            n += 1
    return n


def end_sessions(
    sessions: Sequence[tuple[int, int]],
    grace: float,
    *,
    hurry: threading.Event | None = None,
    reap: Callable[[], None] = lambda: None,
) -> list[int]:
    """SIGTERM every member, SIGKILL what is left after `grace` seconds (or as soon as `hurry` is set).

    `reap` is called while waiting so that our own children do not linger as zombies. Returns the
    pids still alive at the end (empty unless a process is stuck in the kernel).
    """
    if not sessions:
        return []
    signal_sessions(sessions, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while session_members(sessions) and time.monotonic() < deadline and not (hurry and hurry.is_set()):
        reap()
        time.sleep(0.1)
    # A member may fork while we kill: repeat until the sessions are empty.
    deadline = time.monotonic() + 10.0
    while session_members(sessions) and time.monotonic() < deadline:
        signal_sessions(sessions, signal.SIGKILL)
        reap()
        time.sleep(0.1)
    reap()
    return session_members(sessions)


def describe_exit(code: int) -> str:
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


# --- the supervisor -----------------------------------------------------------------------------------


class Supervisor:
    """Starts named commands, restarts those that die (with backoff and a per-hour limit), stops all.

    `check()` does the supervising; call it every second or so from one thread. `state_file`, when
    given, records every session started, so that a later run can end what a crashed one left
    (`end_recorded_sessions`).
    """

    def __init__(
        self,
        *,
        logdir: Path,
        cwd: Path,
        env: Callable[[], Mapping[str, str]] | Mapping[str, str] | None = None,
        policy: RestartPolicy | None = None,
        state_file: Path | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.logdir = logdir
        self.cwd = cwd
        self._env = env
        self.policy = policy or RestartPolicy()
        self.state_file = state_file
        self.clock = clock
        self.components: dict[str, _Component] = {}
        self.hurry = threading.Event()  # set by a second Ctrl-C: skip the rest of the grace period
        self._logs: list[IO[bytes]] = []

    # --- starting ---------------------------------------------------------------------------------

    def start(self, name: str, argv: Sequence[str]) -> subprocess.Popen[bytes]:
        """Start a new component `name` (its output appended to `<logdir>/<name>.log`)."""
        if name in self.components:
            raise ValueError(f"component {name} already started")
        comp = _Component(name, list(argv), self.logdir / f"{name}.log", delay=self.policy.first_delay)
        self.components[name] = comp
        return self._spawn(comp)

    def _spawn(self, comp: _Component) -> subprocess.Popen[bytes]:
        self.logdir.mkdir(parents=True, exist_ok=True)
        out = open(comp.log_path, "ab")  # closed in stop()
        self._logs.append(out)
        env = self._env() if callable(self._env) else self._env
        comp.proc = subprocess.Popen(
            comp.argv,
            env=dict(env) if env is not None else None,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # Ctrl-C reaches only us; the session is how stop() finds it all
            cwd=self.cwd,
        )
        comp.started_at = self.clock()
        comp.due = None
        comp.sessions.append((comp.proc.pid, _start_time(comp.proc.pid) or 0))
        self._record()
        log.info("started %s (pid %d), log %s", comp.name, comp.proc.pid, comp.log_path)
        return comp.proc

    def _record(self) -> None:
        if self.state_file is None:
            return
        data = {"supervisor": os.getpid(), "components": self.pids(), "sessions": self.sessions()}
        self.state_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(data), encoding="utf-8")
        tmp.replace(self.state_file)

    # --- watching ---------------------------------------------------------------------------------

    def pids(self) -> dict[str, int]:
        """The current process (and session id) of each component that runs."""
        return {n: c.proc.pid for n, c in self.components.items() if c.proc and c.proc.poll() is None}

    def sessions(self) -> list[tuple[int, int]]:
        return [s for c in self.components.values() for s in c.sessions]

    def check(self) -> list[str]:
        """Restart what died and is due; returns the names restarted. Raises RestartLimitError."""
        restarted = []
        now = self.clock()
        for comp in self.components.values():
            assert comp.proc is not None
            code = comp.proc.poll()
            if code is None:
                if now - comp.started_at >= self.policy.stable_after:
                    comp.delay = self.policy.first_delay
                continue
            if comp.due is None:
                self._died(comp, code, now)
            elif now >= comp.due:
                # What the dead leader left in its session (forked workers holding database
                # connections) must go before a new one starts.
                end_sessions(comp.sessions[-1:], grace=5.0, hurry=self.hurry)
                comp.restarts.append(now)
                self._spawn(comp)
                restarted.append(comp.name)
        return restarted

    def _died(self, comp: _Component, code: int, now: float) -> None:
        while comp.restarts and now - comp.restarts[0] > HOUR:
            comp.restarts.popleft()
        if len(comp.restarts) >= self.policy.max_per_hour:
            raise RestartLimitError(
                f"{comp.name} died again ({describe_exit(code)}) after {len(comp.restarts)} restarts "
                f"within an hour; giving up. See {comp.log_path}"
            )
        comp.due = now + comp.delay
        log.warning(
            "%s died (%s); restarting in %.0f s (restart %d of at most %d per hour), log %s",
            comp.name, describe_exit(code), comp.delay, len(comp.restarts) + 1,
            self.policy.max_per_hour, comp.log_path,
        )  # fmt: skip
        comp.delay = min(comp.delay * 2, self.policy.max_delay)

    def first_death(self) -> tuple[str, int] | None:
        """(name, exit code) of a component that has died and not been restarted yet, if any."""
        for comp in self.components.values():
            if comp.proc is not None and (code := comp.proc.poll()) is not None:
                return comp.name, code
        return None

    # --- stopping ---------------------------------------------------------------------------------

    def _reap(self) -> None:
        for comp in self.components.values():
            if comp.proc is not None:
                comp.proc.poll()

    def stop(self, grace: float = 20.0) -> list[int]:
        """End every session any component ever had, dead or alive; returns pids that survived."""
        left = end_sessions(self.sessions(), grace, hurry=self.hurry, reap=self._reap)
        for comp in self.components.values():
            if comp.proc is not None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    comp.proc.wait(timeout=5)
        for fh in self._logs:
            fh.close()
        self._logs.clear()
        if left:
            log.error("processes still alive after SIGKILL: %s", left)
        elif self.state_file is not None:
            self.state_file.unlink(missing_ok=True)
        return left


def end_recorded_sessions(state_file: Path, grace: float = 10.0) -> list[int]:
    """End what an earlier supervisor that did not stop cleanly left behind; returns the pids ended."""
    try:
        data = json.loads(state_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    sessions = [(int(s), int(t)) for s, t in data.get("sessions", [])]
    found = session_members(sessions)
    if found:
        log.warning("ending %d processes left by an earlier run (sessions %s)", len(found), sessions)
        end_sessions(sessions, grace)
    state_file.unlink(missing_ok=True)
    return found
