"""Void tags libxml2 does not know must not swallow the rest of an article."""

from __future__ import annotations

import pytest

from pipeline.parse.sanitize import sanitize_html


@pytest.mark.parametrize("tag", ["<embed src='x.swf'>", "<source src='a.mp4'>", "<track src='a.vtt'>", "<wbr>", "<EMBED>"])
def test_unclosed_void_tag_keeps_what_follows(tag: str) -> None:
    out = sanitize_html(f"<p>前文{tag}后文</p><p>第二段</p>")
    assert "后文" in out and "第二段" in out
    assert "embed" not in out.lower() and "source" not in out.lower()
