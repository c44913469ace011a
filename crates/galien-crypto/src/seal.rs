//! Authenticated encryption of small secrets at rest (TOTP seeds now; the per-patient data keys of
//! the access-gate issue use the same construction). XChaCha20-Poly1305 with a random 192-bit nonce;
//! the associated data binds each ciphertext to where it belongs (table, row, column), so a
//! ciphertext copied elsewhere does not open (DATA-1). Keys are derived from the master key with
//! HKDF-SHA-256, one per purpose, so no key is ever used for two jobs.

use crate::keyfile::MasterKey;
use chacha20poly1305::aead::{Aead, Payload};
use chacha20poly1305::{Key, KeyInit, XChaCha20Poly1305, XNonce};
use galien_core::Entropy;
use hkdf::Hkdf;
use sha2::Sha256;
use zeroize::Zeroizing;

const VERSION: u8 = 1;
const NONCE_LEN: usize = 24;

/// A 256-bit key derived for one purpose.
pub struct SealingKey(XChaCha20Poly1305);

impl std::fmt::Debug for SealingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SealingKey(<redacted>)")
    }
}

/// A sealed value did not open: wrong key, wrong place (associated data), or tampered bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("sealed value cannot be opened (wrong key, wrong place, or altered)")]
pub struct OpenError;

/// Derives 32 bytes from the master key for `purpose` (HKDF-SHA-256, info = "galien/" + purpose).
pub fn derive(master: &MasterKey, purpose: &str) -> Zeroizing<[u8; 32]> {
    let hk = Hkdf::<Sha256>::new(Some(b"galien-master-v1"), master.expose());
    let mut out = Zeroizing::new([0u8; 32]);
    // 32 bytes is far below HKDF-SHA-256's limit (255 × 32), so expand cannot fail.
    let _ = hk.expand(format!("galien/{purpose}").as_bytes(), out.as_mut());
    out
}

impl SealingKey {
    /// The key for `purpose`, derived from the master key.
    pub fn derive(master: &MasterKey, purpose: &str) -> Self {
        let bytes = derive(master, purpose);
        Self(XChaCha20Poly1305::new(&Key::from(*bytes)))
    }

    /// The key made of these 32 bytes (a data key, a key-encryption key).
    pub fn from_bytes(key: &[u8; 32]) -> Self {
        Self(XChaCha20Poly1305::new(&Key::from(*key)))
    }

    /// Encrypts `plaintext` bound to `aad`: `version || nonce || ciphertext+tag`.
    pub fn seal(&self, plaintext: &[u8], aad: &[u8], entropy: &dyn Entropy) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        entropy.fill(&mut nonce);
        let sealed = self
            .0
            .encrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: plaintext,
                    aad,
                },
            )
            // Encryption fails only for plaintexts beyond 256 GiB; ours are a few bytes.
            .unwrap_or_default();
        let mut out = Vec::with_capacity(1 + NONCE_LEN + sealed.len());
        out.push(VERSION);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        out
    }

    /// Decrypts a value sealed with the same key and `aad`.
    pub fn open(&self, sealed: &[u8], aad: &[u8]) -> Result<Zeroizing<Vec<u8>>, OpenError> {
        let (version, rest) = sealed.split_first().ok_or(OpenError)?;
        if *version != VERSION || rest.len() < NONCE_LEN + 16 {
            return Err(OpenError);
        }
        let (nonce, body) = rest.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| OpenError)?;
        self.0
            .decrypt(&XNonce::from(nonce), Payload { msg: body, aad })
            .map(Zeroizing::new)
            .map_err(|_| OpenError)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use galien_core::OsEntropy;

    fn master() -> MasterKey {
        let dir = tempfile::tempdir().unwrap();
        crate::keyfile::load_or_create(&dir.path().join("k"), &OsEntropy)
            .unwrap()
            .0
    }

    #[test]
    fn data_1_sealed_value_opens_only_in_its_place() {
        let m = master();
        let k = SealingKey::derive(&m, "totp");
        let sealed = k.seal(b"seed", b"users/1/totp", &OsEntropy);
        assert_eq!(
            k.open(&sealed, b"users/1/totp").unwrap().as_slice(),
            b"seed"
        );
        assert_eq!(
            k.open(&sealed, b"users/2/totp"),
            Err(OpenError),
            "moved ciphertext must not open"
        );
        let other = SealingKey::derive(&m, "other-purpose");
        assert_eq!(other.open(&sealed, b"users/1/totp"), Err(OpenError));
        let mut tampered = sealed.clone();
        if let Some(b) = tampered.last_mut() {
            *b ^= 1;
        }
        assert_eq!(k.open(&tampered, b"users/1/totp"), Err(OpenError));
        assert_ne!(
            k.seal(b"seed", b"a", &OsEntropy),
            k.seal(b"seed", b"a", &OsEntropy),
            "fresh nonce each time"
        );
    }
}
