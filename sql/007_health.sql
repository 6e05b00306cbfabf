-- Health: per-source discovery cursors, coverage gaps, alerts (one open per source and condition),
-- runs closed as 'abandoned' when their worker died, and the source_health view.

-- --- runs: 'abandoned', and a heartbeat to tell a dead run from a slow one -----------------------

-- Rebuild the status check from the values it allows now plus 'abandoned', so a value another
-- migration added (e.g. 'degraded') is kept whatever order the migrations were written in.
DO $$
DECLARE
    con record;
    allowed text[] := ARRAY['running', 'success', 'failed'];
BEGIN
    FOR con IN
        SELECT c.conname, pg_get_constraintdef(c.oid) AS def
          FROM pg_constraint c
         WHERE c.conrelid = 'ingest_runs'::regclass AND c.contype = 'c'
           AND pg_get_constraintdef(c.oid) ~ '\mstatus\M'
    LOOP
        allowed := allowed || ARRAY(SELECT m[1] FROM regexp_matches(con.def, '''([^'']+)''', 'g') AS m);
        EXECUTE format('ALTER TABLE ingest_runs DROP CONSTRAINT %I', con.conname);
    END LOOP;
    allowed := allowed || ARRAY['abandoned'];
    EXECUTE format(
        'ALTER TABLE ingest_runs ADD CONSTRAINT ingest_runs_status_check CHECK (status = ANY (%L::text[]))',
        ARRAY(SELECT DISTINCT v FROM unnest(allowed) AS v ORDER BY v)
    );
END
$$;

ALTER TABLE ingest_runs ADD COLUMN touched_at timestamptz NOT NULL DEFAULT now();
COMMENT ON COLUMN ingest_runs.touched_at IS 'Last write to this row (kept by a trigger): every batch adds its counts, so a running row untouched for long has lost its worker.';

CREATE FUNCTION newsflow_touch_run() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.touched_at := now();
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION newsflow_touch_run() IS 'Sets ingest_runs.touched_at on every update (the run''s heartbeat).';
CREATE TRIGGER ingest_runs_touch BEFORE UPDATE ON ingest_runs FOR EACH ROW EXECUTE FUNCTION newsflow_touch_run();

CREATE INDEX ingest_runs_running_idx ON ingest_runs (touched_at) WHERE status = 'running';
CREATE INDEX ingest_runs_success_idx ON ingest_runs (finished_at DESC) WHERE status = 'success';

-- Per-source counts over a time window (the health view) read this instead of the whole table.
CREATE INDEX feed_items_source_published_at_idx ON feed_items (source, published_at);

-- --- cursors ---------------------------------------------------------------------------------------

CREATE TABLE source_cursors (
    source          text PRIMARY KEY,
    published_at    timestamptz NOT NULL,
    item_key        text NOT NULL,
    updated_at      timestamptz NOT NULL DEFAULT now(),
    updated_by_run  bigint REFERENCES ingest_runs (run_id) ON DELETE SET NULL,
    checked_at      timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE source_cursors IS 'Per source, the newest item a scheduled run has listed: the next run pages back from now until it reaches it, so downtime is covered.';
COMMENT ON COLUMN source_cursors.source IS 'Feed source name, as in feed_items.source (e.g. ''roll:155:1686'', ''zhibo:152'').';
COMMENT ON COLUMN source_cursors.published_at IS 'Publication time of the newest item listed; only ever moves forward.';
COMMENT ON COLUMN source_cursors.item_key IS 'feed_items.item_key of that item (ties on published_at are ordered by it).';
COMMENT ON COLUMN source_cursors.updated_at IS 'When the cursor last moved.';
COMMENT ON COLUMN source_cursors.updated_by_run IS 'The ingest_runs row that last moved it.';
COMMENT ON COLUMN source_cursors.checked_at IS 'When a run last listed this source up to its cursor, whether or not the cursor moved.';

-- --- coverage gaps ---------------------------------------------------------------------------------

CREATE TABLE coverage_gaps (
    gap_id          bigserial PRIMARY KEY,
    source          text NOT NULL,
    gap_from        timestamptz NOT NULL,
    gap_to          timestamptz NOT NULL,
    found_by_run    bigint REFERENCES ingest_runs (run_id) ON DELETE SET NULL,
    found_at        timestamptz NOT NULL DEFAULT now(),
    closed_at       timestamptz,
    closed_by_run   bigint REFERENCES ingest_runs (run_id) ON DELETE SET NULL,
    CHECK (gap_from < gap_to)
);
-- Two runs that meet the same gap start it at the same cursor: one open row per source and start.
CREATE UNIQUE INDEX coverage_gaps_open_key ON coverage_gaps (source, gap_from) WHERE closed_at IS NULL;
COMMENT ON TABLE coverage_gaps IS 'Time ranges a source may have published items in that no run could list any more (the feed no longer reaches back so far); a backfill over the range closes the gap.';
COMMENT ON COLUMN coverage_gaps.source IS 'Feed source name, as in feed_items.source.';
COMMENT ON COLUMN coverage_gaps.gap_from IS 'Start of the range: the source''s cursor when the gap was found (items up to here are stored).';
COMMENT ON COLUMN coverage_gaps.gap_to IS 'End of the range: the oldest item the feed still listed (items from here on were listed).';
COMMENT ON COLUMN coverage_gaps.found_by_run IS 'The run that found the gap.';
COMMENT ON COLUMN coverage_gaps.found_at IS 'When the gap was found.';
COMMENT ON COLUMN coverage_gaps.closed_at IS 'When a run covered the range (NULL: still open). A run covering part of it closes this row and leaves the rest as a new open row.';
COMMENT ON COLUMN coverage_gaps.closed_by_run IS 'The run (usually a backfill) whose window covered the range.';

-- --- alerts ----------------------------------------------------------------------------------------

CREATE TABLE alerts (
    alert_id        bigserial PRIMARY KEY,
    source          text NOT NULL,
    condition       text NOT NULL,
    opened_at       timestamptz NOT NULL DEFAULT now(),
    last_seen_at    timestamptz NOT NULL DEFAULT now(),
    last_sent_at    timestamptz,
    cleared_at      timestamptz,
    payload         jsonb NOT NULL DEFAULT '{}'::jsonb
);
-- No alert storm: while one is open for a source and condition, the same condition sends nothing.
CREATE UNIQUE INDEX alerts_open_key ON alerts (source, condition) WHERE cleared_at IS NULL;
COMMENT ON TABLE alerts IS 'Alerts sent (webhook, mail): at most one open per source and condition, until the condition clears.';
COMMENT ON COLUMN alerts.source IS 'What the alert is about: a feed source (feed_items.source) or, for run alerts, the DAG id.';
COMMENT ON COLUMN alerts.condition IS '''silent'', ''low'', ''gap'', ''run_failed'', ''run_degraded'', ...: with source, the dedup key.';
COMMENT ON COLUMN alerts.opened_at IS 'When the condition was first seen.';
COMMENT ON COLUMN alerts.last_seen_at IS 'When the condition was last seen (repeats update this and send nothing).';
COMMENT ON COLUMN alerts.last_sent_at IS 'When the message went out; NULL while unsent or after a failed send (the next occurrence retries it).';
COMMENT ON COLUMN alerts.cleared_at IS 'When the condition cleared (NULL: open); the next occurrence opens and sends a new alert.';
COMMENT ON COLUMN alerts.payload IS 'The alert as sent: summary, details, times (the JSON the webhook format ''json'' posts).';

-- --- source health ---------------------------------------------------------------------------------

CREATE FUNCTION source_health_at(p_now timestamptz)
RETURNS TABLE (
    source              text,
    status              text,
    last_item_at        timestamptz,
    last_item_key       text,
    last_listed_at      timestamptz,
    last_good_run_id    bigint,
    last_good_run_at    timestamptz,
    items_last_hour     bigint,
    avg_items_per_hour  numeric,
    items_last_day      bigint,
    avg_items_per_day   numeric,
    open_dead_letters   bigint,
    open_gaps           bigint,
    oldest_open_gap_at  timestamptz,
    lag_p50_hour        interval,
    lag_p95_hour        interval,
    lag_p50_day         interval,
    lag_p95_day         interval
)
LANGUAGE sql STABLE AS $$
WITH sources AS (
    SELECT f.source FROM feed_items f GROUP BY f.source
    UNION SELECT c.source FROM source_cursors c
    UNION SELECT g.source FROM coverage_gaps g WHERE g.closed_at IS NULL
),
counts AS (
    SELECT s.source,
           last.published_at AS last_item_at,
           last.item_key AS last_item_key,
           first.published_at AS first_item_at,
           (SELECT count(*) FROM feed_items f WHERE f.source = s.source
               AND f.published_at >= p_now - interval '1 hour' AND f.published_at < p_now) AS items_last_hour,
           (SELECT count(*) FROM feed_items f WHERE f.source = s.source
               AND f.published_at >= p_now - interval '1 day' AND f.published_at < p_now) AS items_last_day,
           -- The baseline is the week before the last day, so a quiet day does not lower its own yardstick.
           (SELECT count(*) FROM feed_items f WHERE f.source = s.source
               AND f.published_at >= p_now - interval '8 days' AND f.published_at < p_now - interval '1 day') AS week_items
      FROM sources s
      LEFT JOIN LATERAL (
          SELECT f.published_at, f.item_key FROM feed_items f
           WHERE f.source = s.source AND f.published_at < p_now
           ORDER BY f.published_at DESC, f.item_key DESC LIMIT 1) last ON true
      LEFT JOIN LATERAL (
          SELECT f.published_at FROM feed_items f
           WHERE f.source = s.source AND f.published_at IS NOT NULL
           ORDER BY f.published_at LIMIT 1) first ON true
),
rates AS (
    SELECT c.*,
           -- A source younger than the baseline week is averaged over the hours it has existed.
           CASE WHEN hours >= 24 THEN c.week_items / hours END AS per_hour
      FROM counts c,
           LATERAL (SELECT extract(epoch FROM (p_now - interval '1 day')
                        - greatest(p_now - interval '8 days', c.first_item_at)) / 3600 AS hours) h
),
lags AS (
    SELECT f.source,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY a.first_seen_at - f.published_at)
               FILTER (WHERE f.published_at >= p_now - interval '1 hour') AS p50_hour,
           percentile_cont(0.95) WITHIN GROUP (ORDER BY a.first_seen_at - f.published_at)
               FILTER (WHERE f.published_at >= p_now - interval '1 hour') AS p95_hour,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY a.first_seen_at - f.published_at) AS p50_day,
           percentile_cont(0.95) WITHIN GROUP (ORDER BY a.first_seen_at - f.published_at) AS p95_day
      FROM feed_items f
      JOIN articles a ON a.article_id = f.article_id
     WHERE f.published_at >= p_now - interval '1 day' AND f.published_at < p_now
     GROUP BY f.source
)
SELECT r.source,
       CASE
           WHEN r.per_hour > 0 THEN
               CASE
                   -- Silent: no item for five mean gaps (a Poisson feed stays quiet that long <1% of
                   -- the time), and at least an hour, so a busy feed's short pause is not flagged.
                   WHEN r.last_item_at IS NULL OR p_now - r.last_item_at
                        > greatest(interval '1 hour', make_interval(secs => (5 * 3600 / r.per_hour)::double precision)) THEN 'silent'
                   -- Low: under a quarter of the usual day, judged only where a day holds enough items.
                   WHEN r.per_hour * 24 >= 8 AND r.items_last_day * 4 < r.per_hour * 24 THEN 'low'
                   ELSE 'ok'
               END
           -- No baseline week: a scheduled source (it has a cursor) quiet for a whole day is silent;
           -- anything else (an archive source, a feed added today) cannot be judged yet.
           WHEN cur.source IS NOT NULL AND (r.last_item_at IS NULL OR r.last_item_at < p_now - interval '1 day')
               THEN 'silent'
           ELSE 'no_data'
       END,
       r.last_item_at,
       r.last_item_key,
       cur.checked_at,
       good.run_id,
       good.finished_at,
       r.items_last_hour,
       round(r.per_hour, 2),
       r.items_last_day,
       round(r.per_hour * 24, 1),
       (SELECT count(*) FROM dead_letters d WHERE d.source = r.source AND d.resolved_at IS NULL),
       (SELECT count(*) FROM coverage_gaps g WHERE g.source = r.source AND g.closed_at IS NULL),
       (SELECT min(g.gap_from) FROM coverage_gaps g WHERE g.source = r.source AND g.closed_at IS NULL),
       l.p50_hour, l.p95_hour, l.p50_day, l.p95_day
  FROM rates r
  LEFT JOIN source_cursors cur ON cur.source = r.source
  LEFT JOIN lags l ON l.source = r.source
  -- Runs read every configured source; a run counts as good for a source when it succeeded and
  -- recorded no discover failure for it.
  LEFT JOIN LATERAL (
      SELECT ir.run_id, ir.finished_at FROM ingest_runs ir
       WHERE ir.status = 'success' AND ir.kind <> 'reparse' AND ir.finished_at <= p_now
         AND NOT EXISTS (SELECT 1 FROM dead_letters d
                          WHERE d.run_id = ir.run_id AND d.source = r.source AND d.stage = 'discover')
       ORDER BY ir.finished_at DESC LIMIT 1) good ON true
 ORDER BY r.source
$$;
COMMENT ON FUNCTION source_health_at(timestamptz) IS 'source_health as of a given time (the view is this at now()); lets tests and replays judge a fixed moment.';

CREATE VIEW source_health AS SELECT * FROM source_health_at(now());
COMMENT ON VIEW source_health IS 'Per source: newest item, last good run, items in the last hour/day against the usual rate, status, open dead letters and gaps, and publication-to-stored lag. newsflow status prints it.';
COMMENT ON COLUMN source_health.source IS 'Feed source name, as in feed_items.source.';
COMMENT ON COLUMN source_health.status IS '''ok''; ''silent'' (no item for five usual gaps and at least an hour, or a scheduled source with no item for a day and no history); ''low'' (last day under a quarter of the usual); ''no_data'' (no week of history to judge by).';
COMMENT ON COLUMN source_health.last_item_at IS 'Publication time of the newest item the source listed.';
COMMENT ON COLUMN source_health.last_item_key IS 'feed_items.item_key of that item.';
COMMENT ON COLUMN source_health.last_listed_at IS 'When a scheduled run last listed the source up to its cursor (source_cursors.checked_at).';
COMMENT ON COLUMN source_health.last_good_run_id IS 'Newest successful run with no discover failure for this source.';
COMMENT ON COLUMN source_health.last_good_run_at IS 'When that run finished.';
COMMENT ON COLUMN source_health.items_last_hour IS 'Items published in the last hour.';
COMMENT ON COLUMN source_health.avg_items_per_hour IS 'Usual items per hour: the week before the last day (or the source''s life, if shorter but at least a day).';
COMMENT ON COLUMN source_health.items_last_day IS 'Items published in the last 24 hours.';
COMMENT ON COLUMN source_health.avg_items_per_day IS 'Usual items per day (avg_items_per_hour * 24).';
COMMENT ON COLUMN source_health.open_dead_letters IS 'Dead letters of this source not resolved.';
COMMENT ON COLUMN source_health.open_gaps IS 'Coverage gaps of this source not closed.';
COMMENT ON COLUMN source_health.oldest_open_gap_at IS 'Start of the oldest open gap.';
COMMENT ON COLUMN source_health.lag_p50_hour IS 'Median time from publication to stored, items published in the last hour and stored.';
COMMENT ON COLUMN source_health.lag_p95_hour IS '95th percentile of that lag, last hour.';
COMMENT ON COLUMN source_health.lag_p50_day IS 'Median time from publication to stored, items published in the last day and stored.';
COMMENT ON COLUMN source_health.lag_p95_day IS '95th percentile of that lag, last day.';

GRANT SELECT ON source_cursors, coverage_gaps, alerts, source_health TO newsflow_reader;
GRANT EXECUTE ON FUNCTION source_health_at(timestamptz) TO newsflow_reader;
