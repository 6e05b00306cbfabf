"""Sina article pages: one parser per layout generation, chosen by the page's date (Fundus-style)."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from datetime import date, datetime
from typing import ClassVar
from urllib.parse import urlsplit

import lxml.html
from lxml import etree

from pipeline import textnorm
from pipeline.errors import ParseError
from pipeline.identity import (
    canonicalize_url,
    comos_docid,
    docid_from_url,
    parse_beijing_time,
    parse_iso_time,
)
from pipeline.models import Article
from pipeline.parse.body import content_kind, extract_body, media_urls
from pipeline.parse.decode import decode_html
from pipeline.parse.sanitize import absolute_url, drop_element, strip_controls

log = logging.getLogger(__name__)

_URL_DATE_RE = re.compile(r"/(?P<y>(?:19|20)\d{2})-(?P<m>\d{2})-(?P<d>\d{2})/")
_KEYWORD_SPLIT_RE = re.compile(r"[,，、;；\s]+")
_TITLE_SUFFIX_RE = re.compile(
    r"\s*[_|｜\-]\s*(?:新浪财经|新浪网|新浪科技|新浪新闻|新浪|手机新浪网)(?:\s*[_|｜\-]\s*.*)?$"
)
_AUTHOR_RE = re.compile(
    r"[（(]\s*(?:记者|作者|文)\s*[：:/]?\s*(?P<name>[\u4e00-\u9fff·]{2,5}(?:[ 、][\u4e00-\u9fff·]{2,5}){0,3})\s*[)）]"
)
_SUDAMETA_ID_RE = re.compile(
    r"(?:dataid\s*:\s*comos\s*:|comment_id\s*:\s*comos-)\s*(?P<id>[a-z0-9]{6,})", re.I
)


def _xp(doc: etree._Element, paths: tuple[str, ...]) -> etree._Element | None:
    for path in paths:
        found = doc.xpath(path)
        if isinstance(found, list):
            for el in found:
                if isinstance(el, etree._Element):
                    return el
    return None


def _text(el: etree._Element | None) -> str:
    if el is None:
        return ""
    return textnorm.clean_text(strip_controls("".join(el.itertext())))


def _meta(doc: etree._Element, *names: str) -> str | None:
    """First non-empty <meta name|property=...> content, matched case-insensitively."""
    wanted = {n.lower() for n in names}
    for el in doc.iter("meta"):
        key = (el.get("name") or el.get("property") or "").strip().lower()
        if key in wanted:
            value = textnorm.clean_text(strip_controls(el.get("content") or ""))
            if value:
                return value
    return None


def _metas(doc: etree._Element, name: str) -> list[str]:
    out = []
    for el in doc.iter("meta"):
        if (el.get("name") or el.get("property") or "").strip().lower() == name:
            out.append(strip_controls(el.get("content") or ""))
    return out


def split_keywords(values: list[str], *, drop: set[str] | None = None) -> tuple[str, ...]:
    out: list[str] = []
    seen: set[str] = set()
    for value in values:
        for word in _KEYWORD_SPLIT_RE.split(value):
            word = textnorm.clean_text(word)
            if not word or word in seen or (drop and word in drop):
                continue
            seen.add(word)
            out.append(word)
    return tuple(out)


class SinaPageV2016:
    """Finance/tech/news layout before the 2018 redesign: h1#artibodyTitle, #pub_date or
    .time-source, div#artibody (with <!-- 原始正文start/end --> on finance pages)."""

    VERSION: ClassVar[str] = "sina.finance.v2016"
    VALID_FROM: ClassVar[date] = date(2000, 1, 1)
    TITLE: ClassVar[tuple[str, ...]] = ('//h1[@id="artibodyTitle"]', '//*[@id="artibodyTitle"]')
    DATE: ClassVar[tuple[str, ...]] = (
        '//*[@id="pub_date"]',
        '//*[@id="navtimeSource"]',
        '//*[contains(concat(" ", normalize-space(@class), " "), " time-source ")]',
    )
    MEDIA: ClassVar[tuple[str, ...]] = (
        '//*[@id="media_name"]',
        '//*[@data-sudaclick="media_name"]',
        '//*[@id="navtimeSource"]//a',
    )
    BODY: ClassVar[tuple[str, ...]] = ('//*[@id="artibody"]',)

    def __init__(self, doc: etree._Element, url: str) -> None:
        self.doc = doc
        self.url = url
        self._body = _xp(doc, self.BODY)
        self._title_el = _xp(doc, self.TITLE)

    def matches(self) -> bool:
        return self._body is not None and self._title_el is not None

    def fail(self, field: str, reason: str) -> ParseError:
        return ParseError(self.url, self.VERSION, field, reason)

    # One small method per field, so a newer layout overrides only what changed.
    def title(self) -> str:
        title = _text(self._title_el)
        if not title:
            title = _meta(self.doc, "og:title") or ""
        if not title:
            title = _TITLE_SUFFIX_RE.sub("", _text(_xp(self.doc, ("//title",))))
        if not title:
            raise self.fail("title", "no title element and no og:title")
        return title

    def published_at(self) -> datetime | None:
        visible = parse_beijing_time(_text(_xp(self.doc, self.DATE)))
        create_at = _meta(self.doc, "weibo: article:create_at")
        precise = parse_beijing_time(create_at) if create_at else None
        if visible is not None:
            # The visible date has minute precision; weibo's create_at agrees with it and has seconds.
            if precise is not None and abs((precise - visible).total_seconds()) < 60:
                return precise
            return visible
        if precise is not None:
            return precise
        # article:published_time can be hours after the visible time (docs/sina.md, "Article pages"): last resort only.
        machine = _meta(self.doc, "article:published_time")
        return parse_iso_time(machine) if machine else None

    def media(self) -> str | None:
        media = _text(_xp(self.doc, self.MEDIA))
        return media or _meta(self.doc, "article:author", "mediaid") or None

    def docid(self) -> str | None:
        found = docid_from_url(self.url)
        if found:
            return found
        publishid = _meta(self.doc, "publishid")
        if publishid and re.fullmatch(r"[a-z0-9]{6,}", publishid, re.I):
            return comos_docid(publishid)
        for content in _metas(self.doc, "sudameta"):
            m = _SUDAMETA_ID_RE.search(content)
            if m:
                return comos_docid(m.group("id"))
        if self._title_el is not None and self._title_el.get("docid"):
            return comos_docid(self._title_el.get("docid", ""))
        return None

    def canonical(self) -> str | None:
        og = absolute_url(_meta(self.doc, "og:url"))
        if og:
            return canonicalize_url(og)
        return canonicalize_url(self.url) if self.url else None

    def keywords(self, title: str) -> tuple[str, ...]:
        values = [_meta(self.doc, "keywords") or "", _meta(self.doc, "tags") or ""]
        for el in self.doc.xpath('//*[@id="keywords"][@data-wbkey]'):
            if isinstance(el, etree._Element):
                # news.sina appends the channel word 新闻 to every list.
                values.append(re.sub(r"[,，]\s*新闻\s*$", "", el.get("data-wbkey") or ""))
        # Some pages put the headline itself into <meta name=keywords>: that is not a keyword.
        return tuple(k for k in split_keywords(values) if textnorm.fold(k) != textnorm.fold(title))

    def author(self, paragraphs: tuple[str, ...]) -> str | None:
        meta = _meta(self.doc, "author")
        if meta and "新浪" not in meta:
            return meta
        for para in paragraphs[:2]:
            m = _AUTHOR_RE.search(para)
            if m:
                return m.group("name")
        return None

    def body(self) -> etree._Element:
        if self._body is None:
            raise self.fail("body", "no body container")
        body = self._body
        # Mobile and some tech pages keep the headline and date inside the container.
        for el in (self._title_el, _xp(self.doc, self.DATE)):
            if el is not None and el is not body and _inside(el, body):
                drop_element(el)
        return body

    def page_videos(self) -> list[str]:
        """Video URLs the page's head declares (og:video and its variants)."""
        names = ("og:video", "og:video:url", "og:video:secure_url")
        return [u for u in (absolute_url(_meta(self.doc, name)) for name in names) if u]

    def is_video_page(self) -> bool:
        return (_meta(self.doc, "og:type") or "").lower().startswith("video") or bool(self.page_videos())

    def parse(self) -> Article:
        title = self.title()
        parts = extract_body(self.body())
        kind = content_kind(parts, page_has_video=self.is_video_page())
        if kind is None:
            raise self.fail("body", "body container holds no text and no media")
        poster = absolute_url(_meta(self.doc, "og:image")) if kind == "video" else None
        return Article(
            url=self.canonical(),
            docid=self.docid(),
            title=title,
            original_title=parts.original_title,
            published_at=self.published_at(),
            media=self.media() or parts.source_line_media,
            author=self.author(parts.paragraphs),
            editor=parts.editor,
            keywords=self.keywords(title),
            stocks=parts.stocks,
            paragraphs=parts.paragraphs,
            body_html=parts.body_html,
            images=parts.images,
            kind="sina_page",
            parser_version=self.VERSION,
            content_kind=kind,
            media_urls=media_urls(
                self.page_videos(), parts.video_urls, [poster] if poster else [], [i.url for i in parts.images]
            ),
        )


def _inside(el: etree._Element, container: etree._Element) -> bool:
    node = el.getparent()
    while node is not None:
        if node is container:
            return True
        node = node.getparent()
    return False


class SinaPageV2018(SinaPageV2016):
    """finance.sina.com.cn after the 2018 redesign: h1.main-title, .date-source span.date, #artibody."""

    VERSION = "sina.finance.v2018"
    VALID_FROM = date(2018, 1, 1)
    TITLE = (
        '//h1[contains(concat(" ", normalize-space(@class), " "), " main-title ")]',
        '//h1[@id="main_title"]',
    )
    DATE = (
        '//*[contains(@class, "date-source")]//*[contains(concat(" ", normalize-space(@class), " "), " date ")]',
        '//*[contains(concat(" ", normalize-space(@class), " "), " date ")]',
    )
    MEDIA = (
        '//*[contains(@class, "date-source")]//*[contains(concat(" ", normalize-space(@class), " "), " source ")]',
    )


class SinaNewsV2018(SinaPageV2018):
    """news.sina.com.cn after the redesign: same head as finance, body in div#article, .show_author."""

    VERSION = "sina.news.v2018"
    BODY = ('//div[@id="article"]', '//*[@id="artibody"]')


class SinaMobileV2018(SinaPageV2016):
    """finance.sina.cn / news.sina.cn detail-i<ID>.d.html: article.art_box, h1.art_tit_h1,
    time.art_time, cite.art_cite, section.art_content with p.art_p."""

    VERSION = "sina.mobile.v2018"
    VALID_FROM = date(2016, 1, 1)
    TITLE = ('//h1[contains(@class, "art_tit_h1")]', '//*[contains(@class, "art_tit")]')
    DATE = ('//time[contains(@class, "art_time")]', '//*[contains(@class, "art_time")]', "//article//time")
    MEDIA = ('//cite[contains(@class, "art_cite")]', '//*[contains(@class, "art_cite")]')
    BODY = (
        '//section[contains(@class, "art_content")]',
        '//article[contains(@class, "art_box")]',
        "//article",
    )

    def media(self) -> str | None:
        # The cite sits inside <time>; its text is the outlet only.
        media = _text(_xp(self.doc, self.MEDIA))
        return media or _meta(self.doc, "article:author", "mediaid") or None


# Each family lists its versions oldest first; a version is valid from its date until the next one.
FAMILIES: dict[str, tuple[type[SinaPageV2016], ...]] = {
    "finance": (SinaPageV2016, SinaPageV2018),
    "news": (SinaPageV2016, SinaNewsV2018),
    "mobile": (SinaMobileV2018,),
}
ALL_VERSIONS: tuple[type[SinaPageV2016], ...] = (SinaPageV2018, SinaNewsV2018, SinaPageV2016, SinaMobileV2018)


def family_for(url: str) -> str:
    host = urlsplit(url).netloc.lower() if url else ""
    if host.endswith("sina.cn") or "detail-i" in url:
        return "mobile"
    if host.startswith("news.") or host.startswith("mil.") or host.startswith("sports."):
        return "news"
    return "finance"


def page_date(doc: etree._Element, url: str, fetched_at: datetime) -> date:
    """The date that picks the parser version: the URL's date, the page's own metadata, else fetch day."""
    m = _URL_DATE_RE.search(url or "")
    if m:
        try:
            return date(int(m.group("y")), int(m.group("m")), int(m.group("d")))
        except ValueError:
            pass
    for key in ("article:published_time", "weibo: article:create_at"):
        value = _meta(doc, key)
        when = (parse_iso_time(value) or parse_beijing_time(value)) if value else None
        if when is not None:
            return when.date()
    return fetched_at.date()


def candidates(doc: etree._Element, url: str, fetched_at: datetime) -> list[type[SinaPageV2016]]:
    """Versions to try: the one the date picks in the URL's family, then the rest (layouts did not
    switch on the same day on every channel: tech still used #artibodyTitle in 2019)."""
    when = page_date(doc, url, fetched_at)
    family = FAMILIES[family_for(url)]
    valid = [v for v in family if v.VALID_FROM <= when] or list(family)
    ordered = [valid[-1]] + [v for v in reversed(family) if v is not valid[-1]]
    return ordered + [v for v in ALL_VERSIONS if v not in ordered]


def parse_document(text: str, url: str) -> etree._Element:
    text = strip_controls(text)
    # lxml refuses str input that still carries an XML encoding declaration.
    text = re.sub(r"^\s*<\?xml[^>]*>", "", text)
    if not text.strip():
        raise ParseError(url, "sina.page", "html", "empty document")
    try:
        return lxml.html.document_fromstring(text)
    except (etree.ParserError, ValueError) as exc:
        raise ParseError(url, "sina.page", "html", f"unparseable HTML: {exc}") from exc


def parse_article_page(
    body: bytes, url: str, fetched_at: datetime, headers: Mapping[str, str] | None = None
) -> Article:
    """A Sina article page (any layout in docs/sina.md) as an Article; ParseError when it is not one."""
    text, encoding = decode_html(body, headers, url=url)
    doc = parse_document(text, url)
    tried: list[str] = []
    for version in candidates(doc, url, fetched_at):
        parser = version(doc, url)
        if parser.matches():
            article = parser.parse()
            article.extra["encoding"] = encoding
            return article
        tried.append(version.VERSION)
    first = candidates(doc, url, fetched_at)[0]
    parser = first(doc, url)
    field = "title" if parser._title_el is None else "body"
    raise ParseError(url, first.VERSION, field, f"no known layout matched (tried {', '.join(tried)})")
