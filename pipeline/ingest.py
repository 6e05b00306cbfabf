"""The pipeline's stages as functions of a window: what the DAG tasks and the CLI call.

Stages hand work over through Postgres (feed_items -> raw_pages -> articles); each stage claims
rows with FOR UPDATE SKIP LOCKED, so overlapping runs and backfills share work instead of
repeating it, and a retried stage picks up exactly what is left.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg2
import psycopg2.extensions

from pipeline import db
from pipeline.config import Settings
from pipeline.discover import Window, discover_hexo_dir, discover_source, discover_window
from pipeline.errors import DiscoverError, FetchError, PipelineError
from pipeline.fetch import Fetcher
from pipeline.identity import canonicalize_url
from pipeline.models import Article, RawPage
from pipeline.store import items as item_store
from pipeline.store import runs as run_store
from pipeline.store.articles import upsert_article
from pipeline.textnorm import normalize_title

log = logging.getLogger(__name__)

__all__ = [
    "Window",
    "begin_run",
    "discover",
    "fetch",
    "finish_run",
    "import_archive",
    "ingest_window",
    "process",
    "reparse",
]  # fmt: skip

PROCESS_BATCH = 50
Progress = Callable[[int, int], None]
Claim = Callable[[psycopg2.extensions.cursor, int, set[int]], list[dict[str, Any]]]


@contextlib.contextmanager
def _connection(url: str | None) -> Iterator[psycopg2.extensions.connection]:
    conn = db.connect(url)
    try:
        yield conn
    finally:
        conn.close()


def window_key(window: Window) -> str:
    return f"{window.start.isoformat()}/{window.end.isoformat()}"


def parse_window_key(key: str) -> Window:
    start, end = key.split("/")
    return Window(datetime.fromisoformat(start), datetime.fromisoformat(end))


# --- runs ------------------------------------------------------------------------------------------


def begin_run(run_key: str, kind: str, window: Window | None, url: str | None = None) -> int:
    """Create (or reopen, for a retried task) the run row; returns run_id."""
    with _connection(url) as conn, db.transaction(conn) as cur:
        return run_store.begin_run(
            cur, run_key, kind, window.start if window else None, window.end if window else None
        )


def finish_run(run_id: int, url: str | None = None, max_failure_ratio: float = 0.5) -> dict[str, int]:
    """Close the run with its counts. Raises PipelineError when the run did not do its job:

    every item that was tried failed, or more than `max_failure_ratio` of them did (usually a
    layout change or an endpoint that moved). Per-item failures alone are dead letters, not errors,
    and earlier dead letters that failed again (`refailed`) do not count against this run.
    """
    with _connection(url) as conn, db.transaction(conn) as cur:
        run = run_store.get_run(cur, run_id)
        counts = {c: int(run[c]) for c in run_store.COUNT_COLUMNS}
        tried = counts["parsed"] + counts["skipped"] + counts["failed"]
        error = None
        if counts["failed"] and counts["parsed"] + counts["skipped"] == 0:
            error = f"all {counts['failed']} items failed (see dead_letters for run {run_id})"
        elif tried and counts["failed"] / tried > max_failure_ratio:
            error = (
                f"{counts['failed']} of {tried} items failed, above the {max_failure_ratio:.0%} threshold "
                f"(see dead_letters for run {run_id})"
            )
        run_store.end_run(cur, run_id, "failed" if error else "success", error)
    log.info(
        "run %s: discovered=%d fetched=%d skipped=%d parsed=%d duplicates=%d failed=%d refailed=%d loaded=%d",
        run_id, counts["discovered"], counts["fetched"], counts["skipped"], counts["parsed"],
        counts["duplicates"], counts["failed"], counts["refailed"], counts["loaded"],
    )  # fmt: skip
    if error:
        raise PipelineError(f"run {run_id}: {error}")
    return counts


# --- discover --------------------------------------------------------------------------------------


def discover(run_id: int, window: Window, settings: Settings | None = None, url: str | None = None) -> int:
    """List every configured source for the window into feed_items; returns the items seen.

    A source that fails becomes a dead letter for (source, window) and is retried by later runs;
    when every source fails the stage raises, since it could not do its job.
    """
    fetcher = Fetcher(settings)
    result = discover_window(fetcher, window)
    wkey = window_key(window)
    failed_sources = {e.source for e in result.errors}
    with _connection(url) as conn:
        retried = []
        with db.transaction(conn) as cur:
            pending = run_store.open_discover_failures(cur)
        for source, key in pending:
            if key == wkey and source in failed_sources:
                continue
            try:
                items = discover_source(fetcher, source, parse_window_key(key))
            except (DiscoverError, ValueError) as exc:
                log.warning("retry of %s %s failed again: %s", source, key, exc)
                continue
            retried.append((source, key, items))
        with db.transaction(conn) as cur:
            new = item_store.upsert_feed_items(cur, result.items)
            for source, key, items in retried:
                new += item_store.upsert_feed_items(cur, items)
                run_store.resolve_dead_letters(cur, source, key, ("discover",))
            for err in result.errors:
                run_store.record_dead_letter(
                    cur, source=err.source, item_key=wkey, stage="discover", error=err, run_id=run_id
                )
            configured = {f"roll:{p}:{lid}" for p, lid in fetcher.settings.roll_pairs}
            configured |= {f"zhibo:{z}" for z in fetcher.settings.zhibo_ids}
            configured |= {f"rss:{u}" for u in fetcher.settings.rss_urls}
            for source in configured - failed_sources:
                run_store.resolve_dead_letters(cur, source, wkey, ("discover",))
            run_store.add_counts(cur, run_id, discovered=new, failed=len(result.errors))
    for source in result.truncated:
        log.warning("%s: page limit reached inside window %s; raise max_pages to cover it", source, wkey)
    if result.errors and len(result.errors) >= len(configured):
        raise DiscoverError("all sources", "; ".join(str(e) for e in result.errors))
    return len(result.items)


# --- fetch -----------------------------------------------------------------------------------------


def _raw_from_item(row: dict[str, Any], fetcher: Fetcher | None) -> RawPage:
    kind = row["kind"]
    now = datetime.now(UTC)
    if kind == "zhibo_flash":
        body = json.dumps(row["payload"], ensure_ascii=False, sort_keys=True).encode("utf-8")
        return RawPage(f"zhibo:{row['item_key']}", kind, body, {"content-type": "application/json"}, 200, now)
    if kind == "hexo_post":
        path = Path(row["payload"]["path"])
        try:
            body = path.read_bytes()
        except OSError as exc:
            raise FetchError(str(path), f"cannot read post: {exc.strerror}", retryable=False) from exc
        import hashlib

        return RawPage(
            "archive:" + hashlib.sha256(body).hexdigest(), kind, body,
            {"content-type": "text/markdown; charset=utf-8", "x-archive-path": row["item_key"]}, 200, now,
        )  # fmt: skip
    assert fetcher is not None and row["url"]
    return fetcher.get_page(row["url"], kind)


def _fetch_claimed(conn: psycopg2.extensions.connection, run_id: int, claim: Claim, fetcher: Fetcher | None) -> dict[str, int]:
    counts = {"fetched": 0, "skipped": 0, "failed": 0, "refailed": 0}
    tried: set[int] = set()
    while True:
        with db.transaction(conn) as cur:
            rows = claim(cur, 1, tried)
            if not rows:
                break
            row = rows[0]
            tried.add(row["feed_item_id"])
            fid = row["feed_item_id"]
            if row["kind"] == "sina_page":
                canonical = canonicalize_url(row["url"]) if row["url"] else None
                existing = item_store.stored_article_id(cur, row["docid"], canonical)
                if existing is not None:
                    item_store.mark_item(cur, fid, "skipped", article_id=existing)
                    run_store.resolve_dead_letters(cur, row["source"], row["item_key"])
                    run_store.add_counts(cur, run_id, skipped=1)
                    counts["skipped"] += 1
                    continue
                known = item_store.raw_page_id_for_url(cur, row["url"])
                # The item's own stored bytes already failed to parse: fetch again (the page may have
                # been a transient error page); `newsflow reparse` is the path for parser fixes.
                if known is not None and known != row["raw_page_id"]:
                    item_store.mark_item(cur, fid, "fetched", raw_page_id=known)
                    continue
            try:
                raw = _raw_from_item(row, fetcher)
            except FetchError as exc:
                log.warning("fetch failed: %s", exc)
                run_store.record_dead_letter(
                    cur, source=row["source"], item_key=row["item_key"], stage="fetch", error=exc,
                    url=row["url"], feed_item_id=fid, run_id=run_id,
                )  # fmt: skip
                item_store.mark_item(cur, fid, "failed", failed=True)
                outcome = _failure_kind(row)
                run_store.add_counts(cur, run_id, **{outcome: 1})
                counts[outcome] += 1
                continue
            raw_id = item_store.save_raw_page(cur, raw)
            item_store.mark_item(cur, fid, "fetched", raw_page_id=raw_id)
            run_store.resolve_dead_letters(cur, row["source"], row["item_key"], ("fetch",))
            run_store.add_counts(cur, run_id, fetched=1)
            counts["fetched"] += 1
    return counts


def fetch(run_id: int, window: Window, settings: Settings | None = None, url: str | None = None) -> dict[str, int]:
    """Fetch the pages of the window's items that are not stored yet (and retry earlier failures)."""
    fetcher = Fetcher(settings)

    def claim(cur: psycopg2.extensions.cursor, limit: int, tried: set[int]) -> list[dict[str, Any]]:
        return item_store.claim_items(
            cur, ("new", "failed"), window.start, window.end, limit, retry_older=True, exclude=tried
        )

    with _connection(url) as conn:
        return _fetch_claimed(conn, run_id, claim, fetcher)


# --- process: parse -> dedup -> tag -> load --------------------------------------------------------


def _complete(article: Article, row: dict[str, Any]) -> Article:
    """What the feed knew and the page did not say (docid, URL, time) fills the gaps."""
    changes: dict[str, Any] = {}
    if not article.docid and row.get("docid"):
        changes["docid"] = row["docid"]
    if not article.url and row.get("url"):
        changes["url"] = canonicalize_url(row["url"])
    if article.published_at is None and row.get("published_at") is not None:
        changes["published_at"] = row["published_at"]
    return dataclasses.replace(article, **changes) if changes else article


def _failure_kind(row: dict[str, Any]) -> str:
    """A first failure counts against the run; a retried dead letter failing again does not.

    Otherwise one page that can never be parsed would fail every quiet window that retries it.
    """
    return "refailed" if row["attempts"] > 0 else "failed"


def _dead_letter_item(cur: psycopg2.extensions.cursor, run_id: int, row: dict[str, Any], stage: str, exc: BaseException) -> None:
    log.warning("%s failed for %s: %s", stage, row["url"] or row["item_key"], exc)
    run_store.record_dead_letter(
        cur, source=row["source"], item_key=row["item_key"], stage=stage, error=exc,
        url=row["url"], raw_page_id=row["raw_page_id"], feed_item_id=row["feed_item_id"], run_id=run_id,
    )  # fmt: skip
    item_store.mark_item(cur, row["feed_item_id"], "failed", failed=True)


def _process_batch(cur: psycopg2.extensions.cursor, run_id: int, rows: list[dict[str, Any]]) -> dict[str, int]:
    """Parse a claimed batch, then load it; every item either loads or becomes a dead letter."""
    from pipeline.parse import parse_raw
    from pipeline.store.dedup import lock_articles

    batch = {"parsed": 0, "loaded": 0, "duplicates": 0, "failed": 0, "refailed": 0}
    parsed: list[tuple[dict[str, Any], Article]] = []
    for row in rows:
        try:
            raw = item_store.load_raw_page(cur, row["raw_page_id"])
            parsed.append((row, _complete(parse_raw(raw), row)))
        except (PipelineError, ValueError, KeyError) as exc:
            _dead_letter_item(cur, run_id, row, "parse", exc)
            batch[_failure_kind(row)] += 1
    # Two overlapping batches take the same locks in the same order, so they queue instead of
    # deadlocking: the near-duplicate keys in one sorted pass, then the rows by natural key.
    lock_articles(cur, (article for _, article in parsed))
    parsed.sort(key=lambda pair: (pair[1].docid or "", normalize_title(pair[1].title), pair[0]["feed_item_id"]))
    for row, article in parsed:
        cur.execute("SAVEPOINT item")
        try:
            result = upsert_article(cur, article, source=row["source"], raw_page_id=row["raw_page_id"])
        except (psycopg2.DataError, psycopg2.IntegrityError, psycopg2.ProgrammingError, ValueError) as exc:
            cur.execute("ROLLBACK TO SAVEPOINT item")
            _dead_letter_item(cur, run_id, row, "load", exc)
            batch[_failure_kind(row)] += 1
            continue
        cur.execute("RELEASE SAVEPOINT item")
        item_store.mark_item(cur, row["feed_item_id"], "loaded", article_id=result.article_id)
        run_store.resolve_dead_letters(cur, row["source"], row["item_key"])
        batch["parsed"] += 1
        if result.action in ("inserted", "updated"):
            batch["loaded"] += 1
        if result.action in ("unchanged", "merged") or result.duplicate_of is not None:
            batch["duplicates"] += 1
    run_store.add_counts(cur, run_id, **batch)
    return batch


def _process_claimed(conn: psycopg2.extensions.connection, run_id: int, claim: Claim) -> dict[str, int]:
    """Batches until nothing is left to claim, one transaction each.

    A deadlock or serialization failure (two overlapping backfills touching the same rows in another
    order) rolls the batch back whole; it is retried, never half-written. Any other database error
    (the server went away) fails the stage: the batch is lost and a retry of the task redoes it.
    """
    counts = {"parsed": 0, "loaded": 0, "duplicates": 0, "failed": 0, "refailed": 0}
    tried: set[int] = set()
    conflicts = 0
    while True:
        try:
            with db.transaction(conn) as cur:
                rows = claim(cur, PROCESS_BATCH, tried)
                if not rows:
                    break
                batch = _process_batch(cur, run_id, rows)
        except psycopg2.errors.TransactionRollbackError as exc:
            conflicts += 1
            if conflicts > 5:
                raise
            log.info("batch rolled back after a lock conflict (%s); retrying", type(exc).__name__)
            continue
        tried.update(row["feed_item_id"] for row in rows)
        for k, v in batch.items():
            counts[k] += v
    return counts


def process(run_id: int, window: Window, url: str | None = None) -> dict[str, int]:
    """Parse, dedup, tag and load the window's fetched items, one transaction per batch."""

    def claim(cur: psycopg2.extensions.cursor, limit: int, tried: set[int]) -> list[dict[str, Any]]:
        return item_store.claim_items(
            cur, ("fetched",), window.start, window.end, limit, retry_older=True, exclude=tried
        )

    with _connection(url) as conn:
        return _process_claimed(conn, run_id, claim)


# --- whole runs ------------------------------------------------------------------------------------


def ingest_window(
    window: Window, settings: Settings | None = None, url: str | None = None, run_key: str | None = None
) -> dict[str, int]:
    """Every stage for one window (what `newsflow ingest` runs)."""
    url = url or db.database_url()
    run_id = begin_run(run_key or f"cli/{uuid.uuid4()}", "ingest", window, url)
    try:
        discover(run_id, window, settings, url)
    except DiscoverError:
        finish_run(run_id, url)  # records the counts; raises if nothing could be done
        raise
    fetch(run_id, window, settings, url)
    process(run_id, window, url)
    counts = finish_run(run_id, url)
    counts["run_id"] = run_id
    return counts


ARCHIVE_CHUNK = 500


def import_archive(
    directory: Path, url: str | None = None, run_key: str | None = None, progress: Progress | None = None
) -> dict[str, int]:
    """Import a folder of Hexo posts through the same parse/dedup/tag/load code.

    Streams the folder in chunks (memory stays flat for 100k posts); re-importing a folder, or
    resuming one that was interrupted, only does what is left.
    """
    from itertools import islice

    url = url or db.database_url()
    run_id = begin_run(run_key or f"archive/{uuid.uuid4()}", "archive", None, url)
    total = sum(1 for _ in Path(directory).rglob("*.md")) if progress else 0
    posts = 0
    feed = discover_hexo_dir(Path(directory))
    with _connection(url) as conn:
        while chunk := list(islice(feed, ARCHIVE_CHUNK)):
            posts += len(chunk)
            keys = [it.item_key for it in chunk]
            with db.transaction(conn) as cur:
                run_store.add_counts(cur, run_id, discovered=item_store.upsert_feed_items(cur, chunk))

            def claim_for(statuses: tuple[str, ...], keys: list[str] = keys) -> Claim:
                def claim(cur: psycopg2.extensions.cursor, limit: int, tried: set[int]) -> list[dict[str, Any]]:
                    return item_store.claim_items_by_key(cur, "hexo", keys, statuses, limit, tried)

                return claim

            _fetch_claimed(conn, run_id, claim_for(("new", "failed")), None)
            _process_claimed(conn, run_id, claim_for(("fetched",)))
            if progress:
                progress(posts, max(total, posts))
    counts = finish_run(run_id, url)
    counts["run_id"] = run_id
    counts["posts"] = posts
    return counts


def reparse(url: str | None = None, batch_size: int = 200, progress: Progress | None = None) -> dict[str, int]:
    """Parse every stored raw page again (after a parser fix) and upsert: a query, not a re-crawl."""
    from pipeline.parse import parse_raw

    url = url or db.database_url()
    run_id = begin_run(f"reparse/{uuid.uuid4()}", "reparse", None, url)
    counts = {"parsed": 0, "loaded": 0, "duplicates": 0, "failed": 0}
    with _connection(url) as conn:
        with db.transaction(conn) as cur:
            cur.execute("SELECT count(*) FROM raw_pages")
            total = int(cur.fetchone()[0])
        last = 0
        while True:
            with db.transaction(conn) as cur:
                cur.execute(
                    """SELECT r.raw_page_id, COALESCE(f.source, 'reparse'), COALESCE(f.item_key, r.url)
                       FROM raw_pages r
                       LEFT JOIN LATERAL (SELECT source, item_key FROM feed_items
                                          WHERE raw_page_id = r.raw_page_id ORDER BY feed_item_id LIMIT 1) f ON true
                       WHERE r.raw_page_id > %s ORDER BY r.raw_page_id LIMIT %s""",
                    (last, batch_size),
                )
                rows = cur.fetchall()
                if not rows:
                    break
                for raw_id, source, key in rows:
                    last = raw_id
                    cur.execute("SAVEPOINT item")
                    try:
                        article = parse_raw(item_store.load_raw_page(cur, raw_id))
                        result = upsert_article(cur, article, source=source, raw_page_id=raw_id)
                    except (PipelineError, psycopg2.DataError, psycopg2.IntegrityError, ValueError) as exc:
                        cur.execute("ROLLBACK TO SAVEPOINT item")
                        run_store.record_dead_letter(
                            cur, source=source, item_key=key, stage="parse", error=exc,
                            raw_page_id=raw_id, run_id=run_id,
                        )  # fmt: skip
                        counts["failed"] += 1
                        continue
                    cur.execute("RELEASE SAVEPOINT item")
                    counts["parsed"] += 1
                    if result.action == "updated":
                        counts["loaded"] += 1
                run_store.add_counts(cur, run_id, parsed=len(rows))
            if progress:
                progress(counts["parsed"] + counts["failed"], total)
    with _connection(url) as conn, db.transaction(conn) as cur:
        run_store.end_run(cur, run_id, "success")
    return counts
