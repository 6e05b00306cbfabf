"""The real Airflow stack for end-to-end tests, started by the same process manager as `./run`."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline import db
from pipeline.launcher.stack import Stack, free_port
from pipeline.replay import ReplayServer

from ..helpers import drop_database


@pytest.fixture(scope="module")
def replay_server() -> Iterator[ReplayServer]:
    # Not time-shifted: backfill windows address the recorded dates directly.
    with ReplayServer() as server:
        yield server


@pytest.fixture(scope="module")
def stack(
    pg_admin_url: str, replay_server: ReplayServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    """api-server, scheduler, dag-processor, triggerer on 127.0.0.1 with their own two databases."""
    tag = uuid.uuid4().hex[:8]
    news_db, meta_db = f"nf_e2e_{tag}", f"af_e2e_{tag}"
    for name in (news_db, meta_db):
        db.ensure_database(pg_admin_url, name)
    home: Path = tmp_path_factory.mktemp("newsflow_home")
    stack = Stack(
        home=home,
        news_url=db.with_database(pg_admin_url, news_db),
        meta_url=db.with_database(pg_admin_url, meta_db),
        port=free_port(),
        parallelism=4,
        extra_env={
            "NEWSFLOW_REPLAY_URL": replay_server.base_url,
            "NEWSFLOW_MIN_INTERVAL_PER_HOST": "0",
        },
    )
    try:
        # news_live stays paused here: its watcher would poll the replay server beside these tests'
        # own runs (tests/e2e/test_live.py runs it on a stack of its own).
        stack.up(unpause=True, live=False, timeout=300)
        yield stack
    except BaseException:
        for log in sorted((home / "logs").glob("*.log")):
            print(f"==== {log.name}\n{log.read_text(errors='replace')[-4000:]}")
        raise
    finally:
        stack.stop()
        for name in (news_db, meta_db):
            drop_database(pg_admin_url, name)
