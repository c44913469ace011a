-- Galien 0005: retention of the audit trail (TRACE-7). A purge removes the oldest records, up to a
-- signed checkpoint, and leaves a marker signed with the audit key: the last seq removed, how many,
-- and the hash of that last record, so the remaining chain still verifies from there. Deleting records
-- stays impossible except below a marker.

CREATE TABLE audit_purges (
    through BIGINT PRIMARY KEY CHECK (through >= 1),
    removed BIGINT NOT NULL,
    last_hash BLOB NOT NULL,
    cutoff BIGINT NOT NULL,
    at BIGINT NOT NULL,
    signature BLOB NOT NULL,
    key_id TEXT NOT NULL
);

CREATE TRIGGER audit_purges_no_update BEFORE UPDATE ON audit_purges
BEGIN
    SELECT RAISE(ABORT, 'audit_purges is append-only');
END;

CREATE TRIGGER audit_purges_no_delete BEFORE DELETE ON audit_purges
BEGIN
    SELECT RAISE(ABORT, 'audit_purges is append-only');
END;

DROP TRIGGER audit_events_no_delete;

CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
WHEN OLD.seq > (SELECT COALESCE(MAX(through), 0) FROM audit_purges)
BEGIN
    SELECT RAISE(ABORT, 'audit_events is append-only (only records below a signed purge marker are removed)');
END;
