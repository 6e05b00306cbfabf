"""The replay server over real HTTP on loopback: feed shapes, URL rewriting, every fault, timeshift."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import requests

from pipeline.identity import BEIJING
from pipeline.replay import FAULT_KINDS, ReplayServer, default_data_dir, manifest

ROLL = "/api/roll/get"
ZHIBO = "/api/zhibo/feed"


@pytest.fixture(scope="module")
def server() -> Iterator[ReplayServer]:
    with ReplayServer() as srv:
        yield srv


@pytest.fixture(autouse=True)
def clean(server: ReplayServer) -> Iterator[None]:
    server.clear_faults()
    server.set_robots_disallow([])
    assert server.wait_idle()  # a "slow" answer of the previous test must not land in this test's log
    server.clear_log()
    yield
    server.clear_faults()


def roll(server: ReplayServer, **params: object) -> requests.Response:
    query = {"pageid": 155, "lid": 1686, "num": 10, "page": 1, "k": "", **params}
    return requests.get(server.base_url + ROLL, params=query, timeout=10)


def first_page_url(server: ReplayServer) -> str:
    return str(roll(server, num=1).json()["result"]["data"][0]["url"])


# --- roll API -------------------------------------------------------------------------------------


def test_roll_pages_cover_every_article_newest_first(server: ReplayServer) -> None:
    seen: list[dict[str, object]] = []
    page = 1
    while True:
        result = roll(server, num=7, page=page).json()["result"]
        assert result["status"] == {"code": 0, "msg": "succ"}
        if not result["data"]:
            break
        assert len(result["data"]) <= 7
        seen.extend(result["data"])
        page += 1
    expected = [a for a in manifest() if "1686" in a["lids"]]
    assert roll(server).json()["result"]["total"] == len(expected) == len(seen)
    assert [i["docid"] for i in seen] == [
        a["docid"] for a in sorted(expected, key=lambda a: (-a["ctime"], a["docid"]))
    ]
    ctimes = [int(str(i["ctime"])) for i in seen]
    assert ctimes == sorted(ctimes, reverse=True)
    item = seen[0]
    for key in ("docid", "title", "intro", "url", "wapurl", "ctime", "intime", "mtime", "media_name", "author",
                "keywords", "lids", "img", "images"):  # fmt: skip
        assert key in item, key
    assert isinstance(item["ctime"], str) and str(item["docid"]).startswith("comos:")
    with_img = [i for i in seen if i["images"]]
    assert with_img and all(isinstance(i["images"][0]["w"], str) for i in with_img)
    assert any(i["img"] == [] for i in seen)


def test_backfill_window_has_items_in_consecutive_ten_minute_windows(server: ReplayServer) -> None:
    """The e2e window documented in data/README.md: 2021-11-06 09:00-09:40 UTC."""
    items = roll(server, num=50).json()["result"]["data"]
    flashes = requests.get(
        server.base_url + ZHIBO, params={"zhibo_id": 152, "page_size": 100}, timeout=10
    ).json()
    times = [datetime.fromtimestamp(int(i["ctime"]), UTC) for i in items]
    times += [
        datetime.strptime(f["create_time"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=BEIJING).astimezone(UTC)
        for f in flashes["result"]["data"]["feed"]["list"]
    ]
    start = datetime(2021, 11, 6, 9, 0, tzinfo=UTC)
    for n in range(4):
        lo, hi = start + timedelta(minutes=10 * n), start + timedelta(minutes=10 * (n + 1))
        assert any(lo <= t < hi for t in times), f"no item in [{lo}, {hi})"
    roll_only = [t for t in times[: len(items)] if start <= t < start + timedelta(minutes=40)]
    assert len(roll_only) == 2


def test_roll_unregistered_pair_answers_like_sina(server: ReplayServer) -> None:
    result = roll(server, pageid=153, lid=1686).json()["result"]
    assert result["status"]["code"] != 0 and result["status"]["msg"] == "未注册"
    assert result["data"] == []


def test_roll_jsonp_and_keyword_filter(server: ReplayServer) -> None:
    body = roll(server, callback="feedCardJsonpCallback", num=2).text
    assert body.startswith("try{feedCardJsonpCallback(") and body.endswith(");}catch(e){};")
    inner = json.loads(body[len("try{feedCardJsonpCallback(") : -len(");}catch(e){};")])
    assert len(inner["result"]["data"]) == 2
    filtered = roll(server, k="LPR", num=50).json()["result"]["data"]
    assert filtered and all("LPR" in i["title"] for i in filtered)


def test_roll_urls_point_at_the_replay_server_and_serve_the_page(server: ReplayServer) -> None:
    by_docid = {a["docid"]: a for a in manifest()}
    for item in roll(server, num=50).json()["result"]["data"]:
        real = by_docid[item["docid"]]["url"]
        assert item["url"] == server.base_url + "/" + real.split("://", 1)[1]
    seed = next(a for a in manifest() if "信息化和工业化深度融合" in a["title"])
    resp = requests.get(server.url_for(seed["url"]), timeout=10)
    assert resp.status_code == 200 and resp.headers["Content-Type"] == "text/html; charset=utf-8"
    page = resp.content.decode("utf-8")
    assert 'class="main-title"' in page and 'id="artibody"' in page and "RECONSTRUCTED" in page
    assert f'<meta property="og:url" content="{seed["url"]}">' in page
    assert "2021年11月30日 11:05" in page  # 03:05:31 GMT in Beijing time
    assert "&#123;" not in page and ".appendQr_wrap{" in page
    recorded = next(a for a in manifest() if a["kind"] == "recorded")
    original = (default_data_dir() / recorded["file"]).read_bytes()
    assert requests.get(server.url_for(recorded["url"]), timeout=10).content == original
    assert (
        requests.get(server.base_url + "/finance.sina.com.cn/china/doc-inope.shtml", timeout=10).status_code
        == 404
    )


def test_manifest_marks_reconstructed_articles() -> None:
    arts = manifest()
    assert len({a["docid"] for a in arts}) == len(arts)
    assert {a["kind"] for a in arts} == {"recorded", "reconstructed"}
    assert sum(a["kind"] == "recorded" for a in arts) == 6
    for a in arts:
        assert (default_data_dir() / a["file"]).is_file()
        if a["kind"] == "reconstructed":
            assert a["docid"].startswith("comos:nfr") and "RSSHUB-PAGE" in a["source"]


# --- zhibo ----------------------------------------------------------------------------------------


def test_zhibo_feed_shape_and_paging(server: ReplayServer) -> None:
    def page(n: int) -> list[dict[str, object]]:
        params = {"zhibo_id": 152, "page": n, "page_size": 2, "tag_id": 0, "dire": "f", "dpc": 1}
        data = requests.get(server.base_url + ZHIBO, params=params, timeout=10).json()
        assert data["result"]["status"]["code"] == 0
        return list(data["result"]["data"]["feed"]["list"])

    first, second, third = page(1), page(2), page(3)
    assert len(first) == 2 and len(second) == 1 and third == []
    items = first + second
    created = [str(i["create_time"]) for i in items]
    assert created == sorted(created, reverse=True)
    for item in items:
        assert {"id", "zhibo_id", "rich_text", "create_time", "creator", "docurl", "tag", "ext"} <= set(item)
        datetime.strptime(str(item["create_time"]), "%Y-%m-%d %H:%M:%S")
        ext = json.loads(str(item["ext"]))
        assert {"docurl", "docid", "stocks"} <= set(ext)
        assert str(item["rich_text"]).startswith("【")
        assert requests.get(str(item["docurl"]), timeout=10).status_code == 200
    assert any(json.loads(str(i["ext"]))["stocks"] for i in items)
    unknown = requests.get(server.base_url + ZHIBO, params={"zhibo_id": 999}, timeout=10).json()
    assert unknown["result"]["data"]["feed"]["list"] == []


# --- robots and binding ---------------------------------------------------------------------------


def test_robots_allows_everything_until_told_otherwise(server: ReplayServer) -> None:
    assert "Disallow" not in requests.get(server.base_url + "/robots.txt", timeout=10).text
    server.set_robots_disallow(["/finance.sina.com.cn/china/"])
    assert (
        "Disallow: /finance.sina.com.cn/china/"
        in requests.get(server.base_url + "/robots.txt", timeout=10).text
    )
    resp = requests.post(server.base_url + "/_replay/robots", json={"disallow": ["/x/"]}, timeout=10)
    assert resp.json() == {"disallow": ["/x/"]}


def _non_loopback_address() -> str | None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # no packet is sent: this only picks the outbound interface
            addr = str(probe.getsockname()[0])
        except OSError:
            return None
    return None if addr.startswith("127.") else addr


def test_server_binds_loopback_only(server: ReplayServer) -> None:
    assert server.host == "127.0.0.1"
    assert server.base_url == f"http://127.0.0.1:{server.port}"
    other = _non_loopback_address()
    if other is not None:  # a machine with only loopback has nothing more to check
        with pytest.raises(OSError), socket.create_connection((other, server.port), timeout=2):
            pass


# --- faults ---------------------------------------------------------------------------------------


def test_status_faults_with_count_recover(server: ReplayServer) -> None:
    server.set_fault(ROLL, "500", count=1)
    server.set_fault(ROLL, "503", count=1)
    server.set_fault(ROLL, "429", count=1, retry_after=3)
    assert roll(server).status_code == 500
    assert roll(server).status_code == 503
    limited = roll(server)
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "3"
    assert roll(server).status_code == 200
    log = [(e["path"], e["status"], e["fault"]) for e in server.request_log()]
    assert log == [(ROLL, 500, "500"), (ROLL, 503, "503"), (ROLL, 429, "429"), (ROLL, 200, None)]


def test_slow_exceeds_read_timeout_then_recovers(server: ReplayServer) -> None:
    server.set_fault(ROLL, "slow", count=1, seconds=1.5)
    with pytest.raises(requests.exceptions.ReadTimeout):
        requests.get(server.base_url + ROLL, params={"pageid": 155, "lid": 1686}, timeout=(2, 0.5))
    assert roll(server).status_code == 200


def test_reset_and_truncate(server: ReplayServer) -> None:
    url = first_page_url(server)
    server.set_fault("/finance.sina.com.cn/*", "reset", count=1)
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(url, timeout=5)
    server.set_fault("/finance.sina.com.cn/*", "truncate", count=1)
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        requests.get(url, timeout=5)
    assert requests.get(url, timeout=5).status_code == 200
    assert [e["fault"] for e in server.request_log()][-3:] == ["reset", "truncate", None]


def test_json_body_faults(server: ReplayServer) -> None:
    server.set_fault(ROLL, "malformed_json", count=1)
    with pytest.raises(ValueError):
        json.loads(roll(server).text)
    server.set_fault(ROLL, "empty_json", count=1)
    assert roll(server).json() == {}
    server.set_fault(ROLL, "empty_body", count=1)
    resp = roll(server)
    assert resp.status_code == 200 and resp.content == b""
    server.set_fault(ROLL, "jsonp", count=1, callback="cb")
    body = roll(server).text
    assert body.startswith("try{cb({") and json.loads(body[len("try{cb(") : -len(");}catch(e){};")])["result"]


def test_gbk_page_has_no_charset_anywhere(server: ReplayServer) -> None:
    url = first_page_url(server)
    normal = requests.get(url, timeout=5).content.decode("utf-8")
    server.set_fault("/finance.sina.com.cn/*", "gbk", count=1)
    resp = requests.get(url, timeout=5)
    assert resp.headers["Content-Type"] == "text/html"
    with pytest.raises(UnicodeDecodeError):
        resp.content.decode("utf-8")
    text = resp.content.decode("gbk")
    assert "charset" not in text.lower()
    title = next(a["title"] for a in manifest() if url.endswith(a["url"].split("://", 1)[1]))
    words = title.strip('"“”')[:4]
    assert words in text and words in normal


def test_moved_and_gone(server: ReplayServer) -> None:
    url = first_page_url(server)
    path = "/" + url.split("/", 3)[3]
    server.set_fault(path, "moved", count=1, status=302)
    resp = requests.get(url, timeout=5, allow_redirects=False)
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/_replay/moved" + path)
    followed = requests.get(resp.headers["Location"], timeout=5)
    assert followed.status_code == 200 and 'id="artibody"' in followed.text
    server.set_fault(path, "moved", count=1, location="/somewhere/else.shtml")
    assert (
        requests.get(url, timeout=5, allow_redirects=False)
        .headers["Location"]
        .endswith("/somewhere/else.shtml")
    )
    server.set_fault(path, "gone", count=1)
    assert requests.get(url, timeout=5).status_code == 404
    assert requests.get(url, timeout=5).status_code == 200


def test_unknown_layout_and_huge(server: ReplayServer) -> None:
    url = first_page_url(server)
    server.set_fault("/finance.sina.com.cn/*", "unknown_layout", count=1)
    page = requests.get(url, timeout=5).text
    assert "<html" in page
    for selector in ("main-title", "artibody", "article", "artibodyTitle", "pub_date", "date-source"):
        assert selector not in page
    server.set_fault("/finance.sina.com.cn/*", "huge", count=1, size=3 * 1024 * 1024)
    resp = requests.get(url, timeout=30)
    assert len(resp.content) == int(resp.headers["Content-Length"]) == 3 * 1024 * 1024
    assert resp.text.endswith("</body></html>")
    server.set_fault("/finance.sina.com.cn/*", "huge", count=1)
    with requests.get(url, timeout=30, stream=True) as big:
        assert int(big.headers["Content-Length"]) == 20 * 1024 * 1024
        assert next(big.iter_content(65536))  # the client may stop reading at any point


def test_every_kind_is_accepted_and_unknown_kinds_rejected(server: ReplayServer) -> None:
    for kind in FAULT_KINDS:
        server.set_fault("/never/*", kind, count=1)
    with pytest.raises(ValueError):
        server.set_fault("/x", "teapot")


def test_faults_over_http_with_regex_and_clear(server: ReplayServer) -> None:
    resp = requests.post(
        server.base_url + "/_replay/faults",
        json={"faults": [{"pattern": r"re:^/api/(roll|zhibo)/", "kind": "503", "count": 2}]},
        timeout=5,
    )
    assert resp.json()["rules"][0]["kind"] == "503"
    assert roll(server).status_code == 503
    assert requests.get(server.base_url + ZHIBO, params={"zhibo_id": 152}, timeout=5).status_code == 503
    assert roll(server).status_code == 200
    requests.post(server.base_url + "/_replay/faults", json={"pattern": ROLL, "kind": "500"}, timeout=5)
    assert roll(server).status_code == 500
    requests.delete(server.base_url + "/_replay/faults", timeout=5)
    assert roll(server).status_code == 200
    log = requests.get(server.base_url + "/_replay/log", timeout=5).json()
    assert [e["status"] for e in log] == [503, 503, 200, 500, 200]


def _mixed_run(server: ReplayServer, seed: int) -> list[int]:
    server.clear_faults()
    server.mix(seed, 0.5, ["500", "503", "429"])
    return [roll(server).status_code for _ in range(30)]


def test_mix_is_seeded_and_rate_bounded(server: ReplayServer) -> None:
    run_a, run_b, run_c = _mixed_run(server, 7), _mixed_run(server, 7), _mixed_run(server, 8)
    assert run_a == run_b and run_a != run_c
    failures = sum(code != 200 for code in run_a)
    assert 5 <= failures <= 25 and set(run_a) <= {200, 500, 503, 429}
    server.clear_faults()
    server.mix(1, 0.0)
    assert {roll(server).status_code for _ in range(5)} == {200}


# --- timeshift ------------------------------------------------------------------------------------


def test_timeshift_moves_the_newest_item_to_now() -> None:
    before = int(time.time())
    with ReplayServer(timeshift=True) as srv:
        items = roll(srv, num=50).json()["result"]["data"]
        ctimes = [int(i["ctime"]) for i in items]
        newest_recorded = max(max(a["ctime"] for a in manifest()), 0)
        assert before - 5 <= srv.shift_seconds + newest_recorded <= int(time.time()) + 5
        recorded = sorted((a["ctime"] for a in manifest()), reverse=True)
        assert [c - srv.shift_seconds for c in ctimes] == recorded
        newest = datetime.fromtimestamp(max(ctimes), BEIJING)
        page = requests.get(items[0]["url"], timeout=10).content.decode("utf-8")
        assert f"{newest:%Y年%m月%d日 %H:%M}" in page
        flash = requests.get(srv.base_url + ZHIBO, params={"zhibo_id": 152}, timeout=10).json()
        created = flash["result"]["data"]["feed"]["list"][0]["create_time"]
        assert created.startswith(f"{datetime.now(BEIJING):%Y-}")


# --- live mode ------------------------------------------------------------------------------------


def test_live_mode_publishes_copies_one_by_one_at_the_rate() -> None:
    from datetime import UTC as _UTC

    from pipeline.parse import parse_article_page

    recorded = manifest()
    with ReplayServer(live_rate=120.0) as srv:  # one copy every 0.5 s
        first = roll(srv, num=50).json()["result"]["data"]
        assert not any("回放" in i["title"] for i in first)  # nothing before its time
        assert max(int(i["ctime"]) for i in first) <= int(time.time()) + 1
        time.sleep(2.6)
        items = roll(srv, num=50).json()["result"]["data"]
        flashes = requests.get(srv.base_url + ZHIBO, params={"zhibo_id": 152}, timeout=10).json()
        listed = items + flashes["result"]["data"]["feed"]["list"]
        copies = [i for i in listed if "回放1" in str(i.get("title", i.get("rich_text")))]
        # about five copies by now (articles in the roll API, flashes in the 7x24 feed), none ahead of time
        assert 3 <= len(copies) <= 6
        now = time.time()
        live_articles = [i for i in items if "回放" in i["title"]]
        assert all(int(i["ctime"]) <= now + 1 for i in live_articles)
        newest = live_articles[0]
        assert newest["docid"].endswith("l1") and newest["docid"] not in {a["docid"] for a in recorded}
        page = requests.get(newest["url"], timeout=10)
        assert page.status_code == 200
        art = parse_article_page(page.content, newest["url"], datetime.now(_UTC))
        assert art.title == newest["title"] and art.docid == newest["docid"]
        assert art.published_at is not None
        assert abs(art.published_at.timestamp() - int(newest["ctime"])) <= 60  # the page carries its live time


def test_every_live_copy_carries_its_mark_in_the_page_title() -> None:
    """A title with quotes is HTML-escaped in the page; the copy's page must still name its loop."""
    from datetime import UTC as _UTC

    from pipeline.parse import parse_article_page

    with ReplayServer(live_rate=6000.0) as srv:  # every recorded article's copy within a second
        time.sleep(0.6)
        items = [i for i in roll(srv, num=50).json()["result"]["data"] if "回放1" in i["title"]]
        assert any('"' in i["title"] for i in items)  # the case that needs the escaped forms
        for item in items:
            page = requests.get(item["url"], timeout=10).content
            art = parse_article_page(page, item["url"], datetime.now(_UTC))
            assert "（回放1）" in art.title, (item["title"], art.title)


def test_each_loop_of_a_live_copy_is_a_page_of_its_own() -> None:
    """Two loops of one recorded item must not share a canonical URL or docid (they would be one article)."""
    from datetime import UTC as _UTC

    from pipeline.parse import parse_article_page

    with ReplayServer(live_rate=6000.0) as srv:  # two loops of every item within a second
        time.sleep(0.8)
        items = roll(srv, num=50).json()["result"]["data"] + roll(srv, num=50, page=2).json()["result"]["data"]
        by_loop: dict[str, set[str]] = {"回放1": set(), "回放2": set()}
        for item in items:
            for mark, seen in by_loop.items():
                if mark in item["title"]:
                    page = requests.get(item["url"], timeout=10).content
                    art = parse_article_page(page, item["url"], datetime.now(_UTC))
                    assert art.docid == item["docid"] and mark in art.title
                    seen.add(str(art.extra.get("canonical_url") or art.url))
        assert by_loop["回放1"] and by_loop["回放2"]
        assert not by_loop["回放1"] & by_loop["回放2"]
