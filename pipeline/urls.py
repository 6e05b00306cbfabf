"""URL helpers: canonical form of a Sina article URL and the docid it carries."""

from __future__ import annotations

import os
import re
from urllib.parse import parse_qs, unquote, urlsplit, urlunsplit

_DOCID_RES = (
    re.compile(r"/doc-i(?P<id>[a-z0-9]{6,})\.shtml", re.I),
    re.compile(r"/detail-i(?P<id>[a-z0-9]{6,})\.d\.html", re.I),
)
_RSS_REDIRECT = "go.rss.sina.com.cn/redirect.php"


def docid_from_url(url: str | None) -> str | None:
    """`…/doc-ikyakumx1234567.shtml` -> `comos:kyakumx1234567` (the URL id without its leading i)."""
    if not url:
        return None
    for rx in _DOCID_RES:
        m = rx.search(url)
        if m:
            return "comos:" + m.group("id").lower()
    return None


def _replay_prefix() -> str | None:
    base = os.environ.get("NEWSFLOW_REPLAY_URL")
    return base.rstrip("/") + "/" if base else None


def canonicalize_url(url: str) -> str:
    """One spelling per article: https, lower-case host, no query or fragment, RSS redirects unwrapped.

    A URL on the replay server (`{NEWSFLOW_REPLAY_URL}/finance.sina.com.cn/…`) maps back to the
    real Sina URL it stands for, so offline and live runs store the same keys.
    """
    url = url.strip()
    if _RSS_REDIRECT in url:
        target = parse_qs(urlsplit(url).query).get("url")
        if target:
            url = unquote(target[0])
    prefix = _replay_prefix()
    if prefix and url.startswith(prefix):
        rest = url[len(prefix) :]
        host = rest.split("/", 1)[0]
        if "." in host:
            url = "https://" + rest
    parts = urlsplit(url)
    scheme = parts.scheme.lower() or "https"
    host = (parts.hostname or "").lower()
    if host.endswith("sina.com.cn") or host.endswith("sina.cn"):
        scheme = "https"
    netloc = host if parts.port in (None, 80, 443) else f"{host}:{parts.port}"
    return urlunsplit((scheme, netloc, parts.path or "/", "", ""))


def fetch_url(url: str) -> str:
    """The URL to request: the RSS redirect unwrapped, everything else as given."""
    if _RSS_REDIRECT in url:
        target = parse_qs(urlsplit(url).query).get("url")
        if target:
            return unquote(target[0])
    return url
