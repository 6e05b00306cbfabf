"""Small helpers shared by the test packages (plain functions; fixtures live in conftest.py)."""

from __future__ import annotations

import dataclasses
import importlib.util
import sys
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import psycopg2

from pipeline import flow
from pipeline.config import Settings
from pipeline.replay import ReplayServer

# Every recorded item of the replay data set falls in ALL_TIME; none in LATER, so a run over LATER
# only retries what earlier runs left behind.
ALL_TIME = flow.Window(datetime(2015, 1, 1, tzinfo=UTC), datetime(2025, 1, 1, tzinfo=UTC))
LATER = flow.Window(datetime(2030, 1, 1, tzinfo=UTC), datetime(2030, 1, 2, tzinfo=UTC))


def quick_settings(base_url: str) -> Settings:
    """Everything on the replay server; short timeouts, one quick retry, a 2 MB body cap."""
    return dataclasses.replace(
        Settings(),
        roll_base=base_url,
        zhibo_base=base_url,
        roll_pairs=((155, 1686),),
        zhibo_ids=(152,),
        page_size=10,
        max_pages=50,
        connect_timeout=2.0,
        read_timeout=1.0,
        retries=1,
        backoff=0.05,
        max_retry_after=2.0,
        min_interval_per_host=0.0,
        max_body_bytes=2 * 1024 * 1024,
    )


def expected_docids(replay: ReplayServer) -> set[str]:
    """docids of every recorded article page (flashes come from the 7x24 feed, not the manifest)."""
    return {a["docid"] for a in replay.manifest() if a.get("docid")}


def page_path(replay: ReplayServer, docid: str) -> str:
    """The replay server's path of a recorded page, for set_fault."""
    page = next(a for a in replay.manifest() if a["docid"] == docid)
    return replay.url_for(page["url"])[len(replay.base_url) :]


def query_rows(url: str, sql: str, params: tuple[Any, ...] | dict[str, Any] = ()) -> list[tuple[Any, ...]]:
    """Run one query on its own connection and return every row."""
    conn = psycopg2.connect(url)
    try:
        with conn, conn.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchall()
    finally:
        conn.close()


def drop_database(admin_url: str, name: str) -> None:
    """Drop a test database, first ending the sessions still on it."""
    conn = psycopg2.connect(admin_url)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                (name,),
            )
            cur.execute(f'DROP DATABASE IF EXISTS "{name}"')
    finally:
        conn.close()


def fixture_corpus(name: str) -> ModuleType:
    """The loader module of a labelled fixture set (tests/fixtures/<name>/corpus.py), imported once."""
    key = f"newsflow_fixture_corpus_{name}"
    if key not in sys.modules:
        path = Path(__file__).resolve().parent / "fixtures" / name / "corpus.py"
        spec = importlib.util.spec_from_file_location(key, path)
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        sys.modules[key] = module
        spec.loader.exec_module(module)
    return sys.modules[key]


def retries_come_due(url: str) -> None:
    """Let the retry back-off pass: every failed item and open dead letter is due now (as minutes later)."""
    conn = psycopg2.connect(url)
    try:
        with conn, conn.cursor() as cur:
            cur.execute("UPDATE feed_items SET next_attempt_at = now() WHERE status = 'failed'")
            cur.execute(
                "UPDATE dead_letters SET next_attempt_at = now() "
                "WHERE resolved_at IS NULL AND next_attempt_at IS NOT NULL"
            )
    finally:
        conn.close()
