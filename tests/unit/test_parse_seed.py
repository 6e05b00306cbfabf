"""The seed post parses to the fields the design promises (issue 2's "Done when")."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from pipeline.models import Article, StockRef
from pipeline.parse import parse_hexo_post

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
SEED = FIXTURES / "hexo_posts" / "_十四五_信息化和工业化深度融合发展规划印发，点名这些产业.md"
TITLE = "“十四五”信息化和工业化深度融合发展规划印发，点名这些产业"


@pytest.fixture(scope="module")
def seed() -> Article:
    return parse_hexo_post(SEED.read_bytes(), SEED.name)


def test_seed_title_and_original_title(seed: Article) -> None:
    assert seed.title == TITLE
    assert seed.original_title == TITLE
    assert seed.extra["archive_title"] == "_十四五_信息化和工业化深度融合发展规划印发，点名这些产业"


def test_seed_published_at_is_the_rss_date_in_utc(seed: Article) -> None:
    assert seed.published_at == datetime(2021, 11, 30, 3, 5, 31, tzinfo=UTC)
    assert seed.published_at is not None and seed.published_at.utcoffset() is not None


def test_seed_editor_and_stock(seed: Article) -> None:
    assert seed.editor == "张亚楠"
    assert seed.stocks == (StockRef("sz300024", "机器人"),)


def test_seed_identity_and_archive_metadata(seed: Article) -> None:
    assert seed.url is None and seed.docid is None
    assert seed.kind == "hexo_post"
    assert seed.extra["categories"] == ["金融", "新浪财经", "新浪财经－国內"]
    # The QR code is the post's headimg and its only <img>: it is not an image of the article.
    assert seed.images == ()
    assert "headimg" not in seed.extra


def test_seed_body_keeps_the_article(seed: Article) -> None:
    body = seed.body_text
    assert seed.paragraphs[0].startswith("《规划》提出，开展人工智能、区块链、数字孪生")
    assert "11月30日，工信部发布《“十四五”信息化和工业化深度融合发展规划》" in body
    # the stock tag keeps its anchor text as plain text
    assert "智能机器人、智能网联汽车" in body
    assert seed.paragraphs[-1].endswith("依托工业互联网平台实现装备的预测性维护与健康管理。")
    assert len(seed.paragraphs) == 11


@pytest.mark.parametrize(
    "junk",
    [
        "原标题",
        "责任编辑",
        "张亚楠",
        "海量资讯",
        "新浪财经APP",
        "appendQr",
        "&#123;",
        "{",
        "}",
        "border:1px",
        "\ufffd",
    ],
)
def test_seed_body_has_no_boilerplate(seed: Article, junk: str) -> None:
    assert junk not in seed.body_text
    assert junk not in seed.body_html


def test_seed_body_html_is_sanitized(seed: Article) -> None:
    html = seed.body_html
    for bad in (
        "<style",
        "<script",
        "<div",
        "<span",
        "<!--",
        "cms-style",
        "class=",
        "343233024.png",
        "quote_",
    ):
        assert bad not in html
    assert html.startswith("<p>") and html.endswith("</p>")
    assert html.count("<p>") == 11
