"""Pure pieces of discovery: JSONP, Sina's string timestamps, windows (URLs: test_identity.py)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from pipeline.discover import Window, load_json, roll_item_to_feed_item, strip_jsonp, unix_time
from pipeline.errors import DiscoverError


def test_jsonp_wrappers_are_stripped() -> None:
    body = '{"result": {"status": {"code": 0}}}'
    assert strip_jsonp(body) == body
    assert strip_jsonp(f"feedCardJsonpCallback({body});") == body
    assert strip_jsonp(f"try{{feedCardJsonpCallback({body});}}catch(e){{}};") == body


def test_malformed_json_is_a_discover_error() -> None:
    with pytest.raises(DiscoverError, match="malformed JSON"):
        load_json(b'{"result": {"data": [', "roll:155:1686")


def test_unix_seconds_as_strings() -> None:
    assert unix_time("1638241531") == datetime(2021, 11, 30, 3, 5, 31, tzinfo=UTC)
    assert unix_time(1638241531) == unix_time("1638241531")
    assert unix_time("") is None and unix_time(None) is None and unix_time("abc") is None


def test_window_is_half_open() -> None:
    w = Window(datetime(2021, 11, 30, 3, tzinfo=UTC), datetime(2021, 11, 30, 3, 10, tzinfo=UTC))
    assert datetime(2021, 11, 30, 3, tzinfo=UTC) in w
    assert datetime(2021, 11, 30, 3, 10, tzinfo=UTC) not in w
    with pytest.raises(ValueError):
        Window(w.end, w.start)


def test_roll_item_with_empty_img_and_string_times() -> None:
    item = roll_item_to_feed_item(
        {
            "docid": "comos:kyakumx1234567",
            "title": "标题",
            "url": "https://finance.sina.com.cn/china/2021-11-30/doc-ikyakumx1234567.shtml",
            "ctime": "1638241531",
            "img": [],
            "images": [{"u": "https://n.sinaimg.cn/x.jpg", "w": "640", "h": 480}],
        },
        "roll:155:1686",
    )
    assert item is not None
    assert item.docid == "comos:kyakumx1234567" and item.item_key == item.docid
    assert item.published_at == datetime(2021, 11, 30, 3, 5, 31, tzinfo=UTC)
    assert roll_item_to_feed_item({"title": "no url", "ctime": "1"}, "roll:155:1686") is None
