"""Nothing published goes missing: cursor-based discovery over a downtime, coverage gaps with one alert,
verdicts on a window's items, dead letters retried on a schedule, ignored or given up on record.

Real PostgreSQL, the replay server on loopback (real HTTP), a webhook receiver on loopback.
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta

import psycopg2
import pytest

from pipeline import flow
from pipeline.config import Settings
from pipeline.errors import PipelineError
from pipeline.replay import ReplayServer

from ..alert_receiver import AlertReceiver
from ..conftest import REPO
from ..helpers import ALL_TIME, page_path, query_rows, retries_come_due

SOURCE = "roll:155:1686"
# The recorded roll feed (pair 155:1686) lists, among others, items at these times (UTC):
BEFORE = datetime(2022, 1, 20, 1, 23, 7, tzinfo=UTC)  # the newest item of the first run's window
DOWNTIME = [  # published while "the scheduler was down"
    datetime(2022, 1, 24, 23, 40, 4, tzinfo=UTC),
    datetime(2022, 1, 26, 15, 6, 53, tzinfo=UTC),
    datetime(2022, 1, 27, 6, 22, 27, tzinfo=UTC),
    datetime(2022, 2, 2, 9, 42, 18, tzinfo=UTC),
    datetime(2022, 6, 17, 3, 39, 35, tzinfo=UTC),
]
FIRST = flow.Window(datetime(2022, 1, 20, 1, 20, tzinfo=UTC), datetime(2022, 1, 20, 1, 30, tzinfo=UTC))
AFTER = flow.Window(datetime(2022, 6, 17, 3, 40, tzinfo=UTC), datetime(2022, 6, 17, 3, 50, tzinfo=UTC))


@pytest.fixture()
def settings(replay: ReplayServer, replay_settings: Settings) -> Settings:
    return dataclasses.replace(replay_settings, zhibo_ids=())


def run(window: flow.Window, settings: Settings, url: str, mode: str) -> dict[str, int]:
    """One run as the DAG makes it: discover (by mode), fetch, process, report."""
    run_id = flow.begin_run(
        f"test/{mode}/{window.start.isoformat()}/{datetime.now(UTC).timestamp()}", "ingest", window, url
    )
    flow.discover(run_id, window, settings, url, mode=mode)
    flow.fetch(run_id, window, settings, url)
    flow.process(run_id, window, url)
    return {**flow.finish_run(run_id, url), "run_id": run_id}


def stored_times(url: str) -> set[datetime]:
    return {r[0] for r in query_rows(url, "SELECT published_at FROM articles WHERE source = %s", (SOURCE,))}


def test_a_scheduled_run_after_downtime_loads_everything_the_feed_still_lists(
    db_url: str, settings: Settings
) -> None:
    run(FIRST, settings, db_url, "cursor")
    assert query_rows(db_url, "SELECT published_at FROM source_cursors WHERE source = %s", (SOURCE,)) == [
        (BEFORE,)
    ]
    # the scheduler was down; the next scheduled run has only its own ten minutes as window
    after = run(AFTER, settings, db_url, "cursor")
    assert set(DOWNTIME) <= stored_times(db_url), sorted(stored_times(db_url))
    assert after["degraded"] == 0
    assert query_rows(db_url, "SELECT count(*) FROM coverage_gaps") == [(0,)]
    assert query_rows(db_url, "SELECT status FROM ingest_runs ORDER BY run_id") == [
        ("success",),
        ("success",),
    ]


def test_a_window_run_reads_only_its_window(db_url: str, settings: Settings) -> None:
    """What the cursor adds: the same two runs by window leave the downtime's items unloaded."""
    run(FIRST, settings, db_url, "window")
    run(AFTER, settings, db_url, "window")
    assert not set(DOWNTIME) & stored_times(db_url)


def test_beyond_the_feeds_depth_a_gap_is_recorded_alerted_once_and_closed_by_a_backfill(
    db_url: str, settings: Settings, receiver: AlertReceiver
) -> None:
    run(FIRST, settings, db_url, "cursor")
    shallow = dataclasses.replace(settings, max_pages=1, page_size=2)  # the feed no longer reaches the cursor
    first = run(AFTER, shallow, db_url, "cursor")
    assert first["degraded"] == 1
    gaps = query_rows(db_url, "SELECT source, gap_from, gap_to, closed_at FROM coverage_gaps")
    assert gaps == [(SOURCE, BEFORE, AFTER.end, None)]
    assert [(a["source"], a["condition"]) for a in receiver.received] == [(SOURCE, "gap")]
    status = query_rows(
        db_url, "SELECT status, degraded_reason FROM ingest_runs ORDER BY run_id DESC LIMIT 1"
    )[0]
    assert status[0] == "degraded" and "coverage gap" in status[1]
    # the next run meets the same gap: still one gap, still one alert
    later = flow.Window(AFTER.end, AFTER.end + timedelta(minutes=10))
    run(later, shallow, db_url, "cursor")
    # (the same gap, now reaching to the later run's end: widened, not new)
    assert query_rows(db_url, "SELECT gap_from, gap_to FROM coverage_gaps") == [(BEFORE, later.end)]
    assert len(receiver.received) == 1
    # a backfill over the gap (by window, the feed deep enough) loads the items and closes it
    backfill = run(flow.Window(BEFORE, later.end), settings, db_url, "window")
    assert backfill["degraded"] == 0
    assert set(DOWNTIME) <= stored_times(db_url)
    closed = query_rows(db_url, "SELECT closed_at IS NOT NULL, closed_by_run FROM coverage_gaps")
    assert closed == [(True, backfill["run_id"])]


def test_stale_running_runs_are_closed_as_abandoned_by_the_next_run(db_url: str, settings: Settings) -> None:
    killed = flow.begin_run("test/killed", "ingest", FIRST, db_url)
    conn = psycopg2.connect(db_url)
    with conn, conn.cursor() as cur:  # its worker died three hours ago (the trigger keeps touched_at)
        cur.execute("ALTER TABLE ingest_runs DISABLE TRIGGER ingest_runs_touch")
        cur.execute(
            "UPDATE ingest_runs SET touched_at = now() - interval '3 hours' WHERE run_id = %s", (killed,)
        )
        cur.execute("ALTER TABLE ingest_runs ENABLE TRIGGER ingest_runs_touch")
    conn.close()
    run(AFTER, settings, db_url, "cursor")
    assert query_rows(db_url, "SELECT status FROM ingest_runs WHERE run_id = %s", (killed,)) == [
        ("abandoned",)
    ]


def test_overlapping_runs_are_judged_on_the_window_not_on_their_share(
    db_url: str, settings: Settings
) -> None:
    """Two backfills and a scheduled run over overlapping windows at once: every item loads, every run is green,
    whichever run's worker happened to claim which item."""
    windows = [
        ALL_TIME,
        ALL_TIME,
        flow.Window(datetime(2021, 1, 1, tzinfo=UTC), datetime(2023, 1, 1, tzinfo=UTC)),
    ]
    modes = ["window", "window", "cursor"]
    results: list[dict[str, int] | BaseException] = [{}, {}, {}]

    def go(i: int) -> None:
        try:
            results[i] = run(windows[i], settings, db_url, modes[i])
        except BaseException as exc:
            results[i] = exc

    threads = [threading.Thread(target=go, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    assert all(isinstance(r, dict) for r in results), results
    assert query_rows(db_url, "SELECT DISTINCT status FROM ingest_runs") == [("success",)]
    docids = {r[0] for r in query_rows(db_url, "SELECT docid FROM articles WHERE docid IS NOT NULL")}
    assert expected_docids_of_source(settings) <= docids


def expected_docids_of_source(settings: Settings) -> set[str]:
    # every page the roll pair lists is loaded once (the replay manifest holds more pairs' pages)
    return {r for r in _listed_docids(settings)}


def _listed_docids(settings: Settings) -> set[str]:
    from pipeline.discover import configured_sources
    from pipeline.fetch import Fetcher

    (source,) = configured_sources(Fetcher(settings))
    return {i.docid for i in source.list_items(ALL_TIME.start, ALL_TIME.end).items if i.docid}


def test_a_window_where_most_items_truly_fail_is_red(
    db_url: str, replay: ReplayServer, settings: Settings
) -> None:
    docids = sorted(_listed_docids(settings))
    for docid in docids[: len(docids) * 2 // 3]:
        replay.set_fault(page_path(replay, docid), "500")
    with pytest.raises(PipelineError, match="items of the window failed"):
        run(ALL_TIME, settings, db_url, "window")
    assert query_rows(db_url, "SELECT status FROM ingest_runs") == [("failed",)]


def newsflow(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"NEWSFLOW_DATABASE_URL": url, "PATH": "/usr/bin:/bin"}
    return subprocess.run(
        [sys.executable, "-m", "pipeline.cli", "dead-letters", *args],
        capture_output=True, text=True, env=env, cwd=REPO, timeout=120,
    )  # fmt: skip


def test_a_failed_item_is_retried_on_schedule_until_it_loads_and_ignore_takes_one_out(
    db_url: str, replay: ReplayServer, settings: Settings
) -> None:
    flaky, broken = sorted(_listed_docids(settings))[:2]
    for docid in (flaky, broken):
        replay.set_fault(page_path(replay, docid), "500")
    run(ALL_TIME, settings, db_url, "window")
    for _ in range(4):  # four more failed attempts, each once its back-off has passed
        retries_come_due(db_url)
        run(
            flow.Window(datetime(2030, 1, 1, tzinfo=UTC), datetime(2030, 1, 2, tzinfo=UTC)),
            settings,
            db_url,
            "window",
        )
    rows = query_rows(
        db_url,
        "SELECT docid, attempts, status, next_attempt_at > now() FROM feed_items WHERE docid = ANY(%s) ORDER BY docid",
        ([flaky, broken],),
    )
    assert [(r[1], r[2], r[3]) for r in rows] == [(5, "failed", True)] * 2, rows
    # not due yet: a run now leaves them alone (the back-off after five failures is a day)
    quiet = flow.Window(datetime(2030, 2, 1, tzinfo=UTC), datetime(2030, 2, 2, tzinfo=UTC))
    run(quiet, settings, db_url, "window")
    assert query_rows(
        db_url, "SELECT max(attempts) FROM feed_items WHERE docid = ANY(%s)", ([flaky, broken],)
    ) == [(5,)]

    # a person ignores the broken one; the list says so
    (broken_letter,) = query_rows(
        db_url,
        "SELECT d.dead_letter_id FROM dead_letters d JOIN feed_items f USING (feed_item_id) WHERE f.docid = %s",
        (broken,),
    )[0]
    out = newsflow(db_url, "ignore", str(broken_letter), "--reason", "page removed by Sina", "--by", "desk")
    assert out.returncode == 0 and "1 dead letter(s) ignored" in out.stdout, out.stderr
    listing = newsflow(db_url, "list", "--all")
    assert "[ignored] (page removed by Sina)" in listing.stdout and "[open]" in listing.stdout, listing.stdout

    # the fault clears; a day later the flaky one is due, is retried and loads; the ignored one is not tried
    replay.clear_faults()
    retries_come_due(db_url)
    run(
        flow.Window(datetime(2030, 3, 1, tzinfo=UTC), datetime(2030, 3, 2, tzinfo=UTC)),
        settings,
        db_url,
        "window",
    )
    assert query_rows(db_url, "SELECT docid FROM articles WHERE docid = ANY(%s)", ([flaky, broken],)) == [
        (flaky,)
    ]
    assert query_rows(db_url, "SELECT status FROM feed_items WHERE docid = %s", (broken,)) == [("ignored",)]
    assert query_rows(db_url, "SELECT count(*) FROM dead_letters WHERE resolved_at IS NULL") == [(0,)]


def test_an_item_that_failed_for_two_weeks_is_given_up_listed_and_retry_brings_it_back(
    db_url: str, replay: ReplayServer, settings: Settings
) -> None:
    (docid,) = sorted(_listed_docids(settings))[:1]
    replay.set_fault(page_path(replay, docid), "500")
    run(ALL_TIME, settings, db_url, "window")
    conn = psycopg2.connect(db_url)
    with conn, conn.cursor() as cur:  # sixteen more daily failures, as if two weeks went by
        cur.execute("UPDATE feed_items SET attempts = 17 WHERE docid = %s", (docid,))
    conn.close()
    retries_come_due(db_url)
    run(
        flow.Window(datetime(2030, 1, 1, tzinfo=UTC), datetime(2030, 1, 2, tzinfo=UTC)),
        settings,
        db_url,
        "window",
    )
    assert query_rows(
        db_url, "SELECT status, next_attempt_at FROM feed_items WHERE docid = %s", (docid,)
    ) == [("given_up", None)]
    listing = newsflow(db_url, "list")
    assert "[given up]" in listing.stdout, listing.stdout
    # still open, still counted in the health view
    health = query_rows(db_url, "SELECT open_dead_letters FROM source_health WHERE source = %s", (SOURCE,))
    assert health == [(1,)]
    replay.clear_faults()
    out = newsflow(db_url, "retry", "--source", SOURCE)
    assert out.returncode == 0 and "1 dead letter(s) due now" in out.stdout, out.stderr
    run(
        flow.Window(datetime(2030, 1, 3, tzinfo=UTC), datetime(2030, 1, 4, tzinfo=UTC)),
        settings,
        db_url,
        "window",
    )
    assert query_rows(db_url, "SELECT count(*) FROM articles WHERE docid = %s", (docid,)) == [(1,)]
