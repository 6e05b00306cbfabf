-- Freshness (issue 13): when each article was published, first listed, fetched, stored and searchable.
-- stored_at is set by a trigger at the insert, with the clock (not the transaction's start time);
-- the article is searchable when that transaction commits (the search columns are written by the
-- same insert), so searchable_at is stored_at: the commit follows within the batch.

ALTER TABLE articles ADD COLUMN stored_at timestamptz;
COMMENT ON COLUMN articles.stored_at IS 'Wall-clock time of the insert (clock_timestamp(), not the transaction start): when the article was stored and, at the commit that follows, searchable.';

CREATE FUNCTION newsflow_stored_at() RETURNS trigger
LANGUAGE plpgsql AS $fn$
BEGIN
    NEW.stored_at := clock_timestamp();
    RETURN NEW;
END
$fn$;
CREATE TRIGGER articles_stored_at
    BEFORE INSERT ON articles
    FOR EACH ROW EXECUTE FUNCTION newsflow_stored_at();

-- One row per feed item that became an article: the times along the way and the lags between them.
CREATE VIEW article_latency AS
SELECT a.article_id,
       f.source,
       f.item_key,
       f.published_at,
       f.first_seen_at AS listed_at,
       r.fetched_at,
       coalesce(a.stored_at, a.first_seen_at) AS stored_at,
       coalesce(a.stored_at, a.first_seen_at) AS searchable_at,
       extract(epoch FROM f.first_seen_at - f.published_at)::double precision AS listed_after_s,
       extract(epoch FROM r.fetched_at - f.first_seen_at)::double precision AS fetched_after_s,
       extract(epoch FROM coalesce(a.stored_at, a.first_seen_at) - coalesce(r.fetched_at, f.first_seen_at))::double precision AS stored_after_s,
       extract(epoch FROM coalesce(a.stored_at, a.first_seen_at) - f.published_at)::double precision AS publication_to_searchable_s
  FROM feed_items f
  JOIN articles a ON a.article_id = f.article_id
  LEFT JOIN raw_pages r ON r.raw_page_id = f.raw_page_id;
COMMENT ON VIEW article_latency IS 'Per article (through the feed item that brought it): published, first listed, fetched, stored/searchable, and the lags in seconds; publication_to_searchable_s is what a reader waits.';
GRANT SELECT ON article_latency TO newsflow_reader;
