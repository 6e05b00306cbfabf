"""The local Airflow deployment: its environment, its components under a supervisor, its start-up.

Airflow runs only in child processes (the `airflow` CLI and `pipeline.launcher.airflow_setup`),
configured by AIRFLOW__* variables; this process never imports it.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import requests

from pipeline import db
from pipeline.airflow_glue import LIVE_DAG_ID, NEWS_DAG_ID, sqlalchemy_url
from pipeline.errors import PipelineError
from pipeline.launcher import rest
from pipeline.launcher.secrets import ADMIN_USER, admin_password, airflow_keys
from pipeline.launcher.supervisor import RestartPolicy, Supervisor, describe_exit

SIMPLE_AUTH_MANAGER = "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"
COMPONENTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    # -s: no log server (it would bind 0.0.0.0:8793/8794); logs are read from local files.
    ("scheduler", ("scheduler", "-s")),
    ("dag-processor", ("dag-processor",)),
    ("triggerer", ("triggerer", "-s")),
)


class AirflowRunError(PipelineError):
    """A component failed to start, or Airflow never became ready."""


def repo_root() -> Path:
    return Path(__file__).resolve().parents[2]


def dags_folder() -> Path:
    env = os.environ.get("NEWSFLOW_DAGS_FOLDER")
    return Path(env).resolve() if env else repo_root() / "dags"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Stack:
    """Where the deployment lives, which databases, which port; `supervisor` holds its children."""

    home: Path
    news_url: str
    meta_url: str
    port: int = 8080
    offline: bool = False
    replay_rate: float = 3.0  # offline: live replay items per minute
    replay_port: int | None = None
    parallelism: int = 4
    dags: Path = field(default_factory=dags_folder)
    extra_env: dict[str, str] = field(default_factory=dict)
    policy: RestartPolicy = field(default_factory=RestartPolicy)
    supervisor: Supervisor = field(init=False)

    def __post_init__(self) -> None:
        self.supervisor = Supervisor(
            logdir=self.home / "logs",
            cwd=self.home,
            env=self.env,
            policy=self.policy,
            state_file=self.home / "run-sessions.json",
        )

    @property
    def airflow_home(self) -> Path:
        return self.home / "airflow"

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def passwords_file(self) -> Path:
        return self.home / "airflow-passwords.json"

    @property
    def replay_url(self) -> str | None:
        return f"http://127.0.0.1:{self.replay_port}" if self.offline and self.replay_port else None

    def password(self) -> str:
        return admin_password(self.passwords_file)

    def env(self) -> dict[str, str]:
        """The environment of every Airflow child: config by AIRFLOW__* variables, no airflow.cfg edits."""
        keys = airflow_keys(self.home / "airflow-secrets.json")
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
        return self.supervisor.start(name, argv)

    def prepare(self) -> None:
        """Migrate both databases and create the pool (idempotent)."""
        self.airflow_home.mkdir(parents=True, exist_ok=True)
        db.migrate(self.news_url)
        res = subprocess.run(
            [sys.executable, "-m", "pipeline.launcher.airflow_setup"],
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=600,
            cwd=self.home,
            check=False,
        )
        if res.returncode != 0:
            raise AirflowRunError(f"Airflow database setup exited {res.returncode}: {res.stderr[-2000:]}")

    def start(self) -> None:
        if self.offline:
            self.replay_port = self.replay_port or free_port()
            # The module's own entry point: independent of how the CLI wires `newsflow replay serve`.
            # Live: the recorded set shifted to now, then a new item every 60/rate seconds, for as long as it runs.
            argv = ["-m", "pipeline.replay.server", "--port", str(self.replay_port), "--timeshift",
                    "--live", "--rate", str(self.replay_rate)]  # fmt: skip
            self._spawn("replay", [sys.executable, *argv])
        self._spawn(
            "api-server",
            [sys.executable, "-m", "airflow", "api-server", "--host", "127.0.0.1", "--port", str(self.port)],
        )
        for name, args in COMPONENTS:
            self._spawn(name, [sys.executable, "-m", "airflow", *args])

    def supervise(self) -> list[str]:
        """Restart components that died (see RestartPolicy); returns the names restarted."""
        return self.supervisor.check()

    def check_alive(self) -> None:
        """Raise if a component has died since it was (re)started: for callers that do not supervise."""
        if died := self.supervisor.first_death():
            name, code = died
            raise AirflowRunError(
                f"{name} exited ({describe_exit(code)}); see {self.home / 'logs' / (name + '.log')}"
            )

    def stop(self, grace: float = 20.0) -> list[int]:
        """End every component's whole session, dead or alive; SIGKILL what is left after `grace`."""
        return self.supervisor.stop(grace)

    # --- REST -------------------------------------------------------------------------------------

    def api(self) -> requests.Session:
        return rest.session(self.base_url, ADMIN_USER, self.password())

    def wait_ready(self, timeout: float = 300.0) -> None:
        rest.wait_healthy(self.base_url, timeout, tick=self.supervise)

    def up(self, *, unpause: bool = True, live: bool = True, timeout: float = 300.0) -> float:
        """prepare + start + wait + unpause (news_ingest, and news_live unless `live` is False); returns
        the seconds it took."""
        t0 = time.monotonic()
        self.prepare()
        self.start()
        self.wait_ready(timeout)
        with self.api() as api:
            for dag_id in (NEWS_DAG_ID, LIVE_DAG_ID):
                rest.wait_dag(api, self.base_url, dag_id, tick=self.supervise)
                if unpause and (live or dag_id != LIVE_DAG_ID):
                    rest.unpause(api, self.base_url, dag_id)
        return time.monotonic() - t0
