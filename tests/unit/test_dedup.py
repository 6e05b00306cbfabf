"""Near-duplicate verdicts and signatures on the labelled real pairs (tests/fixtures/dedup_pairs)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline import dedup
from pipeline.models import Article

from ..helpers import fixture_corpus

corpus = fixture_corpus("dedup_pairs")


@pytest.fixture(scope="module")
def articles() -> dict[str, Article]:
    return corpus.all_articles()


def _compare(a: Article, b: Article) -> dedup.Verdict:
    return dedup.compare(a.title, a.body_text, b.title, b.body_text)


def test_labelled_set_has_every_kind(articles: dict[str, Article]) -> None:
    kinds = {p.kind for p in corpus.labelled_pairs()}
    assert {
        "exact_cross_archive",
        "exact_two_titles",
        "near_rereport",
        "near_contained",
        "template_lookalike",
    } <= kinds
    for p in corpus.labelled_pairs():
        assert p.a in articles and p.b in articles, p


def test_every_true_duplicate_pair_is_linked(articles: dict[str, Article]) -> None:
    for p in corpus.labelled_pairs():
        if p.label != "dup":
            continue
        v = _compare(articles[p.a], articles[p.b])
        assert v.verdict != "different", (p.note, v)
        if p.kind.startswith("exact"):
            assert v.verdict == "exact" and v.score == 1.0


def test_no_false_merge_on_any_other_pair(articles: dict[str, Article]) -> None:
    for p in corpus.every_pair(list(articles)):
        if p.label == "different":
            v = _compare(articles[p.a], articles[p.b])
            assert v.verdict == "different", (p.a, p.b, v)


def test_true_duplicates_share_a_bucket_key(articles: dict[str, Article]) -> None:
    # Candidate recall: the store only verifies pairs that share a key.
    for p in corpus.labelled_pairs():
        if p.label == "dup":
            a, b = articles[p.a], articles[p.b]
            ka = set(dedup.signature(a.title, a.body_text).bucket_keys)
            kb = set(dedup.signature(b.title, b.body_text).bucket_keys)
            assert ka & kb, p.note


def test_template_lookalikes_stay_apart_for_the_stated_reason(articles: dict[str, Article]) -> None:
    sh = articles["hexo_posts/Rock-Candy-Tea/0！上海昨日本土无新增.md"]
    bj = articles["hexo_posts/Rock-Candy-Tea/0！北京昨日本土无新增.md"]
    assert _compare(sh, bj).verdict == "different"
    # Same template, only the city swapped: the place guard keeps them apart.
    swapped = sh.body_text.replace("上海", "杭州").replace("浦东国际机场", "萧山国际机场")
    v = dedup.compare(sh.title, sh.body_text, "0！杭州昨日本土无新增", swapped)
    assert v.verdict == "different" and "places differ" in v.reason and v.jaccard > 0.7
    # Same bulletin, another day: the figures guard keeps them apart.
    other_day = sh.body_text.replace("8月5日", "8月6日").replace("8例", "3例")
    v = dedup.compare(sh.title, sh.body_text, sh.title, other_day)
    assert v.verdict == "different" and "dates differ" in v.reason and v.jaccard > 0.8


def test_short_flash_needs_every_figure(articles: dict[str, Article]) -> None:
    lpr = articles["hexo_posts/hajeekn/1月LPR报价出炉：1年期下调10个基点 5年期下调5个基点.md"]
    assert len(dedup.dedup_text(lpr.title, lpr.body_text)) < dedup.SHORT_CHARS
    december = (
        lpr.body_text.replace("2022年1月20日", "2021年12月20日")
        .replace("3.7%", "3.8%")
        .replace("4.6%", "4.65%")
    )
    v = dedup.compare(lpr.title, lpr.body_text, lpr.title, december)
    assert v.verdict == "different" and v.containment > 0.5
    # A repost of the same flash with a different headline is the same story.
    assert dedup.compare(lpr.title, lpr.body_text, "LPR公布", lpr.body_text).verdict == "exact"


def test_long_article_with_one_corrected_figure_is_near(articles: dict[str, Article]) -> None:
    a = articles['dedup_pairs/posts/"100种方法刑事你"的女书记登门道歉，当事人：没诚意.md']
    corrected = a.body_text.replace("晚上六点", "晚上七点").replace("零下2℃", "零下3℃")
    v = dedup.compare(a.title, a.body_text, a.title, corrected)
    assert v.verdict == "near" and v.jaccard > 0.9


def test_archive_title_mangling_does_not_matter_for_short_items() -> None:
    body = "14部门发布关于全力做好春运工作的意见。"
    v = dedup.compare(
        "14部门：坚决防止“一刀切”和“层层加码”", body, "14部门：坚决防止_一刀切_和_层层加码_", body
    )
    assert v.verdict == "exact"
    a = dedup.signature("“十四五”规划", "短")
    b = dedup.signature("_十四五_规划", "短")
    assert a.bucket_keys == b.bucket_keys


def test_whitespace_free_chinese_is_not_one_token() -> None:
    # trafilatura-style whitespace tokens would make these identical; character shingles do not.
    a = dedup.signature("", "央行今日开展逆回购操作，中标利率持平，市场流动性保持合理充裕水平，资金面平稳。")
    b = dedup.signature("", "某地文旅局回应游客投诉景区门票价格过高的问题，表示将开展专项检查并公布结果。")
    assert a.estimated_jaccard(b) < 0.1
    assert not set(a.bucket_keys) & set(b.bucket_keys)


def test_signature_is_stable_and_fits_postgres(articles: dict[str, Article]) -> None:
    a = next(iter(articles.values()))
    s1, s2 = dedup.signature(a.title, a.body_text), dedup.signature(a.title, a.body_text)
    assert s1 == s2
    assert len(s1.minhash) == dedup.NUM_PERM and len(s1.minhash_bytes()) == 4 * dedup.NUM_PERM
    bands = {band for band, _ in s1.bucket_keys}
    assert set(range(dedup.BANDS)) <= bands
    assert all(-(2**63) <= key < 2**63 for _, key in s1.bucket_keys)


def test_empty_texts() -> None:
    assert dedup.signature("", "").bucket_keys == ()
    assert dedup.compare("", "", "", "").verdict == "different"
    assert dedup.compare("0！", "", "0！", "").verdict == "exact"


def test_story_window() -> None:
    t = datetime(2022, 1, 20, 1, 19, tzinfo=UTC)
    assert dedup.within_story_window(t, t + timedelta(minutes=23))
    assert dedup.within_story_window(None, t)
    assert not dedup.within_story_window(t, t + timedelta(days=30))


_cjk = st.text(
    alphabet=st.sampled_from(list("中国人民银行公布贷款市场报价利率年期上海北京新增病例0123456789，。")),
    max_size=300,
)


@settings(max_examples=60, deadline=None)
@given(_cjk, _cjk, _cjk, _cjk)
def test_compare_is_symmetric(ta: str, ba: str, tb: str, bb: str) -> None:
    v1, v2 = dedup.compare(ta, ba, tb, bb), dedup.compare(tb, bb, ta, ba)
    assert v1.verdict == v2.verdict
    assert v1.jaccard == pytest.approx(v2.jaccard) and v1.containment == pytest.approx(v2.containment)


@settings(max_examples=60, deadline=None)
@given(_cjk, _cjk)
def test_an_article_is_an_exact_copy_of_itself(title: str, body: str) -> None:
    v = dedup.compare(title, body, title, body)
    if dedup.dedup_text(title, body):
        assert v.verdict == "exact" and v.score == 1.0
    else:
        assert v.verdict == "different"


def _candidate(article_id: int, a: Article, story_id: int | None = None, **kw: object) -> dedup.Candidate:
    published = kw.get("published_at", a.published_at)
    assert published is None or isinstance(published, datetime)
    return dedup.Candidate(article_id, a.title, a.body_text, published, story_id or article_id)


def test_decide_links_to_the_story_of_the_best_candidate(articles: dict[str, Article]) -> None:
    pair = next(p for p in corpus.labelled_pairs() if p.kind.startswith("exact"))
    other = next(p for p in corpus.labelled_pairs() if p.kind == "template_lookalike")
    a, b = articles[pair.a], articles[pair.b]
    unrelated = articles[other.a]
    # the copy's story is 3 (it joined article 3's story earlier); the look-alike is not of the same story
    link = dedup.decide(
        9, a.published_at, a.title, a.body_text,
        [_candidate(5, unrelated), _candidate(7, b, story_id=3)], heads_a_story=False,
    )  # fmt: skip
    assert (link.story_id, link.duplicate_of, link.matched_article_id) == (3, 3, 7)
    assert link.verdict == "exact" and link.score == 1.0 and link.candidates == 2


def test_decide_keeps_an_article_that_heads_a_story_an_original(articles: dict[str, Article]) -> None:
    pair = next(p for p in corpus.labelled_pairs() if p.kind.startswith("exact"))
    a, b = articles[pair.a], articles[pair.b]
    heads = dedup.decide(9, a.published_at, a.title, a.body_text, [_candidate(7, b)], heads_a_story=True)
    assert (heads.story_id, heads.duplicate_of, heads.verdict, heads.reason) == (9, None, "original", "heads its story")
    alone = dedup.decide(9, a.published_at, a.title, a.body_text, [], heads_a_story=False)
    assert (alone.verdict, alone.reason, alone.candidates) == ("original", "no candidate of the same story", 0)


def test_decide_ignores_a_copy_outside_the_story_window(articles: dict[str, Article]) -> None:
    pair = next(p for p in corpus.labelled_pairs() if p.kind.startswith("exact"))
    a, b = articles[pair.a], articles[pair.b]
    when = datetime(2021, 6, 1, tzinfo=UTC)
    weeks_later = _candidate(7, b, published_at=when + dedup.STORY_WINDOW + timedelta(days=1))
    link = dedup.decide(9, when, a.title, a.body_text, [weeks_later], heads_a_story=False)
    assert link.verdict == "original" and link.candidates == 1


def test_two_texts_of_one_length_are_judged_the_same_both_ways() -> None:
    """Found by hypothesis: with equal lengths each text is the smaller one, so figures are checked both ways."""
    one = dedup.compare("0", "00000", "00000", "上")
    other = dedup.compare("00000", "上", "0", "00000")
    assert one.verdict == other.verdict == "different"
