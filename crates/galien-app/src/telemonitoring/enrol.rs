//! Enrolling a patient in a programme: a médecin of the care team records the patient's consent,
//! names the monitoring professional(s), sets reading hours and thresholds; devices are attached.

use galien_access::Action;
use galien_core::ErrorCode;
use galien_core::identity::{AccountStatus, Actor, Email};
use galien_core::ids::{CareRelationshipId, PatientId};
use galien_core::patient::{ConsentMeans, ConsentSubject};
use galien_store::{CareKind, NewCareRelationship, NewEnrolment, StoreError};
use uuid::Uuid;

use super::programmes::{Programme, Thresholds, parse_reading_hours};
use crate::patients::access::Asking;
use crate::patients::clinical;
use crate::{App, AppError, RequestContext};

/// Enrols the patient; returns the enrolment id. `thresholds` replaces the programme's defaults
/// when given. The consent is recorded first (GDPR-3).
#[allow(clippy::too_many_arguments)]
pub async fn enrol(
    app: &App,
    actor: &Actor,
    ctx: &RequestContext,
    patient: PatientId,
    programme: Programme,
    thresholds: Option<Thresholds>,
    reading_hours: &str,
    monitors: &[Email],
    consent_means: ConsentMeans,
) -> Result<Uuid, AppError> {
    if parse_reading_hours(reading_hours).is_none() {
        return Err(AppError::Refused(ErrorCode::FormInvalid));
    }
    let asking = Asking::new(app, actor, ctx, Some(patient)).await?;
    if !asking.allows(Action::RecordWrite) {
        asking.permit(Action::RecordWrite, None).await?;
    }
    let now = app.clock.now();
    let id = galien_core::ids::NoteId::generate(now, app.entropy.as_ref()).as_uuid();
    let mut relationships = Vec::new();
    for email in monitors {
        let u = match app.store.user_by_email(email).await {
            Ok(u) if u.role.is_health_professional() && u.status == AccountStatus::Active => u,
            Ok(_) | Err(StoreError::NotFound) => {
                return Err(AppError::Refused(ErrorCode::NotACareProfessional));
            }
            Err(e) => return Err(e.into()),
        };
        relationships.push(NewCareRelationship {
            id: CareRelationshipId::generate(now, app.entropy.as_ref()),
            patient,
            user: u.id,
            kind: CareKind::Monitoring,
            reference: Some(format!("enrolment:{id}")),
            added_by: Some(actor.user),
            since: now,
            until: None,
        });
    }
    // Already enrolled in this programme: refuse before recording a second consent.
    if app
        .store
        .monitoring_enrolment(patient)
        .await?
        .is_some_and(|e| e.programme == programme.as_str())
    {
        return Err(AppError::Refused(ErrorCode::AlreadyEnrolled));
    }
    clinical::record_consent(
        app,
        actor,
        ctx,
        patient,
        ConsentSubject::Telesurveillance,
        true,
        consent_means,
    )
    .await?;
    let thresholds = thresholds.unwrap_or_else(|| app.settings.programmes.thresholds(programme));
    let permit = asking
        .permit(
            Action::RecordWrite,
            Some(galien_core::audit::ResourceRef {
                kind: "monitoring_enrolment".into(),
                id: id.to_string(),
            }),
        )
        .await?;
    match app
        .store
        .enrol_monitoring(
            permit,
            NewEnrolment {
                id,
                patient,
                programme: programme.as_str().to_owned(),
                thresholds: serde_json::to_string(&thresholds)
                    .map_err(|e| AppError::Keys(e.to_string()))?,
                reading_hours: reading_hours.trim().to_owned(),
                enrolled_by: actor.user,
                since: now,
            },
            relationships,
        )
        .await
    {
        Err(StoreError::Conflict(c)) if c.contains("monitoring_enrolments_active") => {
            Err(AppError::Refused(ErrorCode::AlreadyEnrolled))
        }
        other => other.map(|()| id).map_err(AppError::from),
    }
}

/// Attaches a device (a machine client of kind `device`) to the patient's enrolment: it may then post
/// measurements for this patient only.
pub async fn attach_device(
    app: &App,
    actor: &Actor,
    ctx: &RequestContext,
    patient: PatientId,
    client: Uuid,
) -> Result<(), AppError> {
    let enrolment = app
        .store
        .monitoring_enrolment(patient)
        .await?
        .ok_or(AppError::Refused(ErrorCode::NotFound))?;
    let device = app.store.machine_client(client).await?;
    if device.kind != "device" || device.revoked_at.is_some() {
        return Err(AppError::Refused(ErrorCode::FormInvalid));
    }
    let permit = Asking::new(app, actor, ctx, Some(patient))
        .await?
        .permit(
            Action::RecordWrite,
            Some(galien_core::audit::ResourceRef {
                kind: "monitoring_device".into(),
                id: client.to_string(),
            }),
        )
        .await?;
    app.store
        .attach_device(permit, client, enrolment.id, app.clock.now())
        .await?;
    Ok(())
}

/// Sets the patient's own thresholds (replacing the programme's): each limit within the measure's
/// plausible range, the low one below the high one. Only measures of the enrolment may be set.
pub async fn set_thresholds(
    app: &App,
    actor: &Actor,
    ctx: &RequestContext,
    patient: PatientId,
    thresholds: Thresholds,
) -> Result<(), AppError> {
    let enrolment = app
        .store
        .monitoring_enrolment(patient)
        .await?
        .ok_or(AppError::Refused(ErrorCode::NotFound))?;
    let current: Thresholds = serde_json::from_str(&enrolment.thresholds).unwrap_or_default();
    for (measure, t) in &thresholds {
        let (lo, hi) = measure.plausible();
        let inside = |v: Option<f64>| v.is_none_or(|v| v.is_finite() && v >= lo && v <= hi);
        let ordered = match (t.low, t.high) {
            (Some(l), Some(h)) => l < h,
            _ => true,
        };
        if !current.contains_key(measure) || !inside(t.low) || !inside(t.high) || !ordered {
            return Err(AppError::Refused(ErrorCode::FormInvalid));
        }
    }
    let mut merged = current;
    merged.extend(thresholds);
    let permit = Asking::new(app, actor, ctx, Some(patient))
        .await?
        .permit(
            Action::RecordWrite,
            Some(galien_core::audit::ResourceRef {
                kind: "monitoring_thresholds".into(),
                id: enrolment.id.to_string(),
            }),
        )
        .await?;
    let json = serde_json::to_string(&merged).map_err(|e| AppError::Keys(e.to_string()))?;
    if app
        .store
        .set_enrolment_thresholds(permit, enrolment.id, json)
        .await?
    {
        Ok(())
    } else {
        Err(AppError::Refused(ErrorCode::NotFound))
    }
}
