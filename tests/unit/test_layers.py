"""The layering the architecture page describes, checked on the real import graph (in a fresh interpreter)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

PURE = ("pipeline.parse", "pipeline.tag", "pipeline.dedup", "pipeline.textnorm")
# Storage, the network and their drivers: a pure stage must work without any of them.
FORBIDDEN = ("pipeline.store", "pipeline.db", "pipeline.fetch", "pipeline.flow", "psycopg2", "requests")


def _imported_by(module: str) -> list[str]:
    code = f"import sys, json, {module}; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    return list(json.loads(out.stdout))


@pytest.mark.parametrize("module", PURE)
def test_pure_stages_import_no_storage_and_no_network(module: str) -> None:
    loaded = _imported_by(module)
    assert module in loaded
    bad = [m for m in loaded if any(m == f or m.startswith(f + ".") for f in FORBIDDEN)]
    assert bad == []


def test_storage_imports_no_tagger_and_no_flow() -> None:
    """store/ persists what it is given: it never runs the tagger or the flow that composes it."""
    loaded = _imported_by("pipeline.store.articles, pipeline.store.dedup, pipeline.store.tags, pipeline.store.items")
    assert [m for m in loaded if m.startswith(("pipeline.tag", "pipeline.flow", "pipeline.parse"))] == []
