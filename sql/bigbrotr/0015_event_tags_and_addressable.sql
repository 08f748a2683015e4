-- bigbrotr only (lilbrotr keeps no tags): events by tag, and the current addressable events.

-- A single-letter tag as `<letter>:<value>`, the tags NIP-01 filters on (`#e`, `#p`, `#t`, ...).
-- Values are cut to 200 characters so that no event's index entry outgrows what GIN accepts (an
-- insert must never fail on a long tag); a query on a longer value matches on the cut and is
-- rechecked against the tags themselves (read/events.ts).
CREATE FUNCTION event_tag_values(p_tags jsonb) RETURNS text[] LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT coalesce(array_agg(DISTINCT (t->>0) || ':' || left(t->>1, 200)), '{}')
  FROM jsonb_array_elements(p_tags) AS t
  WHERE jsonb_typeof(t) = 'array' AND length(t->>0) = 1 AND jsonb_typeof(t->1) = 'string'
$$;
CREATE INDEX event_tag_values ON event USING gin (event_tag_values(tags));

-- The current version of each addressable event (kinds 30000-39999) per author, kind and `d` tag
-- (the first `d` tag's value, '' without one). `d` values over 1,000 bytes are not kept here (a
-- primary key entry has a size limit); the event itself is archived.
CREATE TABLE addressable_current (
  pubkey     bytea NOT NULL,
  kind       integer NOT NULL,
  d          text NOT NULL,
  event_id   bytea NOT NULL,
  created_at bigint NOT NULL,
  PRIMARY KEY (pubkey, kind, d)
);

CREATE FUNCTION event_d_tag(p_tags jsonb) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT coalesce((SELECT t->>1 FROM jsonb_array_elements(p_tags) WITH ORDINALITY AS a (t, i)
                   WHERE jsonb_typeof(t) = 'array' AND t->>0 = 'd' AND jsonb_typeof(t->1) = 'string'
                   ORDER BY i LIMIT 1), '')
$$;

CREATE FUNCTION analytics_addressable_current(p_prev pg_snapshot) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
  n bigint;
BEGIN
  IF p_prev IS NULL THEN
    TRUNCATE addressable_current;
    INSERT INTO addressable_current
    SELECT DISTINCT ON (pubkey, kind, d) pubkey, kind, d, id, created_at
    FROM (SELECT pubkey, kind, event_d_tag(tags) AS d, id, created_at FROM event WHERE kind BETWEEN 30000 AND 39999) e
    WHERE octet_length(d) <= 1000
    ORDER BY pubkey, kind, d, created_at DESC, id;
  ELSE
    INSERT INTO addressable_current AS c
    SELECT DISTINCT ON (pubkey, kind, d) pubkey, kind, d, id, created_at
    FROM (SELECT q.pubkey, q.kind, event_d_tag(e.tags) AS d, q.id, q.created_at
          FROM analytics_event_queue q
          CROSS JOIN LATERAL (SELECT tags FROM event WHERE event.id = q.id LIMIT 1) AS e
          WHERE q.xid >= pg_snapshot_xmin(p_prev) AND analytics_new_since(q.xid, p_prev)
            AND q.kind BETWEEN 30000 AND 39999) x
    WHERE octet_length(d) <= 1000
    ORDER BY pubkey, kind, d, created_at DESC, id
    ON CONFLICT (pubkey, kind, d) DO UPDATE SET event_id = excluded.event_id, created_at = excluded.created_at
    WHERE excluded.created_at > c.created_at OR (excluded.created_at = c.created_at AND excluded.event_id < c.event_id);
  END IF;
  GET DIAGNOSTICS n = ROW_COUNT;
  RETURN n;
END $$;

INSERT INTO analytics_watermark (target, queue) VALUES ('addressable_current', 'event');
-- (The default privileges of 0013 give bigbrotr_reader SELECT on the new table.)
