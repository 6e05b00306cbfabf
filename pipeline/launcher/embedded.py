"""The databases `./run` uses, and the embedded PostgreSQL taken over or recovered after a crash.

An earlier `./run` that was killed can leave the embedded server in three states that `pgserver`
alone does not survive (it fails on a bare AssertionError): still running (fine: taken over),
half shut down (a smart shutdown waiting for clients that were killed or orphaned: it answers
nothing and never finishes; stopped here in fast, then immediate mode), or gone with its
postmaster.pid left behind (a stale or truncated file, or one naming a pid now used by another
program: removed here once no postgres of this data folder runs).
"""

from __future__ import annotations

import logging
import os
import subprocess
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import psycopg2

from pipeline import db
from pipeline.airflow_glue import psycopg2_url
from pipeline.errors import PipelineError

log = logging.getLogger(__name__)

AIRFLOW_DB = "airflow"


class EmbeddedServerError(PipelineError):
    """The embedded PostgreSQL is in a state this command cannot fix by itself."""


@dataclass(frozen=True)
class ServerState:
    kind: str  # "absent" | "ready" | "unfinished" (running, not ready) | "stale" (no such server runs)
    pid: int | None = None
    status: str = ""  # the last line of postmaster.pid: ready, starting, stopping, standby


def _is_postmaster_of(pid: int, pgdata: Path) -> bool:
    """Whether `pid` is a postgres process whose working directory is `pgdata` (postgres chdirs there)."""
    try:
        cwd = Path(os.readlink(f"/proc/{pid}/cwd"))
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0]
    except OSError:
        return False
    return cwd.resolve() == pgdata.resolve() and cmd.endswith(b"postgres")


def inspect(pgdata: Path) -> ServerState:
    pidfile = pgdata / "postmaster.pid"
    try:
        lines = pidfile.read_text().splitlines()
    except FileNotFoundError:
        return ServerState("absent")
    try:
        pid = int(lines[0])
    except (IndexError, ValueError):
        return ServerState("stale")
    if not _is_postmaster_of(pid, pgdata):
        return ServerState("stale", pid)
    # postmaster.pid has 8 lines once the server is up; the last says ready/starting/stopping.
    status = lines[7].strip() if len(lines) >= 8 else "starting"
    if status != "ready" or not _answers(pgdata, lines):
        return ServerState("unfinished", pid, status)
    return ServerState("ready", pid, status)


def _answers(pgdata: Path, lines: list[str]) -> bool:
    socket_dir, port = lines[4].strip(), lines[3].strip()
    try:
        conn = psycopg2.connect(
            host=socket_dir, port=port, user="postgres", dbname="postgres", connect_timeout=5
        )
    except psycopg2.OperationalError:
        return False
    conn.close()
    return True


def _pg_ctl(pgdata: Path, *args: str, timeout: float) -> bool:
    with warnings.catch_warnings():  # platformdirs warns when XDG_RUNTIME_DIR is unset
        warnings.simplefilter("ignore")
        from pgserver._commands import POSTGRES_BIN_PATH

    # pgserver runs the server as the user "pgserver" when we are root (postgres refuses root).
    user = "pgserver" if os.geteuid() == 0 else None
    res = subprocess.run(
        [str(POSTGRES_BIN_PATH / "pg_ctl"), "-D", str(pgdata), *args],
        user=user,
        capture_output=True,
        text=True,
        timeout=timeout + 10,
        check=False,
    )
    return res.returncode == 0


def stop_server(pgdata: Path, pid: int, timeout: float = 30.0) -> None:
    """Fast shutdown (ends every session); immediate mode if that does not finish in `timeout`."""
    for mode in ("fast", "immediate"):
        _pg_ctl(pgdata, "stop", "-w", "-m", mode, "-t", str(int(timeout)), timeout=timeout)
        if not _is_postmaster_of(pid, pgdata):
            return
    raise EmbeddedServerError(
        f"the embedded PostgreSQL in {pgdata} (pid {pid}) does not stop; end it with `kill -9 {pid}`, then run again"
    )


def _wait_gone(pgdata: Path, timeout: float) -> bool:
    """Until no postgres process of `pgdata` is left (backends of a killed postmaster exit on their own)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not any(
            _is_postmaster_of(int(p.name), pgdata) for p in Path("/proc").iterdir() if p.name.isdigit()
        ):
            return True
        time.sleep(0.2)
    return False


def _running(pid: int) -> bool:
    """Alive and not a zombie: a killed postmaster, reparented to a PID 1 that does not reap, stays a
    zombie, and postgres takes a zombie's pid in a lock file for a live server."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] not in "ZX"


def _remove_socket_locks(pgdata: Path, dead: int | None) -> None:
    """The socket lock files (`.s.PGSQL.<port>.lock`) of a postmaster that no longer runs."""
    if dead is None or _running(dead):
        return
    dirs = {pgdata}
    try:
        # pgserver puts the socket elsewhere when the folder's path is too long for a socket name.
        dirs.add(Path(((pgdata / "postmaster.pid").read_text().splitlines() + [""] * 5)[4].strip() or pgdata))
    except OSError:
        pass
    for lock in (lk for d in dirs for lk in d.glob(".s.PGSQL.*.lock")):
        try:
            owner = int(lock.read_text().splitlines()[0])
        except (OSError, IndexError, ValueError):
            continue
        if owner == dead:
            lock.unlink(missing_ok=True)


def take_over_or_start(pgdata: Path) -> tuple[str, str]:
    """(admin URL, what was done) for the embedded server in `pgdata`, whatever an earlier run left."""
    state = inspect(pgdata)
    done = "started"
    if state.kind == "ready":
        log.info("taking over the embedded PostgreSQL already running in %s (pid %s)", pgdata, state.pid)
        done = f"taken over (pid {state.pid})"
    elif state.kind == "unfinished":
        assert state.pid is not None
        log.warning(
            "the embedded PostgreSQL in %s (pid %s) is %s and not answering, left by an earlier run: stopping it",
            pgdata, state.pid, state.status,
        )  # fmt: skip
        stop_server(pgdata, state.pid)
        done = f"restarted (an earlier run left it {state.status})"
    elif state.kind == "stale":
        log.warning("removing the stale %s (no postgres of this folder runs)", pgdata / "postmaster.pid")
        _wait_gone(pgdata, 10.0)
        _remove_socket_locks(pgdata, state.pid)
        (pgdata / "postmaster.pid").unlink(missing_ok=True)
        done = "started (after an earlier crash)"
    last: Exception | None = None
    for _ in range(3):
        try:
            return db.start_embedded(pgdata), done
        except (AssertionError, subprocess.SubprocessError, OSError) as exc:
            # Backends of a killed postmaster may still hold its shared memory for a moment.
            last = exc
            _wait_gone(pgdata, 5.0)
    raise EmbeddedServerError(
        f"the embedded PostgreSQL in {pgdata} does not start ({type(last).__name__}); read {pgdata / 'log'}, "
        f"or move {pgdata} away to start with an empty database"
    )


@dataclass(frozen=True)
class Databases:
    news: str
    meta: str
    embedded: Path | None  # the embedded server's data folder, when it is used
    how: str = ""  # what was done to the embedded server: started, taken over, restarted


def resolve_databases(home: Path) -> Databases:
    """The news and Airflow metadata databases: NEWSFLOW_DATABASE_URL's server, or the embedded one."""
    news = os.environ.get("NEWSFLOW_DATABASE_URL")
    meta = os.environ.get("NEWSFLOW_AIRFLOW_DATABASE_URL")
    if news:
        news = psycopg2_url(news)
        if not meta:
            # Same server, its own database: Airflow's tables never mix with the news tables.
            db.ensure_database(news, AIRFLOW_DB)
            meta = db.with_database(news, AIRFLOW_DB)
        return Databases(news, meta, None)
    pgdata = home / "pgdata"
    admin, how = take_over_or_start(pgdata)
    db.ensure_database(admin, db.EMBEDDED_DB)
    if not meta:
        db.ensure_database(admin, AIRFLOW_DB)
        meta = db.with_database(admin, AIRFLOW_DB)
    return Databases(db.with_database(admin, db.EMBEDDED_DB), meta, pgdata, how)
