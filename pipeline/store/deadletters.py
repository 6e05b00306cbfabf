"""Reading the dead letters (items that failed at a stage) for `newsflow dead-letters`.

Writing them is part of a run's bookkeeping (store/runs.py); this module only lists them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from pipeline import db


@dataclass(frozen=True)
class DeadLetter:
    stage: str
    source: str
    item_key: str
    attempts: int
    last_failed_at: datetime
    error: str
    resolved_at: datetime | None


def list_dead_letters(
    url: str | None = None, *, include_resolved: bool = False, limit: int = 50
) -> list[DeadLetter]:
    """The most recently failed items first; only open ones unless `include_resolved`."""
    conn = db.connect(url)
    try:
        with db.transaction(conn) as cur:
            cur.execute(
                """SELECT stage, source, item_key, attempts, last_failed_at, error, resolved_at
                   FROM dead_letters
                   WHERE %(all)s OR resolved_at IS NULL
                   ORDER BY last_failed_at DESC, dead_letter_id DESC
                   LIMIT %(limit)s""",
                {"all": include_resolved, "limit": limit},
            )
            rows = cur.fetchall()
    finally:
        conn.close()
    return [DeadLetter(*row) for row in rows]
