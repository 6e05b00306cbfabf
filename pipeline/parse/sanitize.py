"""Boilerplate removal and the allow-list sanitizer for stored body HTML."""

from __future__ import annotations

import html
import re
from collections.abc import Iterable

import lxml.html
from lxml import etree

from pipeline import textnorm

# Elements whose whole subtree is never content.
DROP_TAGS = frozenset(
    {
        "script", "style", "noscript", "iframe", "frame", "frameset", "object", "embed", "applet",
        "form", "input", "button", "select", "textarea", "option", "svg", "math", "template", "link",
        "meta", "head", "title", "base", "video", "audio", "source", "track", "canvas", "ins", "map",
    }
)  # fmt: skip

# Sina boilerplate blocks inside the body container (docs/sina.md, "The RSSHub archives" and "Article pages"), as (tag or "*", attribute
# test) pairs evaluated without cssselect so this module stays dependency-light and fast.
_JUNK_CLASSES = frozenset(
    {
        "appendQr_wrap", "appendQr_normal", "appendQr_normal_txt", "app-kaihu-qr", "tech-quotation",
        "article-editor", "show_author", "video-2017", "artical-player-wrap", "ct_hqimg",
        "article-notice", "sinaads", "finance_app_zqtg", "hqimg_wrapper", "hqimg_related",
        "article-bottom", "otherContent_01", "blk-comment", "wap_special", "ecode_weixin",
        "art_keywords", "article-zt", "zb_rel_news",
    }
)  # fmt: skip
_JUNK_IDS = frozenset({"left_hzh_ad", "article-bottom", "sinaadToolkitBox", "J_Play_List_Wrap"})
_JUNK_ID_PREFIXES = ("quote_", "videoList", "ad_", "sinaads")

# Stock tag spans: stock_sz300024, usstock_JPM, hkstock_00700 (docs/sina.md, "Article pages").
STOCK_SPAN_ID_RE = re.compile(r"^(?P<market>[a-z]*stock)_(?P<code>[A-Za-z0-9.]+)$")
NEWS_KEYWORD_PUB_RE = re.compile(r"news_keyword_pub\s*,\s*(?P<market>[a-z]*)\s*,\s*(?P<codes>[^\s>-]*)")

_SAFE_SCHEMES = ("http://", "https://")
ALLOWED_TAGS = frozenset(
    {
        "p", "br", "strong", "b", "em", "i", "u", "sub", "sup", "h1", "h2", "h3", "h4", "h5", "h6",
        "ul", "ol", "li", "blockquote", "table", "thead", "tbody", "tfoot", "tr", "td", "th",
        "caption", "a", "img",
    }
)  # fmt: skip
_VOID_TAGS = frozenset({"br", "img"})
_CELL_ATTRS = ("colspan", "rowspan")
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffd\ufffe\uffff]")


# Void elements libxml2's HTML parser does not know: unclosed, it makes them containers of the rest
# of the page (an old Flash <embed> would swallow the article). They carry no content: drop the tags.
_UNKNOWN_VOID_RE = re.compile(r"</?(?:embed|source|track|wbr|keygen)\b[^>]*>", re.I)


def strip_controls(text: str) -> str:
    """Characters lxml refuses (NUL, C0 controls) and U+FFFD, which no stored field may carry.

    Also drops the void tags libxml2 would otherwise treat as containers.
    """
    return _UNKNOWN_VOID_RE.sub("", _CONTROL_RE.sub("", text))


def absolute_url(url: str | None) -> str | None:
    """http(s) URL or None; protocol-relative Sina URLs (//n.sinaimg.cn/...) become https."""
    if not url:
        return None
    url = url.strip()
    if url.startswith("//"):
        url = "https:" + url
    if url.lower().startswith(_SAFE_SCHEMES) and not any(c in url for c in '"<> \n\t'):
        return url
    return None


def classes(el: etree._Element) -> set[str]:
    return set((el.get("class") or "").split())


def _is_junk(el: etree._Element) -> bool:
    if not isinstance(el.tag, str):
        return False
    if el.tag in DROP_TAGS:
        return True
    if classes(el) & _JUNK_CLASSES:
        return True
    el_id = el.get("id") or ""
    if el_id in _JUNK_IDS or el_id.startswith(_JUNK_ID_PREFIXES):
        return True
    # WeChat decoration banners copied into Sina bodies are marked black-list="y".
    return el.tag == "img" and el.get("black-list") == "y"


def drop_element(el: etree._Element) -> None:
    """Remove an element but keep its tail text, which belongs to the parent."""
    parent = el.getparent()
    if parent is None:
        return
    tail = el.tail
    if tail:
        prev = el.getprevious()
        if prev is not None:
            prev.tail = (prev.tail or "") + tail
        else:
            parent.text = (parent.text or "") + tail
    parent.remove(el)


def _unwrap_to_text(el: etree._Element) -> None:
    """Replace an element by its plain text (stock tags keep the company name, lose the link)."""
    text = "".join(el.itertext())
    parent = el.getparent()
    if parent is None:
        return
    prev = el.getprevious()
    joined = text + (el.tail or "")
    if prev is not None:
        prev.tail = (prev.tail or "") + joined
    else:
        parent.text = (parent.text or "") + joined
    parent.remove(el)


def keyword_pub_codes(root: etree._Element) -> list[tuple[str, str]]:
    """(market, code) pairs from `<!-- news_keyword_pub,<market>,<a>&<b> -->` comments."""
    out: list[tuple[str, str]] = []
    for comment in root.iter(etree.Comment):
        m = NEWS_KEYWORD_PUB_RE.search(comment.text or "")
        if not m:
            continue
        for code in m.group("codes").split("&"):
            code = code.strip().strip(",")
            if code:
                out.append((m.group("market"), code))
    return out


def remove_boilerplate(root: etree._Element) -> None:
    """Strip Sina boilerplate from a body container in place (read news_keyword_pub codes first)."""
    stock_spans: list[etree._Element] = []
    _remove_related_runs(root)
    _clean_children(root, stock_spans)
    for el in stock_spans:
        if el.getparent() is not None:
            _unwrap_to_text(el)


def _is_link_only(el: etree._Element) -> bool:
    text = textnorm.clean_text("".join(el.itertext()))
    links = textnorm.clean_text("".join(t for a in el.iter("a") for t in a.itertext()))
    return bool(text) and text == links


def _remove_related_runs(root: etree._Element) -> None:
    """ "相关新闻：" followed by paragraphs that are nothing but links: a reading list, not the article."""
    for heading in list(root.iter("p", "div", "h2", "h3", "strong")):
        if heading.getparent() is None or not textnorm.RELATED_HEADING_RE.match(
            textnorm.clean_text("".join(heading.itertext()))
        ):
            continue
        sib = heading.getnext()
        while (
            sib is not None
            and isinstance(sib.tag, str)
            and sib.tag in ("p", "div", "ul", "li")
            and _is_link_only(sib)
        ):
            nxt = sib.getnext()
            drop_element(sib)
            sib = nxt
        drop_element(heading)


def _clean_children(el: etree._Element, stock_spans: list[etree._Element]) -> None:
    for child in list(el):
        # comments (ad lists, news_keyword_pub, section markers) and processing instructions go too
        if not isinstance(child.tag, str) or _is_junk(child):
            drop_element(child)
            continue
        # Editor, QR-caption and bare source lines written as plain <p> (textnorm decides what is boilerplate).
        if child.tag == "p" and textnorm.is_sina_boilerplate_line(
            textnorm.clean_text("".join(child.itertext()))
        ):
            drop_element(child)
            continue
        if child.tag == "span" and STOCK_SPAN_ID_RE.match(child.get("id") or ""):
            stock_spans.append(child)
        _clean_children(child, stock_spans)


def remove_original_title(root: etree._Element) -> str | None:
    """Drop the `原标题：…` line (a <p>, often p.ori_titlesource) near the top; return its title."""
    for i, el in enumerate(root.iter("p")):
        if i > 4:
            break
        text = textnorm.clean_text("".join(el.itertext()))
        if not text:
            continue
        title = textnorm.match_original_title(text)
        if title:
            drop_element(el)
            return title
    return None


def _attrs(el: etree._Element) -> Iterable[tuple[str, str]]:
    tag = el.tag
    if tag == "a":
        href = absolute_url(el.get("href"))
        if href:
            yield "href", href
    elif tag == "img":
        src = absolute_url(el.get("src") or el.get("data-src") or el.get("data-original"))
        if src:
            yield "src", src
        alt = textnorm.clean_text(strip_controls(el.get("alt") or ""))
        if alt:
            yield "alt", alt
    elif tag in ("td", "th"):
        for name in _CELL_ATTRS:
            value = el.get(name)
            if value and value.isdigit():
                yield name, value


def _emit(el: etree._Element, out: list[str]) -> None:
    tag = el.tag
    keep = isinstance(tag, str) and tag in ALLOWED_TAGS
    if keep:
        if tag == "img" and not el.get("src") and not el.get("data-src") and not el.get("data-original"):
            keep = False
        elif (
            tag == "img"
            and absolute_url(el.get("src") or el.get("data-src") or el.get("data-original")) is None
        ):
            keep = False
    if keep:
        attrs = "".join(f' {k}="{html.escape(v, quote=True)}"' for k, v in _attrs(el))
        out.append(f"<{tag}{attrs}>")
    if isinstance(tag, str) and tag not in _VOID_TAGS and el.text:
        out.append(html.escape(strip_controls(el.text), quote=False))
    if isinstance(tag, str) and tag not in _VOID_TAGS:
        for child in el:
            if isinstance(child.tag, str) and child.tag not in DROP_TAGS:
                _emit(child, out)
            elif child.tail:
                out.append(html.escape(strip_controls(child.tail), quote=False))
    if keep and tag not in _VOID_TAGS:
        out.append(f"</{tag}>")
    if el.tail:
        out.append(html.escape(strip_controls(el.tail), quote=False))


_BLANK_RUN_RE = re.compile(r"\n\s*\n+")


def sanitize_element(root: etree._Element) -> str:
    """Allow-listed HTML of a container's children (the container itself is not emitted)."""
    out: list[str] = []
    if root.text:
        out.append(html.escape(strip_controls(root.text), quote=False))
    for child in root:
        if isinstance(child.tag, str) and child.tag not in DROP_TAGS:
            _emit(child, out)
        elif child.tail:
            out.append(html.escape(strip_controls(child.tail), quote=False))
    text = "".join(out)
    # Empty <p></p> left where boilerplate was, and the blank lines around it, carry nothing.
    text = re.sub(r"<p>\s*</p>", "", text)
    return _BLANK_RUN_RE.sub("\n", text).strip()


def parse_fragment(fragment: str) -> etree._Element:
    """A container element holding the parsed fragment (lxml wraps bare text and many roots)."""
    fragment = strip_controls(fragment)
    wrapper = lxml.html.fragment_fromstring(fragment or "", create_parent="div")
    return wrapper


def sanitize_html(fragment: str) -> str:
    """Boilerplate-free, allow-listed HTML: p, br, strong/b, em/i, headings, lists, blockquote,
    tables, a[href http(s)], img[src http(s), alt]. No script, style, iframe, comments, event
    handlers or javascript: URLs survive."""
    try:
        root = parse_fragment(fragment)
    except (etree.ParserError, ValueError):
        return html.escape(textnorm.clean_text(strip_controls(fragment)), quote=False)
    remove_boilerplate(root)
    return sanitize_element(root)
