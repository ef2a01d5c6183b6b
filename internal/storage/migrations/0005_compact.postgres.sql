-- PostgreSQL: events lose the unique index on event_id, as on SQLite (a
-- replayed response finds its event through events_reservation); the
-- SQLite half of this version rebuilds tables PostgreSQL does not need to.
ALTER TABLE events DROP CONSTRAINT IF EXISTS events_event_id_key;
