"""What runs after an article's content is stored, in the same transaction: tags, then story links."""

from __future__ import annotations

from psycopg2.extensions import cursor as Cursor

from pipeline.models import Article


def after_content_change(cur: Cursor, article_id: int, article: Article) -> int | None:
    """Tag the article and link it to its story; returns the article it duplicates, if any."""
    from pipeline.store.dedup import link_article
    from pipeline.store.tags import replace_tags
    from pipeline.tag import tag_article

    replace_tags(cur, article_id, tag_article(article))
    return link_article(cur, article_id, article).duplicate_of
