"""Settings from the environment, with packaged defaults; nothing secret has a default."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from pipeline.errors import ConfigError

DEFAULT_ROLL_BASE = "https://feed.mix.sina.com.cn"
DEFAULT_ZHIBO_BASE = "https://zhibo.sina.com.cn"
# Registered (pageid, lid) pairs polled by default: 新浪财经 国内滚动, 宏观经济, 部委动态, 金融新闻.
DEFAULT_ROLL_PAIRS: tuple[tuple[int, int], ...] = ((155, 1686), (155, 1687), (155, 1689), (155, 1690))
DEFAULT_ZHIBO_IDS: tuple[int, ...] = (152,)
# Honest by default; operators add a contact address with NEWSFLOW_USER_AGENT.
USER_AGENT = "newsflow/0.1 (news archiving pipeline; python-requests)"


def project_home() -> Path:
    """Folder for local state (embedded PostgreSQL, Airflow home): $NEWSFLOW_HOME or ./.newsflow."""
    return Path(os.environ.get("NEWSFLOW_HOME") or Path.cwd() / ".newsflow").resolve()


def parse_pairs(text: str) -> tuple[tuple[int, int], ...]:
    """'155:1686,155:1687' -> ((155, 1686), (155, 1687))."""
    pairs = []
    for part in text.replace(" ", "").split(","):
        if not part:
            continue
        try:
            pageid, lid = part.split(":")
            pairs.append((int(pageid), int(lid)))
        except ValueError as exc:
            raise ConfigError(f"bad pageid:lid pair {part!r} (expected e.g. 155:1686)") from exc
    return tuple(pairs)


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
    min_interval_per_host: float = 0.5  # seconds between two requests to one host
    respect_robots: bool = True
    user_agent: str = USER_AGENT
    max_body_bytes: int = 8 * 1024 * 1024

    @classmethod
    def from_env(cls) -> Settings:
        env = os.environ
        base = env.get("NEWSFLOW_REPLAY_URL")  # offline switch: every endpoint on the replay server
        kw: dict[str, object] = {}
        if base:
            kw["roll_base"] = base.rstrip("/")
            kw["zhibo_base"] = base.rstrip("/")
        if env.get("NEWSFLOW_ROLL_BASE"):
            kw["roll_base"] = env["NEWSFLOW_ROLL_BASE"].rstrip("/")
        if env.get("NEWSFLOW_ZHIBO_BASE"):
            kw["zhibo_base"] = env["NEWSFLOW_ZHIBO_BASE"].rstrip("/")
        if env.get("NEWSFLOW_ROLL_PAIRS"):
            kw["roll_pairs"] = parse_pairs(env["NEWSFLOW_ROLL_PAIRS"])
        if "NEWSFLOW_ZHIBO_IDS" in env:  # set but empty means "no 7x24 feed"
            kw["zhibo_ids"] = tuple(int(x) for x in env["NEWSFLOW_ZHIBO_IDS"].split(",") if x.strip())
        if env.get("NEWSFLOW_RSS_URLS"):
            kw["rss_urls"] = tuple(u for u in env["NEWSFLOW_RSS_URLS"].split(",") if u.strip())
        for name, conv in (
            ("max_pages", int),
            ("page_size", int),
            ("connect_timeout", float),
            ("read_timeout", float),
            ("retries", int),
            ("backoff", float),
            ("min_interval_per_host", float),
        ):
            val = env.get(f"NEWSFLOW_{name.upper()}")
            if val:
                try:
                    kw[name] = conv(val)
                except ValueError as exc:
                    raise ConfigError(f"NEWSFLOW_{name.upper()}={val!r} is not a number") from exc
        if env.get("NEWSFLOW_USER_AGENT"):
            kw["user_agent"] = env["NEWSFLOW_USER_AGENT"]
        if env.get("NEWSFLOW_RESPECT_ROBOTS", "1") in ("0", "false", "no"):
            kw["respect_robots"] = False
        return cls(**kw)  # type: ignore[arg-type]
