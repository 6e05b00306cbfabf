"""Near-duplicate detection: character shingles, MinHash signatures with LSH band keys, and verdicts.

Pure: no database, no network. `decide` judges an article against the candidates that
`pipeline.store.dedup` read for it (articles sharing a bucket key); `pipeline.flow` hands the verdict
back to storage, which writes the link and the article's bucket keys.

How two articles are judged (thresholds chosen on tests/fixtures/dedup_pairs, see bench/bench_dedup_quality.py):

* Text. Title and body go through `textnorm.fold` (NFKC, lower case, no whitespace/punctuation/symbols,
  which also undoes the archive's title mangling). Shingles are character 5-grams of the folded body;
  never whitespace tokens, which turn a Chinese article into one or two "words". Titles are left out
  (a re-headlined copy is still the same story) unless the body is under `MIN_BODY_CHARS`.
* exact: the folded bodies are identical (the same text, whatever the title or the timestamps).
* near: Jaccard >= `NEAR_JACCARD`, or the smaller text is mostly inside the larger one
  (containment >= `NEAR_CONTAINMENT`; re-reports that cut or extend an article), and the fact guards pass.
* Fact guards, for template look-alikes (`0！北京昨日本土无新增` vs `0！上海昨日本土无新增`, two market wraps of
  different days, the same monthly bulletin of two months): share text is not enough when
  (a) the figures disagree: fewer than `MIN_NUMBER_OVERLAP` of the smaller text's numbers (dates included)
      occur in the other, or
  (b) the days disagree: both name month-day dates in title or lead, and no date is common, or
  (c) the places disagree: both name provinces/major cities in title or lead, and the two sets are disjoint.
* Time: articles published more than `STORY_WINDOW` apart are never linked (`within_story_window`): a daily
  notice repeated word for word on another day is another day's news, not a re-report.
* Short texts: when the smaller text is shorter than `SHORT_CHARS` folded characters, one changed
  figure is a different fact, so a near verdict needs containment >= `SHORT_CONTAINMENT` and every number of
  the smaller text present in the other. A short text that no single candidate contains is judged
  against each story's candidate members together (`story_containment`): a flash that condenses a
  notice reported several ways joins the story of all of them.

Why MinHash + LSH bands and not SimHash + block keys (measured by bench/bench_dedup_quality.py): the true
duplicates of the labelled set include a flash contained in a longer article (5-gram Jaccard 0.12,
containment 0.72) that lands 19 of 64 SimHash bits away from its partner. Block keys that guarantee
finding a 19-bit neighbour need 20 blocks of ~3 bits, and then 248 of the 271 different pairs share a
block: every lookup would read most of the corpus, and the cost per article would grow with it.
MinHash estimates Jaccard directly, its 32 bands x 4 rows give a tunable candidate curve
(P(candidate) 0.56 at Jaccard 0.4, 0.87 at 0.5, 0.98 at 0.6), and a few "lead clause" keys (hashes of
the first long clauses of the body) catch the containment case Jaccard cannot reach; on the labelled set
that misses no true duplicate and makes 1 of 271 different pairs a candidate (then rejected by `compare`).
"""

from __future__ import annotations

import functools
import hashlib
import re
import struct
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

import numpy as np
import numpy.typing as npt

from pipeline import textnorm

DEDUP_VERSION = "dedup-2"  # 2: short texts judged against their story's members together; headline facts

SHINGLE_N = 5
NUM_PERM = 128
BANDS = 32
ROWS = NUM_PERM // BANDS  # 4 rows: P(candidate) ~0.56 at Jaccard 0.4, 0.87 at 0.5, 0.98 at 0.6
LEAD_CLAUSE_BAND = 255  # band number of the lead-clause keys
HEADLINE_FACT_BAND = 254  # band number of the headline-fact keys (an indicator and its figure in a title)
EVENT_WINDOW = timedelta(days=3)  # two reports linked by their headline fact alone appear within days
LEAD_CLAUSES = 8  # how many leading clauses become keys
MIN_CLAUSE_CHARS = 12  # shorter clauses are boilerplate ("据新华社报道") and would make hot buckets

SHORT_CHARS = 200
MIN_BODY_CHARS = 30  # below this the body alone says too little: the title is shingled with it
NEAR_JACCARD = 0.5
NEAR_CONTAINMENT = 0.6
SHORT_CONTAINMENT = 0.6
MIN_NUMBER_OVERLAP = 0.8
STORY_WINDOW = timedelta(days=7)
LEAD_CHARS = 120  # where places are looked for in the body (title always)

VerdictKind = Literal["exact", "near", "different"]

_MASK64 = (1 << 64) - 1
_rng = np.random.default_rng(20220120)  # fixed: signatures are stored, they must not change between runs
# Multiply-shift hashing: odd multipliers, the high 32 bits of (a*x + b) mod 2^64 are the permuted value.
_PERM_A = (_rng.integers(1, 2**63 - 1, size=NUM_PERM, dtype=np.uint64) << np.uint64(1)) | np.uint64(1)
_PERM_B = _rng.integers(0, 2**63 - 1, size=NUM_PERM, dtype=np.uint64)
_ROLL = np.uint64(0x100000001B3)  # FNV prime as the polynomial base for shingle hashing
_CLAUSE_SPLIT_RE = re.compile(r"[。！？；;!?\n，,：:]")
_DATE_RE = re.compile(r"(\d{1,2})\s*月\s*(\d{1,2})\s*日")
_NUMBER_RE = re.compile(r"\d+(?:\.\d+)?")

# Province-level units and the cities news most often names; enough to tell one city's daily bulletin from another's.
PLACES = (
    "北京 天津 上海 重庆 河北 山西 辽宁 吉林 黑龙江 江苏 浙江 安徽 福建 江西 山东 河南 湖北 湖南 广东 海南 四川 贵州 "
    "云南 陕西 甘肃 青海 台湾 内蒙古 广西 西藏 宁夏 新疆 香港 澳门 深圳 广州 杭州 南京 武汉 成都 西安 苏州 郑州 "
    "长沙 沈阳 青岛 宁波 厦门 大连 济南 哈尔滨 长春 福州 合肥 昆明 南宁 贵阳 太原 石家庄 兰州 乌鲁木齐 呼和浩特 "
    "南昌 东莞 佛山 无锡 温州 珠海 三亚 拉萨 银川 西宁 海口"
).split()


# Official figures a headline reports; two reports of one release name the same indicator and figure
# in their titles even when their texts share little (a release, a flash of it, an analyst's report).
HEADLINE_INDICATORS = (
    "制造业pmi 非制造业pmi 综合pmi pmi cpi ppi gdp lpr mlf m2 m1 社融 社会融资规模 70城 70个大中城市 "
    "工业增加值 社会消费品零售总额 社零 固定资产投资 房地产开发投资 进出口 出口 进口 外汇储备 "
    "工业企业利润 一般公共预算收入 财政收入 城镇调查失业率 失业率 存款准备金率 逆回购 中标利率"
).split()
_HEADLINE_FIGURE_RE = re.compile(r"\d+(?:\.\d+)?(?:%|个百分点|万亿元|亿元|万亿|亿|个基点|bp)")
_HEADLINE_PERIOD_RE = re.compile(r"(?:\d{4}年)?(?:1-)?\d{1,2}月|[一二三四]季度|上半年|前三季度")


def headline_facts(title: str) -> set[str]:
    """"indicator=figure" for each official indicator and figure in the title (制造业pmi=50.3%)."""
    folded = unicodedata.normalize("NFKC", title).lower().replace(" ", "")
    indicators = [i for i in HEADLINE_INDICATORS if i in folded]
    # the longest names only: 制造业pmi, not also pmi
    indicators = [i for i in indicators if not any(i != j and i in j for j in indicators)]
    figures = set(_HEADLINE_FIGURE_RE.findall(folded))
    return {f"{i}={f}" for i in indicators for f in figures}


def headline_periods(title: str) -> set[str]:
    return set(_HEADLINE_PERIOD_RE.findall(unicodedata.normalize("NFKC", title)))


@dataclass(frozen=True)
class Signature:
    """What is stored per article: the MinHash values and the bucket keys derived from them."""

    minhash: tuple[int, ...]  # NUM_PERM values, each < 2**32
    bucket_keys: tuple[tuple[int, int], ...]  # (band, key) with key a signed 64-bit int (Postgres bigint)
    shingle_count: int
    text_chars: int
    version: str = DEDUP_VERSION

    def minhash_bytes(self) -> bytes:
        return struct.pack(f"<{len(self.minhash)}I", *self.minhash)

    def estimated_jaccard(self, other: Signature) -> float:
        same = sum(1 for a, b in zip(self.minhash, other.minhash, strict=True) if a == b)
        return same / len(self.minhash)


@dataclass(frozen=True)
class Verdict:
    verdict: VerdictKind
    jaccard: float
    containment: float  # |A ∩ B| / min(|A|, |B|)
    reason: str

    @property
    def score(self) -> float:
        return max(self.jaccard, self.containment) if self.verdict != "different" else self.jaccard


def dedup_text(title: str, body_text: str) -> str:
    """The folded text that is shingled: the body, or title + body for a short item."""
    body = textnorm.fold(body_text)
    if len(body) >= MIN_BODY_CHARS:
        return body
    return textnorm.fold(title) + body


def shingle_hashes(folded: str, n: int = SHINGLE_N) -> npt.NDArray[np.uint64]:
    """Sorted unique 64-bit hashes of the character n-grams of already folded text."""
    if not folded:
        return np.zeros(0, dtype=np.uint64)
    codes = np.frombuffer(folded.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    if len(codes) < n:
        n = len(codes)
    count = len(codes) - n + 1
    h = np.zeros(count, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for k in range(n):
            h = h * _ROLL + codes[k : k + count]
        # splitmix64 finaliser: spreads the polynomial hash over all 64 bits
        h ^= h >> np.uint64(30)
        h *= np.uint64(0xBF58476D1CE4E5B9)
        h ^= h >> np.uint64(27)
        h *= np.uint64(0x94D049BB133111EB)
        h ^= h >> np.uint64(31)
    return np.unique(h)


@functools.lru_cache(maxsize=1024)
def _shingles_of(folded: str) -> npt.NDArray[np.uint64]:
    """shingle_hashes, cached: a link compares one text with its candidates, then with their stories.
    The arrays are shared: read only."""
    out = shingle_hashes(folded)
    out.setflags(write=False)
    return out


def minhash(shingles: npt.NDArray[np.uint64]) -> tuple[int, ...]:
    if len(shingles) == 0:
        return tuple([0xFFFFFFFF] * NUM_PERM)
    with np.errstate(over="ignore"):
        permuted = (_PERM_A[:, None] * shingles[None, :] + _PERM_B[:, None]) >> np.uint64(32)
    return tuple(int(v) for v in permuted.min(axis=1))


def _key(band: int, payload: bytes) -> int:
    digest = hashlib.blake2b(payload, digest_size=8, person=b"nf-dedup" + bytes([band % 256])).digest()
    return int.from_bytes(digest, "big", signed=True)


def lead_clauses(body_text: str) -> list[str]:
    """Folded leading clauses long enough to be specific; a flash restating a lead shares them."""
    out: list[str] = []
    for clause in _CLAUSE_SPLIT_RE.split(body_text):
        folded = textnorm.fold(clause)
        if len(folded) >= MIN_CLAUSE_CHARS and folded not in out:
            out.append(folded)
            if len(out) >= LEAD_CLAUSES:
                break
    return out


@functools.lru_cache(maxsize=256)
def signature(title: str, body_text: str) -> Signature:
    """The article's MinHash signature and bucket keys (cached: a batch locks, then links, each article)."""
    text = dedup_text(title, body_text)
    shingles = shingle_hashes(text)
    mh = minhash(shingles)
    keys: list[tuple[int, int]] = []
    if len(shingles):
        for band in range(BANDS):
            rows = mh[band * ROWS : (band + 1) * ROWS]
            keys.append((band, _key(band, struct.pack(f"<{ROWS}I", *rows))))
    for clause in lead_clauses(body_text):
        keys.append((LEAD_CLAUSE_BAND, _key(LEAD_CLAUSE_BAND, clause.encode("utf-8"))))
    for fact in sorted(headline_facts(title)):
        keys.append((HEADLINE_FACT_BAND, _key(HEADLINE_FACT_BAND, fact.encode("utf-8"))))
    return Signature(
        minhash=mh, bucket_keys=tuple(dict.fromkeys(keys)), shingle_count=len(shingles), text_chars=len(text)
    )


def numbers(title: str, body_text: str) -> set[str]:
    """Figures and dates of the text that is shingled, read before folding (fold would glue "3.7%，5年" into 375)."""
    text = body_text if len(textnorm.fold(body_text)) >= MIN_BODY_CHARS else title + "\n" + body_text
    return set(_NUMBER_RE.findall(unicodedata.normalize("NFKC", text)))


def places(title: str, body_text: str) -> set[str]:
    where = textnorm.fold(title) + textnorm.fold(body_text)[:LEAD_CHARS]
    found = {p for p in PLACES if p in where}
    # "北京" inside "北京时间" is a clock, not a place
    if "北京" in found and where.count("北京") == where.count("北京时间"):
        found.discard("北京")
    return found


def lead_dates(title: str, body_text: str) -> set[str]:
    """Month-day dates named in the title or the lead ("8月5日", year dropped): the day the news is about."""
    lead = unicodedata.normalize("NFKC", title + "\n" + body_text[: LEAD_CHARS * 2])
    return {f"{int(m)}月{int(d)}日" for m, d in _DATE_RE.findall(lead)}


def _within(a: datetime | None, b: datetime | None, window: timedelta) -> bool:
    return a is None or b is None or abs(a - b) <= window


def within_story_window(a: datetime | None, b: datetime | None) -> bool:
    """Re-reports of one story appear within days; the same bulletin text weeks apart is another day's news."""
    if a is None or b is None:
        return True
    return abs(a - b) <= STORY_WINDOW


def _overlap(a: npt.NDArray[np.uint64], b: npt.NDArray[np.uint64]) -> tuple[float, float]:
    if len(a) == 0 or len(b) == 0:
        return 0.0, 0.0
    inter = len(np.intersect1d(a, b, assume_unique=True))
    union = len(a) + len(b) - inter
    return inter / union, inter / min(len(a), len(b))


@dataclass(frozen=True)
class Candidate:
    """A stored article that shares a bucket key with the one being linked, as storage read it."""

    article_id: int
    title: str
    body_text: str
    published_at: datetime | None
    story_id: int  # its story (its own id when it heads one)


@dataclass(frozen=True)
class DedupLink:
    """The decision for one article: which story it joins and why."""

    article_id: int
    story_id: int
    duplicate_of: int | None  # first-seen article of the story; None when this article is that one
    verdict: str  # "original" | "exact" | "near"
    score: float
    matched_article_id: int | None  # the member whose text decided the verdict
    candidates: int  # how many candidates were verified
    reason: str


def best_match(
    published_at: datetime | None, title: str, body_text: str, candidates: list[Candidate]
) -> tuple[Candidate, Verdict] | None:
    """The candidate of the same story: an exact copy first, then the highest score, then the oldest story."""
    best: tuple[Candidate, Verdict] | None = None
    for cand in candidates:
        if not within_story_window(published_at, cand.published_at):
            continue
        verdict = compare(title, body_text, cand.title, cand.body_text)
        if verdict.verdict == "different":
            continue
        if verdict.reason.startswith("same headline fact") and not _within(published_at, cand.published_at, EVENT_WINDOW):
            continue
        rank = (verdict.verdict == "exact", verdict.score, -cand.story_id)
        if best is None or rank > (best[1].verdict == "exact", best[1].score, -best[0].story_id):
            best = (cand, verdict)
    return best


def story_containment(
    published_at: datetime | None, title: str, body_text: str, candidates: list[Candidate]
) -> tuple[Candidate, Verdict] | None:
    """A short text (a flash condensing a report) judged against each story's members together.

    A flash may take its first sentence from one re-report and its figures from another, so that no
    single member contains it. Membership is transitive through a story: the short text joins the
    story whose candidate members, taken together, contain at least `SHORT_CONTAINMENT` of its
    shingles and every one of its figures, under the same date and place guards as `compare`.
    """
    text = dedup_text(title, body_text)
    if not text or len(text) >= SHORT_CHARS:
        return None
    mine = _shingles_of(text)
    if len(mine) == 0:
        return None
    stories: dict[int, list[Candidate]] = {}
    for cand in candidates:
        if within_story_window(published_at, cand.published_at):
            stories.setdefault(cand.story_id, []).append(cand)
    my_numbers, my_dates, my_places = numbers(title, body_text), lead_dates(title, body_text), places(title, body_text)
    best: tuple[Candidate, Verdict] | None = None
    for _story_id, members in sorted(stories.items()):
        if len(members) < 2:
            continue  # one member: compare() already judged it
        theirs = [_shingles_of(dedup_text(m.title, m.body_text)) for m in members]
        # |mine ∩ union| <= sum of |mine ∩ member|: a story whose members together cannot reach the
        # threshold is skipped before its union is built
        if sum(len(np.intersect1d(mine, t, assume_unique=True)) for t in theirs) < SHORT_CONTAINMENT * len(mine):
            continue
        union = np.unique(np.concatenate(theirs))
        inter = len(np.intersect1d(mine, union, assume_unique=True))
        con = inter / len(mine)
        if con < SHORT_CONTAINMENT:
            continue
        their_numbers = set().union(*(numbers(m.title, m.body_text) for m in members))
        if not my_numbers <= their_numbers:
            continue
        their_dates = set().union(*(lead_dates(m.title, m.body_text) for m in members))
        if my_dates and their_dates and my_dates.isdisjoint(their_dates):
            continue
        their_places = set().union(*(places(m.title, m.body_text) for m in members))
        if my_places and their_places and my_places.isdisjoint(their_places):
            continue
        closest = max(members, key=lambda m: (len(np.intersect1d(mine, _shingles_of(
            dedup_text(m.title, m.body_text)), assume_unique=True)), -m.article_id))  # fmt: skip
        verdict = Verdict("near", inter / (len(mine) + len(union) - inter), con,
                          f"short text contained in {len(members)} reports of its story")  # fmt: skip
        if best is None or con > best[1].containment:
            best = (closest, verdict)
    return best


def decide(
    article_id: int,
    published_at: datetime | None,
    title: str,
    body_text: str,
    candidates: list[Candidate],
    *,
    heads_a_story: bool,
) -> DedupLink:
    """Which story the article belongs to, given its candidates and whether other articles already point at it."""
    match = best_match(published_at, title, body_text, candidates)
    if match is None:
        match = story_containment(published_at, title, body_text, candidates)
    if match is None or heads_a_story or match[0].story_id == article_id:
        # Members already point at this article: it stays their story's first article.
        reason = "no candidate of the same story" if match is None else "heads its story"
        return DedupLink(article_id, article_id, None, "original", 0.0, None, len(candidates), reason)
    cand, verdict = match
    return DedupLink(
        article_id,
        cand.story_id,
        cand.story_id,
        verdict.verdict,
        verdict.score,
        cand.article_id,
        len(candidates),
        verdict.reason,
    )


def _headline_fact_verdict(a_title: str, a_body: str, b_title: str, b_body: str, jac: float, con: float) -> Verdict:
    """Two reports of one release with little shared text: the same indicator and figure in both titles,
    no period of one title missing from the other, and the date and place guards of `compare`."""
    shared = headline_facts(a_title) & headline_facts(b_title)
    if not shared:
        return Verdict("different", jac, con, "too little shared text")
    pa, pb = headline_periods(a_title), headline_periods(b_title)
    if pa and pb and pa.isdisjoint(pb):
        return Verdict("different", jac, con, "headline periods differ")
    da, db = lead_dates(a_title, a_body), lead_dates(b_title, b_body)
    if da and db and da.isdisjoint(db):
        return Verdict("different", jac, con, "dates differ")
    la, lb = places(a_title, a_body), places(b_title, b_body)
    if la and lb and la.isdisjoint(lb):
        return Verdict("different", jac, con, "places differ")
    return Verdict("near", jac, con, "same headline fact: " + ", ".join(sorted(shared)))


def compare(a_title: str, a_body: str, b_title: str, b_body: str) -> Verdict:
    """Judge two articles: exact copy, near duplicate (same story) or different."""
    fa, fb = textnorm.fold(a_body), textnorm.fold(b_body)
    if fa and fa == fb:
        return Verdict("exact", 1.0, 1.0, "identical body")
    if not fa and not fb:
        same = textnorm.fold(a_title) == textnorm.fold(b_title) and bool(textnorm.fold(a_title))
        return Verdict("exact" if same else "different", float(same), float(same), "no body; titles compared")
    ta, tb = dedup_text(a_title, a_body), dedup_text(b_title, b_body)
    jac, con = _overlap(_shingles_of(ta), _shingles_of(tb))
    a_is_small = len(ta) <= len(tb)
    short = min(len(ta), len(tb)) < SHORT_CHARS
    if jac < NEAR_JACCARD and con < (SHORT_CONTAINMENT if short else NEAR_CONTAINMENT):
        return _headline_fact_verdict(a_title, a_body, b_title, b_body, jac, con)
    na, nb = numbers(a_title, a_body), numbers(b_title, b_body)
    # The smaller text's figures must be in the larger one; two texts of one length are each the
    # smaller one, so both must pass (compare(a, b) and compare(b, a) agree).
    if len(ta) == len(tb):
        sides = [(na, nb), (nb, na)]
    else:
        sides = [(na, nb) if a_is_small else (nb, na)]
    needed = 1.0 if short else MIN_NUMBER_OVERLAP
    for small_numbers, large_numbers in sides:
        if not small_numbers:
            continue
        shared = len(small_numbers & large_numbers) / len(small_numbers)
        if shared < needed:
            return Verdict("different", jac, con, f"figures differ ({shared:.2f} of the numbers shared)")
    da, db = lead_dates(a_title, a_body), lead_dates(b_title, b_body)
    if da and db and da.isdisjoint(db):
        return Verdict(
            "different", jac, con, "dates differ: " + "/".join(sorted(da)) + " vs " + "/".join(sorted(db))
        )
    pa, pb = places(a_title, a_body), places(b_title, b_body)
    if pa and pb and pa.isdisjoint(pb):
        return Verdict(
            "different", jac, con, "places differ: " + "/".join(sorted(pa)) + " vs " + "/".join(sorted(pb))
        )
    return Verdict("near", jac, con, "short text contained" if short else "shared text")
