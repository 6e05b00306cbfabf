"""Freshness: publication to searchable on the ./run --offline stack with the live replay.

Starts the embedded PostgreSQL and the Airflow stack (api-server, scheduler, dag-processor,
triggerer) in a temporary NEWSFLOW_HOME, both news DAGs unpaused (news_ingest every 10 minutes,
news_live on the feed watcher's events), against a live replay server publishing `--rate` items
per minute. For `--minutes` it asks `search_articles` every two seconds which live copies it finds;
an item's latency is the first time a search found it minus its publication time (the time the
replay lists it with). Prints p50/p95/max, how many of the items published were found, and the
request rate the replay server saw (mean, and the busiest 10 s and 1 s).

Run: .venv/bin/python bench/bench_freshness.py [--rate 3] [--minutes 20] [--poll-seconds 15]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._result import emit
from pipeline import search
from pipeline.launcher.embedded import inspect as inspect_embedded
from pipeline.launcher.embedded import resolve_databases, stop_server
from pipeline.launcher.stack import Stack, free_port
from pipeline.replay import ReplayServer
from tests.helpers import query_rows

FEED_PATHS = ("/api/roll/get", "/api/zhibo/feed")


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rate", type=float, default=3.0, help="live items per minute (default 3)")
    ap.add_argument("--minutes", type=float, default=20.0, help="how long to measure (default 20)")
    ap.add_argument("--poll-seconds", type=float, default=15.0, help="the feed watcher's poll (default 15)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="nfbench") as tmp, ReplayServer(live_rate=args.rate) as replay:
        home = Path(tmp)
        dbs = resolve_databases(home)
        stack = Stack(
            home=home,
            news_url=dbs.news,
            meta_url=dbs.meta,
            port=free_port(),
            extra_env={"NEWSFLOW_REPLAY_URL": replay.base_url, "NEWSFLOW_POLL_SECONDS": str(args.poll_seconds)},
        )
        try:
            t_up = stack.up(unpause=True, live=True)
            live = replay.httpd.live
            assert live is not None
            start = time.time()
            replay.clear_log()
            end = start + args.minutes * 60
            found: dict[str, float] = {}  # docid -> first time a search found it
            docids: dict[int, str] = {}
            while time.time() < end:
                for name in stack.supervise():
                    print(f"restarted {name}", flush=True)
                hits = search.search("回放", url=stack.news_url, collapse=False, order_by="recent", limit=200)
                now = time.time()
                missing = [h.article_id for h in hits if h.article_id not in docids]
                if missing:
                    for article_id, docid in query_rows(
                        stack.news_url, "SELECT article_id, docid FROM articles WHERE article_id = ANY(%s)", (missing,)
                    ):
                        docids[int(article_id)] = str(docid)
                for h in hits:
                    found.setdefault(docids[h.article_id], now)
                time.sleep(2.0)
            # The copies published while measuring, up to two minutes before the end (later ones had no time).
            published: dict[str, float] = {}
            for kind, item, loop, when in live.copies(end - 120):
                if when < start:
                    continue
                key = (
                    f"comos:{str(item['docid']).split(':', 1)[1]}l{loop}"
                    if kind == "article"
                    else f"zhibo:{int(item['id']) + loop * 10_000_000}"
                )
                published[key] = float(when)
            lags = [found[k] - t for k, t in published.items() if k in found]
            log = [e for e in replay.request_log() if e["time"] >= start]
            seconds = max(1.0, time.time() - start)
            per_s = Counter(int(e["time"]) for e in log)
            per_10s = Counter(int(e["time"]) // 10 for e in log)
            feed_requests = sum(1 for e in log if e["path"] in FEED_PATHS)
            result = {
                "rate_per_min": args.rate,
                "minutes": args.minutes,
                "poll_seconds": args.poll_seconds,
                "stack_up_s": round(t_up, 1),
                "published": len(published),
                "found": len(lags),
                "p50_s": round(statistics.median(lags), 1) if lags else None,
                "p95_s": round(_percentile(lags, 0.95), 1) if lags else None,
                "max_s": round(max(lags), 1) if lags else None,
                "requests": len(log),
                "feed_requests": feed_requests,
                "requests_per_s_mean": round(len(log) / seconds, 3),
                "requests_per_s_peak_10s": round(max(per_10s.values(), default=0) / 10, 2),
                "requests_peak_1s": max(per_s.values(), default=0),
            }
            print(
                f"live replay {args.rate:g}/min for {args.minutes:g} min (watcher poll {args.poll_seconds:g} s; "
                f"stack up in {t_up:.0f} s)\n"
                f"  published {len(published)} items, found by search_articles: {len(lags)}\n"
                f"  publication -> searchable: p50 {result['p50_s']} s, p95 {result['p95_s']} s, max {result['max_s']} s\n"
                f"  replay server: {len(log)} requests ({feed_requests} feed polls/listings), "
                f"{result['requests_per_s_mean']} req/s mean, busiest 10 s {result['requests_per_s_peak_10s']} req/s, "
                f"busiest second {result['requests_peak_1s']} requests"
            )
            emit("freshness", **result)
        finally:
            stack.stop()
            state = inspect_embedded(home / "pgdata")
            if state.pid is not None:
                stop_server(home / "pgdata", state.pid)


if __name__ == "__main__":
    main()
