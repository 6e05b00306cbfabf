"""Parse: pure functions from stored bytes (pages, archive posts, 7x24 items) to typed Articles."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

from pipeline.errors import ParseError
from pipeline.identity import has_front_matter
from pipeline.models import Article, RawPage
from pipeline.parse.decode import decode_html
from pipeline.parse.hexo import HEXO_VERSION, parse_hexo_post
from pipeline.parse.sanitize import sanitize_html
from pipeline.parse.sina import parse_article_page
from pipeline.parse.zhibo import ZHIBO_VERSION, parse_zhibo_item

log = logging.getLogger(__name__)

__all__ = [
    "HEXO_VERSION",
    "ZHIBO_VERSION",
    "decode_html",
    "detect_and_parse",
    "parse_article_page",
    "parse_hexo_post",
    "parse_raw",
    "parse_zhibo_item",
    "sanitize_html",
]


def parse_raw(raw: RawPage) -> Article:
    """Dispatch stored bytes to the parser of their kind."""
    if raw.kind == "sina_page":
        return parse_article_page(raw.body, raw.final_url or raw.url, raw.fetched_at, raw.headers)
    if raw.kind == "hexo_post":
        return parse_hexo_post(raw.body, raw.url)
    if raw.kind == "zhibo_flash":
        try:
            item = json.loads(raw.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise ParseError(raw.url, ZHIBO_VERSION, "json", f"not a JSON item: {exc}") from exc
        if not isinstance(item, dict):
            raise ParseError(raw.url, ZHIBO_VERSION, "json", "not a JSON object")
        return parse_zhibo_item(item)
    raise ParseError(raw.url, "dispatch", "kind", f"unknown kind {raw.kind!r}")


def detect_and_parse(body: bytes, name: str, url: str | None = None) -> Article:
    """For `newsflow parse FILE`: a Hexo post (front matter) or a Sina HTML page, told apart by content."""
    head = body[:512].lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith(b"---"):
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            text = ""
        if has_front_matter(text) or not text:
            return parse_hexo_post(body, name)
    if head.startswith((b"{", b"[")) and url is None:
        try:
            item = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            item = None
        if isinstance(item, dict) and "rich_text" in item:
            return parse_zhibo_item(item)
    return parse_article_page(body, url or name, datetime.now(UTC))
