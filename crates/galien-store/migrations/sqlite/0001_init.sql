-- Galien 0001: installation identity and enrolment links.
-- Times are BIGINT microseconds since the Unix epoch (UTC), identical on both backends.

CREATE TABLE galien_instance (
    singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
    id BLOB NOT NULL
);

CREATE TABLE enrolment_tokens (
    id BLOB PRIMARY KEY,
    digest BLOB NOT NULL UNIQUE,
    purpose TEXT NOT NULL CHECK (purpose IN ('first_administrator', 'invitation')),
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT,
    revoked_at BIGINT
);

CREATE INDEX enrolment_tokens_purpose_open ON enrolment_tokens (purpose) WHERE used_at IS NULL AND revoked_at IS NULL;
