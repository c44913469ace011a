//! Time-limited TURN credentials (ACT-1), in the "TURN REST API" scheme that coturn implements with
//! `use-auth-secret` + `static-auth-secret` (draft-uberti-behave-turn-rest-00):
//!
//! - username = `<unix time of expiry>:<label>`;
//! - password = base64(HMAC-SHA-1(shared secret, username)).
//!
//! The TURN server recomputes the password from the username and the secret it shares with
//! Galien, and refuses (401) a username whose time has passed. Nothing is stored: Galien hands out
//! credentials, coturn checks them. HMAC and SHA-1 come from RustCrypto; SHA-1 is what the scheme
//! (and coturn) prescribe, and HMAC-SHA-1 remains a sound MAC.
//!
//! The label appears in clear in the TURN server's logs: callers pass an opaque value (a random
//! peer id), never a name, an e-mail address or a patient id.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;
use time::OffsetDateTime;
use zeroize::Zeroizing;

/// The secret shared with the TURN server (coturn's `static-auth-secret`). Zeroised on drop;
/// `Debug` is redacted.
#[derive(Clone)]
pub struct TurnSecret(Zeroizing<Vec<u8>>);

impl TurnSecret {
    /// Wraps the secret's bytes (coturn uses the text of `static-auth-secret` as it is).
    pub fn new(bytes: impl Into<Vec<u8>>) -> Self {
        Self(Zeroizing::new(bytes.into()))
    }

    /// The bytes, for [`turn_credentials`].
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for TurnSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TurnSecret(<redacted>)")
    }
}

/// A username and password for a TURN server, as `RTCIceServer` carries them. `Debug` redacts the
/// password.
#[derive(Clone, PartialEq, Eq)]
pub struct TurnCredentials {
    /// `<unix expiry>:<label>`.
    pub username: String,
    /// base64(HMAC-SHA-1(secret, username)).
    pub credential: String,
}

impl fmt::Debug for TurnCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TurnCredentials")
            .field("username", &self.username)
            .field("credential", &"<redacted>")
            .finish()
    }
}

/// Credentials valid until `expires_at` (to the second) for a TURN server sharing `secret`.
pub fn turn_credentials(secret: &[u8], label: &str, expires_at: OffsetDateTime) -> TurnCredentials {
    let username = format!("{}:{label}", expires_at.unix_timestamp());
    // HMAC accepts keys of any length (longer ones are hashed first, RFC 2104), so
    // `new_from_slice` cannot fail; were it ever to, the empty password is refused by the server.
    let credential = <Hmac<Sha1> as KeyInit>::new_from_slice(secret)
        .map(|mut mac| {
            mac.update(username.as_bytes());
            STANDARD.encode(mac.finalize().into_bytes())
        })
        .unwrap_or_default();
    TurnCredentials {
        username,
        credential,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    // Computed independently with Python's standard library:
    //   u = "1795860000:0190d3c4-peer"
    //   base64.b64encode(hmac.new(b"north-wind-shared-secret", u.encode(), hashlib.sha1).digest())
    const SECRET: &[u8] = b"north-wind-shared-secret";
    const USERNAME: &str = "1795860000:0190d3c4-peer";
    const CREDENTIAL: &str = "P8ElTZ7/r1cfF4IN2fj7EFojjNI=";
    // A key longer than SHA-1's 64-byte block (hashed first): b"k" * 100, username "1795860000:x".
    const LONG_KEY_CREDENTIAL: &str = "AzfJWXfgMe8qHvICYY88isZQSgE=";

    #[test]
    fn act1_credentials_match_an_independent_computation() {
        let c = turn_credentials(SECRET, "0190d3c4-peer", datetime!(2026-11-28 10:00 UTC));
        assert_eq!(c.username, USERNAME);
        assert_eq!(c.credential, CREDENTIAL);
    }

    #[test]
    fn long_secrets_are_hashed_as_hmac_requires() {
        let c = turn_credentials(&[b'k'; 100], "x", datetime!(2026-11-28 10:00 UTC));
        assert_eq!(c.username, "1795860000:x");
        assert_eq!(c.credential, LONG_KEY_CREDENTIAL);
    }

    #[test]
    fn expiry_is_in_unix_seconds_whatever_the_offset() {
        let at = datetime!(2026-11-28 11:00 +01:00);
        let c = turn_credentials(SECRET, "0190d3c4-peer", at);
        assert_eq!(c.username, USERNAME);
        assert_eq!(c.credential, CREDENTIAL);
    }

    #[test]
    fn another_secret_or_expiry_gives_another_password() {
        let at = datetime!(2026-11-28 10:00 UTC);
        let base = turn_credentials(SECRET, "p", at);
        assert_ne!(
            turn_credentials(b"other", "p", at).credential,
            base.credential
        );
        assert_ne!(
            turn_credentials(SECRET, "p", at + time::Duration::seconds(1)).credential,
            base.credential
        );
    }

    #[test]
    fn debug_redacts_the_secret_and_the_password() {
        let c = turn_credentials(SECRET, "p", datetime!(2026-11-28 10:00 UTC));
        let shown = format!("{c:?} {:?}", TurnSecret::new(SECRET));
        assert!(!shown.contains(&c.credential), "{shown}");
        assert!(!shown.contains("north-wind"), "{shown}");
        assert!(shown.contains("1795860000:p"), "{shown}");
    }
}
