"""Postgres side of search: call search_articles() and refill the search columns (`newsflow reindex`)."""

from __future__ import annotations

import logging
import time
from datetime import datetime
from typing import Any

import psycopg2
import psycopg2.errors

from pipeline import db
from pipeline.errors import LoadError, PipelineError, SearchQueryError

log = logging.getLogger(__name__)

# search_articles() raises invalid_parameter_value (22023) for input it refuses, with a readable message.
_QUERY_REFUSED = "22023"


def search_articles(
    query: str,
    *,
    url: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    source: str | None = None,
    media: str | None = None,
    is_policy: bool | None = None,
    issuer: str | None = None,
    doc_type: str | None = None,
    topic: str | None = None,
    stock: str | None = None,
    collapse: bool = True,
    order_by: str = "relevance",
    limit: int = 20,
    offset: int = 0,
) -> list[dict[str, Any]]:
    """Rows of search_articles() as dicts keyed like pipeline.search.SearchHit's fields."""
    if "\x00" in query:
        # PostgreSQL text cannot hold NUL; psycopg2 would refuse the parameter outright
        raise SearchQueryError("search query contains a NUL character")
    params = {
        "q": query,
        "since": since,
        "until": until,
        "source": source,
        "media": media,
        "is_policy": is_policy,
        "issuer": issuer,
        "doc_type": doc_type,
        "topic": topic,
        "stock": stock,
        "collapse": collapse,
        "order_by": order_by,
        "lim": limit,
        "skip": offset,
    }
    for name, value in params.items():
        if isinstance(value, str) and "\x00" in value:
            raise SearchQueryError(f"{name} contains a NUL character")
    named = ", ".join(f"{name} => %({name})s" for name in params if name != "q")
    conn = db.connect(url)
    try:
        with db.transaction(conn) as cur:
            cur.execute("SET TRANSACTION READ ONLY")
            try:
                cur.execute(
                    "SELECT article_id, story_id, story_matches, title, published_at, media_name, source_name,"
                    f" url, score, snippet FROM search_articles(%(q)s, {named})",
                    params,
                )
            except psycopg2.Error as exc:
                if exc.pgcode == _QUERY_REFUSED:
                    message = exc.diag.message_primary or str(exc)
                    raise SearchQueryError(message) from exc
                raise PipelineError(f"search failed: {exc.diag.message_primary or exc}") from exc
            rows = cur.fetchall()
    finally:
        conn.close()
    return [
        {
            "article_id": int(r[0]),
            "story_id": int(r[1]),
            "story_matches": int(r[2]),
            "title": r[3],
            "published_at": r[4],
            "media": r[5],
            "source": r[6],
            "url": r[7],
            "score": float(r[8]),
            "snippet": r[9] or "",
        }
        for r in rows
    ]


def reindex(url: str | None = None, batch_size: int = 1000, *, only_missing: bool = False) -> int:
    """Recompute search_text and search_vector for every article (or only unindexed ones); return the count.

    Works in article_id ranges, one short transaction each, so readers never wait and writers wait at
    most one batch; safe to interrupt and run again.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be positive")
    conn = db.connect(url)
    done = 0
    started = time.monotonic()
    try:
        with db.transaction(conn) as cur:
            cur.execute("SELECT coalesce(max(article_id), 0) FROM articles")
            row = cur.fetchone()
            last_id = int(row[0]) if row else 0
        low = 0
        while low < last_id:
            high = low + batch_size
            try:
                with db.transaction(conn) as cur:
                    cur.execute(
                        """UPDATE articles
                           SET search_text = newsflow_search_text(title, body_text, stocks),
                               search_vector = newsflow_search_vector(newsflow_search_text(title, body_text, stocks))
                           WHERE article_id > %s AND article_id <= %s
                             AND (NOT %s OR search_text IS NULL)""",
                        (low, high, only_missing),
                    )
                    done += cur.rowcount
            except psycopg2.Error as exc:
                raise LoadError(f"reindex of articles {low + 1}..{high} failed: {exc}") from exc
            low = high
    finally:
        conn.close()
    log.info("reindexed %d articles in %.1f s", done, time.monotonic() - started)
    return done
