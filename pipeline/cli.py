"""`newsflow`: the command line over the same functions the DAGs call."""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import subprocess
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

log = logging.getLogger("newsflow")


def parse_time(text: str) -> datetime:
    """ISO 8601 (`2021-11-30`, `2021-11-30T03:00`, `…+08:00`); no offset means UTC. `now`, `-2h`, `-1d` too."""
    text = text.strip()
    now = datetime.now(UTC).replace(microsecond=0)
    if text == "now":
        return now
    if text.startswith("-") and text[-1:] in ("m", "h", "d") and text[1:-1].isdigit():
        unit = {"m": "minutes", "h": "hours", "d": "days"}[text[-1]]
        return now - timedelta(**{unit: int(text[1:-1])})
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a time: {text!r} (use e.g. 2021-11-30T03:00Z or -2h)") from exc
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    raise TypeError(type(value).__name__)


def _progress(label: str) -> Any:
    tty = sys.stderr.isatty()

    def show(done: int, total: int) -> None:
        if not total:
            return
        width = 30
        filled = int(width * done / total)
        line = f"\r{label} [{'#' * filled}{'.' * (width - filled)}] {done}/{total}"
        if tty:
            sys.stderr.write(line + ("\n" if done >= total else ""))
            sys.stderr.flush()

    return show


def _summary(counts: dict[str, int]) -> str:
    order = (
        "run_id", "posts", "discovered", "fetched", "skipped", "parsed", "duplicates", "failed", "refailed", "loaded",
    )  # fmt: skip
    return " ".join(f"{k}={counts[k]}" for k in order if k in counts)


def migrate_quietly() -> None:
    """Commands that write bring the schema up to date first (a no-op when it is)."""
    from pipeline import db

    applied = db.migrate()
    if applied:
        log.info("applied migrations: %s", ", ".join(applied))


# --- commands --------------------------------------------------------------------------------------


def cmd_ingest(args: argparse.Namespace) -> int:
    from pipeline import flow
    from pipeline.config import Settings, parse_pairs

    settings = Settings.from_env()
    if args.pairs:
        settings = dataclasses.replace(settings, roll_pairs=parse_pairs(args.pairs))
    if args.max_pages:
        settings = dataclasses.replace(settings, max_pages=args.max_pages)
    if args.zhibo is not None:
        settings = dataclasses.replace(settings, zhibo_ids=tuple(int(x) for x in args.zhibo.split(",") if x))
    if args.rss:
        settings = dataclasses.replace(settings, rss_urls=tuple(args.rss))
    window = flow.Window(args.since, args.until)
    migrate_quietly()
    counts = flow.ingest_window(window, settings)
    print(f"ingest {args.since.isoformat()} .. {args.until.isoformat()}: {_summary(counts)}")
    return 0


def cmd_import_archive(args: argparse.Namespace) -> int:
    from pipeline import flow

    migrate_quietly()
    counts = flow.import_archive(Path(args.directory), progress=_progress("import"))
    print(f"import-archive {args.directory}: {_summary(counts)}")
    return 0


def cmd_parse(args: argparse.Namespace) -> int:
    from pipeline.parse import detect_and_parse

    path = Path(args.file)
    article = detect_and_parse(path.read_bytes(), path.name, url=args.url)
    data = dataclasses.asdict(article)
    data["body_text"] = article.body_text
    from pipeline.tag import tag_article

    data["tags"] = [dataclasses.asdict(t) for t in tag_article(article)]
    if args.json:
        print(json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True, default=_json_default))
    else:
        for key in ("docid", "url", "title", "original_title", "published_at", "media", "editor", "parser_version"):
            print(f"{key:15} {_json_default(data[key]) if isinstance(data[key], datetime) else data[key]}")
        print(f"{'stocks':15} {' '.join(s['code'] + '(' + (s['name'] or '') + ')' for s in data['stocks'])}")
        print(f"{'paragraphs':15} {len(article.paragraphs)} ({len(article.body_text)} chars)")
    return 0


def cmd_db(args: argparse.Namespace) -> int:
    from pipeline import db

    if args.action == "migrate":
        applied = db.migrate()
        print("applied: " + ", ".join(applied) if applied else "database is up to date")
    elif args.action == "url":
        print(db.database_url())
    elif args.action == "psql":
        url = db.database_url()
        psql = "psql"
        try:  # prefer the embedded server's own psql: a fresh machine may have no client installed
            import pgserver._commands as pgc

            if (Path(pgc.POSTGRES_BIN_PATH) / "psql").exists():
                psql = str(Path(pgc.POSTGRES_BIN_PATH) / "psql")
        except ImportError:
            pass
        return subprocess.call([psql, url, *args.rest])
    elif args.action == "stop":
        if os.environ.get("NEWSFLOW_DATABASE_URL"):
            print("NEWSFLOW_DATABASE_URL is set: not stopping a server newsflow did not start")
            return 0
        print("stopped embedded PostgreSQL" if db.stop_embedded() else "embedded PostgreSQL was not running")
    return 0


def cmd_reparse(args: argparse.Namespace) -> int:
    from pipeline import flow

    migrate_quietly()
    counts = flow.reparse(progress=_progress("reparse"))
    print(f"reparse: {_summary(counts)}")
    return 0


def cmd_dead_letters(args: argparse.Namespace) -> int:
    from pipeline import db

    conn = db.connect()
    try:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT stage, source, item_key, attempts, last_failed_at, error FROM dead_letters "
                + ("" if args.all else "WHERE resolved_at IS NULL ")
                + "ORDER BY last_failed_at DESC LIMIT %s",
                (args.limit,),
            )
            rows = cur.fetchall()
    finally:
        conn.close()
    for stage, source, key, attempts, when, error in rows:
        print(f"{when:%Y-%m-%d %H:%M} {stage:8} {attempts:>2}x {source} {key}\n    {error}")
    print(f"{len(rows)} dead letter(s)")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="newsflow", description="Sina Finance news into PostgreSQL: ingest, import, parse, search."
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log at DEBUG level")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("ingest", help="discover, fetch, parse, dedup, tag and load one time window")
    p.add_argument("--since", type=parse_time, required=True, help="window start (inclusive), e.g. 2021-11-30T03:00Z")
    p.add_argument("--until", type=parse_time, default=parse_time("now"), help="window end (exclusive); default now")
    p.add_argument("--pairs", help="roll API pageid:lid pairs, e.g. 155:1686,155:1687 (default: settings)")
    p.add_argument("--zhibo", help="7x24 feed ids, e.g. 152 ('' for none)")
    p.add_argument("--rss", action="append", help="an RSS/Atom URL to read too (repeatable)")
    p.add_argument("--max-pages", type=int, help="page limit per feed")
    p.set_defaults(func=cmd_ingest)

    p = sub.add_parser("import-archive", help="import a folder of Hexo posts (the RSS-to-blog archives)")
    p.add_argument("directory")
    p.set_defaults(func=cmd_import_archive)

    p = sub.add_parser("parse", help="parse one file (a Sina HTML page or a Hexo post) and print it")
    p.add_argument("file")
    p.add_argument("--url", help="the page's URL, when the file is a saved page")
    p.add_argument("--json", action="store_true", help="print the article as JSON")
    p.set_defaults(func=cmd_parse)

    p = sub.add_parser("db", help="database: migrate | url | psql | stop")
    p.add_argument("action", choices=("migrate", "url", "psql", "stop"))
    p.add_argument("rest", nargs=argparse.REMAINDER, help="(psql) extra psql arguments")
    p.set_defaults(func=cmd_db)

    p = sub.add_parser("reparse", help="parse every stored raw page again (after a parser fix)")
    p.set_defaults(func=cmd_reparse)

    p = sub.add_parser("dead-letters", help="list items that failed, with the reason")
    p.add_argument("--all", action="store_true", help="include resolved ones")
    p.add_argument("--limit", type=int, default=50)
    p.set_defaults(func=cmd_dead_letters)

    _add_optional_commands(sub)
    return parser


def _add_optional_commands(sub: Any) -> None:
    """Commands whose code lives with its feature (tagging, dedup, search, replay, the Airflow run)."""
    from pipeline import commands

    commands.register(sub)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["up"]:  # the Airflow run has its own parser; hand it every argument, --help included
        from pipeline.airflow_run import main as up

        return up(argv[1:])
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("pgserver").setLevel(logging.WARNING)
    from pipeline.errors import PipelineError

    try:
        return int(args.func(args) or 0)
    except PipelineError as exc:
        print(f"newsflow: error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"newsflow: error: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # the database driver, mostly: one line, not a traceback
        import psycopg2

        if isinstance(exc, psycopg2.Error):
            print(f"newsflow: database error: {str(exc).strip().splitlines()[0]}", file=sys.stderr)
            return 1
        raise


if __name__ == "__main__":
    sys.exit(main())
