//! Account administration (AUTH-1, AUTH-8): invitations, suspension, reactivation, deactivation.
//! Only a strongly authenticated administrator may act; accounts are never deleted.

use super::enrol::parse_name;
use super::session::Current;
use crate::bootstrap::EnrolmentLink;
use crate::trace;
use crate::{App, AppError, RequestContext};
use galien_core::ErrorCode;
use galien_core::audit::{AuditAction, Outcome};
use galien_core::identity::{AccountStatus, Email, ProfessionalId, Role};
use galien_core::ids::UserId;
use galien_crypto::token::SecretToken;
use galien_store::{CreateUserError, NewEnrolmentToken, NewUser, TokenPurpose, User};

/// What an administrator types to invite someone.
#[derive(Debug, Clone, Default)]
pub struct InviteForm {
    /// Role (stable text, e.g. `medecin`).
    pub role: String,
    /// Full name.
    pub display_name: String,
    /// E-mail address.
    pub email: String,
    /// RPPS (11 digits) or ADELI (9 digits); required for health professionals.
    pub professional_id: String,
    /// Organisation (service, practice).
    pub organisation: String,
}

fn require_admin(current: &Current) -> Result<(), AppError> {
    if !current.is_strong() {
        return Err(AppError::Refused(ErrorCode::SecondFactorRequired));
    }
    if current.user.role != Role::Administrateur {
        return Err(AppError::Refused(ErrorCode::AccessDenied));
    }
    Ok(())
}

/// Parses an RPPS or ADELI number, by length.
pub fn parse_professional_id(raw: &str) -> Option<ProfessionalId> {
    let digits: String = raw.chars().filter(|c| !c.is_whitespace()).collect();
    match digits.len() {
        11 => ProfessionalId::rpps(&digits),
        9 => ProfessionalId::adeli(&digits),
        _ => None,
    }
}

/// Creates an invited account and its single-use link (to hand to the person; it carries no health data).
pub async fn invite(
    app: &App,
    ctx: &RequestContext,
    current: &Current,
    form: &InviteForm,
) -> Result<(User, EnrolmentLink), AppError> {
    require_admin(current)?;
    let role = Role::parse(form.role.trim()).ok_or(AppError::Refused(ErrorCode::FormInvalid))?;
    let display_name = parse_name(&form.display_name)?;
    let email = Email::parse(&form.email).ok_or(AppError::Refused(ErrorCode::EmailInvalid))?;
    let professional_id = if form.professional_id.trim().is_empty() {
        if role.is_health_professional() {
            return Err(AppError::Refused(ErrorCode::ProfessionalIdInvalid));
        }
        None
    } else {
        Some(
            parse_professional_id(&form.professional_id)
                .ok_or(AppError::Refused(ErrorCode::ProfessionalIdInvalid))?,
        )
    };
    let organisation = Some(form.organisation.trim().to_owned()).filter(|o| !o.is_empty());
    let now = app.clock.now();
    let id = UserId::generate(now, app.entropy.as_ref());
    app.store
        .create_user(NewUser {
            id,
            email,
            display_name,
            role,
            professional_id,
            organisation,
            status: AccountStatus::Invited,
            created_at: now,
            created_by: Some(current.user.id),
        })
        .await
        .map_err(|e| match e {
            CreateUserError::EmailTaken => AppError::Refused(ErrorCode::EmailTaken),
            CreateUserError::ProfessionalIdTaken => {
                AppError::Refused(ErrorCode::ProfessionalIdTaken)
            }
            CreateUserError::Store(e) => AppError::Store(e),
        })?;
    trace::security(
        app,
        ctx,
        current.who(),
        AuditAction::AccountInvited,
        Outcome::Success,
        Some(role.as_str()),
        Some(id),
    )
    .await?;
    let link = issue_invitation(app, id).await?;
    Ok((app.store.user(id).await?, link))
}

pub(crate) async fn issue_invitation(app: &App, user: UserId) -> Result<EnrolmentLink, AppError> {
    let now = app.clock.now();
    let token = SecretToken::generate(app.entropy.as_ref());
    let expires_at = now + app.settings.enrolment_link_ttl;
    app.store
        .system_issue_enrolment_token(NewEnrolmentToken {
            id: UserId::generate(now, app.entropy.as_ref()).as_uuid(),
            digest: token.digest(),
            purpose: TokenPurpose::Invitation,
            created_at: now,
            expires_at,
            user: Some(user),
        })
        .await?;
    Ok(EnrolmentLink {
        url: format!("{}/enrol/{}", app.settings.public_url, token.expose()),
        expires_at,
    })
}

/// A fresh link for a still-invited account (the previous one is revoked).
pub async fn reinvite(
    app: &App,
    ctx: &RequestContext,
    current: &Current,
    user: UserId,
) -> Result<EnrolmentLink, AppError> {
    require_admin(current)?;
    let target = app.store.user(user).await?;
    if target.status != AccountStatus::Invited {
        return Err(AppError::Refused(ErrorCode::FormInvalid));
    }
    trace::security(
        app,
        ctx,
        current.who(),
        AuditAction::AccountInvited,
        Outcome::Success,
        Some("reissued"),
        Some(user),
    )
    .await?;
    issue_invitation(app, user).await
}

/// The accounts, oldest first.
pub async fn list(app: &App, current: &Current) -> Result<Vec<User>, AppError> {
    require_admin(current)?;
    Ok(app.store.users(None, None, 500, 0).await?)
}

/// Suspends, reactivates or deactivates an account; a barred account's sessions end at once.
pub async fn set_status(
    app: &App,
    ctx: &RequestContext,
    current: &Current,
    user: UserId,
    status: AccountStatus,
) -> Result<(), AppError> {
    require_admin(current)?;
    if user == current.user.id {
        return Err(AppError::Refused(ErrorCode::AccessDenied));
    }
    let target = app.store.user(user).await?;
    let action = match (target.status, status) {
        (AccountStatus::Deactivated, _) => return Err(AppError::Refused(ErrorCode::FormInvalid)),
        (AccountStatus::Active, AccountStatus::Suspended) => AuditAction::AccountSuspended,
        (AccountStatus::Suspended, AccountStatus::Active) => AuditAction::AccountReactivated,
        (_, AccountStatus::Deactivated) => AuditAction::AccountDeactivated,
        _ => return Err(AppError::Refused(ErrorCode::FormInvalid)),
    };
    let now = app.clock.now();
    app.store.set_user_status(user, status, now).await?;
    if status != AccountStatus::Active {
        app.store
            .end_user_sessions(user, None, "account_disabled", now)
            .await?;
    }
    trace::security(
        app,
        ctx,
        current.who(),
        action,
        Outcome::Success,
        None,
        Some(user),
    )
    .await
}
