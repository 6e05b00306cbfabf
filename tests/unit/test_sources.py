"""The one paging loop every paged source shares: where it stops, what it keeps, when it says truncated."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from pipeline.config import Settings
from pipeline.discover import (
    Page,
    PagedSource,
    RollSource,
    RssSource,
    ZhiboSource,
    configured_sources,
    source_named,
)
from pipeline.errors import DiscoverError
from pipeline.fetch import Fetcher
from pipeline.models import FeedItem

T0 = datetime(2022, 1, 1, 12, tzinfo=UTC)


def _item(minutes_ago: int) -> FeedItem:
    return FeedItem("test", f"k{minutes_ago}", "sina_page", f"https://x/{minutes_ago}", None, "", T0 - timedelta(minutes=minutes_ago))


class Listed(PagedSource):
    """A feed of one item per minute going back from T0, `per_page` a page, newest first (no network)."""

    def __init__(self, fetcher: Fetcher, per_page: int, depth: int) -> None:
        super().__init__(fetcher, "test")
        self.per_page, self.depth, self.pages_read = per_page, depth, 0

    def read_page(self, page: int) -> Page:
        self.pages_read += 1
        first = (page - 1) * self.per_page
        items = [_item(m) for m in range(first, min(first + self.per_page, self.depth))]
        return Page(items, last=not items)


def _fetcher(max_pages: int = 20) -> Fetcher:
    return Fetcher(dataclasses.replace(Settings(), max_pages=max_pages))


def test_pages_back_until_it_passes_since_and_keeps_the_range_only() -> None:
    source = Listed(_fetcher(), per_page=10, depth=1000)
    listing = source.list_items(T0 - timedelta(minutes=25), T0 - timedelta(minutes=5))
    assert [i.item_key for i in listing.items] == [f"k{m}" for m in range(6, 26)]  # until excluded, since included
    assert not listing.truncated
    assert source.pages_read == 3  # page 3 reaches minute 29, older than since: no page 4


def test_the_end_of_the_feed_is_not_a_truncation() -> None:
    source = Listed(_fetcher(), per_page=10, depth=15)
    listing = source.list_items(T0 - timedelta(days=1), T0 + timedelta(minutes=1))
    assert len(listing.items) == 15 and not listing.truncated


def test_the_page_limit_inside_the_range_is_a_truncation() -> None:
    source = Listed(_fetcher(max_pages=2), per_page=10, depth=1000)
    listing = source.list_items(T0 - timedelta(days=1), T0 + timedelta(minutes=1))
    assert len(listing.items) == 20 and listing.truncated


def test_source_names_are_built_once_and_read_back() -> None:
    fetcher = Fetcher(dataclasses.replace(Settings(), roll_pairs=((155, 1686),), zhibo_ids=(152,), rss_urls=("https://r/f",)))
    names = [s.name for s in configured_sources(fetcher)]
    assert names == ["roll:155:1686", "zhibo:152", "rss:https://r/f"]
    for name, kind in zip(names, (RollSource, ZhiboSource, RssSource), strict=True):
        again = source_named(fetcher, name)
        assert isinstance(again, kind) and again.name == name
    with pytest.raises(DiscoverError, match="unknown source kind"):
        source_named(fetcher, "hexo")
    with pytest.raises(DiscoverError, match="malformed"):
        source_named(fetcher, "roll:155")
