"""An Airflow metadata database for DAG tests: a fresh database on the test PostgreSQL, migrated once.

Airflow reads its configuration when it is first imported, so the DAG tests import airflow only
inside tests, after `airflow_home` has set the environment.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline import db
from pipeline.airflow_glue import sqlalchemy_url

from ..helpers import drop_database

REPO = Path(__file__).resolve().parent.parent.parent
DAGS = REPO / "dags"


@pytest.fixture(scope="session")
def airflow_home(pg_admin_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    if "airflow" in sys.modules:
        pytest.fail("airflow was imported before the DAG test environment was set: import it inside tests")
    name = f"af_test_{uuid.uuid4().hex[:10]}"
    db.ensure_database(pg_admin_url, name)
    home = tmp_path_factory.mktemp("airflow_home")
    env = {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": sqlalchemy_url(db.with_database(pg_admin_url, name)),
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
    }
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], check=True, capture_output=True)
    yield home
    if "airflow.settings" in sys.modules:
        # Close Airflow's pooled connections before their database goes away.
        sys.modules["airflow.settings"].dispose_orm()
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
    drop_database(pg_admin_url, name)
