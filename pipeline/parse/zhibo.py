"""7x24 flashes from zhibo.sina.com.cn/api/zhibo/feed (docs/sina.md, "7x24 feed"): one list item, one Article."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from lxml import etree

from pipeline import textnorm
from pipeline.errors import ParseError
from pipeline.identity import docid_from_url, parse_beijing_time
from pipeline.models import Article, StockRef
from pipeline.parse.body import merge_stocks, paragraphs_of, stock_code
from pipeline.parse.sanitize import parse_fragment, remove_boilerplate, sanitize_element, strip_controls

ZHIBO_VERSION = "sina.zhibo.v1"

_HEADLINE_RE = re.compile(r"^\s*【(?P<headline>[^【】]{1,200})】\s*")
_SENTENCE_END_RE = re.compile(r"[。！？!?；;]")
_TITLE_CHARS = 30


def _fail(item_id: str, field: str, reason: str) -> ParseError:
    return ParseError(f"zhibo:{item_id}", ZHIBO_VERSION, field, reason)


def _ext(raw: Any) -> dict[str, Any]:
    if isinstance(raw, dict):
        return raw
    if not isinstance(raw, str) or not raw.strip():
        return {}
    try:
        value = json.loads(raw)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _stocks(ext: Mapping[str, Any]) -> list[StockRef]:
    out: list[StockRef] = []
    raw = ext.get("stocks")
    if not isinstance(raw, list):
        return out
    for s in raw:
        if not isinstance(s, Mapping):
            continue
        symbol = s.get("symbol")
        if not isinstance(symbol, str | int) or not str(symbol).strip():
            continue
        market = s.get("market") if isinstance(s.get("market"), str) else ""
        name = s.get("key") if isinstance(s.get("key"), str) else None
        out.append(
            StockRef(stock_code(str(market), str(symbol)), textnorm.clean_text(name) if name else None)
        )
    return out


def _title(text: str) -> tuple[str, str | None]:
    """The 【headline】 when there is one; else the first sentence, cut to about 30 characters."""
    m = _HEADLINE_RE.match(text)
    if m:
        headline = textnorm.clean_text(m.group("headline"))
        if headline:
            return headline, headline
    first = _SENTENCE_END_RE.split(text, maxsplit=1)[0].strip() or text
    if len(first) > _TITLE_CHARS:
        first = first[:_TITLE_CHARS].rstrip() + "…"
    return first, None


def parse_zhibo_item(item: Mapping[str, Any]) -> Article:
    if not isinstance(item, Mapping):
        raise ParseError("zhibo:?", ZHIBO_VERSION, "item", "not a JSON object")
    raw_id = item.get("id")
    if not isinstance(raw_id, int | str) or isinstance(raw_id, bool) or not str(raw_id).strip():
        raise _fail("?", "id", "missing id")
    item_id = str(raw_id).strip()
    rich = item.get("rich_text")
    if not isinstance(rich, str) or not rich.strip():
        raise _fail(item_id, "rich_text", "missing text")
    try:
        container = parse_fragment(rich.replace("\n", "<br>"))
    except (etree.ParserError, ValueError) as exc:
        raise _fail(item_id, "rich_text", f"unparseable: {exc}") from exc
    remove_boilerplate(container)
    paragraphs = tuple(paragraphs_of(container))
    if not paragraphs:
        raise _fail(item_id, "rich_text", "no text")
    full = " ".join(paragraphs)
    title, _headline = _title(full)
    ext = _ext(item.get("ext"))
    docurl = item.get("docurl") if isinstance(item.get("docurl"), str) else None
    docurl = docurl or (ext.get("docurl") if isinstance(ext.get("docurl"), str) else None)
    tags = item.get("tag")
    keywords: list[str] = []
    if isinstance(tags, list):
        for tag in tags:
            if isinstance(tag, Mapping) and isinstance(tag.get("name"), str):
                name = textnorm.clean_text(strip_controls(tag["name"]))
                if name and name not in keywords:
                    keywords.append(name)
    extra: dict[str, Any] = {"zhibo_id": item.get("zhibo_id"), "tag_ids": [], "creator": item.get("creator")}
    if isinstance(tags, list):
        extra["tag_ids"] = [t.get("id") for t in tags if isinstance(t, Mapping)]
    created = item.get("create_time")
    linked = docid_from_url(docurl) or (ext.get("docid") if isinstance(ext.get("docid"), str) else None)
    if linked:
        extra["linked_docid"] = linked
    return Article(
        url=docurl.strip() if docurl and docurl.strip().startswith(("http://", "https://")) else None,
        docid=f"zhibo:{item_id}",
        title=strip_controls(title),
        original_title=None,
        published_at=parse_beijing_time(created) if isinstance(created, str) else None,
        media="新浪财经7x24",
        author=None,
        # creator is a staff login (an e-mail address), not a name to show as editor
        editor=None,
        keywords=tuple(keywords),
        stocks=merge_stocks(_stocks(ext)),
        paragraphs=paragraphs,
        body_html=sanitize_element(container),
        images=(),
        kind="zhibo_flash",
        parser_version=ZHIBO_VERSION,
        extra=extra,
    )
