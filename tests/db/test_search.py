"""Chinese full-text search (sql/004_search.sql, pipeline.search) on the real fixture corpus, real PostgreSQL."""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

import psycopg2
import psycopg2.errors
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline import db
from pipeline.cli import main
from pipeline.errors import PipelineError
from pipeline.models import Article
from pipeline.parse.hexo import parse_hexo_post
from pipeline.parse.sina import parse_article_page
from pipeline.search import (
    HIGHLIGHT_START,
    HIGHLIGHT_STOP,
    SearchQueryError,
    search,
    search_text,
)
from pipeline.store.articles import upsert_article
from pipeline.store.fold_sql import render_fold_sql
from pipeline.store.search import reindex
from pipeline.textnorm import fold

from ..helpers import query_rows

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
SQL = Path(__file__).resolve().parent.parent.parent / "sql" / "004_search.sql"

# Terms an analyst would type, plus ones whose bigrams all occur in some article that does not contain
# the term (so a bigram-only search would over-match them).
QUERIES = [
    "数字孪生",
    "工信部",
    "规划",
    "十四五",
    "两化融合",
    "智能网联汽车",
    "LPR",
    "lpr",
    "ＬＰＲ",
    "PMI",
    "5G",
    "房地产开发投资",
    "警方",
    "老虎肉",
    "节能减排",
    "外商投资",
    "工业增加",
    "领域数据",
    "进行调查",
    "提出通过",
    "下降18",
    "1年期",
    "上海",
    "北京",
    "本土无新增",
    "制造业",
    "央行",
    "sz300024",
    "数字人",
    "新浪财经",
    "一刀切",
    "层层加码",
    "中国",
    "基点",
    "不存在的词语组合",
]


@cache
def corpus() -> tuple[Article, ...]:
    """Every fixture post and page, through the real parsers."""
    articles = [
        parse_hexo_post(path.read_bytes(), str(path.relative_to(FIXTURES / "hexo_posts")))
        for path in sorted((FIXTURES / "hexo_posts").rglob("*.md"))
    ]
    with open(FIXTURES / "article_html" / "index.tsv", encoding="utf-8") as fh:
        for row in csv.DictReader(fh, delimiter="\t"):
            body = (FIXTURES / "article_html" / row["file"]).read_bytes()
            articles.append(parse_article_page(body, row["url"], datetime(2024, 1, 1, tzinfo=UTC)))
    return tuple(articles)


def load_corpus(url: str) -> dict[int, Article]:
    loaded: dict[int, Article] = {}
    conn = db.connect(url)
    try:
        with db.transaction(conn) as cur:
            for article in corpus():
                result = upsert_article(cur, article, source="fixture", raw_page_id=None)
                loaded.setdefault(result.article_id, article)
    finally:
        conn.close()
    return loaded


def stored(url: str) -> dict[int, tuple[str, str, list[str]]]:
    conn = psycopg2.connect(url)
    with conn, conn.cursor() as cur:
        cur.execute("SELECT article_id, title, body_text, stocks FROM articles")
        rows = {int(r[0]): (r[1], r[2], [s["code"] for s in r[3]]) for r in cur.fetchall()}
    conn.close()
    return rows


def ids(query: str, url: str, **kw: object) -> set[int]:
    kw.setdefault("collapse", False)
    kw.setdefault("limit", 1000)
    return {hit.article_id for hit in search(query, url=url, **kw)}  # type: ignore[arg-type]


def contains(rows: dict[int, tuple[str, str, list[str]]], term: str) -> set[int]:
    """The definition: fold(term) is a substring of fold(title), fold(body) or a stock code."""
    t = fold(term)
    return {
        aid
        for aid, (title, body, codes) in rows.items()
        if t in fold(title) or t in fold(body) or any(t in fold(c) for c in codes)
    }


def bigrams(text: str) -> set[str]:
    return {text[i : i + 2] for i in range(len(text) - 1)}


@pytest.fixture()
def corpus_url(db_url: str) -> str:
    load_corpus(db_url)
    return db_url


# --- fold: Python and SQL agree -------------------------------------------------------------------


def test_migration_holds_the_generated_fold_function() -> None:
    assert render_fold_sql() in SQL.read_text(encoding="utf-8")


def test_sql_fold_equals_python_fold_on_the_corpus(pg_url: str) -> None:
    texts = [t for a in corpus() for t in (a.title, a.body_text, *(p for p in a.paragraphs[:3]))]
    got = query_rows(
        pg_url,
        "SELECT newsflow_search_fold(t) FROM unnest(%s::text[]) WITH ORDINALITY u(t, n) ORDER BY n",
        (texts,),
    )
    assert [r[0] for r in got] == [fold(t) for t in texts]


def test_sql_fold_equals_python_fold_on_every_code_point(pg_url: str) -> None:
    chars = [chr(cp) for cp in range(1, 0x110000) if not 0xD800 <= cp <= 0xDFFF]
    # each code point on its own, preceded by "a" so a lone combining mark has something to follow
    samples = ["a" + c for c in chars]
    got = query_rows(
        pg_url,
        "SELECT newsflow_search_fold(t) FROM unnest(%s::text[]) WITH ORDINALITY u(t, n) ORDER BY n",
        (samples,),
    )
    mismatched = [
        (hex(ord(c)), r[0], fold(s)) for c, s, r in zip(chars, samples, got, strict=True) if r[0] != fold(s)
    ]
    assert mismatched == []


@settings(max_examples=60, deadline=None)
@given(
    st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=40)
)
def test_sql_fold_equals_python_fold_on_random_text(pg_url: str, text: str) -> None:
    assert query_rows(pg_url, "SELECT newsflow_search_fold(%s)", (text,))[0][0] == fold(text)


@settings(max_examples=80, deadline=None)
@given(st.text(alphabet="ΣσΑαΌ\u0301'.: -İIaZ数字Ⅻ①", max_size=12))
def test_sql_fold_equals_python_fold_around_sigma_and_case(pg_url: str, text: str) -> None:
    assert query_rows(pg_url, "SELECT newsflow_search_fold(%s)", (text,))[0][0] == fold(text)


def test_search_text_matches_python(corpus_url: str) -> None:
    rows = query_rows(corpus_url, "SELECT title, body_text, stocks, search_text FROM articles")
    assert rows
    for title, body, stocks, stored_text in rows:
        assert stored_text == search_text(str(title), str(body), [s["code"] for s in stocks])  # type: ignore[attr-defined]


# --- exactness ------------------------------------------------------------------------------------


def test_every_query_matches_exactly_the_articles_containing_it(corpus_url: str) -> None:
    rows = stored(corpus_url)
    assert len(rows) >= 20
    over_matchable = 0
    for query in QUERIES:
        expected = contains(rows, query)
        assert ids(query, corpus_url) == expected, query
        t = fold(query)
        if any(
            bigrams(t) <= bigrams(fold(title) + "\n" + fold(body))
            and t not in fold(title) + "\n" + fold(body)
            for title, body, _ in rows.values()
        ):
            over_matchable += 1
    # the list really exercises verification: bigram AND alone would have returned extra articles
    assert over_matchable >= 4
    assert ids("数字人", corpus_url) and ids("不存在的词语组合", corpus_url) == set()


def test_plain_chinese_terms_agree_with_sql_position(corpus_url: str) -> None:
    for query in ["工信部", "规划", "老虎肉", "外商投资", "工业增加", "智能网联汽车", "本土无新增", "制造业"]:
        expected = {
            int(r[0])
            for r in query_rows(
                corpus_url,
                "SELECT article_id FROM articles WHERE position(%s in title || E'\\n' || body_text) > 0",
                (query,),
            )
        }
        assert ids(query, corpus_url) == expected, query


def test_windowed_index_path_is_exact_on_a_larger_table(db_url: str) -> None:
    """20,000 rows, a term in 5% of them (and its bigrams alone in others): large enough that matches
    are collected through the index ANDed with a published_at window, which must stay exact."""
    conn = psycopg2.connect(db_url)
    with conn, conn.cursor() as cur:
        cur.execute(
            """
            INSERT INTO articles (canonical_url, kind, source, title, title_norm, body_hash, content_key,
                                  published_at, media, body_text, body_html, parser_version)
            SELECT 'https://example.test/' || i, 'rss_item', 'fill', '第' || i || '条', '第' || i || '条',
                   md5(i::text), md5(i::text), timestamptz '2022-01-01' + i * interval '7 minutes',
                   CASE WHEN i % 2 = 0 THEN '甲报' ELSE '乙报' END,
                   CASE WHEN i % 20 = 0 THEN '今日窗口测试词出现' || CASE WHEN i % 60 = 0 THEN '，排除' ELSE '' END
                        WHEN i % 20 = 7 THEN '窗口与测试词分开出现'
                        ELSE '其他新闻内容' || i END,
                   '', 'test'
            FROM generate_series(1, 20000) AS i
            """
        )
        cur.execute("ANALYZE articles")
    conn.close()
    every = [
        int(r[0])
        for r in query_rows(
            db_url,
            "SELECT article_id FROM articles WHERE strpos(search_text, '窗口测试词') > 0"
            " ORDER BY published_at DESC, article_id DESC",
        )
    ]
    assert len(every) == 1000
    assert ids("窗口测试词", db_url) == set(every)
    newest = [h.article_id for h in search("窗口测试词", url=db_url, order_by="recent", collapse=False)]
    assert newest == every[:20]
    excluded = {
        int(r[0])
        for r in query_rows(
            db_url,
            "SELECT article_id FROM articles WHERE strpos(search_text, '窗口测试词') > 0"
            " AND strpos(search_text, '排除') = 0 AND media = '甲报'",
        )
    }
    got = [h.article_id for h in search("窗口测试词 -排除", url=db_url, media="甲报", order_by="recent")]
    assert len(got) == 20 and set(got) <= excluded
    assert got == sorted(excluded, key=every.index)[:20]
    top = search("窗口测试词", url=db_url)
    assert len(top) == 20 and {h.article_id for h in top} <= set(every[:100])


def test_single_character_query_matches_every_article_with_that_character(corpus_url: str) -> None:
    rows = stored(corpus_url)
    for ch in ["虎", "狗", "G", "8"]:
        assert ids(ch, corpus_url) == contains(rows, ch), ch


def test_case_and_width_fold(corpus_url: str) -> None:
    assert ids("LPR", corpus_url) == ids("lpr", corpus_url) == ids("ＬＰＲ", corpus_url) != set()


def test_stock_codes_are_searchable_and_filterable(corpus_url: str) -> None:
    coded = query_rows(
        corpus_url, "SELECT article_id, stocks->0->>'code' FROM articles WHERE jsonb_array_length(stocks) > 0"
    )
    assert coded
    aid, code = int(coded[0][0]), str(coded[0][1])
    assert aid in ids(code, corpus_url)
    assert aid in ids("", corpus_url, stock=code.upper())
    assert all(
        any(s["code"] == code for s in r[0])  # type: ignore[union-attr]
        for r in query_rows(
            corpus_url,
            "SELECT stocks FROM articles WHERE article_id = ANY(%s)",
            (list(ids("", corpus_url, stock=code)),),
        )
    )


# --- syntax -----------------------------------------------------------------------------------------


def test_and_phrase_exclusion_or(corpus_url: str) -> None:
    rows = stored(corpus_url)
    shanghai, beijing, zero = contains(rows, "上海"), contains(rows, "北京"), contains(rows, "本土无新增")
    assert ids("上海 本土无新增", corpus_url) == shanghai & zero != set()
    assert ids("本土无新增 -上海", corpus_url) == zero - shanghai != set()
    assert ids("上海 OR 北京", corpus_url) == shanghai | beijing
    assert ids("上海 | 北京", corpus_url) == shanghai | beijing
    assert ids("本土无新增 上海 OR 北京", corpus_url) == zero & (shanghai | beijing)
    # a quoted phrase is one term (spaces inside fold away); unquoted, the words are separate terms
    phrase = contains(rows, "1年期下调10个基点")
    assert ids('"1年期 下调10个基点"', corpus_url) == phrase != set()
    assert ids("“1年期 下调10个基点”", corpus_url) == phrase
    assert ids("1年期 下调10个基点", corpus_url) >= phrase
    assert ids('-"上海"', corpus_url) == set(rows) - shanghai


def test_filters(corpus_url: str) -> None:
    rows = stored(corpus_url)
    dated = query_rows(
        corpus_url, "SELECT article_id, published_at FROM articles WHERE published_at IS NOT NULL"
    )
    cut = datetime(2022, 1, 1, tzinfo=UTC)
    after = {int(r[0]) for r in dated if r[1] >= cut}  # type: ignore[operator]
    before = {int(r[0]) for r in dated if r[1] < cut}  # type: ignore[operator]
    assert after and before
    assert ids("", corpus_url, since=cut) == after
    assert ids("", corpus_url, until=cut) == before
    assert ids("中国", corpus_url, since=cut) == contains(rows, "中国") & after
    media = query_rows(
        corpus_url, "SELECT media, count(*) FROM articles WHERE media IS NOT NULL GROUP BY 1 ORDER BY 2 DESC"
    )
    assert media
    name = str(media[0][0])
    assert len(ids("", corpus_url, media=name)) == media[0][1]
    assert ids("", corpus_url, source="fixture") == set(rows)
    assert ids("", corpus_url, source="nope") == set()


def test_tag_filters(corpus_url: str) -> None:
    has_tags = query_rows(corpus_url, "SELECT to_regclass('article_tags') IS NOT NULL")[0][0]
    if not has_tags:
        # before the tags migration lands: a clear refusal, not an SQL error
        with pytest.raises(SearchQueryError, match="article_tags"):
            search("规划", url=corpus_url, is_policy=True)
        return
    rows = stored(corpus_url)
    policy = {
        int(r[0])
        for r in query_rows(
            corpus_url,
            "SELECT article_id FROM article_tags WHERE kind = 'policy' AND value = 'policy_document'",
        )
    }
    assert ids("", corpus_url, is_policy=True) == policy
    assert ids("", corpus_url, is_policy=False) == set(rows) - policy
    for kind, arg in (("issuer", "issuer"), ("doc_type", "doc_type"), ("topic", "topic")):
        tagged = query_rows(
            corpus_url,
            "SELECT value, array_agg(DISTINCT article_id) FROM article_tags WHERE kind = %s GROUP BY 1",
            (kind,),
        )
        for value, members in tagged[:3]:
            assert ids("", corpus_url, **{arg: value}) == set(members), (kind, value)  # type: ignore[arg-type]


# --- collapse, order, snippets ---------------------------------------------------------------------


def test_collapse_by_story(corpus_url: str) -> None:
    rows = stored(corpus_url)
    lpr = sorted(contains(rows, "LPR"))
    assert len(lpr) >= 2
    conn = psycopg2.connect(corpus_url)
    with conn, conn.cursor() as cur:
        cur.execute("UPDATE articles SET story_id = NULL")
        cur.execute("UPDATE articles SET story_id = %s WHERE article_id = ANY(%s)", (lpr[0], lpr))
    conn.close()
    collapsed = search("LPR", url=corpus_url)
    assert len(collapsed) == 1
    assert collapsed[0].story_id == lpr[0] and collapsed[0].story_matches == len(lpr)
    expanded = search("LPR", url=corpus_url, collapse=False)
    assert {h.article_id for h in expanded} == set(lpr)
    assert all(h.story_matches == 1 for h in expanded)
    # articles in no story stand alone (story_id falls back to article_id)
    alone = search("老虎肉", url=corpus_url)
    assert all(h.story_id == h.article_id for h in alone) and alone


def test_relevance_puts_title_hits_first_and_recent_orders_by_date(corpus_url: str) -> None:
    hits = search("PMI", url=corpus_url, collapse=False)
    in_title = [fold("PMI") in fold(h.title) for h in hits]
    assert in_title == sorted(in_title, reverse=True) and any(in_title)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    recent = search("中国", url=corpus_url, collapse=False, order_by="recent", limit=100)
    dates = [h.published_at for h in recent if h.published_at]
    assert dates == sorted(dates, reverse=True) and len(dates) > 3
    page1 = search("中国", url=corpus_url, collapse=False, order_by="recent", limit=3)
    page2 = search("中国", url=corpus_url, collapse=False, order_by="recent", limit=3, offset=3)
    assert [h.article_id for h in page1 + page2] == [h.article_id for h in recent[:6]]


def test_snippets_highlight_the_term(corpus_url: str) -> None:
    for query, term in (("工信部", "工信部"), ("老虎肉", "老虎肉"), ("lpr", "LPR"), ("基点 央行", "央行")):
        hits = search(query, url=corpus_url, collapse=False, limit=50)
        assert hits, query
        for hit in hits:
            assert len(hit.snippet) <= 130
            marked = [part.split(HIGHLIGHT_STOP)[0] for part in hit.snippet.split(HIGHLIGHT_START)[1:]]
            body = stored(corpus_url)[hit.article_id][1]
            if term in body:
                # the window opens at the first match of any term; every marked span is a term
                assert marked and {fold(m) for m in marked} <= {fold(t) for t in query.split()}, hit.snippet
                if " " not in query:
                    assert term in marked, (query, hit.snippet)


# --- hostile input, privileges, upkeep ---------------------------------------------------------------

HOSTILE = [
    "",
    " ",
    "'",
    "''",
    '"',
    '""',
    "\\",
    "\\'",
    "'; DROP TABLE articles; --",
    "a & b | !c",
    "!(",
    "):*",
    "&|!():*",
    "'a':* & 'b'",
    "数字 & 孪生",
    "<->",
    "a <-> b",
    "%",
    "_",
    "%_%",
    "$1",
    "$$",
    "\u3000",
    "-",
    "--",
    "- -",
    "OR",
    "OR OR",
    "| |",
    "“",
    "”",
    '"unclosed phrase',
    '-""',
    "\u200b",
    "\ufeff数字",
    "x" * 1000,
    "数" * 999,
    "🙂",
    "e\u0301",
    "NULL",
    "null::text",
    "\\x00",
    "*" * 50,
    "(" * 200,
]


@pytest.mark.parametrize("query", HOSTILE)
def test_hostile_queries_return_results_or_a_clear_error(corpus_url: str, query: str) -> None:
    try:
        hits = search(query, url=corpus_url)
    except SearchQueryError as exc:
        assert "search query" in str(exc)
    else:
        assert isinstance(hits, list)
    assert query_rows(corpus_url, "SELECT count(*) FROM articles")[0][0] == len(stored(corpus_url)) > 0


def test_hostile_edges_are_refused_clearly(corpus_url: str) -> None:
    for query in ("x" * 1001, "&|!():*", '""', "OR", "\x00"):
        with pytest.raises(SearchQueryError):
            search(query, url=corpus_url)
    with pytest.raises(SearchQueryError):
        search("规划", url=corpus_url, order_by="random()")
    with pytest.raises(SearchQueryError):
        search("规划", url=corpus_url, limit=0)
    assert issubclass(SearchQueryError, PipelineError)
    # the injection-looking strings are ordinary text to search for
    assert ids("'; DROP TABLE articles; --", corpus_url) == contains(stored(corpus_url), "droptablearticles")


def test_reader_role_can_search_but_not_write(corpus_url: str) -> None:
    conn = psycopg2.connect(corpus_url)
    try:
        with conn.cursor() as cur:
            cur.execute("SET ROLE newsflow_reader")
            cur.execute("SELECT count(*) FROM search_articles('规划', since => '2021-11-01')")
            assert cur.fetchone()[0] > 0  # type: ignore[index]
            with pytest.raises(psycopg2.errors.InsufficientPrivilege):
                cur.execute("UPDATE articles SET title = 'x'")
        conn.rollback()
        with conn.cursor() as cur:
            cur.execute("SET ROLE newsflow_reader")
            with pytest.raises(psycopg2.errors.InsufficientPrivilege):
                cur.execute("SELECT * FROM search_articles('规划'); DELETE FROM articles")
        conn.rollback()
    finally:
        conn.close()


def test_trigger_keeps_the_index_current(corpus_url: str) -> None:
    aid = min(stored(corpus_url))
    assert aid not in ids("量子纠缠", corpus_url)
    conn = psycopg2.connect(corpus_url)
    with conn, conn.cursor() as cur:
        cur.execute("UPDATE articles SET body_text = body_text || '量子纠缠' WHERE article_id = %s", (aid,))
    conn.close()
    assert ids("量子纠缠", corpus_url) == {aid}


def test_reindex_fills_rows_written_without_the_columns(corpus_url: str) -> None:
    rows = stored(corpus_url)
    before = ids("规划", corpus_url)
    conn = psycopg2.connect(corpus_url)
    with conn, conn.cursor() as cur:
        cur.execute("UPDATE articles SET search_text = NULL, search_vector = NULL")
    conn.close()
    assert ids("规划", corpus_url) == set()
    assert reindex(corpus_url, batch_size=7, only_missing=True) == len(rows)
    assert ids("规划", corpus_url) == before != set()
    assert reindex(corpus_url, batch_size=1000) == len(rows)
    assert reindex(corpus_url, only_missing=True) == 0


def test_cli_table_and_json(corpus_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["search", "老虎肉", "--database-url", corpus_url]) == 0
    out, err = capsys.readouterr()
    assert "老虎肉" in out and "[老虎肉]" in out and "result(s)" in out
    assert err.startswith("newsflow: database postgresql://")
    args = ["search", "LPR", "--json", "--no-collapse", "--since", "2022-01-01", "--until", "2022-01-20"]
    assert main([*args, "--database-url", corpus_url]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data and all("<b>" in d["snippet"] or "LPR" not in d["snippet"] for d in data)
    assert all("2022-01-01" <= d["published_at"][:10] <= "2022-01-20" for d in data)
    assert main(["search", "&|!", "--database-url", corpus_url]) == 2
    out, err = capsys.readouterr()
    assert out == "" and "newsflow search: error:" in err and "no letters or digits" in err
