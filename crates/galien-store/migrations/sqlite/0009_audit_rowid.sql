-- Galien 0009: the audit trail keyed by its rowid. `seq BIGINT PRIMARY KEY` (0003) is not SQLite's
-- rowid: the table kept a rowid of its own and a separate index on seq, one more B-tree written for
-- every record appended. `seq INTEGER PRIMARY KEY` is the rowid itself: one B-tree fewer per record,
-- and a read by seq goes straight to the row. The records, their order and their bytes are unchanged;
-- the indexes and the append-only triggers (0003, 0005) are made again as they were.
-- (DROP TABLE fires no DELETE trigger: the records are copied first, in the same transaction.)

CREATE TABLE audit_events_by_rowid (
    seq INTEGER PRIMARY KEY CHECK (seq >= 1),
    id BLOB NOT NULL UNIQUE,
    at BIGINT NOT NULL,
    actor_user BLOB,
    action TEXT NOT NULL,
    outcome TEXT NOT NULL,
    patient BLOB,
    canonical BLOB NOT NULL,
    prev_hash BLOB NOT NULL,
    hash BLOB NOT NULL
);

INSERT INTO audit_events_by_rowid
    (seq, id, at, actor_user, action, outcome, patient, canonical, prev_hash, hash)
SELECT seq, id, at, actor_user, action, outcome, patient, canonical, prev_hash, hash
FROM audit_events ORDER BY seq;

DROP TABLE audit_events;

ALTER TABLE audit_events_by_rowid RENAME TO audit_events;

CREATE INDEX audit_events_actor_user_at ON audit_events (actor_user, at);
CREATE INDEX audit_events_patient_at ON audit_events (patient, at);
CREATE INDEX audit_events_action_at ON audit_events (action, at);
CREATE INDEX audit_events_at ON audit_events (at);

CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit_events is append-only');
END;

CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
WHEN OLD.seq > (SELECT COALESCE(MAX(through), 0) FROM audit_purges)
BEGIN
    SELECT RAISE(ABORT, 'audit_events is append-only (only records below a signed purge marker are removed)');
END;
