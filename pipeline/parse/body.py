"""From a Sina body container to paragraphs, sanitized HTML, images, stocks and editor."""

from __future__ import annotations

import re
from dataclasses import dataclass

from lxml import etree

from pipeline import textnorm
from pipeline.models import Image, StockRef
from pipeline.parse.sanitize import (
    DROP_TAGS,
    STOCK_SPAN_ID_RE,
    absolute_url,
    classes,
    keyword_pub_codes,
    remove_boilerplate,
    remove_original_title,
    sanitize_element,
    strip_controls,
)

# Block elements end a paragraph; inline ones continue it.
_BLOCK_TAGS = frozenset(
    {
        "p", "div", "section", "article", "header", "footer", "aside", "h1", "h2", "h3", "h4", "h5",
        "h6", "li", "ul", "ol", "dl", "dt", "dd", "blockquote", "pre", "table", "thead", "tbody",
        "tfoot", "tr", "caption", "figure", "figcaption", "center", "hr", "main", "nav",
    }
)  # fmt: skip
_CELL_TAGS = frozenset({"td", "th"})
# Images that are chrome, not content: the 新浪财经APP QR code that ends every finance article.
QR_IMAGE_MARKERS = ("cece9e13/20200514/343233024", "/qrcode", "erweima", "app_qr", "kaihu")
_SOURCE_LINE_RE = re.compile(r"^\s*(?:文章)?来源\s*[：:]\s*(?P<media>[^\s，,。].{0,40}?)\s*$")
_MIN_IMAGE_SIDE = 40
# A video in a Sina body is a placeholder the page's script fills with the player: the archives kept
# it as <!--video-list--> then div.video-2017#videoList0 (docs/sina.md, "Media-only articles").
# <video> and players in an <iframe> count too; other iframes are ads ("正文下iframe").
_PLAYER_CLASSES = frozenset({"video-2017", "artical-player-wrap"})
_PLAYER_IFRAME_RE = re.compile(r"video|player|v\.qq\.com|bilibili|youku|ixigua", re.I)
CONTENT_KINDS = ("text", "video", "gallery")


@dataclass(frozen=True)
class BodyParts:
    paragraphs: tuple[str, ...]
    body_html: str
    images: tuple[Image, ...]
    stocks: tuple[StockRef, ...]
    editor: str | None
    original_title: str | None
    source_line_media: str | None
    has_video: bool = False
    video_urls: tuple[str, ...] = ()  # player sources and posters, in page order


def stock_code(market: str, code: str) -> str:
    """Normalize a Sina market tag + symbol to the StockRef code form ("sz300024", "usstock:jpm")."""
    m = market.strip().lower()
    c = code.strip().lower()
    if m in ("stock", "cn", "a", ""):
        return c
    if m in ("hkstock", "hk"):
        return c if c.startswith("hk") else "hk" + c
    if m in ("usstock", "us"):
        return "usstock:" + c
    return f"{m}:{c}"


def _stock_spans(root: etree._Element) -> list[StockRef]:
    out: list[StockRef] = []
    for el in root.iter("span"):
        m = STOCK_SPAN_ID_RE.match(el.get("id") or "")
        if m:
            name = textnorm.clean_text(strip_controls("".join(el.itertext()))) or None
            out.append(StockRef(stock_code(m.group("market"), m.group("code")), name))
    return out


def merge_stocks(*groups: list[StockRef]) -> tuple[StockRef, ...]:
    """Union in first-seen order; a named reference wins over an unnamed one for the same code."""
    order: list[str] = []
    names: dict[str, str | None] = {}
    for group in groups:
        for ref in group:
            if ref.code not in names:
                order.append(ref.code)
                names[ref.code] = ref.name
            elif names[ref.code] is None and ref.name:
                names[ref.code] = ref.name
    return tuple(StockRef(code, names[code]) for code in order)


def _editor_from_blocks(root: etree._Element) -> str | None:
    for el in root.iter("p", "div", "span"):
        if classes(el) & {"article-editor", "show_author"}:
            name = textnorm.find_editor(textnorm.clean_text("".join(el.itertext())))
            if name:
                return name
    return None


def _editor_from_lines(root: etree._Element) -> str | None:
    """A plain <p>责任编辑：NAME CODE</p> (mobile pages, some archive posts); read before it is dropped."""
    for el in root.iter("p"):
        text = textnorm.clean_text(strip_controls("".join(el.itertext())))
        if "责任编辑" in text:
            name = textnorm.find_editor(text)
            if name:
                return name
    return None


def _restrict_to_original_body(root: etree._Element) -> None:
    """Older finance pages mark the article with <!-- 原始正文start --> ... <!-- 原始正文end -->."""
    start = end = None
    for comment in root.iter(etree.Comment):
        text = comment.text or ""
        if "原始正文start" in text and start is None:
            start = comment
        elif "原始正文end" in text:
            end = comment
    if start is None or end is None or start.getparent() is not end.getparent():
        return
    parent = start.getparent()
    if parent is None:
        return
    children = list(parent)
    i, j = children.index(start), children.index(end)
    if i >= j:
        return
    for el in children[:i] + children[j + 1 :]:
        if el.tail:
            el.tail = None
        parent.remove(el)
    parent.text = None


def paragraphs_of(root: etree._Element) -> list[str]:
    """Text by paragraph: block elements and <br> break, captions (span.img_descr) are skipped."""
    parts: list[str] = []
    buf: list[str] = []

    def flush() -> None:
        if buf:
            text = textnorm.clean_text(strip_controls("".join(buf)))
            buf.clear()
            if text:
                parts.append(text)

    def walk(el: etree._Element) -> None:
        for child in el:
            tag = child.tag
            if not isinstance(tag, str) or tag in DROP_TAGS:
                pass
            elif tag == "br":
                flush()
            elif tag == "span" and "img_descr" in classes(child):
                pass
            elif tag in _BLOCK_TAGS:
                flush()
                if child.text:
                    buf.append(child.text)
                walk(child)
                flush()
            else:
                if tag in _CELL_TAGS:
                    buf.append(" ")
                if child.text:
                    buf.append(child.text)
                walk(child)
            if child.tail:
                buf.append(child.tail)

    if root.text:
        buf.append(root.text)
    walk(root)
    flush()
    return parts


def _int_attr(el: etree._Element, name: str) -> int | None:
    raw = (el.get(name) or "").strip().removesuffix("px")
    try:
        return int(float(raw))
    except ValueError:
        return None


def is_chrome_image(url: str) -> bool:
    low = url.lower()
    return any(marker in low for marker in QR_IMAGE_MARKERS)


def images_of(root: etree._Element) -> list[Image]:
    out: list[Image] = []
    seen: set[str] = set()
    for el in root.iter("img"):
        url = absolute_url(el.get("src") or el.get("data-src") or el.get("data-original"))
        if not url or url in seen or is_chrome_image(url):
            continue
        w, h = _int_attr(el, "width"), _int_attr(el, "height")
        if (w is not None and w < _MIN_IMAGE_SIDE) or (h is not None and h < _MIN_IMAGE_SIDE):
            continue
        caption = None
        parent = el.getparent()
        if parent is not None:
            for sib in parent.iter("span"):
                if "img_descr" in classes(sib):
                    caption = textnorm.clean_text(strip_controls("".join(sib.itertext()))) or None
                    break
        if caption is None:
            caption = textnorm.clean_text(strip_controls(el.get("alt") or "")) or None
        seen.add(url)
        out.append(Image(url, caption))
    return out


# Player containers by class or id; evaluated by libxml2 in C, the exact class token checked after.
_PLAYER_BOX_XPATH = etree.XPath(
    "descendant-or-self::*[contains(@class, 'video-2017') or contains(@class, 'artical-player-wrap')"
    " or starts-with(@id, 'videoList')]"
)


def videos_of(root: etree._Element) -> tuple[bool, list[str]]:
    """Whether the body holds a video player, and the video and poster URLs it names.

    Read before boilerplate removal, which drops players (they carry no text). The candidates are
    found by tag (lxml's C iterator) and by one compiled XPath, not by a Python walk of the body.
    """
    found = False
    urls: list[str] = []
    for el in root.iter("video", "iframe", "object"):
        tag = str(el.tag).lower()
        attrs: tuple[str, ...] = ()
        if tag == "video":
            found, attrs = True, ("src", "poster")
        elif tag == "iframe" and _PLAYER_IFRAME_RE.search(el.get("src") or ""):
            found, attrs = True, ("src",)
        elif tag == "object" and _PLAYER_IFRAME_RE.search(el.get("data") or ""):
            found, attrs = True, ("data",)
        for attr in attrs:
            url = absolute_url(el.get(attr))
            if url and url not in urls:
                urls.append(url)
    if not found:
        found = any(
            classes(el) & _PLAYER_CLASSES or (el.get("id") or "").startswith("videoList")
            for el in _PLAYER_BOX_XPATH(root)
        ) or any("video-list" in (c.text or "") for c in root.iter(etree.Comment))
    return found, urls


# A Sina short-video item is the player plus a caption: one or two paragraphs (a 【#话题#…】 lead, a
# "来源：" line) of at most a few hundred characters. A report that embeds a clip has more text.
VIDEO_CAPTION_MAX_PARAGRAPHS = 2
VIDEO_CAPTION_MAX_CHARS = 300


def content_kind(parts: BodyParts, *, page_has_video: bool = False) -> str | None:
    """The article's kind: "video" for a player with at most a short caption, "text" for any other body
    with text, "gallery" for images only. None when the body holds neither text nor media: no article."""
    if parts.paragraphs:
        caption = (
            len(parts.paragraphs) <= VIDEO_CAPTION_MAX_PARAGRAPHS
            and sum(len(p) for p in parts.paragraphs) <= VIDEO_CAPTION_MAX_CHARS
        )
        return "video" if parts.has_video and caption else "text"
    if parts.has_video or page_has_video:
        return "video"
    if parts.images:
        return "gallery"
    return None


def media_urls(*groups: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """Video, poster and image URLs in first-seen order, each once."""
    return tuple(dict.fromkeys(url for group in groups for url in group if url))


def _source_line_media(root: etree._Element) -> str | None:
    """ "来源：每日经济新闻" as its own paragraph names the outlet (the archive keeps no other trace)."""
    for el in root.iter("p"):
        m = _SOURCE_LINE_RE.match(textnorm.clean_text(strip_controls("".join(el.itertext()))))
        if m:
            return m.group("media").strip()
    return None


def extract_body(root: etree._Element) -> BodyParts:
    """Read the metadata hidden in boilerplate, strip the boilerplate, then take text and HTML."""
    codes = [StockRef(stock_code(market, code), None) for market, code in keyword_pub_codes(root)]
    spans = _stock_spans(root)
    editor = _editor_from_blocks(root) or _editor_from_lines(root)
    media = _source_line_media(root)
    _restrict_to_original_body(root)
    has_video, video_urls = videos_of(root)
    remove_boilerplate(root)
    original_title = remove_original_title(root)
    raw_paragraphs = paragraphs_of(root)
    if original_title is None:
        original_title, raw_paragraphs = textnorm.split_original_title(raw_paragraphs)
    paragraphs: list[str] = []
    for para in raw_paragraphs:
        if editor is None and "责任编辑" in para:
            editor = textnorm.find_editor(para)
        if textnorm.is_sina_boilerplate_line(para):
            continue
        paragraphs.append(para)
    return BodyParts(
        paragraphs=tuple(paragraphs),
        body_html=sanitize_element(root),
        images=tuple(images_of(root)),
        stocks=merge_stocks(codes, spans),
        editor=editor,
        original_title=original_title,
        source_line_media=media,
        has_video=has_video,
        video_urls=tuple(video_urls),
    )
