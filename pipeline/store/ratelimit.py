"""host_rate: request slots per host shared by every process, and Retry-After holds (fetch.HostGate).

Each request takes the host's next slot in one statement: the slot starts at the later of now, the
previous slot's end and any hold, and the row moves on by the interval. The row lock of the upsert
serialises processes, so N processes sending to one host are spaced as one would be. A gate keeps
one connection (one round trip a request, well under a millisecond, against spacings of hundreds).
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Any

import psycopg2

from pipeline import db

_RESERVE = """
INSERT INTO host_rate AS h (host, next_slot_at) VALUES (%(host)s, clock_timestamp() + %(i)s * interval '1 second')
ON CONFLICT (host) DO UPDATE
SET next_slot_at = greatest(h.next_slot_at, clock_timestamp(), coalesce(h.held_until, '-infinity'))
                   + %(i)s * interval '1 second'
RETURNING extract(epoch FROM h.next_slot_at - %(i)s * interval '1 second')
"""

_HOLD = """
INSERT INTO host_rate AS h (host, next_slot_at, held_until) VALUES (%(host)s, %(until)s, %(until)s)
ON CONFLICT (host) DO UPDATE SET held_until = greatest(coalesce(h.held_until, '-infinity'), %(until)s)
"""


class SharedHostGate:
    """The HostGate of every process that uses this news database.

    One connection per gate (autocommit), opened on first use and opened again after an error;
    thread-safe. (A Fetcher whose interval is 0, the rate limit off, does not ask the gate for slots.)
    """

    def __init__(self, url: str | None = None) -> None:
        self.url = url
        self._conn: Any = None
        self._lock = threading.Lock()

    def _execute(self, sql: str, params: dict[str, Any]) -> Any:
        with self._lock:
            for attempt in (1, 2):
                try:
                    if self._conn is None or self._conn.closed:
                        self._conn = db.connect(self.url)
                        self._conn.autocommit = True
                    with self._conn.cursor() as cur:
                        cur.execute(sql, params)
                        return cur.fetchone() if cur.description else None
                except psycopg2.OperationalError:
                    self._conn = None  # a dropped connection: open a new one once, then give up
                    if attempt == 2:
                        raise
        return None  # pragma: no cover - the loop returns or raises

    def reserve(self, host: str, interval: float) -> float:
        row = self._execute(_RESERVE, {"host": host, "i": float(interval)})
        assert row is not None
        return float(row[0])

    def hold(self, host: str, until: float) -> None:
        self._execute(_HOLD, {"host": host, "until": datetime.fromtimestamp(until, UTC)})

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
