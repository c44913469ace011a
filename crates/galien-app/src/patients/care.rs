//! The care team (ACC-3), "my patients", emergency access (ACC-4) and its review by the DPO.

use galien_access::Action;
use galien_core::ErrorCode;
use galien_core::audit::{AuditAction, AuditActor, AuditEvent, Outcome, ResourceRef};
use galien_core::identity::{AccountStatus, Actor, Email, Role};
use galien_core::ids::{AuditEventId, CareRelationshipId, EmergencyAccessId, PatientId, UserId};
use galien_store::{CareKind, CareRelationship, NewCareRelationship, NewEmergencyAccess};
use time::OffsetDateTime;

use super::access::{Asking, permit};
use super::records::{PatientCard, card};
use crate::{App, AppError, RequestContext};

/// The care team and other relationships, active first.
pub async fn care_team(
    app: &App,
    actor: &Actor,
    ctx: &RequestContext,
    patient: PatientId,
) -> Result<Vec<CareRelationship>, AppError> {
    let permit = permit(app, actor, ctx, Action::CareTeamRead, Some(patient)).await?;
    Ok(app.store.care_relationships(permit).await?)
}

/// Adds the professional with this e-mail address to the care team, until `until` if given.
pub async fn add_member(
    app: &App,
    actor: &Actor,
    ctx: &RequestContext,
    patient: PatientId,
    email: &Email,
    until: Option<OffsetDateTime>,
) -> Result<UserId, AppError> {
    let asking = Asking::new(app, actor, ctx, Some(patient)).await?;
    // Refuse before looking anyone up: a stranger learns nothing about accounts.
    if !asking.allows(Action::CareTeamManage) {
        asking.permit(Action::CareTeamManage, None).await?;
    }
    let member = match app.store.user_by_email(email).await {
        Ok(u) if u.role.is_health_professional() && u.status == AccountStatus::Active => u,
        Ok(_) | Err(galien_store::StoreError::NotFound) => {
            return Err(AppError::Refused(ErrorCode::NotACareProfessional));
        }
        Err(e) => return Err(e.into()),
    };
    let now = app.clock.now();
    let id = CareRelationshipId::generate(now, app.entropy.as_ref());
    let permit = asking
        .permit(
            Action::CareTeamManage,
            Some(ResourceRef {
                kind: "care_team_member".into(),
                id: member.id.to_string(),
            }),
        )
        .await?;
    app.store
        .add_care_relationship(
            permit,
            NewCareRelationship {
                id,
                patient,
                user: member.id,
                kind: CareKind::CareTeam,
                reference: None,
                added_by: Some(actor.user),
                since: now,
                until: until.filter(|u| *u > now),
            },
        )
        .await?;
    Ok(member.id)
}

/// Ends a care relationship (a member leaves the team).
pub async fn end_member(
    app: &App,
    actor: &Actor,
    ctx: &RequestContext,
    patient: PatientId,
    relationship: CareRelationshipId,
) -> Result<bool, AppError> {
    let permit = Asking::new(app, actor, ctx, Some(patient))
        .await?
        .permit(
            Action::CareTeamManage,
            Some(ResourceRef {
                kind: "care_relationship".into(),
                id: relationship.to_string(),
            }),
        )
        .await?;
    Ok(app
        .store
        .end_care_relationship(permit, relationship, actor.user, app.clock.now())
        .await?)
}

/// The patients the actor has a relationship with, as cards (each read under its own permit, all
/// traced in one transaction). Patients whose permit is refused (a relationship ended meanwhile)
/// are left out.
pub async fn my_patients(
    app: &App,
    actor: &Actor,
    ctx: &RequestContext,
) -> Result<Vec<PatientCard>, AppError> {
    let ids = app.store.patients_of(actor.user, app.clock.now()).await?;
    let mut permits = Vec::with_capacity(ids.len());
    for id in ids {
        let asking = Asking::new(app, actor, ctx, Some(id)).await?;
        if asking.allows(Action::IdentityRead) {
            permits.push(asking.permit(Action::IdentityRead, None).await?);
        }
    }
    let rows = app.store.patients(permits).await?;
    rows.iter().map(|p| card(app, p)).collect()
}

/// The shortest reason accepted for an emergency access.
pub const MIN_REASON_CHARS: usize = 10;

/// Opens an emergency access (break-the-glass): a médecin without a relationship gives a reason; the
/// access lasts the configured time, is flagged in the traces and awaits the DPO's review.
pub async fn open_emergency(
    app: &App,
    actor: &Actor,
    ctx: &RequestContext,
    patient: PatientId,
    reason: &str,
) -> Result<OffsetDateTime, AppError> {
    let reason = reason.trim();
    if reason.chars().count() < MIN_REASON_CHARS {
        return Err(AppError::Refused(ErrorCode::EmergencyReasonRequired));
    }
    let reason: String = reason.chars().take(2000).collect();
    let now = app.clock.now();
    let id = EmergencyAccessId::generate(now, app.entropy.as_ref());
    let permit = Asking::new(app, actor, ctx, Some(patient))
        .await?
        .permit(
            Action::EmergencyOpen,
            Some(ResourceRef {
                kind: "emergency_access".into(),
                id: id.to_string(),
            }),
        )
        .await?;
    let expires_at = now + app.settings.emergency_access;
    let aad = format!("emergency_accesses/{id}/reason");
    let sealed = app
        .health
        .emergency
        .seal(reason.as_bytes(), aad.as_bytes(), app.entropy.as_ref());
    app.store
        .open_emergency_access(
            permit,
            NewEmergencyAccess {
                id,
                patient,
                user: actor.user,
                reason: sealed,
                opened_at: now,
                expires_at,
            },
        )
        .await?;
    Ok(expires_at)
}

/// An emergency access as the DPO reviews it: who, which patient (id only), when, why.
#[derive(Debug, Clone)]
pub struct EmergencyReview {
    /// The access.
    pub id: EmergencyAccessId,
    /// The patient (no identity: the DPO sees no clinical content).
    pub patient: PatientId,
    /// The médecin.
    pub user: UserId,
    /// Their name.
    pub user_name: String,
    /// The reason they gave.
    pub reason: String,
    /// Opened at.
    pub opened_at: OffsetDateTime,
    /// Ends at.
    pub expires_at: OffsetDateTime,
    /// When it was reviewed.
    pub reviewed_at: Option<OffsetDateTime>,
    /// The DPO's note.
    pub review_note: Option<String>,
}

fn require_dpo(actor: &Actor) -> Result<(), AppError> {
    if actor.role == Role::Dpo {
        Ok(())
    } else {
        Err(AppError::Refused(ErrorCode::AccessDenied))
    }
}

/// Emergency accesses awaiting review (or all of them), for the DPO.
pub async fn emergency_reviews(
    app: &App,
    actor: &Actor,
    pending_only: bool,
) -> Result<Vec<EmergencyReview>, AppError> {
    require_dpo(actor)?;
    let rows = app.store.emergency_accesses(pending_only).await?;
    let open = |id: EmergencyAccessId, column: &str, sealed: &[u8]| {
        let aad = format!("emergency_accesses/{id}/{column}");
        app.health
            .emergency
            .open(sealed, aad.as_bytes())
            .ok()
            .and_then(|b| String::from_utf8(b.to_vec()).ok())
    };
    Ok(rows
        .into_iter()
        .map(|r| EmergencyReview {
            reason: open(r.id, "reason", &r.reason).unwrap_or_else(|| "—".into()),
            review_note: r
                .review_note
                .as_deref()
                .and_then(|n| open(r.id, "review_note", n)),
            id: r.id,
            patient: r.patient,
            user: r.user,
            user_name: r.user_name,
            opened_at: r.opened_at,
            expires_at: r.expires_at,
            reviewed_at: r.reviewed_at,
        })
        .collect())
}

/// The DPO marks an emergency access reviewed, with a note. `false` if it already was.
pub async fn review_emergency(
    app: &App,
    actor: &Actor,
    ctx: &RequestContext,
    id: EmergencyAccessId,
    note: &str,
) -> Result<bool, AppError> {
    require_dpo(actor)?;
    let now = app.clock.now();
    let note = note.trim();
    let sealed = (!note.is_empty()).then(|| {
        let aad = format!("emergency_accesses/{id}/review_note");
        app.health.emergency.seal(
            note.chars().take(2000).collect::<String>().as_bytes(),
            aad.as_bytes(),
            app.entropy.as_ref(),
        )
    });
    let trace = AuditEvent {
        id: AuditEventId::generate(now, app.entropy.as_ref()),
        at: now,
        actor: AuditActor {
            user: Some(actor.user),
            role: Some(actor.role),
            assurance: Some(actor.assurance),
            client: None,
        },
        action: AuditAction::AccessEmergencyReviewed,
        outcome: Outcome::Success,
        resource: Some(ResourceRef {
            kind: "emergency_access".into(),
            id: id.to_string(),
        }),
        patient: None,
        purpose: None,
        emergency: false,
        source: ctx.source(),
        reason: None,
    };
    Ok(app
        .store
        .review_emergency_access(id, actor.user, now, sealed, trace)
        .await?)
}
