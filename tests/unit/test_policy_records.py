"""pipeline.tag.records: 发文字号, carriers, issuer levels and the documents a policy article is about."""

from __future__ import annotations

from datetime import date

import pytest

from pipeline.parse import parse_hexo_post
from pipeline.tag import load_taxonomy, tag_article
from pipeline.tag.records import issuer_level, parse_doc_number, policy_mentions, record_key, split_carrier

from ..helpers import fixture_corpus


def post(title: str, *paragraphs: str, date_line: str = "Wed, 12 Jan 2022 09:30:00 GMT") -> bytes:
    body = "\n".join(f"<p>\u3000\u3000{p}</p>" for p in paragraphs)
    return (
        f"\n---\ntitle: '{title}'\ncategories: \n - 金融\n - 新浪财经\n - 新浪财经－国內\n"
        f"author: 新浪财经\ncomments: false\ndate: {date_line}\n---\n\n<div>\n{body}\n</div>\n"
    ).encode()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("国务院关于印发“十四五”数字经济发展规划的通知国发〔2021〕29号", ("国发〔2021〕29号", "国发", 2021, 29)),
        ("（国办发〔2021〕22号）", ("国办发〔2021〕22号", "国办发", 2021, 22)),
        ("工信部联规〔2021〕182号", ("工信部联规〔2021〕182号", "工信部联规", 2021, 182)),
        ("银保监发[2022]2号", ("银保监发[2022]2号", "银保监发", 2022, 2)),
        ("国家税务总局公告2021年第42号", ("国家税务总局公告2021年第42号", "国家税务总局公告", 2021, 42)),
    ],
)
def test_doc_numbers_are_parsed_into_agency_code_year_and_number(text: str, expected: tuple[object, ...]) -> None:
    n = parse_doc_number(text)
    assert n is not None and (n.text, n.agency_code, n.year, n.seq) == expected


def test_text_without_a_number_has_none() -> None:
    assert parse_doc_number("2021年第3季度，全国GDP同比增长4.9%，第1号台风") is None


def test_the_carrier_is_split_from_the_document() -> None:
    assert split_carrier("国务院关于印发“十四五”数字经济发展规划的通知") == ("“十四五”数字经济发展规划", "通知")
    assert split_carrier("关于印发《促进工业经济平稳增长的若干政策》的通知") == ("促进工业经济平稳增长的若干政策", "通知")
    assert split_carrier("关于进一步减轻义务教育阶段学生作业负担的意见") == (
        "关于进一步减轻义务教育阶段学生作业负担的意见",
        None,
    )


def test_issuer_levels() -> None:
    tax = load_taxonomy()
    assert [issuer_level(n, tax) for n in ("国务院办公厅", "工业和信息化部", "浙江省人民政府", "北京市人民政府", "杭州市人民政府")] == [
        "中央", "部委", "省", "省", "市",
    ]  # fmt: skip


def test_a_report_and_the_full_text_share_one_record_key() -> None:
    report = parse_hexo_post(
        post(
            "国务院印发_十四五_数字经济发展规划",
            "1月12日，国务院印发《“十四五”数字经济发展规划》（以下简称《规划》），明确了“十四五”时期推动数字经济健康发展的指导思想、基本原则、发展目标、重点任务和保障措施。",
            "《规划》提出，到2025年，数字经济核心产业增加值占国内生产总值比重达到10%。",
        ),
        "report",
    )
    full = parse_hexo_post(
        post(
            "国务院关于印发_十四五_数字经济发展规划的通知",
            "国发〔2021〕29号",
            "各省、自治区、直辖市人民政府，国务院各部委、各直属机构：",
            "现将《“十四五”数字经济发展规划》印发给你们，请认真贯彻执行。",
            "国务院",
            "2021年12月12日",
        ),
        "full",
    )
    (a,) = policy_mentions(report, tag_article(report))
    (b,) = policy_mentions(full, tag_article(full))
    assert a.key == b.key == record_key("“十四五”数字经济发展规划")
    assert (a.role, b.role) == ("reports", "full_text")
    assert a.doc_type == b.doc_type == "规划" and a.periods == ("十四五",)
    assert a.published_on == date(2022, 1, 12) and a.number is None
    assert b.number is not None and (b.number.agency_code, b.number.year, b.number.seq) == ("国发", 2021, 29)
    assert b.signed_on == date(2021, 12, 12)
    assert ("国务院", "中央") in a.issuers


def test_articles_that_are_not_policy_have_no_records() -> None:
    corpus = fixture_corpus("labelled")
    stats = corpus.load_file("labelled/posts/1-4月份全国房地产开发投资下降27%.md")
    assert policy_mentions(stats, tag_article(stats)) == []


def test_the_seed_reports_the_miit_plan() -> None:
    seed = fixture_corpus("labelled").load_file("hexo_posts/_十四五_信息化和工业化深度融合发展规划印发，点名这些产业.md")
    (m,) = policy_mentions(seed, tag_article(seed))
    assert m.title == "“十四五”信息化和工业化深度融合发展规划"
    assert m.issuers == (("工业和信息化部", "部委"),) and m.doc_type == "规划" and m.carrier is None
    assert m.published_on == date(2021, 11, 30)
