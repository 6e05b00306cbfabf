"""Replay server: recorded Sina roll/7x24 feeds and article pages over real HTTP on loopback, with faults."""

from __future__ import annotations

import argparse
import html
import json
import logging
import re
import socket
import struct
import sys
import threading
import time
from collections.abc import Sequence
from datetime import datetime, timedelta
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

from pipeline.identity import BEIJING
from pipeline.replay.faults import FaultSet

log = logging.getLogger(__name__)

MAX_ROLL_NUM = 50  # Sina caps num; a bigger request gets this many
MAX_ZHIBO_PAGE_SIZE = 100
HUGE_DEFAULT_BYTES = 20 * 1024 * 1024


def default_data_dir() -> Path:
    """The data set shipped in the package (pipeline/replay/data)."""
    return Path(__file__).resolve().parent / "data"


def manifest(data_dir: Path | None = None) -> list[dict[str, Any]]:
    """Every recorded article: docid, real url, title, ctime (int, Unix s), kind, source, file, lids."""
    raw = json.loads(((data_dir or default_data_dir()) / "manifest.json").read_text(encoding="utf-8"))
    keys = ("docid", "url", "title", "ctime", "kind", "source", "file", "lids")
    return [{k: art[k] for k in keys} for art in raw["articles"]]


class DataSet:
    """The recorded data set, loaded once; pages are read from disk on demand."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        raw = json.loads((data_dir / "manifest.json").read_text(encoding="utf-8"))
        self.roll_pairs: set[str] = set(raw["roll_pairs"])
        self.zhibo_ids: set[int] = {int(z) for z in raw["zhibo_ids"]}
        # newest first, as Sina lists; ties broken by docid so paging is stable
        self.articles: list[dict[str, Any]] = sorted(raw["articles"], key=lambda a: (-a["ctime"], a["docid"]))
        self.flashes: list[dict[str, Any]] = sorted(raw["zhibo"], key=lambda z: (-z["_ctime"], -z["id"]))
        self.by_path: dict[str, dict[str, Any]] = {}
        for art in self.articles:
            parts = urlsplit(art["url"])
            self.by_path[parts.netloc + parts.path] = art
        times = [a["ctime"] for a in self.articles] + [z["_ctime"] for z in self.flashes]
        self.newest: int = max(times) if times else 0

    def page_bytes(self, art: dict[str, Any]) -> bytes:
        return (self.data_dir / str(art["file"])).read_bytes()


_LIVE_ID_RE = re.compile(r"(doc|detail)-i(?P<id>[a-z0-9]+?)l(?P<loop>\d+)\.")


class LiveFeed:
    """Live mode: after the recorded data set (shifted so its newest item is the server's start), copies
    of the recorded items appear one at a time, `rate` per minute, in the recorded order, looping.

    Copy k (k = 0, 1, ...) is recorded item k mod n of loop k // n + 1, published at
    start + (k + 1) * 60 / rate: the recorded spacing (hours to days between items) compressed to the
    chosen rate, so a newcomer sees items arrive at a steady pace. A copy gets fresh ids (docid
    `<id>l<loop>`, 7x24 id + loop * 10^7), its time, and its title marked （回放<loop>）, so it is a new
    article to the pipeline (same docid, URL or title + body would make it the old row again); its
    body is the recorded one, so dedup puts the copies of one item in one story. Nothing is listed
    before its time has come.
    """

    def __init__(self, data: DataSet, rate: float, start: float) -> None:
        if rate <= 0:
            raise ValueError("rate must be > 0 items per minute")
        self.rate = rate
        self.start = start
        # oldest first: the order copies are published in
        self.order: list[tuple[str, dict[str, Any]]] = sorted(
            [("article", a) for a in data.articles] + [("flash", z) for z in data.flashes],
            key=lambda kv: (kv[1]["ctime"] if kv[0] == "article" else kv[1]["_ctime"], str(kv[1].get("docid", kv[1].get("id")))),
        )
        self.lock = threading.Lock()
        self.by_path: dict[str, tuple[dict[str, Any], int, int]] = {}  # live page path -> (art, loop, time)

    def count(self, now: float) -> int:
        """How many copies are published by `now`."""
        if not self.order:
            return 0
        return max(0, int((now - self.start) * self.rate / 60.0))

    def published(self, k: int) -> int:
        return int(self.start + (k + 1) * 60.0 / self.rate)

    def copies(self, now: float) -> list[tuple[str, dict[str, Any], int, int]]:
        """(kind, recorded item, loop, published time) of every copy published by `now`, newest first."""
        n = len(self.order)
        out = []
        for k in range(self.count(now) - 1, -1, -1):
            kind, item = self.order[k % n]
            out.append((kind, item, k // n + 1, self.published(k)))
        return out

    @staticmethod
    def marked(title: str, loop: int) -> str:
        return f"{title}（回放{loop}）"

    def article_copy(self, art: dict[str, Any], loop: int, when: int) -> dict[str, Any]:
        """The recorded article as its live copy: fresh docid and URL (the live day in the path), title."""
        page_id = art["docid"].split(":", 1)[1]
        live_id = f"{page_id}l{loop}"
        parts = urlsplit(art["url"])
        day = _beijing(when).strftime("%Y-%m-%d")
        path = re.sub(r"/\d{4}-\d{2}-\d{2}/", f"/{day}/", parts.path, count=1).replace(page_id, live_id)
        url = f"{parts.scheme}://{parts.netloc}{path}"
        with self.lock:
            self.by_path[parts.netloc + path] = (art, loop, when)
        return {**art, "docid": f"comos:{live_id}", "url": url, "title": self.marked(art["title"], loop),
                "ctime": when}  # fmt: skip

    def flash_copy(self, z: dict[str, Any], loop: int, when: int) -> dict[str, Any]:
        text = str(z["rich_text"])
        return {**z, "id": int(z["id"]) + loop * 10_000_000, "rich_text": text + f"（回放{loop}）", "_ctime": when}

    def page_for(self, path: str) -> tuple[dict[str, Any], int, int] | None:
        with self.lock:
            return self.by_path.get(path)


class ReplayHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self, address: tuple[str, int], data: DataSet, timeshift: bool, live_rate: float | None = None
    ) -> None:
        super().__init__(address, ReplayHandler)
        self.data = data
        self.live = LiveFeed(data, live_rate, time.time()) if live_rate else None
        self.faults = FaultSet()
        self.log_lock = threading.Lock()
        self.requests_seen: list[dict[str, Any]] = []
        self.robots_disallow: list[str] = []
        self.in_flight = 0  # GETs being answered (a "slow" one may outlive its client)
        # Shift every time so the newest item is "now" and the rest keep their spacing.
        self.shift_seconds = int(time.time()) - data.newest if (timeshift or self.live) else 0

    @property
    def base_url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"

    def record(self, entry: dict[str, Any]) -> None:
        with self.log_lock:
            self.requests_seen.append(entry)


def _beijing(ts: int) -> datetime:
    return datetime.fromtimestamp(ts, BEIJING)


class ReplayHandler(BaseHTTPRequestHandler):
    server: ReplayHTTPServer
    protocol_version = "HTTP/1.1"
    server_version = "newsflow-replay/1"
    # headers and body go out in two writes; with Nagle on, keep-alive clients wait ~40 ms for each answer
    disable_nagle_algorithm = True
    _log_ctx: tuple[str, str, str | None] | None = None  # (path, query, fault) of the request being answered

    # --- plumbing -------------------------------------------------------------------------------

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("replay %s " + format, self.address_string(), *args)

    def finish(self) -> None:
        try:
            super().finish()
        except OSError:
            pass  # the reset fault closed the socket already

    def _base(self) -> str:
        host = self.headers.get("Host")
        return f"http://{host}" if host else self.server.base_url

    def _send(self, status: int, body: bytes, content_type: str, extra: dict[str, str] | None = None) -> None:
        self._log_now(status)
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            try:
                self.wfile.write(body)
            except OSError:
                # the client gave up (e.g. its read timeout during a "slow" fault): nothing to answer
                self.close_connection = True

    def _json(self, payload: Any, status: int = 200, callback: str | None = None) -> tuple[int, bytes, str]:
        text = json.dumps(payload, ensure_ascii=False)
        if callback:
            return (
                status,
                f"try{{{callback}({text});}}catch(e){{}};".encode(),
                "application/javascript; charset=utf-8",
            )
        return status, text.encode("utf-8"), "application/json; charset=utf-8"

    def _log_now(self, status: int) -> None:
        """Record the request before answering it: a client that has its answer finds it in the log."""
        ctx = getattr(self, "_log_ctx", None)
        if ctx is not None:
            self._log_ctx = None
            self._log(ctx[0], ctx[1], status, ctx[2])

    def _log(self, path: str, query: str, status: int, fault: str | None) -> None:
        self.server.record(
            {
                "method": self.command,
                "path": path,
                "query": query,
                "status": status,
                "fault": fault,
                "time": time.time(),
            }
        )

    # --- verbs ----------------------------------------------------------------------------------

    def do_HEAD(self) -> None:
        self.do_GET()

    def do_GET(self) -> None:
        with self.server.log_lock:
            self.server.in_flight += 1
        try:
            self._get()
        finally:
            with self.server.log_lock:
                self.server.in_flight -= 1

    def _get(self) -> None:
        parts = urlsplit(self.path)
        path, query = parts.path, parts.query
        if path.startswith("/_replay/") and not path.startswith("/_replay/moved/"):
            self._control_get(path)
            return
        picked = self.server.faults.pick(path)
        kind, params = picked if picked else (None, {})
        self._log_ctx = (path, query, kind)
        if kind in (
            "reset",
            "500",
            "503",
            "429",
            "gone",
            "moved",
            "slow",
            "empty_json",
            "empty_body",
            "huge",
        ):
            if self._early_fault(kind, params, path, query):
                return
        status, body, ctype, extra = self._route(path, parse_qs(query, keep_blank_values=True))
        if kind is not None and status == 200:
            status, body, ctype, extra, truncated = self._body_fault(kind, params, body, ctype, extra, path)
            if truncated:
                return
        self._send(status, body, ctype, extra)

    def do_POST(self) -> None:
        path = urlsplit(self.path).path
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b"{}"
        try:
            payload = json.loads(raw or b"{}")
            if path == "/_replay/faults":
                self.server.faults.apply_json(payload)
                status, body, ctype = self._json(self.server.faults.describe())
            elif path == "/_replay/robots":
                self.server.robots_disallow = [str(p) for p in payload.get("disallow", [])]
                status, body, ctype = self._json({"disallow": self.server.robots_disallow})
            elif path == "/_replay/log/clear":
                with self.server.log_lock:
                    self.server.requests_seen.clear()
                status, body, ctype = self._json({"cleared": True})
            else:
                status, body, ctype = self._json({"error": "not found"}, 404)
        except (ValueError, KeyError, TypeError) as exc:
            status, body, ctype = self._json({"error": str(exc)}, 400)
        self._send(status, body, ctype)

    def do_DELETE(self) -> None:
        if urlsplit(self.path).path == "/_replay/faults":
            self.server.faults.clear()
            status, body, ctype = self._json({"cleared": True})
        else:
            status, body, ctype = self._json({"error": "not found"}, 404)
        self._send(status, body, ctype)

    def _control_get(self, path: str) -> None:
        if path == "/_replay/log":
            with self.server.log_lock:
                entries = list(self.server.requests_seen)
            status, body, ctype = self._json(entries)
        elif path == "/_replay/faults":
            status, body, ctype = self._json(self.server.faults.describe())
        elif path == "/_replay/manifest":
            status, body, ctype = self._json(manifest(self.server.data.data_dir))
        else:
            status, body, ctype = self._json({"error": "not found"}, 404)
        self._send(status, body, ctype)

    # --- faults ---------------------------------------------------------------------------------

    def _early_fault(self, kind: str, params: dict[str, Any], path: str, query: str) -> bool:
        """Faults decided before the normal answer is built; True when the request is done."""
        if kind == "slow":
            time.sleep(float(params.get("seconds", 5.0)))
            return False
        if kind == "reset":
            self._log_now(0)
            # SO_LINGER 0 turns close() into a TCP RST: the client sees "connection reset by peer".
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True
            self.connection.close()
            return True
        if kind in ("500", "503"):
            status, body, ctype = self._json({"error": f"injected {kind}"}, int(kind))
            self._send(status, body, ctype)
        elif kind == "429":
            status, body, ctype = self._json({"error": "too many requests"}, 429)
            self._send(status, body, ctype, {"Retry-After": str(params.get("retry_after", 1))})
        elif kind == "gone":
            status, body, ctype = (
                404,
                b"<html><body><h1>404 Not Found</h1></body></html>",
                "text/html; charset=utf-8",
            )
            self._send(status, body, ctype)
        elif kind == "moved":
            status = int(params.get("status", 301))
            target = str(params.get("location") or "/_replay/moved" + path + (f"?{query}" if query else ""))
            if target.startswith("/"):
                target = self._base() + target
            body = b""
            self._send(status, body, "text/html; charset=utf-8", {"Location": target})
        elif kind in ("empty_json", "empty_body"):
            status = 200
            body = b"{}" if kind == "empty_json" else b""
            self._send(status, body, "application/json; charset=utf-8")
        elif kind == "huge":
            status = 200
            self._send_huge(int(params.get("size", HUGE_DEFAULT_BYTES)))
        else:  # pragma: no cover - guarded by the caller
            return False
        return True

    def _send_huge(self, size: int) -> None:
        head = b'<!DOCTYPE html><html><head><meta charset="utf-8"><title>huge</title></head><body>'
        tail = b"</body></html>"
        chunk = ("<p>" + "巨大的页面。" * 200 + "</p>\n").encode("utf-8")
        self._log_now(200)
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(size))
        self.end_headers()
        try:
            self.wfile.write(head)
            left = size - len(head) - len(tail)
            while left > 0:
                piece = chunk[:left] if left < len(chunk) else chunk
                self.wfile.write(piece)
                left -= len(piece)
            self.wfile.write(tail)
        except OSError:
            self.close_connection = True  # the client gave up (e.g. a body-size cap): expected

    def _body_fault(
        self, kind: str, params: dict[str, Any], body: bytes, ctype: str, extra: dict[str, str], path: str
    ) -> tuple[int, bytes, str, dict[str, str], bool]:
        if kind == "truncate":
            promised = len(body) + max(1024, len(body))
            self._log_now(200)
            self.send_response(200)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(promised))
            self.end_headers()
            try:
                self.wfile.write(body[: max(1, len(body) // 2)])
                self.wfile.flush()
            except OSError:
                pass
            self.close_connection = True
            return 200, body, ctype, extra, True
        if kind == "malformed_json":
            cut = body[: max(1, len(body) // 2)]
            return 200, cut.rstrip(b"}]") + b',"', "application/json; charset=utf-8", extra, False
        if kind == "jsonp":
            cb = str(params.get("callback", "feedCardJsonpCallback")).encode()
            return 200, b"try{" + cb + b"(" + body + b");}catch(e){};", "application/javascript", extra, False
        if kind == "gbk":
            text = body.decode("utf-8", errors="replace")
            text = re.sub(r"<meta[^>]+charset[^>]*>", "", text, flags=re.IGNORECASE)
            return 200, text.encode("gbk", errors="xmlcharrefreplace"), "text/html", extra, False
        if kind == "unknown_layout":
            art = self._article_for(path)
            title = art["title"] if art else "页面"
            html = (
                '<!DOCTYPE html><html><head><meta charset="utf-8"><title>' + title + "</title></head>"
                '<body><main class="nf-2030-layout"><header class="headline-x">' + title + "</header>"
                '<section class="story-x"><span>这是一种解析器从未见过的页面布局。</span></section></main></body></html>'
            )
            return 200, html.encode("utf-8"), "text/html; charset=utf-8", extra, False
        return 200, body, ctype, extra, False

    # --- normal routes --------------------------------------------------------------------------

    def _route(self, path: str, q: dict[str, list[str]]) -> tuple[int, bytes, str, dict[str, str]]:
        if path == "/api/roll/get":
            return (*self._roll(q), {})
        if path == "/api/zhibo/feed":
            return (*self._zhibo(q), {})
        if path == "/robots.txt":
            lines = (
                ["User-agent: *"] + [f"Disallow: {p}" for p in self.server.robots_disallow] + ["Allow: /", ""]
            )
            return 200, "\n".join(lines).encode(), "text/plain; charset=utf-8", {}
        art = self._article_for(path)
        if art is not None:
            return 200, self._page(art), art.get("content_type", "text/html; charset=utf-8"), {}
        return 404, b"<html><body><h1>404 Not Found</h1></body></html>", "text/html; charset=utf-8", {}

    def _article_for(self, path: str) -> dict[str, Any] | None:
        if path.startswith("/_replay/moved/"):
            path = path[len("/_replay/moved") :]
        live = self.server.live.page_for(path.lstrip("/")) if self.server.live else None
        if live is not None:
            art, loop, when = live
            return {**art, "_live": (loop, when)}
        return self.server.data.by_path.get(path.lstrip("/"))

    def _served_url(self, real_url: str) -> str:
        parts = urlsplit(real_url)
        return f"{self._base()}/{parts.netloc}{parts.path}"

    def _page(self, art: dict[str, Any]) -> bytes:
        body = self.server.data.page_bytes(art)
        shift = self.server.shift_seconds
        live = art.get("_live")
        if live is not None:
            _loop, when = live
            shift = when - int(art["ctime"])
        if not shift:
            return body
        text = body.decode("utf-8")
        if live is not None:
            # the title as the page writes it: raw, or HTML-escaped ("…" as &quot;…&quot; or &#34;…&#34;)
            title, marked = str(art["title"]), LiveFeed.marked(str(art["title"]), live[0])
            forms = {}
            for escape in (lambda t: t, html.escape, lambda t: t.replace('"', "&#34;")):
                forms[escape(title)] = escape(marked)
            pattern = re.compile("|".join(re.escape(f) for f in sorted(forms, key=len, reverse=True)))
            text = pattern.sub(lambda m: forms[m.group(0)], text)  # one pass: a mark is never marked again
            # The page names its own id (canonical link, og:url, docid meta): the copy's, or every loop
            # would be the same page (one canonical URL) and load as a new version of the first copy.
            page_id = str(art["docid"]).split(":", 1)[1]
            text = text.replace(page_id, f"{page_id}l{live[0]}")
        for iso in art.get("page_times", []):
            old = datetime.fromisoformat(iso).astimezone(BEIJING)
            new = old + timedelta(seconds=shift)
            for fmt in (
                "%Y年%m月%d日 %H:%M",
                "%Y年%m月%d日%H:%M",
                "%Y-%m-%dT%H:%M:%S+08:00",
                "%Y-%m-%d %H:%M:%S",
            ):
                text = text.replace(old.strftime(fmt), new.strftime(fmt))
        return text.encode("utf-8")

    def _int(self, q: dict[str, list[str]], name: str, default: int) -> int:
        try:
            return int((q.get(name) or [""])[0])
        except ValueError:
            return default

    def _roll(self, q: dict[str, list[str]]) -> tuple[int, bytes, str]:
        data = self.server.data
        shift = self.server.shift_seconds
        pageid, lid = (q.get("pageid") or [""])[0], (q.get("lid") or [""])[0]
        callback = (q.get("callback") or [""])[0] or None
        now = int(time.time())
        stamp = formatdate(now, localtime=False)
        if f"{pageid}:{lid}" not in data.roll_pairs:
            # Sina answers an unregistered pair with a non-zero status and no data (docs/sina.md, "Roll API").
            refusal = {"result": {"status": {"code": 2, "msg": "未注册"}, "timestamp": stamp, "data": []}}
            return self._json(refusal, callback=callback)
        num = min(max(self._int(q, "num", 20), 1), MAX_ROLL_NUM)
        page = max(self._int(q, "page", 1), 1)
        keyword = (q.get("k") or [""])[0]
        recorded = [{**a, "ctime": a["ctime"] + shift} for a in data.articles]
        if self.server.live is not None:
            live = self.server.live
            copies = [live.article_copy(item, loop, when) for kind, item, loop, when in live.copies(time.time())
                      if kind == "article"]  # fmt: skip
            recorded = copies + recorded  # copies are all newer than the recorded set
        listed = [a for a in recorded if lid in a["lids"] and (not keyword or keyword in a["title"])]
        items: list[dict[str, Any]] = []
        for art in listed[(page - 1) * num : page * num]:
            ct = art["ctime"]
            doc_id = art["docid"].split(":", 1)[1]
            bj = _beijing(ct)
            images = art.get("images") or []
            items.append(
                {
                    "docid": art["docid"],
                    "title": art["title"],
                    "intro": art.get("intro", ""),
                    "url": self._served_url(art["url"]),
                    "wapurl": f"https://finance.sina.cn/{bj:%Y-%m-%d}/detail-i{doc_id}.d.html",
                    "ctime": str(ct),
                    "intime": str(ct),
                    "mtime": str(ct),
                    "media_name": art.get("media", ""),
                    "author": art.get("author", ""),
                    "keywords": art.get("keywords", ""),
                    "lids": ",".join(art["lids"]),
                    "img": images[0] if images else [],
                    "images": images,
                }
            )
        payload: dict[str, Any] = {
            "result": {
                "status": {"code": 0, "msg": "succ"},
                "timestamp": stamp,
                "rtime": now,
                "total": len(listed),
                "end": 0,
                "lid": int(lid) if lid.isdigit() else lid,
                "pdps": [],
                "data": items,
            }
        }
        return self._json(payload, callback=callback)

    def _zhibo(self, q: dict[str, list[str]]) -> tuple[int, bytes, str]:
        data = self.server.data
        shift = self.server.shift_seconds
        zhibo_id = self._int(q, "zhibo_id", 152)
        size = self._int(q, "page_size", self._int(q, "pagesize", 20))
        size = min(max(size, 1), MAX_ZHIBO_PAGE_SIZE)
        page = max(self._int(q, "page", 1), 1)
        tag_id = self._int(q, "tag_id", self._int(q, "tag", 0))
        callback = (q.get("callback") or [""])[0] or None
        known = zhibo_id in data.zhibo_ids
        every = [{**z, "_ctime": z["_ctime"] + shift} for z in data.flashes]
        if self.server.live is not None:
            live = self.server.live
            every = [live.flash_copy(item, loop, when) for kind, item, loop, when in live.copies(time.time())
                     if kind == "flash"] + every  # fmt: skip
        flashes = [
            z for z in every
            if known and z["zhibo_id"] == zhibo_id and (not tag_id or any(t["id"] == tag_id for t in z["tag"]))
        ]  # fmt: skip
        out = []
        for z in flashes[(page - 1) * size : page * size]:
            item = {k: v for k, v in z.items() if not k.startswith("_")}
            when = _beijing(z["_ctime"])
            item["create_time"] = item["update_time"] = f"{when:%Y-%m-%d %H:%M:%S}"
            item["docurl"] = self._served_url(z["docurl"]) if z.get("docurl") else ""
            ext = json.loads(z["ext"])
            if ext.get("docurl"):
                ext["docurl"] = item["docurl"]
            item["ext"] = json.dumps(ext, ensure_ascii=False)
            out.append(item)
        total = len(flashes)
        last = max((total + size - 1) // size, 1)
        payload = {
            "result": {
                "status": {"code": 0 if known else 1, "msg": "OK" if known else "zhibo_id not found"},
                "timestamp": formatdate(time.time()),
                "data": {
                    "zhibo": {"id": zhibo_id, "title": "财经"} if known else {},
                    "feed": {
                        "list": out,
                        "html": "",
                        "page_info": {
                            "totalPage": last,
                            "pageSize": size,
                            "prePage": max(page - 1, 1),
                            "nextPage": min(page + 1, last),
                            "firstPage": 1,
                            "lastPage": last,
                            "totalNum": total,
                            "pName": "page",
                            "page": page,
                        },
                    },
                },
            }
        }
        return self._json(payload, callback=callback)


class ReplayServer:
    """The replay server in a background thread: `with ReplayServer() as srv: requests.get(srv.base_url…)`."""

    def __init__(
        self,
        data_dir: Path | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        timeshift: bool = False,
        live_rate: float | None = None,
    ) -> None:
        self.data_dir = Path(data_dir) if data_dir else default_data_dir()
        self.data = DataSet(self.data_dir)
        self.httpd = ReplayHTTPServer((host, port), self.data, timeshift, live_rate)
        self._thread: threading.Thread | None = None

    # lifecycle
    def start(self) -> ReplayServer:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self.httpd.serve_forever, name="replay-server", daemon=True
            )
            self._thread.start()
            log.info("replay server on %s (data %s)", self.base_url, self.data_dir)
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self.httpd.shutdown()
            self._thread.join(timeout=10)
            self._thread = None
        self.httpd.server_close()

    def __enter__(self) -> ReplayServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # addresses
    @property
    def base_url(self) -> str:
        return self.httpd.base_url

    @property
    def host(self) -> str:
        return str(self.httpd.server_address[0])

    @property
    def port(self) -> int:
        return int(self.httpd.server_address[1])

    @property
    def shift_seconds(self) -> int:
        return self.httpd.shift_seconds

    def url_for(self, real_url: str) -> str:
        """Where the replay server serves a recorded page's real URL."""
        parts = urlsplit(real_url)
        return f"{self.base_url}/{parts.netloc}{parts.path}"

    # faults
    def set_fault(self, pattern: str, kind: str, *, count: int | None = None, **params: Any) -> None:
        self.httpd.faults.add(pattern, kind, count=count, **params)

    def clear_faults(self) -> None:
        self.httpd.faults.clear()

    def mix(self, seed: int, rate: float, kinds: Sequence[str] | None = None, pattern: str = "*") -> None:
        self.httpd.faults.set_mix(seed, rate, kinds, pattern)

    def set_robots_disallow(self, paths: Sequence[str]) -> None:
        self.httpd.robots_disallow = list(paths)

    # observation
    def request_log(self) -> list[dict[str, Any]]:
        with self.httpd.log_lock:
            return [dict(e) for e in self.httpd.requests_seen]

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Wait until no GET is being answered (e.g. a "slow" fault whose client already gave up)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.httpd.log_lock:
                if self.httpd.in_flight == 0:
                    return True
            time.sleep(0.02)
        return False

    def clear_log(self) -> None:
        with self.httpd.log_lock:
            self.httpd.requests_seen.clear()

    def manifest(self) -> list[dict[str, Any]]:
        return manifest(self.data_dir)


def serve(
    host: str = "127.0.0.1",
    port: int = 8765,
    data_dir: Path | None = None,
    timeshift: bool = False,
    live_rate: float | None = None,
) -> None:
    """Serve in the foreground until interrupted."""
    srv = ReplayServer(data_dir=data_dir, host=host, port=port, timeshift=timeshift, live_rate=live_rate)
    print(
        f"replay server: {srv.base_url}  (data: {srv.data_dir}, {len(srv.data.articles)} articles"
        f"{f', timeshift {srv.shift_seconds:+d} s' if timeshift or live_rate else ''}"
        f"{f', live: a new item every {60 / live_rate:.0f} s' if live_rate else ''})",
        flush=True,
    )
    print(f"offline switch: export NEWSFLOW_REPLAY_URL={srv.base_url}", flush=True)
    try:
        srv.httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        srv.httpd.server_close()


def add_cli_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default 127.0.0.1, loopback only)"
    )
    parser.add_argument("--port", type=int, default=8765, help="port (default 8765; 0 picks a free one)")
    parser.add_argument("--data", type=Path, default=None, help="data set folder (default: the packaged one)")
    parser.add_argument(
        "--timeshift", action="store_true", help="shift all times so the newest recorded item is 'now'"
    )
    parser.add_argument(
        "--live",
        action="store_true",
        help="after the recorded items (shifted to now), publish copies of them one by one, --rate per minute",
    )
    parser.add_argument("--rate", type=float, default=3.0, help="live mode: items per minute (default 3)")


def run_cli(args: argparse.Namespace) -> int:
    data = args.data
    if data is not None and not (Path(data) / "manifest.json").is_file():
        print(f"newsflow replay serve: error: {data} has no manifest.json (not a replay data set)", file=sys.stderr)
        return 2
    if args.live and args.rate <= 0:
        print("newsflow replay serve: error: --rate must be > 0", file=sys.stderr)
        return 2
    serve(args.host, args.port, data, args.timeshift, args.rate if args.live else None)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="newsflow replay serve", description=__doc__)
    add_cli_arguments(parser)
    return run_cli(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
