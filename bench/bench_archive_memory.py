"""Peak memory and speed of an archive import: N synthetic Hexo posts through `newsflow import-archive`.

The posts are generated in the archive's exact shape from the fixtures' vocabulary and lengths,
with ~10% re-posted copies, written to a temp folder; the import runs as a separate process, whose peak RSS
(ru_maxrss) is what is reported, into a fresh database.

    .venv/bin/python bench/bench_archive_memory.py [--posts 10000]
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

from _result import emit

from pipeline import db


def write_posts(n: int, out: Path, seed: int = 11) -> int:
    """Posts in the archive's exact shape, with text like the fixtures' (bench_dedup_scale's generator):

    mostly distinct articles, with the re-reports and exact copies real archives hold (about 10%).
    """
    from bench_dedup_scale import Generator

    gen = Generator(seed)
    rng = random.Random(seed)
    written: list[tuple[str, tuple[str, ...]]] = []
    total = 0
    start = datetime(2021, 6, 1, tzinfo=UTC)
    for i in range(n):
        day = start + timedelta(minutes=7 * i)
        if written and rng.random() < 0.1:
            title, paras = written[rng.randrange(max(0, len(written) - 500), len(written))]
            title = title + "（转载）"
        else:
            article = gen.article(day)
            title, paras = article.title, article.paragraphs
        written.append((title, paras))
        body = "".join(f"<p>\u3000\u3000{p}</p>\n" for p in paras)
        post = (
            f"\n---\ntitle: '{title}'\ncategories: \n - 金融\n - 新浪财经\n - 新浪财经－国內\n"
            f"author: 新浪财经\ncomments: false\ndate: {format_datetime(day, usegmt=True)}\n---\n\n"
            f"<div>   \n{body}<p class=\"article-editor\">责任编辑：王蒙 </p>\n</div>\n"
        )
        path = out / f"{i // 1000:03d}" / f"post-{i:06d}.md"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(post, encoding="utf-8")
        total += len(post.encode("utf-8"))
    return total


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--posts", type=int, default=10000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="nf-bench-archive-") as tmp:
        folder = Path(tmp) / "posts"
        size = write_posts(args.posts, folder)
        admin = os.environ.get("NEWSFLOW_DATABASE_URL") or db.start_embedded(Path(tmp) / "pg")
        name = f"nf_bench_{uuid.uuid4().hex[:8]}"
        db.ensure_database(admin, name)
        url = db.with_database(admin, name)
        env = {**os.environ, "NEWSFLOW_DATABASE_URL": url}
        t0 = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-m", "pipeline.cli", "import-archive", str(folder)],
            env=env, capture_output=True, text=True, check=False,
        )  # fmt: skip
        seconds = time.perf_counter() - t0
        peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        if not os.environ.get("NEWSFLOW_DATABASE_URL"):
            db.stop_embedded(Path(tmp) / "pg")
    if proc.returncode != 0:
        print(proc.stderr[-2000:], file=sys.stderr)
        return 1
    summary = proc.stdout.strip().splitlines()[-1]
    print(f"archive import of {args.posts:,} posts ({size / 2**20:.0f} MiB of Markdown): {seconds:.0f} s,"
          f" {args.posts / seconds:.1f} posts/s, peak RSS {peak_mib:.0f} MiB")  # fmt: skip
    print(f"  {summary}")
    emit("archive", posts=args.posts, posts_per_s=round(args.posts / seconds, 1), peak_rss_mib=round(peak_mib))
    return 0


if __name__ == "__main__":
    sys.exit(main())
