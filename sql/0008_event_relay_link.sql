-- Links events to the one relay that served them, all seen at the same time: the form both
-- writers use (a chunk of a window, the ids a NIP-77 relay listed). The relay URL comes in as a
-- relay_url once, so its domain check runs once per call, where event_relay_insert's text[]
-- of the same URL ran it (a regular expression) for every row. A link already known keeps its
-- first seen_at. Returns rows inserted.
CREATE FUNCTION event_relay_link(p_event_ids bytea[], p_relay_url relay_url, p_seen_at bigint)
RETURNS integer LANGUAGE sql AS $$
  WITH ins AS (
    INSERT INTO event_relay (event_id, relay_url, seen_at)
    SELECT id, p_relay_url, p_seen_at FROM unnest(p_event_ids) AS id
    ON CONFLICT (event_id, relay_url) DO NOTHING
    RETURNING 1
  )
  SELECT count(*)::integer FROM ins
$$;
