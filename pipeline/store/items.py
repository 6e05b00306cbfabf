"""Feed items and raw pages: the hand-over tables between discover, fetch and process, and fetch leases."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from psycopg2.extensions import cursor as Cursor
from psycopg2.extras import Json

from pipeline.models import FeedItem, RawPage

# A failed item is tried again by the first run after its next_attempt_at: 5 min, 15 min, 1 h, 4 h after
# its first failures, then daily. After GIVE_UP_AFTER failures (about two weeks) it is `given_up`: no
# run claims it, but it stays listed and counted (source_health, newsflow dead-letters) until a person
# retries or ignores it. Nothing is dropped silently.
RETRY_BACKOFF_SECONDS = (300, 900, 3600, 4 * 3600, 24 * 3600)
GIVE_UP_AFTER = 18


def upsert_feed_items(cur: Cursor, items: Iterable[FeedItem]) -> int:
    """Insert new items, refresh seen ones; returns how many were new."""
    new = 0
    for it in items:
        cur.execute(
            """INSERT INTO feed_items (source, item_key, kind, url, docid, title, published_at, payload)
               VALUES (%s, %s, %s, %s, %s, %s, %s, %s)
               ON CONFLICT (source, item_key) DO UPDATE SET
                 last_seen_at = now(),
                 url = COALESCE(EXCLUDED.url, feed_items.url),
                 docid = COALESCE(EXCLUDED.docid, feed_items.docid),
                 title = EXCLUDED.title,
                 payload = EXCLUDED.payload
               RETURNING (xmax = 0)""",
            (it.source, it.item_key, it.kind, it.url, it.docid, it.title, it.published_at, Json(it.payload)),
        )
        row = cur.fetchone()
        if row and row[0]:
            new += 1
    return new


_ITEM_COLS = "feed_item_id, source, item_key, kind, url, docid, title, published_at, payload, status, attempts, raw_page_id"


# A lease is live while it has not expired and its holder's session is still connected: a worker that
# died (killed, its host rebooted) frees its items at once, a hung one when the lease runs out.
_UNLEASED = """(lease_until IS NULL OR lease_until < now()
                OR NOT EXISTS (SELECT 1 FROM pg_stat_activity s WHERE s.pid = feed_items.lease_backend))"""


def _rows(cur: Cursor) -> list[dict[str, Any]]:
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def claim_items(
    cur: Cursor,
    statuses: tuple[str, ...],
    start: datetime,
    end: datetime,
    limit: int,
    *,
    retry_older: bool,
    exclude: Iterable[int] = (),
) -> list[dict[str, Any]]:
    """Lock up to `limit` unleased items of the window in the given statuses (SKIP LOCKED: parallel runs share work).

    A failed item is claimed only once it is due (next_attempt_at). With retry_older, unfinished items
    outside the window come too (failed ones that are due, items a killed run left behind, items a
    cursor-based discover listed beyond the window): that is how a later run retries a dead letter,
    completes an interrupted window and fills a downtime.
    """
    cur.execute(
        f"""SELECT {_ITEM_COLS} FROM feed_items
            WHERE status = ANY(%s)
              AND (status <> 'failed' OR next_attempt_at IS NULL OR next_attempt_at <= now())
              AND ((published_at >= %s AND published_at < %s)
                   OR (%s AND status IN ('new', 'failed', 'fetched')))
              AND NOT (feed_item_id = ANY(%s))
              AND {_UNLEASED}
            ORDER BY published_at NULLS LAST, feed_item_id
            LIMIT %s
            FOR UPDATE SKIP LOCKED""",
        (list(statuses), start, end, retry_older, list(exclude), limit),
    )
    return _rows(cur)


def claim_items_by_key(
    cur: Cursor, source: str, keys: list[str], statuses: tuple[str, ...], limit: int, exclude: Iterable[int] = ()
) -> list[dict[str, Any]]:
    cur.execute(
        f"""SELECT {_ITEM_COLS} FROM feed_items
            WHERE source = %s AND item_key = ANY(%s) AND status = ANY(%s)
              AND NOT (feed_item_id = ANY(%s)) AND {_UNLEASED}
            ORDER BY feed_item_id LIMIT %s FOR UPDATE SKIP LOCKED""",
        (source, keys, list(statuses), list(exclude), limit),
    )
    return _rows(cur)


def lease_item(cur: Cursor, feed_item_id: int, owner: str, seconds: float) -> datetime:
    """Lease a claimed item to `owner` for `seconds`; returns claimed_at, which with the owner names this lease.

    Commit right after: the lease, not a row lock, keeps other workers off the item during the fetch.
    """
    cur.execute(
        """UPDATE feed_items SET lease_owner = %s, lease_backend = pg_backend_pid(),
                  claimed_at = clock_timestamp(), lease_until = clock_timestamp() + %s * interval '1 second'
            WHERE feed_item_id = %s
            RETURNING claimed_at""",
        (owner, seconds, feed_item_id),
    )
    row = cur.fetchone()
    assert row is not None
    return row[0]  # type: ignore[no-any-return]


def end_lease(cur: Cursor, feed_item_id: int, owner: str, claimed_at: datetime) -> bool:
    """Release this lease and lock the item for the result's write; False when the lease is no longer ours.

    Another worker takes an item over only once its lease is void (expired, or its holder disconnected),
    and doing so replaces owner and claimed_at: the stale holder then finds no row and must not write.
    A lease that expired but was not taken over is still honoured: nobody else did the work.
    """
    cur.execute(
        """UPDATE feed_items SET lease_owner = NULL, lease_backend = NULL, lease_until = NULL
            WHERE feed_item_id = %s AND lease_owner = %s AND claimed_at = %s
            RETURNING feed_item_id""",
        (feed_item_id, owner, claimed_at),
    )
    return cur.fetchone() is not None


def mark_item(
    cur: Cursor,
    feed_item_id: int,
    status: str,
    *,
    raw_page_id: int | None = None,
    article_id: int | None = None,
) -> None:
    cur.execute(
        """UPDATE feed_items SET status = %s,
             raw_page_id = COALESCE(%s, raw_page_id),
             article_id = COALESCE(%s, article_id),
             next_attempt_at = NULL
           WHERE feed_item_id = %s""",
        (status, raw_page_id, article_id, feed_item_id),
    )


def fail_item(cur: Cursor, feed_item_id: int) -> str:
    """Count a failure and schedule the next attempt (item and its open dead letters); returns the new status.

    `failed` with next_attempt_at by RETRY_BACKOFF_SECONDS, or `given_up` after GIVE_UP_AFTER failures.
    """
    cur.execute(
        """UPDATE feed_items SET
             attempts = attempts + 1,
             status = CASE WHEN attempts + 1 >= %(give_up)s THEN 'given_up' ELSE 'failed' END,
             next_attempt_at = CASE WHEN attempts + 1 >= %(give_up)s THEN NULL
                 ELSE now() + (%(backoff)s::int[])[LEAST(attempts + 1, cardinality(%(backoff)s::int[]))]
                              * interval '1 second' END
           WHERE feed_item_id = %(id)s
           RETURNING status, next_attempt_at""",
        {"give_up": GIVE_UP_AFTER, "backoff": list(RETRY_BACKOFF_SECONDS), "id": feed_item_id},
    )
    row = cur.fetchone()
    assert row is not None
    status, due = row
    cur.execute(
        """UPDATE dead_letters SET next_attempt_at = %s,
                  given_up_at = CASE WHEN %s THEN now() ELSE NULL END
           WHERE feed_item_id = %s AND resolved_at IS NULL""",
        (due, status == "given_up", feed_item_id),
    )
    return str(status)


def stored_article_id(cur: Cursor, docid: str | None, canonical_url: str | None) -> int | None:
    """The article already stored under this docid or URL, if any (then nothing is fetched)."""
    if not docid and not canonical_url:
        return None
    cur.execute(
        "SELECT article_id FROM articles WHERE docid = %s OR canonical_url = %s ORDER BY article_id LIMIT 1",
        (docid, canonical_url),
    )
    row = cur.fetchone()
    return int(row[0]) if row else None


def raw_page_id_for_url(cur: Cursor, url: str) -> int | None:
    cur.execute("SELECT raw_page_id FROM raw_pages WHERE url = %s", (url,))
    row = cur.fetchone()
    return int(row[0]) if row else None


def save_raw_page(cur: Cursor, raw: RawPage) -> int:
    """Keep the bytes as fetched; a re-fetch of the same URL replaces them (the article keeps versions)."""
    cur.execute(
        """INSERT INTO raw_pages (url, final_url, kind, status_code, headers, body, body_sha256, fetched_at)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s)
           ON CONFLICT (url) DO UPDATE SET
             final_url = EXCLUDED.final_url, status_code = EXCLUDED.status_code,
             headers = EXCLUDED.headers, body = EXCLUDED.body,
             body_sha256 = EXCLUDED.body_sha256, fetched_at = EXCLUDED.fetched_at
           RETURNING raw_page_id""",
        (
            raw.url, raw.final_url, raw.kind, raw.status_code, Json(raw.headers),
            raw.body, raw.sha256, raw.fetched_at,
        ),
    )  # fmt: skip
    row = cur.fetchone()
    assert row is not None
    return int(row[0])


def load_raw_page(cur: Cursor, raw_page_id: int) -> RawPage:
    cur.execute(
        "SELECT url, kind, body, headers, status_code, fetched_at, final_url FROM raw_pages WHERE raw_page_id = %s",
        (raw_page_id,),
    )
    row = cur.fetchone()
    if row is None:
        raise KeyError(raw_page_id)
    return RawPage(
        url=row[0], kind=row[1], body=bytes(row[2]), headers=dict(row[3] or {}),
        status_code=row[4], fetched_at=row[5], final_url=row[6],
    )  # fmt: skip


def count_raw_pages(cur: Cursor) -> int:
    cur.execute("SELECT count(*) FROM raw_pages")
    row = cur.fetchone()
    assert row is not None
    return int(row[0])


def raw_pages_after(cur: Cursor, last_id: int, limit: int) -> list[tuple[int, str, str]]:
    """(raw_page_id, source, item_key) of the next stored pages after `last_id`, in id order.

    Source and key are those of the first feed item that pointed at the page (for dead letters);
    a page no item points at any more is named by its URL under the source "reparse".
    """
    cur.execute(
        """SELECT r.raw_page_id, COALESCE(f.source, 'reparse'), COALESCE(f.item_key, r.url)
           FROM raw_pages r
           LEFT JOIN LATERAL (SELECT source, item_key FROM feed_items
                              WHERE raw_page_id = r.raw_page_id ORDER BY feed_item_id LIMIT 1) f ON true
           WHERE r.raw_page_id > %s ORDER BY r.raw_page_id LIMIT %s""",
        (last_id, limit),
    )
    return [(int(r[0]), r[1], r[2]) for r in cur.fetchall()]
