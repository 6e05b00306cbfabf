"""Parse throughput on one core: newsflow's parsers vs trafilatura's extraction of the same inputs.

Run: python bench/bench_parse.py [--seconds 5]
"""

from __future__ import annotations

import argparse
import csv
import os
import platform
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from _result import emit

from pipeline.parse import parse_article_page, parse_hexo_post

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures"
FETCHED = datetime(2024, 1, 1, tzinfo=UTC)


def inputs() -> tuple[list[tuple[bytes, str]], list[tuple[bytes, str]]]:
    pages: list[tuple[bytes, str]] = []
    for folder in ("article_html", "pages"):
        with (FIXTURES / folder / "index.tsv").open(encoding="utf-8") as fh:
            for row in csv.DictReader(fh, delimiter="\t"):
                if row.get("kind", "sina_page") == "sina_page" and row["file"].endswith(".html"):
                    pages.append(((FIXTURES / folder / row["file"]).read_bytes(), row["url"]))
    posts = [(p.read_bytes(), p.name) for p in sorted((FIXTURES / "hexo_posts").rglob("*.md"))]
    posts += [(p.read_bytes(), p.name) for p in sorted((FIXTURES / "pages").glob("*.md"))]
    return pages, posts


def rate(fn: Callable[[], int], seconds: float) -> tuple[float, int]:
    """Documents per second, repeating the whole set until `seconds` have passed."""
    fn()  # warm-up: imports, regex compilation
    done = 0
    start = time.perf_counter()
    while True:
        done += fn()
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return done / elapsed, done


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=5.0, help="time per measurement (default 5)")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core, as the design asks
    import trafilatura

    pages, posts = inputs()
    page_bytes = sum(len(b) for b, _ in pages)
    post_bytes = sum(len(b) for b, _ in posts)

    def ours_pages() -> int:
        for body, url in pages:
            parse_article_page(body, url, FETCHED)
        return len(pages)

    def ours_posts() -> int:
        for body, name in posts:
            parse_hexo_post(body, name)
        return len(posts)

    def traf_pages() -> int:
        for body, url in pages:
            trafilatura.extract(body, url=url, with_metadata=True)
        return len(pages)

    def traf_posts() -> int:
        # trafilatura gets the post's HTML body (it has no notion of front matter)
        for body, _ in posts:
            trafilatura.extract(body.decode("utf-8").split("\n---", 2)[-1])
        return len(posts)

    print(
        f"machine: {platform.machine()} {platform.processor() or ''} python {platform.python_version()}, "
        f"cpus visible {os.cpu_count()}, pinned to 1 core; {args.seconds:.0f} s per row"
    )
    print(
        f"inputs: {len(pages)} Sina pages ({page_bytes / len(pages) / 1024:.0f} KiB avg), "
        f"{len(posts)} archive posts ({post_bytes / len(posts) / 1024:.1f} KiB avg)"
    )
    print(f"{'input':<14}{'newsflow docs/s':>18}{'trafilatura docs/s':>21}{'speed-up':>10}")
    figures: dict[str, float] = {}
    for label, ours, theirs in (
        ("sina pages", ours_pages, traf_pages),
        ("archive posts", ours_posts, traf_posts),
    ):
        r_ours, _ = rate(ours, args.seconds)
        r_theirs, _ = rate(theirs, args.seconds)
        print(f"{label:<14}{r_ours:>18.1f}{r_theirs:>21.1f}{r_ours / r_theirs:>9.1f}x")
        key = label.split()[-1]
        figures[f"{key}_per_s"] = round(r_ours, 1)
        figures[f"trafilatura_{key}_per_s"] = round(r_theirs, 1)
    # Tagging (issue 5) on the parsed articles: the pure tagger only, one core.
    from pipeline.tag import tag_article

    articles = [parse_article_page(b, u, FETCHED) for b, u in pages] + [parse_hexo_post(b, n) for b, n in posts]

    def tag_all() -> int:
        for article in articles:
            tag_article(article)
        return len(articles)

    r_tag, _ = rate(tag_all, args.seconds)
    print(f"{'tagging':<14}{r_tag:>18.1f}{'':>21}   ({len(articles)} parsed pages and posts)")
    figures["tag_per_s"] = round(r_tag, 1)
    emit("parse", **figures)


if __name__ == "__main__":
    main()
