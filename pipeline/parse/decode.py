"""Bytes to text for fetched pages: declared charset first, then utf-8, then gb18030."""

from __future__ import annotations

import codecs
import logging
import re
from collections.abc import Mapping

from pipeline.errors import ParseError

log = logging.getLogger(__name__)

DECODE_VERSION = "decode.v1"

# Only <meta> tags count: Sina pages carry <link ... charset="GBK"> and <script charset="GBK"> for
# resources, which say nothing about the page itself.
_META_CHARSET_RE = re.compile(rb"""<meta\b[^>]*?\bcharset\s*=\s*["']?\s*([A-Za-z0-9_\-:.]+)""", re.IGNORECASE)
_HEADER_CHARSET_RE = re.compile(r"""charset\s*=\s*["']?\s*([A-Za-z0-9_\-:.]+)""", re.IGNORECASE)
# Head of the document that is sniffed for <meta charset>; Sina heads put it in the first few lines.
_SNIFF_BYTES = 16384
# A page with a handful of stray bytes (a broken emoji in a comment box) is still the page; a page
# with more than this is in an encoding we do not know and must not be guessed at.
_MAX_STRAY_BYTES = 16
_MAX_STRAY_RATIO = 0.001

# GB2312 and GBK are subsets of GB18030: decoding with the superset never loses a character that
# the page's author could have typed, and it covers the "declared gb2312, actually GBK" pages.
_ALIASES = {
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "gb_2312-80": "gb18030",
    "x-gbk": "gb18030",
    "cp936": "gb18030",
    "ms936": "gb18030",
    "windows-936": "gb18030",
    "gb18030": "gb18030",
    "utf8": "utf-8",
    "utf-8": "utf-8",
    "unicode-1-1-utf-8": "utf-8",
    # Browsers read iso-8859-1 as windows-1252; Sina never serves either for Chinese text.
    "iso-8859-1": "cp1252",
    "latin1": "cp1252",
    "us-ascii": "cp1252",
    "ascii": "cp1252",
}


def normalize_charset(name: str | None) -> str | None:
    """A Python codec name for a declared charset, or None when it is not a codec we know."""
    if not name:
        return None
    key = name.strip().strip("\"'").lower()
    if key in _ALIASES:
        return _ALIASES[key]
    try:
        return codecs.lookup(key).name
    except LookupError:
        return None


def header_charset(headers: Mapping[str, str] | None) -> str | None:
    if not headers:
        return None
    for key, value in headers.items():
        if key.lower() == "content-type" and value:
            m = _HEADER_CHARSET_RE.search(value)
            if m:
                return normalize_charset(m.group(1))
    return None


def meta_charset(body: bytes) -> str | None:
    m = _META_CHARSET_RE.search(body[:_SNIFF_BYTES])
    if not m:
        return None
    return normalize_charset(m.group(1).decode("ascii", "ignore"))


def _strict(body: bytes, encoding: str) -> str | None:
    try:
        return body.decode(encoding)
    except UnicodeDecodeError as exc:
        # A body cut off mid-character (a truncated transfer) is still the page minus one character.
        if exc.reason == "unexpected end of data" and exc.start >= len(body) - 4:
            try:
                return body[: exc.start].decode(encoding)
            except UnicodeDecodeError:
                return None
        return None
    except LookupError:
        return None


def _stray_bytes(body: bytes, encoding: str) -> int:
    count = 0

    def handler(exc: UnicodeError) -> tuple[str, int]:
        nonlocal count
        assert isinstance(exc, UnicodeDecodeError)
        count += exc.end - exc.start
        return "", exc.end

    name = "newsflow-count-stray"
    codecs.register_error(name, handler)
    body.decode(encoding, errors=name)
    return count


def decode_html(body: bytes, headers: Mapping[str, str] | None = None, *, url: str = "") -> tuple[str, str]:
    """Decode a page; returns (text, encoding). Never yields U+FFFD for input that is valid in some
    candidate encoding; input valid in none raises ParseError(field="encoding")."""
    if body.startswith(codecs.BOM_UTF8):
        text = _strict(body[3:], "utf-8")
        if text is not None:
            return text, "utf-8"
    candidates: list[str] = []
    for enc in (header_charset(headers), meta_charset(body), "utf-8", "gb18030"):
        if enc and enc not in candidates:
            candidates.append(enc)
    for enc in candidates:
        text = _strict(body, enc)
        if text is not None:
            if enc != candidates[0]:
                log.debug("%s: declared %s did not decode, used %s", url, candidates[0], enc)
            return text, enc
    # Nothing decodes cleanly: tolerate a few stray bytes in the most likely encoding.
    first = candidates[0]
    try:
        stray = _stray_bytes(body, first)
    except LookupError:
        stray = len(body)
    if stray <= _MAX_STRAY_BYTES and stray <= max(1, int(len(body) * _MAX_STRAY_RATIO)):
        log.warning("%s: dropped %d undecodable bytes (%s)", url, stray, first)
        return body.decode(first, errors="ignore"), first
    raise ParseError(url, DECODE_VERSION, "encoding", f"not valid in any of {', '.join(candidates)}")
