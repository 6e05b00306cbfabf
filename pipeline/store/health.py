"""Health bookkeeping in PostgreSQL: source cursors, coverage gaps, alerts, stale runs, source_health.

Every function takes the caller's cursor and runs in the caller's transaction, like the other store
modules; the rules that must hold under concurrent runs (a cursor only moves forward, one open gap
per source and start, one open alert per source and condition) are enforced by the statements
themselves (row locks of INSERT ... ON CONFLICT, partial unique indexes), not by the callers.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta
from typing import Any

from psycopg2.extensions import cursor as Cursor
from psycopg2.extras import Json

HEALTH_STATUSES = ("ok", "silent", "low", "no_data")


# --- source_health -------------------------------------------------------------------------------


def source_health(cur: Cursor, at: datetime | None = None) -> list[dict[str, Any]]:
    """Rows of the source_health view, one per source (as of `at`, default now), sorted by source."""
    if at is None:
        cur.execute("SELECT * FROM source_health")
    else:
        cur.execute("SELECT * FROM source_health_at(%s)", (at,))
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


# --- cursors -------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class SourceCursor:
    """The newest item a source has listed: (published_at, item_key), ordered in that order."""

    source: str
    published_at: datetime
    item_key: str


def get_cursor(cur: Cursor, source: str) -> SourceCursor | None:
    cur.execute("SELECT source, published_at, item_key FROM source_cursors WHERE source = %s", (source,))
    row = cur.fetchone()
    return SourceCursor(row[0], row[1], row[2]) if row else None


def advance_cursor(
    cur: Cursor, source: str, published_at: datetime, item_key: str, run_id: int | None = None
) -> SourceCursor:
    """Move the source's cursor to (published_at, item_key) if that is newer; return the cursor now.

    Concurrent runs may call this in any order: the row lock of ON CONFLICT DO UPDATE serialises
    them and the comparison keeps the greatest position, so a slow run never moves it back.
    checked_at records the call either way (the source was listed).
    """
    cur.execute(
        """INSERT INTO source_cursors AS c (source, published_at, item_key, updated_by_run)
           VALUES (%s, %s, %s, %s)
           ON CONFLICT (source) DO UPDATE SET
             published_at = GREATEST(c.published_at, EXCLUDED.published_at),
             item_key = CASE WHEN (EXCLUDED.published_at, EXCLUDED.item_key) > (c.published_at, c.item_key)
                             THEN EXCLUDED.item_key ELSE c.item_key END,
             updated_at = CASE WHEN (EXCLUDED.published_at, EXCLUDED.item_key) > (c.published_at, c.item_key)
                               THEN now() ELSE c.updated_at END,
             updated_by_run = CASE WHEN (EXCLUDED.published_at, EXCLUDED.item_key) > (c.published_at, c.item_key)
                                   THEN EXCLUDED.updated_by_run ELSE c.updated_by_run END,
             checked_at = now()
           RETURNING source, published_at, item_key""",
        (source, published_at, item_key, run_id),
    )
    row = cur.fetchone()
    assert row is not None
    return SourceCursor(row[0], row[1], row[2])


# --- coverage gaps -------------------------------------------------------------------------------


def record_gap(
    cur: Cursor, source: str, gap_from: datetime, gap_to: datetime, run_id: int | None = None
) -> bool:
    """Record that items published in (gap_from, gap_to) may be missing; True when the gap is new.

    A gap already inside an open one is not new. Two runs that meet the same gap start it at the
    same cursor: the partial unique index keeps one open row, widened to the later end (not new).
    """
    if gap_from >= gap_to:
        return False
    cur.execute(
        "SELECT 1 FROM coverage_gaps WHERE source = %s AND closed_at IS NULL AND gap_from <= %s AND gap_to >= %s",
        (source, gap_from, gap_to),
    )
    if cur.fetchone():
        return False
    cur.execute(
        """INSERT INTO coverage_gaps AS g (source, gap_from, gap_to, found_by_run)
           VALUES (%s, %s, %s, %s)
           ON CONFLICT (source, gap_from) WHERE closed_at IS NULL
           DO UPDATE SET gap_to = GREATEST(g.gap_to, EXCLUDED.gap_to)
           RETURNING (xmax = 0)""",
        (source, gap_from, gap_to, run_id),
    )
    row = cur.fetchone()
    return bool(row and row[0])


def close_gaps_covered(
    cur: Cursor, source: str, start: datetime, end: datetime, run_id: int | None = None
) -> int:
    """Close the source's open gaps that the window [start, end) covers; return how many closed.

    A gap the window covers only in part is closed too, and what the window left out stays open
    as new rows (same finder), so a backfill of half a gap leaves the other half on record.
    """
    cur.execute(
        """UPDATE coverage_gaps SET closed_at = now(), closed_by_run = %s
            WHERE source = %s AND closed_at IS NULL AND gap_from < %s AND gap_to > %s
           RETURNING gap_from, gap_to, found_by_run, found_at""",
        (run_id, source, end, start),
    )
    closed = cur.fetchall()
    for gap_from, gap_to, found_by_run, found_at in closed:
        for part_from, part_to in ((gap_from, min(gap_to, start)), (max(gap_from, end), gap_to)):
            if part_from < part_to:
                cur.execute(
                    """INSERT INTO coverage_gaps AS g (source, gap_from, gap_to, found_by_run, found_at)
                       VALUES (%s, %s, %s, %s, %s)
                       ON CONFLICT (source, gap_from) WHERE closed_at IS NULL
                       DO UPDATE SET gap_to = GREATEST(g.gap_to, EXCLUDED.gap_to)""",
                    (source, part_from, part_to, found_by_run, found_at),
                )
    return len(closed)


def open_gaps(cur: Cursor, source: str | None = None) -> list[dict[str, Any]]:
    cur.execute(
        "SELECT gap_id, source, gap_from, gap_to, found_by_run, found_at FROM coverage_gaps "
        "WHERE closed_at IS NULL AND (%s::text IS NULL OR source = %s) ORDER BY source, gap_from",
        (source, source),
    )
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


# --- alerts --------------------------------------------------------------------------------------


def open_alert(cur: Cursor, source: str, condition: str, payload: dict[str, Any]) -> int | None:
    """Note that `condition` holds for `source`; return the alert_id when a message must go out.

    The first occurrence opens the alert and claims its sending (last_sent_at set here, in the
    same statement, so two concurrent callers cannot both send). Later occurrences only move
    last_seen_at and return None, until clear_alert. An alert whose earlier send failed
    (release_alert_send) is claimed again by its next occurrence.
    """
    for _ in range(3):  # the open row may clear between the two statements: then insert again
        cur.execute(
            """INSERT INTO alerts (source, condition, payload, last_sent_at) VALUES (%s, %s, %s, now())
               ON CONFLICT (source, condition) WHERE cleared_at IS NULL DO NOTHING
               RETURNING alert_id""",
            (source, condition, Json(payload)),
        )
        row = cur.fetchone()
        if row is not None:
            return int(row[0])
        # Already open: lock it, and read whether it was sent before this statement changed it.
        cur.execute(
            """UPDATE alerts a
                  SET last_seen_at = now(),
                      last_sent_at = COALESCE(a.last_sent_at, now()),
                      payload = CASE WHEN a.last_sent_at IS NULL THEN %s ELSE a.payload END
                 FROM (SELECT alert_id, last_sent_at FROM alerts
                        WHERE source = %s AND condition = %s AND cleared_at IS NULL FOR UPDATE) old
                WHERE a.alert_id = old.alert_id
               RETURNING a.alert_id, old.last_sent_at IS NULL""",
            (Json(payload), source, condition),
        )
        row = cur.fetchone()
        if row is not None:
            return int(row[0]) if row[1] else None
    raise RuntimeError(f"alert {source}/{condition} kept clearing while being opened")


def release_alert_send(cur: Cursor, alert_id: int) -> None:
    """The message of an open alert could not be delivered: let its next occurrence send it."""
    cur.execute(
        "UPDATE alerts SET last_sent_at = NULL WHERE alert_id = %s AND cleared_at IS NULL", (alert_id,)
    )


def clear_alert(cur: Cursor, source: str, condition: str) -> bool:
    """The condition no longer holds: close its open alert (True if one was open)."""
    cur.execute(
        "UPDATE alerts SET cleared_at = now() WHERE source = %s AND condition = %s AND cleared_at IS NULL "
        "RETURNING alert_id",
        (source, condition),
    )
    return cur.fetchone() is not None


def open_alerts(cur: Cursor, source: str | None = None) -> list[dict[str, Any]]:
    cur.execute(
        "SELECT alert_id, source, condition, opened_at, last_seen_at, last_sent_at, payload FROM alerts "
        "WHERE cleared_at IS NULL AND (%s::text IS NULL OR source = %s) ORDER BY opened_at",
        (source, source),
    )
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


# --- stale runs ----------------------------------------------------------------------------------


def close_stale_runs(cur: Cursor, older_than: timedelta) -> list[int]:
    """Mark `running` runs untouched for `older_than` as `abandoned` (their worker died); return their ids.

    touched_at moves on every write to the row (a trigger), and a live run writes its counts after
    every batch, so the age to pass is the longest a live run can go without finishing a batch.
    A run closed here that was in fact alive still ends normally: end_run overwrites the status.
    """
    cur.execute(
        """UPDATE ingest_runs
              SET status = 'abandoned', finished_at = now(),
                  error = COALESCE(error, 'abandoned: no progress since ' || touched_at::text)
            WHERE status = 'running' AND touched_at < now() - %s
           RETURNING run_id""",
        (older_than,),
    )
    return sorted(int(r[0]) for r in cur.fetchall())


def database_now(cur: Cursor) -> datetime:
    """The database server's clock, which every `*_at` column and the health view are judged by."""
    cur.execute("SELECT now()")
    row = cur.fetchone()
    assert row is not None
    now: datetime = row[0]
    return now
