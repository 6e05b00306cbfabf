"""Fixtures for tests that run the pipeline over real HTTP against the replay server."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest

from pipeline.config import Settings
from pipeline.replay import ReplayServer


@pytest.fixture()
def replay(monkeypatch: pytest.MonkeyPatch) -> Iterator[ReplayServer]:
    with ReplayServer() as server:
        monkeypatch.setenv("NEWSFLOW_REPLAY_URL", server.base_url)
        yield server


@pytest.fixture()
def replay_settings(replay: ReplayServer) -> Settings:
    """Everything on the replay server; short timeouts and quick retries so fault tests stay fast."""
    return dataclasses.replace(
        Settings(),
        roll_base=replay.base_url,
        zhibo_base=replay.base_url,
        roll_pairs=((155, 1686),),
        zhibo_ids=(152,),
        page_size=10,
        max_pages=50,
        connect_timeout=2.0,
        read_timeout=1.0,
        retries=2,
        backoff=0.05,
        max_retry_after=1.0,
        min_interval_per_host=0.0,
    )
