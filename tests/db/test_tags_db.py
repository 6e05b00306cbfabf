"""article_tags, replace_tags, retag_all and the policy_documents view on a real PostgreSQL."""

from __future__ import annotations

import psycopg2
import pytest

from pipeline import db
from pipeline.flow import load_article, retag_all
from pipeline.models import Tag
from pipeline.store.tags import replace_tags
from pipeline.tag import TAGGER_VERSION, tag_article

from ..helpers import fixture_corpus

pytestmark = pytest.mark.db

corpus = fixture_corpus("labelled")

SEED = "hexo_posts/_十四五_信息化和工业化深度融合发展规划印发，点名这些产业.md"
STATS = "labelled/posts/1-4月份全国房地产开发投资下降27%.md"
TEMPLE = 'hexo_posts/Rock-Candy-Tea/"看得出这个寺庙在中国吗？"当地回应.md'


def _store(url: str, rel: str) -> int:
    conn = db.connect(url)
    try:
        with db.transaction(conn) as cur:
            return load_article(cur, corpus.load_file(rel), source="hexo", raw_page_id=None).article_id
    finally:
        conn.close()


def _rows(url: str, article_id: int) -> list[tuple[object, ...]]:
    conn = psycopg2.connect(url)
    try:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT kind, value, score, evidence, evidence_offset, tagger_version, tagged_at"
                " FROM article_tags WHERE article_id = %s ORDER BY kind, value, evidence_offset",
                (article_id,),
            )
            return list(cur.fetchall())
    finally:
        conn.close()


def test_replace_tags_is_idempotent_and_drops_other_versions(db_url: str) -> None:
    article_id = _store(db_url, SEED)
    tags = tag_article(corpus.load_file(SEED))
    conn = db.connect(db_url)
    try:
        with db.transaction(conn) as cur:
            stale = Tag("topic", "旧主题", 0.5, "旧", 3, "policy_v0+0")
            replace_tags(cur, article_id, [stale])
        with db.transaction(conn) as cur:
            assert replace_tags(cur, article_id, tags) == len(tags)
        first = _rows(db_url, article_id)
        with db.transaction(conn) as cur:
            replace_tags(cur, article_id, tags)
        second = _rows(db_url, article_id)
    finally:
        conn.close()
    assert first == second  # same rows, same tagged_at: a rerun changes nothing
    assert {r[5] for r in first} == {TAGGER_VERSION}
    assert not any(r[1] == "旧主题" for r in first)
    assert len(first) == len(tags)


def test_policy_documents_view_and_evidence_offsets(db_url: str) -> None:
    seed_id = _store(db_url, SEED)
    stats_id = _store(db_url, STATS)
    assert retag_all(db_url, batch_size=1)["articles"] == 2
    conn = psycopg2.connect(db_url)
    try:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT article_id, issuers, doc_types, policy_titles, periods, topics FROM policy_documents"
            )
            rows = cur.fetchall()
            cur.execute(
                "SELECT t.evidence, t.evidence_offset, a.title || E'\\n' || a.body_text FROM article_tags t"
                " JOIN articles a USING (article_id) WHERE t.evidence_offset >= 0 AND t.kind <> 'stock'"
            )
            spans = cur.fetchall()
            cur.execute(
                "SELECT kind FROM article_tags WHERE article_id = %s AND kind = 'statistics_release'",
                (stats_id,),
            )
            stats_kinds = cur.fetchall()
    finally:
        conn.close()
    assert len(rows) == 1
    article_id, issuers, doc_types, titles, periods, topics = rows[0]
    assert article_id == seed_id
    assert issuers == ["工业和信息化部"]
    assert doc_types == ["规划"]
    assert titles[0] == "“十四五”信息化和工业化深度融合发展规划"
    assert "十四五" in periods
    assert {"人工智能", "区块链", "数字孪生", "工业互联网"} <= set(topics)
    assert stats_kinds == [("statistics_release",)]
    # Every stored evidence span is exactly the text at its offset in title + "\n" + body_text.
    assert spans
    for evidence, offset, text in spans:
        assert text[offset : offset + len(evidence)] == evidence


def test_retag_all_repairs_stale_tags_and_is_idempotent(db_url: str) -> None:
    ids = [_store(db_url, rel) for rel in (SEED, STATS, TEMPLE)]
    loaded = {i: _rows(db_url, i) for i in ids}
    assert all(loaded.values())  # the loader tagged them in its transaction
    # What a taxonomy change looks like to the table: one article lost its tags, one has an old version's.
    conn = psycopg2.connect(db_url)
    try:
        with conn, conn.cursor() as cur:
            cur.execute("DELETE FROM article_tags WHERE article_id = %s", (ids[0],))
            cur.execute(
                "INSERT INTO article_tags (article_id, kind, value, score, evidence, evidence_offset, tagger_version)"
                " VALUES (%s, 'topic', '旧主题', 0.5, '旧', 3, 'policy_v0+0')",
                (ids[1],),
            )
    finally:
        conn.close()
    first = retag_all(db_url, batch_size=2)
    assert first["articles"] == 3 and first["articles_changed"] == 2
    before = {i: _rows(db_url, i) for i in ids}
    assert [[r[:6] for r in before[i]] for i in ids] == [[r[:6] for r in loaded[i]] for i in ids]
    again = retag_all(db_url, batch_size=2)
    assert again["articles"] == 3
    assert again["rows_changed"] == 0 and again["articles_changed"] == 0
    assert {i: _rows(db_url, i) for i in ids} == before
    temple_stock = [r for r in before[ids[2]] if r[0] == "stock"]
    assert temple_stock and temple_stock[0][2] < 0.1  # 数字人 only inside 数字人文
    # Deleting the article deletes its tags (on delete cascade).
    conn = psycopg2.connect(db_url)
    try:
        with conn, conn.cursor() as cur:
            cur.execute("DELETE FROM article_versions WHERE article_id = %s", (ids[0],))
            cur.execute("DELETE FROM articles WHERE article_id = %s", (ids[0],))
    finally:
        conn.close()
    assert _rows(db_url, ids[0]) == []


def test_reader_role_can_read_the_view(db_url: str) -> None:
    conn = psycopg2.connect(db_url)
    try:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT has_table_privilege('newsflow_reader', 'policy_documents', 'SELECT'),"
                " has_table_privilege('newsflow_reader', 'article_tags', 'SELECT')"
            )
            assert cur.fetchone() == (True, True)
    finally:
        conn.close()
