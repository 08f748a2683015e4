-- event_relay's relay is checked once per call of the link writers instead of once per row.
--
-- Why: the foreign key ran PostgreSQL's referential check (a query and a row lock on the relay)
-- for every link: 5.3 µs of the 15.7 µs a link cost the server, measured with EXPLAIN ANALYZE on
-- an archive of 1,000,000 events (batches of 1,000 ids, `Trigger for constraint
-- event_relay_relay_url_fkey`). Every batch names a handful of relays at most (the link writers
-- take one relay, or a few), so one check per relay and call keeps the same guarantee.
--
-- The guarantee is the foreign key's, kept by hand:
--  - a link writer first takes FOR KEY SHARE on its relays' rows (relay_hold), as the key's check
--    did: a relay deleted meanwhile waits for the writer's transaction, then its trigger deletes
--    what the writer linked; a relay already gone makes the writer fail with foreign_key_violation
--    (23503), which the Synchronizer reads as "relay gone";
--  - deleting relays deletes their links (the key's ON DELETE CASCADE);
--  - a relay's URL cannot change while links name it (the key's ON UPDATE NO ACTION).
-- PostgreSQL's name for the key 0003 declared without one.
ALTER TABLE event_relay DROP CONSTRAINT event_relay_relay_url_fkey;

-- Locks the relay rows of p_urls against deletion until the end of the transaction; raises
-- foreign_key_violation naming the first URL that is not a relay.
CREATE FUNCTION relay_hold(p_urls text[])
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  missing text;
BEGIN
  PERFORM 1 FROM relay WHERE url = ANY (p_urls) FOR KEY SHARE;
  SELECT u INTO missing FROM unnest(p_urls) AS u WHERE NOT EXISTS (SELECT 1 FROM relay WHERE url = u) LIMIT 1;
  IF FOUND THEN
    RAISE foreign_key_violation USING
      MESSAGE = format('event_relay: relay %s is not in the relay table (foreign key of event_relay.relay_url)', missing);
  END IF;
END $$;

CREATE OR REPLACE FUNCTION event_relay_link(p_event_ids bytea[], p_relay_url relay_url, p_seen_at bigint)
RETURNS integer LANGUAGE sql AS $$
  SELECT relay_hold(ARRAY[p_relay_url::text]);
  WITH ins AS (
    INSERT INTO event_relay (event_id, relay_url, seen_at)
    SELECT id, p_relay_url, p_seen_at FROM unnest(p_event_ids) AS id
    ON CONFLICT (event_id, relay_url) DO NOTHING
    RETURNING 1
  )
  SELECT count(*)::integer FROM ins;
$$;

CREATE OR REPLACE FUNCTION event_relay_insert(p_event_ids bytea[], p_relay_urls text[], p_seen_at bigint[])
RETURNS integer LANGUAGE sql AS $$
  SELECT relay_hold(ARRAY(SELECT DISTINCT u FROM unnest(p_relay_urls) AS u));
  WITH ins AS (
    INSERT INTO event_relay (event_id, relay_url, seen_at)
    SELECT * FROM unnest(p_event_ids, p_relay_urls, p_seen_at)
    ON CONFLICT (event_id, relay_url) DO NOTHING
    RETURNING 1
  )
  SELECT count(*)::integer FROM ins;
$$;

CREATE FUNCTION relay_delete_links()
RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM event_relay WHERE relay_url IN (SELECT url FROM gone);
  RETURN NULL;
END $$;

CREATE TRIGGER relay_delete_links AFTER DELETE ON relay
  REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION relay_delete_links();

CREATE FUNCTION relay_url_keep_links()
RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM event_relay WHERE relay_url = OLD.url) THEN
    RAISE foreign_key_violation USING
      MESSAGE = format('relay %s: its URL cannot change while event_relay links name it', OLD.url);
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER relay_url_keep_links AFTER UPDATE OF url ON relay
  FOR EACH ROW WHEN (OLD.url IS DISTINCT FROM NEW.url) EXECUTE FUNCTION relay_url_keep_links();
