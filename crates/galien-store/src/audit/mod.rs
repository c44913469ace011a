//! The audit trail (TRACE-1, TRACE-2): append-only, hash-chained records with signed Merkle
//! checkpoints, searchable by user, patient, action and period, and verifiable end to end.
//!
//! Each record stores its canonical bytes (`galien_core::audit::canonical_bytes`), the hash of the
//! previous record and its own hash (`galien_crypto::audit::record_hash`); plain columns beside them
//! (`at`, `actor_user`, `action`, `outcome`, `patient`) serve searches and are checked against the
//! hashed bytes by [`Store::verify_audit`]. Tables are append-only through triggers on both engines
//! (defence in depth: an attacker with database access can drop them, which is what the chain and the
//! signed checkpoints are for).

pub(crate) mod dialect;
pub(crate) mod group;
pub(crate) mod postgres;
pub(crate) mod sqlite;
mod verify;

use galien_core::audit::{AuditAction, AuditEvent, canonical_bytes, decode_canonical, to_micros};
use galien_core::ids::{PatientId, UserId};
use galien_crypto::audit::{
    AuditSigningKey, CompactRange, GENESIS, Hash, SignedTreeHead, TreeHead, record_hash,
};
use time::OffsetDateTime;

use crate::{Imp, Store, StoreError};
use dialect::CheckpointRow;

pub use verify::{AuditProblem, ProblemKind, VerifyReport};

/// Rows read per round trip when scanning the trail.
const PAGE_SIZE: i64 = 1000;
/// Default and maximum number of results of [`Store::audit_events`].
const DEFAULT_LIMIT: u32 = 100;
const MAX_LIMIT: u32 = 1000;

/// Runs `$body` through `$store`'s engine method `$job` (`read` or `write`), with `$d` naming the
/// dialect module and `$c` the connection.
macro_rules! on_dialect {
    ($store:expr, $job:ident, $d:ident, $c:ident => $body:expr) => {
        match &*$store.inner {
            Imp::Sqlite(s) => {
                use self::sqlite as $d;
                s.$job(move |$c| Box::pin(async move { $body })).await
            }
            Imp::Postgres(s) => {
                use self::postgres as $d;
                s.$job(move |$c| Box::pin(async move { $body })).await
            }
        }
    };
}

/// Runs `$body` on a connection of this store's engine, inside a write transaction (SQLite: the
/// group-committing writer; PostgreSQL: a pooled connection), with `$d` naming the dialect module.
///
/// Reads of the trail go through `on_read!` instead.
macro_rules! on_conn {
    ($store:expr, $d:ident, $c:ident => $body:expr) => {
        on_dialect!($store, write, $d, $c => $body)
    };
}

/// Runs `$body` on a read connection of this store's engine, with `$d` naming the dialect module:
/// what is committed, in one snapshot, without holding up the writer. Appends commit in seq order
/// on both engines, so a snapshot holds a gapless prefix of the chain. (On SQLite the writer would
/// also show the records of its batch not committed yet, which may still roll back.)
macro_rules! on_read {
    ($store:expr, $d:ident, $c:ident => $body:expr) => {
        on_dialect!($store, read, $d, $c => $body)
    };
}

/// A record as stored: its place in the chain, the decoded event and its hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredAuditEvent {
    /// Position in the chain (1, 2, …, without gaps).
    pub seq: u64,
    /// The event, decoded from the hashed bytes.
    pub event: AuditEvent,
    /// The record hash.
    pub hash: Hash,
}

/// Search criteria; every one given must match. Results come in chain order (oldest first).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    /// Acting user.
    pub user: Option<UserId>,
    /// Patient concerned.
    pub patient: Option<PatientId>,
    /// Action.
    pub action: Option<AuditAction>,
    /// At or after.
    pub from: Option<OffsetDateTime>,
    /// Strictly before.
    pub to: Option<OffsetDateTime>,
    /// At most this many (default 100, at most 1000).
    pub limit: Option<u32>,
    /// Only records after this seq (paging: pass the last seq of the previous page).
    pub after_seq: Option<u64>,
}

/// A bound search parameter.
pub(crate) enum Param {
    Uuid(uuid::Uuid),
    Int(i64),
    Text(&'static str),
}

/// A search built from constant SQL fragments and bound parameters only.
pub(crate) struct SearchQuery {
    pub sql: String,
    pub params: Vec<Param>,
}

/// `(seq, canonical, hash)`.
pub(crate) type SearchRow = (i64, Vec<u8>, Vec<u8>);

impl AuditFilter {
    fn query(&self) -> Result<SearchQuery, StoreError> {
        let mut sql = String::from("SELECT seq, canonical, hash FROM audit_events WHERE seq > $1");
        let after = i64::try_from(self.after_seq.unwrap_or(0))
            .map_err(|_| StoreError::Other("after_seq out of range".into()))?;
        let mut params = vec![Param::Int(after)];
        let mut push = |column: &str, op: &str, p: Param| {
            params.push(p);
            sql.push_str(&format!(" AND {column} {op} ${}", params.len()));
        };
        if let Some(u) = self.user {
            push("actor_user", "=", Param::Uuid(u.as_uuid()));
        }
        if let Some(p) = self.patient {
            push("patient", "=", Param::Uuid(p.as_uuid()));
        }
        if let Some(a) = self.action {
            push("action", "=", Param::Text(a.as_str()));
        }
        if let Some(t) = self.from {
            push("at", ">=", Param::Int(to_micros(t)));
        }
        if let Some(t) = self.to {
            push("at", "<", Param::Int(to_micros(t)));
        }
        let limit = self.limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT);
        params.push(Param::Int(i64::from(limit)));
        sql.push_str(&format!(" ORDER BY seq LIMIT ${}", params.len()));
        Ok(SearchQuery { sql, params })
    }
}

/// A record ready to insert, chained to `head`.
pub(crate) struct NewRecord {
    pub seq: i64,
    pub id: uuid::Uuid,
    pub at: i64,
    pub actor_user: Option<uuid::Uuid>,
    pub action: &'static str,
    pub outcome: &'static str,
    pub patient: Option<uuid::Uuid>,
    pub canonical: Vec<u8>,
    pub prev_hash: Hash,
    pub hash: Hash,
}

impl NewRecord {
    pub(crate) fn build(
        head: Option<(i64, Vec<u8>)>,
        event: &AuditEvent,
    ) -> Result<NewRecord, StoreError> {
        let (prev_seq, prev_hash) = match head {
            None => (0, GENESIS),
            Some((seq, hash)) => (seq, to_hash(&hash, seq)?),
        };
        let seq = prev_seq + 1;
        let canonical = canonical_bytes(event);
        let hash = record_hash(&prev_hash, to_u64(seq)?, &canonical);
        Ok(NewRecord {
            seq,
            id: event.id.as_uuid(),
            at: to_micros(event.at),
            actor_user: event.actor.user.map(|u| u.as_uuid()),
            action: event.action.as_str(),
            outcome: event.outcome.as_str(),
            patient: event.patient.map(|p| p.as_uuid()),
            canonical,
            prev_hash,
            hash,
        })
    }

    /// The records of `events`, in order, chained after `head` (`None`: the empty trail).
    pub(crate) fn chain(
        head: Option<(i64, Vec<u8>)>,
        events: &[AuditEvent],
    ) -> Result<Vec<NewRecord>, StoreError> {
        let mut head = head;
        let mut records = Vec::with_capacity(events.len());
        for event in events {
            let rec = NewRecord::build(head.take(), event)?;
            head = Some((rec.seq, rec.hash.to_vec()));
            records.push(rec);
        }
        Ok(records)
    }
}

fn to_hash(bytes: &[u8], seq: i64) -> Result<Hash, StoreError> {
    bytes.try_into().map_err(|_| {
        StoreError::Other(format!(
            "audit record {seq} has a malformed hash; run `galien audit verify`"
        ))
    })
}

fn to_u64(v: i64) -> Result<u64, StoreError> {
    u64::try_from(v).map_err(|_| StoreError::Other("negative audit seq or size".into()))
}

fn to_i64(v: u64) -> Result<i64, StoreError> {
    i64::try_from(v).map_err(|_| StoreError::Other("audit seq or size out of range".into()))
}

/// A stored checkpoint, decoded. `frontier` is `None` when its bytes are malformed.
pub(crate) struct Checkpoint {
    pub signed: SignedTreeHead,
    pub frontier: Option<CompactRange>,
}

impl Checkpoint {
    fn from_row(row: CheckpointRow) -> Result<Checkpoint, StoreError> {
        let (size, root, at, signature, key_id, frontier) = row;
        let malformed = || {
            StoreError::Other(format!(
                "audit checkpoint {size} is malformed; run `galien audit verify`"
            ))
        };
        let head = TreeHead {
            size: to_u64(size)?,
            root: root.as_slice().try_into().map_err(|_| malformed())?,
            at: galien_core::audit::from_micros(at).ok_or_else(malformed)?,
        };
        Ok(Checkpoint {
            signed: SignedTreeHead {
                head,
                // A signature of the wrong length cannot verify; keep the row so `verify` reports it.
                signature: signature.as_slice().try_into().unwrap_or([0u8; 64]),
                key_id,
            },
            frontier: CompactRange::from_bytes(&frontier)
                .ok()
                .filter(|f| f.size() == head.size && f.root() == head.root),
        })
    }
}

impl Store {
    /// Appends `event` to the audit trail and returns its seq. Durable on return (SQLite: committed by
    /// the group-commit writer; PostgreSQL: committed). The chain head is read and extended in the same
    /// transaction, so concurrent appends — from several nodes on PostgreSQL — form one chain.
    pub async fn append_audit(&self, event: &AuditEvent) -> Result<u64, StoreError> {
        self.append_audit_all(vec![event.clone()])
            .await?
            .ok_or_else(|| StoreError::Other("audit append wrote no record".into()))
    }

    /// Appends `events`, in order, with the other plain appends of the moment (group commit, see
    /// [`group`]): the last record's seq once durable, `None` when there was nothing to append.
    pub async fn append_audit_all(
        &self,
        events: Vec<AuditEvent>,
    ) -> Result<Option<u64>, StoreError> {
        if events.is_empty() {
            return Ok(None);
        }
        let last = match &*self.inner {
            Imp::Sqlite(s) => s.append_audit(events).await?,
            Imp::Postgres(s) => s.append_audit(events).await?,
        };
        Ok(Some(last))
    }

    /// The newest record's seq and hash, or `None` for an empty trail.
    pub async fn audit_head(&self) -> Result<Option<(u64, Hash)>, StoreError> {
        let head = on_read!(self, d, c => d::head(c).await)?;
        head.map(|(seq, hash)| Ok((to_u64(seq)?, to_hash(&hash, seq)?)))
            .transpose()
    }

    /// Records matching `filter`, oldest first, decoded from their hashed bytes.
    pub async fn audit_events(
        &self,
        filter: &AuditFilter,
    ) -> Result<Vec<StoredAuditEvent>, StoreError> {
        let SearchQuery { sql, params } = filter.query()?;
        // A read like any other, on a read connection: one snapshot (one statement) of a gapless
        // prefix of the chain (appends commit in seq order on both engines), without holding up
        // the writer. On SQLite, on a blocking thread rather than through sqlx's connection thread:
        // the anomaly scan reads the whole trail a page at a time, and sqlx's hand-off of each row
        // cost more than the scan's rules.
        let rows: Vec<SearchRow> = match &*self.inner {
            Imp::Sqlite(s) => {
                use crate::identity::Cols;
                use crate::sqlite::inline::Arg;
                let args: Vec<Arg> = params
                    .into_iter()
                    .map(|p| match p {
                        Param::Uuid(u) => Arg::Uuid(u),
                        Param::Int(i) => Arg::Int(i),
                        Param::Text(t) => Arg::Text(t),
                    })
                    .collect();
                s.long_read(&sql, &args)
                    .await?
                    .iter()
                    .map(|r| Ok((r.int(0)?, r.bytes(1)?, r.bytes(2)?)))
                    .collect::<Result<_, StoreError>>()?
            }
            Imp::Postgres(pg) => {
                pg.read(move |conn| {
                    Box::pin(async move {
                        let mut query = sqlx::query_as(sqlx::AssertSqlSafe(sql));
                        for p in params {
                            query = match p {
                                Param::Uuid(u) => query.bind(u),
                                Param::Int(i) => query.bind(i),
                                Param::Text(t) => query.bind(t),
                            };
                        }
                        Ok::<_, StoreError>(query.fetch_all(&mut *conn).await?)
                    })
                })
                .await?
            }
        };
        rows.into_iter()
            .map(|(seq, canonical, hash)| {
                let event = decode_canonical(&canonical).map_err(|e| {
                    StoreError::Other(format!(
                        "audit record {seq} cannot be decoded ({e}); run `galien audit verify`"
                    ))
                })?;
                Ok(StoredAuditEvent {
                    seq: to_u64(seq)?,
                    event,
                    hash: to_hash(&hash, seq)?,
                })
            })
            .collect()
    }

    /// The patients whose records `user` reached with one of `actions`, successfully, at or after
    /// `since`, in the records before `before_seq`; each with the time of the latest such record.
    /// What the anomaly scanner needs of the trail before the point where it starts counting.
    pub async fn audit_patients_reached(
        &self,
        user: UserId,
        actions: &[AuditAction],
        since: OffsetDateTime,
        before_seq: u64,
    ) -> Result<Vec<(PatientId, OffsetDateTime)>, StoreError> {
        if actions.is_empty() {
            return Ok(Vec::new());
        }
        let before = i64::try_from(before_seq)
            .map_err(|_| StoreError::Other("before_seq out of range".into()))?;
        // The actions are `$1` … `$n`, the other parameters follow.
        let n = actions.len();
        let sql = format!(
            "SELECT patient, MAX(at) FROM audit_events WHERE action IN {list} \
             AND actor_user = ${} AND at >= ${} AND seq < ${} AND outcome = ${} \
             AND patient IS NOT NULL GROUP BY patient",
            n + 1,
            n + 2,
            n + 3,
            n + 4,
            list = crate::sql::values(1, n),
        );
        let since = to_micros(since);
        let names: Vec<&'static str> = actions.iter().map(|a| a.as_str()).collect();
        let success = galien_core::audit::Outcome::Success.as_str();
        let rows: Vec<(uuid::Uuid, i64)> = crate::patients::read_only!(self, |conn| {
            let mut query = sqlx::query_as(sqlx::AssertSqlSafe(sql));
            for name in names {
                query = query.bind(name);
            }
            let query = query
                .bind(user.as_uuid())
                .bind(since)
                .bind(before)
                .bind(success);
            Ok::<_, StoreError>(query.fetch_all(&mut *conn).await?)
        })?;
        rows.into_iter()
            .map(|(patient, at)| {
                let at = galien_core::audit::from_micros(at)
                    .ok_or_else(|| StoreError::Other(format!("audit time {at} out of range")))?;
                Ok((PatientId::from_uuid(patient), at))
            })
            .collect()
    }

    /// The newest signed checkpoint, if any.
    pub async fn latest_checkpoint(&self) -> Result<Option<SignedTreeHead>, StoreError> {
        let row = on_read!(self, d, c => d::latest_checkpoint(c).await)?;
        Ok(row.map(Checkpoint::from_row).transpose()?.map(|c| c.signed))
    }

    /// Signs and stores a checkpoint of the whole trail as it is now: the Merkle root over every record
    /// hash. Extends the previous checkpoint's frontier (only newer records are read), and checks the
    /// chain of those records on the way, refusing to sign over a broken one. With nothing new since
    /// the last checkpoint, returns it unchanged. On an empty trail it stores the size-0 head (the root
    /// of the empty tree), which start-up uses to anchor a new installation.
    pub async fn audit_checkpoint(
        &self,
        key: &AuditSigningKey,
        now: OffsetDateTime,
    ) -> Result<SignedTreeHead, StoreError> {
        let latest = on_read!(self, d, c => d::latest_checkpoint(c).await)?
            .map(Checkpoint::from_row)
            .transpose()?;
        let target = self.audit_head().await?.map_or(0, |(seq, _)| seq);
        let (mut range, mut prev) = match latest {
            Some(c) if c.signed.head.size == target => return Ok(c.signed),
            Some(Checkpoint {
                signed,
                frontier: Some(frontier),
            }) if signed.head.size > 0
                && signed.head.size < target
                && signed.verify(&key.verifying_key()) =>
            {
                let prev = self.record_hash_at(signed.head.size).await?;
                (frontier, prev)
            }
            Some(c) if c.signed.head.size > target => {
                return Err(StoreError::Other(format!(
                    "audit checkpoint covers {} records but the trail has {target}; run `galien audit verify`",
                    c.signed.head.size
                )));
            }
            // No usable checkpoint: fold from the first record.
            _ => (CompactRange::new(), GENESIS),
        };
        while range.size() < target {
            let after = to_i64(range.size())?;
            let limit = PAGE_SIZE.min(to_i64(target - range.size())?);
            let rows = on_read!(self, d, c => d::page(c, after, limit).await)?;
            if rows.is_empty() {
                return Err(broken(range.size() + 1));
            }
            for (seq, _, _, _, _, _, _, canonical, prev_hash, hash) in rows {
                let useq = to_u64(seq)?;
                if useq != range.size() + 1
                    || prev_hash != prev
                    || hash != record_hash(&prev, useq, &canonical)
                {
                    return Err(broken(range.size() + 1));
                }
                prev = to_hash(&hash, seq)?;
                range.push(&prev);
            }
        }
        let signed = key.sign_head(TreeHead {
            size: range.size(),
            root: range.root(),
            at: galien_core::audit::truncate_to_micros(now),
        });
        let row: CheckpointRow = (
            to_i64(signed.head.size)?,
            signed.head.root.to_vec(),
            to_micros(signed.head.at),
            signed.signature.to_vec(),
            signed.key_id.clone(),
            range.to_bytes(),
        );
        // A concurrent checkpoint of the same size may have won: the stored one is returned.
        let stored = on_conn!(self, d, c => d::insert_checkpoint(c, row).await)?;
        Ok(Checkpoint::from_row(stored)?.signed)
    }

    async fn record_hash_at(&self, seq: u64) -> Result<Hash, StoreError> {
        let after = to_i64(seq)? - 1;
        let rows = on_read!(self, d, c => d::page(c, after, 1).await)?;
        match rows.into_iter().next() {
            Some(row) if row.0 == after + 1 => to_hash(&row.9, row.0),
            // Record `seq` was purged: its hash is kept by the signed marker.
            _ => match self.audit_purge_marker().await? {
                Some(p) if p.marker.through == seq => Ok(p.marker.last_hash),
                _ => Err(broken(seq)),
            },
        }
    }

    /// A page of raw records after `after` (for [`verify`]).
    pub(crate) async fn audit_page(
        &self,
        after: u64,
        limit: i64,
    ) -> Result<Vec<dialect::RecordRow>, StoreError> {
        let after = to_i64(after)?;
        on_read!(self, d, c => d::page(c, after, limit).await)
    }

    /// Every checkpoint, smallest first.
    pub(crate) async fn audit_checkpoints_raw(&self) -> Result<Vec<Checkpoint>, StoreError> {
        let rows = on_read!(self, d, c => d::checkpoints(c).await)?;
        rows.into_iter().map(Checkpoint::from_row).collect()
    }
}

fn broken(seq: u64) -> StoreError {
    StoreError::Other(format!(
        "the audit trail does not verify at record {seq}; refusing to sign a checkpoint over it — run `galien audit verify`"
    ))
}

mod purge;
pub use purge::StoredPurge;
