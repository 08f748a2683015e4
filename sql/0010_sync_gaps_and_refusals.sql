-- What the Synchronizer could not archive, where an analyst can query it and the Synchronizer
-- finds it again.
--
-- A gap is one second of one relay whose events could not all be proven fetched: more events in
-- that second than the relay sends for one REQ, and no NIP-77 to list them (activities/sync-proof.ts).
-- The window around it is archived; this second is recorded with what was received and why, and
-- looked at again on `synchronizer.gap_retry` (a relay that gains NIP-77 or raises its cap fills it).
CREATE TABLE sync_gap (
  relay_url   relay_url NOT NULL REFERENCES relay (url) ON DELETE CASCADE,
  second      bigint NOT NULL,    -- the created_at of the events not all fetched
  received    integer NOT NULL,   -- distinct events of that second received at the last try
  reason      text NOT NULL,
  recorded_at bigint NOT NULL,    -- unix seconds, first recorded
  tried_at    bigint NOT NULL,    -- unix seconds, last looked at
  tries       integer NOT NULL DEFAULT 1,
  filled_at   bigint,             -- unix seconds, proven whole since; NULL while open
  PRIMARY KEY (relay_url, second)
);
CREATE INDEX sync_gap_open ON sync_gap (relay_url, second) WHERE filled_at IS NULL;

-- Relays that refuse to be read: NIP-42 authentication asked and no key configured, or
-- `restricted:` after it. Tried again on `synchronizer.refused_retry`; the row goes when the relay serves.
CREATE TABLE sync_refusal (
  relay_url  relay_url PRIMARY KEY REFERENCES relay (url) ON DELETE CASCADE,
  reason     text NOT NULL,
  since      bigint NOT NULL,     -- unix seconds, first refused
  checked_at bigint NOT NULL      -- unix seconds, last tried
);
