"""One machine-readable line per benchmark run; bench/run_all.py gathers them into one table."""

from __future__ import annotations

import json
from typing import Any


def emit(bench: str, **figures: Any) -> None:
    print("RESULT " + json.dumps({"bench": bench, **figures}, ensure_ascii=False), flush=True)
