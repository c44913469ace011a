-- Galien 0006: security incidents and personal-data breaches (TRACE-5, TRACE-6). Anomaly rules open
-- incidents from the audit trail (the scan cursor keeps its place); the DPO qualifies them, and a
-- breach carries the 72-hour deadline for notifying the CNIL (GDPR art. 33) and the decision on
-- informing patients (art. 34). Free text (facts, effects, measures…) is sealed by the application.

CREATE TABLE incidents (
    id BLOB PRIMARY KEY,
    opened_at BIGINT NOT NULL,
    -- The anomaly rule that opened it, or NULL when the DPO registered it by hand.
    rule TEXT,
    -- What the rule looked at: `user:<uuid>`, `ip:<address>`, `account:<uuid>`…
    subject TEXT,
    -- A rule's finding, in words without health data (counts, ids).
    finding TEXT NOT NULL,
    severity TEXT NOT NULL CHECK (severity IN ('low', 'medium', 'high')),
    status TEXT NOT NULL CHECK (status IN ('open', 'investigating', 'closed')),
    -- Sealed JSON: facts, affected people, data categories, effects, measures.
    details BLOB,
    is_breach BIGINT NOT NULL DEFAULT 0,
    -- When the organisation became aware of the breach: the 72-hour clock starts here.
    breach_aware_at BIGINT,
    cnil_notified_at BIGINT,
    -- 'yes', 'no' or NULL (not decided) — GDPR art. 34.
    inform_patients TEXT CHECK (inform_patients IN ('yes', 'no')),
    patients_informed_at BIGINT,
    updated_at BIGINT NOT NULL,
    updated_by BLOB REFERENCES users (id),
    CHECK (is_breach = 0 OR breach_aware_at IS NOT NULL)
);
CREATE INDEX incidents_open ON incidents (status, opened_at);
CREATE INDEX incidents_rule_subject ON incidents (rule, subject, opened_at);

-- How far the anomaly scan has read the audit trail (one row).
CREATE TABLE anomaly_cursor (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    seq BIGINT NOT NULL
);
INSERT INTO anomaly_cursor (id, seq) VALUES (1, 0);
