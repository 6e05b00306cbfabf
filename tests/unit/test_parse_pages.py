"""Every stored page and post parses; field-by-field checks on real Sina pages (Fundus/trafilatura style)."""

from __future__ import annotations

import csv
import dataclasses
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from pipeline.models import Article, Image, RawPage, StockRef
from pipeline.parse import detect_and_parse, parse_article_page, parse_hexo_post, parse_raw, parse_zhibo_item

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
FETCHED = datetime(2024, 1, 1, tzinfo=UTC)


def _index(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8") as fh:
        return list(csv.DictReader(fh, delimiter="\t"))


PAGES: list[tuple[Path, str]] = [
    (FIXTURES / "article_html" / row["file"], row["url"])
    for row in _index(FIXTURES / "article_html" / "index.tsv")
] + [
    (FIXTURES / "pages" / row["file"], row["url"])
    for row in _index(FIXTURES / "pages" / "index.tsv")
    if row["kind"] == "sina_page"
]
POSTS: list[Path] = sorted((FIXTURES / "hexo_posts").rglob("*.md")) + sorted(
    (FIXTURES / "pages").glob("*.md")
)
ZHIBO: list[dict[str, Any]] = json.loads(
    (FIXTURES / "pages" / "zhibo_items.json").read_text(encoding="utf-8")
)


def page(name: str) -> Article:
    for path, url in PAGES:
        if path.name == name:
            return parse_article_page(path.read_bytes(), url, FETCHED)
    raise KeyError(name)


def _strings(value: object) -> list[str]:
    """Every string inside an Article, however nested."""
    if isinstance(value, str):
        return [value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return [s for f in dataclasses.fields(value) for s in _strings(getattr(value, f.name))]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in _strings(k) + _strings(v)]
    if isinstance(value, list | tuple):
        return [s for v in value for s in _strings(v)]
    return []


def assert_well_formed(article: Article) -> None:
    assert article.title.strip()
    assert article.paragraphs and all(p.strip() for p in article.paragraphs)
    assert article.body_html.strip()
    for text in _strings(article):
        assert "\ufffd" not in text
    assert article.title == article.title.strip()
    if article.published_at is not None:
        assert article.published_at.utcoffset() is not None
        assert article.published_at.utcoffset().total_seconds() == 0  # type: ignore[union-attr]
    lowered = article.body_html.lower()
    for bad in ("<script", "<style", "<iframe", "javascript:", "onclick", "onerror", "<!--"):
        assert bad not in lowered
    for para in article.paragraphs:
        assert "责任编辑" not in para
        assert "海量资讯、精准解读" not in para
        assert not para.startswith("原标题")


@pytest.mark.parametrize("path,url", PAGES, ids=[p.name for p, _ in PAGES])
def test_every_page_parses_cleanly(path: Path, url: str) -> None:
    article = parse_article_page(path.read_bytes(), url, FETCHED)
    assert_well_formed(article)
    assert article.kind == "sina_page"
    assert article.docid is not None and article.docid.startswith("comos:")
    assert article.url is not None and "?" not in article.url
    assert article.published_at is not None
    assert article.parser_version.startswith("sina.")


@pytest.mark.parametrize("path", POSTS, ids=[p.name for p in POSTS])
def test_every_post_parses_cleanly(path: Path) -> None:
    article = parse_hexo_post(path.read_bytes(), path.name)
    assert_well_formed(article)
    assert article.kind == "hexo_post" and article.url is None and article.docid is None
    assert article.published_at is not None
    assert article.editor
    assert "_" not in article.title or "_" in (article.original_title or "")
    for image in article.images:
        assert "343233024" not in image.url


@pytest.mark.parametrize("item", ZHIBO, ids=[str(i["id"]) for i in ZHIBO])
def test_every_zhibo_item_parses_cleanly(item: dict[str, Any]) -> None:
    article = parse_zhibo_item(item)
    assert_well_formed(article)
    assert article.docid == f"zhibo:{item['id']}"


def test_finance_2018_page_fields() -> None:
    a = page("gne_sina_2.html")
    assert a.parser_version == "sina.finance.v2018"
    assert a.docid == "comos:hqfskcn2160999"
    assert a.url == "https://finance.sina.com.cn/roll/2018-12-28/doc-ihqfskcn2160999.shtml"
    assert a.title == '60万"12306账号"外泄? 中铁总辟谣称消息不实'
    # visible 19:55 Beijing (create_at gives the seconds); article:published_time says 19:56:29
    assert a.published_at == datetime(2018, 12, 28, 11, 55, 10, tzinfo=UTC)
    assert a.media == "新京报"
    assert a.author == "裴剑飞"
    assert a.editor == "霍琦"
    assert a.keywords == ("辟谣", "外泄", "账号")
    assert len(a.paragraphs) == 3
    assert a.paragraphs[0].startswith("新京报快讯（记者 裴剑飞）")
    assert "点击投票" not in a.body_text  # the quotation box above #artibody is not the article


def test_visible_date_wins_over_machine_time() -> None:
    # gne_sina_sina: page shows 04:04, article:published_time says 06:52 (docs/sina.md ("Article pages"))
    a = page("gne_sina_sina.html")
    assert a.published_at == datetime(2019, 9, 6, 20, 4, 43, tzinfo=UTC)
    assert a.parser_version == "sina.news.v2018"
    assert a.original_title == "最强“中国芯”本月商用 华为抢跑5G芯片大战"
    assert a.media == "北京日报"
    assert a.editor == "张申"
    assert a.keywords == ("中国芯", "芯片")


def test_news_page_original_title_and_images() -> None:
    a = page("gne_sina_1.html")
    assert a.title == "中国人习以为常的地方 为何老外却说“了不得”？"
    assert a.original_title == "视界丨这个中国人习以为常的地方 为何老外却说“了不得”？"
    assert a.editor == "张迪"
    assert "新闻" not in a.keywords
    assert (
        Image(
            "https://n.sinaimg.cn/news/crawl/34/w550h284/20191125/1efd-iittafs2905625.jpg",
            "Gweilo镜头下的南湖公园（视频截图）",
        )
        in a.images
    )
    # the video block's poster and title are not article content
    assert not any("1947-iittafs2944060" in i.url for i in a.images)
    assert "视频-" not in a.body_text
    assert "SINA_TEXT_PAGE_INFO" not in a.body_text and "SINA_TEXT_PAGE_INFO" not in a.body_html


def test_us_stock_tags_and_quote_spans() -> None:
    a = page("gne_sina_3.html")
    assert a.stocks[:3] == (
        StockRef("usstock:jpm", "摩根大通"),
        StockRef("usstock:blk", "贝莱德"),
        StockRef("usstock:pmtg", "PIMCO"),
    )
    assert "115.395" not in a.body_text  # the live quote inside span#quote_JPM
    assert "包括先锋领航、摩根大通等" in a.body_text
    assert a.keywords == ()  # its meta keywords is the headline itself


def test_tech_page_uses_the_2016_layout_in_2019() -> None:
    a = page("gne_sina_4.html")
    assert a.parser_version == "sina.finance.v2016"
    assert a.media == "新浪科技"
    assert a.published_at == datetime(2019, 9, 10, 17, 53, tzinfo=UTC)
    assert a.paragraphs[0].startswith("新浪科技讯 北京时间9月11日凌晨消息")
    for junk in ("新浪众测", "相关新闻", "直播2019年苹果发布会", "自动播放", "AUTOPLAY", "扫描下方二维码"):
        assert junk not in a.body_text
    assert StockRef("usstock:aapl", "苹果") in a.stocks


def test_news_page_topic_links_are_dropped() -> None:
    a = page("gne_sina_5.html")
    assert a.editor == "吴金明"
    assert "点击进入专题" not in a.body_text and "聚焦香港局势" not in a.body_text
    assert a.paragraphs[0].startswith("出狱了。")


def test_gbk_page_without_declaration_decodes_like_the_original() -> None:
    gbk = page("gbk_gne_sina_2.html")
    utf8 = page("gne_sina_2.html")
    assert gbk.extra["encoding"] == "gb18030"
    assert (gbk.title, gbk.paragraphs, gbk.editor, gbk.media) == (
        utf8.title,
        utf8.paragraphs,
        utf8.editor,
        utf8.media,
    )


def test_mobile_layout() -> None:
    a = page("mobile_finance_sina_cn.html")
    assert a.parser_version == "sina.mobile.v2018"
    assert a.docid == "comos:kyamrmy8011245"
    assert a.url == "https://finance.sina.cn/2021-12-10/detail-ikyamrmy8011245.d.html"
    assert a.published_at == datetime(2021, 12, 10, 8, 5, tzinfo=UTC)
    assert a.media == "中国人民银行"
    assert a.editor == "王蒙"
    assert a.stocks == (StockRef("sh601398", "工商银行"),)
    assert a.title not in a.body_text and "(4.60" not in a.body_text
    assert "公众号" not in a.body_text
    assert [i.caption for i in a.images] == ["M2余额走势"]


def test_pre_2018_layout() -> None:
    a = page("finance_v2016_artibodytitle.html")
    assert a.parser_version == "sina.finance.v2016"
    assert a.extra["encoding"] == "gb18030"
    assert a.docid == "comos:fxzkfuk2416871"
    assert a.published_at == datetime(2017, 1, 10, 1, 31, tzinfo=UTC)
    assert a.media == "新浪财经" and a.editor == "杨淼"
    assert a.stocks == (StockRef("sh601857", "中国石油"),)
    assert "股吧" not in a.body_text and a.images == ()
    assert "<table>" in a.body_html and "onclick" not in a.body_html


def test_archive_post_with_ad_list_and_stock_tags() -> None:
    path = FIXTURES / "pages" / "rct_youse_yige.md"
    a = parse_hexo_post(path.read_bytes(), path.name)
    assert a.title == '"有色一哥"入局期货业！豪掷3.5亿，晋升期货公司第一大股东，刚宣布49亿加码锂矿'
    assert a.original_title is None
    assert a.editor == "李琳琳"
    assert [s.code for s in a.stocks] == ["sh601162", "sh601298", "sh601899"]
    assert dict((s.code, s.name) for s in a.stocks)["sh601899"] == "紫金矿业"
    for junk in ("百万用户都在看", "quanshangcn", "开户", "海底捞"):
        assert junk not in a.body_text and junk not in a.body_html
    assert len(a.images) == 2 and all("mmbiz" not in i.url for i in a.images)
    assert a.extra["headimg"].endswith("9959-9b31114859307ac3b08fc7896f9b4754.jpg")


def test_post_source_line_and_colonless_original_title() -> None:
    posts = {p.name: p for p in POSTS}
    tiger = parse_hexo_post(posts["1000元一斤卖老虎肉？警方已介入.md"].read_bytes(), "tiger.md")
    assert tiger.media == "每日经济新闻"
    temple = parse_hexo_post(posts['"看得出这个寺庙在中国吗？"当地回应.md'].read_bytes(), "temple.md")
    assert temple.original_title == "“看得出这个寺庙在中国吗？”当地回应"
    assert temple.title == "“看得出这个寺庙在中国吗？”当地回应"
    # the stock tag is a false positive (数字人文) but the text must stay intact
    assert StockRef("bj835670", "数字人") in temple.stocks
    assert "数字人文" in temple.body_text


def test_dispatch_and_detection() -> None:
    seed = FIXTURES / "hexo_posts" / "_十四五_信息化和工业化深度融合发展规划印发，点名这些产业.md"
    by_detect = detect_and_parse(seed.read_bytes(), seed.name)
    assert by_detect.kind == "hexo_post"
    raw = RawPage(
        url=seed.name,
        kind="hexo_post",
        body=seed.read_bytes(),
        headers={},
        status_code=200,
        fetched_at=FETCHED,
    )
    assert parse_raw(raw) == by_detect
    path, url = PAGES[1]
    raw_page = RawPage(
        url=url + "?from=roll#x",
        kind="sina_page",
        body=path.read_bytes(),
        headers={"Content-Type": "text/html; charset=utf-8"},
        status_code=200,
        fetched_at=FETCHED,
    )
    via_raw = parse_raw(raw_page)
    assert via_raw == detect_and_parse(path.read_bytes(), path.name, url)
    item = ZHIBO[0]
    raw_flash = RawPage(
        url="zhibo:1",
        kind="zhibo_flash",
        body=json.dumps(item).encode("utf-8"),
        headers={},
        status_code=200,
        fetched_at=FETCHED,
    )
    assert parse_raw(raw_flash) == parse_zhibo_item(item)


def test_zhibo_fields() -> None:
    first, second, third = (parse_zhibo_item(i) for i in ZHIBO)
    assert first.title == "国家统计局：11月份CPI同比上涨2.3%"
    assert first.published_at == datetime(2021, 12, 9, 1, 30, 12, tzinfo=UTC)
    assert first.keywords == ("宏观", "数据")
    assert first.url == "https://finance.sina.com.cn/7x24/2021-12-09/doc-ikyakumx3169588.shtml"
    assert first.extra["linked_docid"] == "comos:kyakumx3169588"
    assert second.url is None
    assert second.title == "宁德时代午后拉升，涨超5%，总市值突破1.5万亿元"
    assert second.stocks == (
        StockRef("sz300750", "宁德时代"),
        StockRef("sz300014", "亿纬锂能"),
        StockRef("hk01772", "赣锋锂业"),
    )
    assert third.title == "美股开盘" and third.stocks == ()
    assert "alert" not in third.body_html and "<script" not in third.body_html
