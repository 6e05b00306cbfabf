"""The flow: discover -> fetch -> parse -> tag -> dedup -> load, composed here and nowhere else.

What the DAG tasks and the CLI call. Each stage is a function of a window (or a folder, or what is
stored); the pure stages (`parse`, `tag`, `dedup`) decide, `store/` persists what they decided, and
the sources and `fetch` are the only network I/O.

Stages hand work over through Postgres (feed_items -> raw_pages -> articles). The process stage
claims rows with FOR UPDATE SKIP LOCKED, so overlapping runs and backfills share work instead of
repeating it, and a retried stage picks up exactly what is left. The fetch stage never holds a
transaction across a request: it leases the item and commits, fetches, then records the result in a
new transaction that checks the lease is still its own (`store.items.lease_item` / `end_lease`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime, timedelta
from itertools import islice
from pathlib import Path
from typing import Any

import psycopg2
import psycopg2.extensions
from psycopg2.extensions import cursor as Cursor

from pipeline import db, dedup, notify
from pipeline.config import Settings
from pipeline.discover import ArchiveFolder, Window, configured_sources, discover_window, source_named
from pipeline.errors import DiscoverError, FetchError, PipelineError
from pipeline.fetch import Fetcher
from pipeline.identity import canonicalize_url
from pipeline.models import Article, RawPage
from pipeline.parse import parse_raw
from pipeline.store import articles as article_store
from pipeline.store import dedup as dedup_store
from pipeline.store import health as health_store
from pipeline.store import items as item_store
from pipeline.store import policies as policy_store
from pipeline.store import ratelimit as rate_store
from pipeline.store import runs as run_store
from pipeline.store import stocks as stock_store
from pipeline.store import tags as tag_store
from pipeline.store.articles import LoadResult
from pipeline.store.tx import savepoint
from pipeline.tag import TAGGER_VERSION, tag_article
from pipeline.tag.records import RECORDS_VERSION, policy_mentions
from pipeline.tag.stocks import STOCKS_VERSION, stock_links
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
    "link_story",
    "load_article",
    "lock_batch",
    "process",
    "rebuild_dedup",
    "reparse",
    "retag_all",
]  # fmt: skip

PROCESS_BATCH = 50
ARCHIVE_CHUNK = 500
Progress = Callable[[int, int], None]
Claim = Callable[[Cursor, int, set[int]], list[dict[str, Any]]]

# What a failed load of one item may raise without failing its batch: bad data, not a broken server.
_LOAD_ERRORS = (psycopg2.DataError, psycopg2.IntegrityError, psycopg2.ProgrammingError, ValueError)
_REPARSE_ERRORS = (PipelineError, psycopg2.DataError, psycopg2.IntegrityError, ValueError)


@contextlib.contextmanager
def _connection(url: str | None) -> Iterator[psycopg2.extensions.connection]:
    conn = db.connect(url)
    try:
        yield conn
    finally:
        conn.close()


def _fetcher(settings: Settings | None, url: str | None) -> Fetcher:
    """The Fetcher of a stage: its per-host spacing and Retry-After shared by every process (host_rate)."""
    return Fetcher(settings, gate=rate_store.SharedHostGate(url))


def window_key(window: Window) -> str:
    return f"{window.start.isoformat()}/{window.end.isoformat()}"


def parse_window_key(key: str) -> Window:
    start, end = key.split("/")
    return Window(datetime.fromisoformat(start), datetime.fromisoformat(end))


# --- tag -> dedup -> load: one article, in the caller's transaction -------------------------------


def lock_batch(cur: Cursor, articles: Iterable[Article]) -> None:
    """Take the bucket-key locks of a whole batch in one sorted pass, before linking its articles one by one.

    Two overlapping batches then queue instead of deadlocking (see `store.dedup`).
    """
    keys: list[int] = []
    for article in articles:
        keys.extend(k for _, k in dedup.signature(article.title, article.body_text).bucket_keys)
    dedup_store.lock_bucket_keys(cur, keys)


def link_story(cur: Cursor, article_id: int, article: Article, *, take_locks: bool = True) -> dedup.DedupLink:
    """Link a just inserted (or changed) article to its story: storage reads candidates, dedup decides."""
    sig = dedup.signature(article.title, article.body_text)
    if take_locks:
        dedup_store.lock_bucket_keys(cur, (k for _, k in sig.bucket_keys))
    dedup_store.forget_buckets(cur, article_id)
    candidates = dedup_store.read_candidates(cur, article_id, sig)
    link = dedup.decide(
        article_id,
        article.published_at,
        article.title,
        article.body_text,
        candidates,
        heads_a_story=dedup_store.heads_a_story(cur, article_id),
    )
    dedup_store.write_link(cur, link, sig)
    return link


def load_article(cur: Cursor, article: Article, *, source: str, raw_page_id: int | None) -> LoadResult:
    """Store one article; when its text is new, tag it and link it to its story, all in the caller's transaction."""
    result = article_store.upsert_article(cur, article, source=source, raw_page_id=raw_page_id)
    if not result.content_changed:
        return result
    tags = tag_article(article)
    tag_store.write_tags(cur, result.article_id, tags)
    policy_store.replace_policies(cur, result.article_id, policy_mentions(article, tags), RECORDS_VERSION)
    stock_store.replace_stock_links(cur, result.article_id, stock_links(article), STOCKS_VERSION)
    link = link_story(cur, result.article_id, article)
    return dataclasses.replace(result, duplicate_of=link.duplicate_of)


# --- runs ------------------------------------------------------------------------------------------


def begin_run(run_key: str, kind: str, window: Window | None, url: str | None = None) -> int:
    """Create (or reopen, for a retried task) the run row; returns run_id."""
    with _connection(url) as conn, db.transaction(conn) as cur:
        abandoned = health_store.close_stale_runs(cur, STALE_RUN_AGE)
        if abandoned:
            log.warning("closed runs %s as abandoned: untouched for %s, their workers are gone", abandoned, STALE_RUN_AGE)
        return run_store.begin_run(
            cur, run_key, kind, window.start if window else None, window.end if window else None
        )


def finish_run(
    run_id: int, url: str | None = None, max_failure_ratio: float = 0.5, *, wait_for_others: float = 120.0
) -> dict[str, int]:
    """Close the run with its counts and a verdict on the items of its window. Raises PipelineError
    when the run did not do its job: every item of the window failed, or more than `max_failure_ratio`
    of those that finished did (usually a layout change or an endpoint that moved).

    The verdict is about the window, not the share this worker claimed: an item loaded by an
    overlapping run counts as loaded, and items an overlapping run is still working on are waited for
    (up to `wait_for_others` seconds), then left out rather than counted as failures. A run whose
    items loaded but that met a coverage gap or a source it could not list ends 'degraded'.
    """
    deadline = time.monotonic() + wait_for_others
    with _connection(url) as conn:
        while True:
            with db.transaction(conn) as cur:
                outcome = run_store.window_outcome(cur, run_id)
            if not outcome["elsewhere"] or time.monotonic() >= deadline:
                break
            time.sleep(1.0)
        with db.transaction(conn) as cur:
            run = run_store.get_run(cur, run_id)
            counts = {c: int(run[c]) for c in run_store.COUNT_COLUMNS}
            done = outcome["ok"] + outcome["failed"]
            error = None
            if outcome["failed"] and not outcome["ok"]:
                error = f"all {outcome['failed']} items of the window failed (see dead_letters for run {run_id})"
            elif done and outcome["failed"] / done > max_failure_ratio:
                error = (
                    f"{outcome['failed']} of {done} items of the window failed, above the "
                    f"{max_failure_ratio:.0%} threshold (see dead_letters for run {run_id})"
                )
            status = "failed" if error else ("degraded" if run["degraded_reason"] else "success")
            run_store.end_run(cur, run_id, status, error)
    log.info(
        "run %s %s: discovered=%d fetched=%d skipped=%d parsed=%d duplicates=%d failed=%d refailed=%d "
        "loaded=%d; window: %d done, %d failed, %d still with other runs, %d waiting",
        run_id, status, counts["discovered"], counts["fetched"], counts["skipped"], counts["parsed"],
        counts["duplicates"], counts["failed"], counts["refailed"], counts["loaded"],
        outcome["ok"], outcome["failed"], outcome["elsewhere"], outcome["waiting"],
    )  # fmt: skip
    if error:
        raise PipelineError(f"run {run_id}: {error}")
    return {**counts, "degraded": int(status == "degraded")}


def fail_run(run_id: int, error: str, url: str | None = None) -> None:
    """End a run that could not do its job (e.g. no source could be listed) as failed, with the reason."""
    with _connection(url) as conn, db.transaction(conn) as cur:
        run_store.end_run(cur, run_id, "failed", error)


# --- discover --------------------------------------------------------------------------------------


DISCOVER_MODES = ("cursor", "window")
# A `running` row untouched this long lost its worker: a live run writes its counts after every batch.
STALE_RUN_AGE = timedelta(hours=2)


def discover(
    run_id: int,
    window: Window,
    settings: Settings | None = None,
    url: str | None = None,
    *,
    mode: str = "window",
) -> int:
    """List every configured source into feed_items; returns the items seen.

    mode "window" (backfills, `newsflow ingest`): the run's window [start, end). mode "cursor"
    (scheduled runs): each source pages back from the window's end to its cursor, the newest item it
    listed before, so a downtime is covered as far back as the feed still lists; where the feed no
    longer reaches the cursor the run records a coverage gap (and alerts once). A listing that reaches
    back over an open gap closes it. A source that fails becomes a dead letter for (source, window)
    and is retried by later runs; when every source fails the stage raises, since it could not do its job.
    """
    if mode not in DISCOVER_MODES:
        raise ValueError(f"discover mode {mode!r}: use one of {', '.join(DISCOVER_MODES)}")
    fetcher = _fetcher(settings, url)
    sources = configured_sources(fetcher)
    wkey = window_key(window)
    with _connection(url) as conn:
        with db.transaction(conn) as cur:
            pending = run_store.open_discover_failures(cur)
            cursors = {s.name: health_store.get_cursor(cur, s.name) for s in sources} if mode == "cursor" else {}
        since = {name: c.published_at for name, c in cursors.items() if c is not None}
        # No transaction is open while the sources are listed (network).
        result = discover_window(sources, window, since)
        failed_sources = {e.source for e in result.errors}
        configured = {s.name for s in sources}
        retried = []
        for name, key in pending:
            if key == wkey and name in failed_sources:
                continue
            try:
                earlier = parse_window_key(key)
                items = source_named(fetcher, name).list_items(earlier.start, earlier.end).items
            except (DiscoverError, ValueError) as exc:
                log.warning("retry of %s %s failed again: %s", name, key, exc)
                continue
            retried.append((name, key, items))
        new_gaps: list[tuple[str, datetime, datetime]] = []
        with db.transaction(conn) as cur:
            new = item_store.upsert_feed_items(cur, result.items)
            for name, key, items in retried:
                new += item_store.upsert_feed_items(cur, items)
                run_store.resolve_dead_letters(cur, name, key, ("discover",))
            for err in result.errors:
                run_store.record_dead_letter(
                    cur, source=err.source, item_key=wkey, stage="discover", error=err, run_id=run_id
                )
            for name in configured - failed_sources:
                run_store.resolve_dead_letters(cur, name, wkey, ("discover",))
            for name, (start, listing) in result.listings.items():
                if listing.reached:
                    health_store.close_gaps_covered(cur, name, start, window.end, run_id)
                else:
                    # Between the range's start and the oldest item still listed, the feed shows nothing
                    # more: recorded when that start was the cursor (the items were published and missed).
                    cursor = cursors.get(name)
                    gap_to = min(listing.oldest or window.end, window.end)
                    if cursor is not None and cursor.published_at < gap_to:
                        if health_store.record_gap(cur, name, cursor.published_at, gap_to, run_id):
                            new_gaps.append((name, cursor.published_at, gap_to))
                        run_store.mark_degraded(cur, run_id, f"{name}: coverage gap since {cursor.published_at:%Y-%m-%d %H:%M}Z")
                if mode == "cursor" and listing.items:
                    newest = max(listing.items, key=lambda it: (it.published_at, it.item_key))
                    assert newest.published_at is not None
                    health_store.advance_cursor(cur, name, newest.published_at, newest.item_key, run_id)
            if result.errors:
                run_store.mark_degraded(cur, run_id, "; ".join(str(e) for e in result.errors))
            run_store.add_counts(cur, run_id, discovered=new)
    for name in result.truncated:
        log.warning("%s: page limit reached inside window %s; raise max_pages to cover it", name, wkey)
    for name, gap_from, gap_to in new_gaps:
        log.warning("%s: coverage gap %s .. %s (the feed no longer lists back to its cursor)", name, gap_from, gap_to)
        notify.raise_alert(notify.gap_alert(name, gap_from, gap_to, run_id), url)
    if result.errors and len(result.errors) >= len(configured):
        raise DiscoverError("all sources", "; ".join(str(e) for e in result.errors))
    return len(result.items)


# --- fetch -----------------------------------------------------------------------------------------


def lease_seconds(s: Settings) -> float:
    """How long a fetch worker keeps an item: twice the longest a page fetch can take.

    That is every attempt timing out, every wait between attempts at its cap, and robots.txt read
    first. A holder that outlives its lease finds its result refused (another worker took the item).
    """
    per_attempt = s.connect_timeout + s.read_timeout + s.min_interval_per_host
    wait = max(s.max_retry_after, s.backoff * 2**s.retries * 1.5)
    page = (s.retries + 1) * per_attempt + s.retries * wait
    robots = 2 * per_attempt + wait
    return float(2 * (page + robots))


def _local_raw(row: dict[str, Any]) -> RawPage:
    """The raw page of an item that needs no request: a flash is its payload, a post is its file."""
    now = datetime.now(UTC)
    if row["kind"] == "zhibo_flash":
        body = json.dumps(row["payload"], ensure_ascii=False, sort_keys=True).encode("utf-8")
        return RawPage(f"zhibo:{row['item_key']}", row["kind"], body, {"content-type": "application/json"}, 200, now)
    path = Path(row["payload"]["path"])
    try:
        body = path.read_bytes()
    except OSError as exc:
        raise FetchError(str(path), f"cannot read post: {exc.strerror}", retryable=False) from exc
    return RawPage(
        "archive:" + hashlib.sha256(body).hexdigest(), row["kind"], body,
        {"content-type": "text/markdown; charset=utf-8", "x-archive-path": row["item_key"]}, 200, now,
    )  # fmt: skip


def _failure_kind(row: dict[str, Any]) -> str:
    """A first failure counts against the run; a retried dead letter failing again does not.

    Otherwise one page that can never be parsed would fail every quiet window that retries it.
    """
    return "refailed" if row["attempts"] > 0 else "failed"


def _record_fetch(
    cur: Cursor, run_id: int, row: dict[str, Any], outcome: RawPage | FetchError, counts: dict[str, int]
) -> None:
    fid = row["feed_item_id"]
    if isinstance(outcome, FetchError):
        log.warning("fetch failed: %s", outcome)
        run_store.record_dead_letter(
            cur, source=row["source"], item_key=row["item_key"], stage="fetch", error=outcome,
            url=row["url"], feed_item_id=fid, run_id=run_id,
        )  # fmt: skip
        item_store.fail_item(cur, fid)
        kind = _failure_kind(row)
        run_store.add_counts(cur, run_id, **{kind: 1})
        counts[kind] += 1
        return
    raw_id = item_store.save_raw_page(cur, outcome)
    item_store.mark_item(cur, fid, "fetched", raw_page_id=raw_id)
    run_store.resolve_dead_letters(cur, row["source"], row["item_key"], ("fetch",))
    run_store.add_counts(cur, run_id, fetched=1)
    counts["fetched"] += 1


def _end_fetch(
    cur: Cursor, run_id: int, owner: str, leased: tuple[dict[str, Any], datetime, RawPage | FetchError],
    counts: dict[str, int],
) -> None:
    """Record a fetched item's result, if its lease is still ours (else another worker has taken it over)."""
    row, claimed_at, outcome = leased
    if not item_store.end_lease(cur, row["feed_item_id"], owner, claimed_at):
        log.warning("lease on %s ran out and another worker took it over: result dropped", row["url"])
        counts["lost_lease"] += 1
        return
    _record_fetch(cur, run_id, row, outcome, counts)


def _fetch_claimed(
    conn: psycopg2.extensions.connection, run_id: int, claim: Claim, fetcher: Fetcher | None, lease: float
) -> dict[str, int]:
    """Items one at a time: claim (and lease) in a transaction, fetch outside it, record in the next one.

    The result of one request is recorded in the transaction that claims the next item, so a page
    costs one commit, as when the request ran inside the transaction, and none is open meanwhile.
    """
    counts = {"fetched": 0, "skipped": 0, "failed": 0, "refailed": 0, "lost_lease": 0}
    owner = f"run {run_id} {socket.gethostname()}:{os.getpid()} {uuid.uuid4().hex[:8]}"
    tried: set[int] = set()
    done: tuple[dict[str, Any], datetime, RawPage | FetchError] | None = None
    while True:
        with db.transaction(conn) as cur:
            if done is not None:
                _end_fetch(cur, run_id, owner, done, counts)
                done = None
            rows = claim(cur, 1, tried)
            if not rows:
                break
            row = rows[0]
            fid = row["feed_item_id"]
            tried.add(fid)
            if row["kind"] != "sina_page":
                # No request to make (a payload, a local file): done within the claim's transaction.
                try:
                    local: RawPage | FetchError = _local_raw(row)
                except FetchError as exc:
                    local = exc
                _record_fetch(cur, run_id, row, local, counts)
                continue
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
            claimed_at = item_store.lease_item(cur, fid, owner, lease)
        # Committed: the lease, not an open transaction, keeps other workers off the item meanwhile.
        assert fetcher is not None and row["url"]
        try:
            fetched: RawPage | FetchError = fetcher.get_page(row["url"], row["kind"])
        except FetchError as exc:
            fetched = exc
        done = (row, claimed_at, fetched)
    return counts


def fetch(
    run_id: int,
    window: Window,
    settings: Settings | None = None,
    url: str | None = None,
    *,
    lease: float | None = None,
) -> dict[str, int]:
    """Fetch the pages of the window's items that are not stored yet (and retry earlier failures).

    `lease`: seconds an item stays reserved for this worker while it fetches (default `lease_seconds`).
    """
    fetcher = _fetcher(settings, url)

    def claim(cur: Cursor, limit: int, tried: set[int]) -> list[dict[str, Any]]:
        return item_store.claim_items(
            cur, ("new", "failed"), window.start, window.end, limit, retry_older=True, exclude=tried
        )

    with _connection(url) as conn:
        return _fetch_claimed(conn, run_id, claim, fetcher, lease or lease_seconds(fetcher.settings))


# --- process: parse -> tag -> dedup -> load --------------------------------------------------------


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


def _dead_letter_item(cur: Cursor, run_id: int, row: dict[str, Any], stage: str, exc: BaseException) -> None:
    log.warning("%s failed for %s: %s", stage, row["url"] or row["item_key"], exc)
    run_store.record_dead_letter(
        cur, source=row["source"], item_key=row["item_key"], stage=stage, error=exc,
        url=row["url"], raw_page_id=row["raw_page_id"], feed_item_id=row["feed_item_id"], run_id=run_id,
    )  # fmt: skip
    item_store.fail_item(cur, row["feed_item_id"])


def _process_batch(cur: Cursor, run_id: int, rows: list[dict[str, Any]]) -> dict[str, int]:
    """Parse a claimed batch, then load it; every item either loads or becomes a dead letter."""
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
    lock_batch(cur, (article for _, article in parsed))
    parsed.sort(key=lambda pair: (pair[1].docid or "", normalize_title(pair[1].title), pair[0]["feed_item_id"]))
    for row, article in parsed:
        try:
            with savepoint(cur, _LOAD_ERRORS):
                result = load_article(cur, article, source=row["source"], raw_page_id=row["raw_page_id"])
        except _LOAD_ERRORS as exc:
            _dead_letter_item(cur, run_id, row, "load", exc)
            batch[_failure_kind(row)] += 1
            continue
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
    """Parse, tag, dedup and load the window's fetched items, one transaction per batch."""

    def claim(cur: Cursor, limit: int, tried: set[int]) -> list[dict[str, Any]]:
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
    except DiscoverError as exc:
        fail_run(run_id, str(exc), url)  # no source could be listed: the run could not do its job
        raise
    fetch(run_id, window, settings, url)
    process(run_id, window, url)
    counts = finish_run(run_id, url)
    counts["run_id"] = run_id
    return counts


# --- live: poll the feeds, ingest what is new -----------------------------------------------------

POLL_PAGE_SIZE = 5  # a poll reads page 1 with this many items: what is new since the cursor is at the top
LIVE_LOOKBACK = timedelta(hours=1)  # a live run's window reaches this far back (its discovery pages to the cursor)
LIVE_LOOKAHEAD = timedelta(minutes=5)  # and this far ahead: items listed while the run runs are in it


def poll_new(settings: Settings | None = None, url: str | None = None) -> dict[str, str]:
    """Which sources list an item newer than their cursor: {source: "<published_at> <item_key>"} of the newest.

    One small request per source (page 1, POLL_PAGE_SIZE items), through the same Fetcher as every
    request (robots.txt, the per-host interval, retries). A source that cannot be read is skipped
    (the scheduled runs record it as a dead letter); a source that never ran has no cursor and
    counts as new when it lists anything within LIVE_LOOKBACK (older items are left to the
    scheduled runs and backfills, which a live run's window would not reach).
    """
    s = dataclasses.replace(settings or Settings.from_env(), page_size=POLL_PAGE_SIZE)
    newest: dict[str, Any] = {}
    for source in configured_sources(_fetcher(s, url)):
        try:
            page = source.read_page(1)
        except DiscoverError as exc:
            log.warning("poll of %s failed: %s", source.name, exc)
            continue
        dated = [it for it in page.items if it.published_at is not None]
        if dated:
            newest[source.name] = max(dated, key=lambda it: (it.published_at, it.item_key))
    if not newest:
        return {}
    with _connection(url) as conn, db.transaction(conn) as cur:
        cursors = {name: health_store.get_cursor(cur, name) for name in newest}
    out: dict[str, str] = {}
    horizon = datetime.now(UTC) - LIVE_LOOKBACK  # older items are the scheduled runs' and backfills' work
    for name, item in newest.items():
        cursor = cursors[name]
        if item.published_at < horizon:
            continue
        if cursor is None or (item.published_at, item.item_key) > (cursor.published_at, cursor.item_key):
            out[name] = f"{item.published_at.isoformat()} {item.item_key}"
    return out


def live_window(now: datetime) -> Window:
    """The window of a live run started at `now` (its discovery pages back to each cursor anyway)."""
    return Window(start=now - LIVE_LOOKBACK, end=now + LIVE_LOOKAHEAD)


def ingest_live(
    run_key: str, now: datetime, settings: Settings | None = None, url: str | None = None
) -> dict[str, int]:
    """Every stage for what the feeds list beyond their cursors: the run the feed watcher's events start."""
    url = url or db.database_url()
    window = live_window(now)
    run_id = begin_run(run_key, "live", window, url)
    try:
        discover(run_id, window, settings, url, mode="cursor")
    except DiscoverError as exc:
        fail_run(run_id, str(exc), url)
        raise
    fetch(run_id, window, settings, url)
    counts = process(run_id, window, url)
    result = finish_run(run_id, url)
    result["run_id"] = run_id
    result["loaded"] = counts.get("loaded", 0)
    return result


def import_archive(
    directory: Path, url: str | None = None, run_key: str | None = None, progress: Progress | None = None
) -> dict[str, int]:
    """Import a folder of Hexo posts through the same parse/tag/dedup/load code.

    Streams the folder in chunks (memory stays flat for 100k posts); re-importing a folder, or
    resuming one that was interrupted, only does what is left.
    """
    url = url or db.database_url()
    run_id = begin_run(run_key or f"archive/{uuid.uuid4()}", "archive", None, url)
    total = sum(1 for _ in Path(directory).rglob("*.md")) if progress else 0
    posts = 0
    folder = ArchiveFolder(Path(directory))
    feed = folder.iter_items()
    with _connection(url) as conn:
        while chunk := list(islice(feed, ARCHIVE_CHUNK)):
            posts += len(chunk)
            keys = [it.item_key for it in chunk]
            with db.transaction(conn) as cur:
                run_store.add_counts(cur, run_id, discovered=item_store.upsert_feed_items(cur, chunk))

            def claim_for(statuses: tuple[str, ...], keys: list[str] = keys) -> Claim:
                def claim(cur: Cursor, limit: int, tried: set[int]) -> list[dict[str, Any]]:
                    return item_store.claim_items_by_key(cur, folder.name, keys, statuses, limit, tried)

                return claim

            # Posts are local files: nothing is leased (no request is made), the lease length is moot.
            _fetch_claimed(conn, run_id, claim_for(("new", "failed")), None, lease=0.0)
            _process_claimed(conn, run_id, claim_for(("fetched",)))
            if progress:
                progress(posts, max(total, posts))
    counts = finish_run(run_id, url)
    counts["run_id"] = run_id
    counts["posts"] = posts
    return counts


def reparse(url: str | None = None, batch_size: int = 200, progress: Progress | None = None) -> dict[str, int]:
    """Parse every stored raw page again (after a parser fix) and load it: a query, not a re-crawl."""
    url = url or db.database_url()
    run_id = begin_run(f"reparse/{uuid.uuid4()}", "reparse", None, url)
    counts = {"parsed": 0, "loaded": 0, "duplicates": 0, "failed": 0}
    with _connection(url) as conn:
        with db.transaction(conn) as cur:
            total = item_store.count_raw_pages(cur)
        last = 0
        while True:
            with db.transaction(conn) as cur:
                rows = item_store.raw_pages_after(cur, last, batch_size)
                if not rows:
                    break
                batch = {"parsed": 0, "loaded": 0, "failed": 0}
                for raw_id, source, key in rows:
                    last = raw_id
                    try:
                        with savepoint(cur, _REPARSE_ERRORS):
                            article = parse_raw(item_store.load_raw_page(cur, raw_id))
                            result = load_article(cur, article, source=source, raw_page_id=raw_id)
                    except _REPARSE_ERRORS as exc:
                        run_store.record_dead_letter(
                            cur, source=source, item_key=key, stage="parse", error=exc,
                            raw_page_id=raw_id, run_id=run_id,
                        )  # fmt: skip
                        batch["failed"] += 1
                        continue
                    batch["parsed"] += 1
                    if result.action == "updated":
                        batch["loaded"] += 1
                run_store.add_counts(cur, run_id, **batch)
            for k, v in batch.items():
                counts[k] += v
            if progress:
                progress(counts["parsed"] + counts["failed"], total)
    with _connection(url) as conn, db.transaction(conn) as cur:
        run_store.end_run(cur, run_id, "success")
    return counts


# --- re-deciding what is stored --------------------------------------------------------------------


def retag_all(url: str | None = None, batch_size: int = 500) -> dict[str, int]:
    """Re-tag every stored article with the packaged taxonomy (`newsflow retag`); idempotent.

    One transaction per batch of `batch_size` articles, walked by article_id, so a long retag holds
    no lock for long and a crash loses at most one batch (a rerun redoes it).
    """
    counts = {
        "articles": 0, "tags": 0, "articles_changed": 0, "rows_changed": 0, "policy_records": 0,
        "stock_links_changed": 0,
    }  # fmt: skip
    with _connection(url) as conn:
        last = 0
        while True:
            with db.transaction(conn) as cur:
                stored = article_store.articles_after(cur, last, batch_size)
                if not stored:
                    break
                changed_here = 0
                for article_id, article in stored:
                    tags = tag_article(article)
                    now, changed = tag_store.write_tags(cur, article_id, tags)
                    counts["policy_records"] += policy_store.replace_policies(
                        cur, article_id, policy_mentions(article, tags), RECORDS_VERSION
                    )
                    counts["stock_links_changed"] += stock_store.replace_stock_links(
                        cur, article_id, stock_links(article), STOCKS_VERSION
                    )
                    counts["articles"] += 1
                    counts["tags"] += now
                    counts["rows_changed"] += changed
                    if changed:
                        changed_here += 1
                last = stored[-1][0]
            counts["articles_changed"] += changed_here
            log.info(
                "retag %s: batch up to article %d: %d articles, %d changed",
                TAGGER_VERSION,
                last,
                len(stored),
                changed_here,
            )
    return counts


def rebuild_dedup(url: str | None = None) -> dict[str, int]:
    """Recompute signatures, buckets and story links for every stored article, in first-seen order.

    One transaction: readers see the old clusters until the new ones are complete, and a failure
    leaves the old ones in place. No article row is deleted; only the dedup columns change.
    """
    counts = {"articles": 0, "original": 0, "exact": 0, "near": 0}
    with _connection(url) as conn, db.transaction(conn) as cur:
        ids = dedup_store.clear_links(cur)
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            stored = article_store.read_articles(cur, chunk)
            for article_id in chunk:
                # clear_links's table lock already keeps loaders out; per-key locks for every article
                # would overflow the lock table on a large corpus.
                link = link_story(cur, article_id, stored[article_id], take_locks=False)
                counts["articles"] += 1
                counts[link.verdict] += 1
        counts["stories"] = dedup_store.count_stories(cur)
    log.info(
        "dedup rebuild: %d articles, %d stories, %d exact, %d near",
        counts["articles"],
        counts["stories"],
        counts["exact"],
        counts["near"],
    )
    return counts
