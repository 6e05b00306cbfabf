"""Official policy actions without a named document (docs/labelling.md, policy 2), and what is not one."""

from __future__ import annotations

from pipeline.parse import parse_hexo_post
from pipeline.tag import tag_article

from .test_policy_records import post


def _kinds(title: str, *body: str) -> dict[str, list[tuple[str, float]]]:
    out: dict[str, list[tuple[str, float]]] = {}
    for t in tag_article(parse_hexo_post(post(title, *body), "x")):
        out.setdefault(t.kind, []).append((t.value, t.score))
    return out


def test_a_policy_rate_cut_is_a_policy_action_of_the_central_bank() -> None:
    tags = _kinds(
        "MLF利率时隔半年下调10BP",
        "8月15日，央行公告称，为维护银行体系流动性合理充裕，今日开展4000亿元中期借贷便利（MLF）操作和20亿元"
        "公开市场逆回购操作。记者注意到，两项中标利率均下降10BP，分别报2.75%、2.0%。",
    )
    assert "policy" in tags
    assert ("中国人民银行", 0.9) in tags["issuer"] or any(v == "中国人民银行" and s >= 0.8 for v, s in tags["issuer"])


def test_an_lpr_fixing_is_not_a_rate_decision_even_when_its_lead_recalls_one() -> None:
    tags = _kinds(
        "1月LPR双降：1年期降10个基点",
        "1月20日，全国银行间同业拆借中心公布，1年期LPR为3.7%。此前，央行开展的MLF和逆回购操作的中标利率均下降10个基点。",
    )
    assert "policy" not in tags


def test_expectations_of_a_cut_are_not_a_cut() -> None:
    tags = _kinds("央行等量续做MLF", "9月15日，央行开展6000亿元MLF操作，市场认为MLF利率下调的可能性仍然存在。")
    assert "policy" not in tags


def test_a_public_bodys_announcement_with_measures_is_policy_a_companys_is_not() -> None:
    city = _kinds(
        "12月23日零点起 西安实行交通管控",
        "12月22日，西安市人民政府发布公告，详情如下：根据疫情防控工作需要，经研究决定，对全市交通实行管控。",
    )
    assert "policy" in city
    company = _kinds(
        "某公司发布公告",
        "12月22日，某股份有限公司发布公告，称公司第一大股东拟减持不超过2%的股份。",
    )
    assert "policy" not in company


def test_a_state_council_executive_meeting_deciding_measures_is_policy() -> None:
    tags = _kinds(
        "国常会：加快出口退税进度",
        "国务院总理主持召开国务院常务会议，部署加快出口退税进度，帮助外贸企业纾困减负；部署做好RCEP生效后实施工作。",
    )
    assert "policy" in tags and any(v == "国务院常务会议" and s >= 0.8 for v, s in tags["issuer"])
