"""Sub-commands that belong to a feature module; each feature brings its own arguments."""

from __future__ import annotations

from typing import Any


def register(sub: Any) -> None:
    # Features add themselves here as they land (retag, dedup, search, reindex, replay, up).
    return None

