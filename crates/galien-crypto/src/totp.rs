//! Time-based one-time passwords (RFC 6238) for the possession factor (AUTH-2, AUTH-6).
//!
//! HMAC-SHA-1, 6 digits, 30-second steps: what every authenticator app expects by default.
//! The one-time password itself is computed by the `totp-rs` crate; this module adds the
//! policy: ±1 step of clock drift, and a code accepted at most once per step — the caller keeps
//! the last step accepted for the account and passes it back, and a code from that step or an
//! earlier one is refused as [`TotpError::Replayed`] (the caller records and shows it).

use std::fmt;

use galien_core::Entropy;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use qrcode::render::svg;
use qrcode::{EcLevel, QrCode};
use subtle::ConstantTimeEq;
use time::OffsetDateTime;
use totp_rs::{Algorithm, Builder};
use zeroize::Zeroizing;

/// Bytes of secret: 160 bits, the HMAC-SHA-1 output size RFC 4226 recommends.
pub const SECRET_LEN: usize = 20;
/// Digits in a code.
pub const DIGITS: usize = 6;
/// Seconds in a step.
pub const STEP_SECONDS: u64 = 30;
/// Steps of clock drift accepted either side of the current one.
pub const SKEW_STEPS: u64 = 1;

/// RFC 3986 unreserved characters stay as they are; everything else is percent-encoded.
const URI_COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Why a code was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TotpError {
    /// Not six digits.
    #[error("a code is six digits")]
    Malformed,
    /// Six digits, but not the code for this step or its neighbours.
    #[error("wrong code")]
    Invalid,
    /// The right code, but its step was already used: a replay (AUTH-6).
    #[error("this code was already used")]
    Replayed,
}

impl TotpError {
    /// The stable code, for the web layer and the audit trail.
    pub fn code(self) -> &'static str {
        match self {
            TotpError::Malformed => "TOTP-MALFORMED",
            TotpError::Invalid => "TOTP-INVALID",
            TotpError::Replayed => "TOTP-REPLAYED",
        }
    }
}

/// The QR code could not be made: the issuer and account names are too long to fit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the provisioning URI is too long for a QR code")]
pub struct QrTooLong;

/// A shared TOTP secret: 20 random bytes. Zeroised on drop; `Debug` is redacted.
#[derive(Clone)]
pub struct TotpSecret(Zeroizing<[u8; SECRET_LEN]>);

impl TotpSecret {
    /// Draws a new secret.
    pub fn generate(entropy: &dyn Entropy) -> Self {
        let mut bytes = Zeroizing::new([0u8; SECRET_LEN]);
        entropy.fill(bytes.as_mut());
        Self(bytes)
    }

    /// Rebuilds a secret from its bytes (read from storage).
    pub fn from_bytes(bytes: [u8; SECRET_LEN]) -> Self {
        Self(Zeroizing::new(bytes))
    }

    /// Rebuilds a secret from its base32 form (RFC 4648, case-insensitive, padding and spaces
    /// ignored); `None` unless it decodes to exactly 20 bytes.
    pub fn from_base32(s: &str) -> Option<Self> {
        let cleaned: Zeroizing<String> = Zeroizing::new(
            s.chars()
                .filter(|c| !c.is_whitespace() && *c != '=')
                .map(|c| c.to_ascii_uppercase())
                .collect(),
        );
        let decoded = Zeroizing::new(
            data_encoding::BASE32_NOPAD
                .decode(cleaned.as_bytes())
                .ok()?,
        );
        let bytes: [u8; SECRET_LEN] = decoded.as_slice().try_into().ok()?;
        Some(Self::from_bytes(bytes))
    }

    /// The secret's bytes, to store (encrypted at rest by the storage layer).
    pub fn expose_bytes(&self) -> &[u8; SECRET_LEN] {
        &self.0
    }

    /// The base32 form people type into an app when they cannot scan the QR code.
    pub fn to_base32(&self) -> Zeroizing<String> {
        Zeroizing::new(data_encoding::BASE32_NOPAD.encode(self.0.as_slice()))
    }

    /// The `otpauth://totp/…` URI authenticator apps read (Google Authenticator key URI
    /// format), issuer and account percent-encoded. It contains the secret.
    pub fn provisioning_uri(&self, issuer: &str, account: &str) -> Zeroizing<String> {
        let issuer = utf8_percent_encode(issuer, URI_COMPONENT);
        let account = utf8_percent_encode(account, URI_COMPONENT);
        let secret = self.to_base32();
        Zeroizing::new(format!(
            "otpauth://totp/{issuer}:{account}?secret={}&issuer={issuer}&algorithm=SHA1\
             &digits={DIGITS}&period={STEP_SECONDS}",
            secret.as_str()
        ))
    }

    /// An SVG image of a QR code of [`provisioning_uri`](Self::provisioning_uri), to show once
    /// during enrolment. It contains the secret.
    pub fn qr_svg(&self, issuer: &str, account: &str) -> Result<Zeroizing<String>, QrTooLong> {
        let uri = self.provisioning_uri(issuer, account);
        let code = QrCode::with_error_correction_level(uri.as_bytes(), EcLevel::M)
            .map_err(|_| QrTooLong)?;
        Ok(Zeroizing::new(
            code.render::<svg::Color<'_>>()
                .min_dimensions(200, 200)
                .quiet_zone(true)
                .build(),
        ))
    }

    /// The code for `step` (a count of 30-second steps since the Unix epoch).
    fn code_at_step(&self, step: u64) -> Zeroizing<String> {
        let totp = Builder::new()
            .with_algorithm(Algorithm::SHA1)
            .with_digits(6)
            .with_skew(0)
            .with_step_duration(STEP_SECONDS)
            .with_secret(*self.0)
            // Our parameters are RFC-compliant (20-byte secret, 6 digits, 30 s); the
            // non-compliant builder only spares an error path that cannot be taken.
            .build_noncompliant();
        Zeroizing::new(totp.generate(step.saturating_mul(STEP_SECONDS)).to_string())
    }

    /// The code an app shows at `now`. For tests and tooling; verification uses
    /// [`verify`](Self::verify).
    pub fn code_at(&self, now: OffsetDateTime) -> Option<Zeroizing<String>> {
        step_of(now).map(|step| self.code_at_step(step))
    }

    /// Checks a code typed at `now`. Accepts the codes of the current step and of one step on
    /// either side (clock drift). `last_used_step` is the step of the last code accepted for this
    /// account: a code whose step is not after it is refused as [`TotpError::Replayed`], so each
    /// code works once. On success, returns the step that matched: store it as the new
    /// `last_used_step`. Spaces in the code are ignored; each comparison is constant-time.
    pub fn verify(
        &self,
        code: &str,
        now: OffsetDateTime,
        last_used_step: Option<u64>,
    ) -> Result<u64, TotpError> {
        let code: Zeroizing<String> =
            Zeroizing::new(code.chars().filter(|c| !c.is_whitespace()).collect());
        if code.len() != DIGITS || !code.bytes().all(|b| b.is_ascii_digit()) {
            return Err(TotpError::Malformed);
        }
        let current = step_of(now).ok_or(TotpError::Invalid)?;
        let first = current.saturating_sub(SKEW_STEPS);
        let last = current.saturating_add(SKEW_STEPS);

        // Compare against every step of the window, without stopping at a match.
        let mut matched: Vec<u64> = Vec::with_capacity(3);
        for step in first..=last {
            let expected = self.code_at_step(step);
            if bool::from(expected.as_bytes().ct_eq(code.as_bytes())) {
                matched.push(step);
            }
        }
        if matched.is_empty() {
            return Err(TotpError::Invalid);
        }
        matched
            .into_iter()
            .find(|step| last_used_step.is_none_or(|used| *step > used))
            .ok_or(TotpError::Replayed)
    }
}

/// The RFC 6238 step of `now`; `None` before the Unix epoch.
pub fn step_of(now: OffsetDateTime) -> Option<u64> {
    u64::try_from(now.unix_timestamp())
        .ok()
        .map(|secs| secs / STEP_SECONDS)
}

impl fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TotpSecret(<redacted>)")
    }
}
