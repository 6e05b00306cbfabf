"""Settings from the environment, with packaged defaults; nothing secret has a default.

Every variable is parsed strictly: a value that is not what its variable takes raises one
ConfigError naming the variable and the value, so a typo stops a run with one line instead of a
traceback deep in the fetcher (or, worse, a silently ignored setting).
"""

from __future__ import annotations

import math
import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit, urlunsplit

from pipeline.errors import ConfigError

DEFAULT_ROLL_BASE = "https://feed.mix.sina.com.cn"
DEFAULT_ZHIBO_BASE = "https://zhibo.sina.com.cn"
# Registered (pageid, lid) pairs polled by default: 新浪财经 国内滚动, 宏观经济, 部委动态, 金融新闻.
DEFAULT_ROLL_PAIRS: tuple[tuple[int, int], ...] = ((155, 1686), (155, 1687), (155, 1689), (155, 1690))
DEFAULT_ZHIBO_IDS: tuple[int, ...] = (152,)
# Honest by default; operators add a contact address with NEWSFLOW_USER_AGENT.
USER_AGENT = "newsflow/0.1 (news archiving pipeline; python-requests)"

_T = TypeVar("_T")
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")
_PASSWORD_PARAM = re.compile(r"(^|&)password=[^&]*")


def source_checkout() -> Path | None:
    """The source checkout this package is imported from (an editable install), or None.

    A checkout is recognised by the pyproject.toml of the `newsflow` project beside the package;
    an installed wheel has none.
    """
    root = Path(__file__).resolve().parent.parent
    try:
        meta = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError):
        return None
    return root if meta.get("project", {}).get("name") == "newsflow" else None


def project_home() -> Path:
    """Folder for local state (embedded PostgreSQL, Airflow home), the same from any directory.

    `$NEWSFLOW_HOME` if set; else `.newsflow` in the source checkout the package runs from (what
    ./run and ./test install); else `newsflow` in the XDG data folder (`$XDG_DATA_HOME`, default
    ~/.local/share) for an installed wheel. Never the current directory: a command typed in another
    folder would otherwise start a second, empty database.
    """
    home = os.environ.get("NEWSFLOW_HOME")
    if home:
        return Path(home).expanduser().resolve()
    checkout = source_checkout()
    if checkout is not None:
        return checkout / ".newsflow"
    data = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return (Path(data).expanduser() / "newsflow").resolve()


def redact_url(url: str) -> str:
    """The URL with any password (in the user part or a `password=` parameter) shown as `***`."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if parts.password:  # an empty password (the embedded server's) hides nothing
        userinfo, _, hostport = netloc.rpartition("@")
        user = userinfo.split(":", 1)[0]
        netloc = f"{user}:***@{hostport}"
    query = _PASSWORD_PARAM.sub(r"\1password=***", parts.query)
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def parse_pairs(text: str, name: str = "roll pairs") -> tuple[tuple[int, int], ...]:
    """'155:1686,155:1687' -> ((155, 1686), (155, 1687)); `name` says where the text came from."""
    pairs = []
    for part in text.replace(" ", "").split(","):
        if not part:
            continue
        pageid, sep, lid = part.partition(":")
        if not (sep and pageid.isdigit() and lid.isdigit()):
            raise ConfigError(f"{name}={text!r}: bad pageid:lid pair {part!r} (expected e.g. 155:1686)")
        pairs.append((int(pageid), int(lid)))
    return tuple(pairs)


def parse_ids(text: str, name: str = "7x24 ids") -> tuple[int, ...]:
    """'152,153' -> (152, 153); empty text means no ids."""
    parts = [p.strip() for p in text.split(",") if p.strip()]
    bad = [p for p in parts if not p.isdigit()]
    if bad:
        raise ConfigError(f"{name}={text!r}: {bad[0]!r} is not a feed id (expected e.g. 152,153)")
    return tuple(int(p) for p in parts)


def _number(name: str, text: str, conv: Callable[[str], _T], minimum: float, *, above: bool = False) -> _T:
    try:
        value = conv(text.strip())
    except ValueError:
        kind = "a whole number" if conv is int else "a number"
        raise ConfigError(f"{name}={text!r} is not {kind}") from None
    as_float = float(value)  # type: ignore[arg-type]
    if not math.isfinite(as_float) or as_float < minimum or (above and as_float == minimum):
        raise ConfigError(f"{name}={text!r} must be {'more than' if above else 'at least'} {minimum:g}")
    return value


def _http_url(name: str, text: str, *, base: bool = True) -> str:
    """An http(s) URL; a base URL (`base`) loses its trailing slash, as paths are appended to it."""
    url = text.strip().rstrip("/") if base else text.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"{name}={text!r} is not an http(s) URL")
    return url


def _flag(name: str, text: str) -> bool:
    value = text.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ConfigError(f"{name}={text!r} is not a yes/no value (1/0, true/false, yes/no, on/off)")


# (field, converter, minimum, minimum excluded): the numeric settings, each from NEWSFLOW_<FIELD>.
_NUMBERS: tuple[tuple[str, Callable[[str], int | float], float, bool], ...] = (
    ("max_pages", int, 1, False),
    ("page_size", int, 1, False),
    ("connect_timeout", float, 0, True),
    ("read_timeout", float, 0, True),
    ("retries", int, 0, False),
    ("backoff", float, 0, False),
    ("min_interval_per_host", float, 0, False),
)


@dataclass(frozen=True)
class Settings:
    roll_base: str = DEFAULT_ROLL_BASE
    zhibo_base: str = DEFAULT_ZHIBO_BASE
    roll_pairs: tuple[tuple[int, int], ...] = DEFAULT_ROLL_PAIRS
    zhibo_ids: tuple[int, ...] = DEFAULT_ZHIBO_IDS
    rss_urls: tuple[str, ...] = ()
    page_size: int = 50
    max_pages: int = 20
    connect_timeout: float = 5.0
    read_timeout: float = 20.0
    retries: int = 3
    backoff: float = 1.0
    max_retry_after: float = 60.0
    # Seconds between two requests to one host; a robots.txt Crawl-delay raises it for its host.
    min_interval_per_host: float = 0.5
    respect_robots: bool = True
    user_agent: str = USER_AGENT
    max_body_bytes: int = 8 * 1024 * 1024

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Settings from NEWSFLOW_* variables (the process environment unless `env` is given).

        An unset or empty variable keeps the default, except NEWSFLOW_ZHIBO_IDS, where set but empty
        means "no 7x24 feed".
        """
        env = os.environ if env is None else env
        kw: dict[str, object] = {}
        base = env.get("NEWSFLOW_REPLAY_URL")  # offline switch: every endpoint on the replay server
        if base:
            kw["roll_base"] = kw["zhibo_base"] = _http_url("NEWSFLOW_REPLAY_URL", base)
        for field, var in (("roll_base", "NEWSFLOW_ROLL_BASE"), ("zhibo_base", "NEWSFLOW_ZHIBO_BASE")):
            if env.get(var):
                kw[field] = _http_url(var, env[var])
        if env.get("NEWSFLOW_ROLL_PAIRS"):
            kw["roll_pairs"] = parse_pairs(env["NEWSFLOW_ROLL_PAIRS"], "NEWSFLOW_ROLL_PAIRS")
        if "NEWSFLOW_ZHIBO_IDS" in env:
            kw["zhibo_ids"] = parse_ids(env["NEWSFLOW_ZHIBO_IDS"], "NEWSFLOW_ZHIBO_IDS")
        if env.get("NEWSFLOW_RSS_URLS"):
            urls = [u for u in env["NEWSFLOW_RSS_URLS"].split(",") if u.strip()]
            kw["rss_urls"] = tuple(_http_url("NEWSFLOW_RSS_URLS", u, base=False) for u in urls)
        for field, conv, minimum, above in _NUMBERS:
            var = f"NEWSFLOW_{field.upper()}"
            if env.get(var):
                kw[field] = _number(var, env[var], conv, minimum, above=above)
        if env.get("NEWSFLOW_USER_AGENT"):
            kw["user_agent"] = env["NEWSFLOW_USER_AGENT"]
        if env.get("NEWSFLOW_RESPECT_ROBOTS"):
            kw["respect_robots"] = _flag("NEWSFLOW_RESPECT_ROBOTS", env["NEWSFLOW_RESPECT_ROBOTS"])
        return cls(**kw)  # type: ignore[arg-type]
