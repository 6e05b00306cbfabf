"""All network I/O: one requests Session with timeouts, retries, a per-host rate limit and robots.txt."""

from __future__ import annotations

import email.utils
import logging
import random
import threading
import time
import urllib.robotparser
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import requests

from pipeline.config import Settings
from pipeline.errors import FetchError, FetchTimeout, RobotsDisallowed, UpstreamStatusError
from pipeline.models import RawPage

log = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
NOT_A_PAGE_TYPES = frozenset({"application/json", "application/javascript", "text/javascript"})
ROBOTS_TTL = 3600.0


def make_session(settings: Settings) -> requests.Session:
    session = requests.Session()
    session.headers.update(
        {
            "User-Agent": settings.user_agent,
            "Accept": "text/html,application/json;q=0.9,*/*;q=0.8",
            "Accept-Language": "zh-CN,zh;q=0.9",
        }
    )
    return session


def _retry_after_seconds(value: str | None, cap: float) -> float | None:
    """Retry-After is either delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return min(float(value), cap)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, min((when - datetime.now(UTC)).total_seconds(), cap))


class Fetcher:
    """Polite HTTP client. Thread-safe; one per task or CLI command."""

    def __init__(self, settings: Settings | None = None, session: requests.Session | None = None) -> None:
        self.settings = settings or Settings.from_env()
        self.session = session or make_session(self.settings)
        self._lock = threading.Lock()
        self._next_slot: dict[str, float] = {}
        self._robots: dict[str, tuple[float, urllib.robotparser.RobotFileParser | None]] = {}

    # -- politeness -------------------------------------------------------------------------------

    def _wait_for_host(self, host: str) -> None:
        """Space requests to one host by min_interval_per_host (shared by every thread)."""
        with self._lock:
            now = time.monotonic()
            slot = max(now, self._next_slot.get(host, 0.0))
            self._next_slot[host] = slot + self.settings.min_interval_per_host
        delay = slot - time.monotonic()
        if delay > 0:
            time.sleep(delay)

    def _robots_for(self, url: str) -> urllib.robotparser.RobotFileParser | None:
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        cached = self._robots.get(origin)
        if cached and time.monotonic() - cached[0] < ROBOTS_TTL:
            return cached[1]
        parser: urllib.robotparser.RobotFileParser | None = urllib.robotparser.RobotFileParser()
        try:
            resp = self._request("GET", origin + "/robots.txt", retries=1)
        except FetchError as exc:
            # RFC 9309: an unreachable robots.txt means "assume disallowed" until it is reachable again.
            raise FetchError(url, f"robots.txt unreachable: {exc.reason}") from exc
        if 400 <= resp.status_code < 500:
            parser = None  # no robots.txt: everything allowed
        elif resp.status_code >= 500:
            raise FetchError(url, f"robots.txt answered {resp.status_code}", status=resp.status_code)
        else:
            assert parser is not None
            parser.parse(resp.text.splitlines())
        self._robots[origin] = (time.monotonic(), parser)
        return parser

    def allowed(self, url: str) -> bool:
        if not self.settings.respect_robots:
            return True
        parser = self._robots_for(url)
        return parser is None or parser.can_fetch(self.settings.user_agent, url)

    # -- requests ---------------------------------------------------------------------------------

    def _request(
        self, method: str, url: str, *, params: Mapping[str, Any] | None = None, retries: int | None = None
    ) -> requests.Response:
        """One logical request: retries with exponential backoff + jitter on 429/5xx and network errors."""
        s = self.settings
        attempts = (s.retries if retries is None else retries) + 1
        host = urlsplit(url).netloc
        last: FetchError | None = None
        for attempt in range(attempts):
            self._wait_for_host(host)
            try:
                resp = self.session.request(
                    method, url, params=params, timeout=(s.connect_timeout, s.read_timeout), stream=True
                )
                body = self._read_capped(resp, url)
            except requests.Timeout as exc:
                last = FetchTimeout(url, f"timeout after {s.connect_timeout}s connect / {s.read_timeout}s read")
                last.__cause__ = exc
            except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError) as exc:
                last = FetchError(url, f"connection error: {type(exc).__name__}: {exc}")
                last.__cause__ = exc
            except requests.RequestException as exc:
                raise FetchError(url, f"request failed: {exc}", retryable=False) from exc
            else:
                resp._content = body  # the capped, fully read body
                if resp.status_code not in RETRY_STATUSES:
                    return resp
                last = UpstreamStatusError(url, f"HTTP {resp.status_code}", status=resp.status_code)
                wait = _retry_after_seconds(resp.headers.get("Retry-After"), s.max_retry_after)
                if wait is not None and attempt + 1 < attempts:
                    log.info("%s answered %s, Retry-After %.1fs", url, resp.status_code, wait)
                    time.sleep(wait)
                    continue
            if attempt + 1 < attempts:
                time.sleep(s.backoff * (2**attempt) * (0.5 + random.random()))
        assert last is not None
        raise last

    def _read_capped(self, resp: requests.Response, url: str) -> bytes:
        limit = self.settings.max_body_bytes
        chunks: list[bytes] = []
        size = 0
        try:
            for chunk in resp.iter_content(64 * 1024):
                size += len(chunk)
                if size > limit:
                    raise FetchError(url, f"body larger than {limit} bytes", retryable=False)
                chunks.append(chunk)
        finally:
            resp.close()
        return b"".join(chunks)

    def get_bytes(self, url: str, params: Mapping[str, Any] | None = None) -> tuple[bytes, requests.Response]:
        """GET an API/feed URL; non-2xx after retries raises UpstreamStatusError."""
        if not self.allowed(url):
            raise RobotsDisallowed(url)
        resp = self._request("GET", url, params=params)
        if not 200 <= resp.status_code < 300:
            raise UpstreamStatusError(
                url, f"HTTP {resp.status_code}", status=resp.status_code, retryable=resp.status_code >= 500
            )
        return resp.content, resp

    def get_page(self, url: str, kind: str = "sina_page") -> RawPage:
        """GET an article page and keep its bytes and headers as fetched."""
        body, resp = self.get_bytes(url)
        if not body:
            raise FetchError(url, "empty body", status=resp.status_code)
        ctype = resp.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if kind == "sina_page" and ctype in NOT_A_PAGE_TYPES:
            # An API error or a cut-off answer in place of the page: storing it would load a broken
            # article that no later run replaces (a stored docid is never fetched again).
            raise FetchError(url, f"not an HTML page (Content-Type {ctype})", status=resp.status_code)
        return RawPage(
            url=url,
            kind=kind,
            body=body,
            headers={k.lower(): v for k, v in resp.headers.items()},
            status_code=resp.status_code,
            fetched_at=datetime.now(UTC),
            final_url=resp.url if resp.url != url else None,
        )
