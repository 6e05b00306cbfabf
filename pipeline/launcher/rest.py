"""The api-server's REST API, as much of it as the launcher and the end-to-end tests use."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import requests

from pipeline.errors import PipelineError

HEALTH_PARTS = ("metadatabase", "scheduler", "triggerer", "dag_processor")


class AirflowApiError(PipelineError):
    """The api-server did not answer as expected, or Airflow never became ready."""


def token(base_url: str, user: str, password: str) -> str:
    """A JWT from SimpleAuthManager's login endpoint (POST /auth/token)."""
    r = requests.post(f"{base_url}/auth/token", json={"username": user, "password": password}, timeout=10)
    r.raise_for_status()
    return str(r.json()["access_token"])


def session(base_url: str, user: str, password: str) -> requests.Session:
    s = requests.Session()
    s.headers["Authorization"] = f"Bearer {token(base_url, user, password)}"
    return s


def health(base_url: str) -> dict[str, Any] | None:
    """/api/v2/monitor/health (no login needed), or None while the api-server does not answer."""
    try:
        r = requests.get(f"{base_url}/api/v2/monitor/health", timeout=5)
    except requests.RequestException:
        return None
    return dict(r.json()) if r.ok else None


def healthy(report: dict[str, Any] | None) -> bool:
    return report is not None and all((report.get(p) or {}).get("status") == "healthy" for p in HEALTH_PARTS)


def wait_healthy(base_url: str, timeout: float, tick: Callable[[], object] = lambda: None) -> None:
    """Until the API answers and scheduler, dag-processor and triggerer report healthy.

    `tick` runs every second (the supervisor's check: a component that dies is restarted meanwhile).
    """
    deadline = time.monotonic() + timeout
    last: dict[str, Any] | None = None
    while time.monotonic() < deadline:
        tick()
        last = health(base_url)
        if healthy(last):
            return
        time.sleep(1.0)
    raise AirflowApiError(f"Airflow not ready after {timeout:.0f}s: {last}")


def wait_dag(
    api: requests.Session,
    base_url: str,
    dag_id: str,
    timeout: float = 180.0,
    tick: Callable[[], object] = lambda: None,
) -> None:
    """Until the dag-processor has parsed `dag_id`; raises on a DAG import error."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        tick()
        if api.get(f"{base_url}/api/v2/dags/{quote(dag_id)}", timeout=10).ok:
            return
        errs = api.get(f"{base_url}/api/v2/importErrors", timeout=10)
        if errs.ok and errs.json().get("total_entries"):
            raise AirflowApiError(f"DAG import errors: {errs.json()['import_errors']}")
        time.sleep(1.0)
    raise AirflowApiError(f"DAG {dag_id} not parsed after {timeout:.0f}s")


def unpause(api: requests.Session, base_url: str, dag_id: str) -> None:
    r = api.patch(f"{base_url}/api/v2/dags/{quote(dag_id)}", json={"is_paused": False}, timeout=10)
    r.raise_for_status()
