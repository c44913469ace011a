//! First start: until the first administrator has enrolled, each start issues a fresh one-time
//! enrolment link (revoking the previous one, whose secret nobody can recover: only its digest is
//! stored). The link is printed on the operator's console, never logged.

use crate::{App, AppError};
use galien_core::ErrorCode;
use galien_crypto::token::SecretToken;
use galien_store::{ConsumeError, EnrolmentToken, NewEnrolmentToken, StoreError, TokenPurpose};
use time::OffsetDateTime;

/// An enrolment link, to be shown once to the operator.
#[derive(Debug)]
pub struct EnrolmentLink {
    /// The full URL, secret included. Print it; never log it.
    pub url: String,
    /// When it stops working.
    pub expires_at: OffsetDateTime,
}

/// Issues a new first-administrator link if no administrator has enrolled yet; `None` otherwise.
pub async fn system_first_admin_link(app: &App) -> Result<Option<EnrolmentLink>, AppError> {
    if app.store.bootstrap_completed().await? {
        return Ok(None);
    }
    issue(app, TokenPurpose::FirstAdministrator).await.map(Some)
}

async fn issue(app: &App, purpose: TokenPurpose) -> Result<EnrolmentLink, AppError> {
    let now = app.clock.now();
    let token = SecretToken::generate(app.entropy.as_ref());
    let expires_at = now + app.settings.enrolment_link_ttl;
    app.store
        .system_issue_enrolment_token(NewEnrolmentToken {
            id: galien_core::ids::UserId::generate(now, app.entropy.as_ref()).as_uuid(),
            digest: token.digest(),
            purpose,
            user: None,
            created_at: now,
            expires_at,
        })
        .await?;
    Ok(EnrolmentLink {
        url: format!("{}/enrol/{}", app.settings.public_url, token.expose()),
        expires_at,
    })
}

/// What a person holding an enrolment link may do with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidLink {
    /// What the link enrols.
    pub purpose: TokenPurpose,
    /// When it stops working.
    pub expires_at: OffsetDateTime,
    /// The invited account (invitations only).
    pub user: Option<galien_core::ids::UserId>,
}

/// Checks a link without using it: valid, or the precise reason it is not.
pub async fn check_link(app: &App, raw_token: &str) -> Result<ValidLink, AppError> {
    let token =
        SecretToken::parse(raw_token).ok_or(AppError::Refused(ErrorCode::EnrolmentLinkInvalid))?;
    let found = match app.store.enrolment_token(&token.digest()).await {
        Ok(found) => found,
        Err(StoreError::NotFound) => {
            return Err(AppError::Refused(ErrorCode::EnrolmentLinkInvalid));
        }
        Err(e) => return Err(e.into()),
    };
    classify(&found, app.clock.now())
}

/// Uses a link, exactly once; the caller creates the account in the same step (identity issue).
pub async fn consume_link(app: &App, raw_token: &str) -> Result<EnrolmentToken, AppError> {
    let token =
        SecretToken::parse(raw_token).ok_or(AppError::Refused(ErrorCode::EnrolmentLinkInvalid))?;
    app.store
        .consume_enrolment_token(&token.digest(), app.clock.now())
        .await
        .map_err(|e| match e {
            ConsumeError::NotFound | ConsumeError::Revoked => {
                AppError::Refused(ErrorCode::EnrolmentLinkInvalid)
            }
            ConsumeError::Expired => AppError::Refused(ErrorCode::EnrolmentLinkExpired),
            ConsumeError::AlreadyUsed => AppError::Refused(ErrorCode::EnrolmentLinkUsed),
            ConsumeError::Store(e) => AppError::Store(e),
        })
}

fn classify(t: &EnrolmentToken, now: OffsetDateTime) -> Result<ValidLink, AppError> {
    if t.used_at.is_some() {
        Err(AppError::Refused(ErrorCode::EnrolmentLinkUsed))
    } else if t.revoked_at.is_some() {
        Err(AppError::Refused(ErrorCode::EnrolmentLinkInvalid))
    } else if now >= t.expires_at {
        Err(AppError::Refused(ErrorCode::EnrolmentLinkExpired))
    } else {
        Ok(ValidLink {
            purpose: t.purpose,
            expires_at: t.expires_at,
            user: t.user,
        })
    }
}

/// Whether the first administrator has enrolled (the home page says so until then).
pub async fn completed(app: &App) -> Result<bool, AppError> {
    Ok(app.store.bootstrap_completed().await?)
}
