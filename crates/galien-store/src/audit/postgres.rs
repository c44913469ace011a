//! The audit trail on PostgreSQL: several nodes append to one database, so the chain head is read and
//! extended under a transaction-scoped advisory lock; two nodes can never fork the chain (and the
//! primary key on `seq` would refuse a fork anyway).

use sqlx::PgConnection;

/// "galienau": the audit chain's advisory lock key, taken by every appender.
macro_rules! chain_lock {
    () => {
        "SELECT pg_advisory_xact_lock(7449354458576609653)"
    };
}

const CHAIN_LOCK: &str = chain_lock!();

crate::audit::dialect::audit_dialect!(PgConnection, Some(CHAIN_LOCK));

/// The statement of [`append_after`]: `$1`…`$10` the records' columns as arrays, `$11` and `$12`
/// the known head's seq and hash.
const APPEND_AFTER: &str = concat!(
    "WITH chain_lock AS MATERIALIZED (",
    chain_lock!(),
    ") INSERT INTO audit_events (",
    crate::audit::dialect::record_columns!(),
    ") SELECT v.* FROM chain_lock, unnest($1::bigint[], $2::uuid[], $3::bigint[], $4::uuid[], \
     $5::text[], $6::text[], $7::uuid[], $8::bytea[], $9::bytea[], $10::bytea[]) AS v (",
    crate::audit::dialect::record_columns!(),
    ") WHERE EXISTS (SELECT 1 FROM audit_events WHERE seq = $11 AND hash = $12)"
);

/// Appends `events` after `head` — the chain's head as this node's appender last wrote it — in one
/// statement and its own transaction (autocommit): one round trip instead of five (`BEGIN`, the
/// lock, the head, the `INSERT`, `COMMIT`). The statement takes the chain lock before its first row
/// is inserted, so it never commits between another appender's read of the head and that
/// appender's commit. It inserts only if the record `head` names is still there with that hash, and
/// the primary key refuses a `seq` another appender has taken since (a unique violation): either
/// way the chain cannot fork or skip. `Ok(None)`: `head` was not the head, nothing written; the
/// caller appends again under the lock ([`append_chain_in`]), which reads the real head. Returns
/// the new head.
pub(crate) async fn append_after(
    conn: &mut PgConnection,
    head: &(i64, crate::audit::Hash),
    events: &[galien_core::audit::AuditEvent],
) -> Result<Option<(i64, crate::audit::Hash)>, crate::StoreError> {
    if events.is_empty() {
        return Err(crate::StoreError::Other(
            "an audit append needs a record".into(),
        ));
    }
    let records = NewRecord::chain(Some((head.0, head.1.to_vec())), events)?;
    // One text for every group size (the rows as arrays): one prepared statement per connection.
    let query = sqlx::query(APPEND_AFTER)
        .bind(records.iter().map(|r| r.seq).collect::<Vec<_>>())
        .bind(records.iter().map(|r| r.id).collect::<Vec<_>>())
        .bind(records.iter().map(|r| r.at).collect::<Vec<_>>())
        .bind(records.iter().map(|r| r.actor_user).collect::<Vec<_>>())
        .bind(records.iter().map(|r| r.action).collect::<Vec<_>>())
        .bind(records.iter().map(|r| r.outcome).collect::<Vec<_>>())
        .bind(records.iter().map(|r| r.patient).collect::<Vec<_>>())
        .bind(
            records
                .iter()
                .map(|r| r.canonical.as_slice())
                .collect::<Vec<_>>(),
        )
        .bind(
            records
                .iter()
                .map(|r| r.prev_hash.as_slice())
                .collect::<Vec<_>>(),
        )
        .bind(
            records
                .iter()
                .map(|r| r.hash.as_slice())
                .collect::<Vec<_>>(),
        )
        .bind(head.0)
        .bind(head.1.as_slice());
    match query.execute(&mut *conn).await {
        Ok(done) if done.rows_affected() == records.len() as u64 => {
            Ok(records.last().map(|r| (r.seq, r.hash)))
        }
        Ok(_) => Ok(None),
        Err(sqlx::Error::Database(e))
            if matches!(e.kind(), sqlx::error::ErrorKind::UniqueViolation)
                && e.constraint() == Some("audit_events_pkey") =>
        {
            Ok(None)
        }
        Err(e) => Err(e.into()),
    }
}
