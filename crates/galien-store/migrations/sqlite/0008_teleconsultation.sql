-- Galien 0008: teleconsultation (ACT-1) — appointments (one call room each), the people of each call
-- (the patient, the médecin, guests entering by a single-use link), chat messages and documents
-- (sealed with the patient's data key), documents sent to a professional, and signaling messages
-- too large for the event bus.

CREATE TABLE appointments (
    id BLOB PRIMARY KEY,
    patient_id BLOB NOT NULL REFERENCES patients (id),
    practitioner_id BLOB NOT NULL REFERENCES users (id),
    scheduled_at BIGINT NOT NULL,
    duration_minutes BIGINT NOT NULL CHECK (duration_minutes BETWEEN 5 AND 240),
    -- The reason (motif), sealed: clinical content.
    reason BLOB NOT NULL,
    status TEXT NOT NULL CHECK (status IN
        ('scheduled', 'waiting', 'in_progress', 'completed', 'cancelled', 'no_show')),
    -- The médecin the report and prescription are also sent to (médecin traitant), if any.
    referring_id BLOB REFERENCES users (id),
    consent_id BLOB REFERENCES consents (id),
    created_by BLOB NOT NULL REFERENCES users (id),
    created_at BIGINT NOT NULL,
    started_at BIGINT,
    ended_at BIGINT,
    ended_by BLOB REFERENCES users (id),
    updated_at BIGINT NOT NULL
);
CREATE INDEX appointments_practitioner ON appointments (practitioner_id, scheduled_at);
CREATE INDEX appointments_patient ON appointments (patient_id, scheduled_at);

CREATE TABLE call_participants (
    id BLOB PRIMARY KEY,
    appointment_id BLOB NOT NULL REFERENCES appointments (id),
    kind TEXT NOT NULL CHECK (kind IN ('patient', 'practitioner', 'guest')),
    -- The account (the patient, the médecin); NULL for a guest.
    user_id BLOB REFERENCES users (id),
    -- A guest's name and quality (interpreter, relative…), sealed.
    guest_label BLOB,
    -- SHA-256 of a guest's single-use link, its expiry, when it was used.
    link_digest BLOB,
    link_expires_at BIGINT,
    link_used_at BIGINT,
    -- SHA-256 of the guest's session, opened when the link was used (the guest's page reconnects
    -- with it while the call lasts).
    session_digest BLOB,
    invited_by BLOB REFERENCES users (id),
    state TEXT NOT NULL CHECK (state IN ('invited', 'waiting', 'admitted', 'left')),
    waiting_since BIGINT,
    admitted_at BIGINT,
    admitted_by BLOB REFERENCES users (id),
    created_at BIGINT NOT NULL,
    CHECK ((kind = 'guest') = (user_id IS NULL)),
    CONSTRAINT call_participants_link_key UNIQUE (link_digest),
    CONSTRAINT call_participants_session_key UNIQUE (session_digest)
);
CREATE UNIQUE INDEX call_participants_user ON call_participants (appointment_id, user_id)
    WHERE user_id IS NOT NULL;
CREATE INDEX call_participants_appointment ON call_participants (appointment_id);

CREATE TABLE call_messages (
    id BLOB PRIMARY KEY,
    appointment_id BLOB NOT NULL REFERENCES appointments (id),
    participant_id BLOB NOT NULL REFERENCES call_participants (id),
    -- The text, sealed.
    body BLOB NOT NULL,
    sent_at BIGINT NOT NULL
);
CREATE INDEX call_messages_appointment ON call_messages (appointment_id, sent_at);

CREATE TABLE documents (
    id BLOB PRIMARY KEY,
    patient_id BLOB NOT NULL REFERENCES patients (id),
    appointment_id BLOB REFERENCES appointments (id),
    kind TEXT NOT NULL CHECK (kind IN ('shared', 'report', 'prescription')),
    -- File name and content, sealed; the media type (one of a short list) and size are not secret.
    name BLOB NOT NULL,
    media_type TEXT NOT NULL,
    size_bytes BIGINT NOT NULL,
    content BLOB NOT NULL,
    -- Who added it: an account, or a call participant (a guest).
    author_id BLOB REFERENCES users (id),
    participant_id BLOB REFERENCES call_participants (id),
    created_at BIGINT NOT NULL
);
CREATE INDEX documents_patient ON documents (patient_id, created_at);
CREATE INDEX documents_appointment ON documents (appointment_id);

-- A report or prescription sent to a professional (the referring doctor).
CREATE TABLE document_recipients (
    document_id BLOB NOT NULL REFERENCES documents (id),
    user_id BLOB NOT NULL REFERENCES users (id),
    sent_at BIGINT NOT NULL,
    PRIMARY KEY (document_id, user_id)
);
CREATE INDEX document_recipients_user ON document_recipients (user_id, sent_at);

-- Signaling messages too large for a NOTIFY (SDP), read by id on the node of their recipient and
-- deleted within a minute. They carry network addresses and codecs, never health data.
CREATE TABLE call_signals (
    id BLOB PRIMARY KEY,
    body TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX call_signals_created ON call_signals (created_at);
