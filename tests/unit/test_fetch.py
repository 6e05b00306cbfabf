"""The fetcher over real HTTP against the replay server: retries, Retry-After, rate limit, robots, caps."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator

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
