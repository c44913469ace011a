//! Retention of the audit trail (TRACE-7): `audit_purge` removes the records older than a cutoff, up
//! to the newest signed checkpoint below it, and leaves a marker signed with the audit key (the last
//! seq removed, how many, the hash of that record). `verify_audit` then starts at that checkpoint
//! with the marker's hash, so the remaining chain, its checkpoints and the marker itself verify.

use galien_core::audit::{AuditEvent, from_micros, to_micros};
use galien_crypto::audit::{AuditSigningKey, PurgeMarker, VerifyingKey};
use sqlx::Row;
use time::OffsetDateTime;

use super::{Checkpoint, postgres, sqlite, to_hash, to_i64, to_u64};
use crate::{Imp, Store, StoreError};

/// A purge marker as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredPurge {
    /// What was purged.
    pub marker: PurgeMarker,
    /// The audit key's signature over it.
    pub signature: Vec<u8>,
    /// Which key signed it.
    pub key_id: String,
}

impl StoredPurge {
    /// Whether `key` signed it.
    pub fn verify(&self, key: &VerifyingKey) -> bool {
        self.marker.verify(key, &self.signature)
    }
}

const LATEST: &str = "SELECT through, removed, last_hash, cutoff, at, signature, key_id \
     FROM audit_purges ORDER BY through DESC LIMIT 1";
const INSERT: &str = "INSERT INTO audit_purges (through, removed, last_hash, cutoff, at, \
     signature, key_id) VALUES ($1, $2, $3, $4, $5, $6, $7)";

/// Runs `$body` on either backend's connection (SQL shared by both dialects).
macro_rules! any_conn {
    ($store:expr, $c:ident => $body:expr) => {
        match &*$store.inner {
            Imp::Sqlite(s) => s.write(move |$c| Box::pin(async move { $body })).await,
            Imp::Postgres(s) => s.write(move |$c| Box::pin(async move { $body })).await,
        }
    };
}

fn corrupt() -> StoreError {
    StoreError::Other("malformed audit purge marker; run `galien audit verify`".into())
}

fn time_of(us: i64) -> Result<OffsetDateTime, StoreError> {
    from_micros(us).ok_or_else(corrupt)
}

impl Store {
    /// The newest purge marker, if the trail was ever purged.
    pub async fn audit_purge_marker(&self) -> Result<Option<StoredPurge>, StoreError> {
        let row = any_conn!(self, c => {
            let row = sqlx::query(LATEST).fetch_optional(&mut *c).await?;
            match row {
                None => Ok::<_, StoreError>(None),
                Some(r) => Ok(Some((
                    r.try_get::<i64, _>(0)?,
                    r.try_get::<i64, _>(1)?,
                    r.try_get::<Vec<u8>, _>(2)?,
                    r.try_get::<i64, _>(3)?,
                    r.try_get::<i64, _>(4)?,
                    r.try_get::<Vec<u8>, _>(5)?,
                    r.try_get::<String, _>(6)?,
                ))),
            }
        })?;
        let Some((through, removed, last_hash, cutoff, at, signature, key_id)) = row else {
            return Ok(None);
        };
        Ok(Some(StoredPurge {
            marker: PurgeMarker {
                through: to_u64(through)?,
                removed: to_u64(removed)?,
                last_hash: to_hash(&last_hash, through)?,
                cutoff: time_of(cutoff)?,
                at: time_of(at)?,
            },
            signature,
            key_id,
        }))
    }

    /// Removes the records older than `cutoff`, up to the newest signed checkpoint at or below the
    /// last of them (checkpoints are signed every few minutes, so at most that much more is kept),
    /// leaves a signed marker, and appends the event `record(&marker)` in the same transaction.
    /// `None` when there is nothing to remove.
    pub async fn audit_purge(
        &self,
        key: &AuditSigningKey,
        cutoff: OffsetDateTime,
        now: OffsetDateTime,
        record: impl FnOnce(&PurgeMarker) -> AuditEvent,
    ) -> Result<Option<StoredPurge>, StoreError> {
        // A checkpoint at the head first: the newest records stay covered, whatever is removed.
        self.audit_checkpoint(key, now).await?;
        let Some((head, _)) = self.audit_head().await? else {
            return Ok(None);
        };
        let cutoff_us = to_micros(cutoff);
        let first_young: Option<i64> = any_conn!(self, c => {
            let row = sqlx::query("SELECT MIN(seq) FROM audit_events WHERE at >= $1")
                .bind(cutoff_us)
                .fetch_one(&mut *c)
                .await?;
            Ok::<_, StoreError>(row.try_get::<Option<i64>, _>(0)?)
        })?;
        let candidate = match first_young {
            Some(s) => to_u64(s)?.saturating_sub(1),
            None => head,
        };
        let floor = self
            .audit_purge_marker()
            .await?
            .map_or(0, |m| m.marker.through);
        let verifying = key.verifying_key();
        let through = self
            .audit_checkpoints_raw()
            .await?
            .into_iter()
            .filter(|c: &Checkpoint| c.signed.verify(&verifying) && c.frontier.is_some())
            .map(|c| c.signed.head.size)
            .filter(|size| *size > floor && *size <= candidate)
            .max();
        let Some(through) = through else {
            return Ok(None);
        };
        let last_hash = self.record_hash_at(through).await?;
        let through_i = to_i64(through)?;
        let removed: i64 = any_conn!(self, c => {
            let row = sqlx::query("SELECT COUNT(*) FROM audit_events WHERE seq <= $1")
                .bind(through_i)
                .fetch_one(&mut *c)
                .await?;
            Ok::<_, StoreError>(row.try_get::<i64, _>(0)?)
        })?;
        let marker = PurgeMarker {
            through,
            removed: to_u64(removed)?,
            last_hash,
            cutoff,
            at: now,
        };
        let signature = key.sign_purge(&marker).to_vec();
        let stored = StoredPurge {
            marker: marker.clone(),
            signature: signature.clone(),
            key_id: key.key_id(),
        };
        let event = record(&marker);
        let key_id = stored.key_id.clone();
        on_conn!(self, d, c => {
            sqlx::query(INSERT)
                .bind(through_i)
                .bind(removed)
                .bind(marker.last_hash.to_vec())
                .bind(to_micros(marker.cutoff))
                .bind(to_micros(marker.at))
                .bind(signature)
                .bind(key_id)
                .execute(&mut *c)
                .await?;
            sqlx::query("DELETE FROM audit_events WHERE seq <= $1")
                .bind(through_i)
                .execute(&mut *c)
                .await?;
            d::append_in(c, &event).await?;
            Ok::<(), StoreError>(())
        })?;
        Ok(Some(stored))
    }
}
