"""Run Airflow 3 locally for newsflow: PostgreSQL, both databases, the four components, then wait.

This module never imports airflow: it drives the `airflow` CLI in child processes and talks to the
api-server's REST API with requests, so the `pipeline` package stays importable without Airflow.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any
from urllib.parse import quote, urlsplit, urlunsplit

import requests

from pipeline.config import project_home
from pipeline.errors import ConfigError, PipelineError

log = logging.getLogger(__name__)

NEWS_DAG_ID = "news_ingest"
POOL_NAME = "sina_http"
POOL_SLOTS = 2  # at most this many tasks talk to Sina at once, across every run and backfill
ADMIN_USER = "admin"
AIRFLOW_DB = "airflow"
SIMPLE_AUTH_MANAGER = "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"
COMPONENTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    # -s: no log server (it would bind 0.0.0.0:8793/8794); logs are read from local files.
    ("scheduler", ("scheduler", "-s")),
    ("dag-processor", ("dag-processor",)),
    ("triggerer", ("triggerer", "-s")),
)


class AirflowRunError(PipelineError):
    """A component failed to start, exited early, or never became ready."""


# --- URLs -------------------------------------------------------------------------------------------


def psycopg2_url(uri: str) -> str:
    """An Airflow Connection URI (`postgres://`, `postgresql://`, `postgresql+psycopg2://`) as a libpq URL."""
    parts = urlsplit(uri)
    if parts.scheme not in ("postgres", "postgresql", "postgresql+psycopg2", "postgresql+psycopg"):
        raise ConfigError(f"news_db connection must be a PostgreSQL URI, got scheme {parts.scheme!r}")
    return urlunsplit(("postgresql", parts.netloc, parts.path, parts.query, parts.fragment))


def sqlalchemy_url(url: str) -> str:
    """A libpq URL as the SQLAlchemy URL Airflow's metadata database wants (psycopg2 driver)."""
    parts = urlsplit(psycopg2_url(url))
    return urlunsplit(("postgresql+psycopg2", parts.netloc, parts.path, parts.query, parts.fragment))


def repo_root() -> Path:
    return Path(__file__).resolve().parent.parent


def dags_folder() -> Path:
    env = os.environ.get("NEWSFLOW_DAGS_FOLDER")
    return Path(env).resolve() if env else repo_root() / "dags"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- state kept under .newsflow/ ------------------------------------------------------------------


def _load_or_create_json(path: Path, make: Mapping[str, str]) -> dict[str, str]:
    """Read a 0600 JSON file of secrets, adding any missing key from `make` (first start only)."""
    data: dict[str, str] = {}
    if path.exists():
        data = json.loads(path.read_text(encoding="utf-8"))
    missing = {k: v for k, v in make.items() if k not in data}
    if missing:
        data.update(missing)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh)
    return data


def _fernet_key() -> str:
    import base64

    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()


@dataclass
class Stack:
    """The local Airflow deployment: where it lives, which databases, which port, which children."""

    home: Path
    news_url: str
    meta_url: str
    port: int = 8080
    offline: bool = False
    replay_port: int | None = None
    parallelism: int = 4
    dags: Path = field(default_factory=dags_folder)
    extra_env: dict[str, str] = field(default_factory=dict)
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    _logs: list[IO[bytes]] = field(default_factory=list)

    @property
    def airflow_home(self) -> Path:
        return self.home / "airflow"

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def passwords_file(self) -> Path:
        # The format SimpleAuthManager reads: {"user": "password"}.
        return self.home / "airflow-passwords.json"

    @property
    def replay_url(self) -> str | None:
        return f"http://127.0.0.1:{self.replay_port}" if self.offline and self.replay_port else None

    def password(self) -> str:
        return _load_or_create_json(self.passwords_file, {ADMIN_USER: secrets.token_urlsafe(12)})[ADMIN_USER]

    def env(self) -> dict[str, str]:
        """The environment of every Airflow child: config by AIRFLOW__* variables, no airflow.cfg edits."""
        keys = _load_or_create_json(
            self.home / "airflow-secrets.json",
            {
                "fernet_key": _fernet_key(),
                "jwt_secret": secrets.token_urlsafe(32),
                "api_secret_key": secrets.token_urlsafe(32),
            },
        )
        self.password()  # the passwords file must exist before the api-server reads it
        env = dict(os.environ)
        env.update(
            {
                "AIRFLOW_HOME": str(self.airflow_home),
                "AIRFLOW__CORE__DAGS_FOLDER": str(self.dags),
                "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
                "AIRFLOW__CORE__PARALLELISM": str(self.parallelism),
                "AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG": str(self.parallelism),
                "AIRFLOW__CORE__FERNET_KEY": keys["fernet_key"],
                "AIRFLOW__CORE__AUTH_MANAGER": SIMPLE_AUTH_MANAGER,
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{ADMIN_USER}:admin",
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(self.passwords_file),
                "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.base_url}/execution/",
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": sqlalchemy_url(self.meta_url),
                "AIRFLOW__API__HOST": "127.0.0.1",
                "AIRFLOW__API__PORT": str(self.port),
                "AIRFLOW__API__BASE_URL": self.base_url,
                "AIRFLOW__API__WORKERS": "1",
                "AIRFLOW__API__SECRET_KEY": keys["api_secret_key"],
                "AIRFLOW__API_AUTH__JWT_SECRET": keys["jwt_secret"],
                # A new or edited DAG file shows up within seconds instead of minutes.
                "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "20",
                "AIRFLOW_CONN_NEWS_DB": self.news_url,
                "NEWSFLOW_DATABASE_URL": self.news_url,
                "NEWSFLOW_HOME": str(self.home),
            }
        )
        if self.replay_url:
            env["NEWSFLOW_REPLAY_URL"] = self.replay_url
        env.update(self.extra_env)
        return env

    # --- children ---------------------------------------------------------------------------------

    def _spawn(self, name: str, argv: Sequence[str]) -> subprocess.Popen[bytes]:
        logdir = self.home / "logs"
        logdir.mkdir(parents=True, exist_ok=True)
        out = open(logdir / f"{name}.log", "ab")  # closed in stop()
        self._logs.append(out)
        # A session (and process group) of its own: Ctrl-C reaches only us, and stop() can end the
        # child with everything it forked (gunicorn/uvicorn workers, LocalExecutor workers).
        proc = subprocess.Popen(
            list(argv),
            env=self.env(),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            cwd=self.home,
        )
        self.procs[name] = proc
        log.info("started %s (pid %d), log %s", name, proc.pid, logdir / f"{name}.log")
        return proc

    def airflow(
        self, *args: str, check: bool = True, timeout: float = 600
    ) -> subprocess.CompletedProcess[str]:
        """Run one `airflow` CLI command to completion with the stack's environment."""
        res = subprocess.run(
            [sys.executable, "-m", "airflow", *args],
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=self.home,
            check=False,
        )
        if check and res.returncode != 0:
            raise AirflowRunError(f"airflow {' '.join(args)} exited {res.returncode}: {res.stderr[-2000:]}")
        return res

    def prepare(self) -> None:
        """Migrate both databases (idempotent)."""
        from pipeline import db

        self.airflow_home.mkdir(parents=True, exist_ok=True)
        db.migrate(self.news_url)
        self.airflow("db", "migrate")

    def start(self) -> None:
        if self.offline:
            self.replay_port = self.replay_port or free_port()
            # The module's own entry point: independent of how the CLI wires `newsflow replay serve`.
            argv = ["-m", "pipeline.replay.server", "--port", str(self.replay_port), "--timeshift"]
            self._spawn("replay", [sys.executable, *argv])
        self._spawn(
            "api-server",
            [sys.executable, "-m", "airflow", "api-server", "--host", "127.0.0.1", "--port", str(self.port)],
        )
        for name, args in COMPONENTS:
            self._spawn(name, [sys.executable, "-m", "airflow", *args])

    def check_alive(self) -> None:
        for name, proc in self.procs.items():
            code = proc.poll()
            if code is not None:
                raise AirflowRunError(
                    f"{name} exited with code {code}; see {self.home / 'logs' / (name + '.log')}"
                )

    def stop(self, grace: float = 20.0) -> None:
        """SIGTERM every child's process group, then SIGKILL what is left after `grace` seconds."""
        for proc in self.procs.values():
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        for proc in self.procs.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        for proc in self.procs.values():
            # The group may outlive its leader (forked workers): kill it in every case.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=5)
        for fh in self._logs:
            fh.close()
        self._logs.clear()
        self.procs.clear()

    # --- REST -------------------------------------------------------------------------------------

    def token(self) -> str:
        """A JWT from SimpleAuthManager's login endpoint (POST /auth/token)."""
        r = requests.post(
            f"{self.base_url}/auth/token",
            json={"username": ADMIN_USER, "password": self.password()},
            timeout=10,
        )
        r.raise_for_status()
        return str(r.json()["access_token"])

    def api(self) -> requests.Session:
        s = requests.Session()
        s.headers["Authorization"] = f"Bearer {self.token()}"
        return s

    def wait_ready(self, timeout: float = 300.0) -> None:
        """Until the API answers and scheduler, dag-processor and triggerer report healthy."""
        deadline = time.monotonic() + timeout
        last: Any = None
        while time.monotonic() < deadline:
            self.check_alive()
            try:
                r = requests.get(f"{self.base_url}/api/v2/monitor/health", timeout=5)
                if r.ok:
                    last = r.json()
                    parts = ("metadatabase", "scheduler", "triggerer", "dag_processor")
                    if all((last.get(p) or {}).get("status") == "healthy" for p in parts):
                        return
            except requests.RequestException as exc:
                last = exc
            time.sleep(1.0)
        raise AirflowRunError(f"Airflow not ready after {timeout:.0f}s: {last}")

    def ensure_pool(self, api: requests.Session) -> None:
        body = {
            "name": POOL_NAME,
            "slots": POOL_SLOTS,
            "include_deferred": False,
            "description": "Concurrent tasks that send requests to Sina (all runs and backfills)",
        }
        r = api.get(f"{self.base_url}/api/v2/pools/{POOL_NAME}", timeout=10)
        if r.status_code == 404:
            r = api.post(f"{self.base_url}/api/v2/pools", json=body, timeout=10)
        r.raise_for_status()

    def wait_dag(self, api: requests.Session, dag_id: str, timeout: float = 180.0) -> None:
        """Until the dag-processor has parsed `dag_id` with no import error."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_alive()
            r = api.get(f"{self.base_url}/api/v2/dags/{quote(dag_id)}", timeout=10)
            if r.ok:
                return
            errs = api.get(f"{self.base_url}/api/v2/importErrors", timeout=10)
            if errs.ok and errs.json().get("total_entries"):
                raise AirflowRunError(f"DAG import errors: {errs.json()['import_errors']}")
            time.sleep(1.0)
        raise AirflowRunError(f"DAG {dag_id} not parsed after {timeout:.0f}s")

    def unpause(self, api: requests.Session, dag_id: str) -> None:
        r = api.patch(f"{self.base_url}/api/v2/dags/{quote(dag_id)}", json={"is_paused": False}, timeout=10)
        r.raise_for_status()

    def up(self, *, unpause: bool = True, timeout: float = 300.0) -> float:
        """prepare + start + wait + pool + unpause; returns the seconds it took."""
        t0 = time.monotonic()
        self.prepare()
        self.start()
        self.wait_ready(timeout)
        with self.api() as api:
            self.ensure_pool(api)
            self.wait_dag(api, NEWS_DAG_ID)
            if unpause:
                self.unpause(api, NEWS_DAG_ID)
        return time.monotonic() - t0

    def rss_kib(self) -> dict[str, int]:
        """Resident memory of each child's whole process group, in KiB (Linux /proc).

        Forked workers share pages with their parent, which RSS counts once per process; see
        pss_kib() for the proportional figure.
        """
        return self._group_memory(pss=False)

    def pss_kib(self) -> dict[str, int]:
        """Proportional set size of each child's process group (shared pages split), in KiB."""
        return self._group_memory(pss=True)

    def _group_memory(self, *, pss: bool) -> dict[str, int]:
        groups = {proc.pid: name for name, proc in self.procs.items()}
        totals = dict.fromkeys(groups.values(), 0)
        for pid, pgid, rss in _proc_table():
            if pgid in groups:
                totals[groups[pgid]] += _pss_kib(pid) if pss else rss
        return totals


def _pss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _proc_table() -> Iterator[tuple[int, int, int]]:
    """(pid, pgid, rss KiB) for every process we can read."""
    page_kib = os.sysconf("SC_PAGE_SIZE") // 1024
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            statm = (entry / "statm").read_text().split()
        except OSError:
            continue
        # The command name (field 2) may contain spaces: split after its closing parenthesis.
        fields = stat[stat.rindex(")") + 2 :].split()
        yield int(entry.name), int(fields[2]), int(statm[1]) * page_kib


# --- databases ------------------------------------------------------------------------------------


def resolve_databases(home: Path) -> tuple[str, str]:
    """(news URL, Airflow metadata URL): NEWSFLOW_DATABASE_URL's server, or the embedded one."""
    from pipeline import db

    news = os.environ.get("NEWSFLOW_DATABASE_URL")
    meta = os.environ.get("NEWSFLOW_AIRFLOW_DATABASE_URL")
    if news:
        news = psycopg2_url(news)
        if not meta:
            # Same server, its own database: Airflow's tables never mix with the news tables.
            db.ensure_database(news, AIRFLOW_DB)
            meta = db.with_database(news, AIRFLOW_DB)
        return news, meta
    admin = db.start_embedded(home / "pgdata")
    db.ensure_database(admin, db.EMBEDDED_DB)
    if not meta:
        db.ensure_database(admin, AIRFLOW_DB)
        meta = db.with_database(admin, AIRFLOW_DB)
    return db.with_database(admin, db.EMBEDDED_DB), meta


# --- containers -----------------------------------------------------------------------------------


def container_init() -> int:
    """The compose file's airflow-init: create and migrate both databases, write the login, unpause.

    Reads NEWSFLOW_DATABASE_URL, AIRFLOW__DATABASE__SQL_ALCHEMY_CONN, NEWSFLOW_ADMIN_PASSWORD (no
    default: the login is whatever the operator set) and the SimpleAuthManager passwords file path.
    """
    from pipeline import db

    news = os.environ.get("NEWSFLOW_DATABASE_URL", "")
    meta = os.environ.get("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "")
    password = os.environ.get("NEWSFLOW_ADMIN_PASSWORD", "")
    passwords_file = os.environ.get("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE", "")
    if not (news and meta and password and passwords_file):
        raise ConfigError(
            "airflow-init needs NEWSFLOW_DATABASE_URL, AIRFLOW__DATABASE__SQL_ALCHEMY_CONN, "
            "NEWSFLOW_ADMIN_PASSWORD and AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"
        )
    news = psycopg2_url(news)
    admin = db.with_database(news, "postgres")
    for url in (news, psycopg2_url(meta)):
        db.ensure_database(admin, urlsplit(url).path.lstrip("/"))
    applied = db.migrate(news)
    log.info("news database migrated (%d new migrations)", len(applied))
    path = Path(passwords_file)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump({ADMIN_USER: password}, fh)
    airflow = [sys.executable, "-m", "airflow"]
    for args in (
        ["db", "migrate"],
        ["pools", "set", POOL_NAME, str(POOL_SLOTS), "Concurrent tasks that send requests to Sina"],
        # Parse the DAG files now, so the news DAG can be unpaused before the scheduler starts.
        ["dags", "reserialize"],
        ["dags", "unpause", NEWS_DAG_ID],
    ):
        subprocess.run([*airflow, *args], check=True)
    return 0


# --- command line ---------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="newsflow airflow", description=__doc__)
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
    p.add_argument("--no-unpause", action="store_true", help="leave the news DAG paused")
    p.add_argument("--keep-db", action="store_true", help="leave the embedded PostgreSQL running on exit")
    p.add_argument("--parallelism", type=int, default=4, help="LocalExecutor task slots (default 4)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["container-init"]:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
        return container_init()
    args = build_parser().parse_args(argv)
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
        logging.getLogger("pgserver").setLevel(logging.WARNING)  # it logs every pg_ctl call at INFO
    home = project_home()
    t0 = time.monotonic()
    from pipeline import db

    # Stop on exit only the embedded server this command started; one already running stays up.
    own_pg = not os.environ.get("NEWSFLOW_DATABASE_URL") and not (home / "pgdata" / "postmaster.pid").exists()
    news, meta = resolve_databases(home)
    stack = Stack(
        home=home,
        news_url=news,
        meta_url=meta,
        port=args.port,
        offline=args.offline,
        parallelism=args.parallelism,
    )

    stopping = False

    def _on_signal(signum: int, _frame: object) -> None:
        nonlocal stopping
        if not stopping:
            stopping = True
            raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _on_signal)
    # Explicit, because a shell starts background jobs with SIGINT ignored.
    signal.signal(signal.SIGINT, _on_signal)
    try:
        stack.up(unpause=not args.no_unpause)
        ready = time.monotonic() - t0
        rss = stack.rss_kib()
        pss = stack.pss_kib()
        print(
            f"\nnewsflow is up in {ready:.1f}s\n"
            f"  Airflow UI  {stack.base_url}/   login: {ADMIN_USER} / {stack.password()}\n"
            f"  (password kept in {stack.passwords_file})\n"
            f"  news DB     {news}\n"
            f"  DAG         {NEWS_DAG_ID} {'paused' if args.no_unpause else 'unpaused, every 10 minutes'}"
            f"{'  [offline: replay server ' + str(stack.replay_url) + ']' if stack.replay_url else ''}\n"
            f"  logs        {home / 'logs'}\n"
            f"  memory (RSS) "
            + ", ".join(f"{k} {v / 1024:.0f} MiB" for k, v in rss.items())
            + f"; total {sum(rss.values()) / 1024:.0f} MiB"
            + f" (PSS, shared pages split: {sum(pss.values()) / 1024:.0f} MiB)\n"
            "Ctrl-C stops everything.",
            flush=True,
        )
        while True:
            stack.check_alive()
            time.sleep(2.0)
    except KeyboardInterrupt:
        print("\nstopping...", flush=True)
        return 0
    except PipelineError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        stack.stop()
        if own_pg and not args.keep_db:
            db.stop_embedded(home / "pgdata")


if __name__ == "__main__":
    sys.exit(main())
