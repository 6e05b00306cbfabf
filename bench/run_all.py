"""Every benchmark, one table. `--full` adds the long ones (1M dedup and search, a 100k-post import).

    .venv/bin/python bench/run_all.py          # about 15 minutes on 2 cores
    .venv/bin/python bench/run_all.py --full   # about 2 hours: 1M-row dedup (bulk prefill) and search, 100k posts

Each benchmark runs as its own process (its own embedded PostgreSQL in a temp folder, unless
NEWSFLOW_DATABASE_URL is set) and ends with a RESULT line; this script prints those as one table,
with the machine it ran on.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent

QUICK: list[tuple[str, list[str]]] = [
    ("bench_parse.py", ["--seconds", "3"]),
    ("bench_ingest.py", ["--copies", "20"]),
    ("bench_dedup_scale.py", ["--sizes", "10000"]),
    ("bench_search.py", ["--sizes", "100000", "--reps", "5", "--ilike-reps", "1"]),
    ("bench_archive_memory.py", ["--posts", "10000"]),
    ("bench_dag_parse.py", []),
    ("bench_judgement.py", []),
    ("bench_boilerplate.py", []),
]
FULL: list[tuple[str, list[str]]] = [
    ("bench_parse.py", ["--seconds", "5"]),
    ("bench_ingest.py", ["--copies", "40"]),
    ("bench_dedup_scale.py", ["--sizes", "10000,100000"]),
    ("bench_dedup_bulk.py", ["--size", "1000000"]),
    ("bench_search.py", ["--sizes", "100000,1000000"]),
    ("bench_archive_memory.py", ["--posts", "100000"]),
    ("bench_dag_parse.py", []),
    ("bench_judgement.py", []),
    ("bench_boilerplate.py", []),
]


def run(script: str, args: list[str]) -> dict[str, Any]:
    print(f"== {script} {' '.join(args)}", flush=True)
    t0 = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, str(BENCH / script), *args], stdout=subprocess.PIPE, text=True, cwd=BENCH.parent
    )
    result: dict[str, Any] = {}
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("RESULT "):
            result = json.loads(line[len("RESULT ") :])
        else:
            print("   " + line.rstrip(), flush=True)
    if proc.wait() != 0:
        result["error"] = f"exit {proc.returncode}"
    result["wall_s"] = round(time.monotonic() - t0)
    return result


def table(results: dict[str, dict[str, Any]]) -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    p = results.get("bench_parse.py", {})
    if "pages_per_s" in p:
        rows.append(("parse, Sina pages/s (1 core)", f"{p['pages_per_s']:.0f} (trafilatura {p['trafilatura_pages_per_s']:.0f})"))
        rows.append(("parse, archive posts/s (1 core)", f"{p['posts_per_s']:.0f} (trafilatura {p['trafilatura_posts_per_s']:.0f})"))
    if "tag_per_s" in p:
        rows.append(("tagging, articles/s (1 core)", f"{p['tag_per_s']:.0f}"))
    i = results.get("bench_ingest.py", {})
    if "articles_per_s" in i:
        rows.append(("ingest, replay server -> Postgres, articles/s", f"{i['articles_per_s']:.1f} ({i['articles']} articles)"))
    for name in ("bench_dedup_scale.py", "bench_dedup_bulk.py"):
        for size, ms in results.get(name, {}).get("ms_per_article", {}).items():
            rows.append((f"dedup at {int(size):,} articles, ms/article", f"{ms:.2f}"))
    s = results.get("bench_search.py", {})
    for size, lat in s.get("latency", {}).items():
        rows.append((f"search at {int(size):,} articles, p50 / p95 ms", f"{lat['p50_ms']:.1f} / {lat['p95_ms']:.1f}"))
    a = results.get("bench_archive_memory.py", {})
    if "peak_rss_mib" in a:
        rows.append((f"archive import of {a['posts']:,} posts: peak RSS, posts/s", f"{a['peak_rss_mib']} MiB, {a['posts_per_s']:.0f}/s"))
    g = results.get("bench_dag_parse.py", {})
    if "parse_ms" in g:
        rows.append(("DAG-folder parse (DagBag fill)", f"{g['parse_ms']} ms ({g['dags']} DAGs, {g['errors']} errors)"))
    j = results.get("bench_judgement.py", {})
    for split in ("dev", "test"):
        if split in j:
            f = j[split]
            rows.append((
                f"judged corpus {split}: policy P / R, story recall, false merges",
                f"{f['policy_precision']} / {f['policy_recall']}, {f['story_recall']}, {f['false_merges']}",
            ))  # fmt: skip
    b = results.get("bench_boilerplate.py", {})
    for split in ("dev", "test"):
        if split in b:
            ours, theirs = b[split]["newsflow"], b[split]["trafilatura"]
            rows.append((
                f"boilerplate {split} ({b[split]['documents']} docs): body F1, lines leaked",
                f"{ours['body_f1']}, {ours['leaked_lines']} (trafilatura {theirs['body_f1']}, {theirs['leaked_lines']})",
            ))  # fmt: skip
    for name, r in results.items():
        if "error" in r:
            rows.append((f"{name} FAILED", r["error"]))
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--full", action="store_true", help="the long benchmarks: 1M rows, 100k posts")
    args = ap.parse_args()
    plan = FULL if args.full else QUICK
    results = {script: run(script, argv) for script, argv in plan}
    mem_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    print(f"\nnewsflow benchmarks ({'full' if args.full else 'quick'}) on {platform.machine()}, "
          f"{os.cpu_count()} cores, {mem_gib:.0f} GiB, Python {platform.python_version()}, {platform.system()}")  # fmt: skip
    rows = table(results)
    width = max(len(k) for k, _ in rows)
    print(f"| {'measure':<{width}} | figure |\n|{'-' * (width + 2)}|--------|")
    for k, v in rows:
        print(f"| {k:<{width}} | {v} |")
    return 1 if any("error" in r for r in results.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
