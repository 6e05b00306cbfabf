"""Near-duplicate links in Postgres: bucket keys, candidate lookup, story ids, and the rebuild.

Race between two loaders: before looking up candidates, `link_article` takes a transaction-level
advisory lock on each of the article's bucket keys, in sorted order. Two near-duplicates are
candidates only if they share a key, so whichever transaction locks that key second waits until the
first commits (or rolls back) and then, in READ COMMITTED, sees its bucket rows. Two near-duplicates in
one batch see each other because the first one's rows are already in the same transaction.
A batch that links many articles should call `lock_articles` first: it takes the whole batch's locks
in one sorted pass, so two batches cannot each hold a key the other waits for (no deadlock).
Lock budget: about 40 keys per article share Postgres's lock table
(max_locks_per_transaction x max_connections, 6400 by default), so keep batches to ~100 articles.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from psycopg2.extensions import cursor as Cursor

from pipeline import db
from pipeline.dedup import DEDUP_VERSION, Signature, Verdict, compare, signature, within_story_window
from pipeline.models import Article
from pipeline.store.articles import STORED_ARTICLE_COLUMNS, article_from_row

log = logging.getLogger(__name__)

LOCK_CLASS = 0x64647570  # "ddup": advisory lock namespace (two-int form) for bucket keys
REBUILD_LOCK = (LOCK_CLASS, -1)  # rebuild vs rebuild
PER_BUCKET_LIMIT = 100  # newest members read per bucket: a template-text bucket cannot grow the lookup cost
MAX_CANDIDATES = 50


@dataclass(frozen=True)
class DedupLink:
    article_id: int
    story_id: int
    duplicate_of: int | None  # first-seen article of the story; None when this article is that one
    verdict: str  # "original" | "exact" | "near"
    score: float
    matched_article_id: int | None  # the member whose text decided the verdict
    candidates: int  # how many candidates were verified
    reason: str


@functools.lru_cache(maxsize=1024)
def _signature(title: str, body_text: str) -> Signature:
    # lock_articles and link_article both need it for the same article in one batch; pure, so cacheable.
    return signature(title, body_text)


def _lock_id(bucket: int) -> int:
    folded = (bucket ^ (bucket >> 32)) & 0xFFFFFFFF
    return folded - (1 << 32) if folded >= (1 << 31) else folded


def _lock_keys(cur: Cursor, buckets: Iterable[int]) -> None:
    ids = sorted({_lock_id(b) for b in buckets})
    if ids:
        # unnest keeps the sorted order: every transaction takes its locks in one global order
        cur.execute(
            "SELECT count(pg_advisory_xact_lock(%s, k)) FROM unnest(%s::int[]) WITH ORDINALITY AS t(k, n)",
            (LOCK_CLASS, ids),
        )


def lock_articles(cur: Cursor, articles: Iterable[Article]) -> None:
    """Take the bucket-key locks of a whole batch at once, before linking its articles one by one."""
    keys: list[int] = []
    for article in articles:
        keys.extend(k for _, k in _signature(article.title, article.body_text).bucket_keys)
    _lock_keys(cur, keys)


def _candidates(cur: Cursor, article_id: int, sig: Signature) -> list[int]:
    buckets = sorted({k for _, k in sig.bucket_keys})
    if not buckets:
        return []
    cur.execute(
        """SELECT c.article_id, count(*) AS shared
             FROM unnest(%s::bigint[]) AS k(bucket)
             CROSS JOIN LATERAL (
                 SELECT b.article_id FROM dedup_buckets b
                  WHERE b.bucket = k.bucket AND b.article_id <> %s
                  ORDER BY b.article_id DESC LIMIT %s) c
            GROUP BY c.article_id
            ORDER BY shared DESC, c.article_id
            LIMIT %s""",
        (buckets, article_id, PER_BUCKET_LIMIT, MAX_CANDIDATES),
    )
    return [row[0] for row in cur.fetchall()]


def _best_match(
    cur: Cursor, article: Article, candidate_ids: list[int]
) -> tuple[dict[str, Any], Verdict] | None:
    if not candidate_ids:
        return None
    cur.execute(
        """SELECT article_id, title, body_text, published_at, story_id
             FROM articles WHERE article_id = ANY(%s) ORDER BY article_id""",
        (candidate_ids,),
    )
    best: tuple[dict[str, Any], Verdict] | None = None
    for article_id, title, body_text, published_at, story_id in cur.fetchall():
        if not within_story_window(article.published_at, published_at):
            continue
        verdict = compare(article.title, article.body_text, title, body_text)
        if verdict.verdict == "different":
            continue
        row = {"article_id": article_id, "story_id": story_id or article_id}
        rank = (verdict.verdict == "exact", verdict.score, -row["story_id"])
        if best is None or rank > (best[1].verdict == "exact", best[1].score, -best[0]["story_id"]):
            best = (row, verdict)
    return best


def link_article(cur: Cursor, article_id: int, article: Article) -> DedupLink:
    """Link a just inserted (or changed) article to its story; call inside the loader's transaction."""
    return _link(cur, article_id, article, take_locks=True)


def _link(cur: Cursor, article_id: int, article: Article, *, take_locks: bool) -> DedupLink:
    sig = _signature(article.title, article.body_text)
    if take_locks:
        _lock_keys(cur, (k for _, k in sig.bucket_keys))
    # A changed article is re-linked from scratch: its old keys must not find itself or stale text.
    cur.execute("DELETE FROM dedup_buckets WHERE article_id = %s", (article_id,))
    candidate_ids = _candidates(cur, article_id, sig)
    match = _best_match(cur, article, candidate_ids)

    cur.execute(
        "SELECT 1 FROM articles WHERE story_id = %s AND article_id <> %s LIMIT 1", (article_id, article_id)
    )
    heads_a_story = cur.fetchone() is not None
    if match is None or heads_a_story or match[0]["story_id"] == article_id:
        # Members already point at this article: it stays their story's first article.
        link = DedupLink(
            article_id,
            article_id,
            None,
            "original",
            0.0,
            None,
            len(candidate_ids),
            "no candidate of the same story" if match is None else "heads its story",
        )
    else:
        row, verdict = match
        link = DedupLink(
            article_id,
            row["story_id"],
            row["story_id"],
            verdict.verdict,
            verdict.score,
            row["article_id"],
            len(candidate_ids),
            verdict.reason,
        )

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
            "id": article_id,
        },
    )
    cur.execute(
        """INSERT INTO dedup_buckets (bucket, article_id, band)
           SELECT k, %s, b FROM unnest(%s::bigint[], %s::smallint[]) AS t(k, b)
           ON CONFLICT DO NOTHING""",
        (article_id, [k for _, k in sig.bucket_keys], [b for b, _ in sig.bucket_keys]),
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
            article_id,
            DEDUP_VERSION,
            sig.minhash_bytes(),
            sig.shingle_count,
            sig.text_chars,
            link.matched_article_id,
            link.reason,
        ),
    )
    return link


def rebuild(url: str | None = None) -> dict[str, int]:
    """Recompute signatures, buckets and story links for every stored article, in first-seen order.

    One transaction: readers see the old clusters until the new ones are complete, and a failure
    leaves the old ones in place. No article row is deleted; only the dedup columns change.
    """
    conn = db.connect(url)
    counts = {"articles": 0, "original": 0, "exact": 0, "near": 0}
    try:
        with db.transaction(conn) as cur:
            cur.execute("SELECT pg_advisory_xact_lock(%s, %s)", REBUILD_LOCK)
            # Loaders wait for the rebuild to commit instead of interleaving with it.
            cur.execute("LOCK TABLE dedup_buckets IN SHARE ROW EXCLUSIVE MODE")
            cur.execute("DELETE FROM dedup_buckets")
            cur.execute("DELETE FROM dedup_signatures")
            cur.execute(
                """UPDATE articles SET duplicate_of = NULL, story_id = NULL, dup_verdict = NULL,
                          dup_score = NULL, dedup_version = NULL
                    WHERE story_id IS NOT NULL OR dup_verdict IS NOT NULL"""
            )
            cur.execute("SELECT article_id FROM articles ORDER BY first_seen_at, article_id")
            ids = [r[0] for r in cur.fetchall()]
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                cur.execute(f"SELECT {STORED_ARTICLE_COLUMNS} FROM articles WHERE article_id = ANY(%s)", (chunk,))
                rows = {r[0]: r for r in cur.fetchall()}
                for article_id in chunk:
                    # The table lock above already keeps loaders out; per-key locks for every article
                    # would overflow the lock table on a large corpus.
                    link = _link(cur, article_id, article_from_row(rows[article_id]), take_locks=False)
                    counts["articles"] += 1
                    counts[link.verdict] += 1
            cur.execute("SELECT count(*) FROM stories")
            counts["stories"] = int(cur.fetchone()[0])
    finally:
        conn.close()
    log.info(
        "dedup rebuild: %d articles, %d stories, %d exact, %d near",
        counts["articles"],
        counts["stories"],
        counts["exact"],
        counts["near"],
    )
    return counts


def stories_of(cur: Cursor, article_ids: Iterable[int]) -> dict[int, int]:
    """article_id -> story_id for the given articles (for callers that collapse by story)."""
    cur.execute("SELECT article_id, story_id FROM articles WHERE article_id = ANY(%s)", (list(article_ids),))
    return {r[0]: r[1] for r in cur.fetchall()}
