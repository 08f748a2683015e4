-- A gap's size where the relay counts (NIP-45 COUNT of the second, less what it served): NULL
-- where it does not.
ALTER TABLE sync_gap ADD COLUMN missing integer CHECK (missing > 0);
