"""Typed domain objects handed between the stages (all frozen)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any


@dataclass(frozen=True)
class FeedItem:
    """One entry a feed listed. `source` names the feed, `item_key` is stable within it."""

    source: str  # e.g. "roll:155:1686", "zhibo:152", "rss:<url>", "hexo"
    item_key: str  # docid for roll items, zhibo id, RSS guid/link, archive-relative path
    kind: str  # "sina_page" (fetch url), "zhibo_flash" (payload is the article), "hexo_post" (payload["path"]: the post file, read at fetch)
    url: str | None
    docid: str | None
    title: str
    published_at: datetime | None  # UTC, tz-aware
    payload: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)


@dataclass(frozen=True)
class RawPage:
    """Bytes as fetched (or as read from an archive), enough to parse again later."""

    url: str
    kind: str  # "sina_page" | "zhibo_flash" | "hexo_post"
    body: bytes
    headers: dict[str, str]
    status_code: int
    fetched_at: datetime
    final_url: str | None = None

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.body).hexdigest()


@dataclass(frozen=True)
class StockRef:
    code: str  # market prefix + symbol, lower case: "sz300024", "bj835670", "usstock:jpm", "hk00700"
    name: str | None  # the anchor text the page linked, e.g. "机器人"


@dataclass(frozen=True)
class StockLink:
    """One way an article was linked to a stock (pipeline.tag.stocks): provenance and confidence."""

    code: str  # as StockRef.code: "sh600519", "sz300024", "bj835670", "hk00700", "usstock:jpm"
    name: str | None  # the short name the link gives, when it gives one
    via: str  # "code_in_text" | "feed_ext" | "name_in_text" | "page_tag" | "page_keywords"
    confidence: float  # 0..1
    evidence: str  # the words that decided it
    offset: int  # of evidence in title + "\n" + body_text; -1 when the text does not hold it


@dataclass(frozen=True)
class Image:
    url: str
    caption: str | None = None


@dataclass(frozen=True)
class Article:
    """One parsed article. Every text field is already NFC, no U+FFFD."""

    url: str | None
    docid: str | None  # "comos:<ID>" for Sina pages, "zhibo:<id>" for flashes, None for archive posts
    title: str
    original_title: str | None
    published_at: datetime | None  # UTC, tz-aware
    media: str | None
    author: str | None
    editor: str | None
    keywords: tuple[str, ...]
    stocks: tuple[StockRef, ...]
    paragraphs: tuple[str, ...]
    body_html: str  # sanitized
    images: tuple[Image, ...]
    kind: str  # "sina_page" | "zhibo_flash" | "hexo_post": the parser that made it
    parser_version: str
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)
    # "text"; or, for a page whose body is only a player or only pictures (infographics), "video" or
    # "gallery", with empty paragraphs. The media are then all the article has: media_urls lists them.
    content_kind: str = "text"
    media_urls: tuple[str, ...] = ()  # video, poster and image URLs, in page order

    @property
    def body_text(self) -> str:
        return "\n".join(self.paragraphs)


@dataclass(frozen=True)
class Tag:
    """One tag with the evidence that put it there."""

    kind: str  # "policy", "statistics_release", "issuer", "doc_type", "policy_title", "action", "period", "topic", "region", "stock"
    value: str
    score: float
    evidence: str  # the matched span
    offset: int  # char offset of the span in title + "\n" + body_text; -1 if from metadata
    tagger_version: str


@dataclass(frozen=True)
class DocNumber:
    """A 发文字号 as printed (国办发〔2021〕22号) and its parts: 机关代字, year, sequence number."""

    text: str
    agency_code: str
    year: int
    seq: int


@dataclass(frozen=True)
class PolicyMention:
    """One policy document an article is about, as `pipeline.tag.records` read it from that article."""

    key: str  # record key: the folded document title, carrier stripped
    title: str  # the document's own title, without 《》 and without its carrier
    doc_type: str | None  # 规划, 意见, 办法 ...
    carrier: str | None  # 通知 when a 通知 印发s it
    is_draft: bool  # （征求意见稿）
    number: DocNumber | None
    issuers: tuple[tuple[str, str], ...]  # (name, level: 中央/部委/省/市)
    signed_on: date | None  # 成文日期
    published_on: date | None  # the day the article says it was issued
    effective_on: date | None  # 施行
    periods: tuple[str, ...]
    topics: tuple[str, ...]
    role: str  # "full_text" | "explains" | "reports"
    evidence: str  # the title as written
    offset: int  # of the title in title + "\n" + body_text
    version: str  # records version that read it
