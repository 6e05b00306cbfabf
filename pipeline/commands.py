"""Sub-commands that belong to a feature module; each feature brings its own arguments."""

from __future__ import annotations

import argparse
from typing import Any


def _retag(args: argparse.Namespace) -> int:
    from pipeline.cli import migrate_quietly
    from pipeline.store.tags import retag_all
    from pipeline.tag import TAGGER_VERSION

    migrate_quietly()
    counts = retag_all()
    print(f"retag ({TAGGER_VERSION}): " + " ".join(f"{k}={v}" for k, v in counts.items()))
    return 0


def _dedup(args: argparse.Namespace) -> int:
    from pipeline.cli import migrate_quietly
    from pipeline.store.dedup import rebuild

    if not args.rebuild:
        print("nothing to do: use --rebuild to recompute signatures and story clusters")
        return 2
    migrate_quietly()
    counts = rebuild()
    print("dedup --rebuild: " + " ".join(f"{k}={v}" for k, v in counts.items()))
    return 0


def _search(args: argparse.Namespace) -> int:
    from pipeline.search import run_cli

    return run_cli(args)


def _reindex(args: argparse.Namespace) -> int:
    from pipeline.cli import migrate_quietly
    from pipeline.store.search import reindex

    migrate_quietly()
    print(f"reindex: {reindex(only_missing=args.only_missing)} articles indexed")
    return 0


def _replay(args: argparse.Namespace) -> int:
    from pipeline.replay import run_cli

    return run_cli(args)


def _up(args: argparse.Namespace) -> int:
    from pipeline.airflow_run import main

    return main(args.rest)


def register(sub: Any) -> None:
    from pipeline import status
    from pipeline.replay import add_cli_arguments as replay_arguments
    from pipeline.search import add_cli_arguments as search_arguments

    p = sub.add_parser("retag", help="tag every stored article again (after a taxonomy change)")
    p.set_defaults(func=_retag)

    p = sub.add_parser("dedup", help="near-duplicate detection: --rebuild recomputes every story cluster")
    p.add_argument("--rebuild", action="store_true", help="recompute signatures and clusters for all articles")
    p.set_defaults(func=_dedup)

    p = sub.add_parser("search", help='full-text search: terms (AND), "phrase", -exclude, a OR b')
    search_arguments(p)
    p.set_defaults(func=_search)

    p = sub.add_parser("reindex", help="rebuild the search index column of stored articles (no downtime)")
    p.add_argument("--only-missing", action="store_true", help="only articles with no index yet")
    p.set_defaults(func=_reindex)

    replay = sub.add_parser("replay", help="the offline replay server of recorded Sina responses")
    replay_sub = replay.add_subparsers(dest="replay_command", required=True, metavar="ACTION")
    p = replay_sub.add_parser("serve", help="serve the recorded data set on 127.0.0.1")
    replay_arguments(p)
    p.set_defaults(func=_replay)

    p = sub.add_parser(
        "up",
        help="run Airflow (api-server, scheduler, dag-processor, triggerer) + PostgreSQL; `newsflow up --help`",
        add_help=False,
    )
    p.add_argument("rest", nargs=argparse.REMAINDER)
    p.set_defaults(func=_up)

    status.register(sub)
