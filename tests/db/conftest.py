"""Fixtures for tests that run the pipeline over real HTTP against the replay server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from pipeline.config import Settings
from pipeline.replay import ReplayServer

from ..alert_receiver import AlertReceiver
from ..helpers import quick_settings


@pytest.fixture()
def replay_settings(replay: ReplayServer) -> Settings:
    """Everything on the replay server; short timeouts and quick retries so fault tests stay fast."""
    return quick_settings(replay.base_url)


@pytest.fixture()
def receiver(monkeypatch: pytest.MonkeyPatch) -> Iterator[AlertReceiver]:
    """A webhook receiver on loopback, set as the alert channel (format json)."""
    with AlertReceiver() as r:
        monkeypatch.setenv("NEWSFLOW_ALERT_WEBHOOK_URL", r.url)
        monkeypatch.setenv("NEWSFLOW_ALERT_WEBHOOK_FORMAT", "json")
        monkeypatch.delenv("NEWSFLOW_ALERT_EMAIL", raising=False)
        yield r
