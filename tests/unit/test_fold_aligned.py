"""fold_aligned by translate table: the same as folding each character on its own, offsets kept."""

from __future__ import annotations

import unicodedata

from pipeline.textnorm import fold_aligned


def _reference(text: str) -> str:
    out = []
    for ch in text:
        folded = unicodedata.normalize("NFKC", ch).lower()
        out.append(folded if len(folded) == 1 else ch)
    return "".join(out)


def test_every_character_folds_as_it_would_alone() -> None:
    text = "".join(chr(c) for c in range(0x20, 0x30000) if not 0xD800 <= c < 0xE000)
    assert fold_aligned(text) == _reference(text)
    assert len(fold_aligned(text)) == len(text)


def test_full_width_and_case_fold_but_ligatures_keep_their_place() -> None:
    assert fold_aligned("ＰＭＩ为５０.３％，ﬁ") == "pmi为50.3%,ﬁ"  # ﬁ folds to two characters: kept
