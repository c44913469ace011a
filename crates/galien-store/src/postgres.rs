//! PostgreSQL backend (scale): a pool of connections (see [`crate::pool`]), each write its own
//! transaction, migrations under an advisory lock, events through LISTEN/NOTIFY.

use std::str::FromStr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use futures::future::BoxFuture;
use galien_core::ids::{InstanceId, NodeId};
use galien_crypto::token::TokenDigest;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, Connection, PgConnection};
use time::OffsetDateTime;
use tokio::sync::{Mutex, RwLock, watch};
use tokio::task::JoinHandle;

use crate::audit::group::Appender;
use crate::pool::{Pool, PoolSettings};
use crate::tokens::{self, EnrolmentToken, NewEnrolmentToken, NewTokenParams, TokenRow};
use crate::{ConsumeError, EventBus, StoreError, StoreOptions, StoreStats, bus, migrate};

pub(crate) struct PgStore {
    pool: Pool<PgConnection>,
    bus: EventBus,
    instance: InstanceId,
    /// `true` once closed. Writes hold a read guard while they run, so `close` (the writer) waits for them.
    closed: RwLock<bool>,
    in_flight: AtomicUsize,
    writes_committed: AtomicU64,
    shutdown: watch::Sender<bool>,
    listener: Mutex<Option<JoinHandle<()>>>,
    /// Plain audit appends, committed in groups.
    appender: Appender,
}

impl PgStore {
    pub async fn open(url: &str, opts: &StoreOptions, node: NodeId) -> Result<Self, StoreError> {
        let connect = PgConnectOptions::from_str(url)
            .map_err(|_| StoreError::Other("invalid PostgreSQL URL".into()))?
            .application_name("galien");
        let mut conn = connect.connect().await?;
        let migrated = async {
            migrate::run_postgres(&mut conn).await?;
            ensure_instance(&mut conn).await
        }
        .await;
        if let Err(e) = conn.close().await {
            tracing::warn!(error = %StoreError::from(e), "closing the migration connection");
        }
        let instance = migrated?;
        let for_pool = connect.clone();
        let pool = Pool::open(
            PoolSettings::new(opts.max_connections, opts.acquire_timeout),
            Box::new(move || {
                let options = for_pool.clone();
                Box::pin(async move { options.connect().await })
            }),
        )
        .await?;
        // The listener gets a pool of its own so it never takes a connection from request handling;
        // PgListener uses it to reconnect.
        let listener_pool = PgPoolOptions::new()
            .max_connections(1)
            .acquire_timeout(opts.acquire_timeout)
            .max_lifetime(None)
            .idle_timeout(None)
            .connect_lazy_with(connect);
        let bus = EventBus::postgres(node, pool.clone());
        let (shutdown, shutdown_rx) = watch::channel(false);
        let listener = match bus::start_pg_listener(listener_pool, bus.sender(), shutdown_rx).await
        {
            Ok(handle) => handle,
            Err(e) => {
                pool.close().await;
                return Err(e);
            }
        };
        Ok(PgStore {
            appender: Appender::start(pool.clone(), opts.group_commit_max_batch),
            pool,
            bus,
            instance,
            closed: RwLock::new(false),
            in_flight: AtomicUsize::new(0),
            writes_committed: AtomicU64::new(0),
            shutdown,
            listener: Mutex::new(Some(listener)),
        })
    }

    /// Runs a read-only `job` on a pooled connection, outside any explicit transaction.
    pub async fn read<T, F>(&self, job: F) -> Result<T, StoreError>
    where
        F: for<'c> FnOnce(&'c mut PgConnection) -> BoxFuture<'c, Result<T, StoreError>>,
    {
        self.pool.run(job).await
    }

    /// Runs `job` in its own transaction; refused with [`StoreError::Closed`] once `close` has begun.
    pub async fn write<T, F>(&self, job: F) -> Result<T, StoreError>
    where
        F: for<'c> FnOnce(&'c mut PgConnection) -> BoxFuture<'c, Result<T, StoreError>> + Send,
    {
        let closed = self.closed.read().await;
        if *closed {
            return Err(StoreError::Closed);
        }
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        let result = async {
            let mut lease = self.pool.lease().await?;
            let done = async {
                let mut tx = lease.conn().begin().await?;
                let value = job(&mut tx).await?;
                tx.commit().await?;
                Ok(value)
            }
            .await;
            lease.settle(done.is_ok());
            done
        }
        .await;
        if result.is_ok() {
            self.writes_committed.fetch_add(1, Ordering::SeqCst);
        }
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        drop(closed);
        result
    }

    /// Appends `events` (at least one) to the audit trail in the node's next group; the last record's
    /// seq, once committed.
    pub async fn append_audit(
        &self,
        events: Vec<galien_core::audit::AuditEvent>,
    ) -> Result<u64, StoreError> {
        self.appender.append(events).await
    }

    pub fn bus(&self) -> &EventBus {
        &self.bus
    }

    pub fn instance_id(&self) -> InstanceId {
        self.instance
    }

    pub fn stats(&self) -> StoreStats {
        let committed = self.writes_committed.load(Ordering::Relaxed);
        let appends = &self.appender.stats;
        StoreStats {
            pool_size: self.pool.size(),
            pool_idle: u32::try_from(self.pool.num_idle()).unwrap_or(u32::MAX),
            writes_committed: committed + appends.committed.load(Ordering::Relaxed),
            // Every other PostgreSQL write is its own batch of one; plain audit appends share theirs.
            write_batches: committed + appends.groups.load(Ordering::Relaxed),
            write_queue_depth: self.in_flight.load(Ordering::SeqCst) + self.appender.pending(),
            audit_appends_after_known_head: appends.after_known_head.load(Ordering::Relaxed),
            audit_stale_heads: appends.stale_heads.load(Ordering::Relaxed),
        }
    }

    pub async fn close(&self) {
        // Answers every queued audit append, then waits for running writes (they hold read guards);
        // later writes see `true`.
        self.appender.close().await;
        *self.closed.write().await = true;
        self.shutdown.send_replace(true);
        let listener = self.listener.lock().await.take();
        if let Some(handle) = listener
            && let Err(e) = handle.await
        {
            tracing::error!(error = %e, "event listener task failed");
        }
        self.pool.close().await;
    }

    pub async fn issue_enrolment_token(&self, t: NewEnrolmentToken) -> Result<(), StoreError> {
        let p = NewTokenParams::from(&t)?;
        self.write(move |conn| {
            Box::pin(async move {
                // Serialise issuers of one purpose and user, so that two concurrent issues cannot both
                // stay open.
                sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
                    .bind(format!(
                        "galien.enrolment_tokens.{}.{}",
                        p.purpose,
                        p.user.map(|u| u.to_string()).unwrap_or_default()
                    ))
                    .execute(&mut *conn)
                    .await?;
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
        // The conditional UPDATE takes the row lock and re-checks its WHERE clause after any concurrent
        // consumer commits, so exactly one caller gets the row back.
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

async fn ensure_instance(conn: &mut PgConnection) -> Result<InstanceId, StoreError> {
    sqlx::query(crate::INSTANCE_INSERT)
        .bind(uuid::Uuid::new_v4())
        .execute(&mut *conn)
        .await?;
    let (id,): (uuid::Uuid,) = sqlx::query_as(crate::INSTANCE_SELECT)
        .fetch_one(&mut *conn)
        .await?;
    Ok(InstanceId::from_uuid(id))
}
