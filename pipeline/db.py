"""PostgreSQL access: the URL (given or embedded), connections, and the migration runner."""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg2
import psycopg2.extensions
from psycopg2 import sql

from pipeline.config import project_home
from pipeline.errors import ConfigError, MigrationError

log = logging.getLogger(__name__)

EMBEDDED_DB = "newsflow"
MIGRATION_LOCK_KEY = 0x6E657773  # "news": one advisory lock for every migration runner
_MIGRATION_RE = re.compile(r"^(?P<num>\d{3})_(?P<name>[a-z0-9_]+)\.sql$")


def sql_dir() -> Path:
    """The migrations: the repo's sql/ (pipeline/sql links to it, so a wheel carries a copy)."""
    env = os.environ.get("NEWSFLOW_SQL_DIR")
    return Path(env) if env else Path(__file__).resolve().parent / "sql"


def embedded_pgdata() -> Path:
    return project_home() / "pgdata"


def _import_pgserver() -> Any:
    """Import pgserver (heavy; only when the embedded server is wanted) without its platformdirs warning."""
    import warnings

    with warnings.catch_warnings():  # platformdirs warns when XDG_RUNTIME_DIR is unset (root, CI)
        warnings.simplefilter("ignore")
        import pgserver
        import pgserver._commands

    return pgserver


def start_embedded(pgdata: Path | None = None) -> str:
    """Start (or reuse) the embedded PostgreSQL 16 and return the admin URL of its cluster.

    The server listens on a Unix socket only, keeps running after this process exits (so the next
    command reuses it) and is stopped by `newsflow db stop`.
    """
    pgserver = _import_pgserver()

    pgdata = pgdata or embedded_pgdata()
    pgdata.mkdir(parents=True, exist_ok=True)
    server = pgserver.get_server(pgdata, cleanup_mode=None)
    if not (pgdata / "postmaster.pid").exists():
        # pgserver caches one handle per folder: after a stop in this process, start it again.
        with server._lock:
            server.ensure_postgres_running()
    return str(server.get_uri())


def stop_embedded(pgdata: Path | None = None) -> bool:
    """Stop the embedded server if it runs; True when one was stopped."""
    pgdata = pgdata or embedded_pgdata()
    pgserver = _import_pgserver()
    if not (pgdata / "postmaster.pid").exists():
        return False
    pg_ctl = getattr(pgserver._commands, "pg_ctl")  # noqa: B009 - made at import time, invisible to mypy

    user = "pgserver" if hasattr(os, "geteuid") and os.geteuid() == 0 else None
    pg_ctl(["-w", "-m", "fast", "stop"], pgdata=pgdata, user=user)
    return True


def with_database(url: str, dbname: str) -> str:
    """Same server, another database (keeps ?host=/socket query parameters)."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + dbname, parts.query, parts.fragment))


def ensure_database(admin_url: str, dbname: str) -> None:
    conn = psycopg2.connect(admin_url)
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (dbname,))
            if cur.fetchone() is None:
                try:
                    cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))
                except psycopg2.errors.DuplicateDatabase:
                    pass  # a concurrent caller created it first
    finally:
        conn.close()


def database_url() -> str:
    """NEWSFLOW_DATABASE_URL if set, else the embedded server's `newsflow` database (started if needed)."""
    url = os.environ.get("NEWSFLOW_DATABASE_URL")
    if url:
        if not url.startswith(("postgresql://", "postgres://")):
            raise ConfigError("NEWSFLOW_DATABASE_URL must start with postgresql://")
        return url
    admin = start_embedded()
    ensure_database(admin, EMBEDDED_DB)
    return with_database(admin, EMBEDDED_DB)


def connect(url: str | None = None) -> psycopg2.extensions.connection:
    conn = psycopg2.connect(url or database_url(), application_name="newsflow")
    with conn.cursor() as cur:
        cur.execute("SET TIME ZONE 'UTC'")
    conn.commit()
    return conn


@contextlib.contextmanager
def transaction(conn: psycopg2.extensions.connection) -> Iterator[psycopg2.extensions.cursor]:
    """One transaction: commit on success, roll back and re-raise on any error."""
    try:
        with conn.cursor() as cur:
            yield cur
        conn.commit()
    except BaseException:
        conn.rollback()
        raise


# --- migrations -----------------------------------------------------------------------------------


def migration_files(directory: Path | None = None) -> list[tuple[int, str, Path]]:
    """Numbered migrations on disk, in order; refuses gaps and duplicate numbers."""
    directory = directory or sql_dir()
    found: dict[int, tuple[int, str, Path]] = {}
    for path in sorted(directory.glob("*.sql")):
        m = _MIGRATION_RE.match(path.name)
        if not m:
            raise MigrationError(f"{path.name}: migration files are named NNN_name.sql")
        num = int(m.group("num"))
        if num in found:
            raise MigrationError(f"two migrations numbered {num:03d}: {found[num][2].name}, {path.name}")
        found[num] = (num, m.group("name"), path)
    nums = sorted(found)
    for expected, num in enumerate(nums, start=1):
        if num != expected:
            raise MigrationError(f"migration {expected:03d} is missing (found {num:03d}): refusing a gap")
    return [found[n] for n in nums]


def _checksum(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def migrate(url: str | None = None, directory: Path | None = None) -> list[str]:
    """Apply pending migrations in order, each in its own transaction; return the names applied.

    Safe to run twice (history table) and from two processes at once (advisory lock held while
    reading the history and applying).
    """
    files = migration_files(directory)
    conn = connect(url)
    applied_now: list[str] = []
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK_KEY,))
        try:
            conn.autocommit = False
            with transaction(conn) as cur:
                cur.execute(
                    """CREATE TABLE IF NOT EXISTS schema_migrations (
                        version integer PRIMARY KEY,
                        name text NOT NULL,
                        checksum text NOT NULL,
                        applied_at timestamptz NOT NULL DEFAULT now())"""
                )
                cur.execute("SELECT version, name, checksum FROM schema_migrations ORDER BY version")
                history = {row[0]: (row[1], row[2]) for row in cur.fetchall()}
            on_disk = {num: (name, path) for num, name, path in files}
            for version, (name, checksum) in history.items():
                if version not in on_disk:
                    raise MigrationError(f"database has migration {version:03d}_{name} that is not on disk")
                if _checksum(on_disk[version][1]) != checksum:
                    raise MigrationError(
                        f"migration {version:03d}_{name} changed after it was applied; add a new migration"
                    )
            for num, name, path in files:
                if num in history:
                    continue
                text = path.read_text(encoding="utf-8")
                with transaction(conn) as cur:
                    if re.sub(r"--[^\n]*", "", text).strip():  # a file of comments only is a no-op
                        cur.execute(text)
                    cur.execute(
                        "INSERT INTO schema_migrations (version, name, checksum) VALUES (%s, %s, %s)",
                        (num, name, _checksum(path)),
                    )
                log.info("applied migration %03d_%s", num, name)
                applied_now.append(f"{num:03d}_{name}")
        finally:
            conn.rollback()
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK_KEY,))
    finally:
        conn.close()
    return applied_now
