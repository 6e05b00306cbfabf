-- dedup-2 (pipeline.dedup.DEDUP_VERSION): a short text that no single candidate contains is judged
-- against each story's members together. New rows start as originals of this version; rows linked
-- by dedup-1 keep their links until `newsflow dedup --rebuild`.
CREATE OR REPLACE FUNCTION newsflow_dedup_provisional() RETURNS trigger
LANGUAGE plpgsql AS $fn$
BEGIN
    IF NEW.story_id IS NULL THEN
        NEW.story_id := NEW.article_id;
        NEW.duplicate_of := NULL;
        NEW.dup_verdict := 'original';
        NEW.dup_score := 0;
        NEW.dedup_version := 'dedup-2';  -- pipeline.dedup.DEDUP_VERSION when this migration was written
    END IF;
    RETURN NEW;
END
$fn$;
