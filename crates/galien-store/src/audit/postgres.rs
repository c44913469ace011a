//! The audit trail on PostgreSQL: several nodes append to one database, so the chain head is read and
//! extended under a transaction-scoped advisory lock; two nodes can never fork the chain (and the
//! primary key on `seq` would refuse a fork anyway).

use sqlx::PgConnection;

/// "galienau": the audit chain's advisory lock key.
const CHAIN_LOCK: &str = "SELECT pg_advisory_xact_lock(7449354458576609653)";

crate::audit::dialect::audit_dialect!(PgConnection, Some(CHAIN_LOCK));

/// Appends `events` after `head` — the chain's head as this node last wrote or read it — in one
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
    if events.is_empty() || events.len() > sql::ROWS_PER_INSERT {
        return Err(crate::StoreError::Other(
            "an append after a known head takes 1 to 64 records".into(),
        ));
    }
    let records = NewRecord::chain(Some((head.0, head.1.to_vec())), events)?;
    let columns = "seq, id, at, actor_user, action, outcome, patient, canonical, prev_hash, hash";
    let values = crate::sql::values_for::<PgConnection>(records.len(), 10);
    let at = records.len() * 10;
    let text = format!(
        "WITH chain_lock AS MATERIALIZED ({CHAIN_LOCK}) \
         INSERT INTO audit_events ({columns}) \
         SELECT v.* FROM chain_lock, (VALUES {values}) AS v ({columns}) \
         WHERE EXISTS (SELECT 1 FROM audit_events WHERE seq = ${} AND hash = ${})",
        at + 1,
        at + 2
    );
    let query = bind_records(sqlx::query(sqlx::AssertSqlSafe(text)), &records)
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
