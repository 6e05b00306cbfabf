"""Read and compile the versioned taxonomy data file (pipeline/tag/taxonomy/*.json) into matchers."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from pipeline.errors import ConfigError
from pipeline.textnorm import fold_aligned

TAXONOMY_DIR = Path(__file__).resolve().parent / "taxonomy"
DEFAULT_TAXONOMY = "policy_v1"


def _alternation(words: list[str]) -> str:
    """Regex alternation, longest first so the longest alias wins at a position (实施方案 before 方案).

    ASCII aliases get letter/digit guards so "AI" never matches inside "said" and "5G" not inside "15G".
    """
    parts = []
    for w in sorted(set(words), key=lambda s: (-len(s), s)):
        esc = re.escape(w)
        if w.isascii():
            esc = rf"(?<![a-z0-9]){esc}(?![a-z0-9])"
        parts.append(esc)
    return "|".join(parts)


@dataclass(frozen=True)
class Lexicon:
    """Aliases of one kind of thing, folded, with the normalized name each stands for."""

    regex: re.Pattern[str]
    canonical: dict[str, str]  # folded alias -> normalized name

    def find(self, folded: str, start: int = 0, end: int | None = None) -> list[tuple[int, int, str]]:
        stop = len(folded) if end is None else end
        return [
            (m.start(), m.end(), self.canonical[m.group(0)]) for m in self.regex.finditer(folded, start, stop)
        ]


def _lexicon(entries: list[tuple[str, list[str]]], blockers: list[str] | None = None) -> Lexicon:
    canonical: dict[str, str] = {}
    for name, aliases in entries:
        for alias in [name, *aliases]:
            canonical.setdefault(fold_aligned(alias), name)
    # Blockers are matched like aliases but map to "": they consume a span (国务院新闻办) so a shorter
    # alias inside it (国务院) cannot match there.
    for b in blockers or []:
        canonical[fold_aligned(b)] = ""
    return Lexicon(re.compile(_alternation(list(canonical))), canonical)


@dataclass(frozen=True)
class Taxonomy:
    version: str
    raw: dict[str, Any]
    issuers: Lexicon
    local_issuer_re: re.Pattern[str]
    region_names: dict[str, str]  # folded alias -> full region name
    local_suffixes: dict[str, str]  # folded suffix -> normalized suffix
    branch_issuer_re: re.Pattern[str]  # 人民银行 + region + 中心支行/分行/营业管理部
    policy_actions: tuple[tuple[str, re.Pattern[str], str | None, bool], ...]  # name, regex, issuer, needs_issuer
    market_rate_title_re: re.Pattern[str]  # a headline about a market fixing (LPR): no rate decision
    statistics_issuers: frozenset[str]
    data_issuers: frozenset[str]
    successors: dict[str, str]
    doc_types: Lexicon
    doc_type_list: tuple[str, ...]  # longest first
    doc_type_canonical: dict[str, str]  # a specific type (政府工作报告) -> the type it is reported as (报告)
    phrase_only_doc_types: frozenset[str]
    doc_suffix_strip: re.Pattern[str]
    guanyu_re: re.Pattern[str]
    actions: Lexicon
    periods: Lexicon
    topics: Lexicon
    regions: Lexicon
    indicators: Lexicon
    data_headline_re: re.Pattern[str]
    release_cue_re: re.Pattern[str]

    def weight(self, name: str) -> float:
        return float(self.raw["weights"][name])

    def score(self, name: str) -> float:
        return float(self.raw["scores"][name])

    def threshold(self, name: str) -> float:
        return float(self.raw["thresholds"][name])

    def proximity(self, name: str) -> int:
        return int(self.raw["proximity"][name])


def compile_taxonomy(raw: dict[str, Any]) -> Taxonomy:
    try:
        issuers = raw["issuers"]
        regions = raw["regions"]
        suffixes: dict[str, str] = raw["local_issuer"]["suffixes"]
        region_names: dict[str, str] = {}
        for r in regions:
            for alias in [r["name"], *r["aliases"]]:
                region_names[fold_aligned(alias)] = r["name"]
        local_re = re.compile(
            "(?P<region>" + _alternation(list(region_names)) + ")(?:省|市|自治区)?"
            "(?P<suffix>" + _alternation([fold_aligned(s) for s in suffixes]) + ")"
        )
        branch = raw["local_issuer"]["branch"]
        branch_re = re.compile(
            "(?:" + _alternation([fold_aligned(x) for x in branch["prefixes"]]) + ")"
            "(?P<region>" + _alternation(list(region_names)) + ")(?:省|市)?"
            "(?P<suffix>" + _alternation([fold_aligned(x) for x in branch["suffixes"]]) + ")"
        )
        stats = raw["statistics"]
        doc_types = list(raw["doc_types"])
        doc_aliases: dict[str, str] = dict(raw.get("doc_type_aliases", {}))
        return Taxonomy(
            version=str(raw["version"]),
            raw=raw,
            issuers=_lexicon([(i["name"], i["aliases"]) for i in issuers], raw.get("issuer_blockers", [])),
            local_issuer_re=local_re,
            region_names=region_names,
            local_suffixes={fold_aligned(k): v for k, v in suffixes.items()},
            branch_issuer_re=branch_re,
            policy_actions=tuple(
                (str(a["name"]), re.compile(a["regex"]), a.get("issuer"), bool(a.get("needs_issuer", False)))
                for a in raw.get("policy_actions", {}).get("patterns", [])
            ),
            market_rate_title_re=re.compile(raw.get("policy_actions", {}).get("market_rate_title", "(?!)")),
            statistics_issuers=frozenset(i["name"] for i in issuers if i.get("statistics")),
            data_issuers=frozenset(i["name"] for i in issuers if i.get("publishes_statistics")),
            successors={i["name"]: i["successor"] for i in issuers if i.get("successor")},
            doc_types=_lexicon([(doc_aliases.get(d, d), [d]) for d in doc_types]),
            doc_type_list=tuple(sorted(doc_types, key=len, reverse=True)),
            doc_type_canonical={d: doc_aliases.get(d, d) for d in doc_types},
            phrase_only_doc_types=frozenset(raw.get("doc_type_phrase_only", [])),
            doc_suffix_strip=re.compile(fold_aligned(raw["doc_title_suffix_strip"])),
            guanyu_re=re.compile(fold_aligned(raw["guanyu_pattern"])),
            actions=_lexicon([(v, [k]) for k, v in raw["actions"].items()], raw.get("action_blockers", [])),
            periods=_lexicon([(p["name"], p["aliases"]) for p in raw["periods"]]),
            topics=_lexicon([(t["name"], t["aliases"]) for t in raw["topics"]]),
            regions=_lexicon([(r["name"], r["aliases"]) for r in regions], raw.get("region_blockers", [])),
            indicators=_lexicon([(i, []) for i in stats["indicators"]]),
            data_headline_re=re.compile(stats["data_headline_pattern"]),
            release_cue_re=re.compile(_alternation([fold_aligned(c) for c in stats["release_cues"]])),
        )
    except (KeyError, TypeError, re.error) as exc:
        raise ConfigError(f"taxonomy {raw.get('version', '?')}: {exc!r}") from exc


@lru_cache(maxsize=8)
def load_taxonomy(name: str = DEFAULT_TAXONOMY) -> Taxonomy:
    """The packaged taxonomy `name` (a file in pipeline/tag/taxonomy/), compiled once per process."""
    path = TAXONOMY_DIR / f"{name}.json"
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ConfigError(f"cannot read taxonomy {path.name}: {exc}") from exc
    return compile_taxonomy(raw)
