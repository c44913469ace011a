-- Galien 0003: the audit trail — hash-chained records and signed checkpoints (TRACE-1, TRACE-2).
-- `canonical` is the hashed encoding (galien_core::audit::canonical_bytes); the plain columns beside it
-- are copies for searching, checked against it by `galien audit verify`. Times: µs since the epoch, UTC.

CREATE TABLE audit_events (
    seq BIGINT PRIMARY KEY CHECK (seq >= 1),
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

CREATE INDEX audit_events_actor_user_at ON audit_events (actor_user, at);
CREATE INDEX audit_events_patient_at ON audit_events (patient, at);
CREATE INDEX audit_events_action_at ON audit_events (action, at);
CREATE INDEX audit_events_at ON audit_events (at);

-- Append-only (defence in depth: the hash chain and checkpoints are what detect tampering).
CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit_events is append-only');
END;

CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit_events is append-only');
END;

-- Signed tree heads: the Merkle root of records 1..=size. `frontier` lets the next checkpoint extend
-- this one without rescanning; it is checked against the signed root before use.
CREATE TABLE audit_checkpoints (
    size BIGINT PRIMARY KEY CHECK (size >= 0),
    root BLOB NOT NULL,
    at BIGINT NOT NULL,
    signature BLOB NOT NULL,
    key_id TEXT NOT NULL,
    frontier BLOB NOT NULL
);

CREATE TRIGGER audit_checkpoints_no_update BEFORE UPDATE ON audit_checkpoints
BEGIN
    SELECT RAISE(ABORT, 'audit_checkpoints is append-only');
END;

CREATE TRIGGER audit_checkpoints_no_delete BEFORE DELETE ON audit_checkpoints
BEGIN
    SELECT RAISE(ABORT, 'audit_checkpoints is append-only');
END;
