//! "Qui a consulté mon dossier ?" (TRACE-4): the patient sees who accessed their record, with which
//! role, when, why and how it ended; the DPO sees the same for any patient. The patient's account is
//! first linked to their record by someone allowed to correct the identity.

use galien_access::Action;
use galien_core::ErrorCode;
use galien_core::audit::{AuditAction, Outcome};
use galien_core::identity::{AccountStatus, Actor, Email, Role};
use galien_core::ids::{PatientId, UserId};
use std::collections::HashMap;
use time::OffsetDateTime;

use super::access::{Asking, permit};
use crate::{App, AppError, RequestContext};

/// Links the patient's own account (role `patient`, active) to their record: they then reach it as
/// themselves ("self").
pub async fn link_account(
    app: &App,
    actor: &Actor,
    ctx: &RequestContext,
    patient: PatientId,
    email: &Email,
) -> Result<UserId, AppError> {
    let asking = Asking::new(app, actor, ctx, Some(patient)).await?;
    if !asking.allows(Action::IdentityWrite) {
        asking.permit(Action::IdentityWrite, None).await?;
    }
    let account = match app.store.user_by_email(email).await {
        Ok(u) if u.role == Role::Patient && u.status == AccountStatus::Active => u,
        Ok(_) | Err(galien_store::StoreError::NotFound) => {
            return Err(AppError::Refused(ErrorCode::NotAPatientAccount));
        }
        Err(e) => return Err(e.into()),
    };
    let permit = asking.permit(Action::IdentityWrite, None).await?;
    match app
        .store
        .link_patient_account(permit, account.id, app.clock.now())
        .await
    {
        Err(galien_store::StoreError::Conflict(_)) => {
            Err(AppError::Refused(ErrorCode::NotAPatientAccount))
        }
        other => other.map(|()| account.id).map_err(AppError::from),
    }
}

/// The record the signed-in patient owns, if their account is linked.
pub async fn own_record(app: &App, actor: &Actor) -> Result<Option<PatientId>, AppError> {
    if actor.role != Role::Patient {
        return Ok(None);
    }
    Ok(app.store.patient_of_account(actor.user).await?)
}

/// One access to the record, as the patient reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessEntry {
    /// When.
    pub at: OffsetDateTime,
    /// Who (their name), or the machine client.
    pub who: String,
    /// Their role.
    pub role: Option<Role>,
    /// What was done.
    pub action: AuditAction,
    /// The kind of data touched (`clinical_record`, `patient_identity`…).
    pub data: Option<String>,
    /// Why: the relationship (`care_team`, `act`…) or `emergency_access`.
    pub purpose: Option<String>,
    /// Under an emergency access.
    pub emergency: bool,
    /// Granted or refused.
    pub outcome: Outcome,
}

/// The accesses to the patient's record, newest first (at most `limit`).
pub async fn access_log(
    app: &App,
    actor: &Actor,
    ctx: &RequestContext,
    patient: PatientId,
    limit: u32,
) -> Result<Vec<AccessEntry>, AppError> {
    let permit = permit(app, actor, ctx, Action::AccessLogRead, Some(patient)).await?;
    let events = app.store.patient_access_log(permit, limit).await?;
    let mut names: HashMap<UserId, String> = HashMap::new();
    let mut out = Vec::with_capacity(events.len());
    for e in events {
        let e = e.event;
        let who = match (e.actor.user, &e.actor.client) {
            (Some(u), _) => match names.get(&u) {
                Some(n) => n.clone(),
                None => {
                    let n = app
                        .store
                        .user(u)
                        .await
                        .map(|x| x.display_name)
                        .unwrap_or_else(|_| "—".into());
                    names.insert(u, n.clone());
                    n
                }
            },
            (None, Some(client)) => client.clone(),
            (None, None) => "Galien".into(),
        };
        out.push(AccessEntry {
            at: e.at,
            who,
            role: e.actor.role,
            action: e.action,
            data: e.resource.map(|r| r.kind),
            purpose: e.purpose,
            emergency: e.emergency,
            outcome: e.outcome,
        });
    }
    Ok(out)
}
