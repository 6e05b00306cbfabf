"""A short flash that condenses a notice reported several ways joins the story of all of its reports."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pipeline import dedup
from pipeline.dedup import Candidate

T0 = datetime(2021, 11, 30, 2, 0, tzinfo=UTC)
REPORT_A = (
    "11月30日，工业和信息化部发布关于修改《中华人民共和国烟草专卖法实施条例》的决定（征求意见稿），"
    "向社会公开征求意见。征求意见稿在附则中增加一条：电子烟等新型烟草制品参照本条例中卷烟的有关规定执行。"
    "业内人士表示，这意味着电子烟将被纳入烟草专卖管理体系，生产、批发、零售均需取得许可，"
    "行业将迎来更严格的准入与监管，部分中小品牌或将退出市场，头部企业的合规优势进一步显现。"
)
REPORT_B = (
    "据工信部网站消息，工信部会同国家烟草专卖局起草了修改决定的征求意见稿。公众可通过信函或电子邮件提出意见，"
    "意见反馈截止时间为2021年12月30日。此前，全国人大常委会已将电子烟纳入烟草专卖法的修订视野，"
    "市场监管部门也多次开展电子烟专项检查，行业普遍预期监管框架将在一年内落地，相关上市公司股价当日波动。"
)
FLASH = (
    "【电子烟拟参照卷烟管理】11月30日，工业和信息化部就烟草专卖法实施条例的修改决定公开征求意见，"
    "电子烟等新型烟草制品参照本条例中卷烟的有关规定执行。意见反馈截止时间为2021年12月30日。"
)


def _cands(*texts: tuple[int, str, str]) -> list[Candidate]:
    return [Candidate(i, title, body, T0 + timedelta(minutes=i), 1) for i, title, body in texts]


def test_no_single_report_contains_the_flash() -> None:
    for body in (REPORT_A, REPORT_B):
        assert dedup.compare("", FLASH, "报道", body).verdict == "different"


def test_the_flash_joins_the_story_its_reports_form_together() -> None:
    candidates = _cands((1, "工信部：电子烟拟参照卷烟管理", REPORT_A), (2, "两部门就电子烟监管征求意见", REPORT_B))
    link = dedup.decide(9, T0 + timedelta(hours=1), "电子烟拟参照卷烟管理", FLASH, candidates, heads_a_story=False)
    assert (link.story_id, link.verdict) == (1, "near")
    assert "reports of its story" in link.reason and link.matched_article_id in (1, 2)


def test_a_changed_figure_keeps_the_flash_apart() -> None:
    wrong = FLASH.replace("2021年12月30日", "2022年1月15日")
    candidates = _cands((1, "工信部：电子烟拟参照卷烟管理", REPORT_A), (2, "两部门就电子烟监管征求意见", REPORT_B))
    link = dedup.decide(9, T0 + timedelta(hours=1), "电子烟拟参照卷烟管理", wrong, candidates, heads_a_story=False)
    assert link.verdict == "original"


def test_reports_of_two_stories_are_not_pooled() -> None:
    a, b = _cands((1, "t", REPORT_A), (2, "t", REPORT_B))
    b = Candidate(b.article_id, b.title, b.body_text, b.published_at, 2)  # another story
    link = dedup.decide(9, T0 + timedelta(hours=1), "电子烟拟参照卷烟管理", FLASH, [a, b], heads_a_story=False)
    assert link.verdict == "original"


# Two reports of one release that share little text: the same indicator and figure in both headlines.
PMI_A = ("12月制造业PMI升至50.3% 释放市场向好信号",
         "国家统计局31日发布数据显示，12月份制造业采购经理指数（PMI）为50.3%，比上月上升0.2个百分点，"
         "连续两个月位于临界点以上。分析人士认为，这表明制造业景气水平有所回升，市场预期向好。")  # fmt: skip
PMI_B = ("12月制造业PMI回升至50.3%，中国经济恢复态势进一步明确",
         "受访专家表示，保供稳价政策效果显现，原材料价格回落带动企业成本压力缓解，生产经营活动有所加快，"
         "大型企业景气度较高，中小企业仍面临一定困难，预计明年一季度经济运行仍将保持在合理区间。")  # fmt: skip


def test_reports_with_the_same_headline_fact_are_one_story() -> None:
    v = dedup.compare(PMI_A[0], PMI_A[1], PMI_B[0], PMI_B[1])
    assert v.verdict == "near" and "制造业pmi=50.3%" in v.reason
    shared = set(dedup.signature(*PMI_A).bucket_keys) & set(dedup.signature(*PMI_B).bucket_keys)
    assert any(band == dedup.HEADLINE_FACT_BAND for band, _ in shared)  # found as a candidate, too


def test_the_same_figure_of_another_month_or_days_later_is_another_story() -> None:
    other_month = ("11月制造业PMI升至50.3%", PMI_B[1])
    assert dedup.compare(PMI_A[0], PMI_A[1], *other_month).verdict == "different"
    cand = Candidate(1, PMI_B[0], PMI_B[1], T0 + timedelta(days=5), 1)
    assert dedup.best_match(T0, PMI_A[0], PMI_A[1], [cand]) is None
    near = Candidate(1, PMI_B[0], PMI_B[1], T0 + timedelta(hours=2), 1)
    assert dedup.best_match(T0, PMI_A[0], PMI_A[1], [near]) is not None
