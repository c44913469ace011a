//! Ingestion of measurements (ACT-3): each patient's readings pass the gate once (the device's
//! principal, `observation.write`, its monitoring relationship), are sealed with the patient's data
//! key and stored with the permit's trace in one transaction; a duplicate (same source, measure and
//! time) is stored once. Readings outside the enrolment's thresholds open alerts.

use galien_access::{AccessRequest, Action, Principal};
use galien_core::ErrorCode;
use galien_core::audit::ResourceRef;
use galien_core::ids::{AuditEventId, PatientId};
use galien_core::measure::Measure;
use galien_crypto::envelope::Place;
use galien_store::{NewAlert, NewObservation, Severity};
use std::collections::BTreeMap;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use super::programmes::{Thresholds, parse_reading_hours};
use crate::{App, AppError, RequestContext};

/// How far in the future a measurement's time may be (device clocks drift a little).
pub const FUTURE_TOLERANCE: Duration = Duration::minutes(5);

/// One measurement, checked and in its canonical unit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Reading {
    /// Whose.
    pub patient: PatientId,
    /// What.
    pub measure: Measure,
    /// The value, in [`Measure::unit`].
    pub value: f64,
    /// When it was measured.
    pub effective_at: OffsetDateTime,
}

/// What became of one reading.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stored {
    /// Stored now, under this id.
    Created(Uuid),
    /// Already there (same source, measure, time): nothing changed.
    Duplicate,
}

/// An enrolment's id, thresholds and reading hours.
type Rules = (Uuid, Thresholds, Option<(u8, u8)>);

/// Who sends.
#[derive(Debug, Clone)]
pub enum Sender {
    /// A device (machine client).
    Device(Uuid),
    /// The patient, entering a measurement by hand.
    Patient(galien_core::identity::Actor),
}

impl Sender {
    fn source(&self) -> String {
        match self {
            Sender::Device(c) => format!("device:{c}"),
            Sender::Patient(_) => "patient".to_owned(),
        }
    }

    fn principal(&self) -> Principal {
        match self {
            Sender::Device(c) => Principal::Device {
                client: c.to_string(),
            },
            Sender::Patient(actor) => crate::patients::access::principal(actor),
        }
    }

    async fn relationships(
        &self,
        app: &App,
        patient: PatientId,
        now: OffsetDateTime,
    ) -> Result<galien_access::Relationships, AppError> {
        Ok(match self {
            Sender::Device(c) => app.store.device_relationships(*c, patient, now).await?,
            Sender::Patient(actor) => app.store.relationships(actor.user, patient, now).await?,
        })
    }
}

/// A weight gain that opens an alert, and the window it is measured over (heart failure: +2 kg in
/// 3 days).
pub const WEIGHT_GAIN_KG: f64 = 2.0;
/// See [`WEIGHT_GAIN_KG`].
pub const WEIGHT_GAIN_WINDOW: Duration = Duration::days(3);

fn alerts_for(
    app: &App,
    r: &Reading,
    observation: Uuid,
    enrolment: Uuid,
    thresholds: &Thresholds,
    hours: Option<(u8, u8)>,
    now: OffsetDateTime,
) -> Option<NewAlert> {
    let t = thresholds.get(&r.measure)?;
    let (rule, severity) = match (t.low, t.high) {
        (Some(low), _) if r.value < low => ("threshold_low", Severity::High),
        (_, Some(high)) if r.value > high => ("threshold_high", Severity::High),
        _ => return None,
    };
    let local = app.settings.anomaly.local(now).hour();
    let outside_hours = hours.is_some_and(|(a, b)| local < a || local >= b);
    Some(NewAlert {
        id: AuditEventId::generate(now, app.entropy.as_ref()).as_uuid(),
        patient: r.patient,
        enrolment,
        observation: Some(observation),
        rule: rule.to_owned(),
        measure: Some(r.measure),
        severity,
        opened_at: now,
        outside_hours,
    })
}

/// Stores `readings` from `sender`. With `all_or_nothing` (a FHIR transaction), any refusal refuses
/// everything and nothing is stored; otherwise (a batch) each reading gets its own outcome. Future
/// times are refused per reading.
pub async fn ingest(
    app: &App,
    sender: &Sender,
    ctx: &RequestContext,
    readings: &[Reading],
    all_or_nothing: bool,
) -> Result<Vec<Result<Stored, ErrorCode>>, AppError> {
    let now = app.clock.now();
    let mut outcome: Vec<Option<Result<Stored, ErrorCode>>> = vec![None; readings.len()];
    for (i, r) in readings.iter().enumerate() {
        if r.effective_at > now + FUTURE_TOLERANCE {
            if all_or_nothing {
                return Err(AppError::Refused(ErrorCode::ObservationInFuture));
            }
            if let Some(o) = outcome.get_mut(i) {
                *o = Some(Err(ErrorCode::ObservationInFuture));
            }
        }
    }
    // Group the remaining readings by patient: one decision, one trace, one key per patient.
    let mut by_patient: BTreeMap<PatientId, Vec<usize>> = BTreeMap::new();
    for (i, r) in readings.iter().enumerate() {
        if outcome.get(i).is_some_and(Option::is_none) {
            by_patient.entry(r.patient).or_default().push(i);
        }
    }
    let mut groups = Vec::new();
    let mut group_index = Vec::new();
    let mut alerts = Vec::new();
    let source = sender.source();
    for (patient, idx) in by_patient {
        let relationships = sender.relationships(app, patient, now).await?;
        let request = AccessRequest {
            principal: sender.principal(),
            action: Action::ObservationWrite,
            patient: Some(patient),
            relationships,
            resource: Some(ResourceRef {
                kind: "observation".into(),
                id: format!("{patient}:{}", idx.len()),
            }),
            source: ctx.source(),
            at: now,
        };
        let permit = match app.gate.decide(request, app.entropy.as_ref()) {
            Ok(p) => p,
            Err(denial) => {
                app.store.record_trace(denial.trace()).await?;
                if all_or_nothing {
                    return Err(AppError::Refused(ErrorCode::AccessDenied));
                }
                for i in idx {
                    if let Some(o) = outcome.get_mut(i) {
                        *o = Some(Err(ErrorCode::AccessDenied));
                    }
                }
                continue;
            }
        };
        let wrapped = app
            .store
            .data_key_for(&permit)
            .await?
            .ok_or(AppError::Refused(ErrorCode::DataUnreadable))?;
        let key = app
            .health
            .data_key(patient, &wrapped)
            .map_err(|_| AppError::Refused(ErrorCode::DataUnreadable))?;
        let enrolment = app.store.monitoring_enrolment(patient).await?;
        let thresholds: Option<Rules> = enrolment.and_then(|e| {
            serde_json::from_str(&e.thresholds)
                .ok()
                .map(|t| (e.id, t, parse_reading_hours(&e.reading_hours)))
        });
        // Weight trend: the lightest weight of the last days, for the gain rule.
        let weights: Vec<(OffsetDateTime, f64)> = if thresholds
            .as_ref()
            .is_some_and(|(_, t, _)| t.contains_key(&Measure::Weight))
            && idx.iter().any(|&i| {
                readings
                    .get(i)
                    .is_some_and(|r| r.measure == Measure::Weight)
            }) {
            let earliest = idx
                .iter()
                .filter_map(|&i| readings.get(i))
                .map(|r| r.effective_at)
                .min()
                .unwrap_or(now);
            app.store
                .recent_observations(&permit, Measure::Weight, earliest - WEIGHT_GAIN_WINDOW)
                .await?
                .iter()
                .filter_map(|o| {
                    let row = o.id.to_string();
                    let place = Place {
                        table: "observations",
                        row: &row,
                        column: "value",
                    };
                    let clear = key.open(&o.value, &place).ok()?;
                    let v: f64 = std::str::from_utf8(&clear).ok()?.parse().ok()?;
                    Some((o.effective_at, v))
                })
                .collect()
        } else {
            Vec::new()
        };
        // Weights of this same request count too.
        let mut weights = weights;
        weights.extend(
            idx.iter()
                .filter_map(|&i| readings.get(i))
                .filter(|r| r.measure == Measure::Weight)
                .map(|r| (r.effective_at, r.value)),
        );
        let mut rows = Vec::with_capacity(idx.len());
        for &i in &idx {
            let Some(r) = readings.get(i) else { continue };
            let id = AuditEventId::generate(now, app.entropy.as_ref()).as_uuid();
            let row = id.to_string();
            let value = key.seal(
                r.value.to_string().as_bytes(),
                &Place {
                    table: "observations",
                    row: &row,
                    column: "value",
                },
                app.entropy.as_ref(),
            );
            if let Some((enrolment, t, hours)) = &thresholds {
                alerts.extend(alerts_for(app, r, id, *enrolment, t, *hours, now));
                if r.measure == Measure::Weight
                    && let Some(lightest) = weights
                        .iter()
                        .filter(|(at, _)| {
                            *at < r.effective_at && r.effective_at - *at <= WEIGHT_GAIN_WINDOW
                        })
                        .map(|(_, v)| *v)
                        .reduce(f64::min)
                    && r.value - lightest >= WEIGHT_GAIN_KG
                {
                    let local = app.settings.anomaly.local(now).hour();
                    alerts.push(NewAlert {
                        id: AuditEventId::generate(now, app.entropy.as_ref()).as_uuid(),
                        patient: r.patient,
                        enrolment: *enrolment,
                        observation: Some(id),
                        rule: "trend_weight_gain".to_owned(),
                        measure: Some(Measure::Weight),
                        severity: Severity::High,
                        opened_at: now,
                        outside_hours: hours.is_some_and(|(a, b)| local < a || local >= b),
                    });
                }
            }
            rows.push(NewObservation {
                id,
                measure: r.measure,
                effective_at: r.effective_at,
                source: source.clone(),
                value,
                received_at: now,
            });
        }
        group_index.push((idx, rows.iter().map(|o| o.id).collect::<Vec<_>>()));
        groups.push((permit, rows));
    }
    if !groups.is_empty() {
        let raised = !alerts.is_empty();
        let inserted = app.store.insert_observations(groups, alerts).await?;
        if raised {
            announce(app).await;
        }
        for ((idx, ids), flags) in group_index.into_iter().zip(inserted) {
            for ((i, id), new) in idx.into_iter().zip(ids).zip(flags) {
                if let Some(o) = outcome.get_mut(i) {
                    *o = Some(Ok(if new {
                        Stored::Created(id)
                    } else {
                        Stored::Duplicate
                    }));
                }
            }
        }
    }
    Ok(outcome
        .into_iter()
        .map(|o| o.unwrap_or(Err(ErrorCode::Internal)))
        .collect())
}

/// Tells every node's monitoring boards that alerts changed (ids only, never health data).
pub async fn announce(app: &App) {
    if let Err(e) = app
        .store
        .bus()
        .publish(ALERTS_TOPIC, serde_json::json!({}))
        .await
    {
        tracing::warn!(error = %e, "could not announce an alert change");
    }
}

/// The event-bus topic of alert changes.
pub const ALERTS_TOPIC: &str = "monitoring.alerts";
