"""Dedup cost per article as the corpus grows: synthetic articles with planted duplicates, through link_story.

Run: .venv/bin/python bench/bench_dedup_scale.py            (10k and 100k, a few minutes)
     .venv/bin/python bench/bench_dedup_scale.py --full     (adds 1M; about an hour on 2 cores)
     .venv/bin/python bench/bench_dedup_scale.py --sizes 2000,5000
Uses NEWSFLOW_DATABASE_URL's server (a throwaway database is created and dropped) or an embedded
PostgreSQL in a temporary folder.

Text: "words" of 1-4 characters cut from the real fixture posts, drawn by their frequency, with numbers,
dates and places, in articles of fixture-like lengths (80-3000 characters). Planted: 8% near duplicates of
an earlier article (a new headline, ~10% of sentences rewritten), 2% exact copies under a new title, and
5% template look-alikes (an earlier article's text for another day: dates and figures changed).
"""

from __future__ import annotations

import argparse
import importlib.util
import itertools
import os
import random
import re
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg2
from _result import emit
from psycopg2.extras import execute_values

from pipeline import db, dedup, textnorm
from pipeline.flow import link_story, lock_batch
from pipeline.models import Article

_CORPUS = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "dedup_pairs" / "corpus.py"
_spec = importlib.util.spec_from_file_location("dedup_corpus", _CORPUS)
assert _spec and _spec.loader
corpus = importlib.util.module_from_spec(_spec)
sys.modules["dedup_corpus"] = corpus
_spec.loader.exec_module(corpus)

BATCH = 100
CITIES = ["北京", "上海", "广州", "深圳", "杭州", "南京", "成都", "武汉", "西安", "重庆", "天津", "苏州"]


@dataclass
class Planted:
    kind: str  # "original" | "near" | "exact" | "lookalike"
    source: int | None  # index of the article it copies


class Generator:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        text = "".join(a.body_text for a in corpus.all_articles().values())
        runs = re.findall(r"[\u4e00-\u9fff]+", text)
        words: Counter[str] = Counter()
        for run in runs:
            i = 0
            while i < len(run):
                n = self.rng.choice((1, 2, 2, 2, 3, 4))
                words[run[i : i + n]] += 1
                i += n
        self.words = list(words)
        self.cum = list(
            itertools.accumulate(words.values())
        )  # random.choices is O(vocab) per call without it
        self.lengths = sorted(len(textnorm.fold(a.body_text)) for a in corpus.all_articles().values())

    def sentence(self, day: datetime, plain: bool = False) -> str:
        parts = self.rng.choices(self.words, cum_weights=self.cum, k=self.rng.randint(8, 20))
        r = 1.0 if plain else self.rng.random()
        if r < 0.25:
            parts.insert(
                self.rng.randrange(len(parts)), f"{self.rng.randint(1, 9999)}.{self.rng.randint(0, 9)}%"
            )
        elif r < 0.4:
            parts.insert(0, f"{day.month}月{day.day}日，{self.rng.choice(CITIES)}")
        return "".join(parts) + self.rng.choice("。。。，；！？")

    def article(self, day: datetime) -> Article:
        target = max(60, int(self.rng.choice(self.lengths) * self.rng.uniform(0.6, 1.4)))
        paras, size = [], 0
        while size < target:
            para = "".join(self.sentence(day) for _ in range(self.rng.randint(1, 4)))
            paras.append(para)
            size += len(para)
        title = "".join(self.rng.choices(self.words, cum_weights=self.cum, k=self.rng.randint(4, 10)))
        return _article(title, tuple(paras), day)

    def near_copy(self, a: Article, day: datetime) -> Article:
        """An edited re-report: about one sentence in ten rewritten, a new headline."""
        paras = []
        for para in a.paragraphs:
            sentences = [x for x in re.split(r"(?<=[。！？])", para) if x]
            # an editor rewrites wording, not the day or the city
            paras.append(
                "".join(self.sentence(day, plain=True) if self.rng.random() < 0.1 else x for x in sentences)
            )
        title = "".join(self.rng.choices(self.words, cum_weights=self.cum, k=6))
        return replace(a, title=title, paragraphs=tuple(paras), published_at=day)

    def lookalike(self, a: Article, day: datetime) -> Article:
        other = (a.published_at or day) + timedelta(days=self.rng.randint(1, 3))
        date_re = re.compile(r"(\d{1,2})月(\d{1,2})日")
        paras = tuple(
            date_re.sub(
                f"{other.month}月{other.day}日",
                re.sub(r"\d+\.\d", lambda _: f"{self.rng.randint(1, 99)}.{self.rng.randint(0, 9)}", p),
            )
            for p in a.paragraphs
        )
        return replace(a, paragraphs=paras, published_at=other)


def _article(title: str, paras: tuple[str, ...], day: datetime) -> Article:
    return Article(
        url=None,
        docid=None,
        title=title,
        original_title=None,
        published_at=day,
        media=None,
        author=None,
        editor=None,
        keywords=(),
        stocks=(),
        paragraphs=paras,
        body_html="",
        images=(),
        kind="hexo_post",
        parser_version="bench",
    )


def _open_server(args: argparse.Namespace) -> tuple[str, str, Path | None]:
    admin = os.environ.get("NEWSFLOW_DATABASE_URL")
    pgdata = None
    if not admin:
        pgdata = Path(tempfile.mkdtemp(prefix="nf-bench-dedup-"))
        admin = db.start_embedded(pgdata)
    name = f"nf_bench_{uuid.uuid4().hex[:8]}"
    db.ensure_database(admin, name)
    url = db.with_database(admin, name)
    db.migrate(url)
    if not args.with_search_index:
        # This measures dedup; search's per-row trigger and GIN index (issue 5) would dominate the inserts.
        conn = psycopg2.connect(url)
        with conn, conn.cursor() as cur:
            cur.execute("DROP TRIGGER IF EXISTS articles_search_fill ON articles")
            cur.execute("DROP INDEX IF EXISTS articles_search_vector_idx")
        conn.close()
    return admin, url, pgdata


def _sizes(cur: psycopg2.extensions.cursor) -> list[tuple[str, str]]:
    cur.execute(
        """SELECT c.relname, pg_size_pretty(pg_total_relation_size(c.oid)) || ' (heap '
                  || pg_size_pretty(pg_relation_size(c.oid)) || ', indexes '
                  || pg_size_pretty(pg_indexes_size(c.oid)) || ')'
             FROM pg_class c
            WHERE c.relname IN ('articles', 'dedup_buckets', 'dedup_signatures')
            ORDER BY c.relname"""
    )
    rows: list[tuple[str, str]] = cur.fetchall()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--full", action="store_true", help="also grow to 1,000,000 articles")
    parser.add_argument(
        "--with-search-index", action="store_true", help="keep search's trigger and GIN index"
    )
    parser.add_argument("--window", type=int, default=2000, help="articles timed just before each size")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")] + ([1_000_000] if args.full else [])

    gen = Generator(7)
    admin, url, pgdata = _open_server(args)
    conn = db.connect(url)
    print(
        f"dedup {dedup.DEDUP_VERSION}; sizes {sizes}; batch {BATCH} per transaction; "
        f"timing = lock_batch + link_story; search trigger and GIN index "
        f"{'kept' if args.with_search_index else 'dropped (not what is measured)'}"
    )
    planted: list[Planted] = []
    corpus_articles: list[Article] = []
    ids: list[int] = []
    stories: list[int] = []
    per_article_ms: list[float] = []
    per_size: dict[str, float] = {}
    found: Counter[tuple[str, str]] = Counter()
    start_day = datetime(2021, 6, 1, tzinfo=UTC)
    t_all = time.monotonic()
    try:
        n = 0
        for size in sizes:
            while n < size:
                batch: list[tuple[Article, Planted]] = []
                for _ in range(min(BATCH, size - n)):
                    day = start_day + timedelta(minutes=5 * n)
                    r = gen.rng.random()
                    if len(corpus_articles) > 100 and r < 0.15:
                        # copy a recent article: re-reports follow within days
                        src = gen.rng.randrange(max(0, len(corpus_articles) - 2000), len(corpus_articles))
                        kind = "near" if r < 0.08 else "exact" if r < 0.10 else "lookalike"
                        base = corpus_articles[src]
                        # re-reports come within hours; a template is reused on a later day
                        day = (base.published_at or day) + timedelta(minutes=gen.rng.randint(1, 600))
                        if kind == "lookalike" and not dedup.lead_dates(base.title, base.body_text):
                            kind = (
                                "near"  # only a bulletin that names its day can be reissued for another day
                            )
                        if kind == "near":
                            art = gen.near_copy(base, day)
                        elif kind == "exact":
                            art = replace(base, title=base.title + "（转载）", published_at=day)
                        else:
                            art = gen.lookalike(base, day)
                        batch.append((art, Planted(kind, src)))
                    else:
                        batch.append((gen.article(day), Planted("original", None)))
                    n += 1
                with db.transaction(conn) as cur:
                    rows = [
                        (
                            a.kind,
                            "bench",
                            a.title,
                            textnorm.normalize_title(a.title),
                            textnorm.body_hash(a.body_text),
                            uuid.uuid4().hex,
                            a.published_at,
                            list(a.paragraphs),
                            a.body_text,
                            "",
                            a.parser_version,
                        )
                        for a, _ in batch
                    ]
                    new_ids = execute_values(
                        cur,
                        """INSERT INTO articles (kind, source, title, title_norm, body_hash, content_key, published_at,
                                                 paragraphs, body_text, body_html, parser_version)
                           VALUES %s RETURNING article_id""",
                        rows,
                        fetch=True,
                    )
                    t0 = time.perf_counter()
                    lock_batch(cur, [a for a, _ in batch])
                    links = []
                    for (a, _), (article_id,) in zip(batch, new_ids, strict=True):
                        t1 = time.perf_counter()
                        links.append(link_story(cur, article_id, a))
                        per_article_ms.append((time.perf_counter() - t1) * 1000)
                    lock_ms = (time.perf_counter() - t0) * 1000 - sum(per_article_ms[-len(batch) :])
                    for i in range(len(batch)):
                        per_article_ms[-len(batch) + i] += lock_ms / len(batch)
                for (a, p), (article_id,), link in zip(batch, new_ids, links, strict=True):
                    corpus_articles.append(a)
                    planted.append(p)
                    ids.append(article_id)
                    stories.append(link.story_id)
                    if p.source is not None:
                        # "linked" = joined its source's story; a look-alike may rightly join another
                        # reissue of the same template for the same day ("elsewhere")
                        if link.story_id == stories[p.source]:
                            outcome = "linked"
                        else:
                            outcome = "elsewhere" if link.duplicate_of is not None else "apart"
                        found[(p.kind, outcome)] += 1
                    elif link.duplicate_of is not None:
                        found[("original", "linked")] += 1
                if n % 10000 == 0:
                    print(f"  .. {n} articles, {time.monotonic() - t_all:.0f} s", flush=True)
            window = per_article_ms[-args.window :]
            with conn.cursor() as cur:
                sizes_now = _sizes(cur)
            conn.commit()
            print(
                f"\n{size:>9,} articles: dedup {statistics.mean(window):.2f} ms/article over the last {len(window)} "
                f"(p50 {statistics.median(window):.2f}, p95 {statistics.quantiles(window, n=20)[18]:.2f})"
            )
            for name, pretty in sizes_now:
                print(f"    {name:18} {pretty}")
            per_size[str(size)] = round(statistics.mean(window), 2)
        print("\nplanted copies:", ", ".join(f"{k[0]} {k[1]}={v}" for k, v in sorted(found.items())))
        near = found[("near", "linked")] / max(1, sum(v for k, v in found.items() if k[0] == "near"))
        exact = found[("exact", "linked")] / max(1, sum(v for k, v in found.items() if k[0] == "exact"))
        look = found[("lookalike", "linked")]
        print(
            f"recall near={near:.3f} exact={exact:.3f}; look-alikes merged into their template's story={look}; "
            f"originals linked to something={found[('original', 'linked')]}"
        )
        print(f"total wall time {time.monotonic() - t_all:.0f} s")
        emit("dedup", ms_per_article=per_size, recall_near=round(near, 3), lookalikes_merged=look)
    finally:
        conn.close()
        c = psycopg2.connect(admin)
        c.autocommit = True
        with c.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1].split("?")[0]}"')
        c.close()
        if pgdata is not None:
            db.stop_embedded(pgdata)
            shutil.rmtree(pgdata, ignore_errors=True)


if __name__ == "__main__":
    main()
