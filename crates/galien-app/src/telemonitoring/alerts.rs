//! The monitoring board (ACT-3): open alerts of the patients the professional follows, most severe
//! and oldest first; acknowledging, deciding and closing; a patient's time series for charts; the
//! patient's own entries.

use galien_access::Action;
use galien_core::ErrorCode;
use galien_core::audit::ResourceRef;
use galien_core::identity::{Actor, Role};
use galien_core::ids::PatientId;
use galien_core::measure::Measure;
use galien_crypto::envelope::Place;
use galien_store::{Alert, AlertDecision};
use std::collections::BTreeMap;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use super::ingest::{self, Reading, Sender, Stored};
use super::programmes::{Threshold, Thresholds};
use crate::patients::access::Asking;
use crate::patients::records::{PatientCard, card};
use crate::{App, AppError, RequestContext};

/// What a professional decided about an alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Call the patient.
    CallPatient,
    /// Adjust the treatment.
    AdjustTreatment,
    /// Schedule a teleconsultation.
    Teleconsultation,
    /// Send the patient to emergency care (15).
    Emergency,
    /// Nothing to do.
    NoAction,
}

impl Decision {
    /// Every decision.
    pub const ALL: &'static [Decision] = &[
        Decision::CallPatient,
        Decision::AdjustTreatment,
        Decision::Teleconsultation,
        Decision::Emergency,
        Decision::NoAction,
    ];

    /// The stored code.
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::CallPatient => "call_patient",
            Decision::AdjustTreatment => "adjust_treatment",
            Decision::Teleconsultation => "teleconsultation",
            Decision::Emergency => "emergency",
            Decision::NoAction => "no_action",
        }
    }

    /// Parses [`Decision::as_str`].
    pub fn parse(s: &str) -> Option<Decision> {
        Decision::ALL.iter().copied().find(|d| d.as_str() == s)
    }

    /// A French label.
    pub fn label_fr(self) -> &'static str {
        match self {
            Decision::CallPatient => "Appeler le patient",
            Decision::AdjustTreatment => "Adapter le traitement",
            Decision::Teleconsultation => "Programmer une téléconsultation",
            Decision::Emergency => "Orienter vers les urgences (15)",
            Decision::NoAction => "Pas d'action nécessaire",
        }
    }
}

/// One line of the board.
#[derive(Debug, Clone)]
pub struct BoardRow {
    /// The alert.
    pub alert: Alert,
    /// Whose.
    pub patient: PatientCard,
}

/// The open alerts of the patients the actor may see, most severe and oldest first. Each patient is
/// read under its own traced permit.
pub async fn board(
    app: &App,
    actor: &Actor,
    ctx: &RequestContext,
) -> Result<Vec<BoardRow>, AppError> {
    let alerts = app.store.open_alerts().await?;
    let mut patients: Vec<PatientId> = alerts.iter().map(|a| a.patient).collect();
    patients.sort();
    patients.dedup();
    let mut permits = Vec::new();
    for p in patients {
        let asking = Asking::new(app, actor, ctx, Some(p)).await?;
        if asking.allows(Action::RecordRead) && asking.allows(Action::IdentityRead) {
            permits.push(asking.permit(Action::IdentityRead, None).await?);
        }
    }
    let cards: BTreeMap<PatientId, PatientCard> = app
        .store
        .patients(permits)
        .await?
        .iter()
        .map(|p| card(app, p).map(|c| (c.id, c)))
        .collect::<Result<_, _>>()?;
    Ok(alerts
        .into_iter()
        .filter_map(|a| {
            let patient = cards.get(&a.patient)?.clone();
            Some(BoardRow { alert: a, patient })
        })
        .collect())
}

async fn alert_permit(
    app: &App,
    actor: &Actor,
    ctx: &RequestContext,
    id: Uuid,
) -> Result<(Alert, galien_access::Permit), AppError> {
    let alert = app.store.alert(id).await?;
    let permit = Asking::new(app, actor, ctx, Some(alert.patient))
        .await?
        .permit(
            Action::RecordWrite,
            Some(ResourceRef {
                kind: "monitoring_alert".into(),
                id: id.to_string(),
            }),
        )
        .await?;
    Ok((alert, permit))
}

/// Acknowledges an alert ("I am on it"). `false` if it was not open.
pub async fn acknowledge(
    app: &App,
    actor: &Actor,
    ctx: &RequestContext,
    id: Uuid,
) -> Result<bool, AppError> {
    let (_, permit) = alert_permit(app, actor, ctx, id).await?;
    let done = app
        .store
        .acknowledge_alert(permit, id, actor.user, app.clock.now())
        .await?;
    ingest::announce(app).await;
    Ok(done)
}

/// Records the decision (with an optional note, sealed) and closes the alert.
pub async fn close(
    app: &App,
    actor: &Actor,
    ctx: &RequestContext,
    id: Uuid,
    decision: Decision,
    note: &str,
) -> Result<bool, AppError> {
    let (alert, permit) = alert_permit(app, actor, ctx, id).await?;
    let note = note.trim();
    let sealed = if note.is_empty() {
        None
    } else {
        let wrapped = app
            .store
            .data_key_for(&permit)
            .await?
            .ok_or(AppError::Refused(ErrorCode::DataUnreadable))?;
        let key = app
            .health
            .data_key(alert.patient, &wrapped)
            .map_err(|_| AppError::Refused(ErrorCode::DataUnreadable))?;
        let row = id.to_string();
        Some(key.seal(
            note.chars().take(5000).collect::<String>().as_bytes(),
            &Place {
                table: "monitoring_alerts",
                row: &row,
                column: "decision_note",
            },
            app.entropy.as_ref(),
        ))
    };
    let done = app
        .store
        .close_alert(
            permit,
            id,
            AlertDecision {
                decision: decision.as_str().to_owned(),
                note: sealed,
                by: actor.user,
                at: app.clock.now(),
            },
        )
        .await?;
    ingest::announce(app).await;
    Ok(done)
}

/// A measure's values over a period, with the thresholds in force, for a chart.
#[derive(Debug, Clone)]
pub struct Series {
    /// The measure.
    pub measure: Measure,
    /// (time, value in the canonical unit), oldest first.
    pub points: Vec<(OffsetDateTime, f64)>,
    /// The thresholds in force.
    pub threshold: Option<Threshold>,
}

/// The patient's series of the last `days` days, every measure of their programme (one traced read).
pub async fn series(
    app: &App,
    actor: &Actor,
    ctx: &RequestContext,
    patient: PatientId,
    days: i64,
) -> Result<Vec<Series>, AppError> {
    let asking = Asking::new(app, actor, ctx, Some(patient)).await?;
    let (_, key) = crate::patients::records::identity_with(app, &asking).await?;
    let since = app.clock.now() - Duration::days(days.clamp(1, 366));
    let rows = app
        .store
        .observations(asking.permit(Action::RecordRead, None).await?, None, since)
        .await?;
    let thresholds: Thresholds = match app.store.monitoring_enrolment(patient).await? {
        Some(e) => serde_json::from_str(&e.thresholds).unwrap_or_default(),
        None => Thresholds::new(),
    };
    let mut by: BTreeMap<Measure, Vec<(OffsetDateTime, f64)>> = BTreeMap::new();
    for m in thresholds.keys() {
        by.entry(*m).or_default();
    }
    for o in rows {
        let row = o.id.to_string();
        let place = Place {
            table: "observations",
            row: &row,
            column: "value",
        };
        let Ok(clear) = key.open(&o.value, &place) else {
            continue;
        };
        if let Some(v) = std::str::from_utf8(&clear)
            .ok()
            .and_then(|t| t.parse().ok())
        {
            by.entry(o.measure).or_default().push((o.effective_at, v));
        }
    }
    Ok(by
        .into_iter()
        .map(|(measure, points)| Series {
            measure,
            points,
            threshold: thresholds.get(&measure).copied(),
        })
        .collect())
}

/// The patient enters a measurement by hand (value in `unit`, UCUM).
pub async fn record_own(
    app: &App,
    actor: &Actor,
    ctx: &RequestContext,
    measure: Measure,
    value: f64,
    unit: &str,
    at: OffsetDateTime,
) -> Result<Stored, AppError> {
    if actor.role != Role::Patient {
        return Err(AppError::Refused(ErrorCode::AccessDenied));
    }
    let patient = app
        .store
        .patient_of_account(actor.user)
        .await?
        .ok_or(AppError::Refused(ErrorCode::NotFound))?;
    let value = measure.normalise(value, unit).map_err(|e| {
        AppError::Refused(match e {
            galien_core::measure::MeasureError::Unit { .. } => ErrorCode::ObservationUnitInvalid,
            galien_core::measure::MeasureError::Implausible { .. } => {
                ErrorCode::ObservationImplausible
            }
            _ => ErrorCode::ObservationInvalid,
        })
    })?;
    let reading = Reading {
        patient,
        measure,
        value,
        effective_at: at,
    };
    let result =
        ingest::ingest(app, &Sender::Patient(actor.clone()), ctx, &[reading], true).await?;
    match result.into_iter().next() {
        Some(Ok(s)) => Ok(s),
        Some(Err(code)) => Err(AppError::Refused(code)),
        None => Err(AppError::Refused(ErrorCode::Internal)),
    }
}
