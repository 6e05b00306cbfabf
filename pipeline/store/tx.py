"""Savepoints: one item of a batch can fail without rolling back the items loaded before it."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from psycopg2.extensions import cursor as Cursor


@contextlib.contextmanager
def savepoint(cur: Cursor, undo_on: tuple[type[BaseException], ...], name: str = "item") -> Iterator[None]:
    """Undo the block's writes when it raises one of `undo_on` (re-raised for the caller to record).

    Any other error leaves the savepoint alone: it fails the whole transaction (e.g. the server went
    away, when a ROLLBACK TO would fail too and hide the cause).
    """
    cur.execute(f"SAVEPOINT {name}")  # name is the caller's identifier, never data
    try:
        yield
    except undo_on:
        cur.execute(f"ROLLBACK TO SAVEPOINT {name}")
        raise
    cur.execute(f"RELEASE SAVEPOINT {name}")
