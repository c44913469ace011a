//! Enrolling an authenticator app (TOTP, RFC 6238). The new seed travels sealed in the form (bound
//! to the session, so it cannot be replayed elsewhere) until the person proves, with a first code,
//! that their app holds it; then it is sealed at rest, recovery codes are issued, the account
//! becomes active, every other session ends and a new two-factor session begins (AUTH-6, AUTH-7).

use super::SessionGrant;
use super::login::totp_aad;
use super::session::Current;
use crate::{App, AppError, RequestContext};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use galien_core::ErrorCode;
use galien_core::identity::AuthMethod;
use galien_crypto::recovery::RecoveryCode;
use galien_crypto::totp::TotpSecret;
use zeroize::Zeroizing;

/// What the enrolment page shows.
#[derive(Debug)]
pub struct TotpSetup {
    /// The seed, sealed to this session, for the hidden form field.
    pub sealed: String,
    /// An SVG QR code of the provisioning URI.
    pub qr_svg: Zeroizing<String>,
    /// The seed in base32, for manual entry.
    pub secret_base32: Zeroizing<String>,
}

/// Issuer shown in authenticator apps.
pub const ISSUER: &str = "Galien";

fn pending_aad(current: &Current) -> String {
    format!("sessions/{}/totp-pending", current.session.handle)
}

/// Whether `current` may (re)enrol a factor now: during enrolment, or with a fresh factor.
pub fn may_enrol(app: &App, current: &Current) -> bool {
    current.session.method == AuthMethod::Enrolment || current.has_fresh_factor(app)
}

/// Draws a new seed for `current`'s account.
pub fn begin(app: &App, current: &Current) -> Result<TotpSetup, AppError> {
    if !may_enrol(app, current) {
        return Err(AppError::Refused(ErrorCode::StepUpRequired));
    }
    let secret = TotpSecret::generate(app.entropy.as_ref());
    let sealed = app.keys.pending_totp.seal(
        secret.expose_bytes(),
        pending_aad(current).as_bytes(),
        app.entropy.as_ref(),
    );
    let account = current.user.email.as_str();
    let qr_svg = secret
        .qr_svg(ISSUER, account)
        .map_err(|_| AppError::Store(galien_store::StoreError::Other("QR code too long".into())))?;
    Ok(TotpSetup {
        sealed: URL_SAFE_NO_PAD.encode(sealed),
        qr_svg,
        secret_base32: secret.to_base32(),
    })
}

/// Rebuilds the setup from a sealed seed (to show the page again after a wrong code).
pub fn reopen(app: &App, current: &Current, sealed: &str) -> Result<TotpSetup, AppError> {
    let secret = open_pending(app, current, sealed)?;
    let qr_svg = secret
        .qr_svg(ISSUER, current.user.email.as_str())
        .map_err(|_| AppError::Store(galien_store::StoreError::Other("QR code too long".into())))?;
    Ok(TotpSetup {
        sealed: sealed.to_owned(),
        qr_svg,
        secret_base32: secret.to_base32(),
    })
}

fn open_pending(app: &App, current: &Current, sealed: &str) -> Result<TotpSecret, AppError> {
    let bad = || AppError::Refused(ErrorCode::CsrfInvalid);
    let raw = URL_SAFE_NO_PAD.decode(sealed).map_err(|_| bad())?;
    let bytes = app
        .keys
        .pending_totp
        .open(&raw, pending_aad(current).as_bytes())
        .map_err(|_| bad())?;
    let bytes: [u8; 20] = bytes.as_slice().try_into().map_err(|_| bad())?;
    Ok(TotpSecret::from_bytes(bytes))
}

/// Confirms the seed with a first code; returns the new session and the recovery codes (shown once).
pub async fn confirm(
    app: &App,
    ctx: &RequestContext,
    current: &Current,
    sealed: &str,
    code: &str,
) -> Result<(SessionGrant, Vec<RecoveryCode>), AppError> {
    if !may_enrol(app, current) {
        return Err(AppError::Refused(ErrorCode::StepUpRequired));
    }
    let secret = open_pending(app, current, sealed)?;
    let now = app.clock.now();
    let step = secret
        .verify(code, now, None)
        .map_err(|_| AppError::Refused(ErrorCode::TotpInvalid))?;
    let user = &current.user;
    let sealed_at_rest = app.keys.totp.seal(
        secret.expose_bytes(),
        totp_aad(user).as_bytes(),
        app.entropy.as_ref(),
    );
    app.store.set_totp(user.id, sealed_at_rest, now).await?;
    app.store.advance_totp_step(user.id, step).await?;
    super::enrol::complete_factor(app, ctx, current, "totp", AuthMethod::PasswordTotp).await
}
