"""All network I/O: one requests Session with timeouts, retries, a per-host rate limit and robots.txt.

The per-host rate limit is shared by every process when the Fetcher is given a HostGate (the flow
gives it the one kept in PostgreSQL, `pipeline.store.ratelimit`): N workers then send what one
would, and a Retry-After answered to one makes all of them wait.

robots.txt is read as RFC 9309 says (by protego: the longest matching rule wins, Allow on a tie),
with three outcomes by how it answered:

* 2xx: its rules apply to our User-Agent, and its `Crawl-delay` for us, if any, is a floor under
  `min_interval_per_host` for that host;
* 4xx (404 mostly): there is no robots.txt, everything is allowed (RFC 9309 section 2.3.1.3);
* unreachable (network error, timeout, 5xx after retries): everything is disallowed for now
  (section 2.3.1.4). The request fails with a retryable FetchError, not RobotsDisallowed, and the
  answer is not cached, so the item is tried again once robots.txt answers.

A robots.txt that answered is cached per origin for ROBOTS_TTL seconds.
"""

from __future__ import annotations

import email.utils
import logging
import random
import threading
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import urlsplit

import requests
from protego import Protego

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


class HostGate(Protocol):
    """Request slots per host shared by every process that sends to it (pipeline.store.ratelimit)."""

    def reserve(self, host: str, interval: float) -> float:
        """Take the host's next slot, `interval` seconds after the previous one; the Unix time it starts."""
        ...

    def hold(self, host: str, until: float) -> None:
        """No process may send to `host` before Unix time `until` (a Retry-After one of them was given)."""
        ...


class Fetcher:
    """Polite HTTP client. Thread-safe; one per task or CLI command.

    With a `gate`, the spacing per host is shared by every process using the same gate (every
    worker, the feed watcher, every backfill), and a Retry-After seen by one slows all of them;
    without one (or when the gate cannot be reached), it holds within this Fetcher only.
    """

    def __init__(
        self,
        settings: Settings | None = None,
        session: requests.Session | None = None,
        gate: HostGate | None = None,
    ) -> None:
        self.settings = settings or Settings.from_env()
        self.session = session or make_session(self.settings)
        self.gate = gate
        self._lock = threading.Lock()
        self._next_slot: dict[str, float] = {}
        self._robots: dict[str, tuple[float, Protego | None]] = {}
        self._crawl_delay: dict[str, float] = {}  # host -> the Crawl-delay its robots.txt asks of us

    # -- politeness -------------------------------------------------------------------------------

    def _wait_for_host(self, host: str) -> None:
        """Space requests to one host by min_interval_per_host or its Crawl-delay, whichever is longer.

        Shared by every thread of this Fetcher.
        """
        interval = max(self.settings.min_interval_per_host, self._crawl_delay.get(host, 0.0))
        if self.gate is not None and interval > 0:  # the rate limit off: no slot to share
            try:
                start = self.gate.reserve(host, interval)
            except Exception as exc:  # the shared gate is down: keep this process polite on its own
                log.warning("shared rate limit unavailable (%s); spacing requests in this process only", exc)
            else:
                delay = start - time.time()
                if delay > 0:
                    time.sleep(delay)
                return
        with self._lock:
            now = time.monotonic()
            slot = max(now, self._next_slot.get(host, 0.0))
            self._next_slot[host] = slot + interval
        delay = slot - time.monotonic()
        if delay > 0:
            time.sleep(delay)

    def _robots_for(self, url: str) -> Protego | None:
        """The parsed robots.txt of the URL's origin (None: there is none); see the module docstring."""
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        cached = self._robots.get(origin)
        if cached and time.monotonic() - cached[0] < ROBOTS_TTL:
            return cached[1]
        try:
            resp = self._request("GET", origin + "/robots.txt", retries=1)
        except FetchError as exc:
            raise FetchError(url, f"robots.txt unreachable: {exc.reason}") from exc
        rules: Protego | None = None
        if resp.status_code >= 500:
            raise FetchError(url, f"robots.txt answered {resp.status_code}", status=resp.status_code)
        if 200 <= resp.status_code < 300:
            rules = Protego.parse(resp.text)
            delay = rules.crawl_delay(self.settings.user_agent)
            with self._lock:
                if delay and delay > 0:
                    self._crawl_delay[parts.netloc] = float(delay)
                    # the robots.txt request itself counts: the next one waits the delay after it
                    after_robots = time.monotonic() + float(delay)
                    self._next_slot[parts.netloc] = max(self._next_slot.get(parts.netloc, 0.0), after_robots)
                else:
                    self._crawl_delay.pop(parts.netloc, None)
        # other 4xx: no robots.txt, everything allowed (a 3xx left after requests' redirects too)
        self._robots[origin] = (time.monotonic(), rules)
        return rules

    def allowed(self, url: str) -> bool:
        if not self.settings.respect_robots:
            return True
        rules = self._robots_for(url)
        return rules is None or bool(rules.can_fetch(url, self.settings.user_agent))

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
                last = FetchTimeout(
                    url, f"timeout after {s.connect_timeout}s connect / {s.read_timeout}s read"
                )
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
                if wait is not None and self.gate is not None:
                    try:
                        self.gate.hold(host, time.time() + wait)  # every process waits, not only this one
                    except Exception as exc:
                        log.warning("shared rate limit unavailable (%s): Retry-After kept in this process", exc)
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
