-- event_relay.event_id no longer references event: the check cost 52 µs of the 64 µs of each new
-- link (measured by bench:sync: it searches the hash-partitioned event table per row), where the
-- writers already guarantee it. archiveEvents stores a batch's events and links in one
-- transaction, and the link-only path (sync-window.ts) links only ids it finds in event, in the
-- same statement. The relay_url foreign key stays: it is cheap, and a relay deleted mid-window
-- must fail the window (RelayGone).
DO $$
DECLARE
  c text;
BEGIN
  SELECT conname INTO c FROM pg_constraint
  WHERE conrelid = 'event_relay'::regclass AND confrelid = 'event'::regclass AND contype = 'f';
  IF c IS NOT NULL THEN
    EXECUTE format('ALTER TABLE event_relay DROP CONSTRAINT %I', c);
  END IF;
END $$;
