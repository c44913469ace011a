-- Galien 0004: patients, their data keys, care relationships, emergency accesses, consents and
-- clinical notes (ACC-3, ACC-4, DATA-1, DATA-2, GDPR-3).
-- Personal data never appears in clear: identity traits, the NIR and clinical text are sealed by the
-- application with the patient's own data key (XChaCha20-Poly1305, associated data = table/row/column);
-- look-ups go through keyed blind indexes (HMAC-SHA-256). Times are BIGINT microseconds UTC.

CREATE TABLE patients (
    id BLOB PRIMARY KEY,
    -- The patient's own account, once they have one.
    user_id BLOB REFERENCES users (id),
    ins_status TEXT NOT NULL CHECK (ins_status IN ('provisional', 'retrieved', 'validated', 'qualified')),
    -- Sealed JSON of galien_core::patient::PatientIdentity.
    identity BLOB NOT NULL,
    -- Sealed NIR (INS matricule) and its blind index.
    nir BLOB,
    nir_index BLOB,
    created_at BIGINT NOT NULL,
    created_by BLOB REFERENCES users (id),
    updated_at BIGINT NOT NULL,
    CONSTRAINT patients_nir_index_key UNIQUE (nir_index),
    CONSTRAINT patients_user_id_key UNIQUE (user_id),
    CHECK ((nir IS NULL) = (nir_index IS NULL))
);

-- Blind indexes of name + birth date (birth name and used name), for search.
CREATE TABLE patient_name_index (
    patient_id BLOB NOT NULL REFERENCES patients (id),
    digest BLOB NOT NULL,
    PRIMARY KEY (digest, patient_id)
);
CREATE INDEX patient_name_index_patient ON patient_name_index (patient_id);

-- One data key per patient, wrapped by a key-encryption key of the key ring (keys/health/).
-- Deleting the row makes the patient's sealed data unreadable for good (crypto-shredding).
CREATE TABLE patient_keys (
    patient_id BLOB PRIMARY KEY REFERENCES patients (id),
    kek BIGINT NOT NULL,
    wrapped BLOB NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX patient_keys_kek ON patient_keys (kek);

-- Care relationships (ACC-3): care team membership, act participation, monitoring, regulation case.
CREATE TABLE care_relationships (
    id BLOB PRIMARY KEY,
    patient_id BLOB NOT NULL REFERENCES patients (id),
    user_id BLOB NOT NULL REFERENCES users (id),
    kind TEXT NOT NULL CHECK (kind IN ('care_team', 'act', 'monitoring', 'regulation')),
    -- What it stands on (an appointment, an enrolment…), when not the care team itself.
    reference TEXT,
    added_by BLOB REFERENCES users (id),
    since BIGINT NOT NULL,
    until BIGINT,
    ended_at BIGINT,
    ended_by BLOB REFERENCES users (id)
);
CREATE INDEX care_relationships_user ON care_relationships (user_id, patient_id);
CREATE INDEX care_relationships_patient ON care_relationships (patient_id);
CREATE UNIQUE INDEX care_relationships_active_member ON care_relationships (patient_id, user_id, kind)
    WHERE ended_at IS NULL AND kind = 'care_team';

-- Emergency accesses (ACC-4): reason sealed, time-limited, reviewed by the DPO.
CREATE TABLE emergency_accesses (
    id BLOB PRIMARY KEY,
    patient_id BLOB NOT NULL REFERENCES patients (id),
    user_id BLOB NOT NULL REFERENCES users (id),
    reason BLOB NOT NULL,
    opened_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    reviewed_by BLOB REFERENCES users (id),
    reviewed_at BIGINT,
    review_note BLOB,
    CHECK (expires_at > opened_at)
);
CREATE INDEX emergency_accesses_user ON emergency_accesses (user_id, patient_id, expires_at);
CREATE INDEX emergency_accesses_review ON emergency_accesses (reviewed_at, opened_at);

-- Consents (GDPR-3): who consented to what, when, by which means, recorded by whom.
CREATE TABLE consents (
    id BLOB PRIMARY KEY,
    patient_id BLOB NOT NULL REFERENCES patients (id),
    subject TEXT NOT NULL,
    decision TEXT NOT NULL CHECK (decision IN ('given', 'refused')),
    means TEXT NOT NULL,
    recorded_by BLOB NOT NULL REFERENCES users (id),
    recorded_at BIGINT NOT NULL,
    withdrawn_at BIGINT,
    withdrawn_by BLOB REFERENCES users (id)
);
CREATE INDEX consents_patient ON consents (patient_id, recorded_at);

-- Clinical notes: the body is sealed with the patient's data key.
CREATE TABLE clinical_notes (
    id BLOB PRIMARY KEY,
    patient_id BLOB NOT NULL REFERENCES patients (id),
    author BLOB NOT NULL REFERENCES users (id),
    created_at BIGINT NOT NULL,
    emergency BIGINT NOT NULL DEFAULT 0,
    body BLOB NOT NULL
);
CREATE INDEX clinical_notes_patient ON clinical_notes (patient_id, created_at);
