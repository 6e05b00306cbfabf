"""Fault rules for the replay server: which request gets which failure, switchable at runtime."""

from __future__ import annotations

import fnmatch
import random
import re
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

# Every fault the server can inject; the handler in server.py gives each its behaviour.
FAULT_KINDS: tuple[str, ...] = (
    "500",  # Internal Server Error
    "503",  # Service Unavailable
    "429",  # Too Many Requests with Retry-After (param retry_after, seconds, default 1)
    "slow",  # sleep `seconds` (default 5) before answering normally: exceeds a short read timeout
    "reset",  # close the socket (RST) without answering
    "truncate",  # Content-Length promises more bytes than are sent
    "malformed_json",  # 200 with a JSON body cut in the middle
    "empty_json",  # 200 with "{}"
    "empty_body",  # 200 with no body at all
    "jsonp",  # the normal JSON wrapped as try{cb({...});}catch(e){}; (param callback)
    "gbk",  # the page re-encoded as GBK with no charset in the header or <meta>
    "moved",  # 301/302 (param status) to `location` (default: /_replay/moved + the same path, which serves it)
    "gone",  # 404
    "unknown_layout",  # valid HTML with none of the selectors any Sina parser knows
    "huge",  # a page of `size` bytes (default 20 MB)
)

# What mix() draws from when no kinds are given: failures a robust fetcher must survive by retrying.
DEFAULT_MIX_KINDS: tuple[str, ...] = ("500", "503", "429", "reset", "truncate", "malformed_json")


def compile_pattern(pattern: str) -> re.Pattern[str]:
    """A pattern "re:<regex>" or "^<regex>" is a regular expression; anything else globs the path."""
    if pattern.startswith("re:"):
        return re.compile(pattern[3:])
    if pattern.startswith("^"):
        return re.compile(pattern)
    return re.compile(fnmatch.translate(pattern))


@dataclass
class FaultRule:
    pattern: str
    kind: str
    count: int | None = None  # fail the first `count` matching requests, then let requests through
    params: dict[str, Any] = field(default_factory=dict)
    hits: int = 0

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; known: {', '.join(FAULT_KINDS)}")
        if self.count is not None and self.count < 0:
            raise ValueError("count must be >= 0")
        self._regex = compile_pattern(self.pattern)

    def matches(self, path: str) -> bool:
        return bool(
            self._regex.search(path) if self.pattern.startswith(("re:", "^")) else self._regex.match(path)
        )

    @property
    def exhausted(self) -> bool:
        return self.count is not None and self.hits >= self.count

    def describe(self) -> dict[str, Any]:
        return {"pattern": self.pattern, "kind": self.kind, "count": self.count, "hits": self.hits,
                "params": dict(self.params)}  # fmt: skip


@dataclass
class MixMode:
    seed: int
    rate: float
    kinds: tuple[str, ...]
    pattern: str = "*"

    def __post_init__(self) -> None:
        if not 0.0 <= self.rate <= 1.0:
            raise ValueError("rate must be within [0, 1]")
        for kind in self.kinds:
            if kind not in FAULT_KINDS:
                raise ValueError(f"unknown fault kind {kind!r}")
        self._rng = random.Random(self.seed)
        self._regex = compile_pattern(self.pattern)

    def draw(self, path: str) -> str | None:
        if not self._regex.match(path):
            return None
        # Two draws per request whatever the outcome, so the sequence depends on the request count only.
        roll, pick = self._rng.random(), self._rng.randrange(len(self.kinds))
        return self.kinds[pick] if roll < self.rate else None


class FaultSet:
    """Thread-safe rules; the first live rule that matches a path wins, then the random mix."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[FaultRule] = []
        self._mix: MixMode | None = None

    def add(self, pattern: str, kind: str, *, count: int | None = None, **params: Any) -> FaultRule:
        rule = FaultRule(pattern=pattern, kind=str(kind), count=count, params=dict(params))
        with self._lock:
            self._rules.append(rule)
        return rule

    def set_mix(self, seed: int, rate: float, kinds: Sequence[str] | None = None, pattern: str = "*") -> None:
        mode = MixMode(seed=seed, rate=rate, kinds=tuple(kinds or DEFAULT_MIX_KINDS), pattern=pattern)
        with self._lock:
            self._mix = mode

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()
            self._mix = None

    def pick(self, path: str) -> tuple[str, dict[str, Any]] | None:
        """The fault for this request, counting it against the rule's budget; None = answer normally."""
        with self._lock:
            for rule in self._rules:
                if not rule.exhausted and rule.matches(path):
                    rule.hits += 1
                    return rule.kind, dict(rule.params)
            if self._mix is not None:
                kind = self._mix.draw(path)
                if kind is not None:
                    return kind, {"seconds": 2.0} if kind == "slow" else {}
        return None

    def describe(self) -> dict[str, Any]:
        with self._lock:
            mix = self._mix
            return {
                "rules": [r.describe() for r in self._rules],
                "mix": None
                if mix is None
                else {"seed": mix.seed, "rate": mix.rate, "kinds": list(mix.kinds)},
            }

    def apply_json(self, payload: Mapping[str, Any]) -> None:
        """POST /_replay/faults body: {"clear": true} and/or {"faults": [...]} and/or {"mix": {...}};
        a bare {"pattern", "kind", ...} object is one fault."""
        if payload.get("clear"):
            self.clear()
        faults = payload.get("faults")
        if faults is None and "kind" in payload:
            faults = [payload]
        for spec in faults or []:
            spec = dict(spec)
            pattern = str(spec.pop("pattern", "*"))
            kind = str(spec.pop("kind"))
            count = spec.pop("count", None)
            params = spec.pop("params", {}) or {}
            params.update(spec)
            self.add(pattern, kind, count=None if count is None else int(count), **params)
        mix = payload.get("mix")
        if mix:
            self.set_mix(int(mix["seed"]), float(mix["rate"]), mix.get("kinds"), str(mix.get("pattern", "*")))
