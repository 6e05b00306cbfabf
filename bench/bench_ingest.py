"""Ingest benchmark: articles/s from the replay server over real HTTP into PostgreSQL, end to end.

Scales the recorded data set by making N variants of every page (new docid, edited headline, same
body: so dedup and tagging do real work), serves it on loopback, and runs `ingest_window` over it
into a fresh database. Prints the figures; times nothing in the tests.

    .venv/bin/python bench/bench_ingest.py [--copies 20]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from _result import emit

from pipeline import db, flow
from pipeline.config import Settings
from pipeline.replay import ReplayServer, default_data_dir


def scaled_data_dir(copies: int, out: Path) -> int:
    src = default_data_dir()
    manifest = json.loads((src / "manifest.json").read_text(encoding="utf-8"))
    (out / "pages").mkdir(parents=True)
    articles = []
    for art in manifest["articles"]:
        page = (src / art["file"]).read_bytes()
        old_id = art["docid"].split(":", 1)[1]
        for k in range(copies):
            new_id = f"{old_id}{k:03d}"
            title = art["title"] + (f"（第{k}版）" if k else "")
            body = page.replace(old_id.encode(), new_id.encode())
            if k:
                body = body.replace(art["title"].encode(), title.encode())
            name = f"pages/{new_id}.html"
            (out / name).write_bytes(body)
            articles.append(
                art | {"docid": f"comos:{new_id}", "url": art["url"].replace(old_id, new_id), "title": title,
                       "file": name, "ctime": art["ctime"] - k * 7}
            )  # fmt: skip
    manifest["articles"] = articles
    (out / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False), encoding="utf-8")
    return len(articles)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--copies", type=int, default=20, help="variants per recorded page (default 20)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="nf-bench-ingest-") as tmp:
        tmpdir = Path(tmp)
        n_pages = scaled_data_dir(args.copies, tmpdir / "data")
        admin = os.environ.get("NEWSFLOW_DATABASE_URL") or db.start_embedded(tmpdir / "pg")
        name = f"nf_bench_{uuid.uuid4().hex[:8]}"
        db.ensure_database(admin, name)
        url = db.with_database(admin, name)
        db.migrate(url)
        window = flow.Window(datetime(2015, 1, 1, tzinfo=UTC), datetime(2030, 1, 1, tzinfo=UTC))
        with ReplayServer(tmpdir / "data") as srv:
            os.environ["NEWSFLOW_REPLAY_URL"] = srv.base_url
            settings = dataclasses.replace(
                Settings(), roll_base=srv.base_url, zhibo_base=srv.base_url, roll_pairs=((155, 1686),),
                zhibo_ids=(152,), page_size=100, max_pages=1000, min_interval_per_host=0.0,
            )  # fmt: skip
            t0 = time.perf_counter()
            first = flow.ingest_window(window, settings, url)
            t1 = time.perf_counter()
            second = flow.ingest_window(window, settings, url)
            t2 = time.perf_counter()
        conn = db.connect(url)
        with conn.cursor() as cur:
            cur.execute("SELECT pg_size_pretty(pg_database_size(current_database()))")
            size = cur.fetchone()[0]  # type: ignore[index]
        conn.close()
        if not os.environ.get("NEWSFLOW_DATABASE_URL"):
            db.stop_embedded(tmpdir / "pg")
        else:
            shutil.rmtree(tmpdir / "data", ignore_errors=True)
    loaded = first["loaded"]
    print(f"ingest benchmark: {n_pages} pages + flashes served on loopback, fresh database")
    print(f"  first run : {loaded} articles loaded in {t1 - t0:.2f} s = {loaded / (t1 - t0):.1f} articles/s "
          f"(discover+fetch+parse+dedup+tag+load; failed={first['failed']})")  # fmt: skip
    print(f"  rerun     : same window again in {t2 - t1:.2f} s, loaded={second['loaded']} fetched={second['fetched']} (no-op)")
    print(f"  database  : {size}")
    emit("ingest", articles_per_s=round(loaded / (t1 - t0), 1), articles=loaded, rerun_s=round(t2 - t1, 2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
