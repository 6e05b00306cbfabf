"""The feed watcher: an Airflow event trigger that polls the Sina feeds and fires when something is new.

It runs in the triggerer, as the `AssetWatcher` of the `newsflow_feeds` Asset that the `news_live`
DAG is scheduled on (Airflow 3 event-driven scheduling): every `poll_seconds` it reads page 1 of
each configured source (`flow.poll_new`: a few items per source, through the project's Fetcher with
its robots.txt and per-host interval) and compares the newest item with the source's cursor in the
news database. When a source lists something newer than its cursor that it has not signalled
before, it yields one event (payload: the sources and their newest items); Airflow turns it into an
Asset event and the scheduler starts a `news_live` run, which pages each source back to its cursor
and ingests what is new. The scheduled `news_ingest` runs stay the safety net.

This module is imported when the dag-processor parses `dags/news_live.py`: only Airflow's trigger
base class at import time; the flow (requests, psycopg2) is imported inside `run`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import BaseEventTrigger, TriggerEvent

FEEDS_ASSET_NAME = "newsflow_feeds"
FEEDS_ASSET_URI = "newsflow://sina/feeds"
DEFAULT_POLL_SECONDS = 15.0


class FeedWatchTrigger(BaseEventTrigger):
    """Fires when a feed lists an item beyond its cursor (see the module docstring)."""

    def __init__(self, poll_seconds: float = DEFAULT_POLL_SECONDS) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.poll_seconds = float(poll_seconds)

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (f"{__name__}.{type(self).__name__}", {"poll_seconds": self.poll_seconds})

    async def run(self) -> AsyncIterator[TriggerEvent]:
        from pipeline import flow

        signalled: dict[str, str] = {}
        while True:
            try:
                new = await asyncio.to_thread(flow.poll_new)
            except Exception as exc:  # the database or the network is down: say so, keep polling
                self.log.warning("feed poll failed: %s", exc)
                new = {}
            fresh = {source: newest for source, newest in new.items() if signalled.get(source) != newest}
            if fresh:
                signalled.update(fresh)
                self.log.info("new items listed: %s", fresh)
                yield TriggerEvent({"new": fresh})  # type: ignore[no-untyped-call]
            await asyncio.sleep(self.poll_seconds)
