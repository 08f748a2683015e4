-- The same call as bigbrotr's (its p_exact: events whose text PostgreSQL cannot hold as it is);
-- lilbrotr keeps neither tags nor content, so nothing of them.
DROP FUNCTION event_insert(bytea[], bytea[], bigint[], integer[], jsonb[], text[], bytea[]);
CREATE FUNCTION event_insert(p_ids bytea[], p_pubkeys bytea[], p_created_at bigint[], p_kinds integer[],
                             p_tags jsonb[], p_contents text[], p_sigs bytea[], p_exact text[] DEFAULT NULL)
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
