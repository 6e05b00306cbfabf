"""Near-duplicate links in Postgres: bucket-key locks, the candidate lookup, and writing a decided link.

Decides nothing: `pipeline.dedup.decide` judges the candidates read here, and `pipeline.flow`
composes the two.

Race between two loaders: before looking up candidates, the flow takes a transaction-level advisory
lock on each of the article's bucket keys, in sorted order (`lock_bucket_keys`). Two near-duplicates
are candidates only if they share a key, so whichever transaction locks that key second waits until
the first commits (or rolls back) and then, in READ COMMITTED, sees its bucket rows. Two
near-duplicates in one batch see each other because the first one's rows are already in the same
transaction. A batch locks the keys of all its articles in one sorted pass first, so two batches
cannot each hold a key the other waits for (no deadlock).
Lock budget: about 40 keys per article share Postgres's lock table
(max_locks_per_transaction x max_connections, 6400 by default), so keep batches to ~100 articles.
"""

from __future__ import annotations

from collections.abc import Iterable

from psycopg2.extensions import cursor as Cursor

from pipeline.dedup import DEDUP_VERSION, Candidate, DedupLink, Signature

LOCK_CLASS = 0x64647570  # "ddup": advisory lock namespace (two-int form) for bucket keys
REBUILD_LOCK = (LOCK_CLASS, -1)  # rebuild vs rebuild
PER_BUCKET_LIMIT = 100  # newest members read per bucket: a template-text bucket cannot grow the lookup cost
MAX_CANDIDATES = 50


def _lock_id(bucket: int) -> int:
    folded = (bucket ^ (bucket >> 32)) & 0xFFFFFFFF
    return folded - (1 << 32) if folded >= (1 << 31) else folded


def lock_bucket_keys(cur: Cursor, buckets: Iterable[int]) -> None:
    """Take the advisory locks of these bucket keys for the rest of the transaction, in one global order."""
    ids = sorted({_lock_id(b) for b in buckets})
    if ids:
        # unnest keeps the sorted order: every transaction takes its locks in one global order
        cur.execute(
            "SELECT count(pg_advisory_xact_lock(%s, k)) FROM unnest(%s::int[]) WITH ORDINALITY AS t(k, n)",
            (LOCK_CLASS, ids),
        )


def forget_buckets(cur: Cursor, article_id: int) -> None:
    """Drop the article's own bucket rows, so a re-link finds neither itself nor its stale text."""
    cur.execute("DELETE FROM dedup_buckets WHERE article_id = %s", (article_id,))


def read_candidates(cur: Cursor, article_id: int, sig: Signature) -> list[Candidate]:
    """The stored articles sharing most bucket keys with `sig` (at most MAX_CANDIDATES), by article_id."""
    buckets = sorted({k for _, k in sig.bucket_keys})
    if not buckets:
        return []
    cur.execute(
        """SELECT a.article_id, a.title, a.body_text, a.published_at, COALESCE(a.story_id, a.article_id)
             FROM articles a
            WHERE a.article_id = ANY(ARRAY(
                SELECT c.article_id
                  FROM unnest(%s::bigint[]) AS k(bucket)
                  CROSS JOIN LATERAL (
                      SELECT b.article_id FROM dedup_buckets b
                       WHERE b.bucket = k.bucket AND b.article_id <> %s
                       ORDER BY b.article_id DESC LIMIT %s) c
                 GROUP BY c.article_id
                 ORDER BY count(*) DESC, c.article_id
                 LIMIT %s))
            ORDER BY a.article_id""",
        (buckets, article_id, PER_BUCKET_LIMIT, MAX_CANDIDATES),
    )
    return [Candidate(int(r[0]), r[1], r[2], r[3], int(r[4])) for r in cur.fetchall()]


def heads_a_story(cur: Cursor, article_id: int) -> bool:
    """Whether other articles already point at this one as their story's first article."""
    cur.execute(
        "SELECT 1 FROM articles WHERE story_id = %s AND article_id <> %s LIMIT 1", (article_id, article_id)
    )
    return cur.fetchone() is not None


def write_link(cur: Cursor, link: DedupLink, sig: Signature) -> None:
    """Persist a decided link with the article's signature and bucket keys."""
    # The insert trigger already made the row an original of this version; rewriting an articles row costs
    # every index entry of it (search's GIN too), so write only what differs.
    cur.execute(
        """UPDATE articles SET duplicate_of = %(dup)s, story_id = %(story)s, dup_verdict = %(verdict)s,
                  dup_score = %(score)s, dedup_version = %(version)s
            WHERE article_id = %(id)s
              AND (duplicate_of, story_id, dup_verdict, dup_score, dedup_version)
                  IS DISTINCT FROM (%(dup)s::bigint, %(story)s::bigint, %(verdict)s::text, %(score)s::real,
                                    %(version)s::text)""",
        {
            "dup": link.duplicate_of,
            "story": link.story_id,
            "verdict": link.verdict,
            "score": link.score,
            "version": DEDUP_VERSION,
            "id": link.article_id,
        },
    )
    cur.execute(
        """INSERT INTO dedup_buckets (bucket, article_id, band)
           SELECT k, %s, b FROM unnest(%s::bigint[], %s::smallint[]) AS t(k, b)
           ON CONFLICT DO NOTHING""",
        (link.article_id, [k for _, k in sig.bucket_keys], [b for b, _ in sig.bucket_keys]),
    )
    cur.execute(
        """INSERT INTO dedup_signatures
               (article_id, dedup_version, minhash, shingle_count, text_chars, matched_article_id, verdict_reason)
           VALUES (%s, %s, %s, %s, %s, %s, %s)
           ON CONFLICT (article_id) DO UPDATE SET
               dedup_version = EXCLUDED.dedup_version, minhash = EXCLUDED.minhash,
               shingle_count = EXCLUDED.shingle_count, text_chars = EXCLUDED.text_chars,
               matched_article_id = EXCLUDED.matched_article_id, verdict_reason = EXCLUDED.verdict_reason,
               computed_at = now()""",
        (
            link.article_id,
            DEDUP_VERSION,
            sig.minhash_bytes(),
            sig.shingle_count,
            sig.text_chars,
            link.matched_article_id,
            link.reason,
        ),
    )


def clear_links(cur: Cursor) -> list[int]:
    """Start a rebuild: lock loaders out, drop every link, return all article ids in first-seen order.

    Loaders wait for the rebuild's transaction to commit instead of interleaving with it; no article
    row is deleted, only the dedup columns are reset.
    """
    cur.execute("SELECT pg_advisory_xact_lock(%s, %s)", REBUILD_LOCK)
    cur.execute("LOCK TABLE dedup_buckets IN SHARE ROW EXCLUSIVE MODE")
    cur.execute("DELETE FROM dedup_buckets")
    cur.execute("DELETE FROM dedup_signatures")
    cur.execute(
        """UPDATE articles SET duplicate_of = NULL, story_id = NULL, dup_verdict = NULL,
                  dup_score = NULL, dedup_version = NULL
            WHERE story_id IS NOT NULL OR dup_verdict IS NOT NULL"""
    )
    cur.execute("SELECT article_id FROM articles ORDER BY first_seen_at, article_id")
    return [int(r[0]) for r in cur.fetchall()]


def count_stories(cur: Cursor) -> int:
    cur.execute("SELECT count(*) FROM stories")
    row = cur.fetchone()
    assert row is not None
    return int(row[0])
