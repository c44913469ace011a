//! Keys the use cases need, each derived from the master key for one purpose.

use galien_crypto::keyfile::MasterKey;
use galien_crypto::seal::{self, SealingKey};
use zeroize::Zeroizing;

/// Purpose-bound keys.
#[derive(Debug)]
pub struct AppKeys {
    /// Seals TOTP seeds at rest, bound to their user.
    pub totp: SealingKey,
    /// Seals a TOTP seed while its enrolment is being confirmed (hidden form field), bound to the session.
    pub pending_totp: SealingKey,
    /// Seals a WebAuthn ceremony's state between its two steps, bound to the session.
    pub pending_webauthn: SealingKey,
    /// Seals an OpenID Connect request's state (state, nonce, PKCE verifier) in a short-lived cookie.
    pub pending_oidc: SealingKey,
    /// HMAC key of recovery-code digests.
    pub recovery: Zeroizing<[u8; 32]>,
    /// Argon2id pepper.
    pub pepper: Zeroizing<[u8; 32]>,
    /// HMAC key for CSRF tokens of pages shown before sign-in.
    pub csrf: Zeroizing<[u8; 32]>,
    /// Seals the DPO's free text about incidents and breaches.
    pub incidents: SealingKey,
}

impl AppKeys {
    /// Derives every key from the master key.
    pub fn derive(master: &MasterKey) -> Self {
        Self {
            totp: SealingKey::derive(master, "totp-seed"),
            pending_totp: SealingKey::derive(master, "totp-pending"),
            pending_webauthn: SealingKey::derive(master, "webauthn-pending"),
            pending_oidc: SealingKey::derive(master, "oidc-pending"),
            recovery: seal::derive(master, "recovery-codes"),
            pepper: seal::derive(master, "password-pepper"),
            csrf: seal::derive(master, "csrf"),
            incidents: SealingKey::derive(master, "incident-details"),
        }
    }
}
