//! Identity and strong authentication (AUTH-1 … AUTH-9): enrolment, sign-in with two factors,
//! sessions, brute-force protection, administration of accounts.

pub mod account;
pub mod admin;
pub mod certificate;
pub mod enrol;
pub mod login;
pub mod machines;
pub mod oidc;
pub mod session;
pub mod throttle;
pub mod totp;
pub mod watch;
pub mod webauthn;

use galien_crypto::token::SecretToken;

/// A session just opened: the secret goes into the cookie, once.
#[derive(Debug)]
pub struct SessionGrant {
    /// The cookie value.
    pub token: SecretToken,
    /// Where the person goes next.
    pub next: NextStep,
}

/// What a freshly opened session still needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NextStep {
    /// Enter the second factor.
    SecondFactor,
    /// Enrol a second factor (new account, or one that lost its factors).
    EnrolFactor,
    /// Fully signed in.
    Done,
}
