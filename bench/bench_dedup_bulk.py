"""Dedup cost per article at a large corpus (default 1M), reached by bulk prefill instead of 1M link calls.

bench_dedup_scale.py grows the corpus through the real loader path, which takes about an hour to
reach 1M on 2 cores. Here the first N articles (same generator: fixture vocabulary and lengths,
~10% re-reports) get their real signatures and bucket rows computed in worker processes and
COPYed in, indexes built after; then the last `--window` articles go through the real path
(`lock_batch` + `link_story`, batches of 100) and that is what is timed. The lookup cost
depends on the bucket table's size and per-bucket fan-out, which the prefill reproduces.

    .venv/bin/python bench/bench_dedup_bulk.py [--size 1000000] [--window 2000]
"""

from __future__ import annotations

import argparse
import io
import multiprocessing
import shutil
import statistics
import sys
import time
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import psycopg2
from _result import emit
from bench_dedup_scale import BATCH, Generator, _open_server, _sizes
from psycopg2.extras import execute_values

from pipeline import db, dedup, textnorm
from pipeline.flow import link_story, lock_batch
from pipeline.models import Article

START = datetime(2021, 6, 1, tzinfo=UTC)
CHUNK = 5000


def _esc(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def _chunk(job: tuple[int, int]) -> tuple[str, str, str]:
    """COPY text for articles [first, first + n): rows of articles, dedup_signatures, dedup_buckets."""
    first, n = job
    gen = Generator(1000 + first // CHUNK)
    arts, sigs, buckets = io.StringIO(), io.StringIO(), io.StringIO()
    recent: list[Article] = []
    for i in range(first, first + n):
        day = START + timedelta(seconds=30 * i)
        if recent and gen.rng.random() < 0.1:
            a = gen.near_copy(recent[gen.rng.randrange(len(recent))], day)
        else:
            a = gen.article(day)
            recent = [*recent, a][-200:]
        sig = dedup.signature(a.title, a.body_text)
        aid = i + 1
        arts.write(
            "\t".join((
                str(aid), "hexo_post", "bench", _esc(a.title), _esc(textnorm.normalize_title(a.title)),
                textnorm.body_hash(a.body_text), uuid.uuid4().hex, day.isoformat(), _esc(a.body_text), "", "bench",
            )) + "\n"
        )  # fmt: skip
        sigs.write(f"{aid}\t{sig.version}\t\\\\x{sig.minhash_bytes().hex()}\t{sig.shingle_count}\t{sig.text_chars}\n")
        for band, key in sig.bucket_keys:
            buckets.write(f"{key}\t{aid}\t{band}\n")
    return arts.getvalue(), sigs.getvalue(), buckets.getvalue()


def prefill(url: str, size: int, workers: int) -> float:
    conn = psycopg2.connect(url)
    t0 = time.monotonic()
    with conn, conn.cursor() as cur:
        cur.execute("ALTER TABLE dedup_buckets DROP CONSTRAINT dedup_buckets_pkey")
        cur.execute("DROP INDEX dedup_buckets_article_idx")
    jobs = [(s, min(CHUNK, size - s)) for s in range(0, size, CHUNK)]
    with multiprocessing.Pool(workers) as pool:
        for done, (arts, sigs, buckets) in enumerate(pool.imap(_chunk, jobs), start=1):
            with conn, conn.cursor() as cur:
                cur.copy_expert(
                    "COPY articles (article_id, kind, source, title, title_norm, body_hash, content_key,"
                    " published_at, body_text, body_html, parser_version) FROM STDIN",
                    io.StringIO(arts),
                )
                cur.copy_expert(
                    "COPY dedup_signatures (article_id, dedup_version, minhash, shingle_count, text_chars) FROM STDIN",
                    io.StringIO(sigs),
                )
                cur.copy_expert("COPY dedup_buckets (bucket, article_id, band) FROM STDIN", io.StringIO(buckets))
            if done % 20 == 0:
                print(f"  .. {done * CHUNK:,} articles prefilled, {time.monotonic() - t0:.0f} s", flush=True)
    with conn, conn.cursor() as cur:
        cur.execute("SET maintenance_work_mem = '1GB'")
        cur.execute("ALTER TABLE dedup_buckets ADD PRIMARY KEY (bucket, article_id)")
        cur.execute("CREATE INDEX dedup_buckets_article_idx ON dedup_buckets (article_id)")
        cur.execute("SELECT setval('articles_article_id_seq', %s)", (size,))
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("VACUUM ANALYZE articles")
        cur.execute("VACUUM ANALYZE dedup_buckets")
    conn.close()
    return time.monotonic() - t0


def measure(url: str, size: int, window: int) -> list[float]:
    """The real path for `window` more articles: originals plus re-reports of the newest prefilled ones."""
    gen = Generator(7)
    conn = db.connect(url)
    with conn.cursor() as cur:
        cur.execute("SELECT title, body_text, published_at FROM articles ORDER BY article_id DESC LIMIT 500")
        recent = [replace(gen.article(p), title=t, paragraphs=tuple(b.split("\n"))) for t, b, p in cur.fetchall()]
    conn.commit()
    per_article: list[float] = []
    day = START + timedelta(seconds=30 * size)
    for start in range(0, window, BATCH):
        batch = []
        for _ in range(min(BATCH, window - start)):
            day += timedelta(seconds=30)
            r = gen.rng.random()
            batch.append(gen.near_copy(recent[gen.rng.randrange(len(recent))], day) if r < 0.15 else gen.article(day))
        with db.transaction(conn) as cur:
            rows = [
                (a.kind, "bench", a.title, textnorm.normalize_title(a.title), textnorm.body_hash(a.body_text),
                 uuid.uuid4().hex, a.published_at, list(a.paragraphs), a.body_text, "", a.parser_version)
                for a in batch
            ]  # fmt: skip
            ids = execute_values(
                cur,
                """INSERT INTO articles (kind, source, title, title_norm, body_hash, content_key, published_at,
                                         paragraphs, body_text, body_html, parser_version)
                   VALUES %s RETURNING article_id""",
                rows,
                fetch=True,
            )
            t0 = time.perf_counter()
            lock_batch(cur, batch)
            for a, (article_id,) in zip(batch, ids, strict=True):
                link_story(cur, article_id, a)
            per_article.extend([(time.perf_counter() - t0) * 1000 / len(batch)] * len(batch))
    conn.close()
    return per_article


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=1_000_000)
    ap.add_argument("--window", type=int, default=2000)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    ns = argparse.Namespace(with_search_index=False)
    _admin, url, pgdata = _open_server(ns)
    try:
        seconds = prefill(url, args.size, args.workers)
        print(f"prefilled {args.size:,} articles with their signatures and buckets in {seconds:.0f} s", flush=True)
        per = measure(url, args.size, args.window)
        mean = statistics.mean(per)
        print(f"\n{args.size:,} articles: dedup {mean:.2f} ms/article over the next {len(per)} (real path, batches of {BATCH})")
        conn = psycopg2.connect(url)
        with conn, conn.cursor() as cur:
            for name, pretty in _sizes(cur):
                print(f"    {name:18} {pretty}")
        conn.close()
    finally:
        if pgdata is not None:
            db.stop_embedded(pgdata)
            shutil.rmtree(pgdata, ignore_errors=True)
    emit("dedup_bulk", ms_per_article={str(args.size): round(mean, 2)})
    return 0


if __name__ == "__main__":
    sys.exit(main())
