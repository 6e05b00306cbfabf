"""Time to ready and memory of the local Airflow stack (what ./run starts), and one scheduled-size run.

Starts the embedded PostgreSQL and the four components in a temporary NEWSFLOW_HOME, waits until
they are healthy and the news DAG is unpaused, prints the seconds and each component's RSS (whole
session), triggers one news_ingest run against the replay server and prints its duration.

Run: .venv/bin/python bench/bench_airflow_up.py
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from meters import session_memory

from pipeline.airflow_glue import NEWS_DAG_ID
from pipeline.launcher.embedded import inspect as inspect_embedded
from pipeline.launcher.embedded import resolve_databases, stop_server
from pipeline.launcher.stack import Stack, free_port
from pipeline.replay import ReplayServer


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="nfbench") as tmp, ReplayServer(timeshift=True) as replay:
        home = Path(tmp)
        t0 = time.monotonic()
        dbs = resolve_databases(home)
        t_pg = time.monotonic() - t0
        stack = Stack(
            home=home,
            news_url=dbs.news,
            meta_url=dbs.meta,
            port=free_port(),
            extra_env={"NEWSFLOW_REPLAY_URL": replay.base_url},
        )
        try:
            t_up = stack.up(unpause=True)
            total = time.monotonic() - t0
            rss = session_memory(stack.supervisor.pids())
            print(f"embedded PostgreSQL + databases: {t_pg:6.1f} s")
            print(f"migrate + start + ready + unpause: {t_up:6.1f} s")
            print(f"time to ready (total):           {total:6.1f} s")
            for name, kib in rss.items():
                print(f"RSS {name:14s} {kib / 1024:7.0f} MiB")
            print(f"RSS total          {sum(rss.values()) / 1024:7.0f} MiB")
            pss = session_memory(stack.supervisor.pids(), pss=True)
            for name, kib in pss.items():
                print(f"PSS {name:14s} {kib / 1024:7.0f} MiB")
            print(
                f"PSS total          {sum(pss.values()) / 1024:7.0f} MiB  (shared pages split between processes)"
            )
            with stack.api() as api:
                r = api.post(
                    f"{stack.base_url}/api/v2/dags/{NEWS_DAG_ID}/dagRuns",
                    json={"logical_date": None, "conf": {"fallback_minutes": 7 * 24 * 60}},
                    timeout=30,
                )
                r.raise_for_status()
                run_id = r.json()["dag_run_id"]
                t1 = time.monotonic()
                while True:
                    state = api.get(
                        f"{stack.base_url}/api/v2/dags/{NEWS_DAG_ID}/dagRuns/{run_id}", timeout=30
                    ).json()["state"]
                    if state in ("success", "failed"):
                        break
                    time.sleep(1)
                print(
                    f"manual run over the last 7 days of replay data: {state} in {time.monotonic() - t1:.1f} s"
                )
            rss = session_memory(stack.supervisor.pids())
            print(f"RSS total after a run {sum(rss.values()) / 1024:7.0f} MiB")
        finally:
            stack.stop()
            state = inspect_embedded(home / "pgdata")
            if state.pid is not None:
                stop_server(home / "pgdata", state.pid)


if __name__ == "__main__":
    main()
