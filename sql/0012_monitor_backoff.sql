-- Where each relay stands on the Monitor's ladder (common/backoff.ts). The relay's Monitor
-- workflow holds the position in its state and waits on durable timers; this row is its copy for
-- SQL, written when the position changes (a relay that never failed has none). The next check
-- comes `wait_ms` after the relay's last check (relay_check), or sooner on a `runNow`.
CREATE TABLE relay_backoff (
  relay_url  relay_url PRIMARY KEY REFERENCES relay (url) ON DELETE CASCADE,
  -- checks in a row the relay failed (down: its WebSocket did not open, or no check passed)
  failures   integer NOT NULL CHECK (failures >= 0),
  -- 0: the normal interval; 1, 2, ...: the ladder's steps
  step       integer NOT NULL CHECK (step >= 0),
  wait_ms    bigint NOT NULL CHECK (wait_ms > 0),
  -- when the relay reached this position (unix seconds)
  changed_at bigint NOT NULL
);
