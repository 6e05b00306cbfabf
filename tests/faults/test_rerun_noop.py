"""Re-running any window is a no-op on the tables."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from pipeline import flow
from pipeline.config import Settings
from pipeline.replay import ReplayServer

from .conftest import ALL_TIME, rows

# Columns a rerun may legitimately touch: when an item was last listed.
VOLATILE = ("last_seen_at",)


def snapshot(url: str) -> dict[str, list[str]]:
    """Every table but the run log and the request slots (host_rate: when requests were sent, not
    what was loaded), every column but VOLATILE, as sorted JSON rows."""
    tables = [
        r[0]
        for r in rows(
            url,
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
            "AND tablename NOT IN ('ingest_runs', 'schema_migrations', 'host_rate') ORDER BY 1",
        )
    ]
    out: dict[str, list[str]] = {}
    for table in tables:
        drop = " ".join(f"- '{c}'" for c in VOLATILE)
        data = rows(url, f'SELECT to_jsonb(t) {drop} FROM "{table}" t')
        out[table] = sorted(json.dumps(r[0], sort_keys=True, ensure_ascii=False) for r in data)
    return out


def _w(a: str, b: str) -> flow.Window:
    return flow.Window(
        datetime.fromisoformat(a).replace(tzinfo=UTC), datetime.fromisoformat(b).replace(tzinfo=UTC)
    )


WINDOWS = {
    "all": ALL_TIME,
    "backfill-10min": _w("2021-11-06T09:10", "2021-11-06T09:20"),  # one roll item (README's window)
    "flash-10min": _w("2021-11-06T09:00", "2021-11-06T09:10"),  # one 7x24 flash
    "boundary": _w(
        "2022-01-20T01:19:39", "2022-01-20T01:23:07"
    ),  # LPR pair: one at start, one just past the end
    "2022": _w("2022-01-01", "2023-01-01"),
    "empty": _w("2030-01-01", "2030-01-02"),
}


@pytest.mark.parametrize("name", sorted(WINDOWS))
def test_rerunning_a_window_changes_nothing(
    name: str, db_url: str, replay: ReplayServer, settings: Settings
) -> None:
    window = WINDOWS[name]
    first = flow.ingest_window(window, settings, db_url)
    before = snapshot(db_url)
    pages = len(replay.request_log())
    second = flow.ingest_window(window, settings, db_url)
    assert snapshot(db_url) == before
    assert second["loaded"] == second["fetched"] == second["failed"] == 0
    # the second run listed the feeds again but fetched no page
    assert all(
        r["path"].startswith("/api/") or r["path"] == "/robots.txt" for r in replay.request_log()[pages:]
    )
    if name != "empty":
        assert first["loaded"] >= 1


def test_any_window_after_the_whole_range_changes_nothing(
    db_url: str, replay: ReplayServer, settings: Settings
) -> None:
    flow.ingest_window(ALL_TIME, settings, db_url)
    before = snapshot(db_url)
    assert before["articles"]
    for name in sorted(WINDOWS):
        counts = flow.ingest_window(WINDOWS[name], settings, db_url)
        assert counts["loaded"] == 0, name
        assert snapshot(db_url) == before, name
