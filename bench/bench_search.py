"""Search benchmark: realistic generated articles, p50/p95 of search_articles() vs a sequential ILIKE scan.

Articles are recombined from real sentences of the fixture corpus (titles from real titles and
sentences, bodies of 3-60 sentences, numbers re-drawn), so lengths and vocabulary are like the
fixtures. Usage:

    python bench/bench_search.py                      # 100k rows
    python bench/bench_search.py --sizes 100000,1000000
    NEWSFLOW_DATABASE_URL=postgresql://... python bench/bench_search.py   # a server of your own

Without NEWSFLOW_DATABASE_URL it starts an embedded PostgreSQL in a temporary folder. It prints
figures only; nothing here is a pass/fail test.
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import random
import re
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg2

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipeline import db  # noqa: E402
from pipeline.parse.hexo import parse_hexo_post  # noqa: E402
from pipeline.parse.sina import parse_article_page  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures"
QUERIES = [
    "数字孪生",
    "工信部 规划",
    "LPR 下调",
    "智能网联汽车",
    "房地产开发投资",
    "十四五 -商务",
    "sz300024",
    "节能减排 OR 碳达峰",
    "警方通报",
    "制造业PMI",
    "外商投资",
    "规模以上工业企业",
]
START = datetime(2021, 6, 1, tzinfo=UTC)
SPAN_S = int(timedelta(days=430).total_seconds())


def sentence_pool() -> tuple[list[str], list[str], list[str]]:
    titles, sentences = [], []
    codes: set[str] = set()
    for path in sorted((FIXTURES / "hexo_posts").rglob("*.md")):
        a = parse_hexo_post(path.read_bytes(), path.name)
        titles.append(a.title)
        sentences += [s for p in a.paragraphs for s in re.findall(r"[^。！？]+[。！？]?", p) if len(s) > 4]
        codes |= {s.code for s in a.stocks}
    with open(FIXTURES / "article_html" / "index.tsv", encoding="utf-8") as fh:
        for row in csv.DictReader(fh, delimiter="\t"):
            a = parse_article_page(
                (FIXTURES / "article_html" / row["file"]).read_bytes(),
                row["url"],
                datetime(2024, 1, 1, tzinfo=UTC),
            )
            titles.append(a.title)
            sentences += [
                s for p in a.paragraphs for s in re.findall(r"[^。！？]+[。！？]?", p) if len(s) > 4
            ]
            codes |= {s.code for s in a.stocks}
    return titles, sentences, sorted(codes | {"sz300024", "sh600000", "bj835670", "hk00700"})


def redraw_numbers(text: str, rng: random.Random) -> str:
    return re.sub(r"\d+", lambda m: str(rng.randint(0, 10 ** len(m.group()))), text)


def generate(n: int, seed: int, out: io.StringIO) -> None:
    rng = random.Random(seed)
    titles, sentences, codes = sentence_pool()
    media = ["新浪财经", "中国证券报", "经济日报", "上海证券报", "央视新闻", "第一财经", "证券时报"]
    for i in range(n):
        if rng.random() < 0.5:
            title = redraw_numbers(rng.choice(titles), rng)
        else:
            title = redraw_numbers(rng.choice(sentences), rng).strip("。！？")[:30]
        k = min(60, max(3, int(rng.lognormvariate(2.6, 0.6))))
        body = "\n".join(redraw_numbers(rng.choice(sentences), rng) for _ in range(k))
        stocks = "[]"
        if rng.random() < 0.1:
            stocks = f'[{{"code": "{rng.choice(codes)}", "name": null}}]'
        published = START + timedelta(seconds=rng.randrange(SPAN_S))
        key = uuid.UUID(int=rng.getrandbits(128)).hex
        fields = [
            f"bench:{seed}:{i}",
            "rss_item",
            "bench",
            title,
            title,
            key,
            key,
            published.isoformat(),
            rng.choice(media),
            stocks,
            body,
            "",
            "bench",
        ]
        out.write(
            "\t".join(f.replace("\\", "\\\\").replace("\t", " ").replace("\n", "\\n") for f in fields) + "\n"
        )


COLUMNS = (
    "canonical_url, kind, source, title, title_norm, body_hash, content_key, published_at, media, stocks,"
    " body_text, body_html, parser_version"
)


def load(conn: psycopg2.extensions.connection, n: int, seed: int) -> tuple[float, float]:
    """Load n articles; returns (seconds with the search trigger, seconds for the same rows without it)."""
    buf = io.StringIO()
    generate(n, seed, buf)
    with conn.cursor() as cur:
        cur.execute(f"CREATE TEMP TABLE staging ({COLUMNS.replace(',', ' text,')} text)")
        buf.seek(0)
        cur.copy_expert(f"COPY staging ({COLUMNS}) FROM STDIN", buf)
        cast = COLUMNS.replace("published_at", "published_at::timestamptz").replace("stocks", "stocks::jsonb")
        cur.execute("CREATE TEMP TABLE plain (LIKE articles INCLUDING DEFAULTS)")
        t0 = time.perf_counter()
        cur.execute(f"INSERT INTO plain ({COLUMNS}) SELECT {cast} FROM staging")
        plain_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        cur.execute(f"INSERT INTO articles ({COLUMNS}) SELECT {cast} FROM staging")
        with_s = time.perf_counter() - t0
        cur.execute("DROP TABLE staging, plain")
    conn.commit()
    return with_s, plain_s


def timed(
    conn: psycopg2.extensions.connection, sql: str, params: tuple[object, ...], reps: int
) -> list[float]:
    out = []
    with conn.cursor() as cur:
        for _ in range(reps):
            t0 = time.perf_counter()
            cur.execute(sql, params)
            cur.fetchall()
            out.append((time.perf_counter() - t0) * 1000)
    return out


def ilike_sql(query: str) -> tuple[str, tuple[object, ...]]:
    """The naive equivalent: every positive term ILIKE'd over title and body, newest 20."""
    conds, params = [], []
    for word in query.split():
        if word == "OR":
            continue
        neg = word.startswith("-")
        word = word.lstrip("-")
        conds.append(("NOT " if neg else "") + "(title ILIKE %s OR body_text ILIKE %s)")
        params += [f"%{word}%", f"%{word}%"]
    glue = " OR " if " OR " in query else " AND "
    return (
        f"SELECT article_id FROM articles WHERE {glue.join(conds)} ORDER BY published_at DESC LIMIT 20",
        tuple(params),
    )


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, round(p / 100 * (len(values) - 1)))]


def report(conn: psycopg2.extensions.connection, rows: int, reps: int, ilike_reps: int) -> None:
    with conn.cursor() as cur:
        cur.execute("VACUUM ANALYZE articles") if conn.autocommit else None
        cur.execute(
            "SELECT pg_relation_size('articles_search_vector_idx'),"
            " sum(pg_column_size(search_vector)), sum(pg_column_size(search_text)),"
            " sum(pg_column_size(body_text)) FROM articles"
        )
        idx, vec, txt, body = cur.fetchone()  # type: ignore[misc]
    print(
        f"\n== {rows:,} articles: GIN index {idx / 2**20:.0f} MiB, search_vector {vec / 2**20:.0f} MiB,"
        f" search_text {txt / 2**20:.0f} MiB (body_text {body / 2**20:.0f} MiB)"
    )
    print(
        f"{'query':<22}{'hits':>8}{'p50 ms':>9}{'p95 ms':>9}{'recent p95':>12}{'ILIKE p50':>11}{'ILIKE p95':>11}"
    )
    all_rel, all_recent = [], []
    for q in QUERIES:
        with conn.cursor() as cur:
            cur.execute("SELECT count(*) FROM search_articles(%s, collapse => false, lim => 1000)", (q,))
            hits = cur.fetchone()[0]  # type: ignore[index]
        rel = timed(conn, "SELECT * FROM search_articles(%s)", (q,), reps)
        rec = timed(conn, "SELECT * FROM search_articles(%s, order_by => 'recent')", (q,), reps)
        sql, params = ilike_sql(q)
        il = timed(conn, sql, params, ilike_reps)
        all_rel += rel
        all_recent += rec
        print(
            f"{q:<22}{hits:>8}{pct(rel, 50):>9.1f}{pct(rel, 95):>9.1f}{pct(rec, 95):>12.1f}"
            f"{pct(il, 50):>11.1f}{pct(il, 95):>11.1f}"
        )
    print(
        f"{'ALL (relevance)':<22}{'':>8}{pct(all_rel, 50):>9.1f}{pct(all_rel, 95):>9.1f}"
        f"{pct(all_recent, 95):>12.1f}   ('hits' capped at 1000)"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="100000", help="comma-separated row counts to measure at, ascending")
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--ilike-reps", type=int, default=3)
    ap.add_argument("--batch", type=int, default=50000)
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]

    tmp = None
    admin = os.environ.get("NEWSFLOW_DATABASE_URL")
    if not admin:
        tmp = tempfile.mkdtemp(prefix="newsflow-bench-")
        admin = db.start_embedded(Path(tmp))
    name = f"newsflow_bench_{uuid.uuid4().hex[:8]}"
    db.ensure_database(admin, name)
    url = db.with_database(admin, name)
    db.migrate(url)
    conn = db.connect(url)
    try:
        loaded, with_s, plain_s = 0, 0.0, 0.0
        for size in sizes:
            while loaded < size:
                n = min(args.batch, size - loaded)
                w, p = load(conn, n, seed=loaded)
                with_s, plain_s, loaded = with_s + w, plain_s + p, loaded + n
                print(
                    f"loaded {loaded:,}: {w / n * 1000:.2f} ms/article with search columns + GIN,"
                    f" {p / n * 1000:.2f} ms/article plain insert",
                    flush=True,
                )
            conn.autocommit = True
            report(conn, loaded, args.reps, args.ilike_reps)
            conn.autocommit = False
        print(
            f"\nload cost of search (trigger + GIN upkeep): {(with_s - plain_s) / loaded * 1000:.2f} ms/article"
            f" ({with_s / loaded * 1000:.2f} vs {plain_s / loaded * 1000:.2f} ms plain)"
        )
    finally:
        conn.close()
        conn = psycopg2.connect(admin)
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.close()
        if tmp:
            db.stop_embedded(Path(tmp))


if __name__ == "__main__":
    main()
