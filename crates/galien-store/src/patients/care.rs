//! Care relationships (ACC-3) and emergency accesses (ACC-4): the facts the gate decides on.

use galien_access::{Action, Permit, Relationship, Relationships};
use galien_core::identity::Role;
use galien_core::ids::{CareRelationshipId, EmergencyAccessId, PatientId, UserId};
use time::OffsetDateTime;

use super::{read_only, require, trace_of, traced_tx};
use crate::identity::{Cols, corrupt};
use crate::sql::Part;
use crate::tokens::to_micros;
use crate::{Store, StoreError, point_read};
use std::sync::LazyLock;

/// The kind of a care relationship.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CareKind {
    /// Member of the care team.
    CareTeam,
    /// Takes part in an act.
    Act,
    /// Monitors the patient.
    Monitoring,
    /// Handles a regulation case.
    Regulation,
}

impl CareKind {
    /// The stored text.
    pub fn as_str(self) -> &'static str {
        self.relationship().as_str()
    }

    /// Parses the stored text.
    pub fn parse(s: &str) -> Option<CareKind> {
        [
            CareKind::CareTeam,
            CareKind::Act,
            CareKind::Monitoring,
            CareKind::Regulation,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }

    /// The relationship it gives.
    pub fn relationship(self) -> Relationship {
        match self {
            CareKind::CareTeam => Relationship::CareTeam,
            CareKind::Act => Relationship::Act,
            CareKind::Monitoring => Relationship::Monitoring,
            CareKind::Regulation => Relationship::Regulation,
        }
    }
}

/// A relationship to record.
#[derive(Debug, Clone)]
pub struct NewCareRelationship {
    /// Its id.
    pub id: CareRelationshipId,
    /// The patient.
    pub patient: PatientId,
    /// The professional.
    pub user: UserId,
    /// What kind.
    pub kind: CareKind,
    /// What it stands on (an appointment id…).
    pub reference: Option<String>,
    /// Who added it.
    pub added_by: Option<UserId>,
    /// From when.
    pub since: OffsetDateTime,
    /// Until when (`None`: until ended).
    pub until: Option<OffsetDateTime>,
}

/// A stored relationship, with the professional's name and role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CareRelationship {
    /// Its id.
    pub id: CareRelationshipId,
    /// The patient.
    pub patient: PatientId,
    /// The professional.
    pub user: UserId,
    /// Their display name.
    pub user_name: String,
    /// Their role.
    pub role: Role,
    /// What kind.
    pub kind: CareKind,
    /// What it stands on.
    pub reference: Option<String>,
    /// Who added it.
    pub added_by: Option<UserId>,
    /// From when.
    pub since: OffsetDateTime,
    /// Until when.
    pub until: Option<OffsetDateTime>,
    /// When it was ended, if it was.
    pub ended_at: Option<OffsetDateTime>,
}

impl CareRelationship {
    /// Whether it holds at `now`.
    pub fn is_active(&self, now: OffsetDateTime) -> bool {
        self.ended_at.is_none() && self.since <= now && self.until.is_none_or(|u| u > now)
    }
}

/// An emergency access to record (reason sealed by the caller).
#[derive(Debug, Clone)]
pub struct NewEmergencyAccess {
    /// Its id.
    pub id: EmergencyAccessId,
    /// The patient.
    pub patient: PatientId,
    /// The médecin.
    pub user: UserId,
    /// The sealed reason.
    pub reason: Vec<u8>,
    /// Opened at.
    pub opened_at: OffsetDateTime,
    /// Ends at.
    pub expires_at: OffsetDateTime,
}

/// A stored emergency access.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmergencyAccess {
    /// Its id.
    pub id: EmergencyAccessId,
    /// The patient.
    pub patient: PatientId,
    /// The médecin.
    pub user: UserId,
    /// Their display name.
    pub user_name: String,
    /// The sealed reason.
    pub reason: Vec<u8>,
    /// Opened at.
    pub opened_at: OffsetDateTime,
    /// Ends at.
    pub expires_at: OffsetDateTime,
    /// Reviewed by (the DPO).
    pub reviewed_by: Option<UserId>,
    /// Reviewed at.
    pub reviewed_at: Option<OffsetDateTime>,
    /// The sealed review note.
    pub review_note: Option<Vec<u8>>,
}

/// Inserts a relationship on `$conn` (either backend), inside the caller's transaction.
macro_rules! insert_relationship {
    ($conn:ident, $m:expr) => {{
        let m: &$crate::patients::NewCareRelationship = $m;
        sqlx::query(
            "INSERT INTO care_relationships (id, patient_id, user_id, kind, reference, added_by, \
             since, until) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(m.id.as_uuid())
        .bind(m.patient.as_uuid())
        .bind(m.user.as_uuid())
        .bind(m.kind.as_str())
        .bind(m.reference.clone())
        .bind(m.added_by.map(|u| u.as_uuid()))
        .bind($crate::tokens::to_micros(m.since)?)
        .bind(m.until.map($crate::tokens::to_micros).transpose()?)
        .execute(&mut *$conn)
        .await
        .map_err(|e| {
            $crate::identity::unique_violation(
                e,
                &[(
                    "care_relationships_active_member",
                    "care_relationships.patient_id, care_relationships.user_id, care_relationships.kind",
                )],
            )
        })?;
    }};
}
pub(crate) use insert_relationship;

macro_rules! rel_columns {
    () => {
        "r.id, r.patient_id, r.user_id, u.display_name, u.role, r.kind, r.reference, r.added_by, \
         r.since, r.until, r.ended_at"
    };
}

macro_rules! rel_from {
    () => {
        "care_relationships r JOIN users u ON u.id = r.user_id"
    };
}

/// A patient's care relationships, active first.
pub(super) const TEAM_PART: Part = Part {
    columns: rel_columns!(),
    types: &[
        "uuid", "uuid", "uuid", "text", "text", "text", "text", "uuid", "bigint", "bigint",
        "bigint",
    ],
    from: rel_from!(),
    filter: "r.patient_id = $1",
    order: "r.ended_at IS NOT NULL, r.since DESC",
    limit: None,
};
static TEAM: LazyLock<String> = LazyLock::new(|| TEAM_PART.alone());

/// Relationships in [`TEAM_PART`]'s order (those not ended first, then the newest), when they were
/// read without it.
pub(super) fn team_in_order(team: &mut [CareRelationship]) {
    team.sort_by_key(|r| (r.ended_at.is_some(), std::cmp::Reverse(r.since)));
}

pub(super) fn rel_from_row<R: Cols>(r: &R) -> Result<CareRelationship, StoreError> {
    Ok(CareRelationship {
        id: CareRelationshipId::from_uuid(r.uuid(0)?),
        patient: PatientId::from_uuid(r.uuid(1)?),
        user: UserId::from_uuid(r.uuid(2)?),
        user_name: r.text(3)?,
        role: Role::parse(&r.text(4)?).ok_or_else(|| corrupt("role"))?,
        kind: CareKind::parse(&r.text(5)?).ok_or_else(|| corrupt("relationship kind"))?,
        reference: r.opt_text(6)?,
        added_by: r.opt_uuid(7)?.map(UserId::from_uuid),
        since: r.time(8)?,
        until: r.opt_time(9)?,
        ended_at: r.opt_time(10)?,
    })
}

macro_rules! select_emergency {
    ($tail:literal) => {
        concat!(
            "SELECT e.id, e.patient_id, e.user_id, u.display_name, e.reason, e.opened_at, \
             e.expires_at, e.reviewed_by, e.reviewed_at, e.review_note \
             FROM emergency_accesses e JOIN users u ON u.id = e.user_id ",
            $tail
        )
    };
}

fn emergency_from_row<R: Cols>(r: &R) -> Result<EmergencyAccess, StoreError> {
    Ok(EmergencyAccess {
        id: EmergencyAccessId::from_uuid(r.uuid(0)?),
        patient: PatientId::from_uuid(r.uuid(1)?),
        user: UserId::from_uuid(r.uuid(2)?),
        user_name: r.text(3)?,
        reason: r.bytes(4)?,
        opened_at: r.time(5)?,
        expires_at: r.time(6)?,
        reviewed_by: r.opt_uuid(7)?.map(UserId::from_uuid),
        reviewed_at: r.opt_time(8)?,
        review_note: r.opt_bytes(9)?,
    })
}

/// The facts the gate decides on, for the user `$user` (an SQL expression), `$2` patient and `$3`
/// now: each active care relationship's kind, an open emergency access, and the record being the
/// user's own; a row each, `(source, kind)`, decoded by [`add_relationship`].
macro_rules! relationships_of {
    ($user:literal) => {
        concat!(
            "SELECT 'care' AS source, kind FROM care_relationships \
             WHERE user_id = ",
            $user,
            " AND patient_id = $2 AND ended_at IS NULL AND since <= $3 \
             AND (until IS NULL OR until > $3) \
             UNION ALL SELECT 'emergency', NULL FROM (SELECT 1 AS one FROM emergency_accesses \
             WHERE user_id = ",
            $user,
            " AND patient_id = $2 AND opened_at <= $3 AND expires_at > $3 \
             LIMIT 1) e \
             UNION ALL SELECT 'self', NULL FROM patients WHERE id = $2 AND user_id = ",
            $user
        )
    };
}
pub(crate) use relationships_of;

/// The relationships of `($1 user, $2 patient, $3 now)`.
const RELATIONSHIPS: &str = relationships_of!("$1");

/// Adds the relationship that a row of [`relationships_of!`] names (`source`, then `kind`).
pub(crate) fn add_relationship<R: Cols>(
    out: &mut Relationships,
    row: &R,
) -> Result<(), StoreError> {
    match row.text(0)?.as_str() {
        "care" => {
            if let Some(kind) = row.opt_text(1)?.as_deref().and_then(CareKind::parse) {
                out.insert(kind.relationship());
            }
        }
        "emergency" => out.insert(Relationship::Emergency),
        "self" => out.insert(Relationship::SelfRecord),
        _ => return Err(corrupt("relationship source")),
    }
    Ok(())
}

impl Store {
    /// The relationships `user` has with `patient` at `now`: active care relationships, an open
    /// emergency access, and "self" when the patient record is linked to this account. These are the
    /// facts the gate decides on; they hold no health data.
    pub async fn relationships(
        &self,
        user: UserId,
        patient: PatientId,
        now: OffsetDateTime,
    ) -> Result<Relationships, StoreError> {
        let now = to_micros(now)?;
        // One round trip for the three facts (asked on every read of a record).
        point_read!(
            self,
            sqlite: RELATIONSHIPS,
            postgres: RELATIONSHIPS,
            [user.as_uuid(), patient.as_uuid(), now],
            |rows| {
                let mut out = Relationships::none();
                for row in rows {
                    add_relationship(&mut out, row)?;
                }
                Ok::<_, StoreError>(out)
            }
        )
    }

    /// The patients `user` has an active relationship or an open emergency access with at `now`,
    /// most recent first (ids only: reading each goes through the gate).
    pub async fn patients_of(
        &self,
        user: UserId,
        now: OffsetDateTime,
    ) -> Result<Vec<PatientId>, StoreError> {
        let now = to_micros(now)?;
        read_only!(self, |conn| {
            let rows = sqlx::query(
                "SELECT patient_id, MAX(since) AS latest FROM ( \
                   SELECT patient_id, since FROM care_relationships WHERE user_id = $1 \
                     AND ended_at IS NULL AND since <= $2 AND (until IS NULL OR until > $2) \
                   UNION ALL \
                   SELECT patient_id, opened_at AS since FROM emergency_accesses WHERE user_id = $1 \
                     AND opened_at <= $2 AND expires_at > $2 \
                 ) AS mine GROUP BY patient_id ORDER BY latest DESC LIMIT 500",
            )
            .bind(user.as_uuid())
            .bind(now)
            .fetch_all(&mut *conn)
            .await?;
            rows.iter()
                .map(|r| Ok(PatientId::from_uuid(r.uuid(0)?)))
                .collect::<Result<Vec<_>, StoreError>>()
        })
    }

    /// The patient's care relationships (active and past), under a `careteam.read` permit.
    pub async fn care_relationships(
        &self,
        permit: Permit,
    ) -> Result<Vec<CareRelationship>, StoreError> {
        let id = require(&permit, &[Action::CareTeamRead])?;
        traced_tx!(self, trace_of(&permit), |conn| {
            let rows = sqlx::query(TEAM.as_str())
                .bind(id.as_uuid())
                .fetch_all(&mut *conn)
                .await?;
            rows.iter().map(rel_from_row).collect::<Result<Vec<_>, _>>()
        })
    }

    /// Adds a member to the patient's care team, under a `careteam.manage` permit for that patient.
    /// An active member already there is [`StoreError::Conflict`].
    pub async fn add_care_relationship(
        &self,
        permit: Permit,
        member: NewCareRelationship,
    ) -> Result<(), StoreError> {
        let id = require(&permit, &[Action::CareTeamManage])?;
        if member.patient != id {
            return Err(StoreError::Permit(
                "the permit is for another patient".into(),
            ));
        }
        traced_tx!(self, trace_of(&permit), |conn| {
            insert_relationship!(conn, &member);
            Ok::<(), StoreError>(())
        })
    }

    /// Ends a care relationship of the permit's patient. `false` if it was already ended.
    pub async fn end_care_relationship(
        &self,
        permit: Permit,
        relationship: CareRelationshipId,
        by: UserId,
        at: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let id = require(&permit, &[Action::CareTeamManage])?;
        let at = to_micros(at)?;
        traced_tx!(self, trace_of(&permit), |conn| {
            let done = sqlx::query(
                "UPDATE care_relationships SET ended_at = $3, ended_by = $4 \
                 WHERE id = $1 AND patient_id = $2 AND ended_at IS NULL",
            )
            .bind(relationship.as_uuid())
            .bind(id.as_uuid())
            .bind(at)
            .bind(by.as_uuid())
            .execute(&mut *conn)
            .await?;
            Ok::<_, StoreError>(done.rows_affected() == 1)
        })
    }

    /// Records an act, monitoring or regulation relationship created by a workflow (an appointment,
    /// an enrolment), under the permit of the write that creates it.
    pub async fn add_workflow_relationship(
        &self,
        permit: Permit,
        relationship: NewCareRelationship,
    ) -> Result<(), StoreError> {
        let id = require(&permit, &[Action::RecordWrite, Action::CareTeamManage])?;
        if relationship.patient != id || relationship.kind == CareKind::CareTeam {
            return Err(StoreError::Permit(
                "workflow relationships are acts, monitoring or regulation of the permit's patient"
                    .into(),
            ));
        }
        traced_tx!(self, trace_of(&permit), |conn| {
            insert_relationship!(conn, &relationship);
            Ok::<(), StoreError>(())
        })
    }

    /// Opens an emergency access under an `emergency.open` permit (whose trace is flagged).
    pub async fn open_emergency_access(
        &self,
        permit: Permit,
        access: NewEmergencyAccess,
    ) -> Result<(), StoreError> {
        let id = require(&permit, &[Action::EmergencyOpen])?;
        if access.patient != id || Some(access.user) != permit.user() {
            return Err(StoreError::Permit(
                "an emergency access is opened by its holder for the permit's patient".into(),
            ));
        }
        let mut trace = permit.trace().clone();
        trace.emergency = true;
        trace.purpose = Some("emergency_access".into());
        let (opened, expires) = (to_micros(access.opened_at)?, to_micros(access.expires_at)?);
        traced_tx!(self, vec![trace], |conn| {
            sqlx::query(
                "INSERT INTO emergency_accesses (id, patient_id, user_id, reason, opened_at, \
                 expires_at) VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(access.id.as_uuid())
            .bind(access.patient.as_uuid())
            .bind(access.user.as_uuid())
            .bind(access.reason.clone())
            .bind(opened)
            .bind(expires)
            .execute(&mut *conn)
            .await?;
            Ok::<(), StoreError>(())
        })
    }

    /// Emergency accesses for the DPO's review: those not yet reviewed (oldest first), or all of them
    /// (newest first). Metadata and a sealed reason; no clinical content.
    pub async fn emergency_accesses(
        &self,
        pending_only: bool,
    ) -> Result<Vec<EmergencyAccess>, StoreError> {
        read_only!(self, |conn| {
            let sql = if pending_only {
                select_emergency!("WHERE e.reviewed_at IS NULL ORDER BY e.opened_at LIMIT 500")
            } else {
                select_emergency!("ORDER BY e.opened_at DESC LIMIT 500")
            };
            let rows = sqlx::query(sql).fetch_all(&mut *conn).await?;
            rows.iter()
                .map(emergency_from_row)
                .collect::<Result<Vec<_>, _>>()
        })
    }

    /// Marks an emergency access reviewed, with `trace` committed alongside. `false` if it was
    /// already reviewed; [`StoreError::NotFound`] if absent.
    pub async fn review_emergency_access(
        &self,
        id: EmergencyAccessId,
        by: UserId,
        at: OffsetDateTime,
        note: Option<Vec<u8>>,
        trace: galien_core::audit::AuditEvent,
    ) -> Result<bool, StoreError> {
        let at = to_micros(at)?;
        traced_tx!(self, vec![trace], |conn| {
            let exists = sqlx::query("SELECT reviewed_at FROM emergency_accesses WHERE id = $1")
                .bind(id.as_uuid())
                .fetch_optional(&mut *conn)
                .await?
                .ok_or(StoreError::NotFound)?;
            if exists.opt_int(0)?.is_some() {
                return Ok(false);
            }
            sqlx::query(
                "UPDATE emergency_accesses SET reviewed_by = $2, reviewed_at = $3, review_note = $4 \
                 WHERE id = $1",
            )
            .bind(id.as_uuid())
            .bind(by.as_uuid())
            .bind(at)
            .bind(note.clone())
            .execute(&mut *conn)
            .await?;
            Ok::<_, StoreError>(true)
        })
    }
}
