"""Each fault alone, on an article page and on the feed endpoints: what the database holds afterwards.

Every case: nothing lost (stored, or an open dead letter with the reason), nothing duplicated, and a
later run with the fault gone retries and completes the window with no open dead letter.
"""

from __future__ import annotations

from typing import Any

import pytest

from pipeline import flow
from pipeline.config import Settings
from pipeline.errors import PipelineError
from pipeline.replay import ReplayServer

from ..helpers import retries_come_due
from .conftest import (
    ALL_TIME,
    LATER,
    assert_batches_whole,
    assert_complete,
    assert_no_duplicates,
    assert_nothing_lost,
    expected_docids,
    open_dead_letters,
    page_path,
    rows,
)

TARGET = "comos:nfr12ed7b55a8c2"  # the seed article ("十四五"信息化和工业化深度融合发展规划)

# kind -> (fault params, stage of the dead letter, error class, words of the error); None = no failure.
PAGE_FAULTS: dict[str, tuple[dict[str, Any], tuple[str, str, str] | None]] = {
    "500": ({}, ("fetch", "UpstreamStatusError", "HTTP 500")),
    "503": ({}, ("fetch", "UpstreamStatusError", "HTTP 503")),
    "slow": ({"seconds": 1.6}, ("fetch", "FetchTimeout", "timeout")),
    "reset": ({}, ("fetch", "FetchError", "connection error")),
    "truncate": ({}, ("fetch", "FetchError", "IncompleteRead")),
    "malformed_json": ({}, ("fetch", "FetchError", "not an HTML page")),
    "empty_json": ({}, ("fetch", "FetchError", "not an HTML page")),
    "empty_body": ({}, ("fetch", "FetchError", "empty body")),
    "gone": ({}, ("fetch", "UpstreamStatusError", "HTTP 404")),
    "huge": ({"size": 3 * 1024 * 1024}, ("fetch", "FetchError", "body larger than")),
    "unknown_layout": ({}, ("parse", "ParseError", "no known layout")),
    "gbk": ({}, None),
    "jsonp": ({}, ("fetch", "FetchError", "not an HTML page")),  # script where a page should be
}


@pytest.mark.parametrize("kind", sorted(PAGE_FAULTS))
def test_page_fault_alone(kind: str, db_url: str, replay: ReplayServer, settings: Settings) -> None:
    params, failure = PAGE_FAULTS[kind]
    replay.set_fault(page_path(replay, TARGET), kind, **params)
    counts = flow.ingest_window(ALL_TIME, settings, db_url)  # one item failing never fails the run
    assert_nothing_lost(db_url, replay)
    assert_no_duplicates(db_url)
    assert_batches_whole(db_url)
    stored = {r[0] for r in rows(db_url, "SELECT docid FROM articles WHERE kind = 'sina_page'")}
    if failure is None:
        assert counts["failed"] == 0 and open_dead_letters(db_url) == []
        assert_complete(db_url, replay)
        bad = rows(
            db_url,
            "SELECT count(*) FROM articles WHERE strpos(title || body_text || body_html, chr(65533)) > 0",
        )
        assert bad == [(0,)]
        return
    stage, error_class, words = failure
    assert counts["failed"] == 1
    assert stored == expected_docids(replay) - {TARGET}
    letters = open_dead_letters(db_url)
    assert [(stage, cls) for _, _, stage, cls, _ in letters] == [(stage, error_class)]
    assert words in letters[0][4]
    assert rows(db_url, "SELECT status FROM feed_items WHERE docid = %s", (TARGET,)) == [("failed",)]
    if stage == "parse":  # the bytes are kept, so the dead letter points at them
        kept = rows(
            db_url,
            "SELECT length(r.body) > 0 FROM dead_letters d JOIN raw_pages r USING (raw_page_id) WHERE d.stage = 'parse'",
        )
        assert kept == [(True,)]
    else:  # nothing broken was stored in place of the page
        assert rows(
            db_url, "SELECT count(*) FROM raw_pages WHERE url LIKE %s", ("%" + TARGET.split("nfr")[1] + "%",)
        ) == [(0,)]

    replay.clear_faults()
    replay.wait_idle(10)
    retries_come_due(db_url)  # minutes later: what failed is due again
    later = flow.ingest_window(LATER, settings, db_url)  # any later run retries what failed
    assert later["failed"] == 0 and later["loaded"] == 1
    assert_complete(db_url, replay)
    assert_batches_whole(db_url)
    assert rows(db_url, "SELECT count(*) FROM dead_letters WHERE resolved_at IS NOT NULL") == [(1,)]


def test_page_429_waits_for_retry_after_and_succeeds_in_the_same_run(
    db_url: str, replay: ReplayServer, settings: Settings
) -> None:
    path = page_path(replay, TARGET)
    replay.set_fault(path, "429", count=1, retry_after=1)
    counts = flow.ingest_window(ALL_TIME, settings, db_url)
    assert counts["failed"] == 0
    assert_complete(db_url, replay)
    hits = [r for r in replay.request_log() if r["path"] == path]
    assert [r["status"] for r in hits] == [429, 200]
    assert hits[1]["time"] - hits[0]["time"] >= 0.95  # it waited as told, not just its own backoff


def test_page_429_beyond_the_retry_budget_is_a_dead_letter(
    db_url: str, replay: ReplayServer, settings: Settings
) -> None:
    replay.set_fault(page_path(replay, TARGET), "429", retry_after=0)
    flow.ingest_window(ALL_TIME, settings, db_url)
    assert [(s, c) for _, _, s, c, _ in open_dead_letters(db_url)] == [("fetch", "UpstreamStatusError")]
    assert "HTTP 429" in open_dead_letters(db_url)[0][4]
    replay.clear_faults()
    retries_come_due(db_url)  # minutes later: what failed is due again
    flow.ingest_window(LATER, settings, db_url)
    assert_complete(db_url, replay)


@pytest.mark.parametrize("status", [301, 302])
def test_moved_page_is_followed_and_keeps_its_identity(
    status: int, db_url: str, replay: ReplayServer, settings: Settings
) -> None:
    path = page_path(replay, TARGET)
    replay.set_fault(path, "moved", status=status)
    counts = flow.ingest_window(ALL_TIME, settings, db_url)
    assert counts["failed"] == 0
    assert_complete(db_url, replay)
    assert [r["status"] for r in replay.request_log() if r["path"].endswith(path)] == [status, 200]
    final = rows(
        db_url,
        "SELECT r.url, r.final_url FROM raw_pages r JOIN articles a USING (raw_page_id) WHERE a.docid = %s",
        (TARGET,),
    )
    assert final and final[0][1] is not None and "/_replay/moved/" in final[0][1]
    canonical = rows(db_url, "SELECT canonical_url FROM articles WHERE docid = %s", (TARGET,))[0][0]
    assert "_replay" not in canonical and canonical.endswith(path.rsplit("/", 1)[1])
    # a second sighting does not fetch it again
    flow.ingest_window(ALL_TIME, settings, db_url)
    assert len([r for r in replay.request_log() if r["path"].endswith(path)]) == 2


# --- the feed endpoints ----------------------------------------------------------------------------

ROLL = "/api/roll/get"
ZHIBO = "/api/zhibo/feed"
FEED_FAULTS: dict[str, tuple[dict[str, Any], str | None]] = {
    "500": ({}, "HTTP 500"),
    "503": ({}, "HTTP 503"),
    "slow": ({"seconds": 1.6}, "timeout"),
    "reset": ({}, "connection error"),
    "truncate": ({}, "IncompleteRead"),
    "malformed_json": ({}, "malformed JSON"),
    "empty_json": ({}, "no "),
    "empty_body": ({}, "malformed JSON"),
    "gone": ({}, "HTTP 404"),
    "huge": ({"size": 3 * 1024 * 1024}, "body larger than"),
    "jsonp": ({}, None),
}


@pytest.mark.parametrize("endpoint", [ROLL, ZHIBO])
@pytest.mark.parametrize("kind", sorted(FEED_FAULTS))
def test_feed_fault_alone(
    kind: str, endpoint: str, db_url: str, replay: ReplayServer, settings: Settings
) -> None:
    params, words = FEED_FAULTS[kind]
    replay.set_fault(endpoint, kind, **params)
    flow.ingest_window(ALL_TIME, settings, db_url)  # the other source still works: the run goes on
    assert_nothing_lost(db_url, replay)
    assert_no_duplicates(db_url)
    assert_batches_whole(db_url)
    if words is None:
        assert_complete(db_url, replay)
        return
    source = "roll:155:1686" if endpoint == ROLL else "zhibo:152"
    letters = open_dead_letters(db_url)
    assert [(s, stage, cls) for s, _, stage, cls, _ in letters] == [(source, "discover", "DiscoverError")]
    assert words in letters[0][4]
    kinds = {r[0] for r in rows(db_url, "SELECT DISTINCT kind FROM articles")}
    assert kinds == ({"zhibo_flash"} if endpoint == ROLL else {"sina_page"})

    replay.clear_faults()
    replay.wait_idle(10)
    retries_come_due(db_url)  # minutes later: what failed is due again
    flow.ingest_window(LATER, settings, db_url)  # retries the failed (source, window) first
    assert_complete(db_url, replay)
    assert_batches_whole(db_url)


def test_feed_429_waits_and_succeeds_in_the_same_run(
    db_url: str, replay: ReplayServer, settings: Settings
) -> None:
    replay.set_fault(ROLL, "429", count=1, retry_after=1)
    replay.set_fault(ZHIBO, "429", count=1, retry_after=1)
    counts = flow.ingest_window(ALL_TIME, settings, db_url)
    assert counts["failed"] == 0
    assert_complete(db_url, replay)
    for endpoint in (ROLL, ZHIBO):
        hits = [r for r in replay.request_log() if r["path"] == endpoint]
        assert hits[0]["status"] == 429 and hits[1]["status"] == 200
        assert hits[1]["time"] - hits[0]["time"] >= 0.95


def test_every_feed_source_failing_fails_the_run_then_recovers(
    db_url: str, replay: ReplayServer, settings: Settings
) -> None:
    replay.set_fault(ROLL, "503")
    replay.set_fault(ZHIBO, "503")
    with pytest.raises(PipelineError):
        flow.ingest_window(ALL_TIME, settings, db_url)
    assert rows(db_url, "SELECT status, error IS NOT NULL FROM ingest_runs") == [("failed", True)]
    assert {(s, stage) for s, _, stage, *_ in open_dead_letters(db_url)} == {
        ("roll:155:1686", "discover"), ("zhibo:152", "discover"),
    }  # fmt: skip
    assert_nothing_lost(db_url, replay)
    replay.clear_faults()
    retries_come_due(db_url)  # minutes later: what failed is due again
    flow.ingest_window(LATER, settings, db_url)
    assert_complete(db_url, replay)


def test_unknown_layout_bytes_are_kept_for_reparse(
    db_url: str, replay: ReplayServer, settings: Settings
) -> None:
    """Decided: a page that failed to parse keeps its bytes (reparse needs no crawl), and a later run
    fetches it again, since a page served once in an unknown layout may have been a transient error page."""
    path = page_path(replay, TARGET)
    replay.set_fault(path, "unknown_layout")
    flow.ingest_window(ALL_TIME, settings, db_url)
    kept = rows(db_url, "SELECT body FROM raw_pages r JOIN dead_letters d USING (raw_page_id)")
    assert len(kept) == 1 and b"nf-2030-layout" in bytes(kept[0][0])
    # reparse works from the stored bytes alone: still the unknown layout, still a dead letter, no request
    before = len(replay.request_log())
    pages = rows(db_url, "SELECT count(*) FROM raw_pages")[0][0]
    reparsed = flow.reparse(db_url)
    assert len(replay.request_log()) == before
    # the run row counts the page that failed as failed, not as parsed
    assert (reparsed["parsed"], reparsed["failed"]) == (pages - 1, 1)
    assert rows(db_url, "SELECT parsed, failed FROM ingest_runs WHERE kind = 'reparse'") == [(pages - 1, 1)]
    assert [(stage, cls) for _, _, stage, cls, _ in open_dead_letters(db_url)] == [("parse", "ParseError")]
    replay.clear_faults()
    retries_come_due(db_url)  # minutes later: what failed is due again
    flow.ingest_window(LATER, settings, db_url)
    assert [r["fault"] for r in replay.request_log() if r["path"] == path] == ["unknown_layout", None]
    assert_complete(db_url, replay)
    body = rows(
        db_url,
        "SELECT r.body FROM raw_pages r JOIN articles a USING (raw_page_id) WHERE a.docid = %s",
        (TARGET,),
    )
    assert b"nf-2030-layout" not in bytes(body[0][0])
