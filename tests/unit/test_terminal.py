"""The CLI's time arguments (one parser for `ingest` and `search`) and its progress lines."""

from __future__ import annotations

import argparse
import io
import logging
from datetime import UTC, datetime

import pytest

from pipeline.terminal import Progress, join_relative_times, parse_time

NOW = datetime(2021, 11, 30, 12, 34, 56, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "end", "expected"),
    [
        ("now", False, NOW),
        ("-30m", False, datetime(2021, 11, 30, 12, 4, 56, tzinfo=UTC)),
        ("-2h", False, datetime(2021, 11, 30, 10, 34, 56, tzinfo=UTC)),
        ("-1d", True, datetime(2021, 11, 29, 12, 34, 56, tzinfo=UTC)),
        ("2021-11-01", False, datetime(2021, 11, 1, tzinfo=UTC)),
        ("2021-11-01", True, datetime(2021, 11, 2, tzinfo=UTC)),  # a bare --until date includes that day
        ("2021-11-01T03:00", True, datetime(2021, 11, 1, 3, tzinfo=UTC)),
        ("2021-11-01T03:00Z", False, datetime(2021, 11, 1, 3, tzinfo=UTC)),
        ("2021-11-01T11:00+08:00", False, datetime(2021, 11, 1, 3, tzinfo=UTC)),
    ],
)
def test_parse_time(text: str, end: bool, expected: datetime) -> None:
    got = parse_time(text, end=end, now=NOW)
    assert got == expected and got.tzinfo is UTC


@pytest.mark.parametrize("text", ["yesterday-ish", "2021-13-01", "-2w", "2h", ""])
def test_parse_time_refuses_what_it_cannot_read(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match="not a time"):
        parse_time(text, now=NOW)


def test_relative_times_are_joined_to_their_option() -> None:
    assert join_relative_times(["ingest", "--since", "-2h", "--until", "-1h", "--zhibo", "-1"]) == [
        "ingest", "--since=-2h", "--until=-1h", "--zhibo", "-1",
    ]  # fmt: skip
    assert join_relative_times(["search", "-x", "--since", "2021-11-01"]) == ["search", "-x", "--since", "2021-11-01"]


def test_progress_off_a_terminal_is_plain_periodic_lines(caplog: pytest.LogCaptureFixture) -> None:
    stream = io.StringIO()  # not a TTY: no bar, no carriage returns
    with caplog.at_level(logging.INFO, logger="newsflow"), Progress("import", stream=stream, every=3600) as show:
        for done in range(1, 11):
            show(done, 10)
    assert stream.getvalue() == ""
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 1 and lines[0].startswith("import: 100%") and "10/10" in lines[0]
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="newsflow"), Progress("reparse", stream=stream, every=0) as show:
        show(1, 4)
        show(2, 4)
    lines = [r.getMessage() for r in caplog.records]
    assert [line.split(" [")[0] for line in lines] == ["reparse:  25% 1/4", "reparse:  50% 2/4"]
    assert all("item/s]" in line for line in lines)
