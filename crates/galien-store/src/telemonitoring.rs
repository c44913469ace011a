//! Telemonitoring persistence (ACT-3): enrolments, devices enrolled for a patient, measurements
//! (values sealed by the application with the patient's data key; a duplicate — same patient,
//! source, measure and time — is stored once), alerts.

use galien_access::{Action, Permit, Relationship, Relationships};
use galien_core::ids::{PatientId, UserId};
use galien_core::measure::Measure;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::identity::{Cols, corrupt};
use crate::incidents::Severity;
use crate::patients::{NewCareRelationship, insert_relationship, read_only, require, traced_tx};
use crate::sql::Part;
use crate::tokens::to_micros;
use crate::{Store, StoreError};
use std::sync::LazyLock;

/// An enrolment to record.
#[derive(Debug, Clone)]
pub struct NewEnrolment {
    /// Its id.
    pub id: Uuid,
    /// The patient.
    pub patient: PatientId,
    /// The programme (template name).
    pub programme: String,
    /// Thresholds in force, JSON.
    pub thresholds: String,
    /// Reading hours, e.g. `8-18`.
    pub reading_hours: String,
    /// The enrolling médecin.
    pub enrolled_by: UserId,
    /// From when.
    pub since: OffsetDateTime,
}

/// A stored enrolment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Enrolment {
    /// Its id.
    pub id: Uuid,
    /// The patient.
    pub patient: PatientId,
    /// The programme.
    pub programme: String,
    /// Thresholds, JSON.
    pub thresholds: String,
    /// Reading hours.
    pub reading_hours: String,
    /// By whom.
    pub enrolled_by: UserId,
    /// Since.
    pub since: OffsetDateTime,
}

/// A measurement to store.
#[derive(Debug, Clone)]
pub struct NewObservation {
    /// Its id.
    pub id: Uuid,
    /// What.
    pub measure: Measure,
    /// When it was measured.
    pub effective_at: OffsetDateTime,
    /// `device:<client>` or `patient`.
    pub source: String,
    /// The sealed value.
    pub value: Vec<u8>,
    /// When Galien received it.
    pub received_at: OffsetDateTime,
}

/// A stored measurement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredObservation {
    /// Its id.
    pub id: Uuid,
    /// The patient.
    pub patient: PatientId,
    /// What.
    pub measure: Measure,
    /// When.
    pub effective_at: OffsetDateTime,
    /// Source.
    pub source: String,
    /// Sealed value.
    pub value: Vec<u8>,
}

/// An alert to open (kept only if its observation was new).
#[derive(Debug, Clone)]
pub struct NewAlert {
    /// Its id.
    pub id: Uuid,
    /// The patient.
    pub patient: PatientId,
    /// The enrolment.
    pub enrolment: Uuid,
    /// The measurement that fired it.
    pub observation: Option<Uuid>,
    /// The rule (`threshold_high`, `threshold_low`…).
    pub rule: String,
    /// The measure.
    pub measure: Option<Measure>,
    /// How urgent.
    pub severity: Severity,
    /// When.
    pub opened_at: OffsetDateTime,
    /// Raised outside the reading hours.
    pub outside_hours: bool,
}

/// A stored alert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alert {
    /// Its id.
    pub id: Uuid,
    /// The patient.
    pub patient: PatientId,
    /// The rule.
    pub rule: String,
    /// The measure.
    pub measure: Option<Measure>,
    /// How urgent.
    pub severity: Severity,
    /// When.
    pub opened_at: OffsetDateTime,
    /// Outside reading hours.
    pub outside_hours: bool,
    /// `open`, `acknowledged` or `closed`.
    pub status: String,
}

fn observation_from_row<R: Cols>(r: &R) -> Result<StoredObservation, StoreError> {
    Ok(StoredObservation {
        id: r.uuid(0)?,
        patient: PatientId::from_uuid(r.uuid(1)?),
        measure: Measure::parse(&r.text(2)?).ok_or_else(|| corrupt("measure"))?,
        effective_at: r.time(3)?,
        source: r.text(4)?,
        value: r.bytes(5)?,
    })
}

/// Measurements inserted by one statement (7 parameters each: well under SQLite's oldest limit of
/// 999 bound parameters).
const OBSERVATIONS_PER_INSERT: usize = 64;

/// The multi-row insert of `rows` measurements on `conn`'s engine, returning the ids of those
/// that were new.
fn insert_observations_sql<C: crate::sql::Engine>(_conn: &C, rows: usize) -> String {
    format!(
        "INSERT INTO observations (id, patient_id, measure, effective_at, source, value, \
         received_at) VALUES {} ON CONFLICT (patient_id, source, measure, effective_at) \
         DO NOTHING RETURNING id",
        crate::sql::values_for::<C>(rows, 7)
    )
}

pub(crate) const ENROLMENT_PART: Part = Part {
    columns: "e.id, e.patient_id, e.programme, e.thresholds, e.reading_hours, e.enrolled_by, \
              e.since",
    types: &["uuid", "uuid", "text", "text", "text", "uuid", "bigint"],
    from: "monitoring_enrolments e",
    filter: "e.patient_id = $1 AND e.ended_at IS NULL",
    order: "e.since DESC",
    limit: Some(1),
};
static ENROLMENT: LazyLock<String> = LazyLock::new(|| ENROLMENT_PART.alone());

pub(crate) fn enrolment_from_row<R: Cols>(r: &R) -> Result<Enrolment, StoreError> {
    Ok(Enrolment {
        id: r.uuid(0)?,
        patient: PatientId::from_uuid(r.uuid(1)?),
        programme: r.text(2)?,
        thresholds: r.text(3)?,
        reading_hours: r.text(4)?,
        enrolled_by: UserId::from_uuid(r.uuid(5)?),
        since: r.time(6)?,
    })
}

impl Store {
    /// Enrols the permit's patient in a programme (under a `record.write` permit) and gives each
    /// named professional a monitoring relationship. One active enrolment per programme.
    pub async fn enrol_monitoring(
        &self,
        permit: Permit,
        e: NewEnrolment,
        monitors: Vec<NewCareRelationship>,
    ) -> Result<(), StoreError> {
        let id = require(&permit, &[Action::RecordWrite])?;
        if e.patient != id || monitors.iter().any(|m| m.patient != id) {
            return Err(StoreError::Permit(
                "the permit is for another patient".into(),
            ));
        }
        let since = to_micros(e.since)?;
        traced_tx!(self, vec![permit.trace().clone()], |conn| {
            sqlx::query(
                "INSERT INTO monitoring_enrolments (id, patient_id, programme, thresholds, \
                 reading_hours, enrolled_by, since) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(e.id)
            .bind(e.patient.as_uuid())
            .bind(e.programme.clone())
            .bind(e.thresholds.clone())
            .bind(e.reading_hours.clone())
            .bind(e.enrolled_by.as_uuid())
            .bind(since)
            .execute(&mut *conn)
            .await
            .map_err(|err| {
                crate::identity::unique_violation(
                    err,
                    &[(
                        "monitoring_enrolments_active",
                        "monitoring_enrolments.patient_id, monitoring_enrolments.programme",
                    )],
                )
            })?;
            for m in &monitors {
                insert_relationship!(conn, m);
            }
            Ok::<(), StoreError>(())
        })
    }

    /// The patient's current enrolment (the newest active one).
    pub async fn monitoring_enrolment(
        &self,
        patient: PatientId,
    ) -> Result<Option<Enrolment>, StoreError> {
        read_only!(self, |conn| {
            let row = sqlx::query(ENROLMENT.as_str())
                .bind(patient.as_uuid())
                .fetch_optional(&mut *conn)
                .await?;
            row.as_ref().map(enrolment_from_row).transpose()
        })
    }

    /// Enrols a device (machine client) for the permit's patient, under a `record.write` permit.
    pub async fn attach_device(
        &self,
        permit: Permit,
        client: Uuid,
        enrolment: Uuid,
        since: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let id = require(&permit, &[Action::RecordWrite])?;
        let since = to_micros(since)?;
        traced_tx!(self, vec![permit.trace().clone()], |conn| {
            sqlx::query(
                "INSERT INTO monitoring_devices (client_id, patient_id, enrolment_id, since) \
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(client)
            .bind(id.as_uuid())
            .bind(enrolment)
            .bind(since)
            .execute(&mut *conn)
            .await?;
            Ok::<(), StoreError>(())
        })
    }

    /// A device's relationships with a patient: monitoring while it is enrolled for them.
    pub async fn device_relationships(
        &self,
        client: Uuid,
        patient: PatientId,
        now: OffsetDateTime,
    ) -> Result<Relationships, StoreError> {
        let now = to_micros(now)?;
        read_only!(self, |conn| {
            let row = sqlx::query(
                "SELECT 1 FROM monitoring_devices d JOIN monitoring_enrolments e \
                 ON e.id = d.enrolment_id WHERE d.client_id = $1 AND d.patient_id = $2 \
                 AND d.since <= $3 AND d.ended_at IS NULL AND e.ended_at IS NULL LIMIT 1",
            )
            .bind(client)
            .bind(patient.as_uuid())
            .bind(now)
            .fetch_optional(&mut *conn)
            .await?;
            Ok::<_, StoreError>(if row.is_some() {
                Relationships::only(Relationship::Monitoring)
            } else {
                Relationships::none()
            })
        })
    }

    /// Stores measurements, each group under its `observation.write` permit, all in one transaction
    /// with the permits' traces. Returns, per group, which measurements were new (a duplicate is
    /// skipped). An alert is opened only if its measurement was new and no alert of the same
    /// patient, rule and measure is still open.
    pub async fn insert_observations(
        &self,
        groups: Vec<(Permit, Vec<NewObservation>)>,
        alerts: Vec<NewAlert>,
    ) -> Result<Vec<Vec<bool>>, StoreError> {
        let mut traces = Vec::with_capacity(groups.len());
        let mut rows = Vec::with_capacity(groups.len());
        for (permit, obs) in &groups {
            let patient = require(permit, &[Action::ObservationWrite, Action::RecordWrite])?;
            traces.push(permit.trace().clone());
            let mut group = Vec::with_capacity(obs.len());
            for o in obs {
                group.push((
                    o.id,
                    patient.as_uuid(),
                    o.measure.as_str(),
                    to_micros(o.effective_at)?,
                    o.source.clone(),
                    o.value.clone(),
                    to_micros(o.received_at)?,
                ));
            }
            rows.push(group);
        }
        let mut alert_rows = Vec::with_capacity(alerts.len());
        for a in &alerts {
            alert_rows.push((a.clone(), to_micros(a.opened_at)?));
        }
        traced_tx!(self, traces, |conn| {
            // One multi-row INSERT per OBSERVATIONS_PER_INSERT measurements; a duplicate is
            // skipped, and what was new is what the statement returns.
            let mut new_ids = std::collections::HashSet::new();
            let all: Vec<_> = rows.iter().flatten().collect();
            for chunk in all.chunks(OBSERVATIONS_PER_INSERT) {
                let text = insert_observations_sql(&*conn, chunk.len());
                let mut query = sqlx::query_scalar::<_, Uuid>(sqlx::AssertSqlSafe(text));
                for (id, patient, measure, at, source, value, received) in chunk {
                    query = query
                        .bind(*id)
                        .bind(*patient)
                        .bind(*measure)
                        .bind(*at)
                        .bind(source.as_str())
                        .bind(value.as_slice())
                        .bind(*received);
                }
                new_ids.extend(query.fetch_all(&mut *conn).await?);
            }
            let inserted: Vec<Vec<bool>> = rows
                .iter()
                .map(|group| group.iter().map(|row| new_ids.contains(&row.0)).collect())
                .collect();
            for (a, at) in &alert_rows {
                if a.observation.is_some_and(|o| !new_ids.contains(&o)) {
                    continue;
                }
                let open = sqlx::query(
                    "SELECT 1 FROM monitoring_alerts WHERE patient_id = $1 AND rule = $2 \
                     AND measure IS NOT DISTINCT FROM $3 AND status <> 'closed' LIMIT 1",
                )
                .bind(a.patient.as_uuid())
                .bind(a.rule.clone())
                .bind(a.measure.map(Measure::as_str))
                .fetch_optional(&mut *conn)
                .await?;
                if open.is_some() {
                    continue;
                }
                sqlx::query(
                    "INSERT INTO monitoring_alerts (id, patient_id, enrolment_id, observation_id, \
                     rule, measure, severity, opened_at, outside_hours, status) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'open')",
                )
                .bind(a.id)
                .bind(a.patient.as_uuid())
                .bind(a.enrolment)
                .bind(a.observation)
                .bind(a.rule.clone())
                .bind(a.measure.map(Measure::as_str))
                .bind(a.severity.as_str())
                .bind(*at)
                .bind(i64::from(a.outside_hours))
                .execute(&mut *conn)
                .await?;
            }
            Ok::<_, StoreError>(inserted)
        })
    }

    /// The patient's measurements of `measure` since `since`, oldest first, under a `record.read`
    /// permit.
    pub async fn observations(
        &self,
        permit: Permit,
        measure: Option<Measure>,
        since: OffsetDateTime,
    ) -> Result<Vec<StoredObservation>, StoreError> {
        let id = require(&permit, &[Action::RecordRead])?;
        let since = to_micros(since)?;
        traced_tx!(self, vec![permit.trace().clone()], |conn| {
            let rows = sqlx::query(
                "SELECT id, patient_id, measure, effective_at, source, value FROM observations \
                 WHERE patient_id = $1 AND ($2 IS NULL OR measure = $2) AND effective_at >= $3 \
                 ORDER BY effective_at, id LIMIT 10000",
            )
            .bind(id.as_uuid())
            .bind(measure.map(Measure::as_str))
            .bind(since)
            .fetch_all(&mut *conn)
            .await?;
            rows.iter()
                .map(observation_from_row)
                .collect::<Result<Vec<_>, StoreError>>()
        })
    }

    /// Alerts not closed, most severe and oldest first (metadata: the board reads each patient
    /// through the gate).
    pub async fn open_alerts(&self) -> Result<Vec<Alert>, StoreError> {
        read_only!(self, |conn| {
            let rows = sqlx::query(
                "SELECT id, patient_id, rule, measure, severity, opened_at, outside_hours, status \
                 FROM monitoring_alerts WHERE status <> 'closed' ORDER BY \
                 CASE severity WHEN 'high' THEN 0 WHEN 'medium' THEN 1 ELSE 2 END, opened_at \
                 LIMIT 1000",
            )
            .fetch_all(&mut *conn)
            .await?;
            rows.iter()
                .map(|r| {
                    Ok(Alert {
                        id: r.uuid(0)?,
                        patient: PatientId::from_uuid(r.uuid(1)?),
                        rule: r.text(2)?,
                        measure: r.opt_text(3)?.as_deref().and_then(Measure::parse),
                        severity: Severity::parse(&r.text(4)?)
                            .ok_or_else(|| corrupt("severity"))?,
                        opened_at: r.time(5)?,
                        outside_hours: r.int(6)? != 0,
                        status: r.text(7)?,
                    })
                })
                .collect::<Result<Vec<_>, StoreError>>()
        })
    }
}

/// What the professional decided about an alert.
#[derive(Debug, Clone)]
pub struct AlertDecision {
    /// The decision code (`call_patient`, `adjust_treatment`, `teleconsultation`, `emergency`,
    /// `no_action`).
    pub decision: String,
    /// A sealed note.
    pub note: Option<Vec<u8>>,
    /// Who.
    pub by: UserId,
    /// When.
    pub at: OffsetDateTime,
}

impl Store {
    /// One alert (metadata), or [`StoreError::NotFound`].
    pub async fn alert(&self, id: Uuid) -> Result<Alert, StoreError> {
        read_only!(self, |conn| {
            let r = sqlx::query(
                "SELECT id, patient_id, rule, measure, severity, opened_at, outside_hours, status \
                 FROM monitoring_alerts WHERE id = $1",
            )
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?
            .ok_or(StoreError::NotFound)?;
            Ok::<_, StoreError>(Alert {
                id: r.uuid(0)?,
                patient: PatientId::from_uuid(r.uuid(1)?),
                rule: r.text(2)?,
                measure: r.opt_text(3)?.as_deref().and_then(Measure::parse),
                severity: Severity::parse(&r.text(4)?).ok_or_else(|| corrupt("severity"))?,
                opened_at: r.time(5)?,
                outside_hours: r.int(6)? != 0,
                status: r.text(7)?,
            })
        })
    }

    /// Acknowledges an open alert of the permit's patient (`record.write`). `false` if it was not
    /// open.
    pub async fn acknowledge_alert(
        &self,
        permit: Permit,
        id: Uuid,
        by: UserId,
        at: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let patient = require(&permit, &[Action::RecordWrite])?;
        let at = to_micros(at)?;
        traced_tx!(self, vec![permit.trace().clone()], |conn| {
            let done = sqlx::query(
                "UPDATE monitoring_alerts SET status = 'acknowledged', acknowledged_by = $3, \
                 acknowledged_at = $4 WHERE id = $1 AND patient_id = $2 AND status = 'open'",
            )
            .bind(id)
            .bind(patient.as_uuid())
            .bind(by.as_uuid())
            .bind(at)
            .execute(&mut *conn)
            .await?;
            Ok::<_, StoreError>(done.rows_affected() == 1)
        })
    }

    /// Records the decision and closes an alert of the permit's patient (`record.write`). `false` if
    /// it was already closed.
    pub async fn close_alert(
        &self,
        permit: Permit,
        id: Uuid,
        d: AlertDecision,
    ) -> Result<bool, StoreError> {
        let patient = require(&permit, &[Action::RecordWrite])?;
        let at = to_micros(d.at)?;
        traced_tx!(self, vec![permit.trace().clone()], |conn| {
            let done = sqlx::query(
                "UPDATE monitoring_alerts SET status = 'closed', decision = $3, decision_note = $4, \
                 closed_by = $5, closed_at = $6, \
                 acknowledged_by = COALESCE(acknowledged_by, $5), \
                 acknowledged_at = COALESCE(acknowledged_at, $6) \
                 WHERE id = $1 AND patient_id = $2 AND status <> 'closed'",
            )
            .bind(id)
            .bind(patient.as_uuid())
            .bind(d.decision.clone())
            .bind(d.note.clone())
            .bind(d.by.as_uuid())
            .bind(at)
            .execute(&mut *conn)
            .await?;
            Ok::<_, StoreError>(done.rows_affected() == 1)
        })
    }

    /// Recent measurements of one measure for the patient of a write permit (the sealed values a rule
    /// needs, e.g. a weight trend). Borrowing the permit writes no trace: the write that consumes it
    /// does.
    pub async fn recent_observations(
        &self,
        permit: &Permit,
        measure: Measure,
        since: OffsetDateTime,
    ) -> Result<Vec<StoredObservation>, StoreError> {
        let id = require(permit, &[Action::ObservationWrite, Action::RecordWrite])?;
        let since = to_micros(since)?;
        read_only!(self, |conn| {
            let rows = sqlx::query(
                "SELECT id, patient_id, measure, effective_at, source, value FROM observations \
                 WHERE patient_id = $1 AND measure = $2 AND effective_at >= $3 \
                 ORDER BY effective_at LIMIT 1000",
            )
            .bind(id.as_uuid())
            .bind(measure.as_str())
            .bind(since)
            .fetch_all(&mut *conn)
            .await?;
            rows.iter()
                .map(observation_from_row)
                .collect::<Result<Vec<_>, StoreError>>()
        })
    }
}

impl Store {
    /// Every active enrolment (for the missing-data rule).
    pub async fn active_enrolments(&self) -> Result<Vec<Enrolment>, StoreError> {
        read_only!(self, |conn| {
            let rows = sqlx::query(
                "SELECT id, patient_id, programme, thresholds, reading_hours, enrolled_by, since \
                 FROM monitoring_enrolments WHERE ended_at IS NULL ORDER BY since LIMIT 100000",
            )
            .fetch_all(&mut *conn)
            .await?;
            rows.iter()
                .map(enrolment_from_row)
                .collect::<Result<Vec<_>, _>>()
        })
    }

    /// When the patient's newest measurement of `measure` was taken, if any (metadata).
    pub async fn last_observation_at(
        &self,
        patient: PatientId,
        measure: Measure,
    ) -> Result<Option<OffsetDateTime>, StoreError> {
        read_only!(self, |conn| {
            let row = sqlx::query(
                "SELECT MAX(effective_at) FROM observations WHERE patient_id = $1 AND measure = $2",
            )
            .bind(patient.as_uuid())
            .bind(measure.as_str())
            .fetch_one(&mut *conn)
            .await?;
            row.opt_int(0)?.map(crate::tokens::from_micros).transpose()
        })
    }

    /// Opens system alerts (no measurement behind them), each unless one of the same patient, rule
    /// and measure is still open. Returns how many were opened.
    pub async fn open_system_alerts(&self, alerts: Vec<NewAlert>) -> Result<usize, StoreError> {
        let before = self.open_alerts().await?.len();
        self.insert_observations(Vec::new(), alerts).await?;
        Ok(self.open_alerts().await?.len().saturating_sub(before))
    }
}

impl Store {
    /// Replaces the thresholds of the permit's patient's enrolment (`record.write`). `false` if the
    /// enrolment is not active.
    pub async fn set_enrolment_thresholds(
        &self,
        permit: Permit,
        enrolment: Uuid,
        thresholds: String,
    ) -> Result<bool, StoreError> {
        let patient = require(&permit, &[Action::RecordWrite])?;
        traced_tx!(self, vec![permit.trace().clone()], |conn| {
            let done = sqlx::query(
                "UPDATE monitoring_enrolments SET thresholds = $3 \
                 WHERE id = $1 AND patient_id = $2 AND ended_at IS NULL",
            )
            .bind(enrolment)
            .bind(patient.as_uuid())
            .bind(thresholds.clone())
            .execute(&mut *conn)
            .await?;
            Ok::<_, StoreError>(done.rows_affected() == 1)
        })
    }
}
