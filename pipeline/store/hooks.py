"""What runs after an article's content is stored: tagging and near-duplicate linking."""

from __future__ import annotations

from psycopg2.extensions import cursor as Cursor

from pipeline.models import Article


def after_content_change(cur: Cursor, article_id: int, article: Article) -> None:
    # Wired to pipeline.tag / pipeline.store.tags / pipeline.store.dedup as those land.
    return None
