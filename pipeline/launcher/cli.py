"""Run Airflow 3 locally for newsflow: PostgreSQL, both databases, the components, then supervise.

A component that dies is restarted with backoff; more than --max-restarts restarts of one
component within an hour stop everything. Ctrl-C (or SIGTERM) stops every component with all it
started and the embedded PostgreSQL; a second Ctrl-C skips the rest of the grace period.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import logging
import os
import signal
import socket
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO
from urllib.parse import urlsplit, urlunsplit

from pipeline.airflow_glue import LIVE_DAG_ID, NEWS_DAG_ID
from pipeline.config import project_home
from pipeline.errors import PipelineError
from pipeline.launcher.embedded import EmbeddedServerError, inspect, resolve_databases, stop_server
from pipeline.launcher.secrets import ADMIN_USER
from pipeline.launcher.stack import Stack
from pipeline.launcher.supervisor import RestartPolicy, end_recorded_sessions

log = logging.getLogger(__name__)

GRACE = 20.0  # seconds between SIGTERM and SIGKILL when stopping


class LaunchError(PipelineError):
    """`./run` cannot start here as things are; the message says what to do."""


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="./run", description=__doc__)
    p.add_argument(
        "--port",
        type=int,
        default=int(os.environ.get("NEWSFLOW_AIRFLOW_PORT", "8080")),
        help="api-server port on 127.0.0.1 (default 8080)",
    )
    p.add_argument(
        "--offline",
        action="store_true",
        default=os.environ.get("NEWSFLOW_OFFLINE", "") not in ("", "0", "false", "no"),
        help="also start the replay server and point the DAG at it (NEWSFLOW_OFFLINE=1)",
    )
    p.add_argument(
        "--rate",
        type=float,
        default=float(os.environ.get("NEWSFLOW_REPLAY_RATE", "3")),
        help="offline: the live replay publishes this many items per minute (default 3)",
    )
    p.add_argument("--no-unpause", action="store_true", help="leave the news DAGs paused")
    p.add_argument("--keep-db", action="store_true", help="leave the embedded PostgreSQL running on exit")
    p.add_argument("--parallelism", type=int, default=4, help="LocalExecutor task slots (default 4)")
    p.add_argument(
        "--max-restarts",
        type=int,
        default=RestartPolicy.max_per_hour,
        help=f"restarts of one component within an hour before ./run gives up (default {RestartPolicy.max_per_hour})",
    )
    return p


@dataclass
class _Signals:
    """The first SIGINT/SIGTERM/SIGHUP interrupts the main loop; later ones only hurry the shutdown."""

    stopping: bool = False
    stack: Stack | None = None

    def handler(self, signum: int, _frame: object) -> None:
        if not self.stopping:
            self.stopping = True
            raise KeyboardInterrupt
        if self.stack is not None:
            self.stack.supervisor.hurry.set()
        # os.write, not print: a signal handler may run in the middle of another print.
        os.write(2, b"\nstill stopping: no longer waiting for the components to exit on their own\n")

    def install(self) -> None:
        # Explicit for SIGINT, because a shell starts background jobs with SIGINT ignored.
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, self.handler)


def _lock(home: Path) -> IO[str]:
    """One `./run` per NEWSFLOW_HOME: a second one would fight the first over ports and the database."""
    home.mkdir(parents=True, exist_ok=True)
    fh = open(home / "run.lock", "a+", encoding="utf-8")  # held (and closed) until exit
    try:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        fh.seek(0)
        other = fh.read().strip() or "?"
        fh.close()
        raise LaunchError(
            f"another ./run (pid {other}) is using {home}; stop it first, or set NEWSFLOW_HOME"
        ) from None
    fh.seek(0)
    fh.truncate()
    fh.write(str(os.getpid()))
    fh.flush()
    return fh


def _check_port(port: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            raise LaunchError(f"port {port} on 127.0.0.1 is in use; choose another with --port") from None


def _shown(url: str) -> str:
    """A database URL fit to print: the password replaced."""
    parts = urlsplit(url)
    if not parts.password:
        return url
    netloc = f"{parts.username}:***@{parts.hostname or ''}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def _stop_embedded(pgdata: Path) -> None:
    state = inspect(pgdata)
    if state.pid is not None and state.kind in ("ready", "unfinished"):
        stop_server(pgdata, state.pid)
        print(f"stopped the embedded PostgreSQL ({pgdata})", flush=True)


def _run(args: argparse.Namespace, home: Path, sig: _Signals) -> int:
    t0 = time.monotonic()
    left = end_recorded_sessions(home / "run-sessions.json")
    if left:
        print(f"ended {len(left)} processes an earlier ./run left behind", flush=True)
    _check_port(args.port)
    dbs = resolve_databases(home)
    stack = Stack(
        home=home,
        news_url=dbs.news,
        meta_url=dbs.meta,
        port=args.port,
        offline=args.offline,
        replay_rate=args.rate,
        parallelism=args.parallelism,
        policy=RestartPolicy(max_per_hour=args.max_restarts),
    )
    sig.stack = stack
    stack.up(unpause=not args.no_unpause)
    print(
        f"\nnewsflow is up in {time.monotonic() - t0:.1f}s\n"
        f"  Airflow UI  {stack.base_url}/   login: {ADMIN_USER} / {stack.password()}\n"
        f"  (password kept in {stack.passwords_file})\n"
        f"  news DB     {_shown(dbs.news)}"
        + (f"  [embedded PostgreSQL {dbs.how}]" if dbs.embedded else "")
        + f"\n  DAGs        {NEWS_DAG_ID} {'paused' if args.no_unpause else 'unpaused, every 10 minutes'}; "
        f"{LIVE_DAG_ID} {'paused' if args.no_unpause else 'unpaused, on the feed watcher (triggerer)'}"
        + (
            f"\n  offline     replay server {stack.replay_url}, live: a new item every {60 / args.rate:.0f} s"
            if stack.replay_url else ""
        )
        + "\n"
        f"  logs        {home / 'logs'}\n"
        "A component that dies is restarted. Ctrl-C stops everything.",
        flush=True,
    )
    while True:
        for name in stack.supervise():
            print(f"restarted {name}", flush=True)
        time.sleep(1.0)


def _shutdown(args: argparse.Namespace, home: Path, sig: _Signals) -> None:
    if sig.stack is not None:
        left = sig.stack.stop(GRACE)
        if left:
            print(f"warning: processes {left} survived SIGKILL", file=sys.stderr)
    if not os.environ.get("NEWSFLOW_DATABASE_URL") and not args.keep_db:
        # Ours, or taken over from an earlier run: either way this command stops it.
        try:
            _stop_embedded(home / "pgdata")
        except EmbeddedServerError as exc:
            print(f"error: {exc}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
        logging.getLogger("pgserver").setLevel(logging.WARNING)  # it logs every pg_ctl call at INFO
    home = project_home()
    try:
        lock = _lock(home)
    except LaunchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    sig = _Signals()
    sig.install()
    rc = 1
    try:
        try:
            rc = _run(args, home, sig)
        except KeyboardInterrupt:
            print("\nstopping...", flush=True)
            rc = 0
        except PipelineError as exc:
            sig.stopping = True
            print(f"error: {exc}", file=sys.stderr, flush=True)
            print("stopping...", flush=True)
            rc = 1
    except KeyboardInterrupt:
        pass  # Ctrl-C while an error was being reported: stop all the same
    finally:
        sig.stopping = True
        _shutdown(args, home, sig)
        with contextlib.suppress(OSError):
            lock.close()
    return rc
