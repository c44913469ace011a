-- Galien 0005: retention of the audit trail (TRACE-7). A purge removes the oldest records, up to a
-- signed checkpoint, and leaves a marker signed with the audit key: the last seq removed, how many,
-- and the hash of that last record, so the remaining chain still verifies from there. Deleting records
-- stays impossible except below a marker.

CREATE TABLE audit_purges (
    through BIGINT PRIMARY KEY CHECK (through >= 1),
    removed BIGINT NOT NULL,
    last_hash BYTEA NOT NULL,
    cutoff BIGINT NOT NULL,
    at BIGINT NOT NULL,
    signature BYTEA NOT NULL,
    key_id TEXT NOT NULL
);

CREATE TRIGGER audit_purges_append_only BEFORE UPDATE OR DELETE ON audit_purges
    FOR EACH ROW EXECUTE FUNCTION galien_audit_append_only();
CREATE TRIGGER audit_purges_no_truncate BEFORE TRUNCATE ON audit_purges
    FOR EACH STATEMENT EXECUTE FUNCTION galien_audit_append_only();

CREATE FUNCTION galien_audit_purge_below_marker() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' AND OLD.seq <= (SELECT COALESCE(MAX(through), 0) FROM audit_purges) THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'audit_events is append-only (only records below a signed purge marker are removed)';
END;
$$;

DROP TRIGGER audit_events_append_only ON audit_events;
CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION galien_audit_purge_below_marker();
