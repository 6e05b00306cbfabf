"""The dead letters (items that failed at a stage) for `newsflow dead-letters list|retry|ignore`.

Writing them is part of a run's bookkeeping (store/runs.py, store/items.fail_item); this module lists
them and carries out a person's decision: retry now (given-up ones included) or ignore.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pipeline import db


@dataclass(frozen=True)
class DeadLetter:
    dead_letter_id: int
    stage: str
    source: str
    item_key: str
    attempts: int
    last_failed_at: datetime
    error: str
    resolved_at: datetime | None
    next_attempt_at: datetime | None
    given_up_at: datetime | None
    ignored_at: datetime | None
    ignore_reason: str | None

    @property
    def state(self) -> str:
        """open (retried at next_attempt_at), given up, ignored or resolved."""
        if self.ignored_at:
            return "ignored"
        if self.resolved_at:
            return "resolved"
        if self.given_up_at:
            return "given up"
        return "open"


@dataclass(frozen=True)
class Selection:
    """Which dead letters a command acts on; every field narrows, none set means all open ones."""

    ids: tuple[int, ...] = ()
    stage: str | None = None
    source: str | None = None

    def where(self) -> tuple[str, dict[str, Any]]:
        clauses = ["(%(no_ids)s OR dead_letter_id = ANY(%(ids)s))"]
        params: dict[str, Any] = {"no_ids": not self.ids, "ids": list(self.ids)}
        if self.stage:
            clauses.append("stage = %(stage)s")
            params["stage"] = self.stage
        if self.source:
            clauses.append("source = %(source)s")
            params["source"] = self.source
        return " AND ".join(clauses), params


_COLUMNS = (
    "dead_letter_id, stage, source, item_key, attempts, last_failed_at, error, resolved_at, "
    "next_attempt_at, given_up_at, ignored_at, ignore_reason"
)


def list_dead_letters(
    url: str | None = None,
    *,
    include_resolved: bool = False,
    limit: int = 50,
    select: Selection = Selection(),
) -> list[DeadLetter]:
    """The most recently failed first; only open ones (given up included) unless `include_resolved`."""
    where, params = select.where()
    conn = db.connect(url)
    try:
        with db.transaction(conn) as cur:
            cur.execute(
                f"""SELECT {_COLUMNS} FROM dead_letters
                    WHERE (%(all)s OR resolved_at IS NULL) AND {where}
                    ORDER BY last_failed_at DESC, dead_letter_id DESC
                    LIMIT %(limit)s""",
                {**params, "all": include_resolved, "limit": limit},
            )
            rows = cur.fetchall()
    finally:
        conn.close()
    return [DeadLetter(*row) for row in rows]


def retry_dead_letters(url: str | None, select: Selection) -> int:
    """Make the selected open dead letters (given-up ones too) due now; returns how many.

    Their feed items go back to `failed` with next_attempt_at = now(), so the next run (scheduled, a
    backfill, or `newsflow ingest`) tries them again; discover letters are retried by every run anyway.
    """
    where, params = select.where()
    conn = db.connect(url)
    try:
        with db.transaction(conn) as cur:
            cur.execute(
                f"""UPDATE dead_letters SET next_attempt_at = now(), given_up_at = NULL
                    WHERE resolved_at IS NULL AND {where}
                    RETURNING feed_item_id""",
                params,
            )
            letters = [r[0] for r in cur.fetchall()]
            cur.execute(
                """UPDATE feed_items SET status = 'failed', next_attempt_at = now()
                   WHERE feed_item_id = ANY(%s) AND status IN ('failed', 'given_up')""",
                ([i for i in letters if i is not None],),
            )
    finally:
        conn.close()
    return len(letters)


def ignore_dead_letters(url: str | None, select: Selection, *, reason: str, by: str) -> int:
    """Take the selected open dead letters out of the retries for good, saying why and who; returns how many.

    The letter is resolved (no longer open in source_health) but keeps its reason; its feed item
    becomes `ignored`, which no run claims. `retry` does not bring it back: the row stays as the record.
    """
    if not reason.strip():
        raise ValueError("ignoring a dead letter needs a reason")
    where, params = select.where()
    conn = db.connect(url)
    try:
        with db.transaction(conn) as cur:
            cur.execute(
                f"""UPDATE dead_letters SET resolved_at = now(), ignored_at = now(), ignored_by = %(by)s,
                           ignore_reason = %(reason)s, next_attempt_at = NULL
                    WHERE resolved_at IS NULL AND {where}
                    RETURNING feed_item_id""",
                {**params, "by": by, "reason": reason},
            )
            letters = [r[0] for r in cur.fetchall()]
            cur.execute(
                """UPDATE feed_items SET status = 'ignored', next_attempt_at = NULL
                   WHERE feed_item_id = ANY(%s) AND status IN ('failed', 'given_up', 'new', 'fetched')""",
                ([i for i in letters if i is not None],),
            )
    finally:
        conn.close()
    return len(letters)
