//! SQLite backend (the embedded default): WAL, `synchronous=FULL`, reads from a read-only pool, every write
//! through the single group-committing [`writer::Writer`].

pub(crate) mod append;
pub(crate) mod inline;
pub(crate) mod writer;

use std::path::Path;
use std::time::Duration;

use futures::future::BoxFuture;
use galien_core::ids::{InstanceId, NodeId};
use galien_crypto::token::TokenDigest;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sqlx::{ConnectOptions, SqliteConnection};
use time::OffsetDateTime;

use crate::pool::{Pool, PoolSettings};
use crate::tokens::{self, EnrolmentToken, NewEnrolmentToken, NewTokenParams, TokenRow};
use crate::{ConsumeError, EventBus, StoreError, StoreOptions, StoreStats, migrate};
use inline::{Arg, Inline, Row};
use writer::Writer;

const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

pub(crate) struct SqliteStore {
    writer: Writer,
    read: Pool<SqliteConnection>,
    inline: Inline,
    bus: EventBus,
    instance: InstanceId,
}

impl SqliteStore {
    pub async fn open(path: &Path, opts: &StoreOptions, node: NodeId) -> Result<Self, StoreError> {
        let base = SqliteConnectOptions::new()
            .filename(path)
            .busy_timeout(BUSY_TIMEOUT)
            .foreign_keys(true);
        let mut conn = base
            .clone()
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .connect()
            .await
            .map_err(|e| cannot_open(path, e))?;
        migrate::run_sqlite(&mut conn).await?;
        let instance = ensure_instance(&mut conn).await?;
        let read_only = base.read_only(true);
        let read = Pool::open(
            PoolSettings::new(opts.max_connections, opts.acquire_timeout),
            Box::new(move || {
                let options = read_only.clone();
                Box::pin(async move { options.connect().await })
            }),
        )
        .await
        .map_err(|e| cannot_open(path, e))?;
        Ok(SqliteStore {
            writer: Writer::start(conn, path, BUSY_TIMEOUT, opts.group_commit_max_batch)?,
            read,
            inline: Inline::new(path, BUSY_TIMEOUT),
            bus: EventBus::local(node),
            instance,
        })
    }

    /// Runs a read-only `job` on a connection of the read pool (WAL: it sees every committed write,
    /// and never waits for the writer).
    pub async fn read<T, F>(&self, job: F) -> Result<T, StoreError>
    where
        F: for<'c> FnOnce(&'c mut SqliteConnection) -> BoxFuture<'c, Result<T, StoreError>>,
    {
        self.read.run(job).await
    }

    /// The rows of a short indexed read (`$1…$n` bound to `args`), read on the calling thread
    /// (see [`inline`]).
    pub async fn point_read(&self, sql: &str, args: &[Arg]) -> Result<Vec<Row>, StoreError> {
        self.inline.rows(sql, args).await
    }

    /// The rows of a read of many rows (`$1…$n` bound to `args`), read on a blocking thread (see
    /// [`inline::Inline::rows_on_blocking_thread`]).
    pub(crate) async fn long_read(&self, sql: &str, args: &[Arg]) -> Result<Vec<Row>, StoreError> {
        self.inline.rows_on_blocking_thread(sql, args).await
    }

    /// Runs `job` on the writer connection in the next group-commit batch (see [`Writer::write`]).
    pub async fn write<T, F>(&self, job: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c mut SqliteConnection) -> BoxFuture<'c, Result<T, StoreError>>
            + Send
            + 'static,
    {
        self.writer.write(job).await
    }

    /// Appends `events` (at least one) to the audit trail with the other plain appends of the next
    /// batch (see [`Writer::append_audit`]); the last record's seq, once durable.
    pub async fn append_audit(
        &self,
        events: Vec<galien_core::audit::AuditEvent>,
    ) -> Result<u64, StoreError> {
        self.writer.append_audit(events).await
    }

    pub fn bus(&self) -> &EventBus {
        &self.bus
    }

    pub fn instance_id(&self) -> InstanceId {
        self.instance
    }

    pub fn stats(&self) -> StoreStats {
        use std::sync::atomic::Ordering;
        let s = &self.writer.stats;
        StoreStats {
            pool_size: self.read.size(),
            pool_idle: u32::try_from(self.read.num_idle()).unwrap_or(u32::MAX),
            writes_committed: s.writes_committed.load(Ordering::Relaxed),
            write_batches: s.write_batches.load(Ordering::Relaxed),
            write_queue_depth: self.writer.pending(),
            audit_appends_after_known_head: 0,
            audit_stale_heads: 0,
        }
    }

    pub async fn close(&self) {
        self.inline.close();
        self.writer.close().await;
        self.read.close().await;
    }

    pub async fn issue_enrolment_token(&self, t: NewEnrolmentToken) -> Result<(), StoreError> {
        let p = NewTokenParams::from(&t)?;
        self.write(move |conn| {
            Box::pin(async move {
                sqlx::query(tokens::REVOKE_OPEN)
                    .bind(p.created_at)
                    .bind(p.purpose)
                    .bind(p.user)
                    .execute(&mut *conn)
                    .await?;
                sqlx::query(tokens::INSERT)
                    .bind(p.id)
                    .bind(p.digest)
                    .bind(p.purpose)
                    .bind(p.user)
                    .bind(p.created_at)
                    .bind(p.expires_at)
                    .execute(&mut *conn)
                    .await?;
                Ok(())
            })
        })
        .await
    }

    pub async fn consume_enrolment_token(
        &self,
        digest: &TokenDigest,
        now: OffsetDateTime,
    ) -> Result<EnrolmentToken, ConsumeError> {
        let digest = digest.as_bytes().to_vec();
        let now_us = tokens::to_micros(now)?;
        // The writer runs one job at a time, so the update and the follow-up read see the same state.
        self.write(move |conn| {
            Box::pin(async move {
                let taken: Option<TokenRow> = sqlx::query_as(tokens::CONSUME)
                    .bind(digest.as_slice())
                    .bind(now_us)
                    .fetch_optional(&mut *conn)
                    .await?;
                if let Some(row) = taken {
                    return Ok(Ok(tokens::from_row(row)?));
                }
                let existing: Option<TokenRow> = sqlx::query_as(tokens::SELECT_BY_DIGEST)
                    .bind(digest.as_slice())
                    .fetch_optional(&mut *conn)
                    .await?;
                Ok(Err(tokens::refusal(
                    existing.map(tokens::from_row).transpose()?,
                    now,
                )))
            })
        })
        .await?
    }
}

fn cannot_open(path: &Path, e: sqlx::Error) -> StoreError {
    match StoreError::from(e) {
        StoreError::Other(m) | StoreError::Unavailable(m) => StoreError::Other(format!(
            "cannot open SQLite database {} (does its directory exist and is it writable?): {m}",
            path.display()
        )),
        other => other,
    }
}

async fn ensure_instance(conn: &mut SqliteConnection) -> Result<InstanceId, StoreError> {
    sqlx::query(crate::INSTANCE_INSERT)
        .bind(uuid::Uuid::new_v4())
        .execute(&mut *conn)
        .await?;
    let (id,): (uuid::Uuid,) = sqlx::query_as(crate::INSTANCE_SELECT)
        .fetch_one(&mut *conn)
        .await?;
    Ok(InstanceId::from_uuid(id))
}
