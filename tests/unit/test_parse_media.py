"""Media-only articles: a body that is only pictures or only a player is an article of kind gallery or
video with an empty body; a body with neither text nor media is still no article."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import lxml.html
import pytest
from lxml import etree

from pipeline.errors import ParseError
from pipeline.parse import parse_article_page, parse_hexo_post
from tests.helpers import fixture_corpus

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
MEDIA = FIXTURES / "media" / "posts"
GALLERY = MEDIA / "gallery_2021_chengjidan.md"
VIDEO = MEDIA / "video_derived_12sui.md"
QR = "cece9e13/20200514/343233024"  # the app QR code every finance article ends with: chrome, not media


def test_real_infographic_post_is_a_gallery() -> None:
    a = parse_hexo_post(GALLERY.read_bytes(), GALLERY.name)
    assert a.content_kind == "gallery"
    assert a.title == "2021中国成绩单，来了"
    assert a.published_at == datetime(2022, 3, 5, 4, 11, 33, tzinfo=UTC)
    assert a.paragraphs == () and a.body_text == ""
    assert a.editor == "王蒙"
    assert len(a.media_urls) == 12
    assert all(re.fullmatch(r"https://n\.sinaimg\.cn/spider20220305/.+\.png", u) for u in a.media_urls)
    assert a.media_urls[0].endswith("0c48-5985dc1fa1a7d0394928530fcd48d245.png")  # page order
    assert not any(QR in u for u in a.media_urls)
    assert [i.url for i in a.images] == list(a.media_urls)


def test_post_with_only_the_player_is_a_video() -> None:
    a = parse_hexo_post(VIDEO.read_bytes(), VIDEO.name)
    assert a.content_kind == "video"
    assert a.title == "12岁男孩被4条狗咬死，警方：不是流浪狗"
    assert a.paragraphs == () and a.body_text == ""
    assert a.published_at is not None
    # the archive kept the placeholder, not the player's source; its headimg is the QR code
    assert a.media_urls == ()


def test_post_without_text_or_media_is_still_an_error() -> None:
    text = GALLERY.read_text(encoding="utf-8")
    bare = re.sub(r'<div class="img_wrapper">.*?</div>\n', "", text)
    assert bare.count("img_wrapper") == 0
    with pytest.raises(ParseError) as err:
        parse_hexo_post(bare.encode("utf-8"), "bare.md")
    assert err.value.field == "body" and "no text and no media" in str(err.value)


def test_text_posts_stay_text_and_list_their_pictures() -> None:
    post = FIXTURES / "pages" / "rct_youse_yige.md"
    a = parse_hexo_post(post.read_bytes(), post.name)
    assert a.content_kind == "text" and a.paragraphs
    assert list(a.media_urls) == [i.url for i in a.images]


# The same player placeholder inside a real Sina page's #artibody (GNE's finance page, its text
# replaced): the page parser must come to the same verdict as the archive parser.
PLAYER = '<!--video-list-->\n\n<div class="video-2017" id="videoList0" style></div>\n\n<!--/video-list-->'
PAGE = FIXTURES / "article_html" / "gne_sina_2.html"
PAGE_URL = "https://finance.sina.com.cn/roll/2018-12-28/doc-ihqfskcn2160999.shtml"
FETCHED = datetime(2019, 1, 1, tzinfo=UTC)


def _with_artibody(inner: str) -> bytes:
    doc = lxml.html.document_fromstring(PAGE.read_text(encoding="utf-8"))
    (body,) = doc.xpath('//*[@id="artibody"]')
    for child in list(body):
        body.remove(child)
    body.text = None
    for el in lxml.html.fragments_fromstring(inner):
        if isinstance(el, str):
            continue
        body.append(el)
    if "<!--" in inner:
        body.insert(0, etree.Comment("video-list"))
    return lxml.html.tostring(doc, encoding="utf-8")


def test_finance_page_whose_artibody_holds_only_the_player_is_a_video() -> None:
    a = parse_article_page(_with_artibody(PLAYER), PAGE_URL, FETCHED)
    assert a.content_kind == "video"
    assert a.paragraphs == () and a.title
    assert a.docid == "comos:hqfskcn2160999"
    # the poster is the page's og:image (protocol-relative on the page)
    assert a.media_urls == ("https://n.sinaimg.cn/default/transform/116/w550h366/20180418/SsL9-fzihnep5208585.png",)


def test_finance_page_with_an_empty_artibody_is_an_error() -> None:
    with pytest.raises(ParseError) as err:
        parse_article_page(_with_artibody("<p> </p>"), PAGE_URL, FETCHED)
    assert err.value.field == "body"


def test_real_text_page_stays_text() -> None:
    a = parse_article_page(PAGE.read_bytes(), PAGE_URL, FETCHED)
    assert a.content_kind == "text" and a.paragraphs
    assert list(a.media_urls) == [i.url for i in a.images]


CAPTIONED = MEDIA / "video_2021_zuke_caption.md"


def test_real_short_video_with_a_caption_is_a_video() -> None:
    """A real archive post: Sina's player placeholder, one 【#话题#…】 caption, 来源：沸点视频."""
    a = parse_hexo_post(CAPTIONED.read_bytes(), CAPTIONED.name)
    assert a.content_kind == "video"
    assert a.title == "00后女租客失联房屋堆满外卖盒 房东：4名保洁扫了一下午 已报警"
    assert len(a.paragraphs) == 1 and a.paragraphs[0].startswith("【#女租客失联房屋堆满垃圾#")
    assert a.media == "沸点视频"
    assert a.editor == "邓健"
    # the 2021 placeholder (div.video-2017#videoList0) names no file: the player is loaded by script
    assert a.media_urls == ()


def _fixture_documents() -> list[Path]:
    skip = FIXTURES / "media"
    return sorted(
        p
        for p in FIXTURES.rglob("*")
        if p.suffix in (".md", ".html") and p.is_file() and skip not in p.parents and p.name != "README.md"
    )


@pytest.mark.parametrize("path", _fixture_documents(), ids=lambda p: p.name[:40])
def test_every_text_fixture_stays_text(path: Path) -> None:
    """The caption rule must not turn a report that embeds a clip (several fixtures do) into a video."""
    from pipeline.parse import detect_and_parse

    a = detect_and_parse(path.read_bytes(), path.name)
    assert a.content_kind == "text", (path, a.paragraphs[:2])


def test_every_judged_post_stays_text() -> None:
    """The judged corpus keeps its posts as records, not files: parsed the way its loader does."""
    posts = fixture_corpus("judged").load_posts()
    assert len(posts) >= 200
    assert [p.key for p in posts if p.article.content_kind != "text"] == []


def _caption_swapped(paragraphs: str) -> bytes:
    """The real short-video post with its one caption paragraph replaced."""
    text = CAPTIONED.read_text(encoding="utf-8")
    caption = re.search(r"<p>\u3000\u3000【.*?</p>\n", text)
    assert caption is not None
    return text.replace(caption.group(0), paragraphs).encode("utf-8")


@pytest.mark.parametrize(
    ("paragraphs", "kind"),
    [
        (["一" * 150, "二" * 150], "video"),  # two paragraphs, 300 characters: still a caption
        (["一" * 301], "text"),  # one paragraph past 300 characters: a report
        (["一" * 50, "二" * 50, "三" * 50], "text"),  # three short paragraphs: a report
    ],
)
def test_the_caption_rule_at_its_bounds(paragraphs: list[str], kind: str) -> None:
    body = "".join(f"<p>\u3000\u3000{p}</p>\n" for p in paragraphs)
    a = parse_hexo_post(_caption_swapped(body), CAPTIONED.name)
    assert a.content_kind == kind
    assert a.paragraphs == tuple(paragraphs)
