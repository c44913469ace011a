//! Single-use bearer tokens (enrolment links, invitations): 256 random bits shown once to a person,
//! and only their SHA-256 digest stored, so a database leak does not leak usable links.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use galien_core::Entropy;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

/// The secret part a person receives (in a link). Never logged; `Debug` is redacted.
pub struct SecretToken(Zeroizing<String>);

impl SecretToken {
    /// Draws a fresh token of 256 bits.
    pub fn generate(entropy: &dyn Entropy) -> Self {
        let mut raw = Zeroizing::new([0u8; 32]);
        entropy.fill(raw.as_mut());
        Self(Zeroizing::new(URL_SAFE_NO_PAD.encode(raw.as_ref())))
    }

    /// Parses a token received from a person: exactly 43 URL-safe base64 characters.
    pub fn parse(s: &str) -> Option<Self> {
        let ok = s.len() == 43
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            && URL_SAFE_NO_PAD.decode(s).is_ok_and(|v| v.len() == 32);
        ok.then(|| Self(Zeroizing::new(s.to_owned())))
    }

    /// The text to put in a link. Handle with care: whoever holds it can use it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The digest under which the token is stored.
    pub fn digest(&self) -> TokenDigest {
        TokenDigest(Sha256::digest(self.0.as_bytes()).into())
    }
}

impl std::fmt::Debug for SecretToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretToken(<redacted>)")
    }
}

/// SHA-256 of a token: what the database keeps and looks tokens up by.
#[derive(Clone, Copy, Eq)]
pub struct TokenDigest([u8; 32]);

impl TokenDigest {
    /// Rebuilds a digest read from storage.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// Rebuilds a digest from a slice read from storage; `None` unless it is 32 bytes.
    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        <[u8; 32]>::try_from(bytes).ok().map(Self)
    }

    /// The raw 32 bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl PartialEq for TokenDigest {
    fn eq(&self, other: &Self) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl std::fmt::Debug for TokenDigest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // A prefix is enough to tell digests apart in a test failure, not to guess the token.
        write!(
            f,
            "TokenDigest({}…)",
            hex::encode(self.0.get(..4).unwrap_or_default())
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use galien_core::OsEntropy;

    #[test]
    fn generated_tokens_parse_back_to_the_same_digest() {
        let t = SecretToken::generate(&OsEntropy);
        assert_eq!(t.expose().len(), 43);
        let back = SecretToken::parse(t.expose()).unwrap();
        assert_eq!(back.digest(), t.digest());
        assert_ne!(SecretToken::generate(&OsEntropy).digest(), t.digest());
    }

    #[test]
    fn malformed_tokens_are_refused() {
        for bad in [
            "",
            "abc",
            &"a".repeat(44),
            &"é".repeat(43),
            "../../../../etc/passwd/aaaaaaaaaaaaaaaaaaaaaaaaaaa",
        ] {
            assert!(SecretToken::parse(bad).is_none(), "{bad:?} accepted");
        }
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let t = SecretToken::generate(&OsEntropy);
        assert!(!format!("{t:?}").contains(t.expose()));
    }
}
