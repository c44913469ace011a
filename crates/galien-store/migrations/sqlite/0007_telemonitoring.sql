-- Galien 0007: telemonitoring (ACT-3) — enrolments in a programme, devices enrolled for a patient,
-- measurements (values sealed with the patient's data key), alerts.

CREATE TABLE monitoring_enrolments (
    id BLOB PRIMARY KEY,
    patient_id BLOB NOT NULL REFERENCES patients (id),
    programme TEXT NOT NULL,
    -- Thresholds in force for this patient: JSON {"<measure>": {"low": x, "high": y}}.
    thresholds TEXT NOT NULL,
    -- Hours (local) when alerts are read, e.g. "8-18".
    reading_hours TEXT NOT NULL,
    enrolled_by BLOB NOT NULL REFERENCES users (id),
    since BIGINT NOT NULL,
    ended_at BIGINT
);
CREATE UNIQUE INDEX monitoring_enrolments_active ON monitoring_enrolments (patient_id, programme)
    WHERE ended_at IS NULL;

-- A device (machine identity) may post measurements only for the patients it is enrolled for.
CREATE TABLE monitoring_devices (
    client_id BLOB NOT NULL REFERENCES machine_clients (id),
    patient_id BLOB NOT NULL REFERENCES patients (id),
    enrolment_id BLOB NOT NULL REFERENCES monitoring_enrolments (id),
    since BIGINT NOT NULL,
    ended_at BIGINT,
    PRIMARY KEY (client_id, patient_id, since)
);
CREATE INDEX monitoring_devices_patient ON monitoring_devices (patient_id);

CREATE TABLE observations (
    id BLOB PRIMARY KEY,
    patient_id BLOB NOT NULL REFERENCES patients (id),
    measure TEXT NOT NULL,
    effective_at BIGINT NOT NULL,
    -- `device:<client id>` or `patient`.
    source TEXT NOT NULL,
    -- The value in the measure's canonical unit, sealed.
    value BLOB NOT NULL,
    received_at BIGINT NOT NULL,
    CONSTRAINT observations_dedup UNIQUE (patient_id, source, measure, effective_at)
);
CREATE INDEX observations_patient_measure ON observations (patient_id, measure, effective_at);

CREATE TABLE monitoring_alerts (
    id BLOB PRIMARY KEY,
    patient_id BLOB NOT NULL REFERENCES patients (id),
    enrolment_id BLOB NOT NULL REFERENCES monitoring_enrolments (id),
    observation_id BLOB REFERENCES observations (id),
    rule TEXT NOT NULL,
    measure TEXT,
    severity TEXT NOT NULL CHECK (severity IN ('low', 'medium', 'high')),
    opened_at BIGINT NOT NULL,
    outside_hours BIGINT NOT NULL DEFAULT 0,
    status TEXT NOT NULL CHECK (status IN ('open', 'acknowledged', 'closed')),
    acknowledged_by BLOB REFERENCES users (id),
    acknowledged_at BIGINT,
    decision TEXT,
    decision_note BLOB,
    closed_by BLOB REFERENCES users (id),
    closed_at BIGINT
);
CREATE INDEX monitoring_alerts_open ON monitoring_alerts (status, severity, opened_at);
CREATE INDEX monitoring_alerts_patient ON monitoring_alerts (patient_id, rule, measure, status);
