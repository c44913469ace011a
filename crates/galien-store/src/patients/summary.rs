//! The patient summary: the identity row and each section the actor may see, every section under its
//! own permit, read in one statement (one snapshot, one round trip on both engines), and every
//! permit's trace committed together, with the other plain traces of the moment, before the rows are
//! returned — the same records in the trail as four separate reads.

use std::sync::LazyLock;

use super::care::{TEAM_PART, rel_from_row, team_in_order};
use super::consents::{
    CONSENTS_PART, NOTES_PART, consent_from_row, consents_in_order, note_from_row, notes_in_order,
};
use super::records::{PATIENT_PART, from_row};
use super::{CareRelationship, Consent, Note, SealedPatient, require};
use crate::identity::{Cols, Shifted, corrupt};
use crate::sql::{self, Engine, Part, Parts};
use crate::teleconsultation::{APPOINTMENTS_PART, appointment_from_row, appointments_in_order};
use crate::telemonitoring::{ENROLMENT_PART, enrolment_from_row};
use crate::{Appointment, Enrolment, Store, StoreError, point_read};
use galien_access::{Action, Permit};

/// The permits of a summary: the identity, then each optional section.
#[derive(Debug)]
pub struct SummaryPermits {
    /// `patient.identity.read`; it also shows the patient's appointments (metadata only: the
    /// reasons are read under their own permits).
    pub identity: Permit,
    /// `record.read` for the clinical notes; it also shows the current telemonitoring enrolment.
    pub notes: Option<Permit>,
    /// `careteam.read`.
    pub team: Option<Permit>,
    /// `consent.read`.
    pub consents: Option<Permit>,
}

/// What a summary read returns (sealed values, as stored).
#[derive(Debug, Clone)]
pub struct SummaryRows {
    /// The patient row.
    pub patient: SealedPatient,
    /// Clinical notes, when permitted.
    pub notes: Option<Vec<Note>>,
    /// Care relationships, when permitted.
    pub team: Option<Vec<CareRelationship>>,
    /// Consents, when permitted.
    pub consents: Option<Vec<Consent>>,
    /// The current telemonitoring enrolment, when the notes are permitted (`Some(None)`: none).
    pub enrolment: Option<Option<Enrolment>>,
    /// The appointments, newest first (at most 200).
    pub appointments: Vec<Appointment>,
}

/// The parts of the statement, in the order of the section numbers `s` of its rows.
const PARTS: [&Part; 6] = [
    &PATIENT_PART,
    &NOTES_PART,
    &TEAM_PART,
    &CONSENTS_PART,
    &ENROLMENT_PART,
    &APPOINTMENTS_PART,
];

/// The statement on the engine of `C`: `$1` the patient; `$2` notes and enrolment, `$3` team, `$4`
/// consents (booleans). Its parts are those of [`PARTS`], in order.
fn statement<C: Engine>() -> Parts {
    sql::parts::<C>(&[
        (PARTS[0], None),
        (PARTS[1], Some(2)),
        (PARTS[2], Some(3)),
        (PARTS[3], Some(4)),
        (PARTS[4], Some(2)),
        (PARTS[5], None),
    ])
}

static SQLITE: LazyLock<Parts> = LazyLock::new(statement::<sqlx::SqliteConnection>);
static POSTGRES: LazyLock<Parts> = LazyLock::new(statement::<sqlx::PgConnection>);

/// A row of the summary statement on one engine: the statement it belongs to says where each
/// part's columns are.
trait SummaryRow: Cols {
    fn statement() -> &'static Parts;
}

impl SummaryRow for crate::sqlite::inline::Row {
    fn statement() -> &'static Parts {
        &SQLITE
    }
}

impl SummaryRow for sqlx::postgres::PgRow {
    fn statement() -> &'static Parts {
        &POSTGRES
    }
}

/// Sorts the statement's rows into their sections, each in its order.
fn summary_of<R: SummaryRow>(
    rows: &[R],
    notes: bool,
    team: bool,
    consents: bool,
) -> Result<SummaryRows, StoreError> {
    let at = &R::statement().columns;
    let mut patient = None;
    let (mut n, mut t, mut c, mut e, mut a) = (vec![], vec![], vec![], None, vec![]);
    for row in rows {
        let section = usize::try_from(row.int(0)?).map_err(|_| corrupt("summary section"))?;
        let cols = Shifted(
            row,
            at.get(section)
                .ok_or_else(|| corrupt("summary section"))?
                .as_slice(),
        );
        match section {
            0 => patient = Some(from_row(&cols, false)?),
            1 => n.push(note_from_row(&cols)?),
            2 => t.push(rel_from_row(&cols)?),
            3 => c.push(consent_from_row(&cols)?),
            4 => e = Some(enrolment_from_row(&cols)?),
            _ => a.push(appointment_from_row(&cols)?),
        }
    }
    // The statement promises no order (see `sql::parts`): each section is put in its own.
    notes_in_order(&mut n);
    team_in_order(&mut t);
    consents_in_order(&mut c);
    appointments_in_order(&mut a);
    Ok(SummaryRows {
        patient: patient.ok_or(StoreError::NotFound)?,
        notes: notes.then_some(n),
        team: team.then_some(t),
        consents: consents.then_some(c),
        enrolment: notes.then_some(e),
        appointments: a,
    })
}

impl Store {
    /// Reads the summary sections the permits allow, all for the same patient, in one statement,
    /// and returns them once all their traces are durable.
    pub async fn patient_summary(&self, p: SummaryPermits) -> Result<SummaryRows, StoreError> {
        let id = require(&p.identity, &[Action::IdentityRead])?;
        let check = |permit: &Option<Permit>, action: Action| -> Result<bool, StoreError> {
            match permit {
                None => Ok(false),
                Some(permit) if require(permit, &[action])? == id => Ok(true),
                Some(_) => Err(StoreError::Permit("permits for different patients".into())),
            }
        };
        let (notes, team, consents) = (
            check(&p.notes, Action::RecordRead)?,
            check(&p.team, Action::CareTeamRead)?,
            check(&p.consents, Action::ConsentRead)?,
        );
        let traces: Vec<_> = std::iter::once(&p.identity)
            .chain(p.notes.iter())
            .chain(p.team.iter())
            .chain(p.consents.iter())
            .map(|permit| permit.trace().clone())
            .collect();
        let uuid = id.as_uuid();
        // One statement: one snapshot on both engines. Its traces are appended
        // with the other plain traces of the moment (group commit), while the statement runs; the
        // rows are returned once the traces have committed: a failed commit returns its error,
        // never the data.
        let read = async {
            point_read!(
                self,
                sqlite: SQLITE.sql.as_str(),
                postgres: POSTGRES.sql.as_str(),
                [uuid, notes, team, consents],
                |rows| { summary_of(rows, notes, team, consents) }
            )
        };
        // The traces' append first: its job is with the writer before the read (on SQLite, on
        // this thread) begins.
        let (traced, rows) = tokio::join!(self.append_audit_all(traces), read);
        traced?;
        rows
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlx::{Connection, Row, SqliteConnection};

    /// The summary statement, on the schema the migrations build, reads every section in its
    /// order from an index: no sort in a temporary B-tree (each one an allocated pager, opened and
    /// closed on every summary, a few per cent of the node's time under load — README,
    /// Performance). Migration 0010 gave the appointments and the current enrolment their order;
    /// a part whose `ORDER BY` no index serves fails here.
    #[tokio::test]
    async fn the_summary_statement_sorts_nothing_in_a_temporary_b_tree() {
        let mut conn = SqliteConnection::connect("sqlite::memory:").await.unwrap();
        crate::migrate::run_sqlite(&mut conn).await.unwrap();
        let plan: Vec<String> = sqlx::query(sqlx::AssertSqlSafe(format!(
            "EXPLAIN QUERY PLAN {}",
            SQLITE.sql
        )))
        .bind(uuid::Uuid::nil())
        .bind(true)
        .bind(true)
        .bind(true)
        .fetch_all(&mut conn)
        .await
        .unwrap()
        .iter()
        .map(|row| row.get::<String, _>("detail"))
        .collect();
        // Every part is there (one search per table read), and none sorts.
        for table in [
            "patients",
            "clinical_notes",
            "care_relationships",
            "consents",
            "monitoring_enrolments",
            "appointments",
        ] {
            assert!(
                plan.iter().any(|d| searches(d, table)),
                "{table} not searched by an index: {plan:#?}"
            );
        }
        assert!(
            !plan.iter().any(|d| d.contains("TEMP B-TREE")),
            "a part sorts in a temporary B-tree: {plan:#?}"
        );
    }

    /// Whether a plan line searches `table` through an index (by its alias in the summary's parts).
    fn searches(detail: &str, table: &str) -> bool {
        let alias = match table {
            "patients" => "p",
            "clinical_notes" => "n",
            "care_relationships" => "r",
            "consents" => "c",
            "monitoring_enrolments" => "e",
            _ => "a",
        };
        detail.starts_with(&format!("SEARCH {alias} USING "))
    }
}
