//! The audit trail's SQL, written once and instantiated for each dialect by [`audit_dialect!`]: the
//! text is shared (both engines accept `$n` parameters), only the connection type and the chain lock
//! differ.

/// `(seq, id, at, actor_user, action, outcome, patient, canonical, prev_hash, hash)`.
pub(crate) type RecordRow = (
    i64,
    uuid::Uuid,
    i64,
    Option<uuid::Uuid>,
    String,
    String,
    Option<uuid::Uuid>,
    Vec<u8>,
    Vec<u8>,
    Vec<u8>,
);

/// `(size, root, at, signature, key_id, frontier)`.
pub(crate) type CheckpointRow = (i64, Vec<u8>, i64, Vec<u8>, String, Vec<u8>);

/// A record's columns, in the order of [`RecordRow`], of [`insert_rows`]' parameters and of
/// PostgreSQL's append after a known head: a literal, for `concat!`.
macro_rules! record_columns {
    () => {
        "seq, id, at, actor_user, action, outcome, patient, canonical, prev_hash, hash"
    };
}

pub(crate) use record_columns;

pub(crate) const HEAD: &str = "SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1";
/// Records inserted by one statement of [`append_all_in`] (10 parameters each: well under SQLite's
/// oldest limit of 999 bound parameters).
pub(crate) const ROWS_PER_INSERT: usize = 64;

/// `INSERT INTO audit_events (…) VALUES (…), (…)` for `rows` records, parameters in order.
pub(crate) fn insert_rows<C: crate::sql::Engine>(rows: usize) -> String {
    format!(
        concat!(
            "INSERT INTO audit_events (",
            record_columns!(),
            ") VALUES {}"
        ),
        crate::sql::values_for::<C>(rows, 10)
    )
}

pub(crate) const PAGE: &str = concat!(
    "SELECT ",
    record_columns!(),
    " FROM audit_events WHERE seq > $1 ORDER BY seq LIMIT $2"
);
pub(crate) const CHECKPOINTS: &str =
    "SELECT size, root, at, signature, key_id, frontier FROM audit_checkpoints ORDER BY size";
pub(crate) const LATEST_CHECKPOINT: &str = "SELECT size, root, at, signature, key_id, frontier \
     FROM audit_checkpoints ORDER BY size DESC LIMIT 1";
pub(crate) const CHECKPOINT_BY_SIZE: &str = "SELECT size, root, at, signature, key_id, frontier \
     FROM audit_checkpoints WHERE size = $1";
pub(crate) const INSERT_CHECKPOINT: &str = "INSERT INTO audit_checkpoints \
     (size, root, at, signature, key_id, frontier) VALUES ($1, $2, $3, $4, $5, $6) \
     ON CONFLICT (size) DO NOTHING";

macro_rules! audit_dialect {
    ($conn:ty, $lock:expr) => {
        use galien_core::audit::AuditEvent;

        use crate::StoreError;
        use crate::audit::NewRecord;
        use crate::audit::dialect::{self as sql, CheckpointRow, RecordRow};

        /// Appends `event` to the chain inside the caller's open transaction on `conn`, so that a
        /// change and the trace that allows it commit together. Returns the record's seq.
        pub(crate) async fn append_in(
            conn: &mut $conn,
            event: &AuditEvent,
        ) -> Result<u64, StoreError> {
            append_all_in(conn, std::slice::from_ref(event))
                .await?
                .ok_or_else(|| StoreError::Other("audit append wrote no record".into()))
        }

        /// Appends `events`, in order, inside the caller's open transaction on `conn`: the same
        /// records [`append_in`] would write one by one, with one chain lock, one read of the head
        /// and one `INSERT` per [`sql::ROWS_PER_INSERT`] records — fewer round trips while the
        /// writer (SQLite) or the chain lock (PostgreSQL) is held. Returns the last seq.
        pub(crate) async fn append_all_in(
            conn: &mut $conn,
            events: &[AuditEvent],
        ) -> Result<Option<u64>, StoreError> {
            match append_chain_in(conn, events).await? {
                None => Ok(None),
                Some((last, _)) => u64::try_from(last)
                    .map(Some)
                    .map_err(|_| StoreError::Other("audit seq out of range".into())),
            }
        }

        /// [`append_all_in`], returning the chain's new head: the last record's seq and hash.
        pub(crate) async fn append_chain_in(
            conn: &mut $conn,
            events: &[AuditEvent],
        ) -> Result<Option<(i64, crate::audit::Hash)>, StoreError> {
            if events.is_empty() {
                return Ok(None);
            }
            if let Some(lock) = $lock {
                sqlx::query(lock).execute(&mut *conn).await?;
            }
            let head = head(&mut *conn).await?;
            let records = NewRecord::chain(head, events)?;
            for chunk in records.chunks(sql::ROWS_PER_INSERT) {
                let text = sql::insert_rows::<$conn>(chunk.len());
                let query = bind_records(sqlx::query(sqlx::AssertSqlSafe(text)), chunk);
                query.execute(&mut *conn).await?;
            }
            Ok(records.last().map(|r| (r.seq, r.hash)))
        }

        /// `query` with the ten parameters of each of `records`, in the order of
        /// [`sql::insert_rows`].
        pub(crate) fn bind_records<'q>(
            mut query: sqlx::query::Query<
                'q,
                <$conn as sqlx::Connection>::Database,
                <<$conn as sqlx::Connection>::Database as sqlx::Database>::Arguments,
            >,
            records: &'q [NewRecord],
        ) -> sqlx::query::Query<
            'q,
            <$conn as sqlx::Connection>::Database,
            <<$conn as sqlx::Connection>::Database as sqlx::Database>::Arguments,
        > {
            for rec in records {
                query = query
                    .bind(rec.seq)
                    .bind(rec.id)
                    .bind(rec.at)
                    .bind(rec.actor_user)
                    .bind(rec.action)
                    .bind(rec.outcome)
                    .bind(rec.patient)
                    .bind(rec.canonical.as_slice())
                    .bind(rec.prev_hash.as_slice())
                    .bind(rec.hash.as_slice());
            }
            query
        }

        pub(crate) async fn head(conn: &mut $conn) -> Result<Option<(i64, Vec<u8>)>, StoreError> {
            Ok(sqlx::query_as(sql::HEAD).fetch_optional(&mut *conn).await?)
        }

        pub(crate) async fn page(
            conn: &mut $conn,
            after: i64,
            limit: i64,
        ) -> Result<Vec<RecordRow>, StoreError> {
            Ok(sqlx::query_as(sql::PAGE)
                .bind(after)
                .bind(limit)
                .fetch_all(&mut *conn)
                .await?)
        }

        pub(crate) async fn checkpoints(
            conn: &mut $conn,
        ) -> Result<Vec<CheckpointRow>, StoreError> {
            Ok(sqlx::query_as(sql::CHECKPOINTS)
                .fetch_all(&mut *conn)
                .await?)
        }

        pub(crate) async fn latest_checkpoint(
            conn: &mut $conn,
        ) -> Result<Option<CheckpointRow>, StoreError> {
            Ok(sqlx::query_as(sql::LATEST_CHECKPOINT)
                .fetch_optional(&mut *conn)
                .await?)
        }

        /// Inserts the checkpoint unless one of that size exists; returns the stored one.
        pub(crate) async fn insert_checkpoint(
            conn: &mut $conn,
            row: CheckpointRow,
        ) -> Result<CheckpointRow, StoreError> {
            sqlx::query(sql::INSERT_CHECKPOINT)
                .bind(row.0)
                .bind(row.1.as_slice())
                .bind(row.2)
                .bind(row.3.as_slice())
                .bind(row.4.as_str())
                .bind(row.5.as_slice())
                .execute(&mut *conn)
                .await?;
            Ok(sqlx::query_as(sql::CHECKPOINT_BY_SIZE)
                .bind(row.0)
                .fetch_one(&mut *conn)
                .await?)
        }
    };
}

pub(crate) use audit_dialect;
