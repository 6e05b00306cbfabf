"""host_rate: request slots per host shared by every process, and Retry-After holds (fetch.HostGate).

Each request takes the host's next slot in one statement: the slot starts at the later of now, the
previous slot's end and any hold, and the row moves on by the interval. The row lock of the upsert
serialises processes, so N processes sending to one host are spaced as one would be. One short
connection per call (a few ms, against request spacings of hundreds): no connection is held
between requests, so a Fetcher needs no closing.
"""

from __future__ import annotations

from datetime import UTC, datetime

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
    """The HostGate of every process that uses this news database."""

    def __init__(self, url: str | None = None) -> None:
        self.url = url

    def reserve(self, host: str, interval: float) -> float:
        conn = db.connect(self.url)
        try:
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute(_RESERVE, {"host": host, "i": float(interval)})
                row = cur.fetchone()
                assert row is not None
                return float(row[0])
        finally:
            conn.close()

    def hold(self, host: str, until: float) -> None:
        conn = db.connect(self.url)
        try:
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute(_HOLD, {"host": host, "until": datetime.fromtimestamp(until, UTC)})
        finally:
            conn.close()
