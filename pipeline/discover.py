"""Sources: the roll API pairs, the 7x24 feeds, RSS/Atom feeds and Hexo folders, each listing its items for a range.

A source is an object with a `name` (the `feed_items.source` of what it lists, built here once) and
`list_items(since, until)`, which pages newest-first through the feed until it passes `since`
(one paging loop, `PagedSource.list_items`, for every paged feed). Adding a source: a `PagedSource`
subclass that turns one page into feed items, and a line in `configured_sources` / `source_named`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import xml.sax
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol, TypedDict

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
    truncated: list[str]  # sources whose page limit was hit while still inside the range
    listings: dict[str, tuple[datetime, Listing]] = field(default_factory=dict)  # name -> (since, listing)


@dataclass(frozen=True)
class Listing:
    """What a source listed for a range: its items there, whether the page limit cut it short, and
    whether the feed still reached back to `since` (else what lies between `since` and `oldest` is no
    longer listed: a coverage gap when `since` was the source's cursor)."""

    items: list[FeedItem]
    truncated: bool
    reached: bool = True
    oldest: datetime | None = None  # the oldest item the feed listed, in the range or not


@dataclass(frozen=True)
class Page:
    """One page of a feed: its items as listed (newest first), and whether it is the feed's last page."""

    items: list[FeedItem]
    last: bool


class Source(Protocol):
    name: str

    def list_items(self, since: datetime, until: datetime) -> Listing:
        """The items published in [since, until); raises DiscoverError when the feed cannot be read."""
        ...


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


# --- the paging loop ------------------------------------------------------------------------------


class PagedSource(ABC):
    """A feed read page by page, newest first: page 1 holds the latest items."""

    name: str

    def __init__(self, fetcher: Fetcher, name: str) -> None:
        self.fetcher = fetcher
        self.name = name

    @abstractmethod
    def read_page(self, page: int) -> Page:
        """Fetch and convert page `page` (1-based); raises DiscoverError naming the page when it is unusable."""

    def list_items(self, since: datetime, until: datetime) -> Listing:
        """Page back until a page reaches past `since`, the feed ends, or the page limit (then truncated)."""
        found: dict[str, FeedItem] = {}
        oldest: datetime | None = None
        for number in range(1, self.fetcher.settings.max_pages + 1):
            page = self.read_page(number)
            for item in page.items:
                assert item.published_at is not None  # read_page drops items without a time
                oldest = item.published_at if oldest is None else min(oldest, item.published_at)
                if since <= item.published_at < until:
                    found.setdefault(item.item_key, item)
            reached = oldest is not None and oldest <= since
            if page.last or reached:
                return Listing(list(found.values()), truncated=False, reached=reached, oldest=oldest)
        return Listing(list(found.values()), truncated=True, reached=False, oldest=oldest)

    def _get_json(self, url: str, params: dict[str, Any], page: int) -> Any:
        try:
            body, _ = self.fetcher.get_bytes(url, params=params)
        except FetchError as exc:
            raise DiscoverError(self.name, f"page {page}: {exc.reason}") from exc
        return load_json(body, self.name)


# --- roll JSON API ---------------------------------------------------------------------------------


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


class RollSource(PagedSource):
    """One registered (pageid, lid) pair of the roll API."""

    def __init__(self, fetcher: Fetcher, pageid: int, lid: int) -> None:
        super().__init__(fetcher, f"roll:{pageid}:{lid}")
        self.pageid, self.lid = pageid, lid

    def read_page(self, page: int) -> Page:
        s = self.fetcher.settings
        params = {"pageid": self.pageid, "lid": self.lid, "num": s.page_size, "page": page, "k": ""}
        payload = self._get_json(f"{s.roll_base}/api/roll/get", params, page)
        result = payload.get("result") if isinstance(payload, dict) else None
        if not isinstance(result, dict):
            raise DiscoverError(self.name, f"page {page}: no 'result' object")
        status = result.get("status") or {}
        if isinstance(status, dict) and status.get("code") not in (0, "0", None):
            raise DiscoverError(self.name, f"API status {status.get('code')}: {status.get('msg')}")
        data = result.get("data") or []
        if not isinstance(data, list):
            raise DiscoverError(self.name, f"page {page}: 'data' is not a list")
        items = []
        for raw in data:
            if not isinstance(raw, dict):
                continue
            item = roll_item_to_feed_item(raw, self.name)  # type: ignore[arg-type]
            if item is None:
                log.warning("%s: item without url or time skipped: %r", self.name, raw.get("title"))
                continue
            items.append(item)
        return Page(items, last=not data)


# --- 7x24 live feed --------------------------------------------------------------------------------


class ZhiboSource(PagedSource):
    """One 7x24 live feed (zhibo_id); its flashes are articles in themselves, nothing to fetch."""

    def __init__(self, fetcher: Fetcher, zhibo_id: int) -> None:
        super().__init__(fetcher, f"zhibo:{zhibo_id}")
        self.zhibo_id = zhibo_id

    def read_page(self, page: int) -> Page:
        s = self.fetcher.settings
        params = {
            "zhibo_id": self.zhibo_id, "page": page, "page_size": min(s.page_size, 100),
            "tag_id": 0, "dire": "f", "dpc": 1, "type": 1,
        }  # fmt: skip
        payload = self._get_json(f"{s.zhibo_base}/api/zhibo/feed", params, page)
        try:
            entries = payload["result"]["data"]["feed"]["list"]
        except (KeyError, TypeError) as exc:
            raise DiscoverError(self.name, f"page {page}: no result.data.feed.list") from exc
        if not isinstance(entries, list):
            raise DiscoverError(self.name, f"page {page}: feed.list is not a list")
        items = []
        for raw in entries:
            if not isinstance(raw, dict) or raw.get("id") in (None, ""):
                continue
            created = raw.get("create_time")
            when = parse_beijing_time(created) if isinstance(created, str) else None
            if when is None:
                continue
            key = str(raw["id"])
            text = re.sub(r"<[^>]+>", "", str(raw.get("rich_text") or ""))
            items.append(
                FeedItem(
                    source=self.name,
                    item_key=key,
                    kind="zhibo_flash",
                    url=None,
                    docid=f"zhibo:{key}",
                    title=text[:60],
                    published_at=when,
                    payload=dict(raw),
                )
            )
        return Page(items, last=not entries)


# --- RSS / Atom ------------------------------------------------------------------------------------


class RssSource(PagedSource):
    """Any RSS/Atom feed (e.g. an RSSHub route like /sina/finance/china/1686) through feedparser: one page."""

    def __init__(self, fetcher: Fetcher, feed_url: str) -> None:
        super().__init__(fetcher, f"rss:{feed_url}")
        self.feed_url = feed_url

    def read_page(self, page: int) -> Page:
        import feedparser

        try:
            body, _ = self.fetcher.get_bytes(self.feed_url)
        except FetchError as exc:
            raise DiscoverError(self.name, exc.reason) from exc
        parsed = feedparser.parse(body)
        problem = parsed.get("bozo_exception")
        # A wrong declared charset or content type is survivable; broken XML may have lost items, so the
        # whole (source, window) becomes a dead letter and is retried, rather than half-read.
        if parsed.bozo and (not parsed.entries or isinstance(problem, xml.sax.SAXException)):
            raise DiscoverError(self.name, f"malformed feed: {problem}")
        items: list[FeedItem] = []
        for entry in parsed.entries:
            link = entry.get("link")
            stamp = entry.get("published_parsed") or entry.get("updated_parsed")
            if not link or not stamp:
                continue
            url = unwrap_rss_redirect(link)
            docid = docid_from_url(url)
            items.append(
                FeedItem(
                    source=self.name,
                    item_key=docid or canonicalize_url(url),
                    kind="sina_page",
                    url=url,
                    docid=docid,
                    title=str(entry.get("title") or "").strip(),
                    published_at=datetime(*stamp[:6]).replace(tzinfo=UTC),
                    payload={"guid": entry.get("id"), "summary": entry.get("summary"), "link": link},
                )
            )
        return Page(items, last=True)  # a feed document is all there is: no older page to ask for


# --- every configured source -----------------------------------------------------------------------


def configured_sources(fetcher: Fetcher) -> list[PagedSource]:
    """The sources the settings name, in a fixed order: roll pairs, 7x24 feeds, RSS feeds."""
    s = fetcher.settings
    sources: list[PagedSource] = [RollSource(fetcher, pageid, lid) for pageid, lid in s.roll_pairs]
    sources += [ZhiboSource(fetcher, zid) for zid in s.zhibo_ids]
    sources += [RssSource(fetcher, url) for url in s.rss_urls]
    return sources


def source_named(fetcher: Fetcher, name: str) -> PagedSource:
    """The source a `feed_items.source` / dead-letter name stands for (to retry one that failed)."""
    kind, _, rest = name.partition(":")
    try:
        if kind == "roll":
            pageid, lid = (int(x) for x in rest.split(":"))
            return RollSource(fetcher, pageid, lid)
        if kind == "zhibo":
            return ZhiboSource(fetcher, int(rest))
    except ValueError as exc:
        raise DiscoverError(name, "malformed source name") from exc
    if kind == "rss":
        return RssSource(fetcher, rest)
    raise DiscoverError(name, "unknown source kind")


def discover_window(
    sources: list[PagedSource], window: Window, since: Mapping[str, datetime] | None = None
) -> DiscoverResult:
    """Every given source up to the window's end, from its start or, for a source named in `since`, from
    that earlier time (its cursor); one failing source does not stop the others."""
    result = DiscoverResult(items=[], errors=[], truncated=[])
    for source in sources:
        start = min(window.start, (since or {}).get(source.name, window.start))
        try:
            listing = source.list_items(start, window.end)
        except DiscoverError as exc:
            result.errors.append(exc)
            continue
        result.listings[source.name] = (start, listing)
        result.items.extend(listing.items)
        if listing.truncated:
            result.truncated.append(source.name)
    return result


# --- Hexo archive ----------------------------------------------------------------------------------

class ArchiveFolder:
    """A folder of Hexo posts (an RSSHub archive): every `*.md` below it, in path order.

    Every folder is the one source "hexo": item_key = path relative to the folder + a digest of the
    content, so the same file imported again is the same item, while two archives with a post of the
    same name (the RSSHub archives were forked) stay two items.
    """

    name = "hexo"

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)

    def list_items(self, since: datetime, until: datetime) -> Listing:
        """The posts dated in [since, until) (read whole: for a folder of any size, stream `iter_items`)."""
        items = [it for it in self.iter_items() if it.published_at and since <= it.published_at < until]
        return Listing(items, truncated=False)

    def iter_items(self) -> Iterator[FeedItem]:
        """Every post, dated or not, one at a time (memory stays flat for 100k posts)."""
        directory = self.directory
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
                source=self.name,
                item_key=f"{rel}#{digest}",
                kind="hexo_post",
                url=None,
                docid=None,
                title=title,
                published_at=when,
                payload={"path": str(path.resolve())},
            )
