-- Relays, candidates and relay metadata: the tables every deployment shares.
-- Times are Unix seconds (bigint), as Nostr's created_at is.

-- A URL as the relay URL module writes it (common/relay-url.ts); the module is the real check,
-- these constraints are the backstop that keeps a bug from storing garbage.
CREATE DOMAIN relay_url AS text
  CHECK (VALUE ~ '^wss?://[^/?#\s]+(/[^?#\s]*)?$' AND length(VALUE) <= 2048);
CREATE DOMAIN relay_network AS text
  CHECK (VALUE IN ('clearnet', 'tor', 'i2p', 'loki'));

-- Relays that answered the Validator's probe as NIP-01 says.
CREATE TABLE relay (
  url           relay_url PRIMARY KEY,
  network       relay_network NOT NULL,
  discovered_at bigint NOT NULL
);

-- URLs found by the Seeder and the Finder, waiting for the Validator.
CREATE TABLE candidate (
  url             relay_url PRIMARY KEY,
  network         relay_network NOT NULL,
  -- where it was found: 'seed', 'event:<kind>', 'api:<source name>'
  source          text NOT NULL,
  discovered_at   bigint NOT NULL,
  failures        integer NOT NULL DEFAULT 0 CHECK (failures >= 0),
  last_error      text,
  last_checked_at bigint
);

-- Content-addressed documents (NIP-11 documents, NIP-66 results): id = sha256 of the canonical
-- JSON, so an unchanged document is stored once however often it is measured.
CREATE TABLE metadata (
  id      bytea PRIMARY KEY CHECK (octet_length(id) = 32),
  payload jsonb NOT NULL
);

-- The time series: which document described which relay, of which type, when.
CREATE TABLE relay_metadata (
  relay_url     relay_url NOT NULL REFERENCES relay (url) ON DELETE CASCADE,
  metadata_type text NOT NULL CHECK (metadata_type IN
    ('nip11', 'nip66_rtt', 'nip66_ssl', 'nip66_geo', 'nip66_net', 'nip66_dns', 'nip66_http')),
  generated_at  bigint NOT NULL,
  metadata_id   bytea NOT NULL REFERENCES metadata (id),
  PRIMARY KEY (relay_url, metadata_type, generated_at)
);
-- the primary key serves "latest document of a type per relay" (relay_metadata_latest);
-- this one serves orphan clean-up of metadata
CREATE INDEX relay_metadata_metadata_id ON relay_metadata (metadata_id);

-- Large documents compress well; lz4 is faster than the default pglz but needs a server built with
-- it (the embedded server is not): use it where available.
DO $$
BEGIN
  ALTER TABLE metadata ALTER COLUMN payload SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported THEN
  RAISE NOTICE 'lz4 is not available on this server: metadata.payload keeps pglz';
END $$;

CREATE VIEW relay_metadata_latest AS
SELECT DISTINCT ON (rm.relay_url, rm.metadata_type)
       rm.relay_url, rm.metadata_type, rm.generated_at, m.payload
FROM relay_metadata rm JOIN metadata m ON m.id = rm.metadata_id
ORDER BY rm.relay_url, rm.metadata_type, rm.generated_at DESC;

-- Set-based writes: each takes parallel arrays (one element per row) and is one round trip.

-- New candidates; a URL that is already a candidate or already a relay is left alone.
-- Returns how many rows were inserted.
CREATE FUNCTION candidate_insert(p_urls text[], p_networks text[], p_sources text[], p_discovered_at bigint)
RETURNS integer LANGUAGE sql AS $$
  WITH ins AS (
    INSERT INTO candidate (url, network, source, discovered_at)
    SELECT u.url, u.network, u.source, p_discovered_at
    FROM unnest(p_urls, p_networks, p_sources) AS u (url, network, source)
    WHERE NOT EXISTS (SELECT 1 FROM relay r WHERE r.url = u.url)
    ON CONFLICT (url) DO NOTHING
    RETURNING 1
  )
  SELECT count(*)::integer FROM ins
$$;

-- New relays (a relay already known keeps its first discovered_at). Returns rows inserted.
CREATE FUNCTION relay_insert(p_urls text[], p_networks text[], p_discovered_at bigint[])
RETURNS integer LANGUAGE sql AS $$
  WITH ins AS (
    INSERT INTO relay (url, network, discovered_at)
    SELECT * FROM unnest(p_urls, p_networks, p_discovered_at)
    ON CONFLICT (url) DO NOTHING
    RETURNING 1
  )
  SELECT count(*)::integer FROM ins
$$;

-- Documents by content address; a document already stored costs nothing. Returns rows inserted.
CREATE FUNCTION metadata_insert(p_ids bytea[], p_payloads jsonb[])
RETURNS integer LANGUAGE sql AS $$
  WITH ins AS (
    INSERT INTO metadata (id, payload)
    SELECT * FROM unnest(p_ids, p_payloads)
    ON CONFLICT (id) DO NOTHING
    RETURNING 1
  )
  SELECT count(*)::integer FROM ins
$$;

CREATE FUNCTION relay_metadata_insert(p_relay_urls text[], p_types text[], p_generated_at bigint[], p_metadata_ids bytea[])
RETURNS integer LANGUAGE sql AS $$
  WITH ins AS (
    INSERT INTO relay_metadata (relay_url, metadata_type, generated_at, metadata_id)
    SELECT * FROM unnest(p_relay_urls, p_types, p_generated_at, p_metadata_ids)
    ON CONFLICT DO NOTHING
    RETURNING 1
  )
  SELECT count(*)::integer FROM ins
$$;
