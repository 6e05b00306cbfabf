"""Issuers beyond the first taxonomy: joint national bodies, provincial bureaus and central-bank branches."""

from __future__ import annotations

import pytest

from pipeline.parse import parse_hexo_post
from pipeline.tag import load_taxonomy, tag_article
from pipeline.tag.records import issuer_level

from .test_policy_records import post


@pytest.mark.parametrize(
    ("title", "body", "issuers"),
    [
        ("工信部、国家烟草专卖局发布电子烟管理办法征求意见稿",
         "11月30日，工业和信息化部、国家烟草专卖局发布《电子烟管理办法（征求意见稿）》，公开征求意见。",
         ["工业和信息化部", "国家烟草专卖局"]),
        ("两部门联合印发意见",
         "近日，人民银行杭州中心支行、浙江银保监局联合印发《关于金融支持共同富裕示范区建设的意见》。",
         ["人民银行杭州中心支行", "浙江省银保监局"]),
        ("核酸检测降价", "山东省医疗保障局发布通知，自12月1日起，单人单检核酸检测价格调整为每人次30元。",
         ["山东省医疗保障局"]),
        ("人社厅发文", "广东省人社厅印发《广东省技能人才评价管理办法》，自2022年1月1日起施行。",
         ["广东省人力资源和社会保障厅"]),
        ("关税排除", "国务院关税税则委员会发布公告，决定对部分商品加征关税措施予以排除。",
         ["国务院关税税则委员会"]),
    ],
)  # fmt: skip
def test_issuers_are_named_in_full(title: str, body: str, issuers: list[str]) -> None:
    tags = tag_article(parse_hexo_post(post(title, body), "x"))
    assert [t.value for t in tags if t.kind == "issuer"] == issuers
    assert any(t.kind == "policy" for t in tags)


@pytest.mark.parametrize(
    ("name", "level"),
    [("国家烟草专卖局", "部委"), ("人民银行杭州中心支行", "市"), ("浙江省银保监局", "省"), ("杭州市医疗保障局", "市"),
     ("国务院关税税则委员会", "部委")],
)  # fmt: skip
def test_levels_of_the_new_issuers(name: str, level: str) -> None:
    assert issuer_level(name, load_taxonomy()) == level
