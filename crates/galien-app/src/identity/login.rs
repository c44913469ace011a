//! Signing in: a password, then a second factor (AUTH-2). Unknown and known accounts fail alike and
//! in the same time (Argon2 runs either way, counters are kept for both); every failure, replay and
//! lock is traced.

use super::session::{self, Current};
use super::{NextStep, SessionGrant, throttle};
use crate::trace::{self, Who};
use crate::{App, AppError, RequestContext};
use galien_core::ErrorCode;
use galien_core::audit::{AuditAction, Outcome};
use galien_core::identity::{AccountStatus, Assurance, AuthMethod, Email};
use galien_crypto::password::PasswordHash;
use galien_crypto::recovery::RecoveryCode;
use galien_crypto::totp::{TotpError, TotpSecret};
use galien_store::{StoreError, User};

/// Step one: e-mail and password. Opens a one-factor session that leads to the second factor (or to
/// enrolling one, for an account that has none yet).
pub async fn password(
    app: &App,
    ctx: &RequestContext,
    email: &str,
    password: &str,
) -> Result<SessionGrant, AppError> {
    let user = match Email::parse(email) {
        Some(e) => match app.store.user_by_email(&e).await {
            Ok(u) => Some(u),
            Err(StoreError::NotFound) => None,
            Err(e) => return Err(e.into()),
        },
        None => None,
    };
    let keys = throttle::Keys::new(user.as_ref().map(|u| u.id), email, ctx);
    let who = user.as_ref().map_or(Who::ANONYMOUS, |u| Who {
        user: Some(u.id),
        role: Some(u.role),
        assurance: None,
    });
    let before = match throttle::gate(app, &keys).await {
        Ok(counts) => counts,
        Err(e) => {
            trace::security(
                app,
                ctx,
                who,
                AuditAction::AuthLoginFailed,
                Outcome::Denied,
                Some("AUTH-LOCKED"),
                None,
            )
            .await?;
            return Err(e);
        }
    };
    let stored = user
        .as_ref()
        .and_then(|u| u.password_hash.as_deref())
        .and_then(|h| PasswordHash::from_phc(h).ok());
    // Argon2 runs even for an unknown account (against a dummy hash): same time either way (AUTH-4).
    let ok = app.hasher.verify(password, stored.as_ref()) && user.is_some();
    let Some(user) = user.filter(|_| ok) else {
        fail(app, ctx, &keys, before, who, "AUTH-BAD-CREDENTIALS").await?;
        return Err(AppError::Refused(ErrorCode::BadCredentials));
    };
    if matches!(
        user.status,
        AccountStatus::Suspended | AccountStatus::Deactivated
    ) {
        trace::security(
            app,
            ctx,
            who,
            AuditAction::AuthLoginFailed,
            Outcome::Denied,
            Some("AUTH-ACCOUNT-DISABLED"),
            None,
        )
        .await?;
        return Err(AppError::Refused(ErrorCode::AccountDisabled));
    }
    if user.totp.is_some() {
        session::open(
            app,
            ctx,
            &user,
            AuthMethod::PasswordTotp,
            Assurance::OneFactor,
            NextStep::SecondFactor,
        )
        .await
    } else if !app.store.webauthn_credentials(user.id).await?.is_empty() {
        // Security keys only: the second-factor page offers the key (AUTH-2).
        session::open(
            app,
            ctx,
            &user,
            AuthMethod::PasswordWebauthn,
            Assurance::OneFactor,
            NextStep::SecondFactor,
        )
        .await
    } else {
        session::open(
            app,
            ctx,
            &user,
            AuthMethod::Enrolment,
            Assurance::OneFactor,
            NextStep::EnrolFactor,
        )
        .await
    }
}

pub(super) async fn fail(
    app: &App,
    ctx: &RequestContext,
    keys: &throttle::Keys,
    before: (u32, u32),
    who: Who,
    reason: &str,
) -> Result<(), AppError> {
    let locked = throttle::fail(app, keys, before).await?;
    trace::security(
        app,
        ctx,
        who,
        AuditAction::AuthLoginFailed,
        Outcome::Failure,
        Some(reason),
        None,
    )
    .await?;
    if locked {
        trace::security(
            app,
            ctx,
            who,
            AuditAction::AuthLocked,
            Outcome::Success,
            Some(reason),
            who.user,
        )
        .await?;
    }
    Ok(())
}

/// Opens the user's TOTP seed (sealed at rest, bound to the account).
pub fn totp_secret(app: &App, user: &User) -> Result<Option<TotpSecret>, AppError> {
    let Some(cred) = &user.totp else {
        return Ok(None);
    };
    let bytes = app
        .keys
        .totp
        .open(&cred.sealed_secret, totp_aad(user).as_bytes())
        .map_err(|_| {
            AppError::Store(StoreError::Other(
                "TOTP seed does not open with this master key".into(),
            ))
        })?;
    let bytes: [u8; 20] = bytes
        .as_slice()
        .try_into()
        .map_err(|_| AppError::Store(StoreError::Other("TOTP seed has a wrong size".into())))?;
    Ok(Some(TotpSecret::from_bytes(bytes)))
}

/// The associated data of a user's sealed TOTP seed.
pub fn totp_aad(user: &User) -> String {
    format!("users/{}/totp", user.id)
}

/// Checks a TOTP code for `current`'s account and consumes its time step (AUTH-6). Replays are
/// refused, traced and reported to the person.
pub async fn check_totp(
    app: &App,
    ctx: &RequestContext,
    current: &Current,
    code: &str,
) -> Result<(), AppError> {
    let keys = throttle::Keys::new(Some(current.user.id), "", ctx);
    let before = throttle::gate(app, &keys).await?;
    let who = current.who();
    let Some(secret) = totp_secret(app, &current.user)? else {
        return Err(AppError::Refused(ErrorCode::TotpInvalid));
    };
    let last = current.user.totp.as_ref().and_then(|t| t.last_step);
    let step = match secret.verify(code, app.clock.now(), last) {
        Ok(step) => step,
        Err(TotpError::Replayed) => return replayed(app, ctx, &keys, before, who).await,
        Err(TotpError::Invalid | TotpError::Malformed) => {
            fail(app, ctx, &keys, before, who, "AUTH-TOTP-INVALID").await?;
            return Err(AppError::Refused(ErrorCode::TotpInvalid));
        }
    };
    // Atomic: of two requests racing with one code (two nodes even), only one advances the step.
    if !app.store.advance_totp_step(current.user.id, step).await? {
        return replayed(app, ctx, &keys, before, who).await;
    }
    throttle::succeed(app, &keys).await
}

async fn replayed(
    app: &App,
    ctx: &RequestContext,
    keys: &throttle::Keys,
    before: (u32, u32),
    who: Who,
) -> Result<(), AppError> {
    throttle::fail(app, keys, before).await?;
    trace::security(
        app,
        ctx,
        who,
        AuditAction::AuthTotpReplayed,
        Outcome::Denied,
        Some("AUTH-TOTP-REPLAYED"),
        None,
    )
    .await?;
    Err(AppError::Refused(ErrorCode::TotpReplayed))
}

/// Step two with a TOTP code: a new, two-factor session replaces the one-factor one.
pub async fn second_factor_totp(
    app: &App,
    ctx: &RequestContext,
    current: &Current,
    code: &str,
) -> Result<SessionGrant, AppError> {
    check_totp(app, ctx, current, code).await?;
    let grant = session::renew(
        app,
        ctx,
        current,
        AuthMethod::PasswordTotp,
        Assurance::TwoFactors,
    )
    .await?;
    let who = Who {
        assurance: Some(Assurance::TwoFactors),
        ..current.who()
    };
    trace::security(
        app,
        ctx,
        who,
        AuditAction::AuthLoginSucceeded,
        Outcome::Success,
        Some("password_totp"),
        None,
    )
    .await?;
    Ok(grant)
}

/// Step two with a single-use recovery code (AUTH-6).
pub async fn second_factor_recovery(
    app: &App,
    ctx: &RequestContext,
    current: &Current,
    code: &str,
) -> Result<SessionGrant, AppError> {
    let keys = throttle::Keys::new(Some(current.user.id), "", ctx);
    let before = throttle::gate(app, &keys).await?;
    let used = match RecoveryCode::parse(code) {
        Some(code) => {
            let hash = code.hash(&app.keys.recovery);
            app.store
                .use_recovery_code(current.user.id, *hash.as_bytes(), app.clock.now())
                .await?
        }
        None => false,
    };
    if !used {
        fail(
            app,
            ctx,
            &keys,
            before,
            current.who(),
            "AUTH-RECOVERY-INVALID",
        )
        .await?;
        return Err(AppError::Refused(ErrorCode::RecoveryCodeInvalid));
    }
    throttle::succeed(app, &keys).await?;
    let grant = session::renew(
        app,
        ctx,
        current,
        AuthMethod::PasswordRecoveryCode,
        Assurance::TwoFactors,
    )
    .await?;
    let who = Who {
        assurance: Some(Assurance::TwoFactors),
        ..current.who()
    };
    trace::security(
        app,
        ctx,
        who,
        AuditAction::AuthRecoveryCodeUsed,
        Outcome::Success,
        None,
        None,
    )
    .await?;
    trace::security(
        app,
        ctx,
        who,
        AuditAction::AuthLoginSucceeded,
        Outcome::Success,
        Some("password_recovery_code"),
        None,
    )
    .await?;
    Ok(grant)
}

/// Step-up: a fresh second factor for a sensitive action (AUTH-7).
pub async fn step_up(
    app: &App,
    ctx: &RequestContext,
    current: &Current,
    code: &str,
) -> Result<(), AppError> {
    check_totp(app, ctx, current, code).await?;
    app.store
        .set_step_up(&current.session.digest, app.clock.now())
        .await?;
    trace::security(
        app,
        ctx,
        current.who(),
        AuditAction::AuthStepUp,
        Outcome::Success,
        None,
        None,
    )
    .await
}
