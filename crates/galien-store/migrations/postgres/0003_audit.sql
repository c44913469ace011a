-- Galien 0003: the audit trail — hash-chained records and signed checkpoints (TRACE-1, TRACE-2).
-- `canonical` is the hashed encoding (galien_core::audit::canonical_bytes); the plain columns beside it
-- are copies for searching, checked against it by `galien audit verify`. Times: µs since the epoch, UTC.

CREATE TABLE audit_events (
    seq BIGINT PRIMARY KEY CHECK (seq >= 1),
    id UUID NOT NULL UNIQUE,
    at BIGINT NOT NULL,
    actor_user UUID,
    action TEXT NOT NULL,
    outcome TEXT NOT NULL,
    patient UUID,
    canonical BYTEA NOT NULL,
    prev_hash BYTEA NOT NULL,
    hash BYTEA NOT NULL
);

CREATE INDEX audit_events_actor_user_at ON audit_events (actor_user, at);
CREATE INDEX audit_events_patient_at ON audit_events (patient, at);
CREATE INDEX audit_events_action_at ON audit_events (action, at);
CREATE INDEX audit_events_at ON audit_events (at);

-- Signed tree heads: the Merkle root of records 1..=size. `frontier` lets the next checkpoint extend
-- this one without rescanning; it is checked against the signed root before use.
CREATE TABLE audit_checkpoints (
    size BIGINT PRIMARY KEY CHECK (size >= 0),
    root BYTEA NOT NULL,
    at BIGINT NOT NULL,
    signature BYTEA NOT NULL,
    key_id TEXT NOT NULL,
    frontier BYTEA NOT NULL
);

-- Append-only (defence in depth: the hash chain and checkpoints are what detect tampering). The
-- retention purge (TRACE-7) will go through its own controlled path.
CREATE FUNCTION galien_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only', TG_TABLE_NAME USING ERRCODE = 'P0001';
END;
$$;

CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION galien_audit_append_only();
CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION galien_audit_append_only();
CREATE TRIGGER audit_checkpoints_append_only BEFORE UPDATE OR DELETE ON audit_checkpoints
    FOR EACH ROW EXECUTE FUNCTION galien_audit_append_only();
CREATE TRIGGER audit_checkpoints_no_truncate BEFORE TRUNCATE ON audit_checkpoints
    FOR EACH STATEMENT EXECUTE FUNCTION galien_audit_append_only();
