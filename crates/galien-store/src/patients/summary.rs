//! The patient summary: the identity row and each section the actor may see, every section under its
//! own permit, read from one snapshot, and every permit's trace committed together, with the other
//! plain traces of the moment, before the rows are returned — the same records in the trail as four
//! separate reads.

use super::care::{TEAM, rel_from_row};
use super::consents::{CONSENTS, NOTES, consent_from_row, note_from_row};
use super::records::{PATIENT, from_row};
use super::{CareRelationship, Consent, Note, SealedPatient, read_only, require};
use crate::{Store, StoreError};
use galien_access::{Action, Permit};

/// The permits of a summary: the identity, then each optional section.
#[derive(Debug)]
pub struct SummaryPermits {
    /// `patient.identity.read`.
    pub identity: Permit,
    /// `record.read` for the clinical notes.
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
}

/// The summary's rows on `$conn` (either engine): the patient, then each section asked for.
macro_rules! summary_rows {
    ($conn:expr, $uuid:expr, $notes:expr, $team:expr, $consents:expr) => {{
        let row = sqlx::query(PATIENT)
            .bind($uuid)
            .fetch_optional(&mut *$conn)
            .await?
            .ok_or(StoreError::NotFound)?;
        let patient = from_row(&row, false)?;
        let notes = if $notes {
            let rows = sqlx::query(NOTES)
                .bind($uuid)
                .fetch_all(&mut *$conn)
                .await?;
            Some(
                rows.iter()
                    .map(note_from_row)
                    .collect::<Result<Vec<_>, _>>()?,
            )
        } else {
            None
        };
        let team = if $team {
            let rows = sqlx::query(TEAM).bind($uuid).fetch_all(&mut *$conn).await?;
            Some(
                rows.iter()
                    .map(rel_from_row)
                    .collect::<Result<Vec<_>, _>>()?,
            )
        } else {
            None
        };
        let consents = if $consents {
            let rows = sqlx::query(CONSENTS)
                .bind($uuid)
                .fetch_all(&mut *$conn)
                .await?;
            Some(
                rows.iter()
                    .map(consent_from_row)
                    .collect::<Result<Vec<_>, _>>()?,
            )
        } else {
            None
        };
        SummaryRows {
            patient,
            notes,
            team,
            consents,
        }
    }};
}

impl Store {
    /// Reads the summary sections the permits allow, all for the same patient, from one snapshot,
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
        // The rows come from one read transaction (one snapshot) of the read pool; the traces are
        // appended with the other plain traces of the moment (group commit). The rows are returned
        // once the traces have committed: a failed commit returns its error, never the data.
        let snapshot = match &*self.inner {
            crate::Imp::Sqlite(_) => "BEGIN",
            crate::Imp::Postgres(_) => "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
        };
        let rows = read_only!(self, |conn| {
            let mut tx = sqlx::Connection::begin_with(&mut *conn, snapshot).await?;
            let rows = summary_rows!(&mut *tx, uuid, notes, team, consents);
            tx.commit().await?;
            Ok::<_, StoreError>(rows)
        })?;
        self.append_audit_all(traces).await?;
        Ok(rows)
    }
}
