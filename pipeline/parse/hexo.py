"""Posts of the RSSHub-to-Hexo archive (docs/sina.md, "The RSSHub archives"): front matter, then the page's #artibody HTML."""

from __future__ import annotations

from typing import Any

from lxml import etree

from pipeline import textnorm
from pipeline.errors import ParseError
from pipeline.identity import FrontMatterError, read_front_matter
from pipeline.models import Article
from pipeline.parse.body import content_kind, extract_body, is_chrome_image, media_urls
from pipeline.parse.decode import decode_html
from pipeline.parse.sanitize import parse_fragment, strip_controls

HEXO_VERSION = "hexo.rsshub.v1"


def _fail(path: str, field: str, reason: str) -> ParseError:
    return ParseError(path, HEXO_VERSION, field, reason)


def _as_list(values: list[str]) -> list[str]:
    return [textnorm.clean_text(strip_controls(v)) for v in values]


def parse_hexo_post(body: bytes, path: str) -> Article:
    """One archive post. title = the 原标题 line when the body has one, else the repaired front-matter
    title; url and docid are None because the archive kept neither."""
    text, _encoding = decode_html(body, None, url=path)
    try:
        front = read_front_matter(strip_controls(text))
    except FrontMatterError as exc:
        raise _fail(path, "front_matter", str(exc)) from exc
    raw_title = front.text("title")
    front_title = textnorm.repair_archive_title(raw_title) if raw_title else ""
    try:
        container = parse_fragment(front.body)
    except (etree.ParserError, ValueError) as exc:
        raise _fail(path, "body", f"unparseable body HTML: {exc}") from exc
    # The generator wraps the description in <div>: descend into a lone wrapper.
    if len(container) == 1 and container[0].tag == "div" and not (container.text or "").strip():
        container = container[0]
    parts = extract_body(container)
    title = parts.original_title or front_title
    if not title:
        raise _fail(path, "title", "no title in front matter and no 原标题 line")
    kind = content_kind(parts)
    if kind is None:
        raise _fail(path, "body", "post body holds no text and no media")
    extra: dict[str, Any] = {
        "categories": _as_list(front.texts("categories")),
        "tags": _as_list(front.texts("tags")),
        "archive_title": textnorm.clean_text(raw_title) if raw_title else None,
        "archive_author": front.text("author"),
        "archive_date": front.text("date"),
    }
    headimg = front.text("headimg") or front.text("thumbnail")
    if headimg and not is_chrome_image(headimg):
        extra["headimg"] = headimg
    images = tuple(img for img in parts.images if not _is_ad_image(img.url, container))
    return Article(
        url=None,
        docid=None,
        title=title,
        original_title=parts.original_title,
        published_at=front.published_at,
        media=parts.source_line_media,
        author=None,
        editor=parts.editor,
        keywords=tuple(dict.fromkeys(_as_list(front.texts("tags")))),
        stocks=parts.stocks,
        paragraphs=parts.paragraphs,
        body_html=parts.body_html,
        images=images,
        kind="hexo_post",
        parser_version=HEXO_VERSION,
        extra=extra,
        content_kind=kind,
        media_urls=media_urls(parts.video_urls, [i.url for i in images]),
    )


def _is_ad_image(url: str, container: etree._Element) -> bool:
    return is_chrome_image(url)
