"""Search benchmark: realistic generated articles, p50/p95 of search_articles() vs a sequential ILIKE scan.

Articles are recombined from the fixture corpus at clause level (clauses cut at ，；：, 1-3 per
sentence, numbers re-drawn), with generated company names on a long-tailed (Pareto) frequency,
dates and stock codes, so lengths and vocabulary are like the fixtures and entity terms range from
common to rare. Rows are bulk-loaded with COPY, search_text/search_vector computed in Python with the
same fold as the trigger, and the GIN index built after the load, as a large import would; the
pipeline's own per-row cost (the trigger plus GIN upkeep) is measured separately on a sample of
row INSERTs. Usage:

    python bench/bench_search.py --sizes 100000,1000000        # about 30 min on 2 cores
    python bench/bench_search.py --sizes 1000000 --keep --load-only   # load once, keep it
    NEWSFLOW_DATABASE_URL=postgresql://... python bench/bench_search.py --database NAME  # measure a kept one

Without NEWSFLOW_DATABASE_URL it starts an embedded PostgreSQL in a temporary folder, with larger
memory settings (ALTER SYSTEM on that private server only). It prints figures only; nothing here is
a pass/fail test.
"""

from __future__ import annotations

import argparse
import csv
import functools
import io
import json
import multiprocessing
import os
import random
import re
import shutil
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg2

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from _result import emit  # noqa: E402

from pipeline import db  # noqa: E402
from pipeline.parse.hexo import parse_hexo_post  # noqa: E402
from pipeline.parse.sina import parse_article_page  # noqa: E402
from pipeline.search import search_text  # noqa: E402

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


@functools.cache
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


# Generated names so that entity terms have a long tail of frequencies, as in real news.
_NAME_CHARS = "华中国东方新海天宏兴泰安盛达信鑫金源隆恒瑞丰嘉和通远创联合科德诚康力博正润智凯"
_INDUSTRY = ["科技", "电子", "医药", "能源", "材料", "汽车", "智能", "环保", "数据", "证券", "银行", "地产"]
_SUFFIX = ["股份", "集团", "有限公司", "控股"]
_PLACES = ["北京", "上海", "深圳", "广州", "杭州", "成都", "武汉", "南京", "重庆", "天津", "苏州", "西安"]


@functools.cache
def clause_pool() -> tuple[list[str], list[str], list[str]]:
    """Titles, clauses (sentences cut at ，；：) and stock codes of the fixture corpus."""
    titles, sentences, codes = sentence_pool()
    clauses = [c for s in sentences for c in re.split(r"(?<=[，；：])", s) if len(c) > 3]
    return titles, clauses, codes


def generate(start: int, n: int, seed: int) -> str:
    """COPY text for articles start..start+n-1, search columns computed in Python (the trigger's fold)."""
    rng = random.Random(seed)
    titles, clauses, codes = clause_pool()
    codes = list(codes)
    names = [
        "".join(rng.choice(_NAME_CHARS) for _ in range(rng.randint(2, 3))) + rng.choice(_INDUSTRY)
        for _ in range(20000)
    ]
    codes = codes + [f"{rng.choice(['sh', 'sz'])}{rng.randint(0, 999999):06d}" for _ in range(4000)]
    media = ["新浪财经", "中国证券报", "经济日报", "上海证券报", "央视新闻", "第一财经", "证券时报"]

    def entity() -> str:
        name = names[min(len(names) - 1, int(rng.paretovariate(1.1)) - 1)]
        return rng.choice(_PLACES) + name + rng.choice(_SUFFIX) if rng.random() < 0.3 else name

    def sentence() -> str:
        parts = [redraw_numbers(rng.choice(clauses), rng) for _ in range(rng.randint(1, 3))]
        if rng.random() < 0.4:
            parts.insert(rng.randrange(len(parts) + 1), entity() + rng.choice(["表示，", "公告称，", "称，"]))
        if rng.random() < 0.2:
            parts.insert(0, f"{rng.randint(2019, 2023)}年{rng.randint(1, 12)}月{rng.randint(1, 28)}日，")
        text = "".join(parts)
        return text if text[-1] in "。！？" else text.rstrip("，；：") + "。"

    out = io.StringIO()
    for i in range(start, start + n):
        if rng.random() < 0.3:
            title = redraw_numbers(rng.choice(titles), rng)
        else:
            title = (entity() if rng.random() < 0.3 else "") + sentence().strip("。！？")[:26]
        k = min(80, max(2, int(rng.lognormvariate(2.3, 0.7))))
        body = "\n".join(sentence() for _ in range(k))
        stocks: list[str] = []
        if rng.random() < 0.15:
            stocks = [codes[min(len(codes) - 1, int(rng.paretovariate(0.8)) - 1)]]
        published = START + timedelta(seconds=rng.randrange(SPAN_S))
        key = uuid.UUID(int=rng.getrandbits(128)).hex
        text = search_text(title, body, stocks)
        fields = [
            f"bench:{i}",
            "rss_item",
            "bench",
            title,
            title,
            key,
            key,
            published.isoformat(),
            rng.choice(media),
            json.dumps([{"code": c, "name": None} for c in stocks]),
            body,
            "",
            "bench",
            text,
            search_vector_text(text),
        ]
        out.write(
            "\t".join(f.replace("\\", "\\\\").replace("\t", " ").replace("\n", "\\n") for f in fields) + "\n"
        )
    return out.getvalue()


def search_vector_text(text: str) -> str:
    """newsflow_search_vector() in Python: every bigram of each line, plus the line's last character."""
    lexemes: set[str] = set()
    for line in text.split("\n"):
        if line:
            lexemes.update(line[i : i + 2] for i in range(len(line) - 1))
            lexemes.add(line[-1])
    return " ".join(f"'{x}'" for x in lexemes)


COLUMNS = (
    "canonical_url, kind, source, title, title_norm, body_hash, content_key, published_at, media, stocks,"
    " body_text, body_html, parser_version"
)
SEARCH_INDEXES = {  # dropped for a bulk load and built again after it, as a large import would
    "articles_search_vector_idx": "CREATE INDEX articles_search_vector_idx ON articles USING gin (search_vector)",
}


def _generate_job(job: tuple[int, int]) -> str:
    return generate(job[0], job[1], seed=job[0])


def bulk_load(conn: psycopg2.extensions.connection, start: int, n: int, workers: int) -> tuple[float, float]:
    """COPY n generated articles with the search trigger off; returns (generate+copy s, index build s)."""
    chunk = 10000
    jobs = [(s, min(chunk, start + n - s)) for s in range(start, start + n, chunk)]
    t0 = time.perf_counter()
    with conn.cursor() as cur:
        for name in SEARCH_INDEXES:
            cur.execute(f"DROP INDEX IF EXISTS {name}")
        cur.execute("ALTER TABLE articles DISABLE TRIGGER articles_search_fill")
        conn.commit()
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            for data in pool.imap(_generate_job, jobs):
                cur.copy_expert(
                    f"COPY articles ({COLUMNS}, search_text, search_vector) FROM STDIN", io.StringIO(data)
                )
                conn.commit()
        cur.execute("ALTER TABLE articles ENABLE TRIGGER articles_search_fill")
        conn.commit()
    copy_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    old = conn.autocommit
    conn.autocommit = True
    with conn.cursor() as cur:
        for sql in SEARCH_INDEXES.values():
            cur.execute(sql)
        cur.execute("VACUUM ANALYZE articles")
    conn.autocommit = old
    return copy_s, time.perf_counter() - t0


def trigger_cost(conn: psycopg2.extensions.connection, start: int, n: int) -> tuple[float, float]:
    """Per-article ms of the pipeline's own path (row INSERTs: trigger + GIN upkeep) vs the same rows plain."""
    with conn.cursor() as cur:
        cur.execute(f"CREATE TEMP TABLE staging ({COLUMNS.replace(',', ' text,')} text, st text, sv text)")
        cur.copy_expert("COPY staging FROM STDIN", io.StringIO(generate(start, n, seed=start)))
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
    return with_s / n * 1000, plain_s / n * 1000


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


def report(conn: psycopg2.extensions.connection, rows: int, reps: int, ilike_reps: int) -> tuple[float, float]:
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
    return pct(all_rel, 50), pct(all_rel, 95)


SERVER_SETTINGS = {  # the bench's private server only: room for index builds and a warm cache
    "shared_buffers": "1GB",
    "work_mem": "16MB",
    "maintenance_work_mem": "1GB",
    "max_wal_size": "8GB",
    "synchronous_commit": "off",
    "max_parallel_maintenance_workers": "1",
}


def restart_embedded(pgdata: Path) -> None:
    """Restart the bench's own embedded server so settings that need a restart (shared_buffers) apply."""
    pg_ctl = getattr(db._import_pgserver()._commands, "pg_ctl")  # noqa: B009
    user = "pgserver" if hasattr(os, "geteuid") and os.geteuid() == 0 else None
    pg_ctl(["-w", "-m", "fast", "restart"], pgdata=pgdata, user=user)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="100000", help="comma-separated row counts to measure at, ascending")
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--ilike-reps", type=int, default=2)
    ap.add_argument("--workers", type=int, default=2, help="processes generating articles")
    ap.add_argument("--trigger-sample", type=int, default=5000, help="rows inserted through the trigger")
    ap.add_argument(
        "--keep", action="store_true", help="keep the database (and server) for a look afterwards"
    )
    ap.add_argument("--load-only", action="store_true", help="load (with --keep) but print no latencies")
    ap.add_argument(
        "--database",
        help="reuse this kept database on NEWSFLOW_DATABASE_URL's server (re-applies 004_search.sql)",
    )
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    clause_pool()  # parse the fixtures once, before the generator processes fork

    tmp = None
    admin = os.environ.get("NEWSFLOW_DATABASE_URL")
    if not admin:
        tmp = Path(tempfile.mkdtemp(prefix="newsflow-bench-"))
        admin = db.start_embedded(tmp)
        conn = psycopg2.connect(admin)
        conn.autocommit = True
        with conn.cursor() as cur:
            for key, value in SERVER_SETTINGS.items():
                cur.execute(f"ALTER SYSTEM SET {key} = '{value}'")
        conn.close()
        restart_embedded(tmp)
    name = args.database or f"newsflow_bench_{uuid.uuid4().hex[:8]}"
    db.ensure_database(admin, name)
    url = db.with_database(admin, name)
    if not args.database:
        db.migrate(url)
    conn = db.connect(url)
    loaded = 0
    if args.database:
        args.keep = True
        with conn.cursor() as cur:
            cur.execute((ROOT / "sql" / "004_search.sql").read_text(encoding="utf-8"))
            cur.execute("SELECT count(*) FROM articles")
            loaded = cur.fetchone()[0]  # type: ignore[index]
        conn.commit()
        print(f"reusing {loaded:,} articles in {name}")
    try:
        trigger_ms = plain_ms = 0.0
        latencies: dict[str, dict[str, float]] = {}
        for size in sizes:
            if size < loaded:
                continue
            n = size - loaded - (0 if loaded else args.trigger_sample)
            copy_s, index_s = bulk_load(conn, loaded, n, args.workers) if n > 0 else (0.0, 0.0)
            if n > 0:
                print(
                    f"bulk-loaded {n:,} articles in {copy_s:.0f} s (generate + COPY,"
                    f" {copy_s / n * 1000:.2f} ms/article), search index built in {index_s:.0f} s",
                    flush=True,
                )
            loaded += n
            if not trigger_ms and not args.database:
                trigger_ms, plain_ms = trigger_cost(conn, loaded, args.trigger_sample)
                loaded += args.trigger_sample
                with conn.cursor() as cur:
                    cur.execute("ANALYZE articles")
                conn.commit()
                print(
                    f"pipeline insert path ({args.trigger_sample:,} rows, trigger + GIN upkeep):"
                    f" {trigger_ms:.2f} ms/article vs {plain_ms:.2f} ms/article plain;"
                    f" search costs {trigger_ms - plain_ms:.2f} ms/article at load",
                    flush=True,
                )
            if args.load_only:
                continue
            conn.autocommit = True
            p50, p95 = report(conn, loaded, args.reps, args.ilike_reps)
            latencies[str(loaded)] = {"p50_ms": round(p50, 1), "p95_ms": round(p95, 1)}
            conn.autocommit = False
    finally:
        conn.close()
        if args.keep:
            print(f"kept: {url}")
        else:
            conn = psycopg2.connect(admin)
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute(f'DROP DATABASE IF EXISTS "{name}"')
            conn.close()
            if tmp:
                db.stop_embedded(tmp)
                shutil.rmtree(tmp, ignore_errors=True)
    emit("search", latency=latencies, load_ms_per_article=round(trigger_ms - plain_ms, 2))


if __name__ == "__main__":
    main()
