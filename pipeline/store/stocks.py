"""article_stocks: an article's stock links with their provenance, written in the loader's transaction.

An article's rows are always exactly the links of its last tagging: links no longer found are
deleted, the rest upserted; a row whose name, confidence, evidence and version did not change is not
rewritten, so re-running is a no-op.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from psycopg2.extensions import cursor as Cursor

from pipeline import db
from pipeline.models import StockLink

_DELETE_STALE = """
DELETE FROM article_stocks s
WHERE s.article_id = %s
  AND NOT EXISTS (SELECT 1 FROM unnest(%s::text[], %s::text[]) AS n(code, via)
                  WHERE n.code = s.code AND n.via = s.via)
"""

_UPSERT = """
INSERT INTO article_stocks (article_id, code, via, name, confidence, evidence, evidence_offset, stocks_version)
SELECT %s, n.code, n.via, n.name, n.confidence, n.evidence, n.off, %s
FROM unnest(%s::text[], %s::text[], %s::text[], %s::real[], %s::text[], %s::int[])
     AS n(code, via, name, confidence, evidence, off)
ON CONFLICT (article_id, code, via) DO UPDATE
SET name = EXCLUDED.name, confidence = EXCLUDED.confidence, evidence = EXCLUDED.evidence,
    evidence_offset = EXCLUDED.evidence_offset, stocks_version = EXCLUDED.stocks_version
WHERE (article_stocks.name, article_stocks.confidence, article_stocks.evidence,
       article_stocks.evidence_offset, article_stocks.stocks_version)
      IS DISTINCT FROM (EXCLUDED.name, EXCLUDED.confidence, EXCLUDED.evidence,
                        EXCLUDED.evidence_offset, EXCLUDED.stocks_version)
"""


def replace_stock_links(cur: Cursor, article_id: int, links: Sequence[StockLink], version: str) -> int:
    """Make the article's article_stocks rows equal `links` (one per code and way); returns rows changed."""
    rows = list({(link.code, link.via): link for link in links}.values())
    codes = [r.code for r in rows]
    vias = [r.via for r in rows]
    cur.execute(_DELETE_STALE, (article_id, codes, vias))
    changed = cur.rowcount
    cur.execute(
        _UPSERT,
        (
            article_id,
            version,
            codes,
            vias,
            [r.name for r in rows],
            [float(r.confidence) for r in rows],
            [r.evidence for r in rows],
            [r.offset for r in rows],
        ),
    )
    return int(changed + cur.rowcount)


def list_stock_news(
    url: str | None, code: str, *, min_confidence: float = 0.0, limit: int = 50
) -> list[dict[str, Any]]:
    """A code's articles, newest first, from the stock_news view (read only; `newsflow stocks`)."""
    conn = db.connect(url)
    try:
        with db.transaction(conn) as cur:
            cur.execute(
                """SELECT code, name, article_id, published_at, media, title, url, story_id, first_report,
                          confidence, vias, evidence
                     FROM stock_news WHERE code = lower(%s) AND confidence >= %s
                    ORDER BY published_at DESC NULLS LAST, article_id DESC LIMIT %s""",
                (code, min_confidence, limit),
            )
            cols = [d[0] for d in cur.description]
            return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]
    finally:
        conn.close()
