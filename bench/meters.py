"""Memory of the local Airflow stack's components, from Linux /proc (used by bench_airflow_up.py).

A component is counted with every process of its session, so the scheduler's figure includes its
LocalExecutor workers and the task processes they start in process groups of their own.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from pipeline.launcher.supervisor import proc_table


def _rss_kib(pid: int) -> int:
    try:
        pages = int(Path(f"/proc/{pid}/statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return 0
    return pages * os.sysconf("SC_PAGE_SIZE") // 1024


def _pss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def session_memory(sessions: Mapping[str, int], *, pss: bool = False) -> dict[str, int]:
    """KiB per component, given {name: session id}: RSS summed (shared pages counted once per
    process, so forked workers inflate it), or PSS (shared pages split between the processes)."""
    by_sid = {sid: name for name, sid in sessions.items()}
    totals = dict.fromkeys(sessions, 0)
    for p in proc_table():
        if p.sid in by_sid and p.state != "Z":
            totals[by_sid[p.sid]] += _pss_kib(p.pid) if pss else _rss_kib(p.pid)
    return totals
