"""DAG-folder parse time: how long Airflow takes to import dags/ (what the dag-processor repeats).

Each measurement is a fresh interpreter that fills a DagBag from dags/ (no examples); the import of
Airflow itself is timed apart, since every dag-processor pays it once, not per parse.

    .venv/bin/python bench/bench_dag_parse.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from _result import emit

DAGS = Path(__file__).resolve().parent.parent / "dags"

PROBE = r"""
import json, sys, time, warnings
t0 = time.perf_counter()
from airflow.dag_processing.dagbag import DagBag
t1 = time.perf_counter()
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    bag = DagBag(dag_folder=sys.argv[1])
t2 = time.perf_counter()
print(json.dumps({"airflow_import_s": t1 - t0, "parse_s": t2 - t1, "dags": len(bag.dags),
                  "errors": len(bag.import_errors)}))
"""


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    runs = []
    tmp = tempfile.mkdtemp(prefix="nf-bench-dags-")  # a throwaway AIRFLOW_HOME: parsing needs no database
    for _ in range(args.repeat):
        env = {**os.environ, "AIRFLOW__CORE__LOAD_EXAMPLES": "False", "AIRFLOW_HOME": tmp}
        out = subprocess.run(
            [sys.executable, "-c", PROBE, str(DAGS)], capture_output=True, text=True, check=True, env=env
        )
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    shutil.rmtree(tmp, ignore_errors=True)
    parse_ms = statistics.median(r["parse_s"] for r in runs) * 1000
    import_s = statistics.median(r["airflow_import_s"] for r in runs)
    print(f"dags/: {runs[0]['dags']} DAGs, {runs[0]['errors']} import errors;"
          f" DagBag fill {parse_ms:.0f} ms (median of {args.repeat}); importing Airflow itself {import_s:.1f} s")  # fmt: skip
    emit("dag_parse", parse_ms=round(parse_ms), dags=runs[0]["dags"], errors=runs[0]["errors"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
