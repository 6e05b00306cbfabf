"""App-promotion lines are boilerplate wherever they stand; a sentence that names the app is not."""

from __future__ import annotations

from pipeline.parse import parse_hexo_post

from .test_policy_records import post


def test_the_app_promotion_line_that_opens_some_posts_is_dropped() -> None:
    article = parse_hexo_post(
        post(
            "央行：下调金融机构存款准备金率0.5个百分点",
            "下载新浪财经APP，查看更多资讯和大V观点",
            "原标题：央行：下调金融机构存款准备金率0.5个百分点",
            "中国人民银行决定于2021年12月15日下调金融机构存款准备金率0.5个百分点。",
            "打开新浪财经APP，看更多行情",
        ),
        "promo",
    )
    assert article.paragraphs == ("中国人民银行决定于2021年12月15日下调金融机构存款准备金率0.5个百分点。",)


def test_a_sentence_that_names_the_app_stays() -> None:
    line = "新浪财经APP数据显示，截至收盘，上证指数报3200点，沪深两市成交额超过一万亿元，北向资金净流入五十亿元。"
    article = parse_hexo_post(post("收盘", line), "named")
    assert article.paragraphs == (line,)


def test_a_short_sentence_citing_the_app_as_a_source_stays() -> None:
    line = "新浪财经APP数据显示，A股三大指数收涨。"
    article = parse_hexo_post(post("收盘", line, "沪深两市成交额超过一万亿元，北向资金净流入五十亿元。"), "short")
    assert article.paragraphs[0] == line


def test_bylines_of_republished_posts_are_dropped() -> None:
    body = "据报道，当地相关部门已经介入调查，并表示将尽快公布调查结果，回应网友关切。"
    article = parse_hexo_post(
        post("当地回应", "► 文 观察者网 杨蓉", "原创： 路闻卓立编译 人民币交易与研究", body,
             "此前报道：港媒曝当事人出狱前首受访"),
        "bylines",
    )  # fmt: skip
    assert article.paragraphs == (body,)
