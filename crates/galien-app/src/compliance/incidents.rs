//! The incident and breach register (TRACE-6), kept by the DPO: incidents opened by the anomaly
//! rules or registered by hand, qualified with facts, affected people, data categories, effects and
//! measures; a personal-data breach starts the 72-hour clock for notifying the CNIL (GDPR art. 33)
//! and records whether patients must be informed and when they were (art. 34). Free text is sealed.

use galien_core::ErrorCode;
use galien_core::audit::{AuditAction, AuditActor, AuditEvent, Outcome, ResourceRef};
use galien_core::identity::{Actor, Role};
use galien_core::ids::AuditEventId;
use galien_store::{Incident, IncidentStatus, IncidentUpdate, NewIncident, Severity};
use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use crate::{App, AppError, RequestContext};

/// The GDPR art. 33 deadline for notifying the supervisory authority.
pub const CNIL_DEADLINE: Duration = Duration::hours(72);

/// What the DPO writes about an incident (sealed at rest).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncidentDetails {
    /// What happened.
    pub facts: String,
    /// Who is affected (categories and approximate number of people).
    pub affected_people: String,
    /// Which categories of data.
    pub data_categories: String,
    /// Likely consequences.
    pub effects: String,
    /// Measures taken or proposed.
    pub measures: String,
}

/// An incident as the DPO reads it.
#[derive(Debug, Clone)]
pub struct IncidentView {
    /// The stored incident.
    pub incident: Incident,
    /// Its details, opened.
    pub details: IncidentDetails,
    /// For a breach not yet notified: the CNIL deadline.
    pub cnil_deadline: Option<OffsetDateTime>,
    /// Time left before it (negative when overdue).
    pub time_left: Option<Duration>,
}

fn require_dpo(actor: &Actor) -> Result<(), AppError> {
    if actor.role == Role::Dpo {
        Ok(())
    } else {
        Err(AppError::Refused(ErrorCode::AccessDenied))
    }
}

fn seal(app: &App, id: Uuid, d: &IncidentDetails) -> Result<Option<Vec<u8>>, AppError> {
    if *d == IncidentDetails::default() {
        return Ok(None);
    }
    let json = serde_json::to_vec(d).map_err(|e| AppError::Keys(e.to_string()))?;
    let aad = format!("incidents/{id}/details");
    Ok(Some(app.keys.incidents.seal(
        &json,
        aad.as_bytes(),
        app.entropy.as_ref(),
    )))
}

fn open(app: &App, i: &Incident) -> IncidentDetails {
    let aad = format!("incidents/{}/details", i.id);
    i.details
        .as_deref()
        .and_then(|s| app.keys.incidents.open(s, aad.as_bytes()).ok())
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default()
}

fn view(app: &App, i: Incident, now: OffsetDateTime) -> IncidentView {
    let details = open(app, &i);
    let cnil_deadline = match (i.is_breach, i.breach_aware_at, i.cnil_notified_at) {
        (true, Some(aware), None) => Some(aware + CNIL_DEADLINE),
        _ => None,
    };
    IncidentView {
        time_left: cnil_deadline.map(|d| d - now),
        cnil_deadline,
        details,
        incident: i,
    }
}

fn trace(
    app: &App,
    actor: &Actor,
    ctx: &RequestContext,
    action: AuditAction,
    id: Uuid,
) -> AuditEvent {
    let at = app.clock.now();
    AuditEvent {
        id: AuditEventId::generate(at, app.entropy.as_ref()),
        at,
        actor: AuditActor {
            user: Some(actor.user),
            role: Some(actor.role),
            assurance: Some(actor.assurance),
            client: None,
        },
        action,
        outcome: Outcome::Success,
        resource: Some(ResourceRef {
            kind: "incident".into(),
            id: id.to_string(),
        }),
        patient: None,
        purpose: Some("security".into()),
        emergency: false,
        source: ctx.source(),
        reason: None,
    }
}

/// The register, most urgent first.
pub async fn list(app: &App, actor: &Actor) -> Result<Vec<IncidentView>, AppError> {
    require_dpo(actor)?;
    let now = app.clock.now();
    Ok(app
        .store
        .incidents()
        .await?
        .into_iter()
        .map(|i| view(app, i, now))
        .collect())
}

/// One incident.
pub async fn get(app: &App, actor: &Actor, id: Uuid) -> Result<IncidentView, AppError> {
    require_dpo(actor)?;
    Ok(view(app, app.store.incident(id).await?, app.clock.now()))
}

/// Open incidents (the DPO's in-app notification).
pub async fn open_count(app: &App, actor: &Actor) -> Result<u64, AppError> {
    require_dpo(actor)?;
    Ok(app.store.open_incident_count().await?)
}

/// Registers an incident by hand.
pub async fn register(
    app: &App,
    actor: &Actor,
    ctx: &RequestContext,
    summary: &str,
    severity: Severity,
    details: &IncidentDetails,
) -> Result<Uuid, AppError> {
    require_dpo(actor)?;
    let summary = summary.trim();
    if summary.is_empty() || summary.chars().count() > 500 {
        return Err(AppError::Refused(ErrorCode::FormInvalid));
    }
    let at = app.clock.now();
    let id = AuditEventId::generate(at, app.entropy.as_ref()).as_uuid();
    app.store
        .open_incident(
            NewIncident {
                id,
                opened_at: at,
                rule: None,
                subject: None,
                finding: summary.to_owned(),
                severity,
                details: seal(app, id, details)?,
                by: Some(actor.user),
            },
            None,
            trace(app, actor, ctx, AuditAction::IncidentOpened, id),
        )
        .await?;
    Ok(id)
}

/// The DPO's qualification of an incident.
#[derive(Debug, Clone)]
pub struct Qualification {
    /// Status.
    pub status: IncidentStatus,
    /// Severity.
    pub severity: Severity,
    /// Facts, people, data, effects, measures.
    pub details: IncidentDetails,
    /// A personal-data breach: since when the organisation knows (`None`: not a breach).
    pub breach_aware_at: Option<OffsetDateTime>,
    /// When the CNIL was notified.
    pub cnil_notified_at: Option<OffsetDateTime>,
    /// Whether patients must be informed (`None`: not decided).
    pub inform_patients: Option<bool>,
    /// When they were.
    pub patients_informed_at: Option<OffsetDateTime>,
}

/// Records a qualification. Dates cannot be in the future, nor before the incident; patients cannot
/// have been informed if it was decided they need not be.
pub async fn qualify(
    app: &App,
    actor: &Actor,
    ctx: &RequestContext,
    id: Uuid,
    q: Qualification,
) -> Result<(), AppError> {
    require_dpo(actor)?;
    let now = app.clock.now();
    app.store.incident(id).await?;
    let dates = [
        q.breach_aware_at,
        q.cnil_notified_at,
        q.patients_informed_at,
    ];
    if dates
        .iter()
        .flatten()
        .any(|d| *d > now + Duration::minutes(5))
        || (q.cnil_notified_at.is_some() || q.patients_informed_at.is_some())
            && q.breach_aware_at.is_none()
        || (q.inform_patients == Some(false) && q.patients_informed_at.is_some())
    {
        return Err(AppError::Refused(ErrorCode::FormInvalid));
    }
    app.store
        .update_incident(
            id,
            IncidentUpdate {
                status: q.status,
                severity: q.severity,
                details: seal(app, id, &q.details)?,
                breach_aware_at: q.breach_aware_at,
                cnil_notified_at: q.cnil_notified_at,
                inform_patients: q.inform_patients,
                patients_informed_at: q.patients_informed_at,
                at: now,
                by: actor.user,
            },
            trace(app, actor, ctx, AuditAction::IncidentUpdated, id),
        )
        .await?;
    Ok(())
}
