-- lilbrotr: the light archive. Events without tags and content (id, pubkey, created_at, kind, sig)
-- and the relays they were seen on: about 40% of bigbrotr's disk for the same events.
-- Same partitioning and the same functions' signatures as bigbrotr, so one code path serves both.

CREATE TABLE event (
  id         bytea NOT NULL CHECK (octet_length(id) = 32),
  pubkey     bytea NOT NULL CHECK (octet_length(pubkey) = 32),
  created_at bigint NOT NULL,
  kind       integer NOT NULL CHECK (kind BETWEEN 0 AND 65535),
  sig        bytea NOT NULL CHECK (octet_length(sig) = 64),
  PRIMARY KEY (id)
) PARTITION BY HASH (id);

CREATE TABLE event_relay (
  event_id  bytea NOT NULL REFERENCES event (id) ON DELETE CASCADE,
  relay_url relay_url NOT NULL REFERENCES relay (url) ON DELETE CASCADE,
  seen_at   bigint NOT NULL,
  PRIMARY KEY (event_id, relay_url)
) PARTITION BY HASH (event_id);

DO $$
BEGIN
  FOR i IN 0..15 LOOP
    EXECUTE format('CREATE TABLE event_p%s PARTITION OF event FOR VALUES WITH (MODULUS 16, REMAINDER %s)', i, i);
    EXECUTE format('CREATE TABLE event_relay_p%s PARTITION OF event_relay FOR VALUES WITH (MODULUS 16, REMAINDER %s)', i, i);
  END LOOP;
END $$;

CREATE INDEX event_created_at_id ON event (created_at, id);

-- Tags and content are accepted and dropped: the caller does not need to know the deployment.
CREATE FUNCTION event_insert(p_ids bytea[], p_pubkeys bytea[], p_created_at bigint[], p_kinds integer[],
                             p_tags jsonb[], p_contents text[], p_sigs bytea[])
RETURNS integer LANGUAGE sql AS $$
  WITH ins AS (
    INSERT INTO event (id, pubkey, created_at, kind, sig)
    SELECT id, pubkey, created_at, kind, sig
    FROM unnest(p_ids, p_pubkeys, p_created_at, p_kinds, p_sigs) AS u (id, pubkey, created_at, kind, sig)
    ON CONFLICT (id) DO NOTHING
    RETURNING 1
  )
  SELECT count(*)::integer FROM ins
$$;
