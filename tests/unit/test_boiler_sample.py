"""The hand-cleaned boilerplate sample: its frozen test split is unchanged and every document parses."""

from __future__ import annotations

import csv
import hashlib
from pathlib import Path

from pipeline.parse import parse_hexo_post

BOILER = Path(__file__).resolve().parent.parent / "fixtures" / "boiler"
# Recorded in tests/fixtures/boiler/README.md when the test split was frozen (before any rule was
# changed on the sample): sha256 over the test folder's files, each as "<relative path>\0<bytes>\0".
FROZEN_TEST = "cf79d723e2830ce6a3e40893d564768e13cfdb37697048e6fa2c222068f22fae"


def _digest(root: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        if p.is_file():
            h.update(str(p.relative_to(root)).encode() + b"\0" + p.read_bytes() + b"\0")
    return h.hexdigest()


def test_the_frozen_test_split_is_unchanged() -> None:
    assert _digest(BOILER / "test") == FROZEN_TEST
    assert FROZEN_TEST in (BOILER / "README.md").read_text(encoding="utf-8")


def test_every_test_post_parses_and_has_its_hand_cleaned_text() -> None:
    rows = list(csv.DictReader((BOILER / "test" / "index.tsv").read_text(encoding="utf-8").splitlines(),
                               delimiter="\t"))  # fmt: skip
    assert len(rows) >= 10
    for row in rows:
        article = parse_hexo_post((BOILER / "test" / "posts" / f"{row['n']}.md").read_bytes(), row["n"])
        cleaned = (BOILER / "test" / f"{row['n']}.txt").read_text(encoding="utf-8")
        assert article.body_text and len(cleaned) > 100, row["n"]
