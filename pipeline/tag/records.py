"""Policy records: which document(s) a policy article reports, publishes or explains, read from its text.

Pure, like the tagger: from an Article and its tags (`tag_article`), `policy_mentions` gives one
`PolicyMention` per document the article is about: its 《title》 (carrier stripped: 《关于印发X的通知》
is X carried by a 通知), the document's own type, 发文字号 parsed into 机关代字, year and number, the
issuers with their level (中央 / 部委 / 省 / 市), dates the text states (成文, 发布, 施行), period and
topics, and the article's role (full_text, explains, reports). `record_key` is what two articles on the
same document share: the folded document title, so a report and the full text meet in one record
whether or not each prints the number. Storage (`store.policies`) keeps the mentions and folds them
into one `policies` row per key.
"""

from __future__ import annotations

import re
from datetime import date, datetime

from pipeline.identity import BEIJING
from pipeline.models import Article, DocNumber, PolicyMention, Tag
from pipeline.tag.tagger import doc_type_of
from pipeline.tag.taxonomy_loader import Taxonomy, load_taxonomy
from pipeline.textnorm import fold

RECORDS_VERSION = "records-1"

# 国办发〔2021〕22号, 工信部联规〔2021〕182号, 银保监发[2022]2号, 国发（2021）4号
_DOC_NUMBER_RE = re.compile(
    r"(?P<code>[\u4e00-\u9fff]{1,12})\s*[〔\[［（(【]\s*(?P<year>(?:19|20)\d{2})\s*[〕\]］）)】]\s*"
    r"(?:第\s*)?(?P<seq>\d{1,4})\s*号"
)
# 国家税务总局公告2021年第42号, 中国人民银行令〔2021〕第3号 (the bracket form is matched above)
_ANNOUNCEMENT_NUMBER_RE = re.compile(
    r"(?P<code>[\u4e00-\u9fff]{2,16}?(?:公告|令))\s*(?P<year>(?:19|20)\d{2})\s*年\s*第\s*(?P<seq>\d{1,4})\s*号"
)
_CARRIER_RE = re.compile(r"^(?:.{0,30}?)关于(?:联合)?(?:印发|发布|转发|公布)《?(?P<inner>.+?)》?的(?P<carrier>通知|公告|通告|决定)$")
_DATE_RE = r"(?:(?P<y>(?:19|20)\d{2})\s*年)?\s*(?P<m>\d{1,2})\s*月\s*(?P<d>\d{1,2})\s*日"
_EFFECTIVE_RE = re.compile(r"自\s*" + _DATE_RE + r"\s*起\s*(?:施行|实施|执行|生效|正式实施)")
_SIGNED_RE = re.compile(r"^\s*" + _DATE_RE + r"\s*$")
_EXPLAINS_RE = re.compile(r"解读|答记者问|新闻发布会|吹风会|发布会|介绍.{0,12}情况|有关负责人|负责同志|怎么看|如何理解")
_FULL_TEXT_SALUTATION_RE = re.compile(
    r"^(?:各省、自治区、直辖市|各省、自治区、直辖市人民政府|国务院各部委|各(?:市|区|县)|各银保监局|各有关单位)"
)

CENTRAL = ("国务院", "国务院办公厅", "中共中央", "中共中央办公厅", "国务院常务会议", "全国人民代表大会常务委员会",
           "全国人民代表大会")  # fmt: skip
_MUNICIPALITIES = ("北京市", "天津市", "上海市", "重庆市")


def record_key(title: str) -> str:
    """What every article about one document shares: its folded title (punctuation, 《》 and case gone)."""
    return fold(title)


def parse_doc_number(text: str) -> DocNumber | None:
    """The first 发文字号 in `text`: 国办发〔2021〕22号 -> (国办发, 2021, 22)."""
    best: DocNumber | None = None
    best_at = len(text) + 1
    for rx in (_DOC_NUMBER_RE, _ANNOUNCEMENT_NUMBER_RE):
        m = rx.search(text)
        if m and m.start() < best_at:
            code = _agency_code(m.group("code"))
            printed = code + m.group(0)[len(m.group("code")) :].strip()
            best = DocNumber(printed, code, int(m.group("year")), int(m.group("seq")))
            best_at = m.start()
    return best


_CODE_CUTS = ("的通知", "通知", "意见", "决定", "办法", "规定", "方案", "规划", "文件", "印发", "的", "号")


def _agency_code(run: str) -> str:
    """The 机关代字 at the end of the CJK run before the bracket: 的通知国办发 -> 国办发."""
    for cut in _CODE_CUTS:
        i = run.rfind(cut)
        if i >= 0 and i + len(cut) < len(run):
            run = run[i + len(cut) :]
    return run[-8:]


def issuer_level(name: str, tax: Taxonomy) -> str:
    """中央 for the State Council and the Party centre, 部委 for national bodies, else 省 or 市 by region."""
    if name in CENTRAL:
        return "中央"
    if name in set(tax.issuers.canonical.values()):
        return "部委"
    if name.startswith(_MUNICIPALITIES):
        return "省"  # a municipality directly under the centre ranks as a province
    region = next((r for r in set(tax.region_names.values()) if name.startswith(r)), None)
    if region is not None:
        return "省" if region.endswith(("省", "自治区")) else "市"
    if name.startswith("人民银行") or "银保监局" in name:
        return "省" if "中心支行" not in name else "市"
    return "市" if "市" in name[:6] else "省"


def split_carrier(title: str) -> tuple[str, str | None]:
    """关于印发《“十四五”数字经济发展规划》的通知 -> (“十四五”数字经济发展规划, 通知)."""
    m = _CARRIER_RE.match(title)
    if not m:
        return title, None
    return m.group("inner").strip("《》"), m.group("carrier")


def _date(m: re.Match[str], default_year: int | None) -> date | None:
    year = int(m.group("y")) if m.group("y") else default_year
    if year is None:
        return None
    try:
        return date(year, int(m.group("m")), int(m.group("d")))
    except ValueError:
        return None


def _beijing_year(when: datetime | None) -> int | None:
    return when.astimezone(BEIJING).year if when is not None else None


def policy_mentions(article: Article, tags: list[Tag], tax: Taxonomy | None = None) -> list[PolicyMention]:
    """The documents a policy article is about (none unless the tagger gave it the policy verdict)."""
    if not any(t.kind == "policy" for t in tags):
        return []
    tax = tax or load_taxonomy()
    text = article.title + "\n" + article.body_text
    year = _beijing_year(article.published_at)
    primary = tax.score("policy_title_in_lead")
    titles = [t for t in tags if t.kind == "policy_title" and t.score >= primary]
    if not titles:
        return []
    issuers = tuple(
        (t.value, issuer_level(t.value, tax))
        for t in sorted(tags, key=lambda t: t.offset)
        if t.kind == "issuer" and t.score >= tax.score("issuing_issuer")
    )
    periods = tuple(dict.fromkeys(t.value for t in tags if t.kind == "period"))
    topics = tuple(t.value for t in sorted(tags, key=lambda t: -t.score) if t.kind == "topic")[:5]
    number = parse_doc_number(text)
    effective = next((d for m in _EFFECTIVE_RE.finditer(text) if (d := _date(m, year))), None)
    signed = None
    for para in reversed(article.paragraphs[-6:]):
        m = _SIGNED_RE.match(para)
        if m:
            signed = _date(m, year)
            break
    paras = article.paragraphs
    full_text = number is not None and (
        any(_FULL_TEXT_SALUTATION_RE.match(p) for p in paras[:8]) or signed is not None
    )
    head = article.title + "\n" + "\n".join(paras[:2])
    role = "full_text" if full_text else "explains" if _EXPLAINS_RE.search(head) else "reports"
    out: dict[str, PolicyMention] = {}
    for t in sorted(titles, key=lambda t: t.offset):
        inner, carrier = split_carrier(t.value)
        draft = "征求意见稿" in inner
        key = record_key(inner)
        if not key or key in out:
            continue
        doc_type = _doc_type(inner, tax)
        # The sentence that names the document often says when it was issued: 12月30日，…印发《…》.
        published = None
        if t.offset >= 0:
            start = max(text.rfind("。", 0, t.offset), text.rfind("\n", 0, t.offset)) + 1
            m = re.search(_DATE_RE, text[start : t.offset])
            if m:
                published = _date(m, year)
        out[key] = PolicyMention(
            key=key, title=inner, doc_type=doc_type, carrier=carrier, is_draft=draft,
            number=number if len(out) == 0 else None, issuers=issuers, signed_on=signed,
            published_on=published, effective_on=effective, periods=periods, topics=topics,
            role=role, evidence=t.evidence, offset=t.offset, version=RECORDS_VERSION,
        )  # fmt: skip
    return list(out.values())


def _doc_type(title: str, tax: Taxonomy) -> str | None:
    return doc_type_of(title, tax)
