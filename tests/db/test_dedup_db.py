"""Story links in a real PostgreSQL: clustering of the labelled posts, re-links, rebuild, and two loaders racing."""

from __future__ import annotations

import dataclasses
import random
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg2
import pytest

from pipeline import db, dedup
from pipeline.dedup import DedupLink
from pipeline.flow import link_story, lock_batch, rebuild_dedup
from pipeline.models import Article
from pipeline.textnorm import body_hash, normalize_title

from ..helpers import fixture_corpus

corpus = fixture_corpus("dedup_pairs")

pytestmark = pytest.mark.db


@pytest.fixture(scope="module")
def articles() -> dict[str, Article]:
    return corpus.all_articles()


def _insert(cur: Any, key: str, article: Article) -> int | None:
    """The loader's part, reduced to what dedup needs: one row per content (key = fixture path)."""
    title_norm, digest = normalize_title(article.title), body_hash(article.body_text)
    cur.execute(
        """INSERT INTO articles (kind, source, title, title_norm, body_hash, content_key, published_at,
                                 paragraphs, body_text, body_html, parser_version)
           VALUES (%s, 'test', %s, %s, %s, %s, %s, %s, %s, '', %s)
           ON CONFLICT (content_key) DO NOTHING RETURNING article_id""",
        (
            article.kind,
            article.title,
            title_norm,
            digest,
            key,
            article.published_at,
            list(article.paragraphs),
            article.body_text,
            article.parser_version,
        ),
    )
    row = cur.fetchone()
    return int(row[0]) if row else None


def _load(url: str, items: list[tuple[str, Article]]) -> dict[str, DedupLink]:
    conn = db.connect(url)
    links = {}
    try:
        with db.transaction(conn) as cur:
            lock_batch(cur, [a for _, a in items])
            for key, article in sorted(items):  # one global insert order: no unique-index deadlock
                article_id = _insert(cur, key, article)
                if article_id is not None:
                    links[key] = link_story(cur, article_id, article)
    finally:
        conn.close()
    return links


def _story_of(url: str) -> dict[str, tuple[int, int | None, str, int]]:
    conn = psycopg2.connect(url)
    with conn, conn.cursor() as cur:
        cur.execute("SELECT content_key, story_id, duplicate_of, dup_verdict, article_id FROM articles")
        out = {r[0]: (r[1], r[2], r[3], r[4]) for r in cur.fetchall()}
    conn.close()
    return out


def _assert_clusters_match_truth(url: str, keys: list[str]) -> None:
    got = _story_of(url)
    assert set(got) == set(keys)  # every article kept its row
    for story in corpus.true_stories(keys):
        ids = {got[k][0] for k in story}
        assert len(ids) == 1, f"story split: {sorted(story)}"
        first = min(got[k][3] for k in story)
        assert ids == {first}  # story_id is the first-seen member
        for k in story:
            assert got[k][1] == (None if got[k][3] == first else first)
    assert len({v[0] for v in got.values()}) == len(corpus.true_stories(keys))


def test_labelled_posts_cluster_into_their_true_stories(db_url: str, articles: dict[str, Article]) -> None:
    items = list(articles.items())
    for key, article in items:  # one transaction per article, like a slow trickle of new items
        _load(db_url, [(key, article)])
    _assert_clusters_match_truth(db_url, list(articles))
    conn = psycopg2.connect(db_url)
    with conn, conn.cursor() as cur:
        cur.execute("SELECT dup_verdict, count(*) FROM articles GROUP BY 1")
        verdicts = dict(cur.fetchall())
        cur.execute("SELECT count(*), sum(member_count) FROM stories")
        n_stories, members = cur.fetchone()
        cur.execute(
            """SELECT s.member_count, s.first_title, s.first_seen_at <= s.last_seen_at FROM stories s
                JOIN articles a ON a.article_id = s.first_article_id WHERE s.member_count > 1"""
        )
        multi = cur.fetchall()
        cur.execute("SELECT count(*) FROM dedup_signatures")
        n_sigs = cur.fetchone()[0]
    conn.close()
    assert verdicts["exact"] == 2 and verdicts["near"] == 3
    assert members == len(articles) and n_stories == len(articles) - 5
    assert len(multi) == 5 and all(m[0] == 2 and m[2] for m in multi)
    assert n_sigs == len(articles)


def test_changed_content_is_relinked(db_url: str, articles: dict[str, Article]) -> None:
    key_a = "hexo_posts/Rock-Candy-Tea/1-5月上海市房地产开发投资同比下降180%.md"
    key_b = "hexo_posts/Rock-Candy-Tea/1-5月上海房地产开发投资比去年同期下降180%。.md"
    links = _load(db_url, [(key_a, articles[key_a])])
    links |= _load(db_url, [(key_b, articles[key_b])])
    assert links[key_b].verdict == "near" and links[key_b].duplicate_of == links[key_a].article_id
    # The second article's text is replaced by an unrelated one (a parser fix, say): it leaves the story.
    other = articles["hexo_posts/hajeekn/12岁男孩被4条狗咬死，警方：不是流浪狗.md"]
    conn = db.connect(db_url)
    with db.transaction(conn) as cur:
        relinked = link_story(
            cur, links[key_b].article_id, dataclasses.replace(articles[key_b], paragraphs=other.paragraphs)
        )
        cur.execute("SELECT count(*) FROM dedup_buckets WHERE article_id = %s", (links[key_b].article_id,))
        n_buckets = cur.fetchone()[0]
    conn.close()
    assert relinked.verdict == "original" and relinked.story_id == links[key_b].article_id
    # the relinked article keeps its own title (its headline fact is a bucket key too) with the new body
    assert n_buckets == len(dedup.signature(articles[key_b].title, other.body_text).bucket_keys)


def test_rebuild_recomputes_without_losing_rows(db_url: str, articles: dict[str, Article]) -> None:
    _load(db_url, list(articles.items()))
    conn = psycopg2.connect(db_url)
    with conn, conn.cursor() as cur:
        # simulate links made by an older version with a bad threshold: everything in one story
        cur.execute(
            "UPDATE articles SET story_id = (SELECT min(article_id) FROM articles), dup_verdict = 'near'"
        )
        cur.execute("DELETE FROM dedup_buckets WHERE band < 8")
    conn.close()
    counts = rebuild_dedup(db_url)
    assert counts["articles"] == len(articles)
    assert counts["stories"] == len(articles) - 5 and counts["exact"] == 2 and counts["near"] == 3
    _assert_clusters_match_truth(db_url, list(articles))
    conn = psycopg2.connect(db_url)
    with conn, conn.cursor() as cur:
        cur.execute(
            "SELECT count(DISTINCT article_id), count(*) FROM dedup_buckets WHERE band < %s", (dedup.BANDS,)
        )
        with_keys, rows = cur.fetchone()
    conn.close()
    assert rows == with_keys * dedup.BANDS


def test_second_transaction_waits_and_sees_the_first(db_url: str, articles: dict[str, Article]) -> None:
    """The race: two near-duplicates in two open transactions. Without the key locks both become originals."""
    key_a = 'dedup_pairs/posts/"100种方法刑事你"的女书记登门道歉，当事人：没诚意.md'
    key_b = 'dedup_pairs/posts/"100种方法刑事你"的女书记登门道歉，当事人：她只是站在那里没说话，问题至今没解决，还多次被拘留.md'
    first_linked = threading.Event()
    result: dict[str, Any] = {}

    def first() -> None:
        conn = db.connect(db_url)
        with db.transaction(conn) as cur:
            article_id = _insert(cur, key_a, articles[key_a])
            assert article_id is not None
            result["a"] = link_story(cur, article_id, articles[key_a])
            first_linked.set()
            time.sleep(0.8)  # still uncommitted while the second one links
        conn.close()

    def second() -> None:
        first_linked.wait(10)
        conn = db.connect(db_url)
        started = time.monotonic()
        with db.transaction(conn) as cur:
            article_id = _insert(cur, key_b, articles[key_b])
            assert article_id is not None
            result["b"] = link_story(cur, article_id, articles[key_b])
        result["waited"] = time.monotonic() - started
        conn.close()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert result["waited"] > 0.4
    assert result["b"].verdict == "near" and result["b"].story_id == result["a"].article_id


def test_two_loaders_with_overlapping_input_cluster_each_story_once(
    db_url: str, articles: dict[str, Article]
) -> None:
    items = list(articles.items())
    for round_no in range(3):
        if round_no:
            conn = psycopg2.connect(db_url)
            with conn, conn.cursor() as cur:
                cur.execute("TRUNCATE articles RESTART IDENTITY CASCADE")
            conn.close()
        rng = random.Random(round_no)
        errors: list[BaseException] = []
        barrier = threading.Barrier(2)

        def loader(seed: int, barrier: threading.Barrier, errors: list[BaseException]) -> None:
            mine = items[:]  # both loaders see every post, in their own order and batches
            random.Random(seed).shuffle(mine)
            try:
                barrier.wait(10)
                for start in range(0, len(mine), 4):
                    _load(db_url, mine[start : start + 4])
            except BaseException as exc:  # reported below: the test fails on it
                errors.append(exc)

        threads = [
            threading.Thread(target=loader, args=(rng.randrange(1 << 30), barrier, errors)) for _ in range(2)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert not errors, errors
        _assert_clusters_match_truth(db_url, list(articles))


def test_daily_notice_repeated_weeks_later_is_not_linked(db_url: str, articles: dict[str, Article]) -> None:
    flash = articles["hexo_posts/hajeekn/1月LPR报价出炉：1年期下调10个基点 5年期下调5个基点.md"]
    later = dataclasses.replace(
        flash, title="LPR报价", published_at=(flash.published_at or datetime.now(UTC)) + timedelta(days=31)
    )
    links = _load(db_url, [("a", flash)])
    links |= _load(db_url, [("b", later)])
    assert links["b"].verdict == "original" and links["b"].candidates >= 1
