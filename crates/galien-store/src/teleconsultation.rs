//! Teleconsultation persistence (ACT-1): appointments (one call room each), the people of each call,
//! chat messages and documents (sealed by the application with the patient's data key), documents
//! sent to a professional, and the relay of large signaling messages between nodes.
//!
//! Every read or write of clinical content (reason, messages, documents) takes a permit and commits
//! its trace in the same transaction; room metadata (who, when, status) is read without one, as the
//! monitoring board reads its alerts, and each page asks the gate before showing anything of it.

use galien_access::{Action, Permit, Relationship, Relationships};
use galien_core::consultation::{
    AppointmentStatus, DocumentKind, ParticipantKind, ParticipantState,
};
use galien_core::ids::{AppointmentId, DocumentId, MessageId, ParticipantId, PatientId, UserId};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::identity::{Cols, corrupt};
use crate::patients::{NewCareRelationship, insert_relationship, read_only, require, traced_tx};
use crate::sql::Part;
use crate::tokens::to_micros;
use crate::{Store, StoreError, point_read};
use std::sync::LazyLock;

/// An appointment to book.
#[derive(Debug, Clone)]
pub struct NewAppointment {
    /// Its id.
    pub id: AppointmentId,
    /// The patient.
    pub patient: PatientId,
    /// The médecin.
    pub practitioner: UserId,
    /// When.
    pub scheduled_at: OffsetDateTime,
    /// How long, in minutes.
    pub duration_minutes: u16,
    /// The reason, sealed.
    pub reason: Vec<u8>,
    /// The médecin the documents are also sent to.
    pub referring: Option<UserId>,
    /// Who booked it.
    pub created_by: UserId,
    /// When it was booked.
    pub created_at: OffsetDateTime,
}

/// A stored appointment (no clinical content: the reason is read under a permit).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Appointment {
    /// Its id.
    pub id: AppointmentId,
    /// The patient.
    pub patient: PatientId,
    /// The médecin.
    pub practitioner: UserId,
    /// The médecin's display name.
    pub practitioner_name: String,
    /// When.
    pub scheduled_at: OffsetDateTime,
    /// Minutes.
    pub duration_minutes: u16,
    /// Status.
    pub status: AppointmentStatus,
    /// The referring médecin, if any.
    pub referring: Option<UserId>,
    /// The consent recorded for it.
    pub consent: Option<Uuid>,
    /// When the call began.
    pub started_at: Option<OffsetDateTime>,
    /// When it ended.
    pub ended_at: Option<OffsetDateTime>,
}

/// A participant to add.
#[derive(Debug, Clone)]
pub struct NewParticipant {
    /// Its id.
    pub id: ParticipantId,
    /// Who.
    pub kind: ParticipantKind,
    /// The account (not for guests).
    pub user: Option<UserId>,
    /// A guest's name and quality, sealed.
    pub guest_label: Option<Vec<u8>>,
    /// A guest's link digest.
    pub link_digest: Option<Vec<u8>>,
    /// Until when the link may be used.
    pub link_expires_at: Option<OffsetDateTime>,
    /// Who invited them.
    pub invited_by: Option<UserId>,
    /// When.
    pub created_at: OffsetDateTime,
}

/// A stored participant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Participant {
    /// Its id.
    pub id: ParticipantId,
    /// The appointment.
    pub appointment: AppointmentId,
    /// Who.
    pub kind: ParticipantKind,
    /// The account.
    pub user: Option<UserId>,
    /// The account's display name (guests: none, their label is sealed).
    pub name: Option<String>,
    /// A guest's sealed label.
    pub guest_label: Option<Vec<u8>>,
    /// Where they stand.
    pub state: ParticipantState,
    /// Since when they wait.
    pub waiting_since: Option<OffsetDateTime>,
    /// When the guest link was used.
    pub link_used_at: Option<OffsetDateTime>,
}

/// A chat message to store.
#[derive(Debug, Clone)]
pub struct NewMessage {
    /// Its id.
    pub id: MessageId,
    /// The call.
    pub appointment: AppointmentId,
    /// Who wrote.
    pub participant: ParticipantId,
    /// Sealed text.
    pub body: Vec<u8>,
    /// When.
    pub sent_at: OffsetDateTime,
}

/// A stored chat message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredMessage {
    /// Its id.
    pub id: MessageId,
    /// Who wrote.
    pub participant: ParticipantId,
    /// Sealed text.
    pub body: Vec<u8>,
    /// When.
    pub sent_at: OffsetDateTime,
}

/// A document to store.
#[derive(Debug, Clone)]
pub struct NewDocument {
    /// Its id.
    pub id: DocumentId,
    /// The call it belongs to, if any.
    pub appointment: Option<AppointmentId>,
    /// What it is.
    pub kind: DocumentKind,
    /// Sealed file name.
    pub name: Vec<u8>,
    /// Media type.
    pub media_type: String,
    /// Size of the clear content.
    pub size_bytes: u64,
    /// Sealed content.
    pub content: Vec<u8>,
    /// The account that added it.
    pub author: Option<UserId>,
    /// The participant that added it (a guest).
    pub participant: Option<ParticipantId>,
    /// When.
    pub created_at: OffsetDateTime,
}

/// A stored document's description (without its content).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentMeta {
    /// Its id.
    pub id: DocumentId,
    /// The patient.
    pub patient: PatientId,
    /// The call.
    pub appointment: Option<AppointmentId>,
    /// What it is.
    pub kind: DocumentKind,
    /// Sealed file name.
    pub name: Vec<u8>,
    /// Media type.
    pub media_type: String,
    /// Size.
    pub size_bytes: u64,
    /// Author's display name (an account), if any.
    pub author_name: Option<String>,
    /// When.
    pub created_at: OffsetDateTime,
}

/// What closing a consultation writes, in one transaction.
#[derive(Debug, Clone)]
pub struct Closing {
    /// The call.
    pub appointment: AppointmentId,
    /// Who closes.
    pub by: UserId,
    /// When.
    pub at: OffsetDateTime,
    /// The report and prescription.
    pub documents: Vec<NewDocument>,
    /// Who else receives them (the referring médecin).
    pub recipients: Vec<UserId>,
    /// The recipients' relationship with the patient while they read them.
    pub recipient_relationships: Vec<NewCareRelationship>,
}

macro_rules! appointment_columns {
    () => {
        "a.id, a.patient_id, a.practitioner_id, u.display_name, a.scheduled_at, \
         a.duration_minutes, a.status, a.referring_id, a.consent_id, a.started_at, a.ended_at"
    };
}

macro_rules! appointment_from {
    () => {
        "appointments a JOIN users u ON u.id = a.practitioner_id"
    };
}

const APPOINTMENT_COLS: &str = concat!(appointment_columns!(), " FROM ", appointment_from!());

const APPOINTMENT_BY_ID: &str = concat!(
    "SELECT ",
    appointment_columns!(),
    " FROM ",
    appointment_from!(),
    " WHERE a.id = $1"
);

/// Whether a guest of a call of the patient's that is still open may be in it.
const GUEST_OF_PATIENT: &str = "SELECT 1 FROM call_participants p JOIN appointments a ON a.id = p.appointment_id \
     WHERE p.id = $1 AND p.kind = 'guest' AND a.patient_id = $2 \
     AND p.link_used_at IS NOT NULL AND p.state <> 'left' \
     AND a.status IN ('scheduled', 'waiting', 'in_progress')";

/// A patient's appointments, newest first.
pub(crate) const APPOINTMENTS_PART: Part = Part {
    columns: appointment_columns!(),
    types: &[
        "uuid", "uuid", "uuid", "text", "bigint", "bigint", "text", "uuid", "uuid", "bigint",
        "bigint",
    ],
    from: appointment_from!(),
    filter: "a.patient_id = $1",
    order: "a.scheduled_at DESC, a.id",
    limit: Some(200),
};
static APPOINTMENTS: LazyLock<String> = LazyLock::new(|| APPOINTMENTS_PART.alone());

/// Appointments in [`APPOINTMENTS_PART`]'s order (the latest first, then by id), when they were
/// read without it.
pub(crate) fn appointments_in_order(appointments: &mut [Appointment]) {
    appointments.sort_by(|a, b| b.scheduled_at.cmp(&a.scheduled_at).then(a.id.cmp(&b.id)));
}

pub(crate) fn appointment_from_row<R: Cols>(r: &R) -> Result<Appointment, StoreError> {
    Ok(Appointment {
        id: AppointmentId::from_uuid(r.uuid(0)?),
        patient: PatientId::from_uuid(r.uuid(1)?),
        practitioner: UserId::from_uuid(r.uuid(2)?),
        practitioner_name: r.text(3)?,
        scheduled_at: r.time(4)?,
        duration_minutes: u16::try_from(r.int(5)?).map_err(|_| corrupt("duration"))?,
        status: AppointmentStatus::parse(&r.text(6)?).ok_or_else(|| corrupt("status"))?,
        referring: r.opt_uuid(7)?.map(UserId::from_uuid),
        consent: r.opt_uuid(8)?,
        started_at: r.opt_time(9)?,
        ended_at: r.opt_time(10)?,
    })
}

const PARTICIPANT_COLS: &str = "p.id, p.appointment_id, p.kind, p.user_id, u.display_name, \
     p.guest_label, p.state, p.waiting_since, p.link_used_at FROM call_participants p \
     LEFT JOIN users u ON u.id = p.user_id";

static PARTICIPANTS_OF: LazyLock<String> = LazyLock::new(|| {
    format!("SELECT {PARTICIPANT_COLS} WHERE p.appointment_id = $1 ORDER BY p.created_at, p.id")
});

fn participant_from_row<R: Cols>(r: &R) -> Result<Participant, StoreError> {
    Ok(Participant {
        id: ParticipantId::from_uuid(r.uuid(0)?),
        appointment: AppointmentId::from_uuid(r.uuid(1)?),
        kind: ParticipantKind::parse(&r.text(2)?).ok_or_else(|| corrupt("participant kind"))?,
        user: r.opt_uuid(3)?.map(UserId::from_uuid),
        name: r.opt_text(4)?,
        guest_label: r.opt_bytes(5)?,
        state: ParticipantState::parse(&r.text(6)?).ok_or_else(|| corrupt("participant state"))?,
        waiting_since: r.opt_time(7)?,
        link_used_at: r.opt_time(8)?,
    })
}

const DOCUMENT_FIELDS: &str = "d.id, d.patient_id, d.appointment_id, d.kind, d.name, d.media_type, \
     d.size_bytes, u.display_name, d.created_at";
const DOCUMENT_FROM: &str = "FROM documents d LEFT JOIN users u ON u.id = d.author_id";

fn document_from_row<R: Cols>(r: &R) -> Result<DocumentMeta, StoreError> {
    Ok(DocumentMeta {
        id: DocumentId::from_uuid(r.uuid(0)?),
        patient: PatientId::from_uuid(r.uuid(1)?),
        appointment: r.opt_uuid(2)?.map(AppointmentId::from_uuid),
        kind: DocumentKind::parse(&r.text(3)?).ok_or_else(|| corrupt("document kind"))?,
        name: r.bytes(4)?,
        media_type: r.text(5)?,
        size_bytes: u64::try_from(r.int(6)?).map_err(|_| corrupt("size"))?,
        author_name: r.opt_text(7)?,
        created_at: r.time(8)?,
    })
}

fn statuses(list: &[AppointmentStatus]) -> String {
    list.iter()
        .map(|s| format!("'{}'", s.as_str()))
        .collect::<Vec<_>>()
        .join(", ")
}

macro_rules! insert_document {
    ($conn:ident, $patient:expr, $d:expr) => {{
        let d: &NewDocument = $d;
        sqlx::query(
            "INSERT INTO documents (id, patient_id, appointment_id, kind, name, media_type, \
             size_bytes, content, author_id, participant_id, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(d.id.as_uuid())
        .bind($patient)
        .bind(d.appointment.map(|a| a.as_uuid()))
        .bind(d.kind.as_str())
        .bind(d.name.clone())
        .bind(d.media_type.clone())
        .bind(i64::try_from(d.size_bytes).map_err(|_| corrupt("size"))?)
        .bind(d.content.clone())
        .bind(d.author.map(|u| u.as_uuid()))
        .bind(d.participant.map(|p| p.as_uuid()))
        .bind(to_micros(d.created_at)?)
        .execute(&mut *$conn)
        .await?;
    }};
}

macro_rules! insert_participant {
    ($conn:ident, $appointment:expr, $p:expr) => {{
        let p: &NewParticipant = $p;
        sqlx::query(
            "INSERT INTO call_participants (id, appointment_id, kind, user_id, guest_label, \
             link_digest, link_expires_at, invited_by, state, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'invited', $9)",
        )
        .bind(p.id.as_uuid())
        .bind($appointment)
        .bind(p.kind.as_str())
        .bind(p.user.map(|u| u.as_uuid()))
        .bind(p.guest_label.clone())
        .bind(p.link_digest.clone())
        .bind(p.link_expires_at.map(to_micros).transpose()?)
        .bind(p.invited_by.map(|u| u.as_uuid()))
        .bind(to_micros(p.created_at)?)
        .execute(&mut *$conn)
        .await?;
    }};
}

impl Store {
    /// Books an appointment under an `appointment.manage` permit: the appointment, its patient and
    /// médecin as participants, and the médecin's `act` relationship with the patient.
    pub async fn create_appointment(
        &self,
        permit: Permit,
        a: NewAppointment,
        participants: Vec<NewParticipant>,
        act: NewCareRelationship,
    ) -> Result<(), StoreError> {
        let patient = require(&permit, &[Action::AppointmentManage])?;
        if a.patient != patient || act.patient != patient {
            return Err(StoreError::Permit(
                "the permit is for another patient".into(),
            ));
        }
        let at = to_micros(a.scheduled_at)?;
        let created = to_micros(a.created_at)?;
        traced_tx!(self, vec![permit.trace().clone()], |conn| {
            sqlx::query(
                "INSERT INTO appointments (id, patient_id, practitioner_id, scheduled_at, \
                 duration_minutes, reason, status, referring_id, created_by, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, 'scheduled', $7, $8, $9, $9)",
            )
            .bind(a.id.as_uuid())
            .bind(a.patient.as_uuid())
            .bind(a.practitioner.as_uuid())
            .bind(at)
            .bind(i64::from(a.duration_minutes))
            .bind(a.reason.clone())
            .bind(a.referring.map(|u| u.as_uuid()))
            .bind(a.created_by.as_uuid())
            .bind(created)
            .execute(&mut *conn)
            .await?;
            for p in &participants {
                insert_participant!(conn, a.id.as_uuid(), p);
            }
            insert_relationship!(conn, &act);
            Ok::<(), StoreError>(())
        })
    }

    /// One appointment's metadata.
    pub async fn appointment(&self, id: AppointmentId) -> Result<Appointment, StoreError> {
        // A short indexed read of every call's join: on the calling thread on SQLite.
        point_read!(
            self,
            sqlite: APPOINTMENT_BY_ID,
            postgres: APPOINTMENT_BY_ID,
            [id.as_uuid()],
            |rows| {
                rows.first()
                    .map(appointment_from_row)
                    .transpose()?
                    .ok_or(StoreError::NotFound)
            }
        )
    }

    /// Appointments between `from` and `to`, of one médecin or of all (`None`), by time.
    pub async fn appointments_between(
        &self,
        practitioner: Option<UserId>,
        from: OffsetDateTime,
        to: OffsetDateTime,
    ) -> Result<Vec<Appointment>, StoreError> {
        let (from, to) = (to_micros(from)?, to_micros(to)?);
        read_only!(self, |conn| {
            let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT {APPOINTMENT_COLS} WHERE ($1 IS NULL OR a.practitioner_id = $1) \
                 AND a.scheduled_at >= $2 AND a.scheduled_at < $3 \
                 ORDER BY a.scheduled_at, a.id LIMIT 500"
            )))
            .bind(practitioner.map(|u| u.as_uuid()))
            .bind(from)
            .bind(to)
            .fetch_all(&mut *conn)
            .await?;
            rows.iter().map(appointment_from_row).collect()
        })
    }

    /// A patient's appointments, newest first.
    pub async fn patient_appointments(
        &self,
        patient: PatientId,
    ) -> Result<Vec<Appointment>, StoreError> {
        read_only!(self, |conn| {
            let rows = sqlx::query(APPOINTMENTS.as_str())
                .bind(patient.as_uuid())
                .fetch_all(&mut *conn)
                .await?;
            rows.iter().map(appointment_from_row).collect()
        })
    }

    /// The sealed reason of an appointment, under a `record.read` or `consultation.join` permit of
    /// its patient.
    pub async fn appointment_reason(
        &self,
        permit: Permit,
        id: AppointmentId,
    ) -> Result<Vec<u8>, StoreError> {
        let patient = require(&permit, &[Action::RecordRead, Action::ConsultationJoin])?;
        traced_tx!(self, vec![permit.trace().clone()], |conn| {
            let row =
                sqlx::query("SELECT reason FROM appointments WHERE id = $1 AND patient_id = $2")
                    .bind(id.as_uuid())
                    .bind(patient.as_uuid())
                    .fetch_optional(&mut *conn)
                    .await?;
            row.map(|r| r.bytes(0))
                .transpose()?
                .ok_or(StoreError::NotFound)
        })
    }

    /// Moves an appointment to `to` if its status allows it (compare-and-set), under an
    /// `appointment.manage`, `consultation.join` or `record.write` permit of its patient. Ends the
    /// participants' presence when the status is final. Returns false when the status did not allow
    /// it (nothing changed, the trace is still written: the attempt happened).
    pub async fn move_appointment(
        &self,
        permit: Permit,
        id: AppointmentId,
        to: AppointmentStatus,
        by: UserId,
        at: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let patient = require(
            &permit,
            &[
                Action::AppointmentManage,
                Action::ConsultationJoin,
                Action::RecordWrite,
            ],
        )?;
        let at = to_micros(at)?;
        let from = statuses(to.reachable_from());
        traced_tx!(self, vec![permit.trace().clone()], |conn| {
            let done = sqlx::query(sqlx::AssertSqlSafe(format!(
                "UPDATE appointments SET status = $1, updated_at = $2, \
                 started_at = CASE WHEN $1 = 'in_progress' THEN $2 ELSE started_at END, \
                 ended_at = CASE WHEN $1 IN ('completed', 'cancelled', 'no_show') THEN $2 ELSE ended_at END, \
                 ended_by = CASE WHEN $1 IN ('completed', 'cancelled', 'no_show') THEN $3 ELSE ended_by END \
                 WHERE id = $4 AND patient_id = $5 AND status IN ({from})"
            )))
            .bind(to.as_str())
            .bind(at)
            .bind(by.as_uuid())
            .bind(id.as_uuid())
            .bind(patient.as_uuid())
            .execute(&mut *conn)
            .await?;
            let moved = done.rows_affected() == 1;
            if moved && to.is_final() {
                sqlx::query(
                    "UPDATE call_participants SET state = 'left' WHERE appointment_id = $1",
                )
                .bind(id.as_uuid())
                .execute(&mut *conn)
                .await?;
                if to != AppointmentStatus::Completed {
                    // Nothing took place: the act relationship ends with the appointment.
                    sqlx::query(
                        "UPDATE care_relationships SET ended_at = $1, ended_by = $2 \
                         WHERE kind = 'act' AND reference = $3 AND ended_at IS NULL",
                    )
                    .bind(at)
                    .bind(by.as_uuid())
                    .bind(format!("appointment:{id}"))
                    .execute(&mut *conn)
                    .await?;
                }
            }
            Ok::<bool, StoreError>(moved)
        })
    }

    /// Records the patient's consent to the teleconsultation and links it to the appointment, under
    /// a `consent.record` permit, in one transaction.
    pub async fn consent_to_appointment(
        &self,
        permit: Permit,
        id: AppointmentId,
        consent: crate::NewConsent,
    ) -> Result<(), StoreError> {
        let patient = require(&permit, &[Action::ConsentRecord])?;
        let recorded = to_micros(consent.recorded_at)?;
        traced_tx!(self, vec![permit.trace().clone()], |conn| {
            sqlx::query(
                "INSERT INTO consents (id, patient_id, subject, decision, means, recorded_by, \
                 recorded_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(consent.id.as_uuid())
            .bind(patient.as_uuid())
            .bind(consent.subject.as_str())
            .bind(if consent.given { "given" } else { "refused" })
            .bind(consent.means.as_str())
            .bind(consent.recorded_by.as_uuid())
            .bind(recorded)
            .execute(&mut *conn)
            .await?;
            let done = sqlx::query(
                "UPDATE appointments SET consent_id = $1, updated_at = $2 \
                 WHERE id = $3 AND patient_id = $4",
            )
            .bind(consent.id.as_uuid())
            .bind(recorded)
            .bind(id.as_uuid())
            .bind(patient.as_uuid())
            .execute(&mut *conn)
            .await?;
            if done.rows_affected() != 1 {
                return Err(StoreError::NotFound);
            }
            Ok::<(), StoreError>(())
        })
    }

    /// The people of a call.
    pub async fn participants(&self, id: AppointmentId) -> Result<Vec<Participant>, StoreError> {
        // Read on every join and admission: on the calling thread on SQLite.
        point_read!(
            self,
            sqlite: PARTICIPANTS_OF.as_str(),
            postgres: PARTICIPANTS_OF.as_str(),
            [id.as_uuid()],
            |rows| { rows.iter().map(participant_from_row).collect() }
        )
    }

    /// One participant.
    pub async fn participant(&self, id: ParticipantId) -> Result<Participant, StoreError> {
        read_only!(self, |conn| {
            let row = sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT {PARTICIPANT_COLS} WHERE p.id = $1"
            )))
            .bind(id.as_uuid())
            .fetch_optional(&mut *conn)
            .await?;
            row.as_ref()
                .map(participant_from_row)
                .transpose()?
                .ok_or(StoreError::NotFound)
        })
    }

    /// Invites a guest (under a `record.write` permit of the médecin of the call).
    pub async fn add_guest(
        &self,
        permit: Permit,
        id: AppointmentId,
        guest: NewParticipant,
    ) -> Result<(), StoreError> {
        let patient = require(&permit, &[Action::RecordWrite])?;
        traced_tx!(self, vec![permit.trace().clone()], |conn| {
            let open = sqlx::query(
                "SELECT 1 FROM appointments WHERE id = $1 AND patient_id = $2 \
                 AND status IN ('scheduled', 'waiting', 'in_progress')",
            )
            .bind(id.as_uuid())
            .bind(patient.as_uuid())
            .fetch_optional(&mut *conn)
            .await?;
            if open.is_none() {
                return Err(StoreError::Conflict("appointments.status".into()));
            }
            insert_participant!(conn, id.as_uuid(), &guest);
            Ok::<(), StoreError>(())
        })
    }

    /// Uses a guest's single-use link: marks it used if it was not and has not expired, opens the
    /// guest's session (`session_digest`), and returns the guest. `None` when the link is unknown, used or expired (nothing changed).
    pub async fn use_guest_link(
        &self,
        digest: Vec<u8>,
        session_digest: Vec<u8>,
        now: OffsetDateTime,
    ) -> Result<Option<Participant>, StoreError> {
        let now = to_micros(now)?;
        let used = crate::identity::in_tx!(self, |conn| {
            let done = sqlx::query(
                "UPDATE call_participants SET link_used_at = $1, session_digest = $3 \
                 WHERE link_digest = $2 AND kind = 'guest' AND link_used_at IS NULL \
                 AND link_expires_at > $1 AND state <> 'left'",
            )
            .bind(now)
            .bind(digest.clone())
            .bind(session_digest.clone())
            .execute(&mut *conn)
            .await?;
            if done.rows_affected() != 1 {
                return Ok(None);
            }
            let row = sqlx::query("SELECT id FROM call_participants WHERE link_digest = $1")
                .bind(digest.clone())
                .fetch_one(&mut *conn)
                .await?;
            Ok::<_, StoreError>(Some(ParticipantId::from_uuid(row.uuid(0)?)))
        })?;
        match used {
            Some(id) => self.participant(id).await.map(Some),
            None => Ok(None),
        }
    }

    /// The guest whose session digest this is, while their call is open.
    pub async fn guest_by_session(
        &self,
        session_digest: Vec<u8>,
    ) -> Result<Option<Participant>, StoreError> {
        read_only!(self, |conn| {
            let row = sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT {PARTICIPANT_COLS} JOIN appointments a ON a.id = p.appointment_id \
                 WHERE p.session_digest = $1 AND p.kind = 'guest' AND p.state <> 'left' \
                 AND a.status IN ('scheduled', 'waiting', 'in_progress')"
            )))
            .bind(session_digest)
            .fetch_optional(&mut *conn)
            .await?;
            row.as_ref().map(participant_from_row).transpose()
        })
    }

    /// Moves a participant to `state` (arrival in the waiting room, admission by `by`, departure).
    /// Admission also starts the call. Returns false when the call is closed.
    pub async fn set_participant_state(
        &self,
        id: ParticipantId,
        state: ParticipantState,
        by: Option<UserId>,
        at: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let at = to_micros(at)?;
        crate::identity::in_tx!(self, |conn| {
            let row = sqlx::query(
                "SELECT a.id, a.status FROM call_participants p JOIN appointments a \
                 ON a.id = p.appointment_id WHERE p.id = $1",
            )
            .bind(id.as_uuid())
            .fetch_optional(&mut *conn)
            .await?;
            let Some(row) = row else {
                return Err(StoreError::NotFound);
            };
            let appointment = row.uuid(0)?;
            let status =
                AppointmentStatus::parse(&row.text(1)?).ok_or_else(|| corrupt("status"))?;
            if status.is_final() {
                return Ok(false);
            }
            sqlx::query(
                "UPDATE call_participants SET state = $1, \
                 waiting_since = CASE WHEN $1 = 'waiting' AND state <> 'waiting' THEN $2 ELSE waiting_since END, \
                 admitted_at = CASE WHEN $1 = 'admitted' AND state <> 'admitted' THEN $2 ELSE admitted_at END, \
                 admitted_by = CASE WHEN $1 = 'admitted' AND state <> 'admitted' THEN $3 ELSE admitted_by END \
                 WHERE id = $4",
            )
            .bind(state.as_str())
            .bind(at)
            .bind(by.map(|u| u.as_uuid()))
            .bind(id.as_uuid())
            .execute(&mut *conn)
            .await?;
            let next = match state {
                ParticipantState::Waiting => Some(("waiting", "'scheduled'")),
                ParticipantState::Admitted if by.is_some() => {
                    Some(("in_progress", "'scheduled', 'waiting'"))
                }
                _ => None,
            };
            if let Some((to, from)) = next {
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "UPDATE appointments SET status = $1, updated_at = $2, \
                     started_at = CASE WHEN $1 = 'in_progress' THEN $2 ELSE started_at END \
                     WHERE id = $3 AND status IN ({from})"
                )))
                .bind(to)
                .bind(at)
                .bind(appointment)
                .execute(&mut *conn)
                .await?;
            }
            Ok::<bool, StoreError>(true)
        })
    }

    /// A guest's relationships with `patient`: `act` while their call with that patient is open.
    pub async fn guest_relationships(
        &self,
        guest: ParticipantId,
        patient: PatientId,
    ) -> Result<Relationships, StoreError> {
        // The gate's facts of a guest's every join: on the calling thread on SQLite.
        point_read!(
            self,
            sqlite: GUEST_OF_PATIENT,
            postgres: GUEST_OF_PATIENT,
            [guest.as_uuid(), patient.as_uuid()],
            |rows| {
                Ok::<_, StoreError>(if rows.is_empty() {
                    Relationships::none()
                } else {
                    Relationships::only(Relationship::Act)
                })
            }
        )
    }

    /// Stores a chat message under a `consultation.join` permit of the call's patient.
    pub async fn add_call_message(&self, permit: Permit, m: NewMessage) -> Result<(), StoreError> {
        require(&permit, &[Action::ConsultationJoin])?;
        let at = to_micros(m.sent_at)?;
        traced_tx!(self, vec![permit.trace().clone()], |conn| {
            sqlx::query(
                "INSERT INTO call_messages (id, appointment_id, participant_id, body, sent_at) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(m.id.as_uuid())
            .bind(m.appointment.as_uuid())
            .bind(m.participant.as_uuid())
            .bind(m.body.clone())
            .bind(at)
            .execute(&mut *conn)
            .await?;
            Ok::<(), StoreError>(())
        })
    }

    /// The chat of a call, oldest first, under a `consultation.join` or `record.read` permit of its
    /// patient.
    pub async fn call_messages(
        &self,
        permit: Permit,
        id: AppointmentId,
    ) -> Result<Vec<StoredMessage>, StoreError> {
        let patient = require(&permit, &[Action::ConsultationJoin, Action::RecordRead])?;
        traced_tx!(self, vec![permit.trace().clone()], |conn| {
            let rows = sqlx::query(
                "SELECT m.id, m.participant_id, m.body, m.sent_at FROM call_messages m \
                 JOIN appointments a ON a.id = m.appointment_id \
                 WHERE m.appointment_id = $1 AND a.patient_id = $2 ORDER BY m.sent_at, m.id LIMIT 2000",
            )
            .bind(id.as_uuid())
            .bind(patient.as_uuid())
            .fetch_all(&mut *conn)
            .await?;
            rows.iter()
                .map(|r| {
                    Ok(StoredMessage {
                        id: MessageId::from_uuid(r.uuid(0)?),
                        participant: ParticipantId::from_uuid(r.uuid(1)?),
                        body: r.bytes(2)?,
                        sent_at: r.time(3)?,
                    })
                })
                .collect::<Result<Vec<_>, StoreError>>()
        })
    }

    /// One chat message of a call, under a `consultation.join` permit of its patient (each page
    /// reads each new message under its own permit).
    pub async fn call_message(
        &self,
        permit: Permit,
        appointment: AppointmentId,
        id: MessageId,
    ) -> Result<StoredMessage, StoreError> {
        let patient = require(&permit, &[Action::ConsultationJoin])?;
        traced_tx!(self, vec![permit.trace().clone()], |conn| {
            let row = sqlx::query(
                "SELECT m.id, m.participant_id, m.body, m.sent_at FROM call_messages m \
                 JOIN appointments a ON a.id = m.appointment_id \
                 WHERE m.id = $1 AND m.appointment_id = $2 AND a.patient_id = $3",
            )
            .bind(id.as_uuid())
            .bind(appointment.as_uuid())
            .bind(patient.as_uuid())
            .fetch_optional(&mut *conn)
            .await?;
            let Some(r) = row else {
                return Err(StoreError::NotFound);
            };
            Ok::<_, StoreError>(StoredMessage {
                id: MessageId::from_uuid(r.uuid(0)?),
                participant: ParticipantId::from_uuid(r.uuid(1)?),
                body: r.bytes(2)?,
                sent_at: r.time(3)?,
            })
        })
    }

    /// Stores a document of the permit's patient (`consultation.join` during a call, `record.write`).
    pub async fn add_document(&self, permit: Permit, d: NewDocument) -> Result<(), StoreError> {
        let patient = require(&permit, &[Action::ConsultationJoin, Action::RecordWrite])?;
        traced_tx!(self, vec![permit.trace().clone()], |conn| {
            if let Some(a) = d.appointment {
                let open = sqlx::query(
                    "SELECT status FROM appointments WHERE id = $1 AND patient_id = $2",
                )
                .bind(a.as_uuid())
                .bind(patient.as_uuid())
                .fetch_optional(&mut *conn)
                .await?;
                let Some(open) = open else {
                    return Err(StoreError::NotFound);
                };
                let status =
                    AppointmentStatus::parse(&open.text(0)?).ok_or_else(|| corrupt("status"))?;
                if status.is_final() && d.kind == DocumentKind::Shared {
                    return Err(StoreError::Conflict("appointments.status".into()));
                }
            }
            insert_document!(conn, patient.as_uuid(), &d);
            Ok::<(), StoreError>(())
        })
    }

    /// The patient's documents (descriptions), newest first, under a `record.read` permit — or only
    /// those of one call under a `consultation.join` permit.
    pub async fn documents(
        &self,
        permit: Permit,
        appointment: Option<AppointmentId>,
    ) -> Result<Vec<DocumentMeta>, StoreError> {
        let patient = if appointment.is_some() {
            require(&permit, &[Action::ConsultationJoin, Action::RecordRead])?
        } else {
            require(&permit, &[Action::RecordRead])?
        };
        traced_tx!(self, vec![permit.trace().clone()], |conn| {
            let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT {DOCUMENT_FIELDS} {DOCUMENT_FROM} WHERE d.patient_id = $1 \
                 AND ($2 IS NULL OR d.appointment_id = $2) ORDER BY d.created_at DESC, d.id LIMIT 500"
            )))
            .bind(patient.as_uuid())
            .bind(appointment.map(|a| a.as_uuid()))
            .fetch_all(&mut *conn)
            .await?;
            rows.iter()
                .map(document_from_row)
                .collect::<Result<Vec<_>, _>>()
        })
    }

    /// One document with its sealed content. Under a `consultation.join` permit, only a document of
    /// the call `appointment`; under `record.read`, any of the patient's.
    pub async fn document(
        &self,
        permit: Permit,
        id: DocumentId,
        appointment: Option<AppointmentId>,
    ) -> Result<(DocumentMeta, Vec<u8>), StoreError> {
        let patient = if appointment.is_some() {
            require(&permit, &[Action::ConsultationJoin, Action::RecordRead])?
        } else {
            require(&permit, &[Action::RecordRead])?
        };
        traced_tx!(self, vec![permit.trace().clone()], |conn| {
            let row = sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT {DOCUMENT_FIELDS}, d.content {DOCUMENT_FROM} WHERE d.id = $1 AND d.patient_id = $2 \
                 AND ($3 IS NULL OR d.appointment_id = $3)"
            )))
            .bind(id.as_uuid())
            .bind(patient.as_uuid())
            .bind(appointment.map(|a| a.as_uuid()))
            .fetch_optional(&mut *conn)
            .await?;
            let Some(row) = row else {
                return Err(StoreError::NotFound);
            };
            Ok::<_, StoreError>((document_from_row(&row)?, row.bytes(9)?))
        })
    }

    /// Documents sent to `user` (the referring médecin), newest first: descriptions only (the
    /// recipient opens each through the gate).
    pub async fn received_documents(&self, user: UserId) -> Result<Vec<DocumentMeta>, StoreError> {
        read_only!(self, |conn| {
            let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT {DOCUMENT_FIELDS} {DOCUMENT_FROM} JOIN document_recipients r ON r.document_id = d.id \
                 WHERE r.user_id = $1 ORDER BY r.sent_at DESC, d.id LIMIT 200"
            )))
            .bind(user.as_uuid())
            .fetch_all(&mut *conn)
            .await?;
            rows.iter().map(document_from_row).collect()
        })
    }

    /// Closes a consultation under a `record.write` permit of its médecin, in one transaction: the
    /// status (from scheduled, waiting or in progress), everyone's departure, the report and
    /// prescription, their recipients and the recipients' relationships. Returns false (nothing
    /// written but the trace) if the consultation was already closed.
    pub async fn close_consultation(&self, permit: Permit, c: Closing) -> Result<bool, StoreError> {
        let patient = require(&permit, &[Action::RecordWrite])?;
        if c.recipient_relationships
            .iter()
            .any(|r| r.patient != patient)
        {
            return Err(StoreError::Permit(
                "the permit is for another patient".into(),
            ));
        }
        let at = to_micros(c.at)?;
        let mut trace = permit.trace().clone();
        trace.action = galien_core::audit::AuditAction::ConsultationClosed;
        trace.resource = Some(galien_core::audit::ResourceRef {
            kind: "consultation".into(),
            id: c.appointment.to_string(),
        });
        let from = statuses(AppointmentStatus::Completed.reachable_from());
        traced_tx!(self, vec![trace], |conn| {
            let done = sqlx::query(sqlx::AssertSqlSafe(format!(
                "UPDATE appointments SET status = 'completed', ended_at = $1, ended_by = $2, \
                 updated_at = $1 WHERE id = $3 AND patient_id = $4 AND status IN ({from})"
            )))
            .bind(at)
            .bind(c.by.as_uuid())
            .bind(c.appointment.as_uuid())
            .bind(patient.as_uuid())
            .execute(&mut *conn)
            .await?;
            if done.rows_affected() != 1 {
                return Ok(false);
            }
            sqlx::query("UPDATE call_participants SET state = 'left' WHERE appointment_id = $1")
                .bind(c.appointment.as_uuid())
                .execute(&mut *conn)
                .await?;
            for d in &c.documents {
                insert_document!(conn, patient.as_uuid(), d);
                for r in &c.recipients {
                    sqlx::query(
                        "INSERT INTO document_recipients (document_id, user_id, sent_at) \
                         VALUES ($1, $2, $3)",
                    )
                    .bind(d.id.as_uuid())
                    .bind(r.as_uuid())
                    .bind(at)
                    .execute(&mut *conn)
                    .await?;
                }
            }
            for r in &c.recipient_relationships {
                insert_relationship!(conn, r);
            }
            Ok::<bool, StoreError>(true)
        })
    }

    /// Keeps a signaling message too large for the event bus; read once with
    /// [`Store::take_call_signal`]. Prunes messages older than `prune_before`.
    pub async fn put_call_signal(
        &self,
        id: Uuid,
        body: String,
        at: OffsetDateTime,
        prune_before: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let (at, prune) = (to_micros(at)?, to_micros(prune_before)?);
        crate::identity::in_tx!(self, |conn| {
            sqlx::query("DELETE FROM call_signals WHERE created_at < $1")
                .bind(prune)
                .execute(&mut *conn)
                .await?;
            sqlx::query("INSERT INTO call_signals (id, body, created_at) VALUES ($1, $2, $3)")
                .bind(id)
                .bind(body.clone())
                .bind(at)
                .execute(&mut *conn)
                .await?;
            Ok::<(), StoreError>(())
        })
    }

    /// Reads a kept signaling message (`None` if pruned).
    pub async fn take_call_signal(&self, id: Uuid) -> Result<Option<String>, StoreError> {
        read_only!(self, |conn| {
            let row = sqlx::query("SELECT body FROM call_signals WHERE id = $1")
                .bind(id)
                .fetch_optional(&mut *conn)
                .await?;
            row.map(|r| r.text(0)).transpose()
        })
    }
}
