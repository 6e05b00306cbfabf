"""`newsflow`: the command line over the same functions the DAGs call.

This module declares the commands and their arguments and turns errors into one line and an exit
status; pipeline.commands does the work and pipeline.terminal the showing.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from typing import Any

from pipeline import commands, status
from pipeline.search import ORDER_BY_CHOICES
from pipeline.terminal import join_relative_times, since_time, until_time

GLOBAL_FLAGS = ("-v", "--verbose")
TIME_HELP = "2021-11-30, 2021-11-30T03:00Z (no offset: UTC), -2h, -1d or now"


def _command(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], name: str, **kw: Any
) -> argparse.ArgumentParser:
    p = sub.add_parser(name, **kw)
    p.set_defaults(prog=p.prog)  # for usage errors raised by the command itself
    return p


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="newsflow",
        description="Sina Finance news into PostgreSQL: ingest, import, parse, search.",
        epilog="The database: NEWSFLOW_DATABASE_URL, else the embedded server in NEWSFLOW_HOME (default: "
        ".newsflow in the source checkout, or ~/.local/share/newsflow), the same from any directory.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log at DEBUG level")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = _command(sub, "ingest", help="discover, fetch, parse, dedup, tag and load one time window")
    p.add_argument("--since", type=since_time, required=True, help=f"window start, inclusive: {TIME_HELP}")
    p.add_argument(
        "--until",
        type=until_time,
        help="window end, exclusive (a bare date includes that whole day); default now",
    )
    p.add_argument("--pairs", help="roll API pageid:lid pairs, e.g. 155:1686,155:1687 (default: settings)")
    p.add_argument("--zhibo", help="7x24 feed ids, e.g. 152 ('' for none)")
    p.add_argument("--rss", action="append", help="an RSS/Atom URL to read too (repeatable)")
    p.add_argument("--max-pages", type=int, help="page limit per feed")
    p.set_defaults(func=commands.ingest)

    p = _command(sub, "import-archive", help="import a folder of Hexo posts (the RSS-to-blog archives)")
    p.add_argument("directory")
    p.set_defaults(func=commands.import_archive)

    p = _command(sub, "parse", help="parse one file (a Sina HTML page or a Hexo post) and print it")
    p.add_argument("file")
    p.add_argument("--url", help="the page's URL, when the file is a saved page")
    p.add_argument("--json", action="store_true", help="print the article as JSON")
    p.set_defaults(func=commands.parse)

    database = _command(sub, "db", help="database: migrate | url | psql | stop")
    db_sub = database.add_subparsers(dest="action", required=True, metavar="ACTION")
    _command(db_sub, "migrate", help="apply pending schema migrations").set_defaults(func=commands.db)
    p = _command(db_sub, "url", help="print the database URL (password masked)")
    p.add_argument("--show-password", action="store_true", help="print the password, not ***")
    p.set_defaults(func=commands.db)
    p = _command(db_sub, "psql", help="a psql shell on the news database; what follows goes to psql")
    p.set_defaults(func=commands.db, rest=[])  # main() hands the arguments after `psql` to psql as given
    _command(db_sub, "stop", help="stop the embedded server").set_defaults(func=commands.db)

    p = _command(sub, "reparse", help="parse every stored raw page again (after a parser fix)")
    p.set_defaults(func=commands.reparse)

    p = _command(sub, "retag", help="tag every stored article again (after a taxonomy change)")
    p.set_defaults(func=commands.retag)

    p = _command(
        sub, "policies", help="policy records: one row per document, its 发文字号, issuers and reporting"
    )
    p.add_argument("query", nargs="?", help="a word of the title, or a 发文字号")
    p.add_argument("--issuer", help="only documents of this issuer, e.g. 国务院办公厅")
    p.add_argument("--limit", type=int, default=30)
    p.add_argument("--json", action="store_true", help="print the records as JSON")
    p.set_defaults(func=commands.policies)

    p = _command(sub, "stocks", help="a stock's news by time, each link with how it was found and how sure")
    p.add_argument("code", help="sh600519, 600519 (the exchange is inferred for A-shares), hk00700 ...")
    p.add_argument(
        "--min-confidence", type=float, default=0.0,
        help="only links at least this sure: 0.6 keeps links the text supports, 0.3 adds page tags",
    )  # fmt: skip
    p.add_argument("--limit", type=int, default=30)
    p.add_argument("--json", action="store_true", help="print the rows as JSON")
    p.set_defaults(func=commands.stocks)

    p = _command(sub, "dedup", help="near-duplicate detection: --rebuild recomputes every story cluster")
    p.add_argument(
        "--rebuild", action="store_true", help="recompute signatures and clusters for all articles"
    )
    p.set_defaults(func=commands.dedup)

    p = _command(sub, "search", help='full-text search: terms (AND), "phrase", -exclude, a OR b')
    _search_arguments(p)
    p.set_defaults(func=commands.search)

    p = _command(sub, "reindex", help="rebuild the search index column of stored articles (no downtime)")
    p.add_argument("--only-missing", action="store_true", help="only articles with no index yet")
    p.set_defaults(func=commands.reindex)

    p = _command(
        sub, "dead-letters", help="items that failed, with the reason: list (default), retry now, or ignore"
    )
    p.add_argument("action", nargs="?", choices=("list", "retry", "ignore"), default="list")
    p.add_argument("ids", nargs="*", type=int, metavar="ID", help="dead_letter_id(s) to act on")
    p.add_argument("--stage", choices=("discover", "fetch", "parse", "load"))
    p.add_argument("--source", help="e.g. roll:155:1686")
    p.add_argument("--all", action="store_true", help="list: include resolved and ignored ones")
    p.add_argument("--limit", type=int, default=50)
    p.add_argument("--reason", help="ignore: why (required)")
    p.add_argument("--by", help="ignore: who decided (default: the OS user)")
    p.set_defaults(func=commands.dead_letters)

    from pipeline.replay import add_cli_arguments as replay_arguments

    replay = _command(sub, "replay", help="the offline replay server of recorded Sina responses")
    replay_sub = replay.add_subparsers(dest="replay_command", required=True, metavar="ACTION")
    p = _command(replay_sub, "serve", help="serve the recorded data set on 127.0.0.1")
    replay_arguments(p)
    p.set_defaults(func=commands.replay)

    p = _command(
        sub, "status", help="health per source: last item, rate against the usual, gaps, dead letters, lag"
    )
    status.add_cli_arguments(p)
    p.set_defaults(func=status.run_cli)

    # Listed for --help only: main() hands `up` and everything after it to the launcher's own parser.
    _command(
        sub, "up", help="run Airflow + PostgreSQL, what ./run runs; `newsflow up --help`", add_help=False
    )
    return parser


def _search_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("query", nargs="?", default="", help='terms (AND), "phrase", -exclude, a OR b')
    parser.add_argument("--since", type=since_time, help=f"published at or after: {TIME_HELP}")
    parser.add_argument(
        "--until", type=until_time, help="published before (a bare date includes that whole day)"
    )
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


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    first = next((i for i, arg in enumerate(argv) if arg not in GLOBAL_FLAGS), len(argv))
    if argv[first : first + 1] == ["up"]:  # the launcher has its own parser: every argument, --help too
        from pipeline.launcher.cli import main as up

        return up(argv[first + 1 :])
    parser = build_parser()
    psql_args: list[str] = []
    if argv[first : first + 2] == ["db", "psql"]:  # argparse would read psql's own options (-c ...) as ours
        argv, psql_args = argv[: first + 2], argv[first + 2 :]
    args = parser.parse_args(join_relative_times(argv))
    if psql_args:
        args.rest = psql_args
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("pgserver").setLevel(logging.WARNING)
    from pipeline.errors import PipelineError, SearchQueryError

    try:
        return int(args.func(args) or 0)
    except (commands.UsageError, SearchQueryError) as exc:
        print(f"{args.prog}: error: {exc}", file=sys.stderr)
        return 2
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
