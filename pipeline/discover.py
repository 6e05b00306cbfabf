"""Discover: list the feed items of a window [start, end) from Sina's roll API, the 7x24 feed, RSS, or Hexo posts."""

from __future__ import annotations

import hashlib
import json
import logging
import re
import xml.sax
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypedDict

from pipeline.errors import DiscoverError, FetchError
from pipeline.fetch import Fetcher
from pipeline.identity import (
    FrontMatterError,
    canonicalize_url,
    comos_docid,
    docid_from_url,
    parse_beijing_time,
    read_front_matter,
    unwrap_rss_redirect,
)
from pipeline.models import FeedItem

log = logging.getLogger(__name__)

_JSONP_RE = re.compile(r"^\s*(?:try\s*\{\s*)?[\w$.]+\s*\(\s*(?P<body>.*)\s*\)\s*;?\s*(?:\}\s*catch\s*\(\s*\w+\s*\)\s*\{\s*\}\s*;?)?\s*$", re.S)


@dataclass(frozen=True)
class Window:
    """A half-open time window [start, end) in UTC; an item exactly at `end` belongs to the next one."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("window bounds must be timezone-aware")
        if self.end <= self.start:
            raise ValueError(f"empty window [{self.start}, {self.end})")

    def __contains__(self, when: object) -> bool:
        return isinstance(when, datetime) and self.start <= when < self.end

    def widened(self, overlap: timedelta) -> Window:
        return Window(self.start - overlap, self.end)


class RollItem(TypedDict, total=False):
    docid: str
    title: str
    intro: str
    url: str
    wapurl: str
    ctime: str
    intime: str
    mtime: str
    media_name: str
    author: str
    keywords: str
    lids: str
    img: Any
    images: list[dict[str, Any]]


@dataclass
class DiscoverResult:
    items: list[FeedItem]
    errors: list[DiscoverError]  # per-source failures: the run goes on, each becomes a dead letter
    truncated: list[str]  # sources whose page limit was hit while still inside the window


def strip_jsonp(text: str) -> str:
    """Plain JSON passes through; `cb({...})` and `try{cb({...});}catch(e){};` lose their wrapper."""
    stripped = text.strip()
    if stripped.startswith(("{", "[")):
        return stripped
    m = _JSONP_RE.match(stripped)
    return m.group("body") if m else stripped


def load_json(body: bytes, source: str) -> Any:
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = body.decode("gb18030", errors="strict")
    try:
        return json.loads(strip_jsonp(text))
    except json.JSONDecodeError as exc:
        raise DiscoverError(source, f"malformed JSON ({exc.msg} at char {exc.pos})") from exc


def unix_time(value: Any) -> datetime | None:
    """Sina sends Unix seconds as strings (sometimes numbers, sometimes empty)."""
    if value in (None, "", 0, "0"):
        return None
    try:
        return datetime.fromtimestamp(int(float(value)), UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return None


# --- roll JSON API ---------------------------------------------------------------------------------


def roll_source(pageid: int, lid: int) -> str:
    return f"roll:{pageid}:{lid}"


def roll_item_to_feed_item(item: RollItem, source: str) -> FeedItem | None:
    url = (item.get("url") or item.get("wapurl") or "").strip()
    when = unix_time(item.get("ctime")) or unix_time(item.get("intime"))
    if not url or when is None:
        return None
    docid = (item.get("docid") or "").strip() or docid_from_url(url)
    if docid and ":" not in docid:
        docid = comos_docid(docid)
    return FeedItem(
        source=source,
        item_key=docid or canonicalize_url(url),
        kind="sina_page",
        url=url,
        docid=docid,
        title=str(item.get("title") or "").strip(),
        published_at=when,
        payload=dict(item),
    )


def discover_roll_pair(fetcher: Fetcher, pageid: int, lid: int, window: Window) -> tuple[list[FeedItem], bool]:
    """Page back through one (pageid, lid) until ctime leaves the window, a page is empty, or the limit.

    Returns the items in the window and whether the page limit cut the listing short.
    """
    s = fetcher.settings
    source = roll_source(pageid, lid)
    url = f"{s.roll_base}/api/roll/get"
    found: dict[str, FeedItem] = {}
    for page in range(1, s.max_pages + 1):
        params = {"pageid": pageid, "lid": lid, "num": s.page_size, "page": page, "k": ""}
        try:
            body, _ = fetcher.get_bytes(url, params=params)
        except FetchError as exc:
            raise DiscoverError(source, f"page {page}: {exc.reason}") from exc
        payload = load_json(body, source)
        result = payload.get("result") if isinstance(payload, dict) else None
        if not isinstance(result, dict):
            raise DiscoverError(source, f"page {page}: no 'result' object")
        status = result.get("status") or {}
        if isinstance(status, dict) and status.get("code") not in (0, "0", None):
            raise DiscoverError(source, f"API status {status.get('code')}: {status.get('msg')}")
        data = result.get("data") or []
        if not isinstance(data, list):
            raise DiscoverError(source, f"page {page}: 'data' is not a list")
        if not data:
            return list(found.values()), False
        oldest: datetime | None = None
        for raw in data:
            if not isinstance(raw, dict):
                continue
            item = roll_item_to_feed_item(raw, source)  # type: ignore[arg-type]
            if item is None:
                log.warning("%s: item without url or time skipped: %r", source, raw.get("title"))
                continue
            assert item.published_at is not None
            oldest = item.published_at if oldest is None else min(oldest, item.published_at)
            if item.published_at in window:
                found.setdefault(item.item_key, item)
        if oldest is not None and oldest < window.start:
            return list(found.values()), False
    return list(found.values()), True


# --- 7x24 live feed --------------------------------------------------------------------------------


def zhibo_source(zhibo_id: int) -> str:
    return f"zhibo:{zhibo_id}"


def discover_zhibo(fetcher: Fetcher, zhibo_id: int, window: Window) -> tuple[list[FeedItem], bool]:
    s = fetcher.settings
    source = zhibo_source(zhibo_id)
    url = f"{s.zhibo_base}/api/zhibo/feed"
    found: dict[str, FeedItem] = {}
    for page in range(1, s.max_pages + 1):
        params = {
            "zhibo_id": zhibo_id, "page": page, "page_size": min(s.page_size, 100),
            "tag_id": 0, "dire": "f", "dpc": 1, "type": 1,
        }  # fmt: skip
        try:
            body, _ = fetcher.get_bytes(url, params=params)
        except FetchError as exc:
            raise DiscoverError(source, f"page {page}: {exc.reason}") from exc
        payload = load_json(body, source)
        try:
            entries = payload["result"]["data"]["feed"]["list"]
        except (KeyError, TypeError) as exc:
            raise DiscoverError(source, f"page {page}: no result.data.feed.list") from exc
        if not isinstance(entries, list):
            raise DiscoverError(source, f"page {page}: feed.list is not a list")
        if not entries:
            return list(found.values()), False
        oldest: datetime | None = None
        for raw in entries:
            if not isinstance(raw, dict) or raw.get("id") in (None, ""):
                continue
            created = raw.get("create_time")
            when = parse_beijing_time(created) if isinstance(created, str) else None
            if when is None:
                continue
            oldest = when if oldest is None else min(oldest, when)
            if when in window:
                key = str(raw["id"])
                text = re.sub(r"<[^>]+>", "", str(raw.get("rich_text") or ""))
                found.setdefault(
                    key,
                    FeedItem(
                        source=source,
                        item_key=key,
                        kind="zhibo_flash",
                        url=None,
                        docid=f"zhibo:{key}",
                        title=text[:60],
                        published_at=when,
                        payload=dict(raw),
                    ),
                )
        if oldest is not None and oldest < window.start:
            return list(found.values()), False
    return list(found.values()), True


# --- RSS / Atom ------------------------------------------------------------------------------------


def discover_rss(fetcher: Fetcher, feed_url: str, window: Window) -> list[FeedItem]:
    """Any RSS/Atom feed (e.g. an RSSHub route like /sina/finance/china/1686) through feedparser."""
    import feedparser

    source = f"rss:{feed_url}"
    try:
        body, _ = fetcher.get_bytes(feed_url)
    except FetchError as exc:
        raise DiscoverError(source, exc.reason) from exc
    parsed = feedparser.parse(body)
    problem = parsed.get("bozo_exception")
    # A wrong declared charset or content type is survivable; broken XML may have lost items, so the
    # whole (source, window) becomes a dead letter and is retried, rather than half-read.
    if parsed.bozo and (not parsed.entries or isinstance(problem, xml.sax.SAXException)):
        raise DiscoverError(source, f"malformed feed: {problem}")
    items: list[FeedItem] = []
    for entry in parsed.entries:
        link = entry.get("link")
        stamp = entry.get("published_parsed") or entry.get("updated_parsed")
        if not link or not stamp:
            continue
        when = datetime(*stamp[:6]).replace(tzinfo=UTC)
        if when not in window:
            continue
        url = unwrap_rss_redirect(link)
        docid = docid_from_url(url)
        items.append(
            FeedItem(
                source=source,
                item_key=docid or canonicalize_url(url),
                kind="sina_page",
                url=url,
                docid=docid,
                title=str(entry.get("title") or "").strip(),
                published_at=when,
                payload={"guid": entry.get("id"), "summary": entry.get("summary"), "link": link},
            )
        )
    return items


def discover_window(fetcher: Fetcher, window: Window) -> DiscoverResult:
    """Every configured source for one window; one failing source does not stop the others."""
    s = fetcher.settings
    result = DiscoverResult(items=[], errors=[], truncated=[])
    for pageid, lid in s.roll_pairs:
        try:
            items, cut = discover_roll_pair(fetcher, pageid, lid, window)
            result.items.extend(items)
            if cut:
                result.truncated.append(roll_source(pageid, lid))
        except DiscoverError as exc:
            result.errors.append(exc)
    for zid in s.zhibo_ids:
        try:
            items, cut = discover_zhibo(fetcher, zid, window)
            result.items.extend(items)
            if cut:
                result.truncated.append(zhibo_source(zid))
        except DiscoverError as exc:
            result.errors.append(exc)
    for feed_url in s.rss_urls:
        try:
            result.items.extend(discover_rss(fetcher, feed_url, window))
        except DiscoverError as exc:
            result.errors.append(exc)
    return result


def discover_source(fetcher: Fetcher, source: str, window: Window) -> list[FeedItem]:
    """Re-run one named source (used to retry a source that failed in an earlier run)."""
    kind, _, rest = source.partition(":")
    if kind == "roll":
        pageid, lid = (int(x) for x in rest.split(":"))
        return discover_roll_pair(fetcher, pageid, lid, window)[0]
    if kind == "zhibo":
        return discover_zhibo(fetcher, int(rest), window)[0]
    if kind == "rss":
        return discover_rss(fetcher, rest, window)
    raise DiscoverError(source, "unknown source kind")


# --- Hexo archive ----------------------------------------------------------------------------------


def discover_hexo_dir(directory: Path) -> Iterator[FeedItem]:
    """Every `*.md` post below `directory`, in path order.

    item_key = path relative to the folder + a digest of the content: the same file imported again
    is the same item, while two archives with a post of the same name (the RSSHub archives were
    forked) stay two items.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise DiscoverError(f"hexo:{directory.name}", "not a folder")
    for path in sorted(directory.rglob("*.md")):
        rel = path.relative_to(directory).as_posix()
        body = path.read_bytes()
        digest = hashlib.sha256(body).hexdigest()[:16]
        title, when = path.stem, None
        try:
            front = read_front_matter(body.decode("utf-8", errors="replace"))
            title, when = front.text("title") or title, front.published_at
        except FrontMatterError:
            pass  # listed under its file name; the parse stage records why it is unreadable
        yield FeedItem(
            source="hexo",
            item_key=f"{rel}#{digest}",
            kind="hexo_post",
            url=None,
            docid=None,
            title=title,
            published_at=when,
            payload={"path": str(path.resolve())},
        )
