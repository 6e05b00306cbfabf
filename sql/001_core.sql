-- Core schema: feed items seen, raw pages, articles and their versions, runs, dead letters.
-- Every *_at column is timestamptz (stored in UTC). Natural keys carry unique indexes so every load
-- is an INSERT ... ON CONFLICT.

CREATE TABLE ingest_runs (
    run_id          bigserial PRIMARY KEY,
    run_key         text NOT NULL UNIQUE,          -- Airflow "dag_id/run_id" or "cli/<uuid>"
    kind            text NOT NULL,                 -- 'ingest' | 'archive' | 'reparse' | ...
    window_start    timestamptz,
    window_end      timestamptz,
    started_at      timestamptz NOT NULL DEFAULT now(),
    finished_at     timestamptz,
    status          text NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'success', 'failed')),
    discovered      integer NOT NULL DEFAULT 0,
    fetched         integer NOT NULL DEFAULT 0,
    skipped         integer NOT NULL DEFAULT 0,    -- already stored, not fetched again
    parsed          integer NOT NULL DEFAULT 0,
    duplicates      integer NOT NULL DEFAULT 0,
    failed          integer NOT NULL DEFAULT 0,    -- items that failed for the first time in this run
    refailed        integer NOT NULL DEFAULT 0,    -- earlier dead letters retried here that failed again
    loaded          integer NOT NULL DEFAULT 0,    -- articles inserted or changed
    error           text
);
COMMENT ON TABLE ingest_runs IS 'One row per pipeline run (scheduled window, backfill window, archive import), with its counts.';

CREATE TABLE feed_items (
    feed_item_id    bigserial PRIMARY KEY,
    source          text NOT NULL,                 -- 'roll:155:1686', 'zhibo:152', 'rss:<url>', 'hexo'
    item_key        text NOT NULL,                 -- stable id within the source
    kind            text NOT NULL CHECK (kind IN ('sina_page', 'zhibo_flash', 'hexo_post')),
    url             text,
    docid           text,
    title           text NOT NULL,
    published_at    timestamptz,
    payload         jsonb NOT NULL DEFAULT '{}'::jsonb,
    status          text NOT NULL DEFAULT 'new'
                    CHECK (status IN ('new', 'fetched', 'loaded', 'skipped', 'failed')),
    attempts        integer NOT NULL DEFAULT 0,
    first_seen_at   timestamptz NOT NULL DEFAULT now(),
    last_seen_at    timestamptz NOT NULL DEFAULT now(),
    raw_page_id     bigint,
    article_id      bigint,
    UNIQUE (source, item_key)
);
CREATE INDEX feed_items_published_at_idx ON feed_items (published_at);
CREATE INDEX feed_items_status_idx ON feed_items (status) WHERE status IN ('new', 'fetched', 'failed');
CREATE INDEX feed_items_docid_idx ON feed_items (docid);
COMMENT ON TABLE feed_items IS 'Every item a feed listed, once per (source, item_key); status tracks it through fetch and load.';

CREATE TABLE raw_pages (
    raw_page_id     bigserial PRIMARY KEY,
    url             text NOT NULL UNIQUE,          -- requested URL, or 'archive:<path>' / 'zhibo:<id>'
    final_url       text,
    kind            text NOT NULL,
    status_code     integer NOT NULL,
    headers         jsonb NOT NULL DEFAULT '{}'::jsonb,
    body            bytea NOT NULL,
    body_sha256     text NOT NULL,
    fetched_at      timestamptz NOT NULL
);
COMMENT ON TABLE raw_pages IS 'Bytes exactly as fetched, so a parser fix re-parses from here (newsflow reparse), not from the web.';

CREATE TABLE articles (
    article_id      bigserial PRIMARY KEY,
    docid           text UNIQUE,                   -- 'comos:<ID>' for Sina pages, 'zhibo:<id>' for flashes
    canonical_url   text UNIQUE,                   -- identity of a page; NULL for flashes and archive posts
    link_url        text,                          -- where the item points (a flash: its full article)
    kind            text NOT NULL,
    source          text NOT NULL,
    title           text NOT NULL,
    original_title  text,
    title_norm      text NOT NULL,
    body_hash       text NOT NULL,
    content_key     text NOT NULL UNIQUE,          -- sha256(title_norm || body_hash): same title + body = same article
    published_at    timestamptz,
    media           text,
    author          text,
    editor          text,
    keywords        text[] NOT NULL DEFAULT '{}',
    stocks          jsonb NOT NULL DEFAULT '[]'::jsonb,   -- [{"code": "sz300024", "name": "机器人"}]
    paragraphs      text[] NOT NULL DEFAULT '{}',
    body_text       text NOT NULL,
    body_html       text NOT NULL,
    images          jsonb NOT NULL DEFAULT '[]'::jsonb,
    parser_version  text NOT NULL,
    raw_page_id     bigint REFERENCES raw_pages (raw_page_id),
    version         integer NOT NULL DEFAULT 1,
    first_seen_at   timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX articles_published_at_idx ON articles (published_at);
CREATE INDEX articles_title_norm_idx ON articles (title_norm);
COMMENT ON TABLE articles IS 'One row per distinct article (docid, canonical URL, or same normalized title + body).';

CREATE TABLE article_versions (
    article_id      bigint NOT NULL REFERENCES articles (article_id) ON DELETE CASCADE,
    version         integer NOT NULL,
    title           text NOT NULL,
    body_hash       text NOT NULL,
    body_text       text NOT NULL,
    body_html       text NOT NULL,
    parser_version  text NOT NULL,
    raw_page_id     bigint REFERENCES raw_pages (raw_page_id),
    recorded_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (article_id, version)
);
COMMENT ON TABLE article_versions IS 'Every content a stored article has had; version 1 is the first seen.';

CREATE TABLE dead_letters (
    dead_letter_id  bigserial PRIMARY KEY,
    source          text NOT NULL,
    item_key        text NOT NULL,
    stage           text NOT NULL CHECK (stage IN ('discover', 'fetch', 'parse', 'load')),
    url             text,
    error_class     text NOT NULL,
    error           text NOT NULL,
    raw_page_id     bigint REFERENCES raw_pages (raw_page_id),
    feed_item_id    bigint REFERENCES feed_items (feed_item_id),
    run_id          bigint REFERENCES ingest_runs (run_id),
    attempts        integer NOT NULL DEFAULT 1,
    first_failed_at timestamptz NOT NULL DEFAULT now(),
    last_failed_at  timestamptz NOT NULL DEFAULT now(),
    resolved_at     timestamptz,
    UNIQUE (source, item_key, stage)
);
CREATE INDEX dead_letters_open_idx ON dead_letters (last_failed_at) WHERE resolved_at IS NULL;
COMMENT ON TABLE dead_letters IS 'Items that failed at a stage, with the error; a later run retries them and sets resolved_at.';

-- Analysts read through this role (NOLOGIN; grant it to a login role of your own).
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'newsflow_reader') THEN
        CREATE ROLE newsflow_reader NOLOGIN;
    END IF;
END
$$;
DO $$
BEGIN
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO newsflow_reader', current_database());
END
$$;
GRANT USAGE ON SCHEMA public TO newsflow_reader;
GRANT SELECT ON ALL TABLES IN SCHEMA public TO newsflow_reader;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO newsflow_reader;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT EXECUTE ON FUNCTIONS TO newsflow_reader;
