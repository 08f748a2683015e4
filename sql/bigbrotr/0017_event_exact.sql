-- Events PostgreSQL cannot hold as they are: a validly signed event may carry U+0000 or a lone
-- surrogate in its content or tags (text and jsonb refuse the first, UTF-8 cannot encode the
-- second). Such an event keeps tags and content with those characters as U+FFFD (for search and
-- analytics) and, in `exact`, the whole event as JSON text (JSON.stringify: ASCII escapes that give
-- back every character; the json type keeps them where text and jsonb refuse \u0000), which the
-- read side serves as it is. NULL for all other events.
ALTER TABLE event ADD COLUMN exact text;

DROP FUNCTION event_insert(bytea[], bytea[], bigint[], integer[], jsonb[], text[], bytea[]);
CREATE FUNCTION event_insert(p_ids bytea[], p_pubkeys bytea[], p_created_at bigint[], p_kinds integer[],
                             p_tags jsonb[], p_contents text[], p_sigs bytea[], p_exact text[] DEFAULT NULL)
RETURNS integer LANGUAGE sql AS $$
  WITH ins AS (
    INSERT INTO event (id, pubkey, created_at, kind, tags, content, sig, exact)
    SELECT * FROM unnest(p_ids, p_pubkeys, p_created_at, p_kinds, p_tags, p_contents, p_sigs, p_exact)
    ON CONFLICT (id) DO NOTHING
    RETURNING 1
  )
  SELECT count(*)::integer FROM ins
$$;
