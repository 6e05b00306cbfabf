"""The migration runner against a real PostgreSQL: history, gaps, concurrency, the reader role."""

from __future__ import annotations

import shutil
import threading
import uuid
from pathlib import Path

import psycopg2
import pytest

from pipeline import db
from pipeline.errors import MigrationError


@pytest.fixture()
def fresh_db(pg_admin_url: str):
    name = f"nf_mig_{uuid.uuid4().hex[:8]}"
    db.ensure_database(pg_admin_url, name)
    yield db.with_database(pg_admin_url, name)
    conn = psycopg2.connect(pg_admin_url)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    conn.close()


def _history(url: str) -> list[int]:
    conn = psycopg2.connect(url)
    with conn, conn.cursor() as cur:
        cur.execute("SELECT version FROM schema_migrations ORDER BY version")
        out = [r[0] for r in cur.fetchall()]
    conn.close()
    return out


def test_migrate_twice_applies_once(fresh_db: str) -> None:
    first = db.migrate(fresh_db)
    assert first[0] == "001_core"
    assert db.migrate(fresh_db) == []
    assert _history(fresh_db) == list(range(1, len(first) + 1))


def test_two_processes_migrating_at_once_apply_each_migration_once(fresh_db: str) -> None:
    results: list[list[str]] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            results.append(db.migrate(fresh_db))
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    applied = sorted(name for r in results for name in r)
    assert len(applied) == len(set(applied)) == len(db.migration_files())
    assert _history(fresh_db) == list(range(1, len(applied) + 1))


def test_gap_in_numbering_is_refused(tmp_path: Path) -> None:
    for path in db.migration_files():
        shutil.copy(path[2], tmp_path / path[2].name)
    (tmp_path / "099_later.sql").write_text("SELECT 1;")
    with pytest.raises(MigrationError, match="missing"):
        db.migration_files(tmp_path)


def test_changed_applied_migration_is_refused(fresh_db: str, tmp_path: Path) -> None:
    for path in db.migration_files():
        shutil.copy(path[2], tmp_path / path[2].name)
    db.migrate(fresh_db, tmp_path)
    first = sorted(tmp_path.glob("001_*.sql"))[0]
    first.write_text(first.read_text() + "\n-- edited\n")
    with pytest.raises(MigrationError, match="changed after it was applied"):
        db.migrate(fresh_db, tmp_path)


def test_reader_role_can_read_but_not_write(db_url: str) -> None:
    conn = psycopg2.connect(db_url)
    try:
        with conn.cursor() as cur:
            cur.execute("SET ROLE newsflow_reader")
            cur.execute("SELECT count(*) FROM articles")
            assert cur.fetchone() == (0,)
            with pytest.raises(psycopg2.errors.InsufficientPrivilege):
                cur.execute("INSERT INTO ingest_runs (run_key, kind) VALUES ('x', 'ingest')")
    finally:
        conn.rollback()
        conn.close()


def test_every_timestamp_column_is_timestamptz(db_url: str) -> None:
    conn = psycopg2.connect(db_url)
    with conn, conn.cursor() as cur:
        cur.execute(
            """SELECT table_name, column_name, data_type FROM information_schema.columns
               WHERE table_schema = 'public' AND (column_name LIKE '%%\\_at' OR data_type LIKE 'timestamp%%')"""
        )
        rows = cur.fetchall()
    conn.close()
    assert rows
    wrong = [r for r in rows if r[2] != "timestamp with time zone"]
    assert not wrong


def test_embedded_server_stops_and_starts_again_in_one_process(tmp_path: Path) -> None:
    pgdata = tmp_path / "pg"
    url = db.start_embedded(pgdata)
    conn = psycopg2.connect(url)
    conn.close()
    assert db.stop_embedded(pgdata)
    with pytest.raises(psycopg2.OperationalError):
        psycopg2.connect(url, connect_timeout=2)
    url = db.start_embedded(pgdata)
    conn = psycopg2.connect(url)
    with conn.cursor() as cur:
        cur.execute("SHOW listen_addresses")
        assert cur.fetchone() == ("",)  # a Unix socket only: no TCP listener at all
    conn.close()
    assert db.stop_embedded(pgdata)


def test_every_column_of_every_table_and_view_is_explained(db_url: str) -> None:
    """psql's \\d+ and BI tools show column comments: none may be missing."""
    conn = psycopg2.connect(db_url)
    try:
        with conn.cursor() as cur:
            cur.execute(
                """SELECT c.relname || '.' || a.attname
                     FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                     JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
                    WHERE n.nspname = 'public' AND c.relkind IN ('r', 'v')
                      AND coalesce(col_description(c.oid, a.attnum), '') = ''
                    ORDER BY 1"""
            )
            missing = [r[0] for r in cur.fetchall()]
    finally:
        conn.close()
    assert missing == []
