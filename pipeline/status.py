"""`newsflow status`: the source_health view as a table (or JSON), one line per source."""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

COLUMNS = (
    ("source", "SOURCE"),
    ("status", "STATUS"),
    ("last_item", "LAST ITEM"),
    ("hour", "1H/USUAL"),
    ("day", "24H/USUAL"),
    ("dead", "DEAD"),
    ("gaps", "GAPS"),
    ("lag", "LAG P50/P95 (24H)"),
    ("good_run", "LAST GOOD RUN"),
)


def _age(when: datetime | None, now: datetime) -> str:
    if when is None:
        return "-"
    seconds = (now - when).total_seconds()
    if seconds < 0:
        return "in the future"
    minutes = int(seconds // 60)
    if minutes < 60:
        return f"{minutes}m ago"
    if minutes < 48 * 60:
        return f"{minutes // 60}h{minutes % 60:02d}m ago"
    return f"{minutes // (24 * 60)}d ago"


def _duration(value: timedelta | None) -> str:
    if value is None:
        return "-"
    seconds = int(value.total_seconds())
    if abs(seconds) < 120:
        return f"{seconds}s"
    if abs(seconds) < 2 * 3600:
        return f"{seconds // 60}m"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


def _rate(count: Any, usual: Any) -> str:
    return f"{count}/{float(usual):.1f}" if usual is not None else f"{count}/-"


def table_rows(rows: Sequence[Mapping[str, Any]], now: datetime) -> list[dict[str, str]]:
    """Each source_health row as the strings of the printed table."""
    out = []
    for r in rows:
        good = (
            f"#{r['last_good_run_id']} {_age(r['last_good_run_at'], now)}" if r["last_good_run_id"] else "-"
        )
        out.append(
            {
                "source": str(r["source"]),
                "status": str(r["status"]),
                "last_item": _age(r["last_item_at"], now),
                "hour": _rate(r["items_last_hour"], r["avg_items_per_hour"]),
                "day": _rate(r["items_last_day"], r["avg_items_per_day"]),
                "dead": str(r["open_dead_letters"]),
                "gaps": str(r["open_gaps"]),
                "lag": f"{_duration(r['lag_p50_day'])}/{_duration(r['lag_p95_day'])}",
                "good_run": good,
            }
        )
    return out


def format_table(rows: Sequence[Mapping[str, Any]], now: datetime) -> str:
    cells = table_rows(rows, now)
    widths = {key: max([len(title)] + [len(c[key]) for c in cells]) for key, title in COLUMNS}
    lines = ["  ".join(title.ljust(widths[key]) for key, title in COLUMNS).rstrip()]
    lines += ["  ".join(c[key].ljust(widths[key]) for key, _ in COLUMNS).rstrip() for c in cells]
    return "\n".join(lines)


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, Decimal):
        return float(value)
    return value


def add_cli_arguments(parser: argparse.ArgumentParser) -> None:
    from pipeline.terminal import parse_time

    parser.add_argument(
        "--json", action="store_true", help="print the rows as JSON (times ISO 8601 UTC, lags in seconds)"
    )
    parser.add_argument(
        "--at", type=parse_time, help="judge as of this time instead of now (e.g. for replayed data)"
    )
    parser.add_argument(
        "--check", action="store_true", help="exit 1 when a source is silent or low (for cron/monitoring)"
    )


def run_cli(args: argparse.Namespace) -> int:
    from pipeline import db
    from pipeline.commands import open_database
    from pipeline.store.health import database_now, source_health

    conn = db.connect(open_database())
    try:
        with db.transaction(conn) as cur:
            rows = source_health(cur, args.at)
            now: datetime = args.at or database_now(cur)
    finally:
        conn.close()
    if args.json:
        print(
            json.dumps(
                [{k: _json_value(v) for k, v in r.items()} for r in rows], ensure_ascii=False, indent=2
            )
        )
    elif rows:
        print(format_table(rows, now))
    else:
        print("no sources yet: nothing has been listed (run an ingest first)")
    bad = [r["source"] for r in rows if r["status"] in ("silent", "low")]
    return 1 if args.check and bad else 0

