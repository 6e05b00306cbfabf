"""The `newsflow` sub-commands: each takes its parsed arguments, does the work, prints, returns the exit code.

pipeline.cli declares the arguments and dispatches here; rendering helpers are in pipeline.terminal.
Heavy modules are imported inside the commands, so `newsflow --help` and `newsflow parse` start fast.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from pipeline.errors import PipelineError
from pipeline.terminal import Progress, json_default, parse_time, say_database, summary

log = logging.getLogger("newsflow")


class UsageError(PipelineError):
    """The command line asks for something that cannot be done as written (exit status 2)."""


def open_database(url: str | None = None, *, migrate: bool = True) -> str:
    """The database a command works on: say which on stderr, bring its schema up to date, return its URL.

    `url` (e.g. `search --database-url`) wins; else NEWSFLOW_DATABASE_URL; else the embedded server
    under pipeline.config.project_home(), the same one from any directory.
    """
    from pipeline import db

    url = url or db.database_url()
    say_database(url)
    if migrate:
        applied = db.migrate(url)
        if applied:
            log.info("applied migrations: %s", ", ".join(applied))
    return url


def _existing_dir(path: str) -> Path:
    folder = Path(path)
    if not folder.is_dir():
        raise UsageError(f"{path}: no such folder" if not folder.exists() else f"{path}: not a folder")
    return folder


# --- pipeline stages -------------------------------------------------------------------------------


def ingest(args: argparse.Namespace) -> int:
    from pipeline import flow
    from pipeline.config import Settings, parse_ids, parse_pairs

    until = args.until or parse_time("now")
    if until <= args.since:
        raise UsageError(f"--until ({until.isoformat()}) must be after --since ({args.since.isoformat()})")
    settings = Settings.from_env()
    if args.pairs:
        settings = dataclasses.replace(settings, roll_pairs=parse_pairs(args.pairs, "--pairs"))
    if args.max_pages:
        settings = dataclasses.replace(settings, max_pages=args.max_pages)
    if args.zhibo is not None:
        settings = dataclasses.replace(settings, zhibo_ids=parse_ids(args.zhibo, "--zhibo"))
    if args.rss:
        settings = dataclasses.replace(settings, rss_urls=tuple(args.rss))
    url = open_database()
    counts = flow.ingest_window(flow.Window(args.since, until), settings, url=url)
    print(f"ingest {args.since.isoformat()} .. {until.isoformat()}: {summary(counts)}")
    return 0


def import_archive(args: argparse.Namespace) -> int:
    from pipeline import flow

    folder = _existing_dir(args.directory)  # before a database server is started for nothing
    url = open_database()
    with Progress("import") as progress:
        counts = flow.import_archive(folder, url=url, progress=progress)
    print(f"import-archive {args.directory}: {summary(counts)}")
    return 0


def reparse(args: argparse.Namespace) -> int:
    from pipeline import flow

    url = open_database()
    with Progress("reparse") as progress:
        counts = flow.reparse(url=url, progress=progress)
    print(f"reparse: {summary(counts)}")
    return 0


def retag(args: argparse.Namespace) -> int:
    from pipeline import flow
    from pipeline.tag import TAGGER_VERSION

    counts = flow.retag_all(open_database())
    print(f"retag ({TAGGER_VERSION}): {summary(counts)}")
    return 0


def policies(args: argparse.Namespace) -> int:
    from pipeline.store.policies import list_policies

    rows = list_policies(open_database(migrate=False), limit=args.limit, issuer=args.issuer, query=args.query)
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, default=json_default, indent=1))
        return 0
    for r in rows:
        number = f" {r['doc_number']}" if r["doc_number"] else ""
        kind = r["doc_type"] or "?"
        if r["carrier"]:
            kind += f" (by {r['carrier']})"
        issuers = "、".join(f"{n}[{lv}]" for n, lv in zip(r["issuers"], r["issuer_levels"], strict=False))
        first = f"{r['first_reported_at']:%Y-%m-%d %H:%M}Z" if r["first_reported_at"] else "-"
        print(f"#{r['policy_id']} 《{r['title']}》{number}  {kind}  {issuers or '-'}")
        print(f"    first reported {first}; {r['articles']} article(s) in {r['stories']} story(ies)")
    print(f"{len(rows)} policy record(s)")
    return 0


def stocks(args: argparse.Namespace) -> int:
    from pipeline.store.stocks import list_stock_news
    from pipeline.tag.stocks import market_of

    code = args.code.strip().lower()
    if code.isdigit() and len(code) == 6:
        market = market_of(code)
        if market is None:
            raise UsageError(f"{args.code}: not an A-share code; give it with its exchange (sh, sz, bj, hk ...)")
        code = market + code
    rows = list_stock_news(open_database(migrate=False), code, min_confidence=args.min_confidence, limit=args.limit)
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, default=json_default, indent=1))
        return 0
    for r in rows:
        when = f"{r['published_at']:%Y-%m-%d %H:%M}Z" if r["published_at"] else "-"
        print(f"{when}  {r['confidence']:.2f} {'/'.join(r['vias'])}  {r['title']}  ({r['media'] or '-'})")
        print(f"    {r['evidence']}")
    print(f"{len(rows)} article(s) linked to {code}")
    return 0


def dedup(args: argparse.Namespace) -> int:
    from pipeline import flow

    if not args.rebuild:
        raise UsageError("nothing to do: use --rebuild to recompute signatures and story clusters")
    counts = flow.rebuild_dedup(open_database())
    print(f"dedup --rebuild: {summary(counts)}")
    return 0


def reindex(args: argparse.Namespace) -> int:
    from pipeline.store.search import reindex as reindex_articles

    done = reindex_articles(open_database(), only_missing=args.only_missing)
    print(f"reindex: {done} articles indexed")
    return 0


def parse(args: argparse.Namespace) -> int:
    from pipeline.parse import detect_and_parse
    from pipeline.tag import tag_article

    path = Path(args.file)
    article = detect_and_parse(path.read_bytes(), path.name, url=args.url)
    data = dataclasses.asdict(article)
    data["body_text"] = article.body_text
    data["tags"] = [dataclasses.asdict(t) for t in tag_article(article)]
    if args.json:
        print(json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True, default=json_default))
    else:
        for key in (
            "docid",
            "url",
            "title",
            "original_title",
            "published_at",
            "media",
            "editor",
            "parser_version",
        ):
            print(f"{key:15} {json_default(data[key]) if isinstance(data[key], datetime) else data[key]}")
        print(f"{'stocks':15} {' '.join(s['code'] + '(' + (s['name'] or '') + ')' for s in data['stocks'])}")
        print(f"{'paragraphs':15} {len(article.paragraphs)} ({len(article.body_text)} chars)")
    return 0


# --- reading -------------------------------------------------------------------------------------


def search(args: argparse.Namespace) -> int:
    """0 with results or none; a query that cannot be searched is a usage error (2)."""
    from pipeline.search import search as search_articles
    from pipeline.terminal import format_hits, hits_to_json

    if not args.query.strip() and not _has_search_filter(args):
        raise UsageError(
            "search needs a query or a filter (e.g. newsflow search 工信部, or --since 2021-11-01)"
        )
    hits = search_articles(
        args.query,
        url=open_database(args.database_url, migrate=False),
        since=args.since,
        until=args.until,
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
    if args.json:
        sys.stdout.write(hits_to_json(hits) + "\n")
    else:
        sys.stdout.write(format_hits(hits, color=sys.stdout.isatty()) + "\n")
    return 0


def _has_search_filter(args: argparse.Namespace) -> bool:
    filters = ("since", "until", "source", "media", "is_policy", "issuer", "doc_type", "topic", "stock")
    return any(getattr(args, name) is not None for name in filters)


def dead_letters(args: argparse.Namespace) -> int:
    import getpass

    from pipeline.store import deadletters as letters

    select = letters.Selection(ids=tuple(args.ids), stage=args.stage, source=args.source)
    if args.action == "retry":
        if not (args.ids or args.stage or args.source):
            raise UsageError("retry what? give dead-letter ids, --stage or --source")
        n = letters.retry_dead_letters(open_database(), select)
        print(f"{n} dead letter(s) due now: the next run retries them")
        return 0
    if args.action == "ignore":
        if not args.ids and not (args.stage or args.source):
            raise UsageError("ignore what? give dead-letter ids, --stage or --source")
        if not args.reason:
            raise UsageError("ignore needs --reason (it is kept with the dead letter)")
        n = letters.ignore_dead_letters(
            open_database(), select, reason=args.reason, by=args.by or getpass.getuser()
        )
        print(f"{n} dead letter(s) ignored: no run retries them")
        return 0
    rows = letters.list_dead_letters(
        open_database(migrate=False), include_resolved=args.all, limit=args.limit, select=select
    )
    for row in rows:
        due = (
            f"  next try {row.next_attempt_at:%Y-%m-%d %H:%M}Z"
            if row.state == "open" and row.next_attempt_at
            else ""
        )
        why = f" ({row.ignore_reason})" if row.ignore_reason else ""
        print(
            f"#{row.dead_letter_id} {row.last_failed_at:%Y-%m-%d %H:%M} {row.stage:8} {row.attempts:>2}x "
            f"{row.source} {row.item_key}  [{row.state}]{why}{due}\n    {row.error}"
        )
    print(f"{len(rows)} dead letter(s)")
    return 0


# --- the database ------------------------------------------------------------------------------


def _without_password(url: str) -> tuple[str, str | None]:
    """The URL minus its password, and the password: psql gets it by PGPASSWORD, not on its command line."""
    parts = urlsplit(url)
    password = parts.password or None
    netloc = parts.netloc
    if password:
        userinfo, _, hostport = netloc.rpartition("@")
        netloc = f"{userinfo.split(':', 1)[0]}@{hostport}"
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    for key, value in pairs:
        if key == "password":
            password = value
    query = urlencode([(k, v) for k, v in pairs if k != "password"], safe="/:")
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment)), password


def db(args: argparse.Namespace) -> int:
    from pipeline import db as database
    from pipeline.config import redact_url

    if args.action == "url":
        url = database.database_url()
        print(url if args.show_password else redact_url(url))
        return 0
    if args.action == "stop":
        if os.environ.get("NEWSFLOW_DATABASE_URL"):
            print("NEWSFLOW_DATABASE_URL is set: not stopping a server newsflow did not start")
            return 0
        pgdata = database.embedded_pgdata()
        stopped = database.stop_embedded(pgdata)
        print(f"{'stopped' if stopped else 'not running:'} embedded PostgreSQL in {pgdata}")
        return 0
    if args.action == "migrate":
        url = open_database(migrate=False)
        applied = database.migrate(url)
        print("applied: " + ", ".join(applied) if applied else "database is up to date")
        return 0
    # psql
    url, password = _without_password(open_database(migrate=False))
    psql = "psql"
    try:  # prefer the embedded server's own psql: a fresh machine may have no client installed
        import pgserver._commands as pgc

        if (Path(pgc.POSTGRES_BIN_PATH) / "psql").exists():
            psql = str(Path(pgc.POSTGRES_BIN_PATH) / "psql")
    except ImportError:
        pass
    env = {**os.environ, **({"PGPASSWORD": password} if password else {})}
    return subprocess.call([psql, url, *args.rest], env=env)


def replay(args: argparse.Namespace) -> int:
    from pipeline.replay import run_cli

    return run_cli(args)
