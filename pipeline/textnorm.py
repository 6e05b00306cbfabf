"""Text normalization shared by parse, dedup, tag and search, so one article always normalizes one way."""

from __future__ import annotations

import hashlib
import re
import unicodedata

# The RSS-to-blog archive replaced these characters in titles with "_" (SINA.md §1).
ARCHIVE_TITLE_MANGLED = "“”:/\\?*<>|[]"

# "原标题：…" opens many Sina bodies; the colon may be full- or half-width, the line may be bracketed.
ORIGINAL_TITLE_RE = re.compile(r"^\s*[（(【\[]?\s*原标题\s*[：:]\s*(?P<title>.+?)\s*[)）】\]]?\s*$")
# "责任编辑：张亚楠" or "责任编辑：刘明亮 SF055"; the trailing code is an editor id, not a name.
EDITOR_RE = re.compile(r"责任编辑\s*[：:]\s*(?P<name>[^\s　]+(?:[ ·][^\s　A-Z0-9]+)*)(?:\s+(?P<code>[A-Z]{1,4}\d{2,4}))?")
# Lines that are boilerplate wherever they appear in a Sina body.
BOILERPLATE_LINE_RES = (
    re.compile(r"^\s*责任编辑\s*[：:]"),
    re.compile(r"^\s*(海量资讯、精准解读，尽在新浪财经APP|新浪财经APP|扫二维码.*|新浪声明：.*)\s*$"),
    re.compile(r"^\s*(来源|文章来源)\s*[：:].{0,30}$"),
)

_WS_RE = re.compile(r"\s+")
_BLANKS = "\u00a0\u3000\u200b\u200c\u200d\ufeff"


def clean_text(text: str) -> str:
    """NFC, unified blanks, collapsed whitespace: the form every stored text field takes."""
    text = unicodedata.normalize("NFC", text)
    for ch in _BLANKS:
        text = text.replace(ch, " ")
    return _WS_RE.sub(" ", text).strip()


def fold(text: str) -> str:
    """Comparison key: NFKC (full-width -> half-width), lower case, no whitespace, punctuation or symbols.

    Also removes "_" and "." so archive-mangled titles (“十四五” -> _十四五_, 18.0% -> 180%) meet
    their originals.
    """
    text = unicodedata.normalize("NFKC", text).lower()
    out = []
    for ch in text:
        cat = unicodedata.category(ch)
        if cat[0] in "PSZC":
            continue
        out.append(ch)
    return "".join(out)


def normalize_title(title: str) -> str:
    """Key for "same title" comparisons; robust to the archive's mangling."""
    return fold(title)


def body_hash(text: str) -> str:
    """Hash of the folded body: the same article text hashes the same whatever its spacing or width."""
    return hashlib.sha256(fold(text).encode("utf-8")).hexdigest()


def repair_archive_title(title: str) -> str:
    """Undo what can be undone of the archive's title mangling.

    Pairs of "_" around a phrase were Chinese quotes (“十四五” -> _十四五_). A lone "_" stays, since it
    could have been any of ``“”:/\\?*<>|[]``.
    """
    title = clean_text(title)
    return re.sub(r"_([^_\s]{1,30}?)_", r"“\1”", title)


def split_original_title(paragraphs: list[str]) -> tuple[str | None, list[str]]:
    """Take a leading "原标题：…" line off the paragraphs; return (original title, rest)."""
    for i, para in enumerate(paragraphs[:3]):
        m = ORIGINAL_TITLE_RE.match(para)
        if m:
            return clean_text(m.group("title")), paragraphs[:i] + paragraphs[i + 1 :]
    return None, paragraphs


def find_editor(text: str) -> str | None:
    m = EDITOR_RE.search(text)
    return m.group("name").strip() if m else None


def is_boilerplate_line(line: str) -> bool:
    return any(r.search(line) for r in BOILERPLATE_LINE_RES)


def cjk_char_ngrams(text: str, n: int) -> list[str]:
    """Character n-grams over the folded text (Chinese has no spaces: never tokenise on whitespace)."""
    folded = fold(text)
    if len(folded) < n:
        return [folded] if folded else []
    return [folded[i : i + n] for i in range(len(folded) - n + 1)]
