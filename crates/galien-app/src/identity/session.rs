//! Server-side sessions (AUTH-7): a 256-bit secret in an HttpOnly cookie, only its digest stored;
//! idle and absolute limits; a fresh id at every change of assurance; a CSRF secret per session;
//! the list of one's sessions, and ending them.

use super::{NextStep, SessionGrant};
use crate::patients::access::Ties;
use crate::trace::{self, Who};
use crate::{App, AppError, RequestContext};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use galien_core::ErrorCode;
use galien_core::audit::{AuditAction, Outcome};
use galien_core::identity::{AccountStatus, Actor, Assurance, AuthMethod};
use galien_core::ids::PatientId;
use galien_crypto::token::{SecretToken, TokenDigest};
use galien_store::{NewSession, Session, StoreError, User};
use subtle::ConstantTimeEq;

/// A valid session and its account, as resolved for one request.
#[derive(Debug, Clone)]
pub struct Current {
    /// The stored session.
    pub session: Session,
    /// Its account.
    pub user: User,
}

impl Current {
    /// The actor for use cases and the access gate.
    pub fn actor(&self) -> Actor {
        Actor {
            user: self.user.id,
            role: self.user.role,
            method: self.session.method,
            assurance: self.session.assurance,
        }
    }

    /// The actor as named in traces.
    pub fn who(&self) -> Who {
        Who {
            user: Some(self.user.id),
            role: Some(self.user.role),
            assurance: Some(self.session.assurance),
        }
    }

    /// Two factors: may reach health data and act (AUTH-2).
    pub fn is_strong(&self) -> bool {
        self.session.assurance >= Assurance::TwoFactors
    }

    /// What this session still needs before the application opens.
    pub fn pending(&self) -> NextStep {
        if self.is_strong() {
            NextStep::Done
        } else if self.session.method == AuthMethod::Enrolment {
            NextStep::EnrolFactor
        } else {
            NextStep::SecondFactor
        }
    }

    /// The token every form of this session carries.
    pub fn csrf_token(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.session.csrf_secret)
    }

    /// Whether a submitted form token belongs to this session (constant time).
    pub fn csrf_ok(&self, submitted: &str) -> bool {
        URL_SAFE_NO_PAD
            .decode(submitted)
            .is_ok_and(|v| v.len() == 32 && bool::from(v.ct_eq(&self.session.csrf_secret)))
    }

    /// Whether a second factor was entered within the step-up window (sensitive actions).
    pub fn has_fresh_factor(&self, app: &App) -> bool {
        let now = app.clock.now();
        let fresh = |t: time::OffsetDateTime| now - t <= app.settings.auth.step_up_window;
        self.session.step_up_at.is_some_and(fresh)
            || (self.is_strong() && fresh(self.session.created_at))
    }
}

/// Opens a session for `user` and returns the cookie secret.
pub async fn open(
    app: &App,
    ctx: &RequestContext,
    user: &User,
    method: AuthMethod,
    assurance: Assurance,
    next: NextStep,
) -> Result<SessionGrant, AppError> {
    let now = app.clock.now();
    let token = SecretToken::generate(app.entropy.as_ref());
    let mut csrf_secret = [0u8; 32];
    app.entropy.fill(&mut csrf_secret);
    app.store
        .create_session(NewSession {
            digest: token.digest(),
            user: user.id,
            method,
            assurance,
            created_at: now,
            absolute_expires_at: now + app.settings.auth.absolute_timeout,
            ip: ctx.ip_text(),
            user_agent: ctx.user_agent.clone(),
            csrf_secret,
        })
        .await?;
    Ok(SessionGrant { token, next })
}

/// Resolves a cookie into a live session, ending it (and tracing why) if its time is up.
pub async fn resolve(app: &App, ctx: &RequestContext, raw: &str) -> Result<Current, AppError> {
    let digest = cookie_digest(raw)?;
    let now = app.clock.now();
    let (session, user) = stored(app.store.session_and_user(&digest).await)?;
    admit(app, ctx, &digest, session, user, now).await
}

/// [`resolve`], and the account's relationships with `patient` read with the session in one
/// round trip: what a page about one patient needs before the gate ([`Ties`]).
pub async fn resolve_about(
    app: &App,
    ctx: &RequestContext,
    raw: &str,
    patient: PatientId,
) -> Result<(Current, Ties), AppError> {
    let digest = cookie_digest(raw)?;
    let now = app.clock.now();
    let (session, user, relationships) = stored(
        app.store
            .session_user_and_relationships(&digest, patient, now)
            .await,
    )?;
    let current = admit(app, ctx, &digest, session, user, now).await?;
    let ties = Ties::read(current.user.id, patient, relationships, now);
    Ok((current, ties))
}

/// The digest of a cookie's secret; a secret that does not parse is an expired session.
fn cookie_digest(raw: &str) -> Result<TokenDigest, AppError> {
    digest_of(raw).ok_or(AppError::Refused(ErrorCode::SessionExpired))
}

/// A session as read from the store; none with this digest is an expired session.
fn stored<T>(read: Result<T, StoreError>) -> Result<T, AppError> {
    read.map_err(|e| match e {
        StoreError::NotFound => AppError::Refused(ErrorCode::SessionExpired),
        e => e.into(),
    })
}

/// The session read for `digest` if it may be used at `now`; otherwise it is ended (and why traced).
async fn admit(
    app: &App,
    ctx: &RequestContext,
    digest: &TokenDigest,
    session: Session,
    user: User,
    now: time::OffsetDateTime,
) -> Result<Current, AppError> {
    let expired = AppError::Refused(ErrorCode::SessionExpired);
    if session.ended_at.is_some() {
        return Err(expired);
    }
    let reason = if now >= session.absolute_expires_at {
        Some("absolute")
    } else if now - session.last_seen_at >= app.settings.auth.idle_timeout {
        Some("idle")
    } else {
        None
    };
    if let Some(reason) = reason {
        if app.store.end_session(digest, reason, now).await? {
            let who = Who {
                user: Some(session.user),
                role: None,
                assurance: Some(session.assurance),
            };
            trace::security(
                app,
                ctx,
                who,
                AuditAction::AuthSessionExpired,
                Outcome::Success,
                Some(reason),
                None,
            )
            .await?;
        }
        return Err(expired);
    }
    if matches!(
        user.status,
        AccountStatus::Suspended | AccountStatus::Deactivated
    ) {
        app.store
            .end_session(digest, "account_disabled", now)
            .await?;
        return Err(AppError::Refused(ErrorCode::AccountDisabled));
    }
    // Touch at most once a minute: the idle limit needs no finer grain, and it spares a write per request.
    if now - session.last_seen_at >= time::Duration::minutes(1) {
        app.store.touch_session(digest, now).await?;
    }
    Ok(Current { session, user })
}

/// Whether `session` (of `user`) may still be used at `now`, as read without touching it: not
/// ended, within its absolute and idle limits, its account neither suspended nor deactivated. What
/// an open socket asks of its session from time to time.
pub fn still_valid(app: &App, session: &Session, user: &User, now: time::OffsetDateTime) -> bool {
    session.ended_at.is_none()
        && now < session.absolute_expires_at
        && now - session.last_seen_at < app.settings.auth.idle_timeout
        && !matches!(
            user.status,
            AccountStatus::Suspended | AccountStatus::Deactivated
        )
}

/// Replaces the current session by a new one with more assurance (fresh id: no fixation).
pub async fn renew(
    app: &App,
    ctx: &RequestContext,
    current: &Current,
    method: AuthMethod,
    assurance: Assurance,
) -> Result<SessionGrant, AppError> {
    app.store
        .end_session(&current.session.digest, "renewed", app.clock.now())
        .await?;
    open(app, ctx, &current.user, method, assurance, NextStep::Done).await
}

/// Ends the current session (sign-out).
pub async fn logout(app: &App, ctx: &RequestContext, current: &Current) -> Result<(), AppError> {
    app.store
        .end_session(&current.session.digest, "logout", app.clock.now())
        .await?;
    trace::security(
        app,
        ctx,
        current.who(),
        AuditAction::AuthLogout,
        Outcome::Success,
        None,
        None,
    )
    .await
}

/// The person's sessions, newest first.
pub async fn list(app: &App, current: &Current) -> Result<Vec<Session>, AppError> {
    Ok(app.store.sessions_of(current.user.id, true).await?)
}

/// Ends one of the person's other sessions, by its public handle.
pub async fn end_one(
    app: &App,
    ctx: &RequestContext,
    current: &Current,
    handle: &str,
) -> Result<bool, AppError> {
    let ended = app
        .store
        .end_session_by_handle(current.user.id, handle, "ended_by_user", app.clock.now())
        .await?;
    if ended {
        trace::security(
            app,
            ctx,
            current.who(),
            AuditAction::AuthSessionEnded,
            Outcome::Success,
            Some("ended_by_user"),
            None,
        )
        .await?;
    }
    Ok(ended)
}

/// Ends every session of the person but the current one.
pub async fn end_others(
    app: &App,
    ctx: &RequestContext,
    current: &Current,
) -> Result<u64, AppError> {
    let n = app
        .store
        .end_user_sessions(
            current.user.id,
            Some(&current.session.digest),
            "ended_by_user",
            app.clock.now(),
        )
        .await?;
    if n > 0 {
        trace::security(
            app,
            ctx,
            current.who(),
            AuditAction::AuthSessionEnded,
            Outcome::Success,
            Some("ended_others"),
            None,
        )
        .await?;
    }
    Ok(n)
}

/// The digest of a raw cookie value, if well-formed.
pub fn digest_of(raw: &str) -> Option<TokenDigest> {
    SecretToken::parse(raw).map(|t| t.digest())
}
