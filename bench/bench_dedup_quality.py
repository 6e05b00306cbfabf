"""Precision and recall of near-duplicate detection on the labelled real pairs, and MinHash-vs-SimHash candidates.

Run: .venv/bin/python bench/bench_dedup_quality.py
"""

from __future__ import annotations

import importlib.util
import sys
from collections import Counter
from pathlib import Path

import numpy as np

from pipeline import dedup

_CORPUS = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "dedup_pairs" / "corpus.py"
_spec = importlib.util.spec_from_file_location("dedup_corpus", _CORPUS)
assert _spec and _spec.loader
corpus = importlib.util.module_from_spec(_spec)
sys.modules["dedup_corpus"] = corpus
_spec.loader.exec_module(corpus)


def simhash(shingles: np.ndarray) -> int:
    if len(shingles) == 0:
        return 0
    bits = ((shingles[:, None] >> np.arange(64, dtype=np.uint64)) & np.uint64(1)).astype(np.int64)
    votes = (2 * bits - 1).sum(axis=0)
    return int(sum(1 << i for i in range(64) if votes[i] > 0))


def main() -> None:
    articles = corpus.all_articles()
    pairs = corpus.every_pair(list(articles))
    sigs = {k: dedup.signature(a.title, a.body_text) for k, a in articles.items()}
    sims = {
        k: simhash(dedup.shingle_hashes(dedup.dedup_text(a.title, a.body_text))) for k, a in articles.items()
    }

    tp = fp = fn = tn = 0
    lookalike_merges = 0
    by_kind: Counter[tuple[str, str]] = Counter()
    rows = []
    for p in pairs:
        a, b = articles[p.a], articles[p.b]
        v = dedup.compare(a.title, a.body_text, b.title, b.body_text)
        candidate = bool(set(sigs[p.a].bucket_keys) & set(sigs[p.b].bucket_keys))
        predicted = candidate and v.verdict != "different"
        hamming = bin(sims[p.a] ^ sims[p.b]).count("1")
        if p.label == "dup":
            tp += predicted
            fn += not predicted
        else:
            fp += predicted
            tn += not predicted
            lookalike_merges += predicted and p.kind == "template_lookalike"
        by_kind[(p.kind, "ok" if predicted == (p.label == "dup") else "WRONG")] += 1
        if p.kind != "unlisted" or predicted:
            rows.append((p, v, candidate, hamming))

    print(
        f"dedup {dedup.DEDUP_VERSION}: {len(articles)} real posts, {len(pairs)} pairs "
        f"({sum(p.label == 'dup' for p in pairs)} duplicate, {sum(p.label != 'dup' for p in pairs)} different)"
    )
    print(
        f"thresholds: Jaccard>={dedup.NEAR_JACCARD} or containment>={dedup.NEAR_CONTAINMENT}; "
        f"short (<{dedup.SHORT_CHARS} chars) needs every figure; LSH {dedup.BANDS}x{dedup.ROWS} + lead clauses"
    )
    print()
    print(f"{'label':9} {'kind':20} {'verdict':9} {'J':>5} {'C':>5} {'LSH':>4} {'simhash d':>9}  reason")
    for p, v, candidate, hamming in rows:
        print(
            f"{p.label:9} {p.kind:20} {v.verdict:9} {v.jaccard:5.2f} {v.containment:5.2f} "
            f"{'yes' if candidate else 'no':>4} {hamming:9d}  {v.reason}"
        )
    print()
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    print(f"end to end (LSH candidate AND verdict): TP={tp} FP={fp} FN={fn} TN={tn}")
    print(
        f"precision={precision:.3f} recall={recall:.3f} false merges on labelled look-alikes={lookalike_merges}"
    )
    for (kind, outcome), n in sorted(by_kind.items()):
        print(f"  {kind:20} {outcome:5} {n}")

    # Why MinHash+LSH: how many different pairs each scheme must verify to keep every true duplicate.
    dups = [p for p in pairs if p.label == "dup"]
    diff = [p for p in pairs if p.label != "dup"]
    worst = max(bin(sims[p.a] ^ sims[p.b]).count("1") for p in dups)
    sim_false = sum(bin(sims[p.a] ^ sims[p.b]).count("1") <= worst for p in diff)
    lsh_false = sum(bool(set(sigs[p.a].bucket_keys) & set(sigs[p.b].bucket_keys)) for p in diff)
    lsh_miss = sum(not set(sigs[p.a].bucket_keys) & set(sigs[p.b].bucket_keys) for p in dups)
    print()
    print("candidate generation on the same pairs:")
    print(
        f"  SimHash-64: worst true-duplicate distance {worst} bits; a block scheme that catches it "
        f"(<= {worst} bits) also makes {sim_false}/{len(diff)} different pairs candidates"
    )
    blocks = worst + 1  # pigeonhole: distance <= worst guarantees one of worst+1 blocks is equal
    edges = [round(i * 64 / blocks) for i in range(blocks + 1)]

    def block_keys(h: int) -> set[tuple[int, int]]:
        return {(i, (h >> edges[i]) & ((1 << (edges[i + 1] - edges[i])) - 1)) for i in range(blocks)}

    shared_block = sum(bool(block_keys(sims[p.a]) & block_keys(sims[p.b])) for p in diff)
    print(
        f"  SimHash block keys for <= {worst} bits: {blocks} blocks of ~{64 / blocks:.1f} bits; "
        f"{shared_block}/{len(diff)} different pairs share a block (each lookup would read most of the corpus)"
    )
    print(
        f"  MinHash LSH {dedup.BANDS}x{dedup.ROWS} + lead clauses: misses {lsh_miss}/{len(dups)} true duplicates, "
        f"{lsh_false}/{len(diff)} different pairs become candidates"
    )


if __name__ == "__main__":
    main()
