"""Exact dedup and versions in the article store, against a real PostgreSQL."""

from __future__ import annotations

import dataclasses
import threading
from datetime import UTC, datetime

import psycopg2
import pytest

from pipeline import db
from pipeline.models import Article
from pipeline.store.articles import upsert_article


def _article(**kw: object) -> Article:
    base = Article(
        url="https://finance.sina.com.cn/china/2021-11-30/doc-ikyakumx1234567.shtml",
        docid="comos:kyakumx1234567",
        title="工信部印发规划",
        original_title=None,
        published_at=datetime(2021, 11, 30, 3, 5, 31, tzinfo=UTC),
        media="新浪财经",
        author=None,
        editor="张亚楠",
        keywords=("规划",),
        stocks=(),
        paragraphs=("第一段。", "第二段。"),
        body_html="<p>第一段。</p><p>第二段。</p>",
        images=(),
        kind="sina_page",
        parser_version="test",
    )
    return dataclasses.replace(base, **kw)  # type: ignore[arg-type]


def _count(url: str, sql: str) -> int:
    conn = psycopg2.connect(url)
    with conn, conn.cursor() as cur:
        cur.execute(sql)
        n = int(cur.fetchone()[0])
    conn.close()
    return n


def _load(url: str, article: Article) -> str:
    conn = db.connect(url)
    try:
        with db.transaction(conn) as cur:
            return upsert_article(cur, article, source="test", raw_page_id=None).action
    finally:
        conn.close()


def test_same_article_twice_is_one_row(db_url: str) -> None:
    assert _load(db_url, _article()) == "inserted"
    assert _load(db_url, _article()) == "unchanged"
    # the same page seen under an http:// URL with a query string is still the same article
    assert _load(db_url, _article(url="http://finance.sina.com.cn/china/2021-11-30/doc-ikyakumx1234567.shtml?x=1")) == "unchanged"
    assert _count(db_url, "SELECT count(*) FROM articles") == 1
    assert _count(db_url, "SELECT count(*) FROM article_versions") == 1


def test_changed_body_writes_a_version_row(db_url: str) -> None:
    _load(db_url, _article())
    assert _load(db_url, _article(paragraphs=("第一段。", "第二段，已更正。"))) == "updated"
    assert _count(db_url, "SELECT count(*) FROM articles") == 1
    assert _count(db_url, "SELECT max(version) FROM articles") == 2
    assert _count(db_url, "SELECT count(*) FROM article_versions") == 2


def test_archive_copy_then_page_merges_keys(db_url: str) -> None:
    """A post has no docid or URL; the page with the same title and body fills them in."""
    assert _load(db_url, _article(url=None, docid=None, media=None, title="工信部印发规划 ")) == "inserted"
    assert _load(db_url, _article()) == "merged"
    conn = psycopg2.connect(db_url)
    with conn, conn.cursor() as cur:
        cur.execute("SELECT docid, canonical_url, media FROM articles")
        assert cur.fetchall() == [
            ("comos:kyakumx1234567", "https://finance.sina.com.cn/china/2021-11-30/doc-ikyakumx1234567.shtml", "新浪财经")
        ]
    conn.close()


def test_concurrent_loads_of_one_article_make_one_row(db_url: str) -> None:
    barrier = threading.Barrier(4)
    actions: list[str] = []

    def run() -> None:
        barrier.wait()
        actions.append(_load(db_url, _article()))

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(actions) == ["inserted", "unchanged", "unchanged", "unchanged"]
    assert _count(db_url, "SELECT count(*) FROM articles") == 1


@pytest.mark.parametrize("field", ["docid", "url"])
def test_different_articles_stay_apart(db_url: str, field: str) -> None:
    _load(db_url, _article())
    other = {"docid": "comos:other0000001", "url": "https://finance.sina.com.cn/x/doc-iother0000001.shtml"}
    _load(db_url, _article(title="另一篇", paragraphs=("完全不同的正文。",), **other))
    assert _count(db_url, "SELECT count(*) FROM articles") == 2
