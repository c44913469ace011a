//! Randomness as an injected capability. Production uses the operating system's CSPRNG.

use rand_core::{RngCore, SeedableRng};
use std::sync::{Mutex, PoisonError};

/// A source of cryptographically strong random bytes.
pub trait Entropy: Send + Sync + std::fmt::Debug + 'static {
    /// Fills `buf` with random bytes.
    fn fill(&self, buf: &mut [u8]);

    /// `N` random bytes.
    fn bytes<const N: usize>(&self) -> [u8; N]
    where
        Self: Sized,
    {
        let mut out = [0u8; N];
        self.fill(&mut out);
        out
    }
}

/// The operating system's CSPRNG (`getrandom`).
#[derive(Debug, Clone, Copy, Default)]
pub struct OsEntropy;

impl Entropy for OsEntropy {
    fn fill(&self, buf: &mut [u8]) {
        // The OS generator failing leaves the process unable to do anything safely: we abort
        // rather than hand out predictable bytes.
        if getrandom::fill(buf).is_err() {
            std::process::abort();
        }
    }
}

/// A reproducible generator (ChaCha20 from a seed), for tests only.
#[derive(Debug)]
pub struct SeededEntropy(Mutex<rand_chacha::ChaCha20Rng>);

impl SeededEntropy {
    /// A generator whose output depends only on `seed`.
    pub fn new(seed: u64) -> Self {
        Self(Mutex::new(rand_chacha::ChaCha20Rng::seed_from_u64(seed)))
    }
}

impl Entropy for SeededEntropy {
    fn fill(&self, buf: &mut [u8]) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .fill_bytes(buf);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn os_entropy_differs_between_draws() {
        let a: [u8; 32] = OsEntropy.bytes();
        let b: [u8; 32] = OsEntropy.bytes();
        assert_ne!(a, b);
    }

    #[test]
    fn seeded_entropy_is_reproducible() {
        let a: [u8; 16] = SeededEntropy::new(7).bytes();
        let b: [u8; 16] = SeededEntropy::new(7).bytes();
        let c: [u8; 16] = SeededEntropy::new(8).bytes();
        assert_eq!(a, b);
        assert_ne!(a, c);
    }
}
