"""Bad input ends in ParseError naming url, parser version and field, never in another exception."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.errors import ParseError
from pipeline.models import Article
from pipeline.parse import (
    decode_html,
    detect_and_parse,
    parse_article_page,
    parse_hexo_post,
    parse_zhibo_item,
    sanitize_html,
)

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
FETCHED = datetime(2024, 1, 1, tzinfo=UTC)
PAGE_URL = "https://finance.sina.com.cn/roll/2018-12-28/doc-ihqfskcn2160999.shtml"
PAGE = (FIXTURES / "article_html" / "gne_sina_2.html").read_bytes()
NEWS = (FIXTURES / "article_html" / "gne_sina_sina.html").read_bytes()
SEED = (FIXTURES / "hexo_posts" / "_十四五_信息化和工业化深度融合发展规划印发，点名这些产业.md").read_bytes()
SOURCES = {"page": PAGE, "news": NEWS, "post": SEED}


def _no_fffd(article: Article) -> None:
    for text in (
        article.title,
        article.body_html,
        *article.paragraphs,
        article.editor or "",
        article.media or "",
    ):
        assert "\ufffd" not in text


def test_unknown_layout_names_the_field() -> None:
    html = "<html><head><title>x</title></head><body><div id='main'><p>正文</p></div></body></html>"
    with pytest.raises(ParseError) as err:
        parse_article_page(html.encode(), PAGE_URL, FETCHED)
    assert err.value.url == PAGE_URL
    assert err.value.field in ("title", "body")
    assert err.value.parser_version == "sina.finance.v2018"


def test_page_with_title_but_empty_body() -> None:
    html = "<html><body><h1 class='main-title'>标题</h1><div id='artibody'><script>x()</script></div></body></html>"
    with pytest.raises(ParseError) as err:
        parse_article_page(html.encode(), PAGE_URL, FETCHED)
    assert err.value.field == "body"


@pytest.mark.parametrize(
    "body", [b"", b"   ", b"\x00\x00", b"<html></html>", b"<?xml version='1.0' encoding='gbk'?><a/>"]
)
def test_empty_and_degenerate_pages(body: bytes) -> None:
    with pytest.raises(ParseError):
        parse_article_page(body, PAGE_URL, FETCHED)


def test_truncated_page_before_the_body_raises() -> None:
    cut = PAGE[: PAGE.index(b'id="artibody"') - 200]
    with pytest.raises(ParseError):
        parse_article_page(cut, PAGE_URL, FETCHED)


def test_page_truncated_mid_character_still_decodes() -> None:
    start = PAGE.index(b'id="artibody"')
    cut = PAGE[: PAGE.index("铁路部门提醒".encode(), start) + 2]  # inside a 3-byte character
    article = parse_article_page(cut, PAGE_URL, FETCHED)
    _no_fffd(article)
    assert article.paragraphs[0].startswith("新京报快讯")


def test_post_without_front_matter() -> None:
    with pytest.raises(ParseError) as err:
        parse_hexo_post(b"<div><p>just html</p></div>", "x.md")
    assert err.value.field == "front_matter" and err.value.url == "x.md"


def test_post_with_empty_body() -> None:
    with pytest.raises(ParseError) as err:
        parse_hexo_post(b"\n---\ntitle: 'a'\n---\n\n<div>  <!-- x --> </div>", "x.md")
    assert err.value.field == "body"


@pytest.mark.parametrize(
    "item",
    [{}, {"id": 1}, {"id": 1, "rich_text": ""}, {"id": None, "rich_text": "x"}, {"id": 1, "rich_text": 5},
     {"id": True, "rich_text": "x"}, {"id": 1, "rich_text": "<script>x</script>"}],
)  # fmt: skip
def test_bad_zhibo_items(item: dict[str, object]) -> None:
    with pytest.raises(ParseError):
        parse_zhibo_item(item)


def test_undecodable_bytes_raise_encoding_error() -> None:
    junk = bytes(range(128, 256)) * 50
    with pytest.raises(ParseError) as err:
        decode_html(b"<html><meta charset='utf-8'>" + junk, None)
    assert err.value.field == "encoding"


def test_decode_prefers_header_then_meta_then_utf8_then_gb18030() -> None:
    text = "<html><head></head><body>新浪财经</body></html>"
    assert decode_html(text.encode("utf-8"), None) == (text, "utf-8")
    assert decode_html(text.encode("gbk"), None) == (text, "gb18030")
    assert decode_html(text.encode("gbk"), {"Content-Type": "text/html; charset=GB2312"}) == (text, "gb18030")
    meta = '<meta http-equiv="Content-Type" content="text/html; charset=gbk">' + text
    assert decode_html(meta.encode("gbk"), None) == (meta, "gb18030")
    # a wrong declaration does not produce mojibake: the bytes are tried in the next encoding
    assert decode_html(text.encode("gbk"), {"content-type": "text/html; charset=utf-8"})[1] == "gb18030"
    bom = "\ufeff".encode() + text.encode()
    assert decode_html(bom, {"Content-Type": "text/html; charset=gbk"}) == (text, "utf-8")


def test_sanitizer_allow_list() -> None:
    dirty = (
        '<div onclick="x()"><p style="color:red" class="a">正文<script>alert(1)</script></p>'
        '<a href="javascript:alert(1)">坏链接</a><a href="https://finance.sina.com.cn/" onmouseover="x">好链接</a>'
        '<img src="//n.sinaimg.cn/a.jpg" onerror="x" alt="图"><img src="data:image/png;base64,AAAA">'
        "<iframe src='https://evil'></iframe><!-- comment --><style>p{}</style>"
        '<table><tr><td colspan="2" bgcolor="red">格</td></tr></table><svg><script>1</script></svg>'
        '<p class="article-editor">责任编辑：张三</p><span id="stock_sz000001"><a href="https://x/">平安银行</a></span>'
        '<span id="quote_sz000001">(12.3)</span></div>'
    )
    clean = sanitize_html(dirty)
    assert clean == (
        "<p>正文</p><a>坏链接</a>"
        '<a href="https://finance.sina.com.cn/">好链接</a><img src="https://n.sinaimg.cn/a.jpg" alt="图">'
        '<table><tr><td colspan="2">格</td></tr></table>平安银行'
    )


def test_sanitizer_escapes_text() -> None:
    assert sanitize_html("<p>a &lt;script&gt; b &amp; c</p>") == "<p>a &lt;script&gt; b &amp; c</p>"


# --- fuzzing: mutated real pages and posts ---------------------------------------------------------

_TAG_RE = re.compile(rb"<[a-zA-Z/][^<>]{0,80}>")


@st.composite
def mutated(draw: st.DrawFn) -> tuple[str, bytes]:
    kind = draw(st.sampled_from(sorted(SOURCES)))
    data = bytearray(SOURCES[kind])
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["truncate", "delete", "insert", "swap_tags", "flip"]))
        n = len(data)
        if n == 0:
            break
        if op == "truncate":
            del data[draw(st.integers(0, n)) :]
        elif op == "delete":
            start = draw(st.integers(0, n - 1))
            del data[start : start + draw(st.integers(1, 4096))]
        elif op == "insert":
            at = draw(st.integers(0, n))
            blob = draw(
                st.one_of(
                    st.binary(max_size=64),
                    st.sampled_from([b"<", b"</div>", b"<!--", b"-->", b"\x00", b"\xff\xfe", b"<script>", b"]]>",
                                     "原标题：".encode(), "责任编辑：".encode(), b"<p>", b"---\n"]),
                )
            )  # fmt: skip
            data[at:at] = blob
        elif op == "swap_tags":
            tags = list(_TAG_RE.finditer(bytes(data)))
            if len(tags) >= 2:
                i, j = sorted(
                    draw(st.lists(st.integers(0, len(tags) - 1), min_size=2, max_size=2, unique=True))
                )
                a, b = tags[i], tags[j]
                data[b.start() : b.end()] = a.group()
                data[a.start() : a.end()] = b.group()
        else:
            at = draw(st.integers(0, n - 1))
            data[at] ^= draw(st.integers(1, 255))
    return kind, bytes(data)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
@given(mutated())
def test_mutated_inputs_raise_only_parse_error(case: tuple[str, bytes]) -> None:
    kind, body = case
    try:
        if kind == "post":
            article = parse_hexo_post(body, "fuzz.md")
        else:
            article = parse_article_page(body, PAGE_URL, FETCHED)
    except ParseError as err:
        assert err.parser_version and err.field
        return
    _no_fffd(article)
    assert article.title and article.paragraphs


@settings(max_examples=40, deadline=None)
@given(st.binary(max_size=2048))
def test_arbitrary_bytes_raise_only_parse_error(body: bytes) -> None:
    try:
        article = detect_and_parse(body, "fuzz.bin")
    except ParseError:
        return
    _no_fffd(article)


@settings(max_examples=60, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["id", "rich_text", "create_time", "ext", "tag", "docurl", "creator"]),
        st.one_of(
            st.none(),
            st.integers(),
            st.text(max_size=40),
            st.lists(st.dictionaries(st.text(max_size=5), st.text(max_size=5)), max_size=3),
        ),
    )
)
def test_arbitrary_zhibo_items_raise_only_parse_error(item: dict[str, object]) -> None:
    try:
        article = parse_zhibo_item(item)
    except ParseError:
        return
    _no_fffd(article)
