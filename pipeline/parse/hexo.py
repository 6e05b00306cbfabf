"""Posts of the RSSHub-to-Hexo archive (SINA.md §1): front matter, then the page's #artibody HTML."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from lxml import etree

from pipeline import textnorm
from pipeline.errors import ParseError
from pipeline.models import Article
from pipeline.parse.body import extract_body, is_chrome_image
from pipeline.parse.decode import decode_html
from pipeline.parse.sanitize import parse_fragment, strip_controls

HEXO_VERSION = "hexo.rsshub.v1"

_FRONT_RE = re.compile(r"\A\s*---[ \t]*\r?\n(?P<front>.*?)\r?\n---[ \t]*(?:\r?\n|\Z)(?P<body>.*)\Z", re.S)
_KEY_RE = re.compile(r"^(?P<key>[A-Za-z_][\w-]*)\s*:\s*(?P<value>.*?)\s*$")
_ITEM_RE = re.compile(r"^\s+-\s*(?P<value>.*?)\s*$")


def looks_like_hexo(text: str) -> bool:
    return _FRONT_RE.match(text) is not None


def _scalar(raw: str) -> str:
    """A YAML scalar as the generator wrote it: plain, 'single' ('' escapes ') or "double"."""
    raw = raw.strip()
    if len(raw) >= 2 and raw[0] == raw[-1] == "'":
        return raw[1:-1].replace("''", "'")
    if len(raw) >= 2 and raw[0] == raw[-1] == '"':
        return raw[1:-1].replace('\\"', '"').replace("\\\\", "\\")
    return raw


def parse_front_matter(front: str) -> dict[str, Any]:
    """The subset of YAML the generator emits: `key: scalar` and `key:` followed by `- item` lines."""
    out: dict[str, Any] = {}
    current: str | None = None
    for line in front.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        item = _ITEM_RE.match(line)
        if item and current is not None:
            value = out.get(current)
            if not isinstance(value, list):
                value = []
                out[current] = value
            value.append(_scalar(item.group("value")))
            continue
        m = _KEY_RE.match(line)
        if m:
            current = m.group("key")
            value_raw = m.group("value")
            out[current] = _scalar(value_raw) if value_raw else []
    return out


def _fail(path: str, field: str, reason: str) -> ParseError:
    return ParseError(path, HEXO_VERSION, field, reason)


def _published_at(raw: str) -> datetime | None:
    """RSS pubDate as RSSHub wrote it (`toUTCString()`, e.g. "Tue, 30 Nov 2021 03:05:31 GMT")."""
    if not raw:
        return None
    try:
        value = parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError):
        try:
            value = datetime.fromisoformat(raw)
        except ValueError:
            return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def _as_list(value: Any) -> list[str]:
    if isinstance(value, list):
        return [textnorm.clean_text(strip_controls(str(v))) for v in value if str(v).strip()]
    if isinstance(value, str) and value.strip():
        return [textnorm.clean_text(strip_controls(value))]
    return []


def parse_hexo_post(body: bytes, path: str) -> Article:
    """One archive post. title = the 原标题 line when the body has one, else the repaired front-matter
    title; url and docid are None because the archive kept neither."""
    text, _encoding = decode_html(body, None, url=path)
    m = _FRONT_RE.match(strip_controls(text))
    if not m:
        raise _fail(path, "front_matter", "no --- delimited front matter")
    front = parse_front_matter(m.group("front"))
    raw_title = front.get("title")
    front_title = textnorm.repair_archive_title(raw_title) if isinstance(raw_title, str) else ""
    try:
        container = parse_fragment(m.group("body"))
    except (etree.ParserError, ValueError) as exc:
        raise _fail(path, "body", f"unparseable body HTML: {exc}") from exc
    # The generator wraps the description in <div>: descend into a lone wrapper.
    if len(container) == 1 and container[0].tag == "div" and not (container.text or "").strip():
        container = container[0]
    parts = extract_body(container)
    title = parts.original_title or front_title
    if not title:
        raise _fail(path, "title", "no title in front matter and no 原标题 line")
    if not parts.paragraphs:
        raise _fail(path, "body", "post body holds no text")
    extra: dict[str, Any] = {
        "categories": _as_list(front.get("categories")),
        "tags": _as_list(front.get("tags")),
        "archive_title": textnorm.clean_text(raw_title) if isinstance(raw_title, str) else None,
        "archive_author": front.get("author") if isinstance(front.get("author"), str) else None,
        "archive_date": front.get("date") if isinstance(front.get("date"), str) else None,
    }
    headimg = front.get("headimg") or front.get("thumbnail")
    if isinstance(headimg, str) and headimg and not is_chrome_image(headimg):
        extra["headimg"] = headimg
    date_raw = front.get("date")
    return Article(
        url=None,
        docid=None,
        title=title,
        original_title=parts.original_title,
        published_at=_published_at(date_raw if isinstance(date_raw, str) else ""),
        media=parts.source_line_media,
        author=None,
        editor=parts.editor,
        keywords=tuple(dict.fromkeys(_as_list(front.get("tags")))),
        stocks=parts.stocks,
        paragraphs=parts.paragraphs,
        body_html=parts.body_html,
        images=tuple(img for img in parts.images if not _is_ad_image(img.url, container)),
        kind="hexo_post",
        parser_version=HEXO_VERSION,
        extra=extra,
    )


def _is_ad_image(url: str, container: etree._Element) -> bool:
    return is_chrome_image(url)
