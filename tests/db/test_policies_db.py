"""policies, article_policies, policy_records and story_timeline on a real PostgreSQL."""

from __future__ import annotations

import psycopg2
import pytest

from pipeline import db
from pipeline.flow import load_article, retag_all
from pipeline.parse import parse_hexo_post
from pipeline.store.policies import list_policies

from ..unit.test_policy_records import post

pytestmark = pytest.mark.db

REPORT = post(
    "国务院印发_十四五_数字经济发展规划",
    "1月12日，国务院印发《“十四五”数字经济发展规划》（以下简称《规划》），明确了“十四五”时期推动数字经济健康发展的指导思想、基本原则、发展目标、重点任务和保障措施。",
    "《规划》提出，到2025年，数字经济核心产业增加值占国内生产总值比重达到10%。",
)
FULL = post(
    "国务院关于印发_十四五_数字经济发展规划的通知",
    "国发〔2021〕29号",
    "各省、自治区、直辖市人民政府，国务院各部委、各直属机构：",
    "现将《“十四五”数字经济发展规划》印发给你们，请认真贯彻执行。",
    "国务院",
    "2021年12月12日",
    date_line="Wed, 12 Jan 2022 08:00:00 GMT",
)


def _load(url: str, raw: bytes, name: str) -> int:
    conn = db.connect(url)
    try:
        with db.transaction(conn) as cur:
            return load_article(cur, parse_hexo_post(raw, name), source="hexo", raw_page_id=None).article_id
    finally:
        conn.close()


def _query(url: str, sql: str) -> list[tuple[object, ...]]:
    conn = psycopg2.connect(url)
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
            return cur.fetchall()
    finally:
        conn.close()


def test_two_articles_on_one_document_share_one_record_with_its_number(db_url: str) -> None:
    full_id = _load(db_url, FULL, "full")
    report_id = _load(db_url, REPORT, "report")
    (rec,) = list_policies(db_url)
    assert rec["title"] == "“十四五”数字经济发展规划"
    assert (rec["doc_number"], rec["agency_code"], rec["doc_year"], rec["doc_seq"]) == ("国发〔2021〕29号", "国发", 2021, 29)
    assert rec["doc_type"] == "规划" and rec["issuers"][0] == "国务院" and rec["issuer_levels"][0] == "中央"
    assert str(rec["signed_on"]) == "2021-12-12" and rec["periods"] == ["十四五"]
    assert rec["articles"] == 2 and rec["article_ids"] == [full_id, report_id]  # in time order
    roles = dict(_query(db_url, "SELECT article_id, role FROM article_policies"))
    assert roles == {full_id: "full_text", report_id: "reports"}


def test_loading_again_and_retag_leave_the_same_records(db_url: str) -> None:
    _load(db_url, FULL, "full")
    _load(db_url, REPORT, "report")
    cols = "record_key, title, doc_number, issuers, signed_on, published_on, articles, first_reported_at"
    before = _query(db_url, f"SELECT {cols} FROM policies ORDER BY 1")
    links = _query(db_url, "SELECT * FROM article_policies ORDER BY 1, 2")
    retag_all(db_url)
    _load(db_url, REPORT, "report")
    assert _query(db_url, f"SELECT {cols} FROM policies ORDER BY 1") == before
    assert _query(db_url, "SELECT * FROM article_policies ORDER BY 1, 2") == links


def test_a_record_goes_when_its_last_article_is_no_longer_about_it(db_url: str) -> None:
    report_id = _load(db_url, REPORT, "report")
    conn = psycopg2.connect(db_url)
    try:
        with conn, conn.cursor() as cur:  # a parser fix turned it into something else
            cur.execute(
                "UPDATE articles SET title = '数字经济观察', body_text = '专家认为数字经济前景广阔。',"
                " paragraphs = ARRAY['专家认为数字经济前景广阔。'] WHERE article_id = %s",
                (report_id,),
            )
    finally:
        conn.close()
    retag_all(db_url)
    assert _query(db_url, "SELECT count(*) FROM policies") == [(0,)]
    assert _query(db_url, "SELECT count(*) FROM article_policies") == [(0,)]


def test_story_timeline_lists_members_in_time_order(db_url: str) -> None:
    a = _load(db_url, REPORT, "report")
    b = _load(db_url, FULL, "full")  # published 90 minutes earlier: a story of its own (other text)
    rows = _query(db_url, "SELECT article_id, story_id, position, reports, first_report FROM story_timeline ORDER BY 1")
    assert rows == [(a, a, 1, 1, True), (b, b, 1, 1, True)]
