"""article_stocks and stock_news on a real PostgreSQL: written at load, rebuilt by retag, idempotent."""

from __future__ import annotations

import psycopg2
import pytest

from pipeline import db
from pipeline.flow import load_article, retag_all
from pipeline.parse import parse_hexo_post
from pipeline.store.stocks import list_stock_news

from ..unit.test_policy_records import post

pytestmark = pytest.mark.db

NEWS = post(
    "数据港拟定增募资",
    '公告显示，<span id="stock_sh603881"><a href="https://x/">数据港</a></span>股价今日涨停，'
    "贵州茅台（600519）同日公告回购。",
    '各地推动<span id="stock_sz300959"><a href="https://x/">线上线下</a></span>融合。',
)
LATER = post(
    "贵州茅台发布年报",
    "贵州茅台(600519.SH)晚间披露年报，全年净利润同比增长。",
    date_line="Thu, 13 Jan 2022 09:30:00 GMT",
)


def _load(url: str, raw: bytes, name: str) -> int:
    conn = db.connect(url)
    try:
        with db.transaction(conn) as cur:
            return load_article(cur, parse_hexo_post(raw, name), source="hexo", raw_page_id=None).article_id
    finally:
        conn.close()


def _rows(url: str) -> list[tuple[object, ...]]:
    conn = psycopg2.connect(url)
    try:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT article_id, code, via, name, confidence, evidence, evidence_offset FROM article_stocks"
                " ORDER BY article_id, code, via"
            )
            return cur.fetchall()
    finally:
        conn.close()


def test_links_are_stored_with_their_provenance_and_a_code_lists_its_news_by_time(db_url: str) -> None:
    first = _load(db_url, NEWS, "news")
    second = _load(db_url, LATER, "later")
    rows = _rows(db_url)
    by_key = {(r[0], r[1], r[2]): r for r in rows}
    assert by_key[(first, "sh603881", "page_tag")][4] == pytest.approx(0.3)
    assert by_key[(first, "sh603881", "name_in_text")][4] == pytest.approx(0.6)
    assert by_key[(first, "sh600519", "code_in_text")][3] == "贵州茅台"
    assert by_key[(first, "sz300959", "page_tag")][4] <= 0.3
    assert (first, "sz300959", "name_in_text") not in by_key

    news = list_stock_news(db_url, "SH600519")
    assert [r["article_id"] for r in news] == [second, first]  # newest first
    assert news[0]["vias"] == ["code_in_text"] and news[0]["name"] == "贵州茅台"
    assert news[1]["confidence"] == pytest.approx(0.95)
    # the hint alone is filtered out by a confidence floor; the supported link is not
    assert list_stock_news(db_url, "sz300959", min_confidence=0.6) == []
    assert [r["vias"] for r in list_stock_news(db_url, "sh603881")] == [["name_in_text", "page_tag"]]


def test_retag_rebuilds_the_links_and_a_second_retag_changes_nothing(db_url: str) -> None:
    article_id = _load(db_url, NEWS, "news")
    before = _rows(db_url)
    conn = psycopg2.connect(db_url)
    try:
        with conn, conn.cursor() as cur:
            cur.execute("DELETE FROM article_stocks WHERE code = 'sh600519'")
            cur.execute(
                "INSERT INTO article_stocks (article_id, code, via, confidence, evidence, evidence_offset,"
                " stocks_version) VALUES (%s, 'sz000002', 'page_tag', 0.3, '万科A', -1, 'old')",
                (article_id,),
            )
    finally:
        conn.close()
    counts = retag_all(db_url)
    assert counts["stock_links_changed"] == 2  # the stale row deleted, the missing one written
    assert _rows(db_url) == before
    assert retag_all(db_url)["stock_links_changed"] == 0
