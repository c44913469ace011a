//! What a person changes on their own account: the password (with a fresh second factor; every
//! other session ends — AUTH-7), new recovery codes (fresh factor), and the recent security events
//! of their account, so that they see failures, replays and locks aimed at them (AUTH-5, AUTH-6).

use super::session::Current;
use crate::trace;
use crate::{App, AppError, RequestContext};
use galien_core::ErrorCode;
use galien_core::audit::{AuditAction, Outcome};
use galien_crypto::password::{Password, PasswordContext, PasswordHash};
use galien_crypto::recovery::{self, RecoveryCode};
use galien_store::{AuditFilter, StoredAuditEvent};

/// Changes the password: the current one must be right, the new one must meet the policy, a
/// second factor must have been entered within the step-up window. Other sessions end.
pub async fn change_password(
    app: &App,
    ctx: &RequestContext,
    current: &Current,
    old: &str,
    new: &str,
) -> Result<(), AppError> {
    if !current.has_fresh_factor(app) {
        return Err(AppError::Refused(ErrorCode::StepUpRequired));
    }
    let stored = current
        .user
        .password_hash
        .as_deref()
        .and_then(|h| PasswordHash::from_phc(h).ok());
    if !app.hasher.verify(old, stored.as_ref()) {
        trace::security(
            app,
            ctx,
            current.who(),
            AuditAction::AuthLoginFailed,
            Outcome::Failure,
            Some("AUTH-BAD-CREDENTIALS"),
            None,
        )
        .await?;
        return Err(AppError::Refused(ErrorCode::BadCredentials));
    }
    let user = &current.user;
    let context = PasswordContext {
        email: Some(user.email.as_str().to_owned()),
        names: user
            .display_name
            .split_whitespace()
            .map(str::to_owned)
            .collect(),
        other: vec!["galien".to_owned(), old.to_owned()],
    };
    let password = Password::parse(new, &context)
        .map_err(|_| AppError::Password(Password::rejections(new, &context)))?;
    let phc = app
        .hasher
        .hash(&password, app.entropy.as_ref())
        .map_err(|e| {
            AppError::Store(galien_store::StoreError::Other(format!(
                "password hashing: {e}"
            )))
        })?;
    let now = app.clock.now();
    app.store
        .set_password_hash(user.id, phc.as_str(), now)
        .await?;
    app.store
        .end_user_sessions(
            user.id,
            Some(&current.session.digest),
            "password_changed",
            now,
        )
        .await?;
    trace::security(
        app,
        ctx,
        current.who(),
        AuditAction::AuthPasswordChanged,
        Outcome::Success,
        None,
        Some(user.id),
    )
    .await
}

/// Replaces the recovery codes (fresh factor required); the new ones are shown once.
pub async fn new_recovery_codes(
    app: &App,
    ctx: &RequestContext,
    current: &Current,
) -> Result<Vec<RecoveryCode>, AppError> {
    if !current.has_fresh_factor(app) {
        return Err(AppError::Refused(ErrorCode::StepUpRequired));
    }
    let (codes, hashes) = recovery::generate(
        app.entropy.as_ref(),
        &app.keys.recovery,
        recovery::DEFAULT_COUNT,
    );
    app.store
        .replace_recovery_codes(
            current.user.id,
            hashes.iter().map(|h| *h.as_bytes()).collect(),
            app.clock.now(),
        )
        .await?;
    trace::security(
        app,
        ctx,
        current.who(),
        AuditAction::AuthFactorEnrolled,
        Outcome::Success,
        Some("recovery_codes"),
        Some(current.user.id),
    )
    .await?;
    Ok(codes)
}

/// The latest security events of the person's own account, newest first.
pub async fn recent_security_events(
    app: &App,
    current: &Current,
    limit: usize,
) -> Result<Vec<StoredAuditEvent>, AppError> {
    let mut out = Vec::new();
    let mut after = None;
    // Oldest first in pages of 1000: keep the tail. Accounts have few security events.
    loop {
        let page = app
            .store
            .audit_events(&AuditFilter {
                user: Some(current.user.id),
                after_seq: after,
                limit: Some(1000),
                ..AuditFilter::default()
            })
            .await?;
        let Some(last) = page.last() else { break };
        after = Some(last.seq);
        let full = page.len() == 1000;
        out.extend(
            page.into_iter()
                .filter(|e| e.event.action.as_str().starts_with("auth.")),
        );
        if !full {
            break;
        }
    }
    out.reverse();
    out.truncate(limit);
    Ok(out)
}
