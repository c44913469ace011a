//! The patient row: sealed identity, sealed NIR with its blind index, name indexes, the wrapped data
//! key; registration, reading (one or many, each traced), search through blind indexes, correction.

use galien_access::{Action, Permit};
use galien_core::audit::AuditEvent;
use galien_core::ids::{PatientId, UserId};
use galien_core::patient::InsStatus;
use sqlx::Row;
use time::OffsetDateTime;
use uuid::Uuid;

use super::care::{NewCareRelationship, insert_relationship};
use super::{WrappedDataKey, require, require_registry, trace_of, traced_tx};
use crate::identity::{Cols, corrupt, unique_violation};
use crate::sql::Part;
use crate::tokens::to_micros;
use crate::{Store, StoreError};

/// A patient to register, sealed by the caller.
#[derive(Debug, Clone)]
pub struct NewPatient {
    /// Its id.
    pub id: PatientId,
    /// INS identity status.
    pub ins_status: InsStatus,
    /// Sealed identity traits and contacts.
    pub identity: Vec<u8>,
    /// Sealed NIR and its blind index.
    pub nir: Option<(Vec<u8>, [u8; 32])>,
    /// Blind indexes of name + birth date (birth name, used name).
    pub name_digests: Vec<[u8; 32]>,
    /// The patient's data key, wrapped.
    pub key: WrappedDataKey,
    /// When.
    pub created_at: OffsetDateTime,
    /// By whom.
    pub created_by: Option<UserId>,
    /// The registering professional joins the care team (when they are a health professional).
    pub care_team: Option<NewCareRelationship>,
}

/// A correction of identity traits (sealed by the caller).
#[derive(Debug, Clone)]
pub struct PatientUpdate {
    /// New INS identity status.
    pub ins_status: InsStatus,
    /// New sealed identity.
    pub identity: Vec<u8>,
    /// `Some(None)`: remove the NIR; `Some(Some(..))`: replace it; `None`: keep it.
    pub nir: Option<Option<(Vec<u8>, [u8; 32])>>,
    /// New name indexes (replace the old ones).
    pub name_digests: Vec<[u8; 32]>,
    /// When.
    pub at: OffsetDateTime,
}

/// A patient as stored: sealed values and the wrapped key that opens them.
#[derive(Debug, Clone)]
pub struct SealedPatient {
    /// Its id.
    pub id: PatientId,
    /// The patient's own account.
    pub user: Option<UserId>,
    /// INS identity status.
    pub ins_status: InsStatus,
    /// Sealed identity.
    pub identity: Vec<u8>,
    /// Whether a NIR is recorded.
    pub has_nir: bool,
    /// Sealed NIR: only returned under a `patient.nir.read` permit.
    pub nir: Option<Vec<u8>>,
    /// The wrapped data key; `None` once the key was destroyed (crypto-shredding).
    pub key: Option<WrappedDataKey>,
    /// Registered at.
    pub created_at: OffsetDateTime,
    /// Last changed at.
    pub updated_at: OffsetDateTime,
}

macro_rules! patient_columns {
    () => {
        "p.id, p.user_id, p.ins_status, p.identity, p.nir, p.created_at, p.updated_at, k.kek, \
         k.wrapped"
    };
}

macro_rules! patient_from {
    () => {
        "patients p LEFT JOIN patient_keys k ON k.patient_id = p.id"
    };
}

macro_rules! select_patient {
    ($tail:literal) => {
        concat!(
            "SELECT ",
            patient_columns!(),
            " FROM ",
            patient_from!(),
            " ",
            $tail
        )
    };
}

/// The patient row with its key, as a part of the summary's statement.
pub(super) const PATIENT_PART: Part = Part {
    columns: patient_columns!(),
    types: &[
        "uuid", "uuid", "text", "bytea", "bytea", "bigint", "bigint", "bigint", "bytea",
    ],
    from: patient_from!(),
    filter: "p.id = $1",
    order: "p.id",
    limit: Some(1),
};

pub(super) fn from_row<R: Cols>(r: &R, with_nir: bool) -> Result<SealedPatient, StoreError> {
    let nir = r.opt_bytes(4)?;
    let key = match (r.opt_int(7)?, r.opt_bytes(8)?) {
        (Some(kek), Some(bytes)) => Some(WrappedDataKey {
            kek: u32::try_from(kek).map_err(|_| corrupt("key-encryption key id"))?,
            bytes,
        }),
        _ => None,
    };
    Ok(SealedPatient {
        id: PatientId::from_uuid(r.uuid(0)?),
        user: r.opt_uuid(1)?.map(UserId::from_uuid),
        ins_status: InsStatus::parse(&r.text(2)?).ok_or_else(|| corrupt("INS status"))?,
        identity: r.bytes(3)?,
        has_nir: nir.is_some(),
        nir: if with_nir { nir } else { None },
        key,
        created_at: r.time(5)?,
        updated_at: r.time(6)?,
    })
}

const NIR_CONFLICT: &[(&str, &str)] = &[
    ("patients_nir_index_key", "patients.nir_index"),
    ("patients_user_id_key", "patients.user_id"),
];

/// What reading a patient under `permit` may return.
const READ_ACTIONS: &[Action] = &[
    Action::IdentityRead,
    Action::NirRead,
    Action::IdentityWrite,
    Action::RecordRead,
];

impl Store {
    /// Registers a patient with its wrapped data key (and the registering professional in the care
    /// team), under a `patient.register` permit whose trace names the new patient. A NIR already
    /// registered is [`StoreError::Conflict`] naming `patients_nir_index_key`.
    pub async fn register_patient(&self, permit: Permit, p: NewPatient) -> Result<(), StoreError> {
        require_registry(&permit, Action::PatientRegister)?;
        let mut trace = permit.trace().clone();
        trace.patient = Some(p.id);
        if let Some(r) = trace.resource.as_mut() {
            r.id = p.id.to_string();
        }
        let at = to_micros(p.created_at)?;
        traced_tx!(self, vec![trace], |conn| {
            let id = p.id.as_uuid();
            let (nir, nir_index) = match &p.nir {
                Some((sealed, index)) => (Some(sealed.clone()), Some(index.to_vec())),
                None => (None, None),
            };
            sqlx::query(
                "INSERT INTO patients (id, ins_status, identity, nir, nir_index, created_at, \
                 created_by, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $6)",
            )
            .bind(id)
            .bind(p.ins_status.as_str())
            .bind(p.identity.clone())
            .bind(nir)
            .bind(nir_index)
            .bind(at)
            .bind(p.created_by.map(|u| u.as_uuid()))
            .execute(&mut *conn)
            .await
            .map_err(|e| unique_violation(e, NIR_CONFLICT))?;
            sqlx::query(
                "INSERT INTO patient_keys (patient_id, kek, wrapped, updated_at) \
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(id)
            .bind(i64::from(p.key.kek))
            .bind(p.key.bytes.clone())
            .bind(at)
            .execute(&mut *conn)
            .await?;
            for digest in dedup(&p.name_digests) {
                sqlx::query("INSERT INTO patient_name_index (patient_id, digest) VALUES ($1, $2)")
                    .bind(id)
                    .bind(digest)
                    .execute(&mut *conn)
                    .await?;
            }
            if let Some(member) = &p.care_team {
                insert_relationship!(conn, member);
            }
            Ok::<(), StoreError>(())
        })
    }

    /// The patient named by `permit` (identity, INS status, the wrapped key; the sealed NIR only under
    /// a `patient.nir.read` permit), with the permit's trace committed first.
    pub async fn patient(&self, permit: Permit) -> Result<SealedPatient, StoreError> {
        let id = require(&permit, READ_ACTIONS)?;
        let with_nir = permit.allows(Action::NirRead);
        traced_tx!(self, trace_of(&permit), |conn| {
            let row = sqlx::query(select_patient!("WHERE p.id = $1"))
                .bind(id.as_uuid())
                .fetch_optional(&mut *conn)
                .await?
                .ok_or(StoreError::NotFound)?;
            from_row(&row, with_nir)
        })
    }

    /// Several patients at once (a list page), each under its own `patient.identity.read` permit: all
    /// traces commit in one transaction. Patients that no longer exist are skipped.
    pub async fn patients(&self, permits: Vec<Permit>) -> Result<Vec<SealedPatient>, StoreError> {
        let mut ids = Vec::with_capacity(permits.len());
        let mut traces = Vec::with_capacity(permits.len());
        for permit in &permits {
            ids.push(require(permit, &[Action::IdentityRead])?.as_uuid());
            traces.push(permit.trace().clone());
        }
        traced_tx!(self, traces, |conn| {
            let mut out = Vec::with_capacity(ids.len());
            for id in &ids {
                if let Some(row) = sqlx::query(select_patient!("WHERE p.id = $1"))
                    .bind(*id)
                    .fetch_optional(&mut *conn)
                    .await?
                {
                    out.push(from_row(&row, false)?);
                }
            }
            Ok::<_, StoreError>(out)
        })
    }

    /// Patients whose NIR has this blind index (at most one), under a `patient.search` permit.
    pub async fn find_patients_by_nir(
        &self,
        permit: Permit,
        index: [u8; 32],
    ) -> Result<Vec<SealedPatient>, StoreError> {
        require_registry(&permit, Action::PatientSearch)?;
        traced_tx!(self, trace_of(&permit), |conn| {
            let rows = sqlx::query(select_patient!("WHERE p.nir_index = $1"))
                .bind(index.to_vec())
                .fetch_all(&mut *conn)
                .await?;
            rows.iter()
                .map(|r| from_row(r, false))
                .collect::<Result<Vec<_>, _>>()
        })
    }

    /// Patients whose name + birth date has this blind index, under a `patient.search` permit.
    pub async fn find_patients_by_name(
        &self,
        permit: Permit,
        index: [u8; 32],
    ) -> Result<Vec<SealedPatient>, StoreError> {
        require_registry(&permit, Action::PatientSearch)?;
        traced_tx!(self, trace_of(&permit), |conn| {
            let rows = sqlx::query(select_patient!(
                "WHERE p.id IN (SELECT patient_id FROM patient_name_index \
                 WHERE digest = $1) ORDER BY p.created_at LIMIT 50"
            ))
            .bind(index.to_vec())
            .fetch_all(&mut *conn)
            .await?;
            rows.iter()
                .map(|r| from_row(r, false))
                .collect::<Result<Vec<_>, _>>()
        })
    }

    /// Corrects identity traits under a `patient.identity.write` permit.
    pub async fn update_patient(&self, permit: Permit, u: PatientUpdate) -> Result<(), StoreError> {
        let id = require(&permit, &[Action::IdentityWrite])?.as_uuid();
        let at = to_micros(u.at)?;
        traced_tx!(self, trace_of(&permit), |conn| {
            let done = sqlx::query(
                "UPDATE patients SET ins_status = $2, identity = $3, updated_at = $4 WHERE id = $1",
            )
            .bind(id)
            .bind(u.ins_status.as_str())
            .bind(u.identity.clone())
            .bind(at)
            .execute(&mut *conn)
            .await?;
            if done.rows_affected() == 0 {
                return Err(StoreError::NotFound);
            }
            if let Some(nir) = &u.nir {
                let (sealed, index) = match nir {
                    Some((s, i)) => (Some(s.clone()), Some(i.to_vec())),
                    None => (None, None),
                };
                sqlx::query("UPDATE patients SET nir = $2, nir_index = $3 WHERE id = $1")
                    .bind(id)
                    .bind(sealed)
                    .bind(index)
                    .execute(&mut *conn)
                    .await
                    .map_err(|e| unique_violation(e, NIR_CONFLICT))?;
            }
            sqlx::query("DELETE FROM patient_name_index WHERE patient_id = $1")
                .bind(id)
                .execute(&mut *conn)
                .await?;
            for digest in dedup(&u.name_digests) {
                sqlx::query("INSERT INTO patient_name_index (patient_id, digest) VALUES ($1, $2)")
                    .bind(id)
                    .bind(digest)
                    .execute(&mut *conn)
                    .await?;
            }
            Ok::<(), StoreError>(())
        })
    }

    /// Links the patient's own account (the patient then reaches their record as "self"), under a
    /// `patient.identity.write` permit. An account already linked to another patient is
    /// [`StoreError::Conflict`].
    pub async fn link_patient_account(
        &self,
        permit: Permit,
        user: UserId,
        at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let id = require(&permit, &[Action::IdentityWrite])?.as_uuid();
        let at = to_micros(at)?;
        traced_tx!(self, trace_of(&permit), |conn| {
            sqlx::query("UPDATE patients SET user_id = $2, updated_at = $3 WHERE id = $1")
                .bind(id)
                .bind(user.as_uuid())
                .bind(at)
                .execute(&mut *conn)
                .await
                .map_err(|e| unique_violation(e, NIR_CONFLICT))?;
            Ok::<(), StoreError>(())
        })
    }

    /// The patient record linked to this account, if any (not health data: an id).
    pub async fn patient_of_account(&self, user: UserId) -> Result<Option<PatientId>, StoreError> {
        super::read_only!(self, |conn| {
            let row = sqlx::query("SELECT id FROM patients WHERE user_id = $1")
                .bind(user.as_uuid())
                .fetch_optional(&mut *conn)
                .await?;
            row.map(|r| Ok(PatientId::from_uuid(r.try_get::<Uuid, _>(0)?)))
                .transpose()
        })
    }

    /// Records an audit event alone (denials, DPO reviews): durable on return.
    pub async fn record_trace(&self, event: &AuditEvent) -> Result<(), StoreError> {
        self.append_audit(event).await.map(|_| ())
    }
}

fn dedup(digests: &[[u8; 32]]) -> Vec<Vec<u8>> {
    let mut v: Vec<Vec<u8>> = digests.iter().map(|d| d.to_vec()).collect();
    v.sort();
    v.dedup();
    v
}

impl Store {
    /// Who accessed the permit's patient record (TRACE-4), newest first, under an
    /// `access_log.read` permit whose own trace is durable before anything is read.
    pub async fn patient_access_log(
        &self,
        permit: Permit,
        limit: u32,
    ) -> Result<Vec<crate::StoredAuditEvent>, StoreError> {
        let id = require(&permit, &[Action::AccessLogRead])?;
        self.append_audit(permit.trace()).await?;
        let mut all = Vec::new();
        let mut after = None;
        // Chain order (oldest first) in pages; the newest `limit` are kept.
        loop {
            let page = self
                .audit_events(&crate::AuditFilter {
                    patient: Some(id),
                    after_seq: after,
                    limit: Some(1000),
                    ..crate::AuditFilter::default()
                })
                .await?;
            let Some(last) = page.last() else { break };
            after = Some(last.seq);
            let full = page.len() == 1000;
            all.extend(page);
            let keep = usize::try_from(limit).unwrap_or(usize::MAX);
            if all.len() > keep {
                all.drain(..all.len() - keep);
            }
            if !full {
                break;
            }
        }
        all.reverse();
        Ok(all)
    }
}
