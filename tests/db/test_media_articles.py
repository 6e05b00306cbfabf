"""Media-only articles through the normal archive import into a real PostgreSQL: stored as their kind,
not dead letters, found by title."""

from __future__ import annotations

from pathlib import Path

import psycopg2
import pytest

from pipeline import flow
from pipeline.store.search import search_articles

from ..helpers import query_rows

MEDIA = Path(__file__).resolve().parent.parent / "fixtures" / "media" / "posts"


def test_video_and_gallery_posts_are_stored_and_searchable(db_url: str) -> None:
    counts = flow.import_archive(MEDIA, url=db_url)
    assert counts["failed"] == 0, counts
    rows = query_rows(
        db_url,
        "SELECT title, content_kind, cardinality(media_urls), body_text, published_at IS NOT NULL, media_urls[1] "
        "FROM articles ORDER BY title",
    )
    assert [(r[0], r[1], r[2], r[3][:12], r[4]) for r in rows] == [
        ("00后女租客失联房屋堆满外卖盒 房东：4名保洁扫了一下午 已报警", "video", 0, "【#女租客失联房屋堆满垃", True),
        ("12岁男孩被4条狗咬死，警方：不是流浪狗", "video", 0, "", True),
        ("2021中国成绩单，来了", "gallery", 12, "", True),
    ]
    assert rows[2][5].endswith("0c48-5985dc1fa1a7d0394928530fcd48d245.png")
    assert query_rows(db_url, "SELECT count(*) FROM dead_letters") == [(0,)]

    for title, words in (
        ("2021中国成绩单，来了", "中国成绩单"),
        ("12岁男孩被4条狗咬死，警方：不是流浪狗", "不是流浪狗"),
        ("00后女租客失联房屋堆满外卖盒 房东：4名保洁扫了一下午 已报警", "4名保洁"),
    ):
        hits = search_articles(words, url=db_url, collapse=False)
        assert [h["title"] for h in hits] == [title]

    # importing the folder again changes nothing
    again = flow.import_archive(MEDIA, url=db_url)
    assert again["failed"] == 0 and again.get("loaded", 0) == 0, again
    assert query_rows(db_url, "SELECT count(*) FROM articles") == [(3,)]


def test_content_kind_is_checked_by_the_schema(db_url: str) -> None:
    conn = psycopg2.connect(db_url)
    try:
        with pytest.raises(psycopg2.errors.CheckViolation), conn, conn.cursor() as cur:
            cur.execute(
                """INSERT INTO articles (kind, source, title, title_norm, body_hash, content_key, body_text,
                                         body_html, parser_version, content_kind)
                   VALUES ('hexo_post', 't', 't', 't', 'h', 'k', '', '', 'v', 'podcast')"""
            )
        with conn, conn.cursor() as cur:
            cur.execute(
                """SELECT col_description('articles'::regclass, attnum) FROM pg_attribute
                   WHERE attrelid = 'articles'::regclass AND attname IN ('content_kind', 'media_urls')"""
            )
            assert all(r[0] for r in cur.fetchall())
    finally:
        conn.close()
