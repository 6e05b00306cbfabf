"""pipeline.tag.stocks: stock links with provenance; a page tag alone is a hint, a printed code is not."""

from __future__ import annotations

import pytest

from pipeline.parse import parse_hexo_post, parse_zhibo_item
from pipeline.tag import tag_article
from pipeline.tag.stocks import best_links, market_of, stock_links

from .test_policy_records import post


def _links(*paragraphs: str, title: str = "公司动态") -> dict[tuple[str, str], tuple[float, str | None, str]]:
    article = parse_hexo_post(post(title, *paragraphs), "stocks")
    return {(s.code, s.via): (s.confidence, s.name, s.evidence) for s in stock_links(article)}


@pytest.mark.parametrize(
    ("code", "market"),
    [("600519", "sh"), ("688981", "sh"), ("000001", "sz"), ("300024", "sz"), ("301269", "sz"),
     ("835670", "bj"), ("430047", "bj"), ("920001", "bj"), ("123456", None), ("202112", None), ("100000", None)],
)  # fmt: skip
def test_a_share_ranges(code: str, market: str | None) -> None:
    assert market_of(code) == market


def test_codes_printed_in_the_text_are_links_with_their_names() -> None:
    links = _links(
        "贵州茅台（600519）今日公告，拟回购股份。",
        "平安银行(000001.SZ)同日披露年报，机器人（股票代码：300024）也发布了公告。",
        "另据SH601398的行情，工商银行收涨。",
    )
    assert links[("sh600519", "code_in_text")][:2] == (0.95, "贵州茅台")
    assert links[("sz000001", "code_in_text")][:2] == (0.95, "平安银行")
    assert links[("sz300024", "code_in_text")][1] == "机器人"
    assert ("sh601398", "code_in_text") in links


def test_six_digit_numbers_that_are_not_codes_are_not_links() -> None:
    links = _links(
        "邮政编码（100000），热线电话（123456），统计期为（202112）。",
        "全年营业收入600519万元，同比增长。",  # a figure, not inside a code form
    )
    assert links == {}


def _page(anchor_html: str, *rest: str) -> dict[tuple[str, str], tuple[float, str | None, str]]:
    article = parse_hexo_post(post("公司动态", anchor_html, *rest), "page")
    return {(s.code, s.via): (s.confidence, s.name, s.evidence) for s in stock_links(article)}


def test_a_page_tag_on_a_common_word_stays_a_hint() -> None:
    links = _page('各地推动<span id="stock_sz300959"><a href="https://x/">线上线下</a></span>融合，'
                  '<span id="stock_sz000061"><a href="https://x/">农产品</a></span>供应充足。')  # fmt: skip
    assert links[("sz300959", "page_tag")][0] <= 0.3
    assert links[("sz000061", "page_tag")][0] <= 0.3
    assert not any(via == "name_in_text" for _code, via in links)


def test_a_page_tag_beside_company_words_is_also_a_name_in_the_text() -> None:
    links = _page('公告显示，<span id="stock_sh603881"><a href="https://x/">数据港</a></span>股价今日涨停。')
    assert links[("sh603881", "page_tag")][0] == 0.3
    conf, name, evidence = links[("sh603881", "name_in_text")]
    assert conf == 0.6 and name == "数据港" and evidence.startswith("数据港股价")


def test_an_anchor_only_inside_a_longer_word_is_demoted() -> None:
    links = _page('宁波历史<span id="stock_bj835670"><a href="https://x/">数字人</a></span>文研究中心成立。')
    conf, _name, evidence = links[("bj835670", "page_tag")]
    assert conf < 0.1 and "数字人文" in evidence


def test_a_flash_ext_stock_is_a_feed_link_and_the_stock_tag_takes_the_best_link() -> None:
    flash = parse_zhibo_item(
        {
            "id": 1,
            "rich_text": "【宁德时代午后拉升】宁德时代（300750）涨超5%，总市值突破1.5万亿元。",
            "create_time": "2021-12-01 13:30:00",
            "ext": '{"stocks": [{"market": "cn", "symbol": "sz300750", "key": "宁德时代"}]}',
        }
    )
    links = stock_links(flash)
    vias = {(s.code, s.via) for s in links}
    assert {("sz300750", "feed_ext"), ("sz300750", "code_in_text"), ("sz300750", "name_in_text")} <= vias
    (best,) = best_links(links)
    assert best.via == "code_in_text"
    (tag,) = [t for t in tag_article(flash) if t.kind == "stock"]
    assert (tag.value, tag.score) == ("sz300750", 0.95)
    text = flash.title + "\n" + flash.body_text
    assert text[tag.offset : tag.offset + len("宁德时代（300750）")] == "宁德时代（300750）"
