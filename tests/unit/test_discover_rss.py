"""RSS/Atom discovery through feedparser, over real HTTP (a loopback server serving a recorded-shape feed)."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from pipeline.config import Settings
from pipeline.discover import RssSource, Window
from pipeline.errors import DiscoverError
from pipeline.fetch import Fetcher
from pipeline.models import FeedItem

# The shape RSSHub's /sina/finance route produced (the seed archive's origin): RFC 822 GMT dates,
# the article's #artibody HTML as description; one old Sina RSS item wrapped in the redirect link.
FEED = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel>
<title>新浪财经－国內</title><link>http://finance.sina.com.cn/china/</link><description>RSSHub</description>
<item><title><![CDATA[“十四五”信息化和工业化深度融合发展规划印发，点名这些产业]]></title>
<description><![CDATA[<p>原标题：“十四五”信息化和工业化深度融合发展规划印发</p>]]></description>
<pubDate>Tue, 30 Nov 2021 03:05:31 GMT</pubDate>
<guid>https://finance.sina.com.cn/china/2021-11-30/doc-ikyakumx1234567.shtml</guid>
<link>https://finance.sina.com.cn/china/2021-11-30/doc-ikyakumx1234567.shtml</link></item>
<item><title>1-11月份全国规模以上工业企业利润同比增长38.0%</title>
<pubDate>Mon, 27 Dec 2021 01:51:04 GMT</pubDate>
<link>http://go.rss.sina.com.cn/redirect.php?url=http://finance.sina.com.cn/china/2021-12-27/doc-ikyakumx7654321.shtml</link></item>
<item><title>no date</title><link>https://finance.sina.com.cn/x/doc-iabcdefg1.shtml</link></item>
</channel></rss>"""


@pytest.fixture()
def feed_server() -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = {"/feed.xml": FEED.encode(), "/broken.xml": b"<rss><channel><item><title>x"}.get(self.path)
            if self.path == "/robots.txt" or body is None:
                self.send_response(404)
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/rss+xml; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _fetcher() -> Fetcher:
    return Fetcher(dataclasses.replace(Settings(), min_interval_per_host=0.0, retries=0))


def _list(url: str, window: Window) -> list[FeedItem]:
    source = RssSource(_fetcher(), url)
    assert source.name == f"rss:{url}"
    listing = source.list_items(window.start, window.end)
    assert not listing.truncated  # a feed is one document: nothing older to page to
    return listing.items


def test_rss_items_in_the_window(feed_server: str) -> None:
    window = Window(datetime(2021, 11, 1, tzinfo=UTC), datetime(2022, 1, 1, tzinfo=UTC))
    items = _list(f"{feed_server}/feed.xml", window)
    assert [i.docid for i in items] == ["comos:kyakumx1234567", "comos:kyakumx7654321"]
    assert items[0].published_at == datetime(2021, 11, 30, 3, 5, 31, tzinfo=UTC)
    assert items[0].title.startswith("“十四五”")
    # the old Sina RSS redirect wrapper is unwrapped before anything is fetched
    assert items[1].url == "http://finance.sina.com.cn/china/2021-12-27/doc-ikyakumx7654321.shtml"
    assert all(i.kind == "sina_page" and i.source == f"rss:{feed_server}/feed.xml" for i in items)


def test_rss_window_is_half_open(feed_server: str) -> None:
    window = Window(datetime(2021, 11, 30, 3, 5, 31, tzinfo=UTC), datetime(2021, 12, 27, 1, 51, 4, tzinfo=UTC))
    assert [i.docid for i in _list(f"{feed_server}/feed.xml", window)] == ["comos:kyakumx1234567"]


def test_malformed_or_missing_feed_is_a_discover_error(feed_server: str) -> None:
    window = Window(datetime(2021, 1, 1, tzinfo=UTC), datetime(2023, 1, 1, tzinfo=UTC))
    with pytest.raises(DiscoverError, match="malformed feed"):
        _list(f"{feed_server}/broken.xml", window)
    with pytest.raises(DiscoverError, match="404"):
        _list(f"{feed_server}/gone.xml", window)
