"""Shared fixtures: a real PostgreSQL for every db test (embedded unless NEWSFLOW_TEST_DATABASE_URL)."""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg2
import pytest

from pipeline import db
from pipeline.replay import ReplayServer

from .helpers import drop_database

# pgserver logs every pg_ctl call at INFO, and once more from atexit after pytest closed its streams.
logging.getLogger("pgserver").setLevel(logging.WARNING)

REPO = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture(scope="session")
def pg_admin_url() -> Iterator[str]:
    """Admin URL of a running server: NEWSFLOW_TEST_DATABASE_URL, or the embedded one, started here.

    An embedded server this session started is stopped at its end; one already running is left so.
    """
    url = os.environ.get("NEWSFLOW_TEST_DATABASE_URL")
    if url:
        yield url
        return
    pgdata = REPO / ".newsflow" / "test-pgdata"
    started_here = not (pgdata / "postmaster.pid").exists()
    yield db.start_embedded(pgdata)
    if started_here:
        db.stop_embedded(pgdata)


@pytest.fixture(scope="session")
def pg_url(pg_admin_url: str) -> Iterator[str]:
    """A fresh, migrated database for this test session; dropped at the end."""
    name = f"nf_test_{uuid.uuid4().hex[:10]}"
    db.ensure_database(pg_admin_url, name)
    url = db.with_database(pg_admin_url, name)
    db.migrate(url)
    yield url
    drop_database(pg_admin_url, name)


def truncate_all(url: str) -> None:
    conn = psycopg2.connect(url)
    with conn, conn.cursor() as cur:
        cur.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'schema_migrations'"
        )
        tables = [r[0] for r in cur.fetchall()]
        if tables:
            cur.execute("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE")
    conn.close()


@pytest.fixture()
def replay(monkeypatch: pytest.MonkeyPatch) -> Iterator[ReplayServer]:
    """The replay server on loopback, with NEWSFLOW_REPLAY_URL pointing at it."""
    with ReplayServer() as server:
        monkeypatch.setenv("NEWSFLOW_REPLAY_URL", server.base_url)
        yield server
        server.clear_faults()
        server.wait_idle(10)


@pytest.fixture()
def db_url(pg_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The session database, emptied, and set as NEWSFLOW_DATABASE_URL for code under test."""
    truncate_all(pg_url)
    monkeypatch.setenv("NEWSFLOW_DATABASE_URL", pg_url)
    return pg_url
