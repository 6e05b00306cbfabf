"""The fetcher over real HTTP against the replay server: retries, Retry-After, rate limit, robots, caps."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from pipeline.config import Settings
from pipeline.errors import FetchError, FetchTimeout, RobotsDisallowed, UpstreamStatusError
from pipeline.fetch import Fetcher, _retry_after_seconds
from pipeline.replay import ReplayServer


@pytest.fixture()
def server() -> Iterator[ReplayServer]:
    with ReplayServer() as srv:
        yield srv


def _fetcher(**kw: object) -> Fetcher:
    base = dataclasses.replace(
        Settings(), connect_timeout=2.0, read_timeout=1.0, retries=2, backoff=0.01,
        max_retry_after=5.0, min_interval_per_host=0.0,
    )  # fmt: skip
    return Fetcher(dataclasses.replace(base, **kw))  # type: ignore[arg-type]


def _page_url(server: ReplayServer) -> str:
    return server.url_for(server.manifest()[0]["url"])


def _hits(server: ReplayServer, url: str) -> int:
    path = url[len(server.base_url) :]
    return sum(1 for r in server.request_log() if r["path"] == path)


def test_page_keeps_bytes_headers_and_sends_an_honest_user_agent(server: ReplayServer) -> None:
    url = _page_url(server)
    raw = _fetcher().get_page(url)
    assert raw.status_code == 200 and raw.body.startswith(b"<") and raw.headers["content-type"].startswith("text/html")
    assert raw.fetched_at.tzinfo is not None
    assert "newsflow" in Settings().user_agent


def test_5xx_is_retried_then_succeeds(server: ReplayServer) -> None:
    url = _page_url(server)
    server.set_fault(url[len(server.base_url) :], "503", count=2)
    assert _fetcher(retries=2).get_page(url).status_code == 200
    assert _hits(server, url) == 3


def test_5xx_after_every_retry_is_an_upstream_error(server: ReplayServer) -> None:
    url = _page_url(server)
    server.set_fault(url[len(server.base_url) :], "500")
    with pytest.raises(UpstreamStatusError, match="HTTP 500"):
        _fetcher(retries=1).get_page(url)
    assert _hits(server, url) == 2


def test_429_waits_for_retry_after(server: ReplayServer) -> None:
    url = _page_url(server)
    server.set_fault(url[len(server.base_url) :], "429", count=1, retry_after=1)
    t0 = time.monotonic()
    assert _fetcher(backoff=0.0).get_page(url).status_code == 200
    assert time.monotonic() - t0 >= 0.95


def test_read_timeout_is_a_fetch_timeout(server: ReplayServer) -> None:
    url = _page_url(server)
    server.set_fault(url[len(server.base_url) :], "slow", seconds=2)
    with pytest.raises(FetchTimeout):
        _fetcher(read_timeout=0.3, retries=0).get_page(url)


@pytest.mark.parametrize("kind", ["truncate", "reset"])
def test_broken_transfer_is_retried_and_reported(server: ReplayServer, kind: str) -> None:
    url = _page_url(server)
    server.set_fault(url[len(server.base_url) :], kind)
    with pytest.raises(FetchError):
        _fetcher(retries=1).get_page(url)
    server.clear_faults()
    server.set_fault(url[len(server.base_url) :], kind, count=1)
    assert _fetcher(retries=1).get_page(url).status_code == 200


def test_body_over_the_cap_is_refused(server: ReplayServer) -> None:
    url = _page_url(server)
    server.set_fault(url[len(server.base_url) :], "huge", size=3_000_000)
    with pytest.raises(FetchError, match="larger than"):
        _fetcher(max_body_bytes=1_000_000, retries=0).get_page(url)


def test_robots_txt_is_respected(server: ReplayServer) -> None:
    url = _page_url(server)
    server.set_robots_disallow(["/finance.sina.com.cn/", "/news.sina.com.cn/", "/tech.sina.com.cn/"])
    with pytest.raises(RobotsDisallowed):
        _fetcher().get_page(url)
    assert _hits(server, url) == 0
    assert _fetcher(respect_robots=False).get_page(url).status_code == 200


def test_per_host_rate_limit_spaces_requests(server: ReplayServer) -> None:
    url = _page_url(server)
    fetcher = _fetcher(min_interval_per_host=0.2)
    fetcher.get_page(url)  # robots.txt and the first page
    t0 = time.monotonic()
    for _ in range(4):
        fetcher.get_page(url)
    assert time.monotonic() - t0 >= 0.75


def test_retry_after_forms() -> None:
    assert _retry_after_seconds("3", 60) == 3.0
    assert _retry_after_seconds("600", 60) == 60.0
    assert _retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT", 60) == 0.0
    assert _retry_after_seconds("soon", 60) is None


# --- robots.txt as RFC 9309 reads it, on a loopback server whose robots.txt each test writes ---------


class _RobotsSite(ThreadingHTTPServer):
    """Loopback site: /robots.txt answers `robots_status` with `robots`; every other path is a page."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _RobotsHandler)
        self.robots = ""
        self.robots_status = 200
        self.paths: list[str] = []
        self.times: list[float] = []

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _RobotsHandler(BaseHTTPRequestHandler):
    server: _RobotsSite

    def do_GET(self) -> None:
        self.server.paths.append(self.path)
        self.server.times.append(time.monotonic())
        if self.path == "/robots.txt":
            status, body, ctype = self.server.robots_status, self.server.robots.encode(), "text/plain"
        else:
            status, body, ctype = 200, b"<html><body><p>page</p></body></html>", "text/html; charset=utf-8"
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture()
def site() -> Iterator[_RobotsSite]:
    srv = _RobotsSite()
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def test_robots_longest_match_wins_whatever_the_order(site: _RobotsSite) -> None:
    # urllib's parser takes the first matching line; RFC 9309 takes the longest, Allow on a tie.
    site.robots = "User-agent: *\nAllow: /\nDisallow: /news/\nAllow: /news/public/\n"
    fetcher = _fetcher()
    assert fetcher.allowed(site.base_url + "/news/public/a.html")
    assert not fetcher.allowed(site.base_url + "/news/private.html")
    assert fetcher.allowed(site.base_url + "/other.html")
    with pytest.raises(RobotsDisallowed):
        fetcher.get_page(site.base_url + "/news/private.html")
    assert "/news/private.html" not in site.paths


def test_robots_group_for_our_agent_is_the_one_that_applies(site: _RobotsSite) -> None:
    site.robots = "User-agent: *\nDisallow: /\n\nUser-agent: newsflow\nDisallow: /admin/\n"
    fetcher = _fetcher()
    assert fetcher.allowed(site.base_url + "/news/a.html")
    assert not fetcher.allowed(site.base_url + "/admin/x")
    assert not _fetcher(user_agent="SomeOtherBot/1.0").allowed(site.base_url + "/news/a.html")


def test_crawl_delay_is_a_floor_on_the_per_host_interval(site: _RobotsSite) -> None:
    site.robots = "User-agent: *\nCrawl-delay: 0.4\n"
    fetcher = _fetcher(min_interval_per_host=0.0)
    for _ in range(3):
        fetcher.get_page(site.base_url + "/a.html")
    gaps = [b - a for a, b in zip(site.times, site.times[1:], strict=False)]
    assert site.paths == ["/robots.txt", "/a.html", "/a.html", "/a.html"]
    assert min(gaps) >= 0.35, gaps
    # a longer min_interval_per_host still wins over a shorter Crawl-delay
    site.robots = "User-agent: *\nCrawl-delay: 0.05\n"
    site.paths.clear()
    site.times.clear()
    fetcher = _fetcher(min_interval_per_host=0.3)
    for _ in range(3):
        fetcher.get_page(site.base_url + "/a.html")
    gaps = [b - a for a, b in zip(site.times, site.times[1:], strict=False)]
    assert min(gaps) >= 0.25, gaps


def test_robots_4xx_allows_everything(site: _RobotsSite) -> None:
    site.robots_status = 404
    site.robots = "User-agent: *\nDisallow: /\n"  # a 404's body is not a robots.txt
    assert _fetcher().get_page(site.base_url + "/a.html").status_code == 200


def test_robots_5xx_disallows_for_now_and_is_asked_again(site: _RobotsSite) -> None:
    site.robots_status = 503
    fetcher = _fetcher(retries=0)
    with pytest.raises(FetchError, match=r"robots\.txt unreachable: HTTP 503") as caught:
        fetcher.get_page(site.base_url + "/a.html")
    assert not isinstance(caught.value, RobotsDisallowed) and caught.value.retryable
    assert "/a.html" not in site.paths
    site.robots_status = 200  # reachable again: the same fetcher asks again and goes ahead
    assert fetcher.get_page(site.base_url + "/a.html").status_code == 200
