"""The compose file's airflow-init: create and migrate both databases, write the login, set up Airflow.

    python -m pipeline.launcher.container_init

Reads NEWSFLOW_DATABASE_URL, AIRFLOW__DATABASE__SQL_ALCHEMY_CONN, NEWSFLOW_ADMIN_PASSWORD (no
default: the login is whatever the operator set) and the SimpleAuthManager passwords file path.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

from pipeline import db
from pipeline.airflow_glue import NEWS_DAG_ID, psycopg2_url
from pipeline.errors import ConfigError, PipelineError
from pipeline.launcher.secrets import ADMIN_USER, write_private_json

log = logging.getLogger(__name__)


def container_init() -> int:
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
    write_private_json(Path(passwords_file), {ADMIN_USER: password})
    # Migrate, create the pool, parse the DAGs and unpause the news DAG before any scheduler starts.
    subprocess.run(
        [sys.executable, "-m", "pipeline.launcher.airflow_setup", "--unpause", NEWS_DAG_ID], check=True
    )
    return 0


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    try:
        return container_init()
    except (PipelineError, subprocess.CalledProcessError) as exc:
        print(f"airflow-init: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
