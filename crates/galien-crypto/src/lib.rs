//! Galien's cryptography. Nothing here is hand-rolled: primitives come from RustCrypto and
//! companions; this crate only chooses parameters, encodes, and keeps secrets out of `Debug`.

pub mod audit;
pub mod backup;
pub mod envelope;
pub mod keyfile;
pub mod password;
pub mod recovery;
pub mod seal;
pub mod token;
pub mod totp;
pub mod turn;
