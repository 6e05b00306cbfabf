"""Judgement on the judged corpus (real archive posts labelled by docs/labelling.md): dev and frozen test.

Run: .venv/bin/python bench/bench_judgement.py [--errors dev]

Policy: precision and recall of the tagger's policy verdict (parse -> tag_article), statistics releases
the same, and on policy true positives how often the issuing bodies and the document's own types are
exactly right. Stories: every pair of posts in a split (the listed pairs carry the labels, all others
are different stories), judged the way the loader links an article: a shared LSH bucket key, inside the
story window, and a compare() verdict that is not "different". "clustered" takes those links
transitively; "as loaded" loads the whole corpus in publication order through `dedup.decide`, the
loader's own decision (a short text is also judged against a story's members together). Prints figures only; `--errors dev` lists the dev-split mistakes (never
the test split's: rules are fitted on dev alone).
"""

from __future__ import annotations

import argparse
import itertools
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._result import emit  # noqa: E402
from pipeline import dedup  # noqa: E402
from pipeline.tag import TAGGER_VERSION, load_taxonomy, tag_article  # noqa: E402
from tests.helpers import fixture_corpus  # noqa: E402

corpus = fixture_corpus("judged")


def _ratio(a: int, b: int) -> float | None:
    return round(a / b, 3) if b else None


def _fmt(x: float | None) -> str:
    return "  n/a" if x is None else f"{x:.3f}"


@dataclass
class PolicyFigures:
    n: int
    n_policy: int
    n_stats: int
    precision: float | None
    recall: float | None
    stats_precision: float | None
    stats_recall: float | None
    issuers_ok: int
    doc_types_ok: int
    tp: int
    errors: list[str]


def policy_figures(items: list[Any], issuing: float, primary: float) -> PolicyFigures:
    tp = fp = fn = s_tp = s_fp = s_fn = issuers_ok = doc_ok = 0
    errors: list[str] = []
    for it in items:
        tags = tag_article(it.article)
        kinds = {t.kind for t in tags}
        got_policy, got_stats = "policy" in kinds, "statistics_release" in kinds
        want_policy, want_stats = it.verdict == "policy", it.verdict == "statistics_release"
        tp += got_policy and want_policy
        fp += got_policy and not want_policy
        fn += want_policy and not got_policy
        s_tp += got_stats and want_stats
        s_fp += got_stats and not want_stats
        s_fn += want_stats and not got_stats
        if (got_policy, got_stats) != (want_policy, want_stats):
            got = sorted(kinds & {"policy", "statistics_release"}) or ["neither"]
            errors.append(f"verdict  {it.key}: want {it.verdict}, got {got}")
        if got_policy and want_policy:
            got_i = {t.value for t in tags if t.kind == "issuer" and t.score >= issuing}
            got_d = {t.value for t in tags if t.kind == "doc_type" and t.score >= primary}
            if got_i == set(it.issuers):
                issuers_ok += 1
            else:
                errors.append(f"issuers  {it.key}: want {sorted(it.issuers)}, got {sorted(got_i)}")
            if got_d == set(it.doc_types):
                doc_ok += 1
            else:
                errors.append(f"doctypes {it.key}: want {sorted(it.doc_types)}, got {sorted(got_d)}")
    return PolicyFigures(
        n=len(items),
        n_policy=sum(it.verdict == "policy" for it in items),
        n_stats=sum(it.verdict == "statistics_release" for it in items),
        precision=_ratio(tp, tp + fp),
        recall=_ratio(tp, tp + fn),
        stats_precision=_ratio(s_tp, s_tp + s_fp),
        stats_recall=_ratio(s_tp, s_tp + s_fn),
        issuers_ok=issuers_ok,
        doc_types_ok=doc_ok,
        tp=tp,
        errors=errors,
    )


def linked(a: Any, b: Any, sigs: dict[str, dedup.Signature]) -> tuple[bool, str]:
    """The loader's decision for one pair: candidate by a shared bucket, in the window, not 'different'."""
    if not set(sigs[a.key].bucket_keys) & set(sigs[b.key].bucket_keys):
        return False, "no shared LSH bucket"
    if not dedup.within_story_window(a.article.published_at, b.article.published_at):
        return False, "outside the story window"
    v = dedup.compare(a.article.title, a.article.body_text, b.article.title, b.article.body_text)
    why = f"{v.verdict} J={v.jaccard:.2f} C={v.containment:.2f} {v.reason}"
    cand = dedup.Candidate(2, b.article.title, b.article.body_text, b.article.published_at, 2)
    # best_match applies the windows (the story window, and the shorter one of headline-fact links)
    match = dedup.best_match(a.article.published_at, a.article.title, a.article.body_text, [cand])
    return match is not None, why if match is not None or v.verdict == "different" else why + " (outside its window)"


@dataclass
class StoryFigures:
    pairs: int
    same: int
    recall: float | None
    false_merges: int
    recall_clustered: float | None
    false_merges_clustered: int
    recall_loaded: float | None
    false_merges_loaded: int
    false_merges_loaded_unlisted: int  # of those, pairs nobody labelled (a missed label, or a merge)
    errors: list[str]


def story_figures(posts: list[Any], split: str) -> StoryFigures:
    by_key = {p.key: p for p in posts}
    sigs = {p.key: dedup.signature(p.article.title, p.article.body_text) for p in posts}
    labels = {frozenset((q.a, q.b)): q for q in corpus.load_pairs()}
    pairs = []
    for a, b in itertools.combinations(sorted(by_key), 2):
        if (split == "test") != ("test" in (by_key[a].split, by_key[b].split)):
            continue
        q = labels.get(frozenset((a, b)))
        pairs.append((a, b, bool(q and q.same), q.kind if q else "unlisted"))
    decided = {(a, b): linked(by_key[a], by_key[b], sigs) for a, b, _, _ in pairs}
    # Stories are transitive: an article joins the story of whatever it links to.
    parent = {k: k for k in by_key}

    def find(k: str) -> str:
        while parent[k] != k:
            parent[k] = parent[parent[k]]
            k = parent[k]
        return k

    for (a, b), (yes, _) in decided.items():
        if yes:
            parent[find(a)] = find(b)
    loaded = as_loaded(posts, sigs)
    hit = miss = fm = hit_c = fm_c = hit_l = fm_l = fm_unlisted = 0
    errors = []
    for a, b, same, kind in pairs:
        yes, why = decided[(a, b)]
        together = find(a) == find(b)
        one_story = loaded[a] == loaded[b]
        if same:
            hit_l += one_story
            if not one_story:
                errors.append(f"apart    [{kind}] {a} | {b}: stories {loaded[a]} and {loaded[b]} as loaded")
        else:
            fm_l += one_story
            fm_unlisted += one_story and kind == "unlisted"
            if one_story:
                errors.append(f"together [{kind}] {a} | {b}: one story as loaded")
        if same:
            hit += yes
            miss += not yes
            hit_c += together
            if not yes:
                errors.append(f"missed   [{kind}] {a} | {b}: {why}")
        else:
            fm += yes
            fm_c += together
            if yes:
                errors.append(f"merged   [{kind}] {a} | {b}: {why}")
    n_same = hit + miss
    return StoryFigures(
        pairs=len(pairs),
        same=n_same,
        recall=_ratio(hit, n_same),
        false_merges=fm,
        recall_clustered=_ratio(hit_c, n_same),
        false_merges_clustered=fm_c,
        recall_loaded=_ratio(hit_l, n_same),
        false_merges_loaded=fm_l,
        false_merges_loaded_unlisted=fm_unlisted,
        errors=errors,
    )


def as_loaded(posts: list[Any], sigs: dict[str, dedup.Signature]) -> dict[str, int]:
    """Each post's story when the whole corpus is loaded in publication order, the way the loader links:
    candidates are the earlier posts sharing a bucket key, and `dedup.decide` picks the story (so a short
    text is also judged against a story's members together)."""
    order = sorted(posts, key=lambda p: (p.article.published_at, p.key))
    ids = {p.key: n for n, p in enumerate(order, 1)}
    story: dict[str, int] = {}
    buckets: dict[int, list[str]] = {}
    for p in order:
        keys = {k for _, k in sigs[p.key].bucket_keys}
        seen = sorted({q for k in keys for q in buckets.get(k, [])}, key=ids.__getitem__)
        cands = [
            dedup.Candidate(ids[q], by.article.title, by.article.body_text, by.article.published_at, story[q])
            for q in seen
            for by in [next(x for x in posts if x.key == q)]
        ]
        link = dedup.decide(ids[p.key], p.article.published_at, p.article.title, p.article.body_text, cands,
                            heads_a_story=False)  # fmt: skip
        story[p.key] = link.story_id
        for k in keys:
            buckets.setdefault(k, []).append(p.key)
    return story


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--errors", choices=["dev"], help="list the dev split's mistakes")
    args = ap.parse_args()
    tax = load_taxonomy()
    issuing = tax.threshold("issuing_issuer_score")
    primary = tax.threshold("primary_doc_type_score")
    posts = corpus.load_posts()
    print(f"tagger {TAGGER_VERSION}, dedup {dedup.DEDUP_VERSION}; judged corpus: {len(posts)} posts")
    result: dict[str, Any] = {}
    for split in ("dev", "test"):
        items = [p for p in posts if p.split == split]
        pf = policy_figures(items, issuing, primary)
        sf = story_figures(posts, split)
        print(
            f"[{split}] {pf.n} posts (policy {pf.n_policy}, statistics {pf.n_stats}, "
            f"neither {pf.n - pf.n_policy - pf.n_stats})"
        )
        print(f"  policy: precision {_fmt(pf.precision)} recall {_fmt(pf.recall)}")
        print(f"  statistics_release: precision {_fmt(pf.stats_precision)} recall {_fmt(pf.stats_recall)}")
        print(
            f"  on {pf.tp} policy true positives: issuers right {pf.issuers_ok}, doc types right {pf.doc_types_ok}"
        )
        print(
            f"  stories: {sf.pairs} pairs ({sf.same} same story): recall {_fmt(sf.recall)}, "
            f"false merges {sf.false_merges}; clustered: recall {_fmt(sf.recall_clustered)}, "
            f"false merges {sf.false_merges_clustered}; as loaded: recall {_fmt(sf.recall_loaded)}, "
            f"false merges {sf.false_merges_loaded} ({sf.false_merges_loaded_unlisted} of unlisted pairs)"
        )
        if args.errors == split:
            for line in pf.errors + sf.errors:
                print("    " + line)
        result[split] = {
            "posts": pf.n,
            "policy_posts": pf.n_policy,
            "policy_precision": pf.precision,
            "policy_recall": pf.recall,
            "stats_precision": pf.stats_precision,
            "stats_recall": pf.stats_recall,
            "issuers_accuracy": _ratio(pf.issuers_ok, pf.tp),
            "doc_types_accuracy": _ratio(pf.doc_types_ok, pf.tp),
            "story_pairs": sf.pairs,
            "same_story_pairs": sf.same,
            "story_recall": sf.recall,
            "false_merges": sf.false_merges,
            "story_recall_clustered": sf.recall_clustered,
            "false_merges_clustered": sf.false_merges_clustered,
            "story_recall_loaded": sf.recall_loaded,
            "false_merges_loaded": sf.false_merges_loaded,
        }
    emit("judgement", tagger=TAGGER_VERSION, dedup=dedup.DEDUP_VERSION, **result)


if __name__ == "__main__":
    main()
