//! Consents (GDPR-3) and clinical notes (sealed text), each behind its permit.

use galien_access::{Action, Permit};
use galien_core::ids::{ConsentId, NoteId, PatientId, UserId};
use galien_core::patient::{ConsentMeans, ConsentSubject};
use time::OffsetDateTime;

use super::{require, trace_of, traced_tx};
use crate::identity::{Cols, corrupt};
use crate::sql::Part;
use crate::tokens::to_micros;
use crate::{Store, StoreError};
use std::sync::LazyLock;

/// A consent to record.
#[derive(Debug, Clone)]
pub struct NewConsent {
    /// Its id.
    pub id: ConsentId,
    /// About what.
    pub subject: ConsentSubject,
    /// Given (`true`) or refused.
    pub given: bool,
    /// How.
    pub means: ConsentMeans,
    /// Recorded by.
    pub recorded_by: UserId,
    /// When.
    pub recorded_at: OffsetDateTime,
}

/// A stored consent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Consent {
    /// Its id.
    pub id: ConsentId,
    /// The patient.
    pub patient: PatientId,
    /// About what.
    pub subject: ConsentSubject,
    /// Given or refused.
    pub given: bool,
    /// How.
    pub means: ConsentMeans,
    /// Recorded by.
    pub recorded_by: UserId,
    /// Their display name.
    pub recorded_by_name: String,
    /// When.
    pub recorded_at: OffsetDateTime,
    /// Withdrawn at.
    pub withdrawn_at: Option<OffsetDateTime>,
}

/// A clinical note to add (body sealed by the caller).
#[derive(Debug, Clone)]
pub struct NewNote {
    /// Its id.
    pub id: NoteId,
    /// The author.
    pub author: UserId,
    /// When.
    pub created_at: OffsetDateTime,
    /// Sealed body.
    pub body: Vec<u8>,
}

/// A stored clinical note.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    /// Its id.
    pub id: NoteId,
    /// The author.
    pub author: UserId,
    /// Their display name.
    pub author_name: String,
    /// When.
    pub created_at: OffsetDateTime,
    /// Written under an emergency access.
    pub emergency: bool,
    /// Sealed body.
    pub body: Vec<u8>,
}

/// A patient's consents, newest first.
pub(super) const CONSENTS_PART: Part = Part {
    columns: "c.id, c.patient_id, c.subject, c.decision, c.means, c.recorded_by, u.display_name, \
              c.recorded_at, c.withdrawn_at",
    types: &[
        "uuid", "uuid", "text", "text", "text", "uuid", "text", "bigint", "bigint",
    ],
    from: "consents c JOIN users u ON u.id = c.recorded_by",
    filter: "c.patient_id = $1",
    order: "c.recorded_at DESC",
    limit: None,
};
static CONSENTS: LazyLock<String> = LazyLock::new(|| CONSENTS_PART.alone());

/// Consents in [`CONSENTS_PART`]'s order, newest first, when they were read without it.
pub(super) fn consents_in_order(consents: &mut [Consent]) {
    consents.sort_by_key(|c| std::cmp::Reverse(c.recorded_at));
}

/// A patient's clinical notes, newest first.
pub(super) const NOTES_PART: Part = Part {
    columns: "n.id, n.author, u.display_name, n.created_at, n.emergency, n.body",
    types: &["uuid", "uuid", "text", "bigint", "bigint", "bytea"],
    from: "clinical_notes n JOIN users u ON u.id = n.author",
    filter: "n.patient_id = $1",
    order: "n.created_at DESC",
    limit: Some(200),
};
static NOTES: LazyLock<String> = LazyLock::new(|| NOTES_PART.alone());

/// Notes in [`NOTES_PART`]'s order, newest first, when they were read without it.
pub(super) fn notes_in_order(notes: &mut [Note]) {
    notes.sort_by_key(|n| std::cmp::Reverse(n.created_at));
}

pub(super) fn consent_from_row<R: Cols>(r: &R) -> Result<Consent, StoreError> {
    Ok(Consent {
        id: ConsentId::from_uuid(r.uuid(0)?),
        patient: PatientId::from_uuid(r.uuid(1)?),
        subject: ConsentSubject::parse(&r.text(2)?).ok_or_else(|| corrupt("consent subject"))?,
        given: r.text(3)? == "given",
        means: ConsentMeans::parse(&r.text(4)?).ok_or_else(|| corrupt("consent means"))?,
        recorded_by: UserId::from_uuid(r.uuid(5)?),
        recorded_by_name: r.text(6)?,
        recorded_at: r.time(7)?,
        withdrawn_at: r.opt_time(8)?,
    })
}

pub(super) fn note_from_row<R: Cols>(r: &R) -> Result<Note, StoreError> {
    Ok(Note {
        id: NoteId::from_uuid(r.uuid(0)?),
        author: UserId::from_uuid(r.uuid(1)?),
        author_name: r.text(2)?,
        created_at: r.time(3)?,
        emergency: r.int(4)? != 0,
        body: r.bytes(5)?,
    })
}

impl Store {
    /// The patient's consents, newest first, under a `consent.read` permit.
    pub async fn consents(&self, permit: Permit) -> Result<Vec<Consent>, StoreError> {
        let id = require(&permit, &[Action::ConsentRead])?;
        traced_tx!(self, trace_of(&permit), |conn| {
            let rows = sqlx::query(CONSENTS.as_str())
                .bind(id.as_uuid())
                .fetch_all(&mut *conn)
                .await?;
            rows.iter()
                .map(consent_from_row)
                .collect::<Result<Vec<_>, _>>()
        })
    }

    /// Records a consent (or a refusal), under a `consent.record` permit.
    pub async fn record_consent(&self, permit: Permit, c: NewConsent) -> Result<(), StoreError> {
        let id = require(&permit, &[Action::ConsentRecord])?;
        let at = to_micros(c.recorded_at)?;
        traced_tx!(self, trace_of(&permit), |conn| {
            sqlx::query(
                "INSERT INTO consents (id, patient_id, subject, decision, means, recorded_by, \
                 recorded_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(c.id.as_uuid())
            .bind(id.as_uuid())
            .bind(c.subject.as_str())
            .bind(if c.given { "given" } else { "refused" })
            .bind(c.means.as_str())
            .bind(c.recorded_by.as_uuid())
            .bind(at)
            .execute(&mut *conn)
            .await?;
            Ok::<(), StoreError>(())
        })
    }

    /// Withdraws a consent of the permit's patient. `false` if already withdrawn or absent.
    pub async fn withdraw_consent(
        &self,
        permit: Permit,
        consent: ConsentId,
        by: UserId,
        at: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let id = require(&permit, &[Action::ConsentRecord])?;
        let at = to_micros(at)?;
        traced_tx!(self, trace_of(&permit), |conn| {
            let done = sqlx::query(
                "UPDATE consents SET withdrawn_at = $3, withdrawn_by = $4 \
                 WHERE id = $1 AND patient_id = $2 AND withdrawn_at IS NULL",
            )
            .bind(consent.as_uuid())
            .bind(id.as_uuid())
            .bind(at)
            .bind(by.as_uuid())
            .execute(&mut *conn)
            .await?;
            Ok::<_, StoreError>(done.rows_affected() == 1)
        })
    }

    /// The patient's clinical notes, newest first, under a `record.read` permit.
    pub async fn clinical_notes(&self, permit: Permit) -> Result<Vec<Note>, StoreError> {
        let id = require(&permit, &[Action::RecordRead])?;
        traced_tx!(self, trace_of(&permit), |conn| {
            let rows = sqlx::query(NOTES.as_str())
                .bind(id.as_uuid())
                .fetch_all(&mut *conn)
                .await?;
            rows.iter()
                .map(note_from_row)
                .collect::<Result<Vec<_>, _>>()
        })
    }

    /// Adds a clinical note under a `record.write` permit (flagged when written under an emergency
    /// access).
    pub async fn add_clinical_note(&self, permit: Permit, n: NewNote) -> Result<(), StoreError> {
        let id = require(&permit, &[Action::RecordWrite])?;
        let emergency = i64::from(permit.is_emergency());
        let at = to_micros(n.created_at)?;
        traced_tx!(self, trace_of(&permit), |conn| {
            sqlx::query(
                "INSERT INTO clinical_notes (id, patient_id, author, created_at, emergency, body) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(n.id.as_uuid())
            .bind(id.as_uuid())
            .bind(n.author.as_uuid())
            .bind(at)
            .bind(emergency)
            .bind(n.body.clone())
            .execute(&mut *conn)
            .await?;
            Ok::<(), StoreError>(())
        })
    }
}
