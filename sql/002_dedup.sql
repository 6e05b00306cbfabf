-- Near-duplicate detection: story links on articles, MinHash signatures, LSH bucket keys, the stories view.
-- Every article keeps its row; duplicates point at the first-seen article of their story.

ALTER TABLE articles
    ADD COLUMN duplicate_of  bigint REFERENCES articles (article_id),
    ADD COLUMN story_id      bigint,
    ADD COLUMN dup_verdict   text CHECK (dup_verdict IN ('original', 'exact', 'near')),
    ADD COLUMN dup_score     real,
    ADD COLUMN dedup_version text;
CREATE INDEX articles_story_id_idx ON articles (story_id);
CREATE INDEX articles_duplicate_of_idx ON articles (duplicate_of) WHERE duplicate_of IS NOT NULL;
COMMENT ON COLUMN articles.duplicate_of IS 'First-seen article of the same story; NULL for the first one.';
COMMENT ON COLUMN articles.story_id IS 'Story cluster: the article_id of the story''s first-seen article (so story_id = article_id for it).';
COMMENT ON COLUMN articles.dup_verdict IS '''original'' (first of its story), ''exact'' (same body as duplicate_of''s story) or ''near'' (same story, edited or re-headlined).';
COMMENT ON COLUMN articles.dup_score IS 'Similarity to the matched story member: 1 for exact, else max(5-gram Jaccard, containment).';
COMMENT ON COLUMN articles.dedup_version IS 'pipeline.dedup.DEDUP_VERSION that linked this row; newsflow dedup --rebuild recomputes older ones.';

-- A new row starts as the first article of its own story. link_article then rewrites the row only when
-- it is a duplicate (or was linked by another version): most articles are originals, and an UPDATE of
-- an articles row re-inserts every index entry of the row (the search GIN index among them).
CREATE FUNCTION newsflow_dedup_provisional() RETURNS trigger
LANGUAGE plpgsql AS $fn$
BEGIN
    IF NEW.story_id IS NULL THEN
        NEW.story_id := NEW.article_id;
        NEW.duplicate_of := NULL;
        NEW.dup_verdict := 'original';
        NEW.dup_score := 0;
        NEW.dedup_version := 'dedup-1';  -- pipeline.dedup.DEDUP_VERSION when this migration was written
    END IF;
    RETURN NEW;
END
$fn$;
CREATE TRIGGER articles_dedup_provisional
    BEFORE INSERT ON articles
    FOR EACH ROW EXECUTE FUNCTION newsflow_dedup_provisional();

CREATE TABLE dedup_signatures (
    article_id      bigint PRIMARY KEY REFERENCES articles (article_id) ON DELETE CASCADE,
    dedup_version   text NOT NULL,
    minhash         bytea NOT NULL,                -- 128 little-endian uint32 MinHash values
    shingle_count   integer NOT NULL,
    text_chars      integer NOT NULL,
    matched_article_id bigint,                     -- the member whose text decided the verdict
    verdict_reason  text,
    computed_at     timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE dedup_signatures IS 'Near-duplicate signature of each linked article (MinHash over character 5-grams).';

-- LSH bucket keys: 32 MinHash bands (band 0..31) plus lead-clause keys (band 255). Two articles sharing
-- a key are candidates; the primary key is the lookup index, so cost per article stays flat with size.
CREATE TABLE dedup_buckets (
    bucket          bigint NOT NULL,
    article_id      bigint NOT NULL REFERENCES articles (article_id) ON DELETE CASCADE,
    band            smallint NOT NULL,
    PRIMARY KEY (bucket, article_id)
);
CREATE INDEX dedup_buckets_article_idx ON dedup_buckets (article_id);
COMMENT ON TABLE dedup_buckets IS 'LSH bucket keys per article (band hash -> article); candidate lookup for near-duplicates.';

CREATE VIEW stories AS
SELECT
    a.story_id,
    min(a.article_id) FILTER (WHERE a.article_id = a.story_id) AS first_article_id,
    max(a.title) FILTER (WHERE a.article_id = a.story_id)      AS first_title,
    count(*)::integer                                            AS member_count,
    min(a.first_seen_at)                                         AS first_seen_at,
    max(a.first_seen_at)                                         AS last_seen_at,
    min(a.published_at)                                          AS first_published_at,
    max(a.published_at)                                          AS last_published_at
FROM articles a
WHERE a.story_id IS NOT NULL
GROUP BY a.story_id;
COMMENT ON VIEW stories IS 'One row per story (cluster of duplicate articles): its first article, member count, first/last seen and published times.';

GRANT SELECT ON dedup_signatures, dedup_buckets, stories TO newsflow_reader;
