"""Fixtures for tests that run the pipeline over real HTTP against the replay server."""

from __future__ import annotations

import pytest

from pipeline.config import Settings
from pipeline.replay import ReplayServer

from ..helpers import quick_settings


@pytest.fixture()
def replay_settings(replay: ReplayServer) -> Settings:
    """Everything on the replay server; short timeouts and quick retries so fault tests stay fast."""
    return quick_settings(replay.base_url)
