"""Chinese full-text search over stored articles: the query API, the CLI helpers and the SQL fold tables.

The search itself is one SQL function, ``search_articles`` (sql/004_search.sql); this module calls it
(through pipeline.store.search, the only code here that touches Postgres) and formats its rows.

How matching works (the same whether called from psql, the CLI or Python):

* Every article has ``search_text`` = fold(title) + "\\n" + fold(body_text) + "\\n" + each stock code,
  where fold is :func:`pipeline.textnorm.fold` (NFKC, lower case, no whitespace, punctuation or
  symbols), and ``search_vector``, a tsvector of the character bigrams of each part (plus the last
  character of each part) with a GIN index. Both are filled by a trigger whenever a row is written.
* A query term matches an article exactly when fold(term) is a substring of fold(title), fold(body)
  or a stock code. The GIN index finds candidates by the term's bigrams; terms of three or more
  characters are then verified with strpos(), so ``数字孪生`` never matches ``数字…孪生``.
* A one-character term matches the articles that contain that character (a prefix scan of the
  bigram index: exact, but slower than longer terms for very common characters).
* Ranking: ``relevance`` (title hits weigh 3, then ln(1 + occurrences) per term, newer first on ties)
  is computed over the newest 100 matching stories (or offset + limit, if more), a documented cap
  that keeps a common term from scoring every one of its matches; ``recent`` is exact.
  ``story_matches`` is always exact.
* Query syntax: terms separated by spaces must all match (AND); ``"a phrase"`` or ``“a phrase”`` keeps
  its spaces inside one term; ``-term`` excludes; ``a OR b`` (or ``a | b``) matches either. A query
  with no text (only filters) lists matching articles newest first.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import unicodedata
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, TextIO

from pipeline.errors import PipelineError
from pipeline.textnorm import fold

ORDER_BY_CHOICES = ("relevance", "recent")
MAX_QUERY_CHARS = 1000  # longer queries are refused by search_articles() with a clear error
HIGHLIGHT_START = "\x02"  # snippet markers returned by search_articles(); never in folded text
HIGHLIGHT_STOP = "\x03"


class SearchQueryError(PipelineError):
    """The query string or a filter cannot be searched (no letters or digits, too long, bad option)."""


@dataclass(frozen=True)
class SearchHit:
    """One row of search_articles(): an article (the best of its story when collapsed)."""

    article_id: int
    story_id: int  # articles.story_id, or article_id when the article is in no story
    story_matches: int  # matching articles in the same story (1 when not collapsed)
    title: str
    published_at: datetime | None
    media: str | None
    source: str
    url: str | None
    score: float
    snippet: str  # body text around the first match; matches between HIGHLIGHT_START/STOP markers


def search_fold(text: str) -> str:
    """The fold search applies to text and query terms; the SQL newsflow_search_fold() agrees with it."""
    return fold(text)


def search_text(title: str, body: str, stock_codes: list[str] | tuple[str, ...] = ()) -> str:
    """What the trigger stores in articles.search_text (the SQL newsflow_search_text() agrees)."""
    return "\n".join([fold(title), fold(body), *(fold(code) for code in stock_codes)])


def _parse_time(text: str, *, end: bool) -> datetime:
    """'2021-11-01' or an ISO timestamp; naive values are UTC. A bare date as --until includes that day."""
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            day = date.fromisoformat(text)
            value = datetime.combine(day, time.min, tzinfo=UTC)
            return value + timedelta(days=1) if end else value
        parsed = datetime.fromisoformat(text)
    except ValueError as exc:
        raise SearchQueryError(f"not a date or timestamp: {text!r} (expected e.g. 2021-11-01)") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def search(
    query: str,
    *,
    url: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    source: str | None = None,
    media: str | None = None,
    is_policy: bool | None = None,
    issuer: str | None = None,
    doc_type: str | None = None,
    topic: str | None = None,
    stock: str | None = None,
    collapse: bool = True,
    order_by: str = "relevance",
    limit: int = 20,
    offset: int = 0,
) -> list[SearchHit]:
    """Search articles; `since` is inclusive and `until` exclusive on published_at.

    Raises SearchQueryError for a query that cannot be searched (see search_articles() in
    sql/004_search.sql for the rules); never lets a query string reach SQL as code.
    """
    from pipeline.store import search as store_search

    if order_by not in ORDER_BY_CHOICES:
        raise SearchQueryError(f"order_by must be one of {', '.join(ORDER_BY_CHOICES)}, not {order_by!r}")
    rows = store_search.search_articles(
        query,
        url=url,
        since=since,
        until=until,
        source=source,
        media=media,
        is_policy=is_policy,
        issuer=issuer,
        doc_type=doc_type,
        topic=topic,
        stock=stock,
        collapse=collapse,
        order_by=order_by,
        limit=limit,
        offset=offset,
    )
    return [SearchHit(**row) for row in rows]


# --- CLI ------------------------------------------------------------------------------------------


def add_cli_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of `newsflow search QUERY [filters]`."""
    parser.add_argument("query", nargs="?", default="", help='terms (AND), "phrase", -exclude, a OR b')
    parser.add_argument("--since", help="published at or after (YYYY-MM-DD or ISO timestamp, UTC)")
    parser.add_argument("--until", help="published before (a bare date includes that whole day)")
    parser.add_argument("--source", help="articles.source, e.g. hexo or roll:155:1686")
    parser.add_argument("--media", help="articles.media, e.g. 中国证券报")
    policy = parser.add_mutually_exclusive_group()
    policy.add_argument(
        "--policy", dest="is_policy", action="store_const", const=True, help="policy documents"
    )
    policy.add_argument("--not-policy", dest="is_policy", action="store_const", const=False)
    parser.add_argument("--issuer", help="issuing body tag, e.g. 工信部")
    parser.add_argument("--doc-type", help="document type tag, e.g. 规划")
    parser.add_argument("--topic", help="topic tag")
    parser.add_argument("--stock", help="stock code, e.g. sz300024")
    parser.add_argument("--no-collapse", dest="collapse", action="store_false", help="one row per article")
    parser.add_argument("--order-by", choices=ORDER_BY_CHOICES, default="relevance")
    parser.add_argument("--limit", type=int, default=20)
    parser.add_argument("--offset", type=int, default=0)
    parser.add_argument("--json", action="store_true", help="one JSON array instead of a table")
    parser.add_argument(
        "--database-url", dest="database_url", help="default: NEWSFLOW_DATABASE_URL or embedded"
    )


def _plain_snippet(snippet: str, start: str, stop: str) -> str:
    return snippet.replace(HIGHLIGHT_START, start).replace(HIGHLIGHT_STOP, stop)


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _clip(text: str, width: int) -> str:
    out: list[str] = []
    used = 0
    for ch in text:
        w = 2 if unicodedata.east_asian_width(ch) in "WF" else 1
        if used + w > width:
            return "".join(out) + "…"
        out.append(ch)
        used += w
    return "".join(out)


def format_table(hits: list[SearchHit], *, color: bool = False) -> str:
    """A readable listing: one header line per hit, the snippet indented under it."""
    if not hits:
        return "no matching articles"
    start, stop = ("\x1b[1;31m", "\x1b[0m") if color else ("[", "]")
    lines = []
    for hit in hits:
        when = hit.published_at.strftime("%Y-%m-%d %H:%M") if hit.published_at else "-" * 16
        story = f"  (+{hit.story_matches - 1} in story)" if hit.story_matches > 1 else ""
        lines.append(f"{when}  #{hit.article_id:<8} {_clip(hit.title, 70)}{story}")
        meta = " · ".join(x for x in (hit.media, hit.source, hit.url) if x)
        lines.append(f"{'':18}{meta}  score {hit.score:.2f}")
        snippet = _plain_snippet(hit.snippet, start, stop).replace("\n", " ")
        lines.append(f"{'':18}{snippet}")
        lines.append("")
    return "\n".join(lines).rstrip() + f"\n{len(hits)} result(s)"


def hits_to_json(hits: list[SearchHit]) -> str:
    def row(hit: SearchHit) -> dict[str, Any]:
        data = asdict(hit)
        data["published_at"] = hit.published_at.isoformat() if hit.published_at else None
        data["snippet"] = _plain_snippet(hit.snippet, "<b>", "</b>")
        return data

    return json.dumps([row(h) for h in hits], ensure_ascii=False, indent=2)


def run_cli(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """Run `newsflow search`; 0 with results or none, 2 for a query that cannot be searched."""
    out = out or sys.stdout
    try:
        hits = search(
            args.query,
            url=args.database_url,
            since=_parse_time(args.since, end=False) if args.since else None,
            until=_parse_time(args.until, end=True) if args.until else None,
            source=args.source,
            media=args.media,
            is_policy=args.is_policy,
            issuer=args.issuer,
            doc_type=args.doc_type,
            topic=args.topic,
            stock=args.stock,
            collapse=args.collapse,
            order_by=args.order_by,
            limit=args.limit,
            offset=args.offset,
        )
    except SearchQueryError as exc:
        print(f"newsflow search: {exc}", file=sys.stderr)
        return 2
    if args.json:
        out.write(hits_to_json(hits) + "\n")
    else:
        out.write(format_table(hits, color=out.isatty()) + "\n")
    return 0


# --- the SQL side of fold -------------------------------------------------------------------------
# PostgreSQL has NFKC (normalize()) but its lower() follows the database's locale and its regexes know
# no Unicode categories. So the tables fold needs (which code points are letters/marks/numbers, which
# are unassigned, which lower-case to what) are generated from Python's own unicodedata and written
# into the migration; tests/db/test_search.py checks that the migration holds exactly this text.

FOLD_SQL_BEGIN = "-- BEGIN GENERATED by pipeline.search.render_fold_sql(); do not edit by hand"
FOLD_SQL_END = "-- END GENERATED"
# A permanently unassigned code point: stands in for code points unassigned in Python's Unicode
# version, so a newer server's NFKC cannot map them to letters while composition still stops there.
_UNASSIGNED_STAND_IN = 0xFFFF


# Word_Break MidLetter / MidNumLet / Single_Quote: case-ignorable although not marks.
_MID_LETTER = "'.:\u00b7\u0387\u055f\u05f4\u2018\u2019\u2024\u2027\ufe13\ufe52\ufe55\uff07\uff0e\uff1a"


def _ranges(pred: Any) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    start: int | None = None
    for cp in range(1, 0x110000):
        ok = not (0xD800 <= cp <= 0xDFFF) and bool(pred(chr(cp)))
        if ok and start is None:
            start = cp
        elif not ok and start is not None:
            out.append((start, cp - 1))
            start = None
    if start is not None:
        out.append((start, 0x10FFFF))
    return out


def _re_escape(cp: int) -> str:
    return f"\\u{cp:04x}" if cp <= 0xFFFF else f"\\U{cp:08x}"


def _re_class(ranges: list[tuple[int, int]]) -> str:
    parts = [_re_escape(a) if a == b else f"{_re_escape(a)}-{_re_escape(b)}" for a, b in ranges]
    return "[" + "".join(parts) + "]"


def _sql_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def render_fold_sql() -> str:
    """CREATE FUNCTION newsflow_search_fold(text): textnorm.fold in SQL, for this Python's Unicode."""
    unassigned = _ranges(lambda c: unicodedata.category(c) == "Cn")
    dropped = _ranges(lambda c: unicodedata.category(c)[0] not in "LMN")
    upper_single = [
        chr(cp)
        for cp in range(0x80, 0x110000)
        if not (0xD800 <= cp <= 0xDFFF) and chr(cp).lower() != chr(cp) and len(chr(cp).lower()) == 1
    ]
    upper_multi = [
        chr(cp) for cp in range(0x80, 0x110000) if not (0xD800 <= cp <= 0xDFFF) and len(chr(cp).lower()) > 1
    ]
    has_upper = _re_class(_ranges(lambda c: ord(c) >= 0x80 and c.lower() != c))
    # str.lower() turns a capital sigma that ends a word into final sigma; Python's "cased" and
    # "case-ignorable" properties are approximated from the categories Python exposes.
    cased = _re_class(_ranges(lambda c: c.isupper() or c.islower() or unicodedata.category(c) == "Lt"))
    ignorable = _re_class(
        _ranges(lambda c: unicodedata.category(c) in ("Mn", "Me", "Cf", "Lm", "Sk") or c in _MID_LETTER)
    )
    final_sigma = f"(?<={cased}{ignorable}*)\\u03a3(?!{ignorable}*{cased})"
    lowered = f"regexp_replace(n, {_sql_literal(final_sigma)}, 'ς', 'g')"
    lowered = f'lower({lowered} COLLATE "C")'  # ASCII only, whatever the database's locale
    for ch in upper_multi:
        lowered = f"replace({lowered}, {_sql_literal(ch)}, {_sql_literal(ch.lower())})"
    from_chars = "".join(upper_single)
    to_chars = "".join(c.lower() for c in upper_single)
    return "\n".join(
        [
            FOLD_SQL_BEGIN,
            f"-- Unicode {unicodedata.unidata_version}: NFKC, lower case, keep only letters, marks and numbers.",
            "CREATE OR REPLACE FUNCTION newsflow_search_fold(t text) RETURNS text",
            "LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $fold$",
            "SELECT regexp_replace(",
            f"    CASE WHEN n ~ {_sql_literal(has_upper)}",
            f"         THEN translate({lowered},",
            f"                        {_sql_literal(from_chars)},",
            f"                        {_sql_literal(to_chars)})",
            '         ELSE lower(n COLLATE "C") END,',
            f"    {_sql_literal(_re_class(dropped))}, '', 'g')",
            "FROM (SELECT normalize(regexp_replace(t,",
            f"    {_sql_literal(_re_class(unassigned))},",
            f"    chr({_UNASSIGNED_STAND_IN}), 'g'), NFKC) AS n) AS normalized",
            "$fold$;",
            FOLD_SQL_END,
        ]
    )
