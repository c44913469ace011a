-- Galien 0002: identity — users, credentials, sessions, login throttling (AUTH-1…AUTH-9).
-- Times are BIGINT microseconds since the Unix epoch (UTC), identical on both backends.
-- Accounts are never deleted (AUTH-8): traces name them. No ON DELETE CASCADE, and a trigger refuses
-- DELETE on users outright.

CREATE TABLE users (
    id UUID PRIMARY KEY,
    -- Normalised (trimmed, lower-case) by galien_core::identity::Email: one account per address (AUTH-1).
    email TEXT NOT NULL,
    display_name TEXT NOT NULL,
    role TEXT NOT NULL,
    -- `rpps:…` / `adeli:…`: one account per professional identifier (AUTH-1).
    professional_id TEXT,
    organisation TEXT,
    status TEXT NOT NULL CHECK (status IN ('invited', 'active', 'suspended', 'deactivated')),
    created_at BIGINT NOT NULL,
    created_by UUID REFERENCES users (id),
    activated_at BIGINT,
    status_changed_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    -- Argon2id PHC string (AUTH-4).
    password_hash TEXT,
    password_changed_at BIGINT,
    -- The TOTP secret, sealed (encrypted) by the caller; the last accepted time step (AUTH-6).
    totp_secret BYTEA,
    totp_last_step BIGINT,
    totp_enrolled_at BIGINT,
    CONSTRAINT users_email_key UNIQUE (email),
    CHECK ((totp_secret IS NULL) = (totp_enrolled_at IS NULL))
);

CREATE UNIQUE INDEX users_professional_id_key ON users (professional_id) WHERE professional_id IS NOT NULL;
CREATE INDEX users_created_at ON users (created_at);

CREATE FUNCTION galien_users_never_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'accounts are never deleted (AUTH-8)';
END;
$$;

CREATE TRIGGER users_never_deleted BEFORE DELETE ON users
    FOR EACH ROW EXECUTE FUNCTION galien_users_never_deleted();

-- Single-use recovery codes, stored hashed (AUTH-6). Replacing a set deletes the previous one.
CREATE TABLE recovery_codes (
    user_id UUID NOT NULL REFERENCES users (id),
    code_hash BYTEA NOT NULL,
    created_at BIGINT NOT NULL,
    used_at BIGINT,
    PRIMARY KEY (user_id, code_hash)
);

CREATE TABLE webauthn_credentials (
    id UUID PRIMARY KEY,
    user_id UUID NOT NULL REFERENCES users (id),
    credential_id BYTEA NOT NULL,
    name TEXT NOT NULL,
    passkey_json TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    last_used_at BIGINT,
    CONSTRAINT webauthn_credentials_credential_id_key UNIQUE (credential_id)
);

CREATE INDEX webauthn_credentials_user ON webauthn_credentials (user_id);

-- Only the SHA-256 digest of the session secret is stored; `handle` is a public name for it (AUTH-7).
CREATE TABLE sessions (
    digest BYTEA PRIMARY KEY,
    handle TEXT NOT NULL,
    user_id UUID NOT NULL REFERENCES users (id),
    method TEXT NOT NULL,
    assurance BIGINT NOT NULL CHECK (assurance IN (1, 2)),
    created_at BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    absolute_expires_at BIGINT NOT NULL,
    step_up_at BIGINT,
    ended_at BIGINT,
    end_reason TEXT,
    ip TEXT,
    user_agent TEXT,
    csrf_secret BYTEA NOT NULL
);

CREATE INDEX sessions_user ON sessions (user_id, created_at);

-- One row per failed login, keyed by an opaque string (`account:<uuid>`, `addr:<ip>`) (AUTH-5).
CREATE TABLE login_failures (
    throttle_key TEXT NOT NULL,
    at BIGINT NOT NULL
);

CREATE INDEX login_failures_key_at ON login_failures (throttle_key, at);
CREATE INDEX login_failures_at ON login_failures (at);

-- Machine identities (AUTH-9): their own credentials, their own scopes, revocable.
CREATE TABLE machine_clients (
    id UUID PRIMARY KEY,
    name TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('device', 'system')),
    secret_hash TEXT NOT NULL,
    -- JSON array of scope strings.
    scopes TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    created_by UUID NOT NULL REFERENCES users (id),
    revoked_at BIGINT
);

CREATE TABLE machine_access_tokens (
    digest BYTEA PRIMARY KEY,
    client_id UUID NOT NULL REFERENCES machine_clients (id),
    scopes TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);

CREATE INDEX machine_access_tokens_client ON machine_access_tokens (client_id);

-- Invitations name the account they enrol; first-administrator tokens have no user.
ALTER TABLE enrolment_tokens ADD COLUMN user_id UUID REFERENCES users (id);
CREATE INDEX enrolment_tokens_user ON enrolment_tokens (user_id);
