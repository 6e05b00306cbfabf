"""policies and article_policies: store the documents an article is about, and fold each record.

An article's links are always exactly the mentions of its last tagging (stale links deleted). Each
record touched is then folded again from all of its links, oldest article first: issuers united in
the order articles first named them, the first number and dates any article gives, periods and
topics united, reporting times and the article count. A record no article points at any more is
deleted. Idempotent: the same mentions twice leave the same rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from psycopg2.extensions import cursor as Cursor

from pipeline import db
from pipeline.models import PolicyMention

_UPSERT_POLICY = """
INSERT INTO policies (record_key, title, doc_type, carrier, is_draft, records_version)
VALUES (%s, %s, %s, %s, %s, %s)
ON CONFLICT (record_key) DO UPDATE SET record_key = EXCLUDED.record_key
RETURNING policy_id
"""

_UPSERT_LINK = """
INSERT INTO article_policies (article_id, policy_id, role, evidence, evidence_offset, doc_number,
                              agency_code, doc_year, doc_seq, issuers, issuer_levels, signed_on,
                              published_on, effective_on, periods, topics, records_version)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (article_id, policy_id) DO UPDATE
SET role = EXCLUDED.role, evidence = EXCLUDED.evidence, evidence_offset = EXCLUDED.evidence_offset,
    doc_number = EXCLUDED.doc_number, agency_code = EXCLUDED.agency_code, doc_year = EXCLUDED.doc_year,
    doc_seq = EXCLUDED.doc_seq, issuers = EXCLUDED.issuers, issuer_levels = EXCLUDED.issuer_levels,
    signed_on = EXCLUDED.signed_on, published_on = EXCLUDED.published_on,
    effective_on = EXCLUDED.effective_on, periods = EXCLUDED.periods, topics = EXCLUDED.topics,
    records_version = EXCLUDED.records_version
"""

_FOLD = """
WITH links AS (
    SELECT ap.*, a.published_at,
           row_number() OVER (ORDER BY a.published_at NULLS LAST, ap.article_id) AS n
    FROM article_policies ap JOIN articles a USING (article_id)
    WHERE ap.policy_id = %(pid)s
), iss AS (
    SELECT i.name, min(i.level) AS level, min(l.n * 1000 + i.ord) AS first
    FROM links l, unnest(l.issuers, l.issuer_levels) WITH ORDINALITY AS i(name, level, ord)
    GROUP BY i.name
), num AS (
    SELECT doc_number, agency_code, doc_year, doc_seq FROM links
    WHERE doc_number IS NOT NULL ORDER BY n LIMIT 1
)
UPDATE policies p SET
    issuers = coalesce((SELECT array_agg(name ORDER BY first) FROM iss), '{}'),
    issuer_levels = coalesce((SELECT array_agg(level ORDER BY first) FROM iss), '{}'),
    doc_number = (SELECT doc_number FROM num),
    agency_code = (SELECT agency_code FROM num),
    doc_year = (SELECT doc_year FROM num),
    doc_seq = (SELECT doc_seq FROM num),
    signed_on = (SELECT signed_on FROM links WHERE signed_on IS NOT NULL ORDER BY n LIMIT 1),
    published_on = (SELECT published_on FROM links WHERE published_on IS NOT NULL ORDER BY n LIMIT 1),
    effective_on = (SELECT effective_on FROM links WHERE effective_on IS NOT NULL ORDER BY n LIMIT 1),
    periods = coalesce((SELECT array_agg(v ORDER BY f) FROM (
        SELECT v, min(l.n * 1000 + o) AS f FROM links l, unnest(l.periods) WITH ORDINALITY AS u(v, o)
        GROUP BY v) x), '{}'),
    topics = coalesce((SELECT (array_agg(v ORDER BY c DESC, f))[1:8] FROM (
        SELECT v, count(*) AS c, min(l.n * 1000 + o) AS f
        FROM links l, unnest(l.topics) WITH ORDINALITY AS u(v, o) GROUP BY v) x), '{}'),
    first_reported_at = (SELECT min(published_at) FROM links),
    last_reported_at = (SELECT max(published_at) FROM links),
    articles = (SELECT count(*) FROM links),
    records_version = %(version)s,
    updated_at = now()
WHERE p.policy_id = %(pid)s
"""


def replace_policies(cur: Cursor, article_id: int, mentions: Sequence[PolicyMention], version: str) -> int:
    """The article's links become `mentions` (in the loader's transaction); returns the records touched."""
    cur.execute("SELECT policy_id FROM article_policies WHERE article_id = %s", (article_id,))
    before = {int(r[0]) for r in cur.fetchall()}
    now: set[int] = set()
    for m in mentions:
        cur.execute(_UPSERT_POLICY, (m.key, m.title, m.doc_type, m.carrier, m.is_draft, version))
        row = cur.fetchone()
        assert row is not None
        policy_id = int(row[0])
        now.add(policy_id)
        n = m.number
        cur.execute(
            _UPSERT_LINK,
            (
                article_id, policy_id, m.role, m.evidence, m.offset,
                n.text if n else None, n.agency_code if n else None, n.year if n else None, n.seq if n else None,
                [name for name, _ in m.issuers], [level for _, level in m.issuers],
                m.signed_on, m.published_on, m.effective_on, list(m.periods), list(m.topics), m.version,
            ),
        )  # fmt: skip
    stale = sorted(before - now)
    if stale:
        cur.execute(
            "DELETE FROM article_policies WHERE article_id = %s AND policy_id = ANY(%s)", (article_id, stale)
        )
        cur.execute(
            """DELETE FROM policies p WHERE p.policy_id = ANY(%s)
               AND NOT EXISTS (SELECT 1 FROM article_policies ap WHERE ap.policy_id = p.policy_id)""",
            (stale,),
        )
    for policy_id in sorted(before | now):
        cur.execute(_FOLD, {"pid": policy_id, "version": version})
    return len(before | now)


def list_policies(
    url: str | None = None, *, limit: int = 50, issuer: str | None = None, query: str | None = None
) -> list[dict[str, Any]]:
    """Documents, newest first report first, for `newsflow policies` (read only)."""
    conn = db.connect(url)
    try:
        with db.transaction(conn) as cur:
            return _list(cur, limit=limit, issuer=issuer, query=query)
    finally:
        conn.close()


def _list(cur: Cursor, *, limit: int, issuer: str | None, query: str | None) -> list[dict[str, Any]]:
    cur.execute(
        """SELECT policy_id, title, doc_type, carrier, is_draft, doc_number, agency_code, doc_year, doc_seq,
                  issuers, issuer_levels, signed_on, published_on, effective_on, periods, topics,
                  first_reported_at, last_reported_at, articles, stories, article_ids
           FROM policy_records
           WHERE (%(issuer)s::text IS NULL OR %(issuer)s = ANY(issuers))
             AND (%(q)s::text IS NULL OR strpos(title, %(q)s) > 0 OR doc_number = %(q)s)
           ORDER BY first_reported_at DESC NULLS LAST, policy_id DESC LIMIT %(limit)s""",
        {"issuer": issuer, "q": query, "limit": limit},
    )
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, row, strict=True)) for row in cur.fetchall()]
