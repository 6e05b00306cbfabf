-- A request rate per host shared by every process (issue 13/15): workers, the feed watcher and
-- backfills take their slots from one row per host, so together they send what one process would.
CREATE TABLE host_rate (
    host          text PRIMARY KEY,
    next_slot_at  timestamptz NOT NULL,
    held_until    timestamptz
);
COMMENT ON TABLE host_rate IS 'Per host: when the next request may start (each request takes a slot and moves this by the interval), and a Retry-After hold; written by pipeline.store.ratelimit for every fetching process.';
COMMENT ON COLUMN host_rate.host IS 'Host (and port) requests go to, as in the URL.';
COMMENT ON COLUMN host_rate.next_slot_at IS 'Earliest start of the next request to the host, whichever process sends it.';
COMMENT ON COLUMN host_rate.held_until IS 'A Retry-After seen by one process: no process sends to the host before this.';
