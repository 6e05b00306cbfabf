"""Source health, cursors, coverage gaps, alerts and abandoned runs on a real PostgreSQL, alerts over real HTTP."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import psycopg2
import psycopg2.extensions
import pytest

from pipeline import notify
from pipeline.errors import NotifyError
from pipeline.store import health

from ..alert_receiver import AlertReceiver
from ..conftest import REPO
from ..helpers import query_rows

NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture()
def conn(db_url: str) -> Iterator[psycopg2.extensions.connection]:
    c = psycopg2.connect(db_url)
    yield c
    c.rollback()
    c.close()


def seed(url: str, source: str, start: datetime, end: datetime, every: timedelta) -> int:
    """Feed items of `source` published every `every` from start to end (inclusive), as loaded."""
    rows = query_rows(
        url,
        """INSERT INTO feed_items (source, item_key, kind, title, published_at, status)
           SELECT %s, %s || ':' || extract(epoch FROM t)::bigint, 'sina_page', '标题', t, 'loaded'
             FROM generate_series(%s::timestamptz, %s::timestamptz, %s::interval) AS t
           RETURNING 1""",
        (source, source, start, end, every),
    )
    return len(rows)


def store_article(url: str, source: str, published_at: datetime, lag: timedelta) -> None:
    """One stored item: a feed item and its article, stored `lag` after publication."""
    key = f"{source}:lag:{published_at.isoformat()}"
    query_rows(
        url,
        """WITH a AS (
             INSERT INTO articles (docid, kind, source, title, title_norm, body_hash, content_key,
                                   published_at, body_text, body_html, parser_version, first_seen_at)
             VALUES (%(key)s, 'sina_page', %(source)s, %(key)s, %(key)s, 'h', %(key)s,
                     %(published_at)s, '正文', '<p>正文</p>', 'test', %(stored_at)s)
             RETURNING article_id)
           INSERT INTO feed_items (source, item_key, kind, title, published_at, status, article_id)
           SELECT %(source)s, %(key)s, 'sina_page', %(key)s, %(published_at)s, 'loaded', article_id FROM a
           RETURNING 1""",
        {"key": key, "source": source, "published_at": published_at, "stored_at": published_at + lag},
    )


def health_by_source(url: str, at: datetime | None = None) -> dict[str, dict[str, object]]:
    c = psycopg2.connect(url)
    try:
        with c, c.cursor() as cur:
            return {str(r["source"]): r for r in health.source_health(cur, at)}
    finally:
        c.close()


def seed_three_feeds(url: str, now: datetime = NOW) -> None:
    """A normal feed, one silent for the last three hours, one far below its usual rate today."""
    week_ago = now - timedelta(days=8)
    every = timedelta(minutes=10)  # six an hour, 144 a day
    seed(url, "roll:155:1686", week_ago, now - timedelta(minutes=5), every)
    seed(url, "roll:155:1687", week_ago, now - timedelta(hours=3), every)
    seed(url, "roll:155:1689", week_ago, now - timedelta(days=1, minutes=1), every)
    # Today: one item every two hours (12 instead of 144), the newest 20 minutes ago.
    seed(
        url,
        "roll:155:1689",
        now - timedelta(hours=22, minutes=20),
        now - timedelta(minutes=20),
        timedelta(hours=2),
    )


# --- the view ------------------------------------------------------------------------------------


def test_view_flags_silent_and_low_feeds_and_passes_a_normal_one(db_url: str) -> None:
    seed_three_feeds(db_url)
    seed(db_url, "roll:155:1690", NOW - timedelta(hours=2), NOW - timedelta(minutes=1), timedelta(minutes=10))
    for minutes, lag in ((50, 60), (40, 120), (30, 180)):
        store_article(db_url, "roll:155:1686", NOW - timedelta(minutes=minutes), timedelta(seconds=lag))
    rows = health_by_source(db_url, NOW)

    ok, silent, low, young = (rows[f"roll:155:{lid}"] for lid in (1686, 1687, 1689, 1690))
    assert ok["status"] == "ok"
    assert silent["status"] == "silent"
    assert low["status"] == "low"
    assert young["status"] == "no_data"  # two hours of history: nothing to judge against
    assert float(ok["avg_items_per_hour"]) == pytest.approx(6.0, abs=0.05)  # type: ignore[arg-type]
    assert float(ok["avg_items_per_day"]) == pytest.approx(144, abs=1)  # type: ignore[arg-type]
    assert silent["items_last_hour"] == 0 and silent["last_item_at"] == NOW - timedelta(hours=3)
    assert low["items_last_day"] == 12
    assert ok["items_last_hour"] == 6 + 3  # the seeded six and the three stored ones
    # Lag from publication to stored over the three stored items: 1, 2 and 3 minutes.
    assert ok["lag_p50_hour"] == timedelta(minutes=2)
    assert ok["lag_p50_day"] == timedelta(minutes=2)
    assert timedelta(minutes=2) < ok["lag_p95_day"] <= timedelta(minutes=3)  # type: ignore[operator]
    assert silent["lag_p50_day"] is None  # nothing of it stored

    # The same feeds judged three hours earlier: the silent one was still flowing then.
    earlier = health_by_source(db_url, NOW - timedelta(hours=3, seconds=-1))
    assert earlier["roll:155:1687"]["status"] == "ok"


def test_view_counts_dead_letters_gaps_and_the_last_good_run(
    db_url: str, conn: psycopg2.extensions.connection
) -> None:
    seed(db_url, "zhibo:152", NOW - timedelta(days=8), NOW - timedelta(minutes=1), timedelta(minutes=30))
    with conn, conn.cursor() as cur:
        cur.execute(
            "INSERT INTO ingest_runs (run_key, kind, status, finished_at) VALUES "
            "('a', 'ingest', 'success', now() - interval '20 minutes'), "
            "('b', 'ingest', 'success', now() - interval '10 minutes'), "
            "('c', 'ingest', 'failed', now() - interval '5 minutes') RETURNING run_id"
        )
        run_a, run_b, _ = (r[0] for r in cur.fetchall())
        # Run b succeeded overall but could not list this source: a's the last good run for it.
        cur.execute(
            "INSERT INTO dead_letters (source, item_key, stage, error_class, error, run_id) VALUES "
            "('zhibo:152', 'w1', 'discover', 'DiscoverError', 'x', %s), "
            "('zhibo:152', 'p1', 'parse', 'ParseError', 'x', %s)",
            (run_b, run_b),
        )
        health.record_gap(cur, "zhibo:152", NOW - timedelta(hours=5), NOW - timedelta(hours=4), run_a)
    row = health_by_source(db_url)["zhibo:152"]
    assert row["last_good_run_id"] == run_a
    assert row["open_dead_letters"] == 2
    assert row["open_gaps"] == 1 and row["oldest_open_gap_at"] == NOW - timedelta(hours=5)


def test_a_scheduled_source_with_no_recent_item_is_silent(
    db_url: str, conn: psycopg2.extensions.connection
) -> None:
    with conn, conn.cursor() as cur:
        health.advance_cursor(cur, "roll:155:9999", NOW - timedelta(days=20), "old")
    assert health_by_source(db_url)["roll:155:9999"]["status"] == "silent"


def test_newsflow_status_shows_a_silent_feed_as_silent(db_url: str) -> None:
    # Seeded against the clock as this test starts: the command judges as of its own "now".
    started = datetime.now(UTC).replace(microsecond=0)
    seed_three_feeds(db_url, started)

    def newsflow(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "pipeline.cli", "status", *args],
            capture_output=True, text=True, timeout=120, cwd=REPO, env={**os.environ, "NEWSFLOW_DATABASE_URL": db_url},
        )  # fmt: skip

    out = newsflow()
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].split()[:2] == ["SOURCE", "STATUS"]
    statuses = {line.split()[0]: line.split()[1] for line in lines[1:]}
    assert statuses == {"roll:155:1686": "ok", "roll:155:1687": "silent", "roll:155:1689": "low"}
    silent_line = next(line for line in lines if line.startswith("roll:155:1687"))
    age = re.search(r" (\d+)h(\d\d)m ago ", silent_line)
    assert age, silent_line
    shown = timedelta(hours=int(age.group(1)), minutes=int(age.group(2)))
    # The newest item is 3h older than `started`; the command ran at most `elapsed` after that.
    elapsed = datetime.now(UTC) - started
    assert timedelta(hours=3) <= shown <= timedelta(hours=3) + elapsed, silent_line

    data = json.loads(newsflow("--json").stdout)
    assert {r["source"]: r["status"] for r in data}["roll:155:1687"] == "silent"
    assert newsflow("--check").returncode == 1


# --- cursors -------------------------------------------------------------------------------------


def test_cursor_only_moves_forward_even_when_runs_race(db_url: str) -> None:
    a, b = psycopg2.connect(db_url), psycopg2.connect(db_url)
    try:
        with a, a.cursor() as cur:
            assert health.get_cursor(cur, "zhibo:152") is None
            first = health.advance_cursor(cur, "zhibo:152", NOW - timedelta(hours=2), "100")
        assert (first.published_at, first.item_key) == (NOW - timedelta(hours=2), "100")

        # Run A moves it to NOW and holds its transaction open; run B, slower, reports an older item.
        cur_a = a.cursor()
        health.advance_cursor(cur_a, "zhibo:152", NOW, "300")
        result: list[health.SourceCursor] = []

        def older() -> None:
            with b, b.cursor() as cur_b:
                result.append(health.advance_cursor(cur_b, "zhibo:152", NOW - timedelta(hours=1), "200"))

        t = threading.Thread(target=older)
        t.start()
        time.sleep(0.3)
        assert t.is_alive()  # B waits for A's row lock
        a.commit()
        t.join(10)
        assert result and (result[0].published_at, result[0].item_key) == (NOW, "300")

        with a, a.cursor() as cur:
            # Same time, a greater key moves it; a smaller one does not.
            health.advance_cursor(cur, "zhibo:152", NOW, "301")
            health.advance_cursor(cur, "zhibo:152", NOW, "299")
            final = health.get_cursor(cur, "zhibo:152")
        assert final == health.SourceCursor("zhibo:152", NOW, "301")
    finally:
        a.close()
        b.close()


# --- gaps ----------------------------------------------------------------------------------------


def test_a_gap_is_recorded_once_and_closed_by_a_covering_window(conn: psycopg2.extensions.connection) -> None:
    src = "roll:155:1686"
    t = [NOW - timedelta(hours=h) for h in range(10, -1, -1)]  # t[0] = 10 hours ago ... t[10] = now
    with conn, conn.cursor() as cur:
        cur.execute(
            "INSERT INTO ingest_runs (run_key, kind) VALUES ('r1', 'ingest'), ('r2', 'backfill') RETURNING run_id"
        )
        r1, r2 = (r[0] for r in cur.fetchall())
        assert health.record_gap(cur, src, t[1], t[5], r1) is True
        assert health.record_gap(cur, src, t[1], t[5], r1) is False  # the same gap again
        assert health.record_gap(cur, src, t[2], t[4], r1) is False  # inside the open one
        assert health.record_gap(cur, src, t[1], t[6], r1) is False  # a racing run saw it end later
        assert health.record_gap(cur, "zhibo:152", t[1], t[5], r1) is True  # another source
        assert [(g["gap_from"], g["gap_to"]) for g in health.open_gaps(cur, src)] == [(t[1], t[6])]

        # A backfill over part of it: the rest stays open, with its finder.
        assert health.close_gaps_covered(cur, src, t[3], t[4], r2) == 1
        left = health.open_gaps(cur, src)
        assert [(g["gap_from"], g["gap_to"]) for g in left] == [(t[1], t[3]), (t[4], t[6])]
        assert {g["found_by_run"] for g in left} == {r1}

        # A window that misses it closes nothing; one that covers both pieces closes them.
        assert health.close_gaps_covered(cur, src, t[7], t[9], r2) == 0
        assert health.close_gaps_covered(cur, src, t[0], t[10], r2) == 2
        assert health.open_gaps(cur, src) == []
        cur.execute("SELECT count(*) FROM coverage_gaps WHERE source = %s AND closed_by_run = %s", (src, r2))
        assert cur.fetchone() == (3,)
        assert len(health.open_gaps(cur)) == 1  # zhibo's, untouched


# --- alerts --------------------------------------------------------------------------------------


def test_one_alert_per_source_and_condition_until_it_clears(db_url: str, receiver: AlertReceiver) -> None:
    gap = notify.gap_alert("roll:155:1686", NOW - timedelta(hours=5), NOW - timedelta(hours=2), 7)
    assert notify.raise_alert(gap) is True
    assert notify.raise_alert(gap) is False  # still open: no second message
    assert notify.raise_alert(notify.gap_alert("zhibo:152", NOW - timedelta(hours=1), NOW, 7)) is True
    assert [m["source"] for m in receiver.received] == ["roll:155:1686", "zhibo:152"]
    assert receiver.received[0]["condition"] == "gap" and receiver.received[0]["details"]["found_by_run"] == 7

    assert notify.clear_alert("roll:155:1686", "gap") is True
    assert notify.clear_alert("roll:155:1686", "gap") is False
    assert notify.raise_alert(gap) is True  # a new occurrence after the clear sends again
    assert len(receiver.received) == 3
    rows = query_rows(db_url, "SELECT count(*), count(cleared_at) FROM alerts WHERE source = 'roll:155:1686'")
    assert rows == [(2, 1)]


def test_an_undelivered_alert_is_sent_by_its_next_occurrence(db_url: str, receiver: AlertReceiver) -> None:
    alert = notify.Alert("news_ingest", "run_failed", "DAG run of news_ingest failed")
    receiver.status = 503
    assert notify.raise_alert(alert) is False  # logged, not raised: the caller's work goes on
    assert query_rows(db_url, "SELECT last_sent_at FROM alerts") == [(None,)]
    receiver.status = 200
    assert notify.raise_alert(alert) is True
    assert notify.raise_alert(alert) is False
    assert len(receiver.received) == 2  # the refused attempt, then the one that went through


@pytest.mark.parametrize(
    ("fmt", "expected"),
    [
        ("slack", lambda text: {"text": text}),
        ("wecom", lambda text: {"msgtype": "text", "text": {"content": text}}),
        ("dingtalk", lambda text: {"msgtype": "text", "text": {"content": text}}),
        ("feishu", lambda text: {"msg_type": "text", "content": {"text": text}}),
    ],
)
def test_the_webhook_receives_each_services_text_message(
    receiver: AlertReceiver, monkeypatch: pytest.MonkeyPatch, fmt: str, expected: object
) -> None:
    monkeypatch.setenv("NEWSFLOW_ALERT_WEBHOOK_FORMAT", fmt)
    alert = notify.Alert(
        "roll:155:1687", "silent", "no new item for 3h00m (usually 6.0 per hour)", {"open_gaps": 0}
    )
    assert notify.deliver(alert) == [f"webhook:{fmt}"]
    assert receiver.received == [expected(alert.text())]  # type: ignore[operator]
    assert receiver.content_types[0].startswith("application/json")
    assert alert.text().splitlines()[:2] == ["[newsflow] silent: roll:155:1687", alert.summary]


def test_the_json_format_posts_the_alert_as_data(receiver: AlertReceiver) -> None:
    at = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)
    alert = notify.Alert(
        "roll:155:1686", "gap", "items may be missing", {"gap_from": at, "found_by_run": 3}, at
    )
    notify.deliver(alert)
    body = receiver.received[0]
    assert body["details"] == {"gap_from": "2024-05-06T07:08:09Z", "found_by_run": 3}
    assert body["at"] == "2024-05-06T07:08:09Z" and body["text"] == alert.text()


def test_a_refusal_in_the_body_is_a_failed_delivery(
    receiver: AlertReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEWSFLOW_ALERT_WEBHOOK_FORMAT", "dingtalk")
    receiver.answer = {"errcode": 310000, "errmsg": "keywords not in content"}  # HTTP 200, refused
    with pytest.raises(NotifyError, match="310000 keywords not in content"):
        notify.deliver(notify.Alert("zhibo:152", "silent", "quiet"))


def test_health_check_alerts_silent_and_low_feeds_once_and_clears_when_back(
    db_url: str, receiver: AlertReceiver
) -> None:
    seed_three_feeds(db_url)
    sent = notify.check_sources()
    assert sorted((a.source, a.condition) for a in sent) == [
        ("roll:155:1687", "silent"),
        ("roll:155:1689", "low"),
    ]
    assert notify.check_sources() == []  # still silent and low: nothing new
    silent = next(m for m in receiver.received if m["condition"] == "silent")
    assert silent["summary"].startswith("no new item for 3h") and "usually 6.0 per hour" in silent["summary"]

    seed(
        db_url,
        "roll:155:1687",
        NOW - timedelta(minutes=30),
        NOW - timedelta(minutes=2),
        timedelta(minutes=10),
    )
    assert notify.check_sources() == []
    open_now = query_rows(db_url, "SELECT source, condition FROM alerts WHERE cleared_at IS NULL")
    assert open_now == [("roll:155:1689", "low")]  # the feed that came back was cleared


# --- abandoned runs ------------------------------------------------------------------------------


def test_stale_running_runs_are_closed_as_abandoned(conn: psycopg2.extensions.connection) -> None:
    with conn, conn.cursor() as cur:
        cur.execute(
            "INSERT INTO ingest_runs (run_key, kind, status, touched_at) VALUES "
            "('killed', 'ingest', 'running', now() - interval '3 hours'), "
            "('live', 'ingest', 'running', now() - interval '3 minutes'), "
            "('done', 'ingest', 'success', now() - interval '3 hours') RETURNING run_id"
        )
        killed, live, done = (r[0] for r in cur.fetchall())
        # A run started long ago that still writes its counts is alive: the trigger moves touched_at.
        cur.execute(
            "INSERT INTO ingest_runs (run_key, kind, started_at, touched_at) "
            "VALUES ('slow', 'ingest', now() - interval '5 hours', now() - interval '5 hours') RETURNING run_id"
        )
        row = cur.fetchone()
        assert row is not None
        slow = row[0]
        cur.execute("UPDATE ingest_runs SET fetched = fetched + 1 WHERE run_id = %s", (slow,))

    with conn, conn.cursor() as cur:
        assert health.close_stale_runs(cur, timedelta(hours=1)) == [killed]
        assert health.close_stale_runs(cur, timedelta(hours=1)) == []
        cur.execute("SELECT run_id, status, finished_at IS NOT NULL FROM ingest_runs ORDER BY run_id")
        assert cur.fetchall() == [(killed, "abandoned", True), (live, "running", False), (done, "success", False),
                                  (slow, "running", False)]  # fmt: skip
        cur.execute("SELECT error FROM ingest_runs WHERE run_id = %s", (killed,))
        row = cur.fetchone()
        assert row is not None and row[0].startswith("abandoned: no progress since")
