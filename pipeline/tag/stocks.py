"""Stock links with provenance: which listed companies an article is about, how each was found, how sure.

Pure, like the tagger. Sina's page stock tags are automatic keyword links: they attach to words that
happen to be a company's short name (线上线下, 数据港, 农产品, 数字人 inside 数字人文), so a page tag alone
is a hint. `stock_links` gives one `StockLink` per (code, way found):

* ``code_in_text``: the text prints the code, 贵州茅台（600519）, 600519.SH, SZ000001, 股票代码：300024;
  a six-digit number counts only inside those forms and within the A-share ranges.
* ``feed_ext``: a 7x24 flash's ``ext.stocks``, chosen by the desk for that flash.
* ``name_in_text``: a page tag's (or flash's) anchor standing as a word of its own, next to words that
  are only said of a listed company (股价, 涨停, 公告, 股东, 减持 ...).
* ``page_tag``: the page's stock tag (a ``<span id="stock_…">`` link), anchor text found in the text or not.
* ``page_keywords``: a code of the page's ``news_keyword_pub`` comment, with no anchor at all.

Every link carries its evidence (the words that decided it) and the offset of that evidence in
title + "\\n" + body_text, the tagger's text, so a reader sees why. ``confidence`` is fixed per way by
the taxonomy's scores (``stock_code_in_text`` ... ``stock_hint`` for a page tag), lowered to
``stock_inside_longer_word`` for an anchor that only ever occurs inside a longer word.
"""

from __future__ import annotations

import re

from pipeline.models import Article, StockLink
from pipeline.tag.taxonomy_loader import Taxonomy, load_taxonomy

STOCKS_VERSION = "stocks-1"

# way found -> the taxonomy score that is its confidence
SCORE_OF_WAY = {
    "code_in_text": "stock_code_in_text",
    "feed_ext": "stock_feed_ext",
    "name_in_text": "stock_name_in_text",
    "page_tag": "stock_hint",
    "page_keywords": "stock_page_keywords",
}

_CJK = "\u4e00-\u9fff"
# A-share code ranges: Shanghai 600/601/603/605/688/689/900, Shenzhen 000-003/300/301/200, Beijing 43/83/87/88/920.
_SH_RE = re.compile(r"^(?:60[0135]|68[89]|900)\d{3}$")
_SZ_RE = re.compile(r"^(?:00[0-3]|30[01]|200)\d{3}$")
_BJ_RE = re.compile(r"^(?:43|83|87|88)\d{4}$|^920\d{3}$")
# A code is looked for only around a run of exactly six digits (one fast scan), then by the forms
# around it: 贵州茅台（600519）, 平安银行(000001.SZ), 机器人（股票代码：300024）, 600519.SH, SZ000001,
# 股票代码：600519.
_SIX_DIGITS_RE = re.compile(r"(?<![0-9])[0-9]{6}(?![0-9])")
_PAREN_BEFORE_RE = re.compile(
    r"(?P<name>[*＊]?(?:ST|st)?[" + _CJK + r"A-Za-z]{2,8})\s*[（(]\s*(?:股票代码|证券代码|代码)?\s*[：:]?\s*$"
)
_PAREN_AFTER_RE = re.compile(r"(?:\s*\.\s*(?P<mkt>SH|SZ|BJ|sh|sz|bj))?\s*[）)]")
_SUFFIX_AFTER_RE = re.compile(r"\s*\.\s*(?P<mkt>SH|SZ|BJ|sh|sz|bj)(?![A-Za-z])")
_PREFIX_BEFORE_RE = re.compile(r"(?<![0-9A-Za-z])(?P<mkt>SH|SZ|BJ|sh|sz|bj)$")
_LABEL_BEFORE_RE = re.compile(r"(?:股票代码|证券代码|证券简称.{0,12}?代码)\s*[：:]?\s*$")
_BEFORE_CHARS = 24
# Words said only of a listed company, looked for just after (or before) a standalone anchor.
_STOCK_CONTEXT_RE = re.compile(
    r"股价|股份|涨停|跌停|公告|市值|董事会|股东|减持|增持|回购|停牌|复牌|收盘报|涨幅|跌幅|涨超|跌超|大涨|大跌|"
    r"盘中|开盘|市盈率|年报|半年报|季报|净利润|营收|分红|上市公司"
)
_CONTEXT_CHARS = 12


def market_of(code: str) -> str | None:
    """The exchange prefix of a six-digit A-share code (sh/sz/bj), or None outside the A-share ranges."""
    if _SH_RE.match(code):
        return "sh"
    if _SZ_RE.match(code):
        return "sz"
    if _BJ_RE.match(code):
        return "bj"
    return None


def _full_code(code: str, mkt: str | None) -> str | None:
    market = (mkt or "").lower() or market_of(code)
    if market is None or (mkt and market_of(code) not in (None, market)):
        return None
    return market + code


def _short_name(raw: str) -> str:
    """Most A-share short names are four characters: keep the last four of the words before the code."""
    m = re.match(r"^([*＊]?(?:ST|st))?(.*)$", raw)
    assert m is not None
    prefix, rest = m.group(1) or "", m.group(2)
    return prefix + rest[-4:]


def _codes_in_text(text: str, conf: float) -> list[StockLink]:
    out: list[StockLink] = []
    for m in _SIX_DIGITS_RE.finditer(text):
        start, end, digits = m.start(), m.end(), m.group()
        before = text[max(0, start - _BEFORE_CHARS) : start]
        after = text[end : end + 8]
        name: str | None = None
        mkt: str | None = None
        first, last = start, end
        paren, closing = _PAREN_BEFORE_RE.search(before), _PAREN_AFTER_RE.match(after)
        if paren and closing:
            name, mkt = _short_name(paren.group("name")), closing.group("mkt")
            first, last = start - len(before) + paren.start(), end + closing.end()
        elif suffix := _SUFFIX_AFTER_RE.match(after):
            mkt, last = suffix.group("mkt"), end + suffix.end()
        elif prefix := _PREFIX_BEFORE_RE.search(before):
            mkt, first = prefix.group("mkt"), start - len(before) + prefix.start()
        elif label := _LABEL_BEFORE_RE.search(before):
            first = start - len(before) + label.start()
        else:
            continue
        code = _full_code(digits, mkt)
        if code:
            out.append(StockLink(code, name, "code_in_text", conf, text[first:last], first))
    return out


def _standalone(text: str, name: str) -> tuple[list[int], list[int]]:
    """Offsets where `name` occurs as a word of its own, and where it occurs inside a longer CJK word."""
    alone, inside = [], []
    for m in re.finditer(re.escape(name), text):
        p, q = m.start(), m.end()
        before = text[p - 1 : p] if p else ""
        after = text[q : q + 1]
        if not name.isascii() and re.match(f"[{_CJK}]", before or " ") and re.match(f"[{_CJK}]", after or " "):
            inside.append(p)
        else:
            alone.append(p)
    return alone, inside


_CLAUSE_END_RE = re.compile(r"[。！？；\n]")


def _context_hit(text: str, name: str, offsets: list[int]) -> tuple[int, str] | None:
    """The first standalone occurrence with a listed-company word in the same clause, just after or before."""
    for p in offsets:
        q = p + len(name)
        after = text[q : q + _CONTEXT_CHARS]
        hit = _STOCK_CONTEXT_RE.search(after)
        if hit and not _CLAUSE_END_RE.search(after[: hit.start()]):
            return p, text[p : q + hit.end()]
        before = text[max(0, p - _CONTEXT_CHARS // 2) : p]
        hits = list(_STOCK_CONTEXT_RE.finditer(before))
        if hits and not _CLAUSE_END_RE.search(before[hits[-1].start() :]):
            start = max(0, p - _CONTEXT_CHARS // 2) + hits[-1].start()
            return start, text[start:q]
    return None


def stock_links(article: Article, tax: Taxonomy | None = None) -> list[StockLink]:
    """Every way the article links a stock, one StockLink per (code, way); see the module docstring."""
    tax = tax or load_taxonomy()
    conf = {way: tax.score(key) for way, key in SCORE_OF_WAY.items()}
    text = article.title + "\n" + article.body_text
    links = _codes_in_text(text, conf["code_in_text"])
    known_names = {link.code: link.name for link in links if link.name}
    for ref in article.stocks:
        name = ref.name or ""
        if not name:
            via = "feed_ext" if article.kind == "zhibo_flash" else "page_keywords"
            links.append(StockLink(ref.code, known_names.get(ref.code), via, conf[via], ref.code, -1))
            continue
        alone, inside = _standalone(text, name)
        if article.kind == "zhibo_flash":
            where = (alone or inside or [-1])[0]
            links.append(StockLink(ref.code, name, "feed_ext", conf["feed_ext"], name, where))
        elif alone:
            links.append(StockLink(ref.code, name, "page_tag", conf["page_tag"], name, alone[0]))
        elif inside:
            p = inside[0]
            longer = text[p : p + len(name) + 1]
            links.append(
                StockLink(ref.code, name, "page_tag", tax.score("stock_inside_longer_word"),
                          f"{name} [only inside a longer word: {longer}…]", p)
            )  # fmt: skip
        else:
            links.append(StockLink(ref.code, name, "page_tag", conf["page_tag"], name, -1))
        hit = _context_hit(text, name, alone)
        if hit:
            links.append(StockLink(ref.code, name, "name_in_text", conf["name_in_text"], hit[1], hit[0]))
    return _one_per_way(links)


def _one_per_way(links: list[StockLink]) -> list[StockLink]:
    """The first link of each (code, way); a named one fills the name of an unnamed one of the same code."""
    names: dict[str, str] = {}
    for link in links:
        if link.name and link.code not in names:
            names[link.code] = link.name
    seen: dict[tuple[str, str], StockLink] = {}
    for link in links:
        key = (link.code, link.via)
        if key not in seen:
            seen[key] = link if link.name else StockLink(
                link.code, names.get(link.code), link.via, link.confidence, link.evidence, link.offset
            )
    return list(seen.values())


def best_links(links: list[StockLink]) -> list[StockLink]:
    """One link per code, the most confident (first found on a tie), in first-found order of codes."""
    best: dict[str, StockLink] = {}
    for link in links:
        if link.code not in best or link.confidence > best[link.code].confidence:
            best[link.code] = link
    return list(best.values())
