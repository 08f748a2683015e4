-- Event↔relay links, shared by both deployments (event_relay is created by <deployment>/0002).

-- Which relay served which event, first seen when. A link already known keeps its first seen_at.
-- Returns rows inserted.
CREATE FUNCTION event_relay_insert(p_event_ids bytea[], p_relay_urls text[], p_seen_at bigint[])
RETURNS integer LANGUAGE sql AS $$
  WITH ins AS (
    INSERT INTO event_relay (event_id, relay_url, seen_at)
    SELECT * FROM unnest(p_event_ids, p_relay_urls, p_seen_at)
    ON CONFLICT (event_id, relay_url) DO NOTHING
    RETURNING 1
  )
  SELECT count(*)::integer FROM ins
$$;
