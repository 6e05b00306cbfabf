"""Every server the project starts listens on loopback only (or on no TCP port at all)."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import psycopg2

from pipeline import db
from pipeline.launcher import stack as airflow_stack
from pipeline.replay import ReplayServer

REPO = Path(__file__).resolve().parents[2]


def _tcp_listeners(port: int) -> list[str]:
    """Local addresses (hex, as the kernel lists them) of LISTEN sockets on `port`, IPv4 and IPv6."""
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            addr, hexport = fields[1].rsplit(":", 1)
            if fields[3] == "0A" and int(hexport, 16) == port:  # 0A = LISTEN
                found.append(addr)
    return found


LOOPBACK_V4 = "0100007F"  # 127.0.0.1, little-endian hex


def test_replay_server_in_process_binds_loopback() -> None:
    with ReplayServer() as server:
        assert server.httpd.socket.getsockname()[0] == "127.0.0.1"
        assert server.base_url.startswith("http://127.0.0.1:")
        assert _tcp_listeners(server.port) == [LOOPBACK_V4]


def test_replay_server_command_binds_loopback() -> None:
    """What `./run --offline` starts: `python -m pipeline.replay.server --port P` with no host given."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "pipeline.replay.server", "--port", str(port), "--timeshift"],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while not _tcp_listeners(port) and time.monotonic() < deadline:
            assert proc.poll() is None, "the replay server exited"
            time.sleep(0.05)
        assert _tcp_listeners(port) == [LOOPBACK_V4]
    finally:
        proc.terminate()
        proc.wait(10)


def test_embedded_postgres_has_no_tcp_listener(tmp_path: Path) -> None:
    pgdata = tmp_path / "pg"
    url = db.start_embedded(pgdata)
    try:
        assert "host=/" in url or "@/" in url  # a Unix socket path, not a host name
        conn = psycopg2.connect(url)
        try:
            with conn.cursor() as cur:
                cur.execute("SHOW listen_addresses")
                assert cur.fetchone() == ("",)
                # the socket lives in the cluster's own folder, not a shared /tmp
                cur.execute("SHOW unix_socket_directories")
                row = cur.fetchone()
                assert row is not None and Path(row[0]).resolve() == pgdata.resolve()
        finally:
            conn.close()
    finally:
        db.stop_embedded(pgdata)


class _RecordingStack(airflow_stack.Stack):
    """The real Stack, with children recorded instead of started (Airflow is not started here)."""

    def _spawn(self, name: str, argv: Sequence[str]) -> subprocess.Popen[bytes]:
        self.spawned[name] = list(argv)
        return None  # type: ignore[return-value]

    spawned: dict[str, list[str]]


def test_airflow_stack_config_is_loopback_with_log_servers_off(tmp_path: Path) -> None:
    stack = _RecordingStack(
        home=tmp_path,
        news_url="postgresql://newsflow@/newsflow?host=/nonexistent",
        meta_url="postgresql://newsflow@/airflow?host=/nonexistent",
        port=18080,
        offline=True,
        replay_port=18765,
    )
    stack.spawned = {}
    env = stack.env()
    assert env["AIRFLOW__API__HOST"] == "127.0.0.1"
    for key in ("AIRFLOW__API__BASE_URL", "AIRFLOW__CORE__EXECUTION_API_SERVER_URL", "NEWSFLOW_REPLAY_URL"):
        assert env[key].startswith("http://127.0.0.1:"), key

    stack.start()
    api = stack.spawned["api-server"]
    assert api[api.index("--host") + 1] == "127.0.0.1"
    # the replay server is started without a host, so it takes its loopback default (tested above)
    assert "--host" not in stack.spawned["replay"]
    # -s / --skip-serve-logs: the scheduler's and triggerer's log servers would bind 0.0.0.0:8793/8794
    for name in ("scheduler", "triggerer"):
        assert "-s" in stack.spawned[name] or "--skip-serve-logs" in stack.spawned[name], name
    assert set(stack.spawned) == {"replay", "api-server", "scheduler", "dag-processor", "triggerer"}


def test_airflow_login_is_generated_per_install(tmp_path: Path) -> None:
    first = airflow_stack.Stack(home=tmp_path / "a", news_url="postgresql://x@/n", meta_url="postgresql://x@/m")
    second = airflow_stack.Stack(
        home=tmp_path / "b", news_url="postgresql://x@/n", meta_url="postgresql://x@/m"
    )
    first.env()
    assert first.password() != second.password()
    assert len(first.password()) >= 12 and first.password() not in ("admin", "airflow", "password")
    for name in ("airflow-passwords.json", "airflow-secrets.json"):
        assert (tmp_path / "a" / name).stat().st_mode & 0o077 == 0, name  # owner-only
