-- The Validator's writes: a probed candidate either becomes a relay or has its failure counted.

-- Candidates that answered as NIP-01 says: now relays (discovered now), no longer candidates.
-- Returns how many became relays (a URL already a relay is just removed from the candidates).
CREATE FUNCTION candidate_promote(p_urls text[], p_networks text[], p_discovered_at bigint)
RETURNS integer LANGUAGE sql AS $$
  WITH gone AS (
    DELETE FROM candidate c USING unnest(p_urls) AS u (url) WHERE c.url = u.url RETURNING c.url
  ), ins AS (
    INSERT INTO relay (url, network, discovered_at)
    SELECT u.url, u.network, p_discovered_at FROM unnest(p_urls, p_networks) AS u (url, network)
    ON CONFLICT (url) DO NOTHING
    RETURNING 1
  )
  SELECT count(*)::integer FROM ins
$$;

-- Candidates that did not answer as a relay: failures + 1 with the reason; those that reach
-- p_max_failures are dropped. Returns each URL with its failure count and whether it was dropped
-- (a URL no longer a candidate is absent).
CREATE FUNCTION candidate_fail(p_urls text[], p_errors text[], p_checked_at bigint, p_max_failures integer)
RETURNS TABLE (url text, failures integer, dropped boolean) LANGUAGE sql AS $$
  -- Two statements on disjoint rows (a row is never both updated and deleted in one statement).
  WITH u AS (SELECT * FROM unnest(p_urls, p_errors) AS u (url, error)),
  del AS (
    DELETE FROM candidate c USING u
    WHERE c.url = u.url AND c.failures + 1 >= p_max_failures
    RETURNING c.url, c.failures + 1 AS failures
  ),
  upd AS (
    UPDATE candidate c SET failures = c.failures + 1, last_error = u.error, last_checked_at = p_checked_at
    FROM u WHERE c.url = u.url AND c.failures + 1 < p_max_failures
    RETURNING c.url, c.failures
  )
  SELECT del.url::text, del.failures, true FROM del
  UNION ALL
  SELECT upd.url::text, upd.failures, false FROM upd
$$;
