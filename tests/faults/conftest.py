"""Fixtures and database checks shared by the fault tests: replay server, quick settings, invariants."""

from __future__ import annotations

from typing import Any

import pytest

from pipeline.config import Settings
from pipeline.replay import ReplayServer

from ..helpers import ALL_TIME as ALL_TIME  # re-exported for the fault tests
from ..helpers import LATER as LATER
from ..helpers import expected_docids, query_rows, quick_settings
from ..helpers import page_path as page_path

rows = query_rows


@pytest.fixture()
def settings(replay: ReplayServer) -> Settings:
    return quick_settings(replay.base_url)


def open_dead_letters(url: str) -> list[tuple[Any, ...]]:
    return rows(
        url,
        "SELECT source, item_key, stage, error_class, error FROM dead_letters WHERE resolved_at IS NULL ORDER BY 1, 2, 3",
    )


def assert_nothing_lost(url: str, replay: ReplayServer) -> None:
    """Every recorded article is stored, or its failure is an open dead letter with a reason.

    An item that was discovered is accounted for by its own dead letter (fetch/parse/load); an
    item never discovered, by an open discover dead letter of its source.
    """
    stored = {r[0] for r in rows(url, "SELECT docid FROM articles WHERE docid IS NOT NULL")}
    letters = open_dead_letters(url)
    assert all(error and error_class for *_, error_class, error in letters), letters
    failed_items = {(s, k) for s, k, stage, *_ in letters if stage != "discover"}
    failed_sources = {s for s, _, stage, *_ in letters if stage == "discover"}
    items = {
        r[0]: (r[1], r[2])
        for r in rows(url, "SELECT docid, source, item_key FROM feed_items WHERE docid IS NOT NULL")
    }
    for docid in expected_docids(replay) - stored:
        if docid in items:
            assert items[docid] in failed_items, f"{docid} neither stored nor dead-lettered"
        else:
            assert failed_sources, f"{docid} never discovered and no discover dead letter"
    # every feed item ended somewhere: loaded/skipped onto a stored article, or failed with a letter
    for status, article_id, source, key in rows(
        url, "SELECT status, article_id, source, item_key FROM feed_items ORDER BY feed_item_id"
    ):
        if status in ("loaded", "skipped"):
            assert article_id is not None
        else:
            assert status == "failed" and (source, key) in failed_items, (status, source, key)
    dangling = rows(
        url, "SELECT count(*) FROM feed_items f WHERE f.article_id IS NOT NULL "
        "AND NOT EXISTS (SELECT 1 FROM articles a WHERE a.article_id = f.article_id)"
    )  # fmt: skip
    assert dangling == [(0,)]


def assert_no_duplicates(url: str) -> None:
    """No article twice: docid, canonical URL, normalized title + body, and (for pages) title alone."""
    for key in ("docid", "canonical_url", "content_key", "title_norm || body_hash"):
        dup = rows(
            url,
            f"SELECT {key}, count(*) FROM articles WHERE {key} IS NOT NULL GROUP BY 1 HAVING count(*) > 1",
        )
        assert dup == [], (key, dup)
    pages = rows(
        url,
        "SELECT title_norm, count(*) FROM articles WHERE kind = 'sina_page' GROUP BY 1 HAVING count(*) > 1",
    )
    assert pages == []


def assert_complete(url: str, replay: ReplayServer) -> None:
    """The fault is gone and a later run retried: everything stored, no open dead letter."""
    stored = {r[0] for r in rows(url, "SELECT docid FROM articles WHERE kind = 'sina_page'")}
    assert stored == expected_docids(replay)
    flashes = rows(url, "SELECT count(*) FROM articles WHERE kind = 'zhibo_flash'")
    assert flashes == [(len(replay.httpd.data.flashes),)]
    assert open_dead_letters(url) == []
    assert_no_duplicates(url)
    assert_nothing_lost(url, replay)


def assert_batches_whole(url: str) -> None:
    """No half-written load: every article has its version row and story; feed statuses agree with articles."""
    assert rows(
        url,
        "SELECT count(*) FROM articles a WHERE NOT EXISTS "
        "(SELECT 1 FROM article_versions v WHERE v.article_id = a.article_id AND v.version = a.version)",
    ) == [(0,)]
    assert rows(url, "SELECT count(*) FROM articles WHERE story_id IS NULL OR dup_verdict IS NULL") == [(0,)]
    # the tagger ran for every article in the load transaction (its version is recorded even with no tag)
    untagged = rows(
        url,
        "SELECT count(*) FROM articles a WHERE a.kind = 'sina_page' AND NOT EXISTS "
        "(SELECT 1 FROM article_tags t WHERE t.article_id = a.article_id)",
    )
    assert untagged == [(0,)]
    assert rows(
        url,
        "SELECT count(*) FROM feed_items WHERE status IN ('loaded', 'skipped') AND "
        "(article_id IS NULL OR NOT EXISTS (SELECT 1 FROM articles a WHERE a.article_id = feed_items.article_id))",
    ) == [(0,)]
    # a loaded article is owned by at least one feed item that says so
    assert rows(
        url,
        "SELECT count(*) FROM articles a WHERE NOT EXISTS "
        "(SELECT 1 FROM feed_items f WHERE f.article_id = a.article_id AND f.status IN ('loaded', 'skipped'))",
    ) == [(0,)]


def state(url: str) -> dict[str, Any]:
    """The tables' content keyed by natural keys (ids and timestamps differ between databases)."""
    by_id = dict(rows(url, "SELECT article_id, COALESCE(docid, content_key) FROM articles"))
    return {
        "articles": rows(
            url,
            "SELECT COALESCE(docid, content_key), canonical_url, content_key, title, published_at, version, "
            "body_text, body_html, kind FROM articles ORDER BY 1",
        ),
        "versions": sorted(
            (by_id[a], v, h)
            for a, v, h in rows(url, "SELECT article_id, version, body_hash FROM article_versions")
        ),
        "tags": sorted(
            (by_id[a], k, v, e)
            for a, k, v, e in rows(url, "SELECT article_id, kind, value, evidence FROM article_tags")
        ),
        "stories": sorted(
            sorted(by_id[a] for a in members)
            for (members,) in rows(url, "SELECT array_agg(article_id) FROM articles GROUP BY story_id")
        ),
        "feed_items": rows(url, "SELECT source, item_key, status, url, docid FROM feed_items ORDER BY 1, 2"),
        "raw_pages": rows(url, "SELECT url, body_sha256 FROM raw_pages ORDER BY 1"),
        "open_dead_letters": open_dead_letters(url),
    }
