"""Text normalization shared by parse, dedup, tag and search, so one article always normalizes one way."""

from __future__ import annotations

import hashlib
import re
import unicodedata

# "原标题：…" opens many Sina bodies; the colon may be full- or half-width, the line may be bracketed.
ORIGINAL_TITLE_RE = re.compile(r"^\s*[（(【\[]?\s*原标题\s*[：:]\s*(?P<title>.+?)\s*[)）】\]]?\s*$")
# "责任编辑：张亚楠" or "责任编辑：刘明亮 SF055"; the trailing code is an editor id, not a name.
EDITOR_RE = re.compile(r"责任编辑\s*[：:]\s*(?P<name>[^\s　]+(?:[ ·][^\s　A-Z0-9]+)*)(?:\s+(?P<code>[A-Z]{1,4}\d{2,4}))?")
# Lines that are boilerplate wherever they appear in a Sina body.
BOILERPLATE_LINE_RES = (
    re.compile(r"^\s*责任编辑\s*[：:]"),
    re.compile(r"^\s*(海量资讯、精准解读，尽在新浪财经APP|新浪财经APP|扫二维码.*|新浪声明：.*)\s*$"),
    # App promotion lines: 下载新浪财经APP，查看更多资讯和大V观点 and its variants (short lines only, so a
    # sentence of an article that names the app stays).
    re.compile(
        r"^\s*(?=.{0,40}$)(?:.*(?:下载|打开|扫码|扫描|关注|点击|安装).*新浪财经(?:APP|App|app|客户端)"
        r"|.*新浪财经(?:APP|App|app|客户端).*(?:查看|看更多|获取|下载)).*$"
    ),
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
    """Undo what can be undone of the archive's title mangling (it wrote ``“”:/\\?*<>|[]`` as "_",
    docs/sina.md).

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


# --- Sina body boilerplate, which parse drops ------------------------------------------------------

# Some bodies write the original-title line without a colon: "原标题 “看得出这个寺庙在中国吗？”当地回应".
ORIGINAL_TITLE_LOOSE_RE = re.compile(r"^\s*[（(【\[]?\s*原标题\s*(?:[：:]|\s)\s*(?P<title>.+?)\s*[)）】\]]?\s*$")
# Lines that are Sina page furniture rather than article text (seen in real pages and posts).
SINA_BOILERPLATE_LINE_RES = (
    *BOILERPLATE_LINE_RES,
    re.compile(r"^\s*免责声明\s*[：:]"),
    re.compile(r"^\s*点击进入专题\s*[：:]?"),
    re.compile(r"^\s*(相关新闻|相关阅读|相关报道|延伸阅读|推荐阅读|热门推荐)\s*[：:]?\s*$"),
    re.compile(r"新浪财经公众号|24小时滚动播报最新的财经资讯|扫描(下方)?二维码关注"),
    re.compile(r"^\s*[（(]?\s*(文章|本文)来源\s*[：:].{0,40}[)）]?\s*$"),
    # Bylines of republished posts: "► 文 观察者网 杨蓉", a WeChat "原创： 作者 公众号" line, and a lone
    # "此前报道：<headline>" link line.
    re.compile(r"^\s*►\s*文\s*[|｜]?\s*\S.{0,30}$"),
    re.compile(r"^\s*原创\s*[：:]\s*\S.{0,40}$"),
    re.compile(r"^\s*此前报道\s*[：:].{1,60}$"),
)
# Headings that introduce a run of link-only "related reading" paragraphs.
RELATED_HEADING_RE = re.compile(r"^\s*(相关新闻|相关阅读|相关报道|延伸阅读|推荐阅读|热门推荐|此前报道)\s*[：:]?\s*$")


def match_original_title(line: str) -> str | None:
    """The title of a "原标题：…" (or "原标题 …") line, else None."""
    m = ORIGINAL_TITLE_RE.match(line) or ORIGINAL_TITLE_LOOSE_RE.match(line)
    if not m:
        return None
    title = clean_text(m.group("title"))
    return title or None


# All of them as one alternation: one search a line instead of one per pattern (none uses flags).
_SINA_BOILERPLATE_ANY_RE = re.compile("|".join(f"(?:{r.pattern})" for r in SINA_BOILERPLATE_LINE_RES))


def is_sina_boilerplate_line(line: str) -> bool:
    """A line of page furniture: editor lines, app prompts, disclaimers, topic links, QR prompts."""
    return _SINA_BOILERPLATE_ANY_RE.search(line) is not None


class _FoldTable(dict[int, str]):
    """str.translate table for fold_aligned, filled per character on first sight (a C-level loop)."""

    def __missing__(self, code: int) -> str:
        ch = chr(code)
        folded = unicodedata.normalize("NFKC", ch).lower()
        value = folded if len(folded) == 1 else ch
        self[code] = value
        return value


_FOLD_TABLE = _FoldTable()


def fold_aligned(text: str) -> str:
    """Per-character fold that keeps every offset: NFKC (full-width -> half-width) and lower case,
    but a character whose fold is not exactly one character stays as it is.

    For matchers that report offsets into the original text (the tagger's evidence spans).
    """
    return text.translate(_FOLD_TABLE)
