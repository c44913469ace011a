//! Recovery codes (AUTH-6): a batch of single-use codes shown once at enrolment, for when the
//! second factor is lost. Only their keyed hashes are stored.
//!
//! # Format
//!
//! Twelve symbols of Crockford's base32 alphabet (`0-9A-Z` without `I L O U`), shown as
//! `XXXX-XXXX-XXXX`: 60 random bits per code. Reading is lenient: case, spaces and dashes do not
//! matter, and `O` reads as `0`, `I` and `L` as `1`, as Crockford specifies.
//!
//! # Why HMAC-SHA-256 and not Argon2
//!
//! A slow hash protects *low-entropy* secrets, which people choose. These codes are drawn by the
//! server with 60 bits each, so guessing one from its hash costs ~2^59 HMAC evaluations per code —
//! out of reach even without a slow hash — and verification must try every stored hash of the
//! account, which a slow hash would make ten times slower. The HMAC key (a server key kept outside
//! the database) adds that a stolen database alone gives nothing to guess against.
//!
//! # Single use
//!
//! [`verify`] returns the index of the matching hash; the caller deletes it or marks it used in
//! the same transaction that accepts the login, and passes only unused hashes next time.

use std::fmt;

use galien_core::Entropy;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, Zeroizing};

type HmacSha256 = Hmac<Sha256>;

/// Codes in a batch, unless the caller asks otherwise.
pub const DEFAULT_COUNT: usize = 10;
/// Symbols in a code.
pub const SYMBOLS: usize = 12;
/// Random bits in a code (5 per symbol).
pub const BITS: u32 = 60;

/// Crockford's base32 alphabet: no `I`, `L`, `O`, `U`, so nothing reads as something else.
const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// A recovery code in canonical form (12 upper-case symbols, no dashes). Shown once, never
/// stored; `Debug` is redacted.
#[derive(Clone, PartialEq, Eq)]
pub struct RecoveryCode(Zeroizing<String>);

impl RecoveryCode {
    /// Draws a code of 60 random bits.
    pub fn generate(entropy: &dyn Entropy) -> Self {
        let mut raw = Zeroizing::new([0u8; 8]);
        entropy.fill(raw.as_mut());
        let mut value = Zeroizing::new(u64::from_be_bytes(*raw));
        let mut symbols = Zeroizing::new(String::with_capacity(SYMBOLS));
        for _ in 0..SYMBOLS {
            // Each symbol takes the next 5 bits; 12 × 5 = 60 of the 64 drawn.
            let index = usize::try_from(*value & 0x1f).unwrap_or_default();
            if let Some(symbol) = ALPHABET.get(index) {
                symbols.push(char::from(*symbol));
            }
            *value >>= 5;
        }
        Self(symbols)
    }

    /// Reads a code typed by a person: case, spaces and dashes are ignored; `O` reads as `0`,
    /// `I` and `L` as `1`. `None` unless exactly 12 symbols of the alphabet remain.
    pub fn parse(s: &str) -> Option<Self> {
        let mut symbols = Zeroizing::new(String::with_capacity(SYMBOLS));
        for c in s.chars() {
            if c.is_whitespace() || c == '-' {
                continue;
            }
            let c = match c.to_ascii_uppercase() {
                'O' => '0',
                'I' | 'L' => '1',
                other => other,
            };
            match u8::try_from(c) {
                Ok(b) if ALPHABET.contains(&b) => {}
                _ => return None,
            }
            if symbols.len() == SYMBOLS {
                return None;
            }
            symbols.push(c);
        }
        (symbols.len() == SYMBOLS).then_some(Self(symbols))
    }

    /// The code as shown to a person: `XXXX-XXXX-XXXX`.
    pub fn display(&self) -> Zeroizing<String> {
        let mut out = Zeroizing::new(String::with_capacity(SYMBOLS + 2));
        for (i, c) in self.0.chars().enumerate() {
            if i > 0 && i % 4 == 0 {
                out.push('-');
            }
            out.push(c);
        }
        out
    }

    /// The canonical form, 12 symbols without dashes.
    pub fn canonical(&self) -> &str {
        &self.0
    }

    /// The keyed hash under which this code is stored.
    pub fn hash(&self, key: &[u8; 32]) -> RecoveryCodeHash {
        let mut mac = hmac_with_key(key);
        mac.update(b"galien recovery code v1\0");
        mac.update(self.0.as_bytes());
        RecoveryCodeHash(mac.finalize().into_bytes().into())
    }
}

impl fmt::Debug for RecoveryCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RecoveryCode(<redacted>)")
    }
}

/// HMAC-SHA-256 keyed with a 32-byte key. RFC 2104 pads a key shorter than the block to the
/// block size with zeros; doing so here gives the fixed-size key `KeyInit::new` takes, so no
/// error path is needed (a unit test checks it equals `new_from_slice`).
fn hmac_with_key(key: &[u8; 32]) -> HmacSha256 {
    let mut block = hmac::digest::Key::<HmacSha256>::default();
    for (dst, src) in block.iter_mut().zip(key) {
        *dst = *src;
    }
    let mac = <HmacSha256 as KeyInit>::new(&block);
    block.as_mut_slice().zeroize();
    mac
}

/// HMAC-SHA-256 of a recovery code: what storage keeps.
#[derive(Clone, Copy)]
pub struct RecoveryCodeHash([u8; 32]);

impl RecoveryCodeHash {
    /// Rebuilds a hash read from storage.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// Rebuilds a hash from a slice read from storage; `None` unless it is 32 bytes.
    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        <[u8; 32]>::try_from(bytes).ok().map(Self)
    }

    /// The bytes to store.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl PartialEq for RecoveryCodeHash {
    fn eq(&self, other: &Self) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl Eq for RecoveryCodeHash {}

impl fmt::Debug for RecoveryCodeHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RecoveryCodeHash(<redacted>)")
    }
}

/// Draws `n` codes ([`DEFAULT_COUNT`] is the usual number). Returns the codes, to show once, and
/// their hashes under `key`, to store, in the same order.
pub fn generate(
    entropy: &dyn Entropy,
    key: &[u8; 32],
    n: usize,
) -> (Vec<RecoveryCode>, Vec<RecoveryCodeHash>) {
    let codes: Vec<RecoveryCode> = (0..n).map(|_| RecoveryCode::generate(entropy)).collect();
    let hashes = codes.iter().map(|c| c.hash(key)).collect();
    (codes, hashes)
}

/// The index in `unused` of the hash `candidate` matches, if any. Every hash is compared, each in
/// constant time. The caller marks that hash used so the code works once.
pub fn verify(
    key: &[u8; 32],
    candidate: &RecoveryCode,
    unused: &[RecoveryCodeHash],
) -> Option<usize> {
    let hash = candidate.hash(key);
    let mut found = None;
    for (i, stored) in unused.iter().enumerate() {
        if stored == &hash && found.is_none() {
            found = Some(i);
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn padded_key_equals_hmac_of_the_short_key() {
        let key = [7u8; 32];
        let mut a = hmac_with_key(&key);
        let mut b = HmacSha256::new_from_slice(&key).unwrap();
        a.update(b"x");
        b.update(b"x");
        assert_eq!(a.finalize().into_bytes(), b.finalize().into_bytes());
    }
}
