//! Galien's domain core: the types every other crate shares, with no I/O.
//!
//! Time and randomness are *capabilities* ([`Clock`], [`Entropy`]) handed to the code that needs
//! them, so tests can move time and replay randomness (CONVENTIONS 11).

pub mod audit;
pub mod clock;
pub mod consultation;
pub mod entropy;
pub mod error;
pub mod identity;
pub mod ids;
pub mod lang;
pub mod measure;
pub mod nir;
pub mod patient;
pub mod signal;
pub mod zone;

pub use clock::{Clock, ManualClock, SystemClock};
pub use entropy::{Entropy, OsEntropy, SeededEntropy};
pub use error::ErrorCode;
pub use lang::Lang;
pub use zone::Zone;
