"""article_tags: write an article's tags inside the loader's transaction (the flow tags, this stores).

Key: (article_id, kind, value, evidence_offset). An article's rows are always exactly the tags of its
last tagging: rows the tagger no longer gives (another tagger version, or changed content) are
deleted, the rest upserted; a row whose score, evidence and version did not change keeps its
tagged_at, so re-running is a no-op.
"""

from __future__ import annotations

from collections.abc import Sequence

from psycopg2.extensions import cursor as Cursor

from pipeline.models import Tag

_DELETE_STALE = """
DELETE FROM article_tags t
WHERE t.article_id = %s
  AND NOT EXISTS (
      SELECT 1 FROM unnest(%s::text[], %s::text[], %s::int[], %s::text[]) AS n(kind, value, off, version)
      WHERE n.kind = t.kind AND n.value = t.value AND n.off = t.evidence_offset AND n.version = t.tagger_version)
"""

_UPSERT = """
INSERT INTO article_tags (article_id, kind, value, score, evidence, evidence_offset, tagger_version)
SELECT %s, n.kind, n.value, n.score, n.evidence, n.off, n.version
FROM unnest(%s::text[], %s::text[], %s::real[], %s::text[], %s::int[], %s::text[])
     AS n(kind, value, score, evidence, off, version)
ON CONFLICT (article_id, kind, value, evidence_offset) DO UPDATE
SET score = EXCLUDED.score, evidence = EXCLUDED.evidence, tagger_version = EXCLUDED.tagger_version,
    tagged_at = now()
WHERE (article_tags.score, article_tags.evidence, article_tags.tagger_version)
      IS DISTINCT FROM (EXCLUDED.score, EXCLUDED.evidence, EXCLUDED.tagger_version)
"""


def _unique(tags: Sequence[Tag]) -> list[Tag]:
    """One tag per key; the tagger gives one already, this guards callers that concatenate lists."""
    seen: dict[tuple[str, str, int], Tag] = {}
    for t in tags:
        key = (t.kind, t.value, t.offset)
        if key not in seen or t.score > seen[key].score:
            seen[key] = t
    return list(seen.values())


def write_tags(cur: Cursor, article_id: int, tags: Sequence[Tag]) -> tuple[int, int]:
    """Make the article's rows equal `tags`; returns (rows now, rows deleted + inserted + changed)."""
    rows = _unique(tags)
    kinds = [t.kind for t in rows]
    values = [t.value for t in rows]
    offsets = [t.offset for t in rows]
    versions = [t.tagger_version for t in rows]
    cur.execute(_DELETE_STALE, (article_id, kinds, values, offsets, versions))
    deleted = cur.rowcount
    cur.execute(
        _UPSERT,
        (
            article_id,
            kinds,
            values,
            [float(t.score) for t in rows],
            [t.evidence for t in rows],
            offsets,
            versions,
        ),
    )
    return len(rows), deleted + cur.rowcount


def replace_tags(cur: Cursor, article_id: int, tags: Sequence[Tag]) -> int:
    """Called by the loader inside its transaction: the article's tags become `tags` (idempotent).

    Returns the number of tag rows the article has now.
    """
    now, _changed = write_tags(cur, article_id, tags)
    return now
