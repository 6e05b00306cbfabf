"""The little the DAG files need from the project: names, the Asset, the news database URL.

Imported when the dag-processor parses a DAG file, so it imports nothing heavy: no Airflow at
module level (the launcher imports the names below without Airflow configured), no requests, no
psycopg2, no pipeline stage. Airflow objects are built on first use, once per process.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from pipeline.errors import ConfigError

NEWS_DAG_ID = "news_ingest"
LIVE_DAG_ID = "news_live"  # runs on the feed watcher's events (dags/news_live.py)
ARCHIVE_DAG_ID = "archive_import"
# The Airflow Connection that holds the news database (AIRFLOW_CONN_NEWS_DB in the environment).
NEWS_DB_CONN_ID = "news_db"

# The pool of the tasks that send requests to Sina: declared here, created by the launcher and the
# container init from these three values.
POOL_NAME = "sina_http"
POOL_SLOTS = 2  # at most this many tasks talk to Sina at once, across every run and backfill
POOL_DESCRIPTION = "Concurrent tasks that send requests to Sina (all runs and backfills)"

ARTICLES_ASSET_NAME = "newsflow_articles"
ARTICLES_ASSET_URI = "postgres://news_db/newsflow/public/articles"
# Tasks declare this alias as their outlet and attach an event for the articles Asset only when they
# added or changed articles: an Asset declared as an outlet gets an event on every successful run.
ARTICLES_ALIAS_NAME = "newsflow_articles_changed"


@functools.cache
def articles_asset() -> Any:
    """The articles table as an Airflow Asset (DAGs downstream of new articles schedule on it)."""
    from airflow.sdk import Asset

    return Asset(name=ARTICLES_ASSET_NAME, uri=ARTICLES_ASSET_URI)


@functools.cache
def articles_changed() -> Any:
    """The outlet of the loading tasks: an AssetAlias that resolves to `articles_asset()` when used."""
    from airflow.sdk import AssetAlias

    return AssetAlias(name=ARTICLES_ALIAS_NAME)


def announce_changes(outlet_events: Any, counts: Mapping[str, Any]) -> bool:
    """Attach an articles Asset event to the running task when `counts` says articles were loaded.

    `loaded` counts inserted articles and new versions of changed ones; duplicates and unchanged
    re-reads are not a reason to wake downstream DAGs. Returns whether an event was attached.
    """
    loaded = int(counts.get("loaded") or 0)
    if loaded <= 0:
        return False
    outlet_events[articles_changed()].add(articles_asset(), extra={"loaded": loaded})
    return True


def psycopg2_url(uri: str) -> str:
    """An Airflow Connection URI (`postgres://`, `postgresql://`, `postgresql+psycopg2://`) as a libpq URL."""
    parts = urlsplit(uri)
    if parts.scheme not in ("postgres", "postgresql", "postgresql+psycopg2", "postgresql+psycopg"):
        raise ConfigError(
            f"{NEWS_DB_CONN_ID} connection must be a PostgreSQL URI, got scheme {parts.scheme!r}"
        )
    return urlunsplit(("postgresql", parts.netloc, parts.path, parts.query, parts.fragment))


def sqlalchemy_url(url: str) -> str:
    """A libpq URL as the SQLAlchemy URL Airflow's metadata database wants (psycopg2 driver)."""
    parts = urlsplit(psycopg2_url(url))
    return urlunsplit(("postgresql+psycopg2", parts.netloc, parts.path, parts.query, parts.fragment))


def news_db_url() -> str:
    """The news database as a libpq URL, read at run time from the Airflow Connection `news_db`."""
    from airflow.sdk import BaseHook

    return psycopg2_url(BaseHook.get_connection(NEWS_DB_CONN_ID).get_uri())
