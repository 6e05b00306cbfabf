"""Policy tagging on the labelled set: precision/recall, issuer and doc-type accuracy, speed.

Run: .venv/bin/python bench/bench_tag.py [--repeat N]
Prints figures; asserts nothing (the unit tests do that).
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time
from pathlib import Path

from pipeline.tag import TAGGER_VERSION, load_taxonomy, tag_article

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "fixtures" / "labelled" / "corpus.py"


def _corpus():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("labelled_corpus", CORPUS)
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    sys.modules["labelled_corpus"] = mod
    spec.loader.exec_module(mod)
    return mod


def _report(split: str, items: list, issuing: float, primary: float) -> None:  # type: ignore[type-arg]
    tp = fp = fn = 0
    stats_tp = stats_fp = stats_fn = 0
    issuer_ok = doc_ok = 0
    problems = []
    for it in items:
        tags = tag_article(it.article)
        kinds = {t.kind for t in tags}
        is_policy = "policy" in kinds
        is_stats = "statistics_release" in kinds
        want_policy = it.verdict == "policy"
        want_stats = it.verdict == "statistics_release"
        tp += is_policy and want_policy
        fp += is_policy and not want_policy
        fn += want_policy and not is_policy
        stats_tp += is_stats and want_stats
        stats_fp += is_stats and not want_stats
        stats_fn += want_stats and not is_stats
        if is_policy != want_policy or is_stats != want_stats:
            got = sorted(kinds & {"policy", "statistics_release"}) or ["neither"]
            problems.append(f"verdict  {it.file}: want {it.verdict}, got {got}")
        if is_policy and want_policy:
            got_i = {t.value for t in tags if t.kind == "issuer" and t.score >= issuing}
            got_d = {t.value for t in tags if t.kind == "doc_type" and t.score >= primary}
            if got_i == set(it.issuers):
                issuer_ok += 1
            else:
                problems.append(f"issuers  {it.file}: want {sorted(it.issuers)}, got {sorted(got_i)}")
            if got_d == set(it.doc_types):
                doc_ok += 1
            else:
                problems.append(f"doctypes {it.file}: want {sorted(it.doc_types)}, got {sorted(got_d)}")
    n_stats = sum(it.verdict == "statistics_release" for it in items)
    n_policy = sum(it.verdict == "policy" for it in items)
    print(
        f"[{split}] {len(items)} articles (policy {n_policy}, statistics_release {n_stats}, "
        f"neither {len(items) - n_policy - n_stats})"
    )
    prec = tp / (tp + fp) if tp + fp else float("nan")
    rec = tp / (tp + fn) if tp + fn else float("nan")
    print(f"  policy: precision {prec:.3f} recall {rec:.3f} (tp {tp}, fp {fp}, fn {fn})")
    sp = stats_tp / (stats_tp + stats_fp) if stats_tp + stats_fp else float("nan")
    sr = stats_tp / (stats_tp + stats_fn) if stats_tp + stats_fn else float("nan")
    print(
        f"  statistics_release: precision {sp:.3f} recall {sr:.3f} (tp {stats_tp}, fp {stats_fp}, fn {stats_fn})"
    )
    if tp:
        print(f"  on policy true positives: issuers exact {issuer_ok}/{tp}, doc types exact {doc_ok}/{tp}")
    if split != "all":
        for p in problems:
            print("    ", p)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=20, help="passes over the set for the speed figure")
    args = ap.parse_args()
    tax = load_taxonomy()
    issuing = tax.threshold("issuing_issuer_score")
    primary = tax.threshold("primary_doc_type_score")
    print(f"tagger {TAGGER_VERSION}")
    all_items = _corpus().load_all()
    for split in ("dev", "holdout", "all"):
        items = [it for it in all_items if split in ("all", it.split)]
        _report(split, items, issuing, primary)
    items = all_items

    arts = [it.article for it in items]
    chars = sum(len(a.title) + len(a.body_text) for a in arts)
    t0 = time.process_time()
    for _ in range(args.repeat):
        for a in arts:
            tag_article(a)
    cpu = time.process_time() - t0
    n = len(arts) * args.repeat
    print(
        f"speed: {n / cpu:.0f} articles/s, {chars * args.repeat / cpu / 1e6:.2f} M chars/s "
        f"(one core, CPU time, {n} taggings, mean {chars // len(arts)} chars/article)"
    )


if __name__ == "__main__":
    main()
