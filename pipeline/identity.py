"""What makes an item itself: its docid, its canonical URL, its Beijing-time stamps, its archive front matter.

Every stage that keys, skips or dates an item asks here, so a URL or a date read twice reads the
same way. Pure: stdlib and PyYAML only (the layering keeps network and database out of it).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit, urlunsplit

import yaml

# Sina shows and sends wall-clock times of China Standard Time, which has had no DST since 1991.
BEIJING = timezone(timedelta(hours=8), "Asia/Shanghai")

# --- docid ---------------------------------------------------------------------------------------

# `…/doc-i<ID>.shtml` (desktop), `…/detail-i<ID>.d.html` (mobile), and the rarer mixes of the two
# (`doc-i<ID>.html`, `detail-i<ID>.shtml`, `detail-i<ID>.d.shtml`). No upper bound on the id: Sina's
# ids have grown over the years and a cap would silently drop the docid of a newer page.
_DOCID_PATH_RE = re.compile(r"/(?:doc|detail)-i(?P<id>[a-z0-9]{6,})\.(?:d\.)?s?html$", re.I)
_RSS_REDIRECT = "go.rss.sina.com.cn/redirect.php"


def comos_docid(page_id: str) -> str:
    """`kyakumx1234567` -> `comos:kyakumx1234567`: the form the roll API's `docid` field has."""
    return "comos:" + page_id.strip().lower()


def docid_from_url(url: str | None) -> str | None:
    """`…/doc-ikyakumx1234567.shtml` -> `comos:kyakumx1234567` (the URL id without its leading i).

    Only the path counts: a docid-looking string in a query (a share link's `pageurl=`) is another
    page's. URLs without one (k.sina.com.cn `article_<uid>_<id>`, channel pages) give None and are
    keyed by their canonical URL instead.
    """
    if not url:
        return None
    m = _DOCID_PATH_RE.search(urlsplit(unwrap_rss_redirect(url.strip())).path)
    return comos_docid(m.group("id")) if m else None


# --- canonical URL -------------------------------------------------------------------------------


def unwrap_rss_redirect(url: str) -> str:
    """`http://go.rss.sina.com.cn/redirect.php?url=<real>` -> `<real>`; any other URL as given."""
    if _RSS_REDIRECT in url:
        target = parse_qs(urlsplit(url).query).get("url")
        if target:
            return unquote(target[0])
    return url


def _from_replay(url: str) -> str:
    """A URL on the replay server (`{NEWSFLOW_REPLAY_URL}/finance.sina.com.cn/…`) is the Sina URL it
    stands for, so offline and live runs store the same keys."""
    base = os.environ.get("NEWSFLOW_REPLAY_URL")
    if not base:
        return url
    prefix = base.rstrip("/") + "/"
    if url.startswith(prefix):
        rest = url[len(prefix) :]
        if "." in rest.split("/", 1)[0]:
            return "https://" + rest
    return url


def canonicalize_url(url: str) -> str:
    """One spelling per article: https on Sina hosts, lower-case host, no default port, no query or
    fragment (Sina article URLs carry only tracking there: `?from=wap`, `?cre=tianyi&mod=…`), RSS
    redirects unwrapped, replay-server URLs mapped back to Sina."""
    url = _from_replay(unwrap_rss_redirect(url.strip()))
    parts = urlsplit(url)
    scheme = parts.scheme.lower() or "https"
    host = (parts.hostname or "").lower()
    if host.endswith(("sina.com.cn", "sina.cn")):
        scheme = "https"
    netloc = host if parts.port in (None, 80, 443) else f"{host}:{parts.port}"
    return urlunsplit((scheme, netloc, parts.path or "/", "", ""))


# --- Beijing time --------------------------------------------------------------------------------

# 2019年11月25日 18:57 / 2019年09月11日01:53 / 2018.05.09 12:52:37 / 2021-11-30 11:05:31
_BEIJING_RE = re.compile(
    r"(?P<y>(?:19|20)\d{2})\s*[年\-./]\s*(?P<mo>\d{1,2})\s*[月\-./]\s*(?P<d>\d{1,2})\s*日?"
    r"\s*(?:(?P<h>\d{1,2})\s*[:：]\s*(?P<mi>\d{2})(?:\s*[:：]\s*(?P<s>\d{2}))?)?"
)
_ISO_RE = re.compile(
    r"^\s*(?:19|20)\d{2}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2})?(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})?\s*$"
)


def from_beijing(local: datetime) -> datetime:
    """A naive Beijing wall-clock datetime as an aware UTC one (an aware one is only converted)."""
    if local.tzinfo is None:
        local = local.replace(tzinfo=BEIJING)
    return local.astimezone(UTC)


def parse_beijing_time(text: str | None) -> datetime | None:
    """The first Beijing date-and-time in `text` (a page's visible date, a 7x24 `create_time`, a
    weibo meta), minute precision or better, as aware UTC; None without a time of day."""
    if not text:
        return None
    m = _BEIJING_RE.search(text)
    if not m or m.group("h") is None:
        return None
    try:
        local = datetime(
            int(m.group("y")), int(m.group("mo")), int(m.group("d")),
            int(m.group("h")), int(m.group("mi")), int(m.group("s") or 0),
        )  # fmt: skip
    except ValueError:
        return None
    return from_beijing(local)


def parse_iso_time(text: str | None) -> datetime | None:
    """An ISO 8601 timestamp (`article:published_time`) as aware UTC; without an offset it is Beijing's."""
    if not text or not _ISO_RE.match(text):
        return None
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return from_beijing(value)


# --- archive front matter ------------------------------------------------------------------------

_FRONT_RE = re.compile(r"\A\s*---[ \t]*\r?\n(?P<front>.*?)\r?\n---[ \t]*(?:\r?\n|\Z)(?P<body>.*)\Z", re.S)
# libyaml's loader when PyYAML was built with it (the same safe subset, several times faster on a
# 100k-post import); the pure-Python SafeLoader otherwise.
_YAML_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class FrontMatterError(ValueError):
    """A post without a `---` delimited YAML head, or with one YAML cannot read."""


@dataclass(frozen=True)
class FrontMatter:
    """The YAML head of an archive post and the body after it."""

    fields: Mapping[str, Any]
    body: str

    def text(self, key: str) -> str | None:
        """A scalar field as text (YAML reads an unquoted `title: 2021` as a number)."""
        value = self.fields.get(key)
        if isinstance(value, bool) or value is None or isinstance(value, list | dict):
            return None
        return str(value)

    def texts(self, key: str) -> list[str]:
        """A list field (`categories:` then `- item` lines) or a lone scalar, as text."""
        value = self.fields.get(key)
        items = value if isinstance(value, list) else [value]
        return [str(v) for v in items if v is not None and not isinstance(v, dict) and str(v).strip()]

    @property
    def published_at(self) -> datetime | None:
        return front_matter_date(self.fields.get("date"))


def has_front_matter(text: str) -> bool:
    return _FRONT_RE.match(text) is not None


def read_front_matter(text: str) -> FrontMatter:
    """Split a post into its YAML head (read by `yaml.safe_load`'s loader) and its body."""
    m = _FRONT_RE.match(text)
    if not m:
        raise FrontMatterError("no --- delimited front matter")
    try:
        fields = yaml.load(m.group("front"), Loader=_YAML_LOADER)
    except yaml.YAMLError as exc:
        raise FrontMatterError(f"front matter is not YAML: {exc}") from exc
    if fields is None:
        fields = {}
    if not isinstance(fields, dict):
        raise FrontMatterError("front matter is not a mapping")
    return FrontMatter({str(k): v for k, v in fields.items()}, m.group("body"))


def front_matter_date(value: Any) -> datetime | None:
    """A post's `date` as aware UTC.

    The RSSHub archives write RSS pubDate verbatim (`Tue, 30 Nov 2021 03:05:31 GMT`, UTC). Hexo's own
    form (`2021-11-02 10:00:00`, which YAML already reads as a datetime) and ISO dates without an
    offset are the blog's local time: Beijing, for the Chinese blogs these archives are.
    """
    if isinstance(value, datetime):
        return from_beijing(value)
    if isinstance(value, date):
        return from_beijing(datetime(value.year, value.month, value.day))
    if not isinstance(value, str) or not value.strip():
        return None
    raw = value.strip()
    try:
        parsed = parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError):
        return parse_iso_time(raw)
    # RFC 2822 without a zone (or "-0000") means "UTC, origin unknown", as toUTCString wrote it.
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)
