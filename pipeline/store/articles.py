"""Articles: the upsert on natural keys (docid, canonical URL, title + body), version rows, and readers.

Stores what it is given in the caller's transaction; tagging and story links are the flow's
(`pipeline.flow.load_article`), written in the same transaction by `store.tags` and `store.dedup`.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from psycopg2.extensions import cursor as Cursor
from psycopg2.extras import Json

from pipeline.identity import canonicalize_url
from pipeline.models import Article, StockRef
from pipeline.textnorm import body_hash, normalize_title

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LoadResult:
    article_id: int
    action: str  # "inserted" | "updated" (content changed: new version) | "unchanged" | "merged" (metadata filled in)
    duplicate_of: int | None = None  # the story's first article (the flow sets it), or the row holding this content

    @property
    def content_changed(self) -> bool:
        """The stored text is new: its tags and story link must be computed (again)."""
        return self.action in ("inserted", "updated")


def content_key(title_norm: str, body_digest: str) -> str:
    return hashlib.sha256(f"{title_norm}\x1f{body_digest}".encode()).hexdigest()


def _article_row(article: Article, source: str, raw_page_id: int | None) -> dict[str, Any]:
    title_norm = normalize_title(article.title)
    # A video or gallery has no text: its media are its content, so two of them under one headline
    # stay two articles.
    digest = body_hash(article.body_text or "\n".join(article.media_urls))
    link = canonicalize_url(article.url) if article.url else None
    return {
        "docid": article.docid,
        # A flash links to the full article but is not it: its URL must not claim the page's identity.
        "canonical_url": link if article.kind != "zhibo_flash" else None,
        "link_url": link,
        "kind": article.kind,
        "source": source,
        "title": article.title,
        "original_title": article.original_title,
        "title_norm": title_norm,
        "body_hash": digest,
        "content_key": content_key(title_norm, digest),
        "published_at": article.published_at,
        "media": article.media,
        "author": article.author,
        "editor": article.editor,
        "keywords": list(article.keywords),
        "stocks": Json([asdict(s) for s in article.stocks]),
        "paragraphs": list(article.paragraphs),
        "body_text": article.body_text,
        "body_html": article.body_html,
        "images": Json([asdict(i) for i in article.images]),
        "parser_version": article.parser_version,
        "raw_page_id": raw_page_id,
        "content_kind": article.content_kind,
        "media_urls": list(article.media_urls),
    }


_COLS = (
    "docid", "canonical_url", "link_url", "kind", "source", "title", "original_title", "title_norm", "body_hash",
    "content_key", "published_at", "media", "author", "editor", "keywords", "stocks", "paragraphs",
    "body_text", "body_html", "images", "parser_version", "raw_page_id", "content_kind", "media_urls",
)  # fmt: skip
_CONTENT_COLS = (
    "title", "original_title", "title_norm", "body_hash", "content_key", "paragraphs", "body_text",
    "body_html", "images", "parser_version", "raw_page_id", "editor", "keywords", "stocks",
    "content_kind", "media_urls",
)  # fmt: skip
# Metadata a later sighting may fill in when the stored row lacks it (an archive post has no docid/URL).
_FILL_COLS = ("docid", "canonical_url", "media", "author", "editor", "published_at", "original_title")


def _write_version(cur: Cursor, article_id: int, version: int, row: dict[str, Any]) -> None:
    cur.execute(
        """INSERT INTO article_versions
             (article_id, version, title, body_hash, body_text, body_html, parser_version, raw_page_id)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s)
           ON CONFLICT (article_id, version) DO NOTHING""",
        (article_id, version, row["title"], row["body_hash"], row["body_text"], row["body_html"],
         row["parser_version"], row["raw_page_id"]),
    )  # fmt: skip


def _find_existing(cur: Cursor, row: dict[str, Any]) -> tuple[Any, ...] | None:
    """The stored article this one is: by docid, then canonical URL, then title+body. Locked for update."""
    for col in ("docid", "canonical_url", "content_key"):
        if row[col] is None:
            continue
        cur.execute(
            f"SELECT article_id, content_key, version, docid, canonical_url, media, author, editor, "
            f"published_at, original_title FROM articles WHERE {col} = %s FOR UPDATE",
            (row[col],),
        )
        found = cur.fetchone()
        if found:
            return tuple(found)
    return None


def upsert_article(cur: Cursor, article: Article, *, source: str, raw_page_id: int | None) -> LoadResult:
    """Store one article in the caller's transaction; the same article twice never makes a second row.

    Concurrent loaders are safe: the INSERT waits on a conflicting uncommitted row and then does
    nothing, and the follow-up SELECT sees the committed row.
    """
    row = _article_row(article, source, raw_page_id)
    placeholders = ", ".join(["%s"] * len(_COLS))
    cur.execute(
        f"INSERT INTO articles ({', '.join(_COLS)}) VALUES ({placeholders}) "
        "ON CONFLICT DO NOTHING RETURNING article_id",
        [row[c] for c in _COLS],
    )
    inserted = cur.fetchone()
    if inserted:
        article_id = int(inserted[0])
        _write_version(cur, article_id, 1, row)
        return LoadResult(article_id, "inserted")

    existing = _find_existing(cur, row)
    if existing is None:
        # The INSERT conflicted, yet no row matches any key: the conflicting row was deleted in between.
        # Not retried here; the error fails this item (a dead letter), and a later run loads it again.
        raise RuntimeError(f"article {row['docid'] or row['title']!r} conflicted but no stored row matches")
    article_id, stored_key, version = int(existing[0]), existing[1], int(existing[2])
    stored_meta = dict(zip(_FILL_COLS, (existing[3], existing[4], existing[5], existing[6], existing[7],
                                        existing[8], existing[9]), strict=True))  # fmt: skip
    fills = {c: row[c] for c in _FILL_COLS if stored_meta[c] is None and row[c] is not None}
    if fills.get("docid"):
        cur.execute("SELECT 1 FROM articles WHERE docid = %s AND article_id <> %s", (fills["docid"], article_id))
        if cur.fetchone():
            fills.pop("docid")
    if fills.get("canonical_url"):
        cur.execute(
            "SELECT 1 FROM articles WHERE canonical_url = %s AND article_id <> %s",
            (fills["canonical_url"], article_id),
        )
        if cur.fetchone():
            fills.pop("canonical_url")

    if stored_key == row["content_key"]:
        if fills:
            sets = ", ".join(f"{c} = %s" for c in fills)
            cur.execute(
                f"UPDATE articles SET {sets}, updated_at = now() WHERE article_id = %s",
                [*fills.values(), article_id],
            )
            return LoadResult(article_id, "merged")
        return LoadResult(article_id, "unchanged")

    # Same article (docid/URL), new content. If that content is already another row's, only link.
    cur.execute("SELECT article_id FROM articles WHERE content_key = %s", (row["content_key"],))
    other = cur.fetchone()
    if other and int(other[0]) != article_id:
        log.info("article %s: new content equals article %s; not rewritten", article_id, other[0])
        return LoadResult(article_id, "unchanged", duplicate_of=int(other[0]))
    new_version = version + 1
    updates = {c: row[c] for c in _CONTENT_COLS} | fills
    sets = ", ".join(f"{c} = %s" for c in updates)
    cur.execute(
        f"UPDATE articles SET {sets}, version = %s, updated_at = now() WHERE article_id = %s",
        [*updates.values(), new_version, article_id],
    )
    _write_version(cur, article_id, new_version, row)
    return LoadResult(article_id, "updated")


# What re-tagging and re-linking read back: everything but the HTML and images they never use.
_STORED_ARTICLE_COLUMNS = (
    "article_id, docid, canonical_url, kind, title, original_title, published_at, media, author, editor, "
    "keywords, stocks, paragraphs, body_text, parser_version, content_kind, media_urls"
)


def article_from_row(row: Sequence[Any]) -> Article:
    """The Article of an `articles` row selected with _STORED_ARTICLE_COLUMNS (body_html, images empty)."""
    (_id, docid, url, kind, title, original_title, published_at, media, author, editor,
     keywords, stocks, paragraphs, body_text, parser_version, content_kind, media) = row  # fmt: skip
    paras = tuple(paragraphs) if paragraphs else tuple(body_text.split("\n")) if body_text else ()
    return Article(
        url=url,
        docid=docid,
        title=title,
        original_title=original_title,
        published_at=published_at,
        media=media,
        author=author,
        editor=editor,
        keywords=tuple(keywords or ()),
        stocks=tuple(StockRef(code=s.get("code", ""), name=s.get("name")) for s in (stocks or [])),
        paragraphs=paras,
        body_html="",
        images=(),
        kind=kind,
        parser_version=parser_version,
        content_kind=content_kind,
        media_urls=tuple(media or ()),
    )


def articles_after(cur: Cursor, last_id: int, limit: int) -> list[tuple[int, Article]]:
    """The next `limit` stored articles with an id above `last_id`, in id order (for walks over every article)."""
    cur.execute(
        f"SELECT {_STORED_ARTICLE_COLUMNS} FROM articles WHERE article_id > %s ORDER BY article_id LIMIT %s",
        (last_id, limit),
    )
    return [(int(r[0]), article_from_row(r)) for r in cur.fetchall()]


def read_articles(cur: Cursor, article_ids: Sequence[int]) -> dict[int, Article]:
    """The stored articles with these ids, by id."""
    cur.execute(f"SELECT {_STORED_ARTICLE_COLUMNS} FROM articles WHERE article_id = ANY(%s)", (list(article_ids),))
    return {int(r[0]): article_from_row(r) for r in cur.fetchall()}
