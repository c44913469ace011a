//! Enrolment: the first administrator (from the link printed at first start) and invited users set a
//! password that meets the policy (AUTH-3), then must enrol a second factor before anything else.

use super::{NextStep, SessionGrant, session};
use crate::trace::{self, Who};
use crate::{App, AppError, RequestContext};
use galien_core::ErrorCode;
use galien_core::audit::{AuditAction, Outcome};
use galien_core::identity::{AccountStatus, Assurance, AuthMethod, Email, Role};
use galien_core::ids::UserId;
use galien_crypto::password::{Password, PasswordContext};
use galien_crypto::recovery::{self, RecoveryCode};
use galien_crypto::token::SecretToken;
use galien_store::{AcceptError, ConsumeError, NewUser, StoreError, TokenPurpose};

/// What the first administrator types.
#[derive(Debug)]
pub struct FirstAdminForm {
    /// Full name.
    pub display_name: String,
    /// E-mail address (the sign-in identifier).
    pub email: String,
    /// Chosen password.
    pub password: String,
}

/// A display name: trimmed, 1–200 characters, no control characters.
pub fn parse_name(raw: &str) -> Result<String, AppError> {
    let name = raw.trim();
    if name.is_empty() || name.chars().count() > 200 || name.chars().any(char::is_control) {
        return Err(AppError::Refused(ErrorCode::NameRequired));
    }
    Ok(name.to_owned())
}

fn parse_password(raw: &str, email: &Email, name: &str) -> Result<Password, AppError> {
    let context = PasswordContext {
        email: Some(email.as_str().to_owned()),
        names: name.split_whitespace().map(str::to_owned).collect(),
        other: vec!["galien".to_owned()],
    };
    Password::parse(raw, &context)
        .map_err(|_| AppError::Password(Password::rejections(raw, &context)))
}

fn token_error(e: ConsumeError) -> AppError {
    match e {
        ConsumeError::NotFound | ConsumeError::Revoked => {
            AppError::Refused(ErrorCode::EnrolmentLinkInvalid)
        }
        ConsumeError::Expired => AppError::Refused(ErrorCode::EnrolmentLinkExpired),
        ConsumeError::AlreadyUsed => AppError::Refused(ErrorCode::EnrolmentLinkUsed),
        ConsumeError::Store(e) => AppError::Store(e),
    }
}

fn accept_error(e: AcceptError) -> AppError {
    match e {
        AcceptError::Token(e) => token_error(e),
        AcceptError::EmailTaken => AppError::Refused(ErrorCode::EmailTaken),
        AcceptError::ProfessionalIdTaken => AppError::Refused(ErrorCode::ProfessionalIdTaken),
        AcceptError::WrongPurpose => AppError::Refused(ErrorCode::EnrolmentLinkInvalid),
        AcceptError::Store(e) => AppError::Store(e),
    }
}

/// Creates the first administrator from the first-start link; opens an enrolment session that
/// leads to the second factor. Nothing is stored if anything is refused.
pub async fn first_admin(
    app: &App,
    ctx: &RequestContext,
    raw_token: &str,
    form: &FirstAdminForm,
) -> Result<SessionGrant, AppError> {
    let token =
        SecretToken::parse(raw_token).ok_or(AppError::Refused(ErrorCode::EnrolmentLinkInvalid))?;
    // The link is checked first, so that a person holding a dead link learns it before typing more.
    crate::bootstrap::check_link(app, raw_token).await?;
    let display_name = parse_name(&form.display_name)?;
    let email = Email::parse(&form.email).ok_or(AppError::Refused(ErrorCode::EmailInvalid))?;
    let password = parse_password(&form.password, &email, &display_name)?;
    let phc = app
        .hasher
        .hash(&password, app.entropy.as_ref())
        .map_err(|e| AppError::Store(StoreError::Other(format!("password hashing: {e}"))))?;
    let now = app.clock.now();
    let id = UserId::generate(now, app.entropy.as_ref());
    let user = NewUser {
        id,
        email,
        display_name,
        role: Role::Administrateur,
        professional_id: None,
        organisation: None,
        status: AccountStatus::Invited,
        created_at: now,
        created_by: None,
    };
    app.store
        .accept_first_admin(&token.digest(), now, user, phc.as_str())
        .await
        .map_err(accept_error)?;
    let user = app.store.user(id).await?;
    let who = Who {
        user: Some(id),
        role: Some(Role::Administrateur),
        assurance: Some(Assurance::OneFactor),
    };
    trace::security(
        app,
        ctx,
        who,
        AuditAction::AuthPasswordChanged,
        Outcome::Success,
        Some("enrolment"),
        Some(id),
    )
    .await?;
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

/// Who an invitation link is for (to greet them and check their password against their identity).
pub async fn invitee(app: &App, raw_token: &str) -> Result<galien_store::User, AppError> {
    let valid = crate::bootstrap::check_link(app, raw_token).await?;
    if valid.purpose != TokenPurpose::Invitation {
        return Err(AppError::Refused(ErrorCode::EnrolmentLinkInvalid));
    }
    let user = valid
        .user
        .ok_or(AppError::Refused(ErrorCode::EnrolmentLinkInvalid))?;
    Ok(app.store.user(user).await?)
}

/// An invited person sets a password; an enrolment session leads to the second factor.
pub async fn accept_invitation(
    app: &App,
    ctx: &RequestContext,
    raw_token: &str,
    password: &str,
) -> Result<SessionGrant, AppError> {
    let token =
        SecretToken::parse(raw_token).ok_or(AppError::Refused(ErrorCode::EnrolmentLinkInvalid))?;
    let invitee = invitee(app, raw_token).await?;
    let password = parse_password(password, &invitee.email, &invitee.display_name)?;
    let phc = app
        .hasher
        .hash(&password, app.entropy.as_ref())
        .map_err(|e| AppError::Store(StoreError::Other(format!("password hashing: {e}"))))?;
    let id = app
        .store
        .accept_invitation(&token.digest(), app.clock.now(), phc.as_str())
        .await
        .map_err(accept_error)?;
    let user = app.store.user(id).await?;
    let who = Who {
        user: Some(id),
        role: Some(user.role),
        assurance: Some(Assurance::OneFactor),
    };
    trace::security(
        app,
        ctx,
        who,
        AuditAction::AuthPasswordChanged,
        Outcome::Success,
        Some("enrolment"),
        Some(id),
    )
    .await?;
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

/// A first factor is in place: recovery codes, activation, every session ended, a new two-factor
/// session (TOTP and WebAuthn enrolment alike).
pub(super) async fn complete_factor(
    app: &App,
    ctx: &RequestContext,
    current: &super::session::Current,
    factor: &str,
    method: AuthMethod,
) -> Result<(SessionGrant, Vec<RecoveryCode>), AppError> {
    let now = app.clock.now();
    let user = &current.user;
    let (codes, hashes) = recovery::generate(
        app.entropy.as_ref(),
        &app.keys.recovery,
        recovery::DEFAULT_COUNT,
    );
    app.store
        .replace_recovery_codes(user.id, hashes.iter().map(|h| *h.as_bytes()).collect(), now)
        .await?;
    let who = Who {
        assurance: Some(Assurance::TwoFactors),
        ..current.who()
    };
    trace::security(
        app,
        ctx,
        who,
        AuditAction::AuthFactorEnrolled,
        Outcome::Success,
        Some(factor),
        Some(user.id),
    )
    .await?;
    if user.status == AccountStatus::Invited {
        app.store
            .set_user_status(user.id, AccountStatus::Active, now)
            .await?;
        trace::security(
            app,
            ctx,
            who,
            AuditAction::AccountActivated,
            Outcome::Success,
            None,
            Some(user.id),
        )
        .await?;
    }
    app.store
        .end_user_sessions(user.id, None, "factor_changed", now)
        .await?;
    let user = app.store.user(user.id).await?;
    let grant = session::open(
        app,
        ctx,
        &user,
        method,
        Assurance::TwoFactors,
        NextStep::Done,
    )
    .await?;
    Ok((grant, codes))
}
