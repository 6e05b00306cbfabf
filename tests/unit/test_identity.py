"""The one identity module: every URL shape seen in the fixtures and in docs/sina.md -> docid and
canonical URL; Beijing time; archive front matter (RFC, Hexo and ISO dates)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pipeline.identity import (
    FrontMatterError,
    canonicalize_url,
    docid_from_url,
    front_matter_date,
    parse_beijing_time,
    parse_iso_time,
    read_front_matter,
    unwrap_rss_redirect,
)

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"

# (url, docid, canonical URL). Unless a comment says otherwise, each URL is one a fixture page links
# to or is (tests/fixtures/article_html, pages, media, the replay data) or one docs/sina.md names.
URL_SHAPES: list[tuple[str, str | None, str]] = [
    # desktop doc-i<ID>.shtml, https and http, with the tracking query Sina's own links carry
    ("https://finance.sina.com.cn/roll/2018-12-28/doc-ihqfskcn2160999.shtml",
     "comos:hqfskcn2160999", "https://finance.sina.com.cn/roll/2018-12-28/doc-ihqfskcn2160999.shtml"),
    ("http://finance.sina.com.cn/china/gncj/2017-01-10/doc-ifxzkfuk2416871.shtml",
     "comos:fxzkfuk2416871", "https://finance.sina.com.cn/china/gncj/2017-01-10/doc-ifxzkfuk2416871.shtml"),
    ("https://finance.sina.com.cn/chanjing/gsnews/2019-09-11/doc-iicezzrq5004025.shtml"
     "?cre=tianyi&mod=pcpager_tech&loc=29&r=9&rfunc=44&tj=none&tr=9",
     "comos:icezzrq5004025", "https://finance.sina.com.cn/chanjing/gsnews/2019-09-11/doc-iicezzrq5004025.shtml"),
    ("http://finance.sina.com.cn/china/2021-11-30/doc-ikyakumx1234567.shtml?from=wap#comment",
     "comos:kyakumx1234567", "https://finance.sina.com.cn/china/2021-11-30/doc-ikyakumx1234567.shtml"),
    ("https://news.sina.com.cn/c/2019-11-25/doc-iihnzahi3275702.shtml",
     "comos:ihnzahi3275702", "https://news.sina.com.cn/c/2019-11-25/doc-iihnzahi3275702.shtml"),
    ("https://tech.sina.com.cn/t/2019-09-11/doc-iicezzrq4972166.shtml",
     "comos:icezzrq4972166", "https://tech.sina.com.cn/t/2019-09-11/doc-iicezzrq4972166.shtml"),
    ("http://photo.sina.com.cn/newyouth/doc-iicezzrq2041768.shtml",  # a gallery channel, no date path
     "comos:icezzrq2041768", "https://photo.sina.com.cn/newyouth/doc-iicezzrq2041768.shtml"),
    # upper-case host and a default port are spellings of the same page
    ("HTTPS://Finance.Sina.com.cn:443/roll/2018-12-28/doc-ihqfskcn2160999.shtml",
     "comos:hqfskcn2160999", "https://finance.sina.com.cn/roll/2018-12-28/doc-ihqfskcn2160999.shtml"),
    # doc-i<ID>.html (no s): a shape the issue reports; only one of the two old functions read it
    ("https://finance.sina.com.cn/stock/2021-12-01/doc-ikyakumx1234567.html",
     "comos:kyakumx1234567", "https://finance.sina.com.cn/stock/2021-12-01/doc-ikyakumx1234567.html"),
    # long ids (the replay data's 15-character ids; and one past the old 20-character cap)
    ("https://finance.sina.com.cn/china/2021-11-30/doc-infr12ed7b55a8c2.shtml",
     "comos:nfr12ed7b55a8c2", "https://finance.sina.com.cn/china/2021-11-30/doc-infr12ed7b55a8c2.shtml"),
    ("https://finance.sina.com.cn/china/2024-05-06/doc-inaustuv1234567890abcdef.shtml",
     "comos:naustuv1234567890abcdef",
     "https://finance.sina.com.cn/china/2024-05-06/doc-inaustuv1234567890abcdef.shtml"),
    # mobile detail-i<ID>.d.html on finance.sina.cn / news.sina.cn / tech.sina.cn, with app queries
    ("https://finance.sina.cn/2021-12-10/detail-ikyamrmy8011245.d.html",
     "comos:kyamrmy8011245", "https://finance.sina.cn/2021-12-10/detail-ikyamrmy8011245.d.html"),
    ("http://finance.sina.cn/usstock/mggd/2019-09-09/detail-iicezzrq4681677.d.html?vt=4&pos=108",
     "comos:icezzrq4681677", "https://finance.sina.cn/usstock/mggd/2019-09-09/detail-iicezzrq4681677.d.html"),
    ("http://news.sina.cn/gn/2019-09-07/detail-iicezzrq4076655.d.html",
     "comos:icezzrq4076655", "https://news.sina.cn/gn/2019-09-07/detail-iicezzrq4076655.d.html"),
    # detail-i on a desktop host: news charts and the video channel
    ("http://news.sina.com.cn/chart/2019-05-03/detail-ihvhiqax6470950.d.html",
     "comos:hvhiqax6470950", "https://news.sina.com.cn/chart/2019-05-03/detail-ihvhiqax6470950.d.html"),
    ("http://video.sina.com.cn/p/news/2019-10-23/detail-iicezzrr4251736.d.html",
     "comos:icezzrr4251736", "https://video.sina.com.cn/p/news/2019-10-23/detail-iicezzrr4251736.d.html"),
    # detail-i<ID>.shtml: the other shape only one of the two old functions read
    ("https://finance.sina.com.cn/money/2021-12-10/detail-ikyamrmy8011245.shtml",
     "comos:kyamrmy8011245", "https://finance.sina.com.cn/money/2021-12-10/detail-ikyamrmy8011245.shtml"),
    # k.sina.com.cn article_<uid>_<id>: no comos id in the URL, so the canonical URL is the key
    ("http://k.sina.com.cn/article_2402618443_8f350c4b00100lqrh.html?cre=tianyi&mod=pcpager_tech&loc=3",
     None, "https://k.sina.com.cn/article_2402618443_8f350c4b00100lqrh.html"),
    ("http://k.sina.com.cn/article_6168501939_p16fabdeb302700kxpf.html?from=game&subch=ogame",
     None, "https://k.sina.com.cn/article_6168501939_p16fabdeb302700kxpf.html"),
    # 7x24: a flash's docurl is an ordinary article; the channel page itself is no article
    ("https://finance.sina.com.cn/7x24/2021-12-09/doc-ikyakumx3169588.shtml",
     "comos:kyakumx3169588", "https://finance.sina.com.cn/7x24/2021-12-09/doc-ikyakumx3169588.shtml"),
    ("https://finance.sina.com.cn/7x24/", None, "https://finance.sina.com.cn/7x24/"),
    ("https://zhibo.sina.com.cn/api/zhibo/feed?zhibo_id=152&page=1&page_size=20",
     None, "https://zhibo.sina.com.cn/api/zhibo/feed"),
    # Sina RSS wraps links in a redirect (docs/sina.md, "RSS")
    ("http://go.rss.sina.com.cn/redirect.php?url=http://finance.sina.com.cn/china/2021-12-27/doc-ikyakumx7654321.shtml",
     "comos:kyakumx7654321", "https://finance.sina.com.cn/china/2021-12-27/doc-ikyakumx7654321.shtml"),
    # a docid-looking string outside the path belongs to another page
    ("https://cre.mix.sina.com.cn/api/v3/get?pageurl=https%3A%2F%2Ffinance.sina.com.cn%2Froll%2F2018-12-28"
     "%2Fdoc-ihqfskcn2160999.shtml", None, "https://cre.mix.sina.com.cn/api/v3/get"),
    ("http://tech.sina.com.cn/t/2019-09-11/doc-iicezzrq4972166.shtml&jsonp=HTML5_1568211306169",
     None, "https://tech.sina.com.cn/t/2019-09-11/doc-iicezzrq4972166.shtml&jsonp=HTML5_1568211306169"),
    # old-style numeric finance URLs carry no comos id
    ("http://finance.sina.com.cn/china/jrxw/20140318/011918532340.shtml",
     None, "https://finance.sina.com.cn/china/jrxw/20140318/011918532340.shtml"),
    # a non-Sina URL keeps its scheme; too short an id is not a docid
    ("http://example.com/news/1.html?x=1#y", None, "http://example.com/news/1.html"),
    ("https://finance.sina.com.cn/a/doc-iab1.shtml", None, "https://finance.sina.com.cn/a/doc-iab1.shtml"),
]  # fmt: skip


@pytest.mark.parametrize(("url", "docid", "canonical"), URL_SHAPES, ids=[u[0][:90] for u in URL_SHAPES])
def test_url_shape(url: str, docid: str | None, canonical: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NEWSFLOW_REPLAY_URL", raising=False)
    assert docid_from_url(url) == docid
    assert canonicalize_url(url) == canonical
    # canonical is a fixed point, and it names the same docid
    assert canonicalize_url(canonical) == canonical
    assert docid_from_url(canonical) == docid


def test_every_fixture_article_url_is_in_the_table() -> None:
    """Each page and post the tests hold has its URL shape above (a new fixture adds its row)."""
    listed = {canonicalize_url(u) for u, _, _ in URL_SHAPES}
    urls = []
    for index in (FIXTURES / "article_html" / "index.tsv", FIXTURES / "pages" / "index.tsv",
                  FIXTURES / "media" / "index.tsv"):  # fmt: skip
        lines = index.read_text(encoding="utf-8").splitlines()
        header = lines[0].split("\t")
        for line in lines[1:]:
            url = dict(zip(header, line.split("\t"), strict=False)).get("url", "")
            if url:
                urls.append(url)
    assert urls
    shapes = {_shape(u) for u in listed}
    missing = [u for u in urls if _shape(canonicalize_url(u)) not in shapes]
    assert not missing, missing


def _shape(url: str) -> tuple[str, str]:
    """host + the file-name pattern of a URL (ids and dates replaced), e.g. ('k.sina.com.cn', 'article_N_N.html')."""
    host, _, path = url.removeprefix("https://").removeprefix("http://").partition("/")
    name = path.rsplit("/", 1)[-1]
    return host, re.sub(r"[a-z0-9]{6,}", "N", name)


def test_replay_server_urls_map_back_to_sina(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSFLOW_REPLAY_URL", "http://127.0.0.1:8765/")
    replayed = "http://127.0.0.1:8765/finance.sina.com.cn/a/doc-ikyakumx1234567.shtml?x=1"
    assert canonicalize_url(replayed) == "https://finance.sina.com.cn/a/doc-ikyakumx1234567.shtml"
    assert docid_from_url(replayed) == "comos:kyakumx1234567"
    # the server's own API paths have no host-like first segment: left as they are
    assert canonicalize_url("http://127.0.0.1:8765/api/roll/get?page=1") == "http://127.0.0.1:8765/api/roll/get"


def test_rss_redirect_is_unwrapped_for_fetching() -> None:
    wrapped = "http://go.rss.sina.com.cn/redirect.php?url=http://finance.sina.com.cn/a/doc-iabcdefg1.shtml"
    assert unwrap_rss_redirect(wrapped) == "http://finance.sina.com.cn/a/doc-iabcdefg1.shtml"
    plain = "https://finance.sina.com.cn/a/doc-iabcdefg1.shtml?from=x"
    assert unwrap_rss_redirect(plain) == plain


BJ = [
    ("2021-11-30 11:05:31", datetime(2021, 11, 30, 3, 5, 31, tzinfo=UTC)),  # 7x24 create_time, roll pages
    ("2019年11月25日 18:57", datetime(2019, 11, 25, 10, 57, tzinfo=UTC)),  # .date-source .date
    ("2019年09月11日01:53", datetime(2019, 9, 10, 17, 53, tzinfo=UTC)),  # #pub_date, no space
    ("2018.05.09 12:52:37", datetime(2018, 5, 9, 4, 52, 37, tzinfo=UTC)),
    ("2021-01-01 00:30", datetime(2020, 12, 31, 16, 30, tzinfo=UTC)),  # crosses the date line
    ("2019年11月25日", None),  # no time of day: not precise enough to date an article
    ("2021-02-30 10:00:00", None),
    ("", None),
]


@pytest.mark.parametrize(("text", "expected"), BJ)
def test_beijing_wall_clock(text: str, expected: datetime | None) -> None:
    assert parse_beijing_time(text) == expected


def test_iso_times() -> None:
    assert parse_iso_time("2019-11-25T18:57:38+08:00") == datetime(2019, 11, 25, 10, 57, 38, tzinfo=UTC)
    assert parse_iso_time("2019-11-25T10:57:38Z") == datetime(2019, 11, 25, 10, 57, 38, tzinfo=UTC)
    assert parse_iso_time("2019-11-25T18:57:38") == datetime(2019, 11, 25, 10, 57, 38, tzinfo=UTC)
    assert parse_iso_time("yesterday") is None and parse_iso_time(None) is None


def test_front_matter_of_a_real_archive_post() -> None:
    post = (FIXTURES / "pages" / "rct_youse_yige.md").read_text(encoding="utf-8")
    front = read_front_matter(post)
    assert front.text("title") == '"有色一哥"入局期货业！豪掷3.5亿，晋升期货公司第一大股东，刚宣布49亿加码锂矿'
    assert front.texts("categories") == ["金融", "新浪财经", "新浪财经－国內"]
    assert front.text("comments") is None  # a YAML boolean is no text
    assert front.published_at == datetime(2021, 11, 6, 9, 23, 1, tzinfo=UTC)
    assert front.body.lstrip().startswith("<div>")


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("date: Tue, 30 Nov 2021 03:05:31 GMT", datetime(2021, 11, 30, 3, 5, 31, tzinfo=UTC)),  # RSSHub
        ("date: 2021-11-02 10:00:00", datetime(2021, 11, 2, 2, 0, tzinfo=UTC)),  # Hexo, Beijing
        ("date: '2021-11-02 10:00:00'", datetime(2021, 11, 2, 2, 0, tzinfo=UTC)),
        ("date: 2021-11-02T10:00:00+08:00", datetime(2021, 11, 2, 2, 0, tzinfo=UTC)),  # ISO
        ("date: 2021-11-02T02:00:00Z", datetime(2021, 11, 2, 2, 0, tzinfo=UTC)),
        ("date: 2021-11-02", datetime(2021, 11, 1, 16, 0, tzinfo=UTC)),
        ("date: soon", None),
        ("title: x", None),
    ],
)
def test_front_matter_dates(line: str, expected: datetime | None) -> None:
    front = read_front_matter(f"\n---\ntitle: x\n{line}\n---\n<p>body</p>\n")
    assert front.published_at == expected
    assert front.body == "<p>body</p>\n"


def test_front_matter_errors() -> None:
    with pytest.raises(FrontMatterError, match="no --- delimited"):
        read_front_matter("<p>no head</p>")
    with pytest.raises(FrontMatterError, match="not YAML"):
        read_front_matter("---\ntitle: [unclosed\n---\nbody")
    with pytest.raises(FrontMatterError, match="not a mapping"):
        read_front_matter("---\n- a list\n---\nbody")
    assert front_matter_date(None) is None
