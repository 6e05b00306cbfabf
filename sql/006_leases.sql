-- Fetch leases (issue 10): the fetch stage claims an item and commits before it goes to the network,
-- so no transaction stays open across an HTTP request and its retries. The lease keeps other workers
-- off the item meanwhile; the result is written in a new transaction only if the lease is still the
-- writer's (same owner and claimed_at), so a worker whose lease was taken over cannot overwrite.

ALTER TABLE feed_items
    ADD COLUMN lease_owner   text,         -- who holds the item: run, host:pid and a per-stage token
    ADD COLUMN lease_backend integer,      -- the holder's PostgreSQL backend pid: a lease dies with its session
    ADD COLUMN claimed_at    timestamptz,  -- when the current (or last) lease was taken
    ADD COLUMN lease_until   timestamptz;  -- after this, another worker may take the item over

COMMENT ON COLUMN feed_items.lease_owner IS 'Fetch worker holding the item while it fetches outside any transaction; NULL when free.';
COMMENT ON COLUMN feed_items.lease_backend IS 'Backend pid of the lease holder''s session; a lease whose session is gone is void at once.';
COMMENT ON COLUMN feed_items.claimed_at IS 'When the item was last claimed by a fetch worker.';
COMMENT ON COLUMN feed_items.lease_until IS 'The lease expires here even if its holder is still connected (a hung fetch).';
