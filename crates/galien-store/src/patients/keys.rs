//! Patient data keys at rest: re-wrapping under a new key-encryption key (rotation, DATA-1) and
//! destruction (crypto-shredding, DATA-6).

use galien_core::audit::AuditEvent;
use galien_core::ids::PatientId;
use time::OffsetDateTime;

use super::{WrappedDataKey, read_only, traced_tx};
use crate::identity::{Cols, corrupt};
use crate::tokens::to_micros;
use crate::{Store, StoreError, point_read};

const DATA_KEY: &str = "SELECT kek, wrapped FROM patient_keys WHERE patient_id = $1";

impl Store {
    /// Up to `limit` data keys wrapped by a key-encryption key other than `current`, after `after`
    /// (patient id order), for re-wrapping.
    pub async fn patient_keys_to_rewrap(
        &self,
        current: u32,
        after: Option<PatientId>,
        limit: u32,
    ) -> Result<Vec<(PatientId, WrappedDataKey)>, StoreError> {
        let after = after.map(|p| p.as_uuid()).unwrap_or_default();
        read_only!(self, |conn| {
            let rows = sqlx::query(
                "SELECT patient_id, kek, wrapped FROM patient_keys WHERE kek <> $1 \
                 AND patient_id > $2 ORDER BY patient_id LIMIT $3",
            )
            .bind(i64::from(current))
            .bind(after)
            .bind(i64::from(limit))
            .fetch_all(&mut *conn)
            .await?;
            rows.iter()
                .map(|r| {
                    Ok((
                        PatientId::from_uuid(r.uuid(0)?),
                        WrappedDataKey {
                            kek: u32::try_from(r.int(1)?).map_err(|_| corrupt("kek"))?,
                            bytes: r.bytes(2)?,
                        },
                    ))
                })
                .collect::<Result<Vec<_>, StoreError>>()
        })
    }

    /// How many data keys each key-encryption key wraps.
    pub async fn patient_key_counts(&self) -> Result<Vec<(u32, u64)>, StoreError> {
        read_only!(self, |conn| {
            let rows =
                sqlx::query("SELECT kek, COUNT(*) FROM patient_keys GROUP BY kek ORDER BY kek")
                    .fetch_all(&mut *conn)
                    .await?;
            rows.iter()
                .map(|r| {
                    Ok((
                        u32::try_from(r.int(0)?).map_err(|_| corrupt("kek"))?,
                        u64::try_from(r.int(1)?).unwrap_or(0),
                    ))
                })
                .collect::<Result<Vec<_>, StoreError>>()
        })
    }

    /// Replaces a wrapped data key if it is still `old` (compare-and-set, so a concurrent rotation
    /// never loses a key). `true` iff replaced.
    pub async fn replace_patient_key(
        &self,
        patient: PatientId,
        old: WrappedDataKey,
        new: WrappedDataKey,
        at: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let at = to_micros(at)?;
        traced_tx!(self, Vec::new(), |conn| {
            let done = sqlx::query(
                "UPDATE patient_keys SET kek = $2, wrapped = $3, updated_at = $4 \
                 WHERE patient_id = $1 AND kek = $5 AND wrapped = $6",
            )
            .bind(patient.as_uuid())
            .bind(i64::from(new.kek))
            .bind(new.bytes.clone())
            .bind(at)
            .bind(i64::from(old.kek))
            .bind(old.bytes.clone())
            .execute(&mut *conn)
            .await?;
            Ok::<_, StoreError>(done.rows_affected() == 1)
        })
    }

    /// Destroys the patient's data key (crypto-shredding): every value sealed with it becomes
    /// unreadable for good. `trace` commits with the deletion. `false` if there was no key.
    pub async fn shred_patient_key(
        &self,
        patient: PatientId,
        trace: AuditEvent,
    ) -> Result<bool, StoreError> {
        traced_tx!(self, vec![trace], |conn| {
            let done = sqlx::query("DELETE FROM patient_keys WHERE patient_id = $1")
                .bind(patient.as_uuid())
                .execute(&mut *conn)
                .await?;
            Ok::<_, StoreError>(done.rows_affected() == 1)
        })
    }
}

impl Store {
    /// The wrapped data key of the permit's patient, so the holder of a write permit can seal what it
    /// writes (or open what it reads). Borrowing the permit writes no trace: the write that consumes the permit does. A key
    /// alone opens nothing without the sealed values, which only permits reach.
    pub async fn data_key_for(
        &self,
        permit: &galien_access::Permit,
    ) -> Result<Option<WrappedDataKey>, StoreError> {
        let id = super::require(
            permit,
            &[
                galien_access::Action::RecordWrite,
                galien_access::Action::IdentityWrite,
                galien_access::Action::ObservationWrite,
                galien_access::Action::AppointmentManage,
                galien_access::Action::ConsultationJoin,
                galien_access::Action::RecordRead,
            ],
        )?;
        // Read before every write or call that needs the patient's key: on the calling thread
        // on SQLite.
        point_read!(
            self,
            sqlite: DATA_KEY,
            postgres: DATA_KEY,
            [id.as_uuid()],
            |rows| {
                rows.first()
                    .map(|r| {
                        Ok(WrappedDataKey {
                            kek: u32::try_from(r.int(0)?).map_err(|_| corrupt("kek"))?,
                            bytes: r.bytes(1)?,
                        })
                    })
                    .transpose()
            }
        )
    }
}
