"""Run bookkeeping and the dead-letter table."""

from __future__ import annotations

from typing import Any

from psycopg2.extensions import cursor as Cursor

COUNT_COLUMNS = ("discovered", "fetched", "skipped", "parsed", "duplicates", "failed", "refailed", "loaded")


def begin_run(cur: Cursor, run_key: str, kind: str, window_start: Any, window_end: Any) -> int:
    """Create the run row, or reopen it when a retried task comes back with the same run_key."""
    cur.execute(
        """INSERT INTO ingest_runs (run_key, kind, window_start, window_end)
           VALUES (%s, %s, %s, %s)
           ON CONFLICT (run_key) DO UPDATE
             SET status = 'running', finished_at = NULL, error = NULL, degraded_reason = NULL
           RETURNING run_id""",
        (run_key, kind, window_start, window_end),
    )
    row = cur.fetchone()
    assert row is not None
    return int(row[0])


def add_counts(cur: Cursor, run_id: int, **counts: int) -> None:
    """Add to a run's counters in the caller's transaction, so counts commit with the work they count."""
    cols = [c for c in COUNT_COLUMNS if counts.get(c)]
    if not cols:
        return
    sets = ", ".join(f"{c} = {c} + %s" for c in cols)  # column names from the fixed tuple above
    cur.execute(f"UPDATE ingest_runs SET {sets} WHERE run_id = %s", [counts[c] for c in cols] + [run_id])


def get_run(cur: Cursor, run_id: int) -> dict[str, Any]:
    cur.execute(
        "SELECT run_id, run_key, kind, window_start, window_end, status, degraded_reason, "
        + ", ".join(COUNT_COLUMNS)
        + " FROM ingest_runs WHERE run_id = %s",
        (run_id,),
    )
    row = cur.fetchone()
    if row is None:
        raise KeyError(run_id)
    names = [d[0] for d in cur.description]
    return dict(zip(names, row, strict=True))


def mark_degraded(cur: Cursor, run_id: int, reason: str) -> None:
    """Note why the run, whatever its items do, is not a clean success (its status becomes 'degraded')."""
    cur.execute(
        "UPDATE ingest_runs SET degraded_reason = concat_ws('; ', degraded_reason, %s::text) WHERE run_id = %s",
        (reason[:2000], run_id),
    )


def window_outcome(cur: Cursor, run_id: int) -> dict[str, int]:
    """What became of the items of the run's window, whichever run handled them.

    ok: loaded or already stored; failed: failed (due again later) or given up; elsewhere: not done yet
    and leased by another live run (an overlapping run is on it); waiting: listed, not done, not
    leased (a retry not yet due, an item a later discover found). Ignored items do not count.
    """
    cur.execute(
        """SELECT
             count(*) FILTER (WHERE f.status IN ('loaded', 'skipped')),
             count(*) FILTER (WHERE f.status IN ('failed', 'given_up')),
             count(*) FILTER (WHERE f.status IN ('new', 'fetched') AND f.lease_until > now()
                              AND EXISTS (SELECT 1 FROM pg_stat_activity s WHERE s.pid = f.lease_backend)),
             count(*) FILTER (WHERE f.status IN ('new', 'fetched'))
           FROM ingest_runs r
           JOIN feed_items f ON f.published_at >= r.window_start AND f.published_at < r.window_end
           WHERE r.run_id = %s""",
        (run_id,),
    )
    row = cur.fetchone()
    assert row is not None
    ok, failed, elsewhere, unfinished = (int(v) for v in row)
    return {"ok": ok, "failed": failed, "elsewhere": elsewhere, "waiting": unfinished - elsewhere}


def end_run(cur: Cursor, run_id: int, status: str, error: str | None = None) -> None:
    cur.execute(
        "UPDATE ingest_runs SET status = %s, error = %s, finished_at = now() WHERE run_id = %s",
        (status, error, run_id),
    )


def record_dead_letter(
    cur: Cursor,
    *,
    source: str,
    item_key: str,
    stage: str,
    error: BaseException | str,
    url: str | None = None,
    raw_page_id: int | None = None,
    feed_item_id: int | None = None,
    run_id: int | None = None,
) -> None:
    """One open row per (source, item, stage); a repeat failure bumps attempts and reopens it."""
    error_class = type(error).__name__ if isinstance(error, BaseException) else "Error"
    cur.execute(
        """INSERT INTO dead_letters
             (source, item_key, stage, url, error_class, error, raw_page_id, feed_item_id, run_id)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)
           ON CONFLICT (source, item_key, stage) DO UPDATE SET
             attempts = dead_letters.attempts + 1,
             last_failed_at = now(),
             error_class = EXCLUDED.error_class,
             error = EXCLUDED.error,
             url = COALESCE(EXCLUDED.url, dead_letters.url),
             raw_page_id = COALESCE(EXCLUDED.raw_page_id, dead_letters.raw_page_id),
             run_id = EXCLUDED.run_id,
             resolved_at = NULL""",
        (source, item_key, stage, url, error_class, str(error)[:4000], raw_page_id, feed_item_id, run_id),
    )


def resolve_dead_letters(cur: Cursor, source: str, item_key: str, stages: tuple[str, ...] | None = None) -> None:
    if stages:
        cur.execute(
            "UPDATE dead_letters SET resolved_at = now() WHERE source = %s AND item_key = %s "
            "AND stage = ANY(%s) AND resolved_at IS NULL",
            (source, item_key, list(stages)),
        )
    else:
        cur.execute(
            "UPDATE dead_letters SET resolved_at = now() WHERE source = %s AND item_key = %s AND resolved_at IS NULL",
            (source, item_key),
        )


def open_discover_failures(cur: Cursor, limit: int = 20) -> list[tuple[str, str]]:
    """(source, window key) of discover failures not yet retried successfully, oldest first."""
    cur.execute(
        "SELECT source, item_key FROM dead_letters WHERE stage = 'discover' AND resolved_at IS NULL "
        "ORDER BY first_failed_at LIMIT %s",
        (limit,),
    )
    return [(r[0], r[1]) for r in cur.fetchall()]
