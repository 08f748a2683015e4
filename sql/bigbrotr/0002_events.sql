-- bigbrotr: the full archive. Every event with its tags and content, and the relays it was seen on.
-- Hash-partitioned by event id (16 partitions, as the original) so the archive can grow to
-- terabytes with per-partition vacuum and indexes, and distribute later (Citus, column id).

CREATE TABLE event (
  id         bytea NOT NULL CHECK (octet_length(id) = 32),
  pubkey     bytea NOT NULL CHECK (octet_length(pubkey) = 32),
  created_at bigint NOT NULL,
  kind       integer NOT NULL CHECK (kind BETWEEN 0 AND 65535),
  tags       jsonb NOT NULL CHECK (jsonb_typeof(tags) = 'array'),
  content    text NOT NULL,
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
  BEGIN
    ALTER TABLE event ALTER COLUMN tags SET COMPRESSION lz4;
    ALTER TABLE event ALTER COLUMN content SET COMPRESSION lz4;
  EXCEPTION WHEN feature_not_supported THEN
    RAISE NOTICE 'lz4 is not available on this server: event tags and content keep pglz';
  END;
END $$;

-- The Finder scans the archive in (created_at, id) order after its cursor.
CREATE INDEX event_created_at_id ON event (created_at, id);

-- Events by content; an event already archived is left as it is. Returns rows inserted.
-- The activity has verified id and signature before calling (never store an unverified event).
CREATE FUNCTION event_insert(p_ids bytea[], p_pubkeys bytea[], p_created_at bigint[], p_kinds integer[],
                             p_tags jsonb[], p_contents text[], p_sigs bytea[])
RETURNS integer LANGUAGE sql AS $$
  WITH ins AS (
    INSERT INTO event (id, pubkey, created_at, kind, tags, content, sig)
    SELECT * FROM unnest(p_ids, p_pubkeys, p_created_at, p_kinds, p_tags, p_contents, p_sigs)
    ON CONFLICT (id) DO NOTHING
    RETURNING 1
  )
  SELECT count(*)::integer FROM ins
$$;
