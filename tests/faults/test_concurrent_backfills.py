"""Four overlapping backfills and the scheduled run at once: one row per article, one cluster per story."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

from pipeline import flow
from pipeline.config import Settings
from pipeline.replay import ReplayServer

from ..conftest import truncate_all
from .conftest import ALL_TIME, assert_batches_whole, assert_complete, rows, state


def _w(a: str, b: str) -> flow.Window:
    return flow.Window(
        datetime.fromisoformat(a).replace(tzinfo=UTC), datetime.fromisoformat(b).replace(tzinfo=UTC)
    )


# Together they cover every recorded item; each overlaps at least one other.
RUNS = {
    "backfill-a": _w("2018-01-01", "2021-12-01"),
    "backfill-b": _w("2021-06-01", "2022-03-01"),
    "backfill-c": _w("2021-11-01", "2022-09-01"),
    "backfill-d": _w("2019-06-01", "2022-02-01"),
    "scheduled": _w("2022-01-20", "2022-09-01"),
}


def _deadlocks(url: str) -> int:
    return int(rows(url, "SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()")[0][0])


def test_overlapping_backfills_and_the_scheduled_run_at_once(
    db_url: str, replay: ReplayServer, settings: Settings
) -> None:
    # What one run alone makes: the stories it finds are the true stories of this data set.
    flow.ingest_window(ALL_TIME, settings, db_url)
    alone = state(db_url)
    true_stories = [s for s in alone["stories"] if len(s) > 1]
    assert len(true_stories) >= 3  # the LPR pair, the Shanghai property pair, ...
    truncate_all(db_url)

    deadlocks_before = _deadlocks(db_url)
    errors: dict[str, BaseException] = {}
    barrier = threading.Barrier(len(RUNS))

    def run(name: str) -> None:
        try:
            barrier.wait(10)
            flow.ingest_window(RUNS[name], settings, db_url, run_key=name)
        except BaseException as exc:
            errors[name] = exc

    threads = [threading.Thread(target=run, args=(name,), name=name) for name in RUNS]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not any(t.is_alive() for t in threads)
    assert errors == {}
    assert rows(db_url, "SELECT run_key, status FROM ingest_runs ORDER BY 1") == [
        (n, "success") for n in sorted(RUNS)
    ]

    assert_complete(db_url, replay)  # every article once, nothing lost, no open dead letter
    assert_batches_whole(db_url)
    for story in true_stories:
        ids = rows(
            db_url,
            "SELECT count(DISTINCT story_id), count(*) FROM articles WHERE COALESCE(docid, content_key) = ANY(%s)",
            (story,),
        )
        assert ids == [(1, len(story))], story
    together = state(db_url)
    for table in ("articles", "versions", "tags", "stories", "raw_pages", "open_dead_letters"):
        assert together[table] == alone[table], table
    # the counts add up: each item loaded by exactly one of the runs
    loaded = rows(db_url, "SELECT sum(loaded), sum(failed) FROM ingest_runs")[0]
    assert (int(loaded[0]), int(loaded[1])) == (len(alone["articles"]), 0)
    time.sleep(0.6)  # statistics reach pg_stat_database when a backend is idle or gone
    assert _deadlocks(db_url) == deadlocks_before
