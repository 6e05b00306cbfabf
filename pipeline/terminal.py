"""What the command line reads and shows: time arguments, progress, the database line, search results.

Nothing here touches the database or the network; pipeline.commands calls these around the work.
"""

from __future__ import annotations

import argparse
import functools
import json
import logging
import re
import sys
import time as _time
import unicodedata
from dataclasses import asdict
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, TextIO

from tqdm import tqdm

from pipeline.config import redact_url
from pipeline.search import HIGHLIGHT_START, HIGHLIGHT_STOP, SearchHit

log = logging.getLogger("newsflow")

# `-30m`, `-2h`, `-1d`: so far back from now.
RELATIVE_TIME = re.compile(r"-(\d+)([mhd])")
_UNITS = {"m": "minutes", "h": "hours", "d": "days"}
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
# Seconds between two progress lines when stderr is not a terminal (a log file, a CI job).
PLAIN_PROGRESS_EVERY = 10.0


@functools.cache
def command_started() -> datetime:
    """The "now" of this command: one instant for all its time arguments (`--since -2h` and a default end)."""
    return datetime.now(UTC)


def parse_time(text: str, *, end: bool = False, now: datetime | None = None) -> datetime:
    """A time argument of `ingest` and `search`, as an aware UTC datetime.

    `now`; `-30m`, `-2h`, `-1d` (back from now); a bare date `2021-11-30`; an ISO 8601 timestamp
    (`2021-11-30T03:00`, `…Z`, `…+08:00`; no offset means UTC). A bare date is a whole UTC day: as a
    start (`end=False`) its midnight, as an end (`end=True`, the exclusive bound of `--until`) the
    next midnight, so `--until 2021-11-30` includes all of the 30th.
    """
    text = text.strip()
    now = (now or command_started()).replace(microsecond=0)
    if text == "now":
        return now
    relative = RELATIVE_TIME.fullmatch(text)
    if relative:
        return now - timedelta(**{_UNITS[relative.group(2)]: int(relative.group(1))})
    try:
        if _DATE.fullmatch(text):
            midnight = datetime.combine(date.fromisoformat(text), time.min, tzinfo=UTC)
            return midnight + timedelta(days=1) if end else midnight
        when = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not a time: {text!r} (use e.g. 2021-11-30, 2021-11-30T03:00Z, -2h or now)"
        ) from None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def since_time(text: str) -> datetime:
    """argparse type of `--since` (inclusive)."""
    return parse_time(text)


def until_time(text: str) -> datetime:
    """argparse type of `--until` (exclusive; a bare date includes that day)."""
    return parse_time(text, end=True)


def join_relative_times(argv: list[str], options: tuple[str, ...] = ("--since", "--until")) -> list[str]:
    """`--since -2h` -> `--since=-2h`: argparse would read `-2h` as an unknown option, not a value."""
    out: list[str] = []
    i = 0
    while i < len(argv):
        if argv[i] in options and i + 1 < len(argv) and RELATIVE_TIME.fullmatch(argv[i + 1]):
            out.append(f"{argv[i]}={argv[i + 1]}")
            i += 2
            continue
        out.append(argv[i])
        i += 1
    return out


def say_database(url: str, stream: TextIO | None = None) -> None:
    """One line on stderr naming the database a command works on (password masked)."""
    print(f"newsflow: database {redact_url(url)}", file=stream or sys.stderr, flush=True)


class Progress:
    """A `progress(done, total)` callback: a tqdm bar with an ETA on a terminal, plain lines otherwise.

    Plain lines go through the `newsflow` logger every PLAIN_PROGRESS_EVERY seconds and at the end,
    so a log file gets a few readable lines instead of carriage-return redraws.
    """

    def __init__(self, label: str, stream: TextIO | None = None, every: float = PLAIN_PROGRESS_EVERY) -> None:
        self.label = label
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.every = every
        self._bar: tqdm[Any] | None = None
        self._started = _time.monotonic()
        self._last_line = self._started

    def __call__(self, done: int, total: int) -> None:
        if self.tty:
            if self._bar is None:
                self._bar = tqdm(
                    total=total, desc=self.label, unit="item", file=self.stream, dynamic_ncols=True
                )
            self._bar.total = max(total, done)
            self._bar.update(done - self._bar.n)
            return
        now = _time.monotonic()
        if done >= total or now - self._last_line >= self.every:
            self._last_line = now
            line = tqdm.format_meter(
                done, max(total, done), now - self._started, prefix=self.label, ncols=0, unit="item"
            )
            log.info("%s", line)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def json_default(value: Any) -> Any:
    """json.dumps default for the CLI's output: UTC times with `Z`, bytes as text."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    raise TypeError(type(value).__name__)


def summary(counts: dict[str, int]) -> str:
    """`key=value` pairs of a stage's counts, in pipeline order."""
    order = (
        "run_id", "posts", "discovered", "fetched", "skipped", "parsed", "duplicates", "failed", "refailed", "loaded",
    )  # fmt: skip
    known = [k for k in order if k in counts]
    return " ".join(f"{k}={counts[k]}" for k in [*known, *(k for k in counts if k not in order)])


# --- search results -------------------------------------------------------------------------------


def _cell_width(ch: str) -> int:
    return 2 if unicodedata.east_asian_width(ch) in "WF" else 1


def clip(text: str, width: int) -> str:
    """Text cut to `width` terminal cells (a CJK character takes two), with `…` when cut."""
    out: list[str] = []
    used = 0
    for ch in text:
        w = _cell_width(ch)
        if used + w > width:
            return "".join(out) + "…"
        out.append(ch)
        used += w
    return "".join(out)


def _plain_snippet(snippet: str, start: str, stop: str) -> str:
    return snippet.replace(HIGHLIGHT_START, start).replace(HIGHLIGHT_STOP, stop)


def format_hits(hits: list[SearchHit], *, color: bool = False) -> str:
    """A readable listing: one header line per hit, the snippet indented under it."""
    if not hits:
        return "no matching articles"
    start, stop = ("\x1b[1;31m", "\x1b[0m") if color else ("[", "]")
    lines = []
    for hit in hits:
        when = hit.published_at.strftime("%Y-%m-%d %H:%M") if hit.published_at else "-" * 16
        story = f"  (+{hit.story_matches - 1} in story)" if hit.story_matches > 1 else ""
        lines.append(f"{when}  #{hit.article_id:<8} {clip(hit.title, 70)}{story}")
        meta = " · ".join(x for x in (hit.media, hit.source, hit.url) if x)
        lines.append(f"{'':18}{meta}  score {hit.score:.2f}")
        snippet = _plain_snippet(hit.snippet, start, stop).replace("\n", " ")
        lines.append(f"{'':18}{snippet}")
        lines.append("")
    return "\n".join(lines).rstrip() + f"\n{len(hits)} result(s)"


def hits_to_json(hits: list[SearchHit]) -> str:
    """One JSON array; matches in snippets between <b> and </b>."""

    def row(hit: SearchHit) -> dict[str, Any]:
        data = asdict(hit)
        data["published_at"] = hit.published_at.isoformat() if hit.published_at else None
        data["snippet"] = _plain_snippet(hit.snippet, "<b>", "</b>")
        return data

    return json.dumps([row(h) for h in hits], ensure_ascii=False, indent=2)
