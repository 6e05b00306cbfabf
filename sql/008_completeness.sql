-- Completeness: runs that loaded their data while something was missing are 'degraded'; failed items
-- are retried on a schedule (minutes to a day) until they load, give up after two weeks (still
-- listed and counted), or a person ignores them.

ALTER TABLE ingest_runs DROP CONSTRAINT ingest_runs_status_check;
ALTER TABLE ingest_runs ADD CONSTRAINT ingest_runs_status_check
    CHECK (status IN ('running', 'success', 'degraded', 'failed', 'abandoned'));
COMMENT ON COLUMN ingest_runs.status IS '''running''; ''success''; ''degraded'' (its items loaded, but a source could not be listed or a coverage gap was found: see coverage_gaps, dead_letters); ''failed'' (most of its window''s items failed); ''abandoned'' (its worker died; closed by a later run).';

ALTER TABLE feed_items DROP CONSTRAINT feed_items_status_check;
ALTER TABLE feed_items ADD CONSTRAINT feed_items_status_check
    CHECK (status IN ('new', 'fetched', 'loaded', 'skipped', 'failed', 'given_up', 'ignored'));
ALTER TABLE feed_items ADD COLUMN next_attempt_at timestamptz;
COMMENT ON COLUMN feed_items.status IS '''new'' (listed), ''fetched'' (page stored), ''loaded'' (article stored), ''skipped'' (already stored under its docid or URL), ''failed'' (retried at next_attempt_at), ''given_up'' (failed for two weeks of retries; newsflow dead-letters retry brings it back), ''ignored'' (a person took it out of the retries).';
COMMENT ON COLUMN feed_items.next_attempt_at IS 'When a failed item is due to be tried again (5 min, 15 min, 1 h, 4 h, then daily after each failure); NULL when not failed.';
COMMENT ON COLUMN feed_items.attempts IS 'How many times fetching or loading this item failed.';

ALTER TABLE dead_letters
    ADD COLUMN next_attempt_at timestamptz,
    ADD COLUMN given_up_at timestamptz,
    ADD COLUMN ignored_at timestamptz,
    ADD COLUMN ignored_by text,
    ADD COLUMN ignore_reason text;
COMMENT ON COLUMN dead_letters.next_attempt_at IS 'When the item is due to be retried by a run; NULL once resolved, given up or ignored.';
COMMENT ON COLUMN dead_letters.given_up_at IS 'Set when two weeks of scheduled retries all failed: the row stays open (counted in source_health) until retried by hand or ignored.';
COMMENT ON COLUMN dead_letters.ignored_at IS 'Set by newsflow dead-letters ignore: taken out of the retries by a person (resolved_at is set too).';
COMMENT ON COLUMN dead_letters.ignored_by IS 'Who ignored it (the OS user of newsflow dead-letters ignore, or --by).';
COMMENT ON COLUMN dead_letters.ignore_reason IS 'Why it was ignored (--reason).';
COMMENT ON COLUMN dead_letters.resolved_at IS 'When the item loaded after all, or was ignored; NULL while open.';

CREATE INDEX feed_items_due_idx ON feed_items (next_attempt_at) WHERE status = 'failed';

ALTER TABLE ingest_runs ADD COLUMN degraded_reason text;
COMMENT ON COLUMN ingest_runs.degraded_reason IS 'Why a run that loaded its items is degraded: a source it could not list (dead letter), a coverage gap it found.';
