"""Body extraction judged against hand-cleaned text (tests/fixtures/boiler): dev and frozen test apart.

Run: .venv/bin/python bench/bench_boilerplate.py [--errors dev]

For each page or post of the sample, newsflow's body paragraphs (and trafilatura's text of the same
input, the anchor tool, in the same run) are compared with the text a person kept by hand:
- body F1: precision and recall of characters (as a multiset, after folding: NFKC, lower case, no
  whitespace or punctuation), averaged over the documents;
- boilerplate lines leaked: output lines of four or more folded characters that occur nowhere in the
  hand-cleaned text (an editor line, an app promotion, a related-links run ...);
- lines lost: hand-kept lines of that length that occur nowhere in the output.
`--errors dev` lists the dev split's leaked and lost lines (never the test split's).
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._result import emit  # noqa: E402
from pipeline.parse import parse_article_page, parse_hexo_post  # noqa: E402
from pipeline.textnorm import fold  # noqa: E402

BOILER = ROOT / "tests" / "fixtures" / "boiler"
SHARED = ROOT.parent / "shared"
FETCHED = datetime(2022, 1, 1, tzinfo=UTC)
MIN_LINE = 4


def _urls() -> dict[str, str]:
    """Page URLs of the stored fixture pages, by file name (a page's layout depends on its URL)."""
    out: dict[str, str] = {}
    for index in (ROOT / "tests/fixtures/pages/index.tsv", ROOT / "tests/fixtures/article_html/index.tsv"):
        for row in csv.DictReader(index.read_text(encoding="utf-8").splitlines(), delimiter="\t"):
            if row.get("url"):
                out[row["file"]] = row["url"]
    return out


def _resolve(name: str) -> Path:
    if name.startswith("shared:"):
        rest = name.removeprefix("shared:").lstrip("/")
        for base in (SHARED, SHARED / "fixtures"):
            if (base / rest).exists():
                return base / rest
        return SHARED / rest
    return ROOT / name


def documents(split: str) -> list[tuple[str, bytes, str, str]]:
    """(name, raw bytes, url or "", hand-cleaned text) of one split."""
    folder = BOILER / split
    rows = list(csv.DictReader((folder / "index.tsv").read_text(encoding="utf-8").splitlines(), delimiter="\t"))
    urls = _urls()
    out = []
    for row in rows:
        n = row["n"].strip()
        if split == "dev":
            path = _resolve(row["file"].strip())
        else:
            path = folder / "posts" / f"{n}.md"
        cleaned = (folder / f"{n}.txt").read_text(encoding="utf-8")
        out.append((f"{split}/{n} {path.name}", path.read_bytes(), urls.get(path.name, ""), cleaned))
    return out


def ours(raw: bytes, url: str, name: str) -> list[str]:
    if name.endswith(".md"):
        return list(parse_hexo_post(raw, name).paragraphs)
    return list(parse_article_page(raw, url or "https://finance.sina.com.cn/x/doc-iabcdefg1234567.shtml", FETCHED).paragraphs)


def theirs(raw: bytes, url: str, name: str) -> list[str]:
    import trafilatura

    text = raw.decode("utf-8", "replace")
    if name.endswith(".md"):
        text = text.split("\n---", 2)[-1]
    out = trafilatura.extract(text, url=url or None) or ""
    return [line for line in out.splitlines() if line.strip()]


def _f1(got: str, want: str) -> tuple[float, float, float]:
    g, w = Counter(got), Counter(want)
    common = sum((g & w).values())
    p = common / max(1, sum(g.values()))
    r = common / max(1, sum(w.values()))
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def judge(lines: list[str], cleaned: str) -> dict[str, Any]:
    want_lines = [fold(x) for x in cleaned.splitlines() if len(fold(x)) >= MIN_LINE]
    want = "".join(fold(x) for x in cleaned.splitlines())
    got_lines = [fold(x) for x in lines]
    got = "".join(got_lines)
    p, r, f = _f1(got, want)
    leaked = [x for x, g in zip(lines, got_lines, strict=True) if len(g) >= MIN_LINE and g not in want]
    lost = [x for x in want_lines if x not in got]
    return {"p": p, "r": r, "f1": f, "leaked": leaked, "lost": lost}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--errors", choices=["dev"], help="list the dev split's leaked and lost lines")
    args = ap.parse_args()
    result: dict[str, Any] = {}
    for split in ("dev", "test"):
        if not (BOILER / split / "index.tsv").exists():
            print(f"[{split}] no sample")
            continue
        docs = documents(split)
        figures: dict[str, dict[str, float]] = {}
        for tool, fn in (("newsflow", ours), ("trafilatura", theirs)):
            judged = [judge(fn(raw, url, name), cleaned) for name, raw, url, cleaned in docs]
            n = len(judged)
            figures[tool] = {
                "body_precision": round(sum(j["p"] for j in judged) / n, 3),
                "body_recall": round(sum(j["r"] for j in judged) / n, 3),
                "body_f1": round(sum(j["f1"] for j in judged) / n, 3),
                "leaked_lines": sum(len(j["leaked"]) for j in judged),
                "docs_with_leaks": sum(bool(j["leaked"]) for j in judged),
                "lost_lines": sum(len(j["lost"]) for j in judged),
            }
            if args.errors == split and tool == "newsflow":
                for (name, *_), j in zip(docs, judged, strict=True):
                    for line in j["leaked"]:
                        print(f"    leaked {name}: {line[:80]}")
                    for line in j["lost"]:
                        print(f"    lost   {name}: {line[:80]}")
        print(f"[{split}] {len(docs)} documents")
        for tool, f in figures.items():
            print(
                f"  {tool:<12} body P {f['body_precision']:.3f} R {f['body_recall']:.3f} F1 {f['body_f1']:.3f}; "
                f"boilerplate lines leaked {f['leaked_lines']} (in {f['docs_with_leaks']} documents), "
                f"lines lost {f['lost_lines']}"
            )
        result[split] = {"documents": len(docs), **{t: f for t, f in figures.items()}}
    emit("boilerplate", **result)


if __name__ == "__main__":
    main()
