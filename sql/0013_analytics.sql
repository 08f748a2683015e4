-- Analytics: the statistics people ask the archive for, as tables the Refresher keeps current
-- (workflows/refresher.ts, activities/refresher/) and the API and the DVM read (read/).
--
-- Incremental, and exact. A refresh after N new events costs O(N), not O(archive): each writer's
-- rows are also appended, by a statement trigger, to a queue tagged with the writing transaction's
-- id; each target keeps the snapshot up to which it has counted (analytics_watermark.snapshot) and
-- next time counts the queued rows visible now that were not visible then
-- (pg_visible_in_snapshot). Visibility only grows, so every committed row is counted once, however
-- late its transaction commits; a refresh is one transaction, so a failed or retried one counts
-- nothing twice. A target never built (or asked for a full build) is computed from the base tables
-- under the same kind of snapshot, so a full build and the increments that follow agree with a
-- rebuild. Queued rows every target has counted are deleted by the last step (analytics_prune).
--
-- Times are Unix seconds; days are UTC dates of created_at (events dated outside years 1970-9999
-- count everywhere but in the per-day tables).

-- The queues -------------------------------------------------------------------------------------

CREATE TABLE analytics_event_queue (
  xid        xid8 NOT NULL DEFAULT pg_current_xact_id(),
  id         bytea NOT NULL,
  pubkey     bytea NOT NULL,
  created_at bigint NOT NULL,
  kind       integer NOT NULL
);
CREATE INDEX analytics_event_queue_xid ON analytics_event_queue (xid);

CREATE TABLE analytics_link_queue (
  xid       xid8 NOT NULL DEFAULT pg_current_xact_id(),
  event_id  bytea NOT NULL,
  relay_url text NOT NULL,
  seen_at   bigint NOT NULL
);
CREATE INDEX analytics_link_queue_xid ON analytics_link_queue (xid);

CREATE TABLE analytics_check_queue (
  xid          xid8 NOT NULL DEFAULT pg_current_xact_id(),
  relay_url    text NOT NULL,
  check_name   text NOT NULL,
  generated_at bigint NOT NULL,
  outcome      text NOT NULL
);
CREATE INDEX analytics_check_queue_xid ON analytics_check_queue (xid);

CREATE FUNCTION analytics_queue_events() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO analytics_event_queue (id, pubkey, created_at, kind) SELECT id, pubkey, created_at, kind FROM added;
  RETURN NULL;
END $$;
CREATE TRIGGER analytics_queue_events AFTER INSERT ON event
  REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION analytics_queue_events();

CREATE FUNCTION analytics_queue_links() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO analytics_link_queue (event_id, relay_url, seen_at) SELECT event_id, relay_url, seen_at FROM added;
  RETURN NULL;
END $$;
CREATE TRIGGER analytics_queue_links AFTER INSERT ON event_relay
  REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION analytics_queue_links();

CREATE FUNCTION analytics_queue_checks() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO analytics_check_queue (relay_url, check_name, generated_at, outcome)
  SELECT relay_url, check_name, generated_at, outcome FROM added;
  RETURN NULL;
END $$;
CREATE TRIGGER analytics_queue_checks AFTER INSERT ON relay_check
  REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION analytics_queue_checks();

-- Where each target stands: what it consumes, the snapshot it has counted up to (NULL: never
-- built), and its last refresh.
CREATE TABLE analytics_watermark (
  target       text PRIMARY KEY,
  queue        text CHECK (queue IN ('event', 'link', 'check')),  -- NULL: rebuilt whole (small)
  snapshot     pg_snapshot,
  refreshed_at bigint,
  full_build   boolean,
  rows         bigint,
  ms           integer
);
INSERT INTO analytics_watermark (target, queue) VALUES
  ('event_stats', 'event'), ('replaceable_current', 'event'), ('relay_stats', 'link'),
  ('relay_check_hour', 'check'), ('relay_summary', NULL);

-- Inside a refresh: the rows of a queue this snapshot sees that the target's last one did not.
CREATE FUNCTION analytics_new_since(p_xid xid8, p_prev pg_snapshot) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$ SELECT NOT pg_visible_in_snapshot(p_xid, p_prev) $$;

-- The tables -------------------------------------------------------------------------------------

CREATE FUNCTION analytics_day(p_created_at bigint) RETURNS date LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN p_created_at BETWEEN 0 AND 253402300799
              THEN date '1970-01-01' + (p_created_at / 86400)::integer END
$$;

-- event_stats: one pass over the new events feeds four tables.
CREATE TABLE kind_stats (
  kind     integer PRIMARY KEY,
  events   bigint NOT NULL,
  first_at bigint NOT NULL,   -- oldest created_at
  last_at  bigint NOT NULL    -- newest created_at
);
CREATE TABLE pubkey_stats (
  pubkey   bytea PRIMARY KEY,
  events   bigint NOT NULL,
  first_at bigint NOT NULL,
  last_at  bigint NOT NULL
);
CREATE INDEX pubkey_stats_top ON pubkey_stats (events DESC, pubkey);
CREATE TABLE day_stats (
  day    date PRIMARY KEY,
  events bigint NOT NULL
);
CREATE TABLE day_kind_stats (
  day    date NOT NULL,
  kind   integer NOT NULL,
  events bigint NOT NULL,
  PRIMARY KEY (day, kind)
);

-- relay_stats: one pass over the new links feeds three.
CREATE TABLE relay_stats (
  relay_url      relay_url PRIMARY KEY REFERENCES relay (url) ON DELETE CASCADE,
  events         bigint NOT NULL,   -- events archived from it
  pubkeys        bigint NOT NULL,   -- distinct authors of those
  first_event_at bigint NOT NULL,   -- oldest created_at among them
  last_event_at  bigint NOT NULL,   -- newest created_at
  last_seen_at   bigint NOT NULL    -- when the Synchronizer last linked an event to it
);
CREATE TABLE relay_kind_stats (
  relay_url relay_url NOT NULL REFERENCES relay (url) ON DELETE CASCADE,
  kind      integer NOT NULL,
  events    bigint NOT NULL,
  first_at  bigint NOT NULL,
  last_at   bigint NOT NULL,
  PRIMARY KEY (relay_url, kind)
);
CREATE TABLE relay_pubkey_stats (
  relay_url relay_url NOT NULL REFERENCES relay (url) ON DELETE CASCADE,
  pubkey    bytea NOT NULL,
  events    bigint NOT NULL,
  first_at  bigint NOT NULL,
  last_at   bigint NOT NULL,
  PRIMARY KEY (relay_url, pubkey)
);
CREATE INDEX relay_pubkey_stats_top ON relay_pubkey_stats (relay_url, events DESC, pubkey);

-- The current version of each replaceable event (kinds 0, 3, 10000-19999): per NIP-01 the newest,
-- and of two at the same second the lowest id.
CREATE TABLE replaceable_current (
  pubkey     bytea NOT NULL,
  kind       integer NOT NULL,
  event_id   bytea NOT NULL,
  created_at bigint NOT NULL,
  PRIMARY KEY (pubkey, kind)
);

-- The Monitor's outcomes per relay, check and hour: uptime over any span without reading every check.
CREATE TABLE relay_check_hour (
  relay_url  relay_url NOT NULL REFERENCES relay (url) ON DELETE CASCADE,
  check_name text NOT NULL,
  hour       bigint NOT NULL,   -- unix seconds of the hour's start
  ok         integer NOT NULL,
  failed     integer NOT NULL,
  PRIMARY KEY (relay_url, check_name, hour)
);

-- One row per relay with what a relay list shows; rebuilt whole each refresh (one row per relay,
-- each read through an index: O(relays), not O(history)).
CREATE TABLE relay_summary (
  url             relay_url PRIMARY KEY REFERENCES relay (url) ON DELETE CASCADE,
  network         relay_network NOT NULL,
  discovered_at   bigint NOT NULL,
  name            text,
  description     text,
  software        text,
  version         text,
  supported_nips  integer[] NOT NULL DEFAULT '{}',
  country         text,
  asn             bigint,
  nip11_at        bigint,         -- when the NIP-11 document shown was fetched
  up              boolean,        -- its WebSocket opened at the last check; NULL: never checked
  last_checked_at bigint,
  rtt_open_ms     integer,
  uptime_24h      numeric(5, 4),  -- share of 'open' checks passed; NULL: not checked in the span
  uptime_7d       numeric(5, 4),
  uptime_30d      numeric(5, 4),
  backoff_step    integer NOT NULL DEFAULT 0,   -- the Monitor's ladder (relay_backoff)
  events          bigint NOT NULL DEFAULT 0,
  pubkeys         bigint NOT NULL DEFAULT 0,
  first_event_at  bigint,
  last_event_at   bigint,
  last_seen_at    bigint,
  sync_lag        bigint,         -- seconds from the newest event archived from it to the refresh
  open_gaps       integer NOT NULL DEFAULT 0,   -- sync_gap rows not filled
  refused         text,           -- why it refuses to be read (sync_refusal), if it does
  refreshed_at    bigint NOT NULL
);
CREATE INDEX relay_summary_network ON relay_summary (network, url);
CREATE INDEX relay_summary_software ON relay_summary (software, url);
CREATE INDEX relay_summary_country ON relay_summary (country, url);
CREATE INDEX relay_summary_nips ON relay_summary USING gin (supported_nips);

-- Small enough to read from relay_summary at every request.
CREATE VIEW network_stats AS
SELECT network, count(*) AS relays, count(*) FILTER (WHERE up) AS up,
       sum(events)::bigint AS events_linked, max(last_seen_at) AS last_seen_at
FROM relay_summary GROUP BY network;

CREATE VIEW software_stats AS
SELECT coalesce(software, '') AS software, count(*) AS relays, count(*) FILTER (WHERE up) AS up,
       count(DISTINCT version) AS versions
FROM relay_summary GROUP BY coalesce(software, '');

CREATE VIEW nip_stats AS
SELECT nip, count(*) AS relays, count(*) FILTER (WHERE up) AS up
FROM relay_summary, unnest(supported_nips) AS nip GROUP BY nip;

-- The targets -----------------------------------------------------------------------------------
-- Each takes the snapshot it last counted up to (NULL: build from the base tables) and returns
-- the rows it wrote. They run inside analytics_refresh, under one REPEATABLE READ snapshot.

CREATE FUNCTION analytics_event_stats(p_prev pg_snapshot) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
  n bigint := 0;
  m bigint;
BEGIN
  IF p_prev IS NULL THEN
    TRUNCATE kind_stats, pubkey_stats, day_stats, day_kind_stats;
    CREATE TEMP TABLE analytics_delta ON COMMIT DROP AS
      SELECT pubkey, created_at, kind FROM event;
  ELSE
    CREATE TEMP TABLE analytics_delta ON COMMIT DROP AS
      SELECT pubkey, created_at, kind FROM analytics_event_queue q
      WHERE q.xid >= pg_snapshot_xmin(p_prev) AND analytics_new_since(q.xid, p_prev);
  END IF;

  INSERT INTO kind_stats AS s SELECT kind, count(*), min(created_at), max(created_at) FROM analytics_delta GROUP BY kind
  ON CONFLICT (kind) DO UPDATE SET events = s.events + excluded.events,
    first_at = least(s.first_at, excluded.first_at), last_at = greatest(s.last_at, excluded.last_at);
  GET DIAGNOSTICS m = ROW_COUNT; n := n + m;
  INSERT INTO pubkey_stats AS s SELECT pubkey, count(*), min(created_at), max(created_at) FROM analytics_delta GROUP BY pubkey
  ON CONFLICT (pubkey) DO UPDATE SET events = s.events + excluded.events,
    first_at = least(s.first_at, excluded.first_at), last_at = greatest(s.last_at, excluded.last_at);
  GET DIAGNOSTICS m = ROW_COUNT; n := n + m;
  INSERT INTO day_kind_stats AS s
  SELECT analytics_day(created_at), kind, count(*) FROM analytics_delta
  WHERE analytics_day(created_at) IS NOT NULL GROUP BY 1, 2
  ON CONFLICT (day, kind) DO UPDATE SET events = s.events + excluded.events;
  GET DIAGNOSTICS m = ROW_COUNT; n := n + m;
  INSERT INTO day_stats AS s
  SELECT analytics_day(created_at), count(*) FROM analytics_delta
  WHERE analytics_day(created_at) IS NOT NULL GROUP BY 1
  ON CONFLICT (day) DO UPDATE SET events = s.events + excluded.events;
  GET DIAGNOSTICS m = ROW_COUNT; n := n + m;
  DROP TABLE analytics_delta;
  RETURN n;
END $$;

CREATE FUNCTION analytics_replaceable_current(p_prev pg_snapshot) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
  n bigint;
BEGIN
  IF p_prev IS NULL THEN
    TRUNCATE replaceable_current;
    INSERT INTO replaceable_current
    SELECT DISTINCT ON (pubkey, kind) pubkey, kind, id, created_at FROM event
    WHERE kind IN (0, 3) OR kind BETWEEN 10000 AND 19999
    ORDER BY pubkey, kind, created_at DESC, id;
  ELSE
    INSERT INTO replaceable_current AS c
    SELECT DISTINCT ON (pubkey, kind) pubkey, kind, id, created_at FROM analytics_event_queue q
    WHERE q.xid >= pg_snapshot_xmin(p_prev) AND analytics_new_since(q.xid, p_prev)
      AND (kind IN (0, 3) OR kind BETWEEN 10000 AND 19999)
    ORDER BY pubkey, kind, created_at DESC, id
    ON CONFLICT (pubkey, kind) DO UPDATE SET event_id = excluded.event_id, created_at = excluded.created_at
    WHERE excluded.created_at > c.created_at OR (excluded.created_at = c.created_at AND excluded.event_id < c.event_id);
  END IF;
  GET DIAGNOSTICS n = ROW_COUNT;
  RETURN n;
END $$;

CREATE FUNCTION analytics_relay_stats(p_prev pg_snapshot) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
  n bigint := 0;
  m bigint;
BEGIN
  IF p_prev IS NULL THEN
    TRUNCATE relay_stats, relay_kind_stats, relay_pubkey_stats;
    CREATE TEMP TABLE analytics_delta ON COMMIT DROP AS
      SELECT l.relay_url::text AS relay_url, l.seen_at, e.pubkey, e.kind, e.created_at
      FROM event_relay l JOIN event e ON e.id = l.event_id;
  ELSE
    -- A link names its event only: one primary-key probe per link finds its author, kind and time
    -- (the lateral form prunes to the event's partition; see event_find in 0007). A link of a relay
    -- deleted since is dropped (its statistics went with it).
    CREATE TEMP TABLE analytics_delta ON COMMIT DROP AS
      SELECT q.relay_url, q.seen_at, e.pubkey, e.kind, e.created_at
      FROM analytics_link_queue q
      CROSS JOIN LATERAL (SELECT pubkey, kind, created_at FROM event WHERE event.id = q.event_id LIMIT 1) AS e
      WHERE q.xid >= pg_snapshot_xmin(p_prev) AND analytics_new_since(q.xid, p_prev)
        AND EXISTS (SELECT 1 FROM relay r WHERE r.url = q.relay_url);
  END IF;

  -- New authors per relay, counted before relay_pubkey_stats takes them in.
  CREATE TEMP TABLE analytics_new_authors ON COMMIT DROP AS
    SELECT d.relay_url, count(DISTINCT d.pubkey) AS authors FROM analytics_delta d
    WHERE NOT EXISTS (SELECT 1 FROM relay_pubkey_stats s WHERE s.relay_url = d.relay_url AND s.pubkey = d.pubkey)
    GROUP BY d.relay_url;

  INSERT INTO relay_pubkey_stats AS s
  SELECT relay_url, pubkey, count(*), min(created_at), max(created_at) FROM analytics_delta GROUP BY relay_url, pubkey
  ON CONFLICT (relay_url, pubkey) DO UPDATE SET events = s.events + excluded.events,
    first_at = least(s.first_at, excluded.first_at), last_at = greatest(s.last_at, excluded.last_at);
  GET DIAGNOSTICS m = ROW_COUNT; n := n + m;
  INSERT INTO relay_kind_stats AS s
  SELECT relay_url, kind, count(*), min(created_at), max(created_at) FROM analytics_delta GROUP BY relay_url, kind
  ON CONFLICT (relay_url, kind) DO UPDATE SET events = s.events + excluded.events,
    first_at = least(s.first_at, excluded.first_at), last_at = greatest(s.last_at, excluded.last_at);
  GET DIAGNOSTICS m = ROW_COUNT; n := n + m;
  INSERT INTO relay_stats AS s
  SELECT d.relay_url, count(*), coalesce(max(a.authors), 0), min(d.created_at), max(d.created_at), max(d.seen_at)
  FROM analytics_delta d LEFT JOIN analytics_new_authors a ON a.relay_url = d.relay_url
  GROUP BY d.relay_url
  ON CONFLICT (relay_url) DO UPDATE SET events = s.events + excluded.events, pubkeys = s.pubkeys + excluded.pubkeys,
    first_event_at = least(s.first_event_at, excluded.first_event_at),
    last_event_at = greatest(s.last_event_at, excluded.last_event_at),
    last_seen_at = greatest(s.last_seen_at, excluded.last_seen_at);
  GET DIAGNOSTICS m = ROW_COUNT; n := n + m;
  DROP TABLE analytics_delta, analytics_new_authors;
  RETURN n;
END $$;

CREATE FUNCTION analytics_relay_check_hour(p_prev pg_snapshot) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
  n bigint;
BEGIN
  IF p_prev IS NULL THEN
    TRUNCATE relay_check_hour;
    INSERT INTO relay_check_hour
    SELECT relay_url, check_name, generated_at - generated_at % 3600,
           count(*) FILTER (WHERE outcome = 'ok'), count(*) FILTER (WHERE outcome = 'failed')
    FROM relay_check WHERE outcome <> 'absent' GROUP BY 1, 2, 3;
  ELSE
    INSERT INTO relay_check_hour AS h
    SELECT relay_url, check_name, generated_at - generated_at % 3600,
           count(*) FILTER (WHERE outcome = 'ok'), count(*) FILTER (WHERE outcome = 'failed')
    FROM analytics_check_queue q
    WHERE q.xid >= pg_snapshot_xmin(p_prev) AND analytics_new_since(q.xid, p_prev) AND outcome <> 'absent'
      AND EXISTS (SELECT 1 FROM relay r WHERE r.url = q.relay_url)
    GROUP BY 1, 2, 3
    ON CONFLICT (relay_url, check_name, hour) DO UPDATE SET ok = h.ok + excluded.ok, failed = h.failed + excluded.failed;
  END IF;
  GET DIAGNOSTICS n = ROW_COUNT;
  RETURN n;
END $$;

-- The NIP-11 fields kept are those a relay list shows; text is cut to what a list needs.
CREATE FUNCTION analytics_relay_summary(p_prev pg_snapshot) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
  n bigint;
  now_s bigint := extract(epoch FROM now())::bigint;
BEGIN
  DELETE FROM relay_summary;
  INSERT INTO relay_summary
  SELECT r.url, r.network, r.discovered_at,
         left(nip11.payload->>'name', 200), left(nip11.payload->>'description', 1000),
         left(nip11.payload->>'software', 200), left(nip11.payload->>'version', 100),
         coalesce((SELECT array_agg(DISTINCT x::integer ORDER BY x::integer)
                   FROM jsonb_array_elements_text(CASE WHEN jsonb_typeof(nip11.payload->'supported_nips') = 'array'
                                                       THEN nip11.payload->'supported_nips' END) AS x
                   WHERE x ~ '^\d{1,6}$'), '{}'),
         left(geo.payload->>'country', 2),
         CASE WHEN net.payload->>'asn' ~ '^\d{1,12}$' THEN (net.payload->>'asn')::bigint END,
         nip11.generated_at,
         CASE WHEN last_open.outcome IS NULL THEN NULL ELSE last_open.outcome = 'ok' END,
         last_open.generated_at,
         CASE WHEN rtt.payload->>'rtt_open' ~ '^\d{1,9}$' THEN (rtt.payload->>'rtt_open')::integer END,
         up.u24, up.u7, up.u30,
         coalesce(b.step, 0),
         coalesce(s.events, 0), coalesce(s.pubkeys, 0), s.first_event_at, s.last_event_at, s.last_seen_at,
         CASE WHEN s.last_event_at IS NOT NULL THEN greatest(now_s - s.last_event_at, 0) END,
         (SELECT count(*) FROM sync_gap g WHERE g.relay_url = r.url AND g.filled_at IS NULL),
         f.reason,
         now_s
  FROM relay r
  LEFT JOIN relay_stats s ON s.relay_url = r.url
  LEFT JOIN relay_backoff b ON b.relay_url = r.url
  LEFT JOIN sync_refusal f ON f.relay_url = r.url
  LEFT JOIN LATERAL (SELECT rm.generated_at, m.payload FROM relay_metadata rm JOIN metadata m ON m.id = rm.metadata_id
                     WHERE rm.relay_url = r.url AND rm.metadata_type = 'nip11'
                     ORDER BY rm.generated_at DESC LIMIT 1) AS nip11 ON true
  LEFT JOIN LATERAL (SELECT m.payload FROM relay_metadata rm JOIN metadata m ON m.id = rm.metadata_id
                     WHERE rm.relay_url = r.url AND rm.metadata_type = 'nip66_geo'
                     ORDER BY rm.generated_at DESC LIMIT 1) AS geo ON true
  LEFT JOIN LATERAL (SELECT m.payload FROM relay_metadata rm JOIN metadata m ON m.id = rm.metadata_id
                     WHERE rm.relay_url = r.url AND rm.metadata_type = 'nip66_net'
                     ORDER BY rm.generated_at DESC LIMIT 1) AS net ON true
  LEFT JOIN LATERAL (SELECT m.payload FROM relay_metadata rm JOIN metadata m ON m.id = rm.metadata_id
                     WHERE rm.relay_url = r.url AND rm.metadata_type = 'nip66_rtt'
                     ORDER BY rm.generated_at DESC LIMIT 1) AS rtt ON true
  LEFT JOIN LATERAL (SELECT c.outcome, c.generated_at FROM relay_check c
                     WHERE c.relay_url = r.url AND c.check_name = 'open' AND c.outcome <> 'absent'
                     ORDER BY c.generated_at DESC LIMIT 1) AS last_open ON true
  LEFT JOIN LATERAL (SELECT round(sum(h.ok) FILTER (WHERE h.hour > now_s - 86400)::numeric
                                  / nullif(sum(h.ok + h.failed) FILTER (WHERE h.hour > now_s - 86400), 0), 4) AS u24,
                            round(sum(h.ok) FILTER (WHERE h.hour > now_s - 7 * 86400)::numeric
                                  / nullif(sum(h.ok + h.failed) FILTER (WHERE h.hour > now_s - 7 * 86400), 0), 4) AS u7,
                            round(sum(h.ok)::numeric / nullif(sum(h.ok + h.failed), 0), 4) AS u30
                     FROM relay_check_hour h
                     WHERE h.relay_url = r.url AND h.check_name = 'open' AND h.hour > now_s - 30 * 86400) AS up ON true;
  GET DIAGNOSTICS n = ROW_COUNT;
  RETURN n;
END $$;

-- One target's refresh: what the Refresher's activity calls, in a REPEATABLE READ transaction (the
-- snapshot its statements see is the one it records). Two refreshes of one target at once: the
-- second waits for the first's row lock, then fails with a serialization error and is retried.
-- Returns the rows written.
CREATE FUNCTION analytics_refresh(p_target text, p_full boolean DEFAULT false) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
  w analytics_watermark;
  n bigint;
  started timestamptz := clock_timestamp();
BEGIN
  IF current_setting('transaction_isolation') <> 'repeatable read' THEN
    RAISE EXCEPTION 'analytics_refresh(%) needs a REPEATABLE READ transaction', p_target;
  END IF;
  SELECT * INTO w FROM analytics_watermark WHERE target = p_target FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'analytics_refresh: no target %', p_target USING ERRCODE = 'invalid_parameter_value';
  END IF;
  EXECUTE format('SELECT analytics_%s($1)', p_target) INTO n
    USING CASE WHEN p_full THEN NULL ELSE w.snapshot END;
  UPDATE analytics_watermark SET snapshot = pg_current_snapshot(), refreshed_at = extract(epoch FROM now())::bigint,
    full_build = (p_full OR w.snapshot IS NULL), rows = n,
    ms = (extract(epoch FROM clock_timestamp() - started) * 1000)::integer
  WHERE target = p_target;
  RETURN n;
END $$;

-- Deletes the queued rows every target of their queue has counted. A target never built does not
-- hold its queue back: its first build reads the base tables. Returns the rows deleted.
CREATE FUNCTION analytics_prune() RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
  n bigint := 0;
  m bigint;
  horizon xid8;
BEGIN
  SELECT min(pg_snapshot_xmin(snapshot)) INTO horizon FROM analytics_watermark WHERE queue = 'event' AND snapshot IS NOT NULL;
  IF horizon IS NOT NULL THEN
    DELETE FROM analytics_event_queue WHERE xid < horizon; GET DIAGNOSTICS m = ROW_COUNT; n := n + m;
  END IF;
  SELECT min(pg_snapshot_xmin(snapshot)) INTO horizon FROM analytics_watermark WHERE queue = 'link' AND snapshot IS NOT NULL;
  IF horizon IS NOT NULL THEN
    DELETE FROM analytics_link_queue WHERE xid < horizon; GET DIAGNOSTICS m = ROW_COUNT; n := n + m;
  END IF;
  SELECT min(pg_snapshot_xmin(snapshot)) INTO horizon FROM analytics_watermark WHERE queue = 'check' AND snapshot IS NOT NULL;
  IF horizon IS NOT NULL THEN
    DELETE FROM analytics_check_queue WHERE xid < horizon; GET DIAGNOSTICS m = ROW_COUNT; n := n + m;
  END IF;
  RETURN n;
END $$;

-- The role the API and the DVM read with: SELECT on every table and view, now and later (the
-- default privileges cover what later migrations create). Roles belong to the whole server: one
-- made by another database's migration is reused; without the right to create roles (a managed
-- database), the operator makes it (README).
DO $$
BEGIN
  BEGIN
    CREATE ROLE bigbrotr_reader NOLOGIN;
  EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
  END;
  GRANT USAGE ON SCHEMA public TO bigbrotr_reader;
  GRANT SELECT ON ALL TABLES IN SCHEMA public TO bigbrotr_reader;
  ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO bigbrotr_reader;
EXCEPTION WHEN insufficient_privilege THEN
  RAISE NOTICE 'cannot create or grant role bigbrotr_reader here: create it as the README says';
END $$;
