"""The whole flow over real HTTP (replay server on loopback) into a real PostgreSQL."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any

import pytest

from pipeline import flow
from pipeline.config import Settings
from pipeline.errors import PipelineError
from pipeline.replay import ReplayServer

from ..conftest import FIXTURES
from ..helpers import ALL_TIME, expected_docids, page_path, query_rows, retries_come_due


def _snapshot(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every table's content, minus what a rerun may legitimately touch (last_seen_at, run rows)."""
    return {
        "articles": query_rows(url, "SELECT article_id, docid, canonical_url, content_key, title, published_at, version FROM articles ORDER BY 1"),
        "versions": query_rows(url, "SELECT article_id, version, body_hash FROM article_versions ORDER BY 1, 2"),
        "feed_items": query_rows(url, "SELECT source, item_key, status, article_id FROM feed_items ORDER BY 1, 2"),
        "raw_pages": query_rows(url, "SELECT url, body_sha256 FROM raw_pages ORDER BY 1"),
        "dead_letters": query_rows(url, "SELECT source, item_key, stage FROM dead_letters WHERE resolved_at IS NULL ORDER BY 1, 2"),
    }


def test_ingest_loads_every_recorded_article(db_url: str, replay: ReplayServer, replay_settings: Settings) -> None:
    counts = flow.ingest_window(ALL_TIME, replay_settings, db_url)
    docids = {r[0] for r in query_rows(db_url, "SELECT docid FROM articles WHERE kind = 'sina_page'")}
    assert docids == expected_docids(replay)
    flashes = query_rows(db_url, "SELECT docid, title, keywords FROM articles WHERE kind = 'zhibo_flash'")
    assert flashes and all(d.startswith("zhibo:") and t for d, t, _ in flashes)
    assert counts["failed"] == 0 and counts["loaded"] == len(docids) + len(flashes)
    run = query_rows(db_url, "SELECT status, discovered, fetched, parsed, loaded FROM ingest_runs WHERE run_id = %s", (counts["run_id"],))
    assert run == [("success", counts["discovered"], counts["fetched"], counts["parsed"], counts["loaded"])]
    # nothing was lost: every stored page keeps its bytes and headers
    assert query_rows(db_url, "SELECT count(*) FROM raw_pages WHERE length(body) = 0 OR headers = '{}'::jsonb AND kind = 'sina_page'") == [(0,)]


def test_same_window_twice_leaves_identical_tables(db_url: str, replay: ReplayServer, replay_settings: Settings) -> None:
    flow.ingest_window(ALL_TIME, replay_settings, db_url)
    before = _snapshot(db_url)
    pages_requested = sum(1 for r in replay.request_log() if r["path"].endswith((".shtml", ".html")))
    second = flow.ingest_window(ALL_TIME, replay_settings, db_url)
    assert _snapshot(db_url) == before
    assert second["loaded"] == 0 and second["fetched"] == 0
    # stored articles are not fetched again
    assert sum(1 for r in replay.request_log() if r["path"].endswith((".shtml", ".html"))) == pages_requested


def test_archive_import_then_replay_ingest_makes_no_duplicates(
    db_url: str, replay: ReplayServer, replay_settings: Settings
) -> None:
    flow.import_archive(FIXTURES / "hexo_posts", db_url)
    from_archive = query_rows(db_url, "SELECT count(*) FROM articles")[0][0]
    flow.ingest_window(ALL_TIME, dataclasses.replace(replay_settings, zhibo_ids=()), db_url)
    posts = {p.name for p in (FIXTURES / "hexo_posts").rglob("*.md")}
    from_posts = {
        a["docid"]
        for a in replay.manifest()
        if a.get("kind") == "reconstructed" and a["source"].rsplit("@", 1)[0].rsplit("/", 1)[-1] in posts
    }
    assert from_posts
    merged = query_rows(
        db_url, "SELECT count(*) FROM articles WHERE docid = ANY(%s) AND kind = 'hexo_post'", (list(from_posts),)
    )[0][0]
    # each page rebuilt from a post found that post (same title + body) and gave it its docid
    assert merged == len(from_posts)
    total = query_rows(db_url, "SELECT count(*) FROM articles")[0][0]
    assert total == from_archive + len(expected_docids(replay) - from_posts)
    assert query_rows(db_url, "SELECT count(*) FROM (SELECT title_norm FROM articles GROUP BY 1 HAVING count(*) > 1) d") == [(0,)]


def test_500_on_a_page_is_a_dead_letter_then_retried(db_url: str, replay: ReplayServer, replay_settings: Settings) -> None:
    target = sorted(expected_docids(replay))[0]
    replay.set_fault(page_path(replay, target), "500")
    first = flow.ingest_window(ALL_TIME, replay_settings, db_url)
    assert first["failed"] == 1
    letters = query_rows(db_url, "SELECT stage, error_class, error, attempts FROM dead_letters WHERE resolved_at IS NULL")
    assert len(letters) == 1 and letters[0][0] == "fetch" and "HTTP 500" in letters[0][2]
    assert query_rows(db_url, "SELECT count(*) FROM articles WHERE docid = %s", (target,)) == [(0,)]
    replay.clear_faults()
    # a later run over any window retries what failed before
    later = flow.Window(datetime(2030, 1, 1, tzinfo=UTC), datetime(2030, 1, 2, tzinfo=UTC))
    retries_come_due(db_url)  # minutes later: what failed is due again
    flow.ingest_window(later, replay_settings, db_url)
    assert query_rows(db_url, "SELECT count(*) FROM articles WHERE docid = %s", (target,)) == [(1,)]
    assert query_rows(db_url, "SELECT count(*) FROM dead_letters WHERE resolved_at IS NULL") == [(0,)]


def test_timeout_then_success(db_url: str, replay: ReplayServer, replay_settings: Settings) -> None:
    target = sorted(expected_docids(replay))[1]
    replay.set_fault(page_path(replay, target), "slow", seconds=3)
    flow.ingest_window(ALL_TIME, replay_settings, db_url)
    letters = query_rows(db_url, "SELECT stage, error_class FROM dead_letters WHERE resolved_at IS NULL")
    assert letters == [("fetch", "FetchTimeout")]
    replay.clear_faults()
    retries_come_due(db_url)  # minutes later: what failed is due again
    flow.ingest_window(ALL_TIME, replay_settings, db_url)
    assert query_rows(db_url, "SELECT count(*) FROM articles WHERE docid = %s", (target,)) == [(1,)]


def test_malformed_roll_page_is_a_dead_letter_and_retried(
    db_url: str, replay: ReplayServer, replay_settings: Settings
) -> None:
    settings = dataclasses.replace(replay_settings, zhibo_ids=(), retries=0)
    replay.set_fault("/api/roll/get", "malformed_json")
    with pytest.raises(PipelineError):  # the only source failed: the run could not do its job
        flow.ingest_window(ALL_TIME, settings, db_url)
    letters = query_rows(db_url, "SELECT source, stage, error FROM dead_letters WHERE resolved_at IS NULL")
    assert letters and letters[0][:2] == ("roll:155:1686", "discover") and "malformed JSON" in letters[0][2]
    assert query_rows(db_url, "SELECT status FROM ingest_runs") == [("failed",)]
    replay.clear_faults()
    later = flow.Window(datetime(2030, 1, 1, tzinfo=UTC), datetime(2030, 1, 2, tzinfo=UTC))
    retries_come_due(db_url)  # minutes later: what failed is due again
    flow.ingest_window(later, settings, db_url)  # retries the failed (source, window) first
    assert query_rows(db_url, "SELECT count(*) FROM dead_letters WHERE resolved_at IS NULL") == [(0,)]
    assert query_rows(db_url, "SELECT count(*) FROM articles")[0][0] == len(expected_docids(replay))


def test_gbk_page_without_charset_parses(db_url: str, replay: ReplayServer, replay_settings: Settings) -> None:
    replay.set_fault("*.shtml", "gbk")
    counts = flow.ingest_window(ALL_TIME, dataclasses.replace(replay_settings, zhibo_ids=()), db_url)
    assert counts["failed"] == 0
    bad = query_rows(db_url, "SELECT count(*) FROM articles WHERE position(chr(65533) in title || body_text) > 0")
    assert bad == [(0,)]
    assert query_rows(db_url, "SELECT count(*) FROM articles")[0][0] == len(expected_docids(replay))


def test_unknown_layout_everywhere_fails_the_run_loudly(
    db_url: str, replay: ReplayServer, replay_settings: Settings
) -> None:
    replay.set_fault("*.shtml", "unknown_layout")
    with pytest.raises(PipelineError, match="failed"):
        flow.ingest_window(ALL_TIME, dataclasses.replace(replay_settings, zhibo_ids=()), db_url)
    letters = query_rows(db_url, "SELECT DISTINCT stage, error_class FROM dead_letters WHERE resolved_at IS NULL")
    assert letters == [("parse", "ParseError")]
    # the bytes are kept: after the layout is understood, `reparse` needs no re-crawl
    assert query_rows(db_url, "SELECT count(*) FROM raw_pages")[0][0] == len(expected_docids(replay))


def test_archive_import_tags_and_links_stories(db_url: str) -> None:
    """Loading runs the tagger and the near-duplicate linker in the same transaction as the row."""
    counts = flow.import_archive(FIXTURES / "hexo_posts", db_url)
    assert counts["failed"] == 0 and counts["posts"] == 20
    seed = "“十四五”信息化和工业化深度融合发展规划印发，点名这些产业"
    tags = set(query_rows(db_url, "SELECT t.kind, t.value FROM article_tags t JOIN articles a USING (article_id) WHERE a.title = %s", (seed,)))
    assert {("policy", "policy_document"), ("issuer", "工业和信息化部"), ("doc_type", "规划")} <= tags
    stories = dict(query_rows(db_url, "SELECT title, story_id FROM articles"))
    assert stories["1-5月上海市房地产开发投资同比下降18.0%"] == stories["1-5月上海房地产开发投资比去年同期下降18.0%。"]
    assert stories["0！北京昨日本土无新增"] != stories["0！上海昨日本土无新增"]
    assert query_rows(db_url, "SELECT count(*) FROM articles WHERE story_id IS NULL") == [(0,)]


def test_a_page_that_never_parses_does_not_fail_later_quiet_windows(
    db_url: str, replay: ReplayServer, replay_settings: Settings
) -> None:
    settings = dataclasses.replace(replay_settings, zhibo_ids=())
    target = sorted(expected_docids(replay))[2]
    replay.set_fault(page_path(replay, target), "unknown_layout")
    first = flow.ingest_window(ALL_TIME, settings, db_url)
    assert first["failed"] == 1
    quiet = flow.Window(datetime(2030, 1, 1, tzinfo=UTC), datetime(2030, 1, 1, 0, 10, tzinfo=UTC))
    retries_come_due(db_url)  # minutes later: what failed is due again
    again = flow.ingest_window(quiet, settings, db_url)  # retries the page, fails again, still succeeds
    assert again["refailed"] == 1 and again["failed"] == 0
    assert query_rows(db_url, "SELECT attempts FROM dead_letters WHERE resolved_at IS NULL") == [(2,)]


def test_two_archives_with_the_same_post_names_are_both_imported(db_url: str) -> None:
    """The two RSSHub archives hold posts of the same name (one with another date): both are seen."""
    flow.import_archive(FIXTURES / "hexo_posts" / "Rock-Candy-Tea", db_url)
    second = flow.import_archive(FIXTURES / "hexo_posts" / "hajeekn", db_url)
    assert second["discovered"] == second["posts"] == 8
    name = "1000元一斤卖老虎肉？警方已介入.md#%"
    items = query_rows(db_url, "SELECT status, article_id FROM feed_items WHERE item_key LIKE %s", (name,))
    assert len(items) == 2 and {s for s, _ in items} == {"loaded"}
    assert len({a for _, a in items}) == 1  # one article: same title and body
    again = flow.import_archive(FIXTURES / "hexo_posts" / "hajeekn", db_url)
    assert again["discovered"] == 0 and again["loaded"] == 0


def test_reparse_works_from_stored_bytes_without_the_network(db_url: str) -> None:
    """Bytes kept in raw_pages are enough: reparse loads them, with no server running at all."""
    from pipeline import db
    from pipeline.models import RawPage
    from pipeline.store.items import save_raw_page

    page = FIXTURES / "article_html" / "gne_sina_2.html"
    conn = db.connect(db_url)
    with db.transaction(conn) as cur:
        save_raw_page(
            cur,
            RawPage(
                url="https://finance.sina.com.cn/roll/2018-12-28/doc-ihqfskcn2160999.shtml", kind="sina_page",
                body=page.read_bytes(), headers={"content-type": "text/html; charset=utf-8"}, status_code=200,
                fetched_at=datetime(2018, 12, 28, 10, tzinfo=UTC),
            ),
        )  # fmt: skip
    conn.close()
    first = flow.reparse(db_url)
    assert first["parsed"] == 1 and first["failed"] == 0
    assert query_rows(db_url, "SELECT docid, version FROM articles") == [("comos:hqfskcn2160999", 1)]
    again = flow.reparse(db_url)  # same parser, same bytes: nothing changes
    assert again["parsed"] == 1 and again["loaded"] == 0
    assert query_rows(db_url, "SELECT count(*) FROM article_versions") == [(1,)]
