-- The API's and the DVM's event queries (read/events.ts): by author and by kind, newest first,
-- paged on (created_at, id). Each is an index the Synchronizer's inserts also maintain; without
-- them either query reads the whole archive.
CREATE INDEX event_pubkey_created_at_id ON event (pubkey, created_at, id);
CREATE INDEX event_kind_created_at_id ON event (kind, created_at, id);
