-- The outcome of each check of each relay in each Monitor pass, failures included, and the
-- uptime that follows from them.
--
-- A narrow time series of its own rather than more relay_metadata types: every row answers "did
-- this check pass", so the uptime view counts plain columns (no join with metadata, no jsonb to
-- unpack) along an index in the order it reads; and relay_metadata keeps meaning "a document that
-- described the relay". What a failure said is still content-addressed: the document
-- {check, code, reason} (the reason without the relay's name or timings) lives in `metadata`, once
-- however often it repeats, and each repetition costs one row here.

CREATE TABLE relay_check (
  relay_url    relay_url NOT NULL REFERENCES relay (url) ON DELETE CASCADE,
  check_name   text NOT NULL CHECK (check_name IN ('nip11', 'open', 'read', 'write', 'ssl', 'dns', 'geo', 'net', 'http')),
  generated_at bigint NOT NULL,
  -- ok: the check passed; failed: the relay failed it (code says why); absent: there was nothing
  -- to check and the relay is not at fault (a NIP-11 document it does not serve: 404, 410, or a
  -- 200 that is not JSON)
  outcome      text NOT NULL CHECK (outcome IN ('ok', 'failed', 'absent')),
  -- short and stable, for counting: refused, timeout, dns, tls, handshake, closed, too-large,
  -- protocol, auth-required, http-status, blocked-address, ...; NULL when ok
  code         text CHECK ((outcome = 'ok') = (code IS NULL)),
  -- the {check, code, reason} document; NULL when ok
  metadata_id  bytea REFERENCES metadata (id) CHECK ((outcome = 'ok') = (metadata_id IS NULL)),
  PRIMARY KEY (relay_url, check_name, generated_at)
);
-- the primary key serves the per-relay uptime; this one the orphan clean-up of metadata
CREATE INDEX relay_check_metadata_id ON relay_check (metadata_id) WHERE metadata_id IS NOT NULL;

-- Parallel arrays, one element per outcome; a pass's outcome already stored is left alone.
CREATE FUNCTION relay_check_insert(p_relay_urls text[], p_checks text[], p_generated_at bigint[], p_outcomes text[], p_codes text[], p_metadata_ids bytea[])
RETURNS integer LANGUAGE sql AS $$
  WITH ins AS (
    INSERT INTO relay_check (relay_url, check_name, generated_at, outcome, code, metadata_id)
    SELECT * FROM unnest(p_relay_urls, p_checks, p_generated_at, p_outcomes, p_codes, p_metadata_ids)
    ON CONFLICT DO NOTHING
    RETURNING 1
  )
  SELECT count(*)::integer FROM ins
$$;

-- Per relay and check: the share of passes it passed over the last 24 hours, 7 days and 30 days
-- (NULL when it was not checked in that span), how many checks each share is of, and when it
-- last passed and last failed (ever). 'absent' counts as neither. Uptime is check 'open' (the
-- WebSocket opened) and 'read' (a REQ was answered with EOSE).
CREATE VIEW relay_uptime AS
WITH now AS (SELECT extract(epoch FROM now())::bigint AS t)
SELECT c.relay_url, c.check_name,
       count(*) FILTER (WHERE c.generated_at > now.t - 86400) AS checks_24h,
       round(avg((c.outcome = 'ok')::int) FILTER (WHERE c.generated_at > now.t - 86400), 4) AS uptime_24h,
       count(*) FILTER (WHERE c.generated_at > now.t - 7 * 86400) AS checks_7d,
       round(avg((c.outcome = 'ok')::int) FILTER (WHERE c.generated_at > now.t - 7 * 86400), 4) AS uptime_7d,
       count(*) FILTER (WHERE c.generated_at > now.t - 30 * 86400) AS checks_30d,
       round(avg((c.outcome = 'ok')::int) FILTER (WHERE c.generated_at > now.t - 30 * 86400), 4) AS uptime_30d,
       max(c.generated_at) FILTER (WHERE c.outcome = 'ok') AS last_ok_at,
       max(c.generated_at) FILTER (WHERE c.outcome = 'failed') AS last_failed_at
FROM relay_check c CROSS JOIN now
WHERE c.outcome <> 'absent'
GROUP BY c.relay_url, c.check_name;
