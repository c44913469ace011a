//! The missing-data rule (ACT-3): a measure of the patient's programme with no value for
//! [`MISSING_DAYS`] days opens an alert (a silent scale can mean a patient too ill to weigh
//! themselves). Run periodically by the server.

use galien_core::ids::AuditEventId;
use galien_core::measure::Measure;
use galien_store::{NewAlert, Severity};
use time::Duration;

use super::programmes::{Thresholds, parse_reading_hours};
use crate::{App, AppError};

/// Days without a value that open an alert.
pub const MISSING_DAYS: i64 = 2;

/// Checks every active enrolment; returns how many alerts were opened.
pub async fn scan(app: &App) -> Result<usize, AppError> {
    let now = app.clock.now();
    let local = app.settings.anomaly.local(now).hour();
    let mut alerts = Vec::new();
    for e in app.store.active_enrolments().await? {
        // A patient enrolled recently has not had the time to be silent.
        if now - e.since < Duration::days(MISSING_DAYS) {
            continue;
        }
        let thresholds: Thresholds = serde_json::from_str(&e.thresholds).unwrap_or_default();
        let hours = parse_reading_hours(&e.reading_hours);
        for measure in thresholds.keys().copied().collect::<Vec<Measure>>() {
            let last = app.store.last_observation_at(e.patient, measure).await?;
            if last.is_none_or(|at| now - at > Duration::days(MISSING_DAYS)) {
                alerts.push(NewAlert {
                    id: AuditEventId::generate(now, app.entropy.as_ref()).as_uuid(),
                    patient: e.patient,
                    enrolment: e.id,
                    observation: None,
                    rule: "missing_data".to_owned(),
                    measure: Some(measure),
                    severity: Severity::Medium,
                    opened_at: now,
                    outside_hours: hours.is_some_and(|(a, b)| local < a || local >= b),
                });
            }
        }
    }
    if alerts.is_empty() {
        return Ok(0);
    }
    let opened = app.store.open_system_alerts(alerts).await?;
    if opened > 0 {
        super::ingest::announce(app).await;
    }
    Ok(opened)
}
