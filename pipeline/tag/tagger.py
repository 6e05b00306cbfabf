"""Rule-based, explainable tagging of one Article: policy verdict, issuers, document types, titles, topics.

Pure: the same Article and taxonomy always give the same tags. Every tag carries the span that put it
there and that span's offset in ``article.title + "\\n" + article.body_text``; all weights and
thresholds come from the taxonomy data file, not from this code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from pipeline.models import Article, Tag
from pipeline.tag.stocks import best_links, stock_links
from pipeline.tag.taxonomy_loader import Taxonomy, load_taxonomy
from pipeline.textnorm import fold_aligned

CODE_VERSION = "3"  # 2: stock tags from pipeline.tag.stocks; 3: official policy actions, central-bank branches

_TITLE_BRACKET_RE = re.compile(r"《([^《》\n]{1,100})》")
_SENTENCE_END = frozenset("。；;！!？?\n")
_ISSUER_GLUE_RE = re.compile(r"^[、,，和与及\s]*$")
_PERCENT_RE = re.compile(r"\d+(?:\.\d+)?%")


def tagger_version(tax: Taxonomy) -> str:
    return f"{tax.version}+{CODE_VERSION}"


@dataclass(frozen=True)
class Span:
    start: int
    end: int
    value: str


@dataclass
class _Doc:
    """Everything the rules look at, computed once per article."""

    text: str  # title + "\n" + body_text: the offsets of every tag refer to this
    folded: str  # same length as text
    title_end: int
    lead_end: int
    paragraphs: list[tuple[int, int]] = field(default_factory=list)


def _prepare(article: Article, tax: Taxonomy) -> _Doc:
    text = article.title + "\n" + article.body_text
    title_end = len(article.title)
    lead_end = min(len(text), title_end + 1 + int(tax.raw["lead_chars"]))
    doc = _Doc(text=text, folded=fold_aligned(text), title_end=title_end, lead_end=lead_end)
    pos = title_end + 1
    for para in article.paragraphs:
        doc.paragraphs.append((pos, pos + len(para)))
        pos += len(para) + 1
    return doc


def _crosses_sentence(text: str, a: int, b: int) -> bool:
    return any(ch in _SENTENCE_END for ch in text[min(a, b) : max(a, b)])


# --- extraction ------------------------------------------------------------------------------------


def _issuers(doc: _Doc, tax: Taxonomy) -> list[Span]:
    """Central bodies by alias, provincial/city bodies by pattern; leftmost-longest, no overlaps."""
    found: list[Span] = []
    for m in tax.branch_issuer_re.finditer(doc.folded):
        short = re.sub("(?:省|市|自治区|特别行政区)$", "", tax.region_names[m.group("region")])
        found.append(Span(m.start(), m.end(), "人民银行" + short + m.group("suffix")))
    for m in tax.local_issuer_re.finditer(doc.folded):
        if any(s.start <= m.start() < s.end for s in found):
            continue
        region = tax.region_names[m.group("region")]
        suffix = tax.local_suffixes[m.group("suffix")]
        found.append(Span(m.start(), m.end(), region + suffix))
    taken = [(s.start, s.end) for s in found]
    for start, end, name in tax.issuers.find(doc.folded):
        if any(start < e and s < end for s, e in taken):
            continue
        if name:  # blockers (国务院新闻办, 发布会 ...) match as "" and only consume their span
            found.append(Span(start, end, name))
    found.sort(key=lambda s: s.start)
    return found


def _actions(doc: _Doc, tax: Taxonomy) -> list[Span]:
    return [Span(s, e, v) for s, e, v in tax.actions.find(doc.folded) if v]


def doc_type_of(title: str, tax: Taxonomy) -> str | None:
    """The document type a title names: its longest doc-type suffix, after a trailing (征求意见稿)/(试行)."""
    folded = fold_aligned(title).strip()
    base = tax.doc_suffix_strip.sub("", folded) or folded
    for dt in tax.doc_type_list:
        if base.endswith(fold_aligned(dt)):
            return tax.doc_type_canonical[dt]
    return None


@dataclass(frozen=True)
class _Title:
    span: Span  # the text inside 《》 (or the unbracketed 关于…的意见), value = doc type
    is_backref: bool  # 《规划》, 《意见》: a short reference back to a document named before
    is_draft: bool


def _titles(doc: _Doc, tax: Taxonomy) -> list[_Title]:
    out: list[_Title] = []
    for m in _TITLE_BRACKET_RE.finditer(doc.text):
        inner = m.group(1)
        dt = doc_type_of(inner, tax)
        if dt is None:
            continue  # 《证券日报》, 《华尔街日报》: newspapers and books, not documents
        # 《规划》, 《意见》, 《公报》: a short name pointing back at a document named before it.
        base = tax.doc_suffix_strip.sub("", fold_aligned(inner)) or inner
        is_backref = len(base) <= int(tax.raw["thresholds"]["backref_max_chars"])
        if dt in tax.phrase_only_doc_types and is_backref:
            continue
        out.append(
            _Title(Span(m.start(1), m.end(1), dt), is_backref=is_backref, is_draft="征求意见稿" in inner)
        )
    bracketed = [(m.start(), m.end()) for m in _TITLE_BRACKET_RE.finditer(doc.text)]
    for m in tax.guanyu_re.finditer(doc.folded):
        if any(s <= m.start() < e for s, e in bracketed):
            continue
        dt = doc_type_of(doc.text[m.start() : m.end()], tax)
        if dt:
            out.append(_Title(Span(m.start(), m.end(), dt), is_backref=False, is_draft=False))
    out.sort(key=lambda t: t.span.start)
    return out


# Listed companies 发布公告 every day: an unbracketed 公告/通告 is a public body's only when one is named
# in the same sentence before it.
_NEEDS_PUBLIC_ISSUER = frozenset({"公告", "通告"})


def _doc_action_phrases(
    doc: _Doc, tax: Taxonomy, actions: list[Span], issuers: list[Span]
) -> list[tuple[Span, Span]]:
    """A document type right next to an action, unbracketed: 规划印发, 方案出炉, 印发通知, 发布…的意见."""
    out = []
    for dm in tax.doc_types.regex.finditer(doc.folded):
        dt = tax.doc_types.canonical[dm.group(0)]
        if dt in tax.phrase_only_doc_types:
            continue
        if dt in _NEEDS_PUBLIC_ISSUER and not any(
            s.end <= dm.start() and not _crosses_sentence(doc.text, s.end, dm.start()) for s in issuers
        ):
            continue
        for a in actions:
            if a.start == dm.end() or (a.end <= dm.start() and dm.start() - a.end <= 1):
                out.append((Span(dm.start(), dm.end(), dt), a))
    return out


def _policy_action(doc: _Doc, tax: Taxonomy, issuers: list[Span]) -> tuple[str, Span, str | None] | None:
    """The first official policy action of the taxonomy's list in the title or lead, with its issuer."""
    title = doc.folded[: doc.title_end]
    for name, rx, issuer, needs_issuer in tax.policy_actions:
        if issuer == "中国人民银行" and tax.market_rate_title_re.search(title):
            continue  # an LPR fixing's article: banks quote it, the central bank decides nothing (neither)
        for m in rx.finditer(doc.folded, 0, doc.lead_end):
            if needs_issuer and not any(
                s.end <= m.start() and m.start() - s.end <= 40 and not _crosses_sentence(doc.text, s.end, m.start())
                for s in issuers
            ):
                continue
            return name, Span(m.start(), m.end(), name), issuer
    return None


def _near_document(a: Span, anchors: list[Span], reach: int, text: str) -> bool:
    """An action in the same sentence as a document it announces (发布《…》) or right after one (规划印发)."""
    for d in anchors:
        if 0 <= d.start - a.end <= reach and not _crosses_sentence(text, a.end, d.start):
            return True
        # 《…规划》（以下简称《规划》）正式印发: the action may follow the document in its sentence.
        if 0 <= a.start - d.end <= reach and not _crosses_sentence(text, d.end, a.start):
            return True
    return False


# --- verdicts --------------------------------------------------------------------------------------


@dataclass
class _Verdict:
    score: float = 0.0
    evidence: Span | None = None
    reasons: list[str] = field(default_factory=list)

    def add(self, weight: float, reason: str, evidence: Span | None = None) -> None:
        self.score += weight
        self.reasons.append(reason)
        if self.evidence is None and evidence is not None:
            self.evidence = evidence


def _issuing_groups(
    doc: _Doc, tax: Taxonomy, issuers: list[Span], actions: list[Span], anchors: list[Span]
) -> list[Span]:
    """Issuers that issued the document: a list of bodies right before an action that is itself next
    to a document (工信部发布《…规划》, 国家发展改革委、财政部联合印发通知), or in a headline with an
    action (浙江省政府发文), or a signature block (a paragraph made only of issuer names)."""
    gap = tax.proximity("issuer_to_action_chars")
    glue = tax.proximity("issuer_list_glue_chars")
    reach = tax.proximity("action_to_document_chars")
    chosen: dict[tuple[int, int], Span] = {}
    for a in actions:
        in_title = a.end <= doc.title_end
        if not in_title:
            if a.start >= doc.lead_end:
                continue
            if not _near_document(a, anchors, reach, doc.text):
                continue
        group: list[Span] = []
        cursor = a.start
        for s in reversed([i for i in issuers if i.end <= a.start]):
            limit = gap if not group else glue
            between = doc.text[s.end : cursor]
            if cursor - s.end > limit or _crosses_sentence(doc.text, s.end, cursor):
                break
            if group and not _ISSUER_GLUE_RE.match(between):
                break
            group.append(s)
            cursor = s.start
        for s in group:
            chosen[(s.start, s.end)] = s
    for start, end in doc.paragraphs:
        para = doc.folded[start:end]
        inside = [s for s in issuers if start <= s.start and s.end <= end]
        if len(inside) >= 2:
            rest = para
            for s in sorted(inside, key=lambda s: s.start, reverse=True):
                rest = rest[: s.start - start] + rest[s.end - start :]
            if _ISSUER_GLUE_RE.match(rest):
                for s in inside:
                    chosen[(s.start, s.end)] = s
    return sorted(chosen.values(), key=lambda s: s.start)


def _statistics(doc: _Doc, tax: Taxonomy, issuers: list[Span]) -> _Verdict:
    w = tax.raw["statistics"]["weights"]
    v = _Verdict()
    cue_chars = int(tax.raw["statistics"]["release_cue_chars"])
    local = tuple(tax.raw["statistics"]["local_bureau_suffixes"])

    def is_stats_issuer(s: Span) -> bool:
        return s.value in tax.statistics_issuers or s.value.endswith(local)

    def has_release_cue(s: Span) -> bool:
        window = doc.folded[max(0, s.start - cue_chars) : s.end + cue_chars]
        return tax.release_cue_re.search(window) is not None

    lead = [s for s in issuers if s.start < doc.lead_end]
    hit = next((s for s in lead if is_stats_issuer(s)), None)
    if hit is None:
        hit = next((s for s in lead if s.value in tax.data_issuers and has_release_cue(s)), None)
    if hit is not None:
        v.add(float(w["statistics_issuer_in_lead"]), "statistics issuer in lead", hit)
    else:
        later = next((s for s in issuers if is_stats_issuer(s)), None)
        if later is not None:
            v.add(float(w["statistics_issuer_in_body"]), "statistics issuer in body", later)
    m = tax.data_headline_re.search(doc.text, 0, doc.title_end)
    if m:
        v.add(float(w["data_headline"]), "figures in headline", Span(m.start(), m.end(), m.group(0)))
    ind = tax.indicators.find(doc.folded, 0, doc.lead_end)
    if ind:
        s, e, name = ind[0]
        v.add(float(w["indicator"]), "statistical indicator", Span(s, e, name))
    if len(_PERCENT_RE.findall(doc.text, 0, doc.lead_end)) >= int(tax.raw["statistics"]["number_dense_min"]):
        v.add(float(w["number_dense_lead"]), "number-dense lead")
    # A release is what the headline is about: figures, an indicator or the statistics body in it.
    # Without that, data quoted in a ministry's press conference (国家发改委：…) is not a release.
    if tax.raw["statistics"].get("headline_gate"):
        headline_ok = (
            m is not None
            or bool(tax.indicators.find(doc.folded, 0, doc.title_end))
            or any(is_stats_issuer(s) for s in issuers if s.end <= doc.title_end)
        )
        if not headline_ok:
            return _Verdict()
    return v


# --- the tagger ------------------------------------------------------------------------------------


def _tag(kind: str, value: str, score: float, doc: _Doc, span: Span | None, version: str) -> Tag:
    if span is None:
        return Tag(kind, value, round(min(1.0, score), 3), value, -1, version)
    return Tag(kind, value, round(min(1.0, score), 3), doc.text[span.start : span.end], span.start, version)


def _first_by_value(spans: list[Span]) -> dict[str, tuple[Span, int]]:
    out: dict[str, tuple[Span, int]] = {}
    for s in spans:
        if s.value in out:
            first, n = out[s.value]
            out[s.value] = (first, n + 1)
        else:
            out[s.value] = (s, 1)
    return out


def _stock_tags(article: Article, tax: Taxonomy, version: str) -> list[Tag]:
    """One stock tag per code: its most confident link (pipeline.tag.stocks). A page tag alone is a hint
    with a low score, lower still when its anchor only occurs inside a longer word (数字人 in 数字人文)."""
    return [
        Tag("stock", link.code, link.confidence, link.evidence, link.offset, version)
        for link in best_links(stock_links(article, tax))
    ]


def tag_with(article: Article, tax: Taxonomy) -> list[Tag]:
    """Tag `article` with the given compiled taxonomy (tag_article uses the packaged default)."""
    version = tagger_version(tax)
    doc = _prepare(article, tax)
    issuers = _issuers(doc, tax)
    actions = _actions(doc, tax)
    titles = _titles(doc, tax)
    phrases = _doc_action_phrases(doc, tax, actions, issuers)
    anchors = [t.span for t in titles] + [p[0] for p in phrases]

    # The policy verdict: is this article ABOUT a document being issued or explained?
    pol = _Verdict()
    lead_titles = [t for t in titles if not t.is_backref and t.span.start < doc.lead_end]
    lead_phrases = [p for p in phrases if p[0].start < doc.lead_end]
    bracketed = [t for t in lead_titles if doc.text[t.span.start - 1 : t.span.start] == "《"]
    if bracketed:
        pol.add(
            tax.weight("policy_title_in_lead"),
            "《title》 with a document type in the lead",
            bracketed[0].span,
        )
    elif lead_titles:
        pol.add(tax.weight("guanyu_title_in_lead"), "关于…的<type> in the lead", lead_titles[0].span)
    elif lead_phrases:
        pol.add(
            tax.weight("doc_action_phrase_in_lead"), "document type next to an action", lead_phrases[0][0]
        )
    reach = tax.proximity("action_to_document_chars")
    near_actions = [
        a for a in actions if a.start < doc.lead_end and _near_document(a, anchors, reach, doc.text)
    ]
    if near_actions and pol.score > 0:
        pol.add(tax.weight("action_near_document"), "action next to the document", near_actions[0])
    issuing = _issuing_groups(doc, tax, issuers, actions, anchors)
    if issuing and pol.score > 0:
        pol.add(tax.weight("issuing_issuer"), "issuer of the document named", issuing[0])
    if pol.score > 0 and (
        any(t.span.start < doc.title_end for t in titles) or any(p[0].start < doc.title_end for p in phrases)
    ):
        pol.add(tax.weight("headline_document"), "document in the headline")
    if sum(1 for t in titles if t.is_backref) >= tax.proximity("backrefs_min") and pol.score > 0:
        pol.add(tax.weight("document_backrefs"), "article keeps referring to the document")
    action_issuer: str | None = None
    if pol.score < tax.threshold("policy"):
        hit = _policy_action(doc, tax, issuers)
        if hit is not None:
            name, span, action_issuer = hit
            pol.add(tax.weight("policy_action"), f"official policy action: {name}", span)
    stats = _statistics(doc, tax, issuers)
    is_stats = stats.score >= tax.threshold("statistics_release")
    is_policy = pol.score >= tax.threshold("policy")
    if is_policy and is_stats:
        # Both fired. A named document with its action is the more specific evidence, unless the body
        # that issued it is a statistics body (a bulletin is not a policy document unless the taxonomy
        # says statistics_is_policy).
        stats_issued = any(
            s.value in tax.statistics_issuers
            or s.value.endswith(tuple(tax.raw["statistics"]["local_bureau_suffixes"]))
            for s in issuing
        )
        if stats_issued and not tax.raw["thresholds"]["statistics_is_policy"]:
            is_policy = False
        else:
            is_stats = False

    tags: list[Tag] = []
    if is_policy:
        tags.append(_tag("policy", "policy_document", pol.score, doc, pol.evidence, version))
    if is_stats:
        tags.append(
            _tag("statistics_release", "official_statistics", stats.score, doc, stats.evidence, version)
        )

    # Issuers: the issuing bodies score high; bodies merely mentioned score by where they appear.
    issuing_keys = {(s.start, s.end) for s in issuing}
    best: dict[str, tuple[float, Span]] = {}
    for s in issuers:
        if (s.start, s.end) in issuing_keys:
            sc = tax.score("issuing_issuer")
        elif s.start < doc.lead_end:
            sc = tax.score("issuer_in_lead")
        else:
            sc = tax.score("issuer_in_body")
        if s.value not in best or sc > best[s.value][0]:
            best[s.value] = (sc, s)
    if is_policy and action_issuer is not None:
        # The body that takes the action issued it (央行 for a rate decision, 国常会 for its decisions).
        for s in issuers:
            if s.value == action_issuer and s.start < doc.lead_end:
                best[s.value] = (max(best[s.value][0], tax.score("issuing_issuer")), best[s.value][1])
                break
    for value, (sc, s) in best.items():
        tags.append(_tag("issuer", value, sc, doc, s, version))

    # Document types and titles.
    dt_best: dict[str, tuple[float, Span]] = {}

    def offer(dt: str, sc: float, span: Span) -> None:
        if dt not in dt_best or sc > dt_best[dt][0]:
            dt_best[dt] = (sc, span)

    # The document the article is about is the one an action announces (印发《…》); other titles in
    # the lead are background (an earlier 意见 it implements) and score lower.
    issued = [
        t for t in titles
        if not t.is_backref and t.span.start < doc.lead_end
        and any(_near_document(a, [t.span], reach, doc.text) for a in actions if a.start < doc.lead_end)
    ]  # fmt: skip
    issued_keys = {(t.span.start, t.span.end) for t in issued}
    seen_titles: set[str] = set()
    for t in titles:
        in_lead = t.span.start < doc.lead_end
        if t.is_backref:
            offer(t.span.value, tax.score("doc_type_backref"), t.span)
            continue
        if (t.span.start, t.span.end) in issued_keys or (in_lead and not issued):
            sc = tax.score("doc_type_primary")
        elif in_lead:
            sc = tax.score("doc_type_mentioned")
        else:
            sc = tax.score("doc_type_in_body")
        offer(t.span.value, sc, t.span)
        if t.is_draft:
            offer("征求意见稿", sc, t.span)
        name = doc.text[t.span.start : t.span.end]
        if name not in seen_titles:
            seen_titles.add(name)
            tsc = (
                tax.score("policy_title_in_lead")
                if sc >= tax.score("doc_type_primary")
                else tax.score("policy_title_in_body")
            )
            tags.append(Tag("policy_title", name, tsc, name, t.span.start, version))
    for dspan, _a in phrases:
        in_lead = dspan.start < doc.lead_end
        # A headline word (浙江方案出炉) names the document less precisely than its full title does.
        sc = tax.score("doc_type_phrase") if in_lead and not issued else tax.score("doc_type_in_body")
        offer(dspan.value, sc, dspan)
    for dt, (sc, span) in dt_best.items():
        tags.append(Tag("doc_type", dt, sc, doc.text[span.start : span.end], span.start, version))

    # Actions: those next to a document are evidence of issuance; others are weak.
    near_keys = {(a.start, a.end) for a in near_actions}
    act_best: dict[str, tuple[float, Span]] = {}
    for a in actions:
        sc = tax.score("action_near_document") if (a.start, a.end) in near_keys else tax.score("action_other")
        if a.start >= doc.lead_end and sc < tax.score("action_near_document"):
            continue  # a 发布 deep in the body says nothing about this article
        if a.value not in act_best or sc > act_best[a.value][0]:
            act_best[a.value] = (sc, a)
    for value, (sc, a) in act_best.items():
        tags.append(_tag("action", value, sc, doc, a, version))

    for kind, lex_spans, in_lead_score, body_score in (
        ("period", tax.periods.find(doc.folded), tax.score("period_in_lead"), tax.score("period_in_body")),
    ):
        for value, (s, _n) in _first_by_value([Span(a, b, v) for a, b, v in lex_spans]).items():
            tags.append(
                _tag(kind, value, in_lead_score if s.start < doc.lead_end else body_score, doc, s, version)
            )

    for value, (s, n) in _first_by_value([Span(a, b, v) for a, b, v in tax.topics.find(doc.folded)]).items():
        sc = tax.score("topic_base") + tax.score("topic_per_mention") * (n - 1)
        if s.start < doc.lead_end:
            sc += tax.score("topic_in_lead_bonus")
        tags.append(_tag("topic", value, sc, doc, s, version))

    regions = [Span(a, b, v) for a, b, v in tax.regions.find(doc.folded, 0, doc.lead_end) if v]
    for value, (s, _n) in _first_by_value(regions).items():
        tags.append(_tag("region", value, tax.score("region_in_lead"), doc, s, version))

    tags.extend(_stock_tags(article, tax, version))
    return tags


def tag_article(article: Article) -> list[Tag]:
    """Tags for one article under the packaged taxonomy (pure; see the module docstring)."""
    return tag_with(article, load_taxonomy())


TAGGER_VERSION = tagger_version(load_taxonomy())
