//! The pool that runs the store's jobs: a connection whose job ran to its end goes straight back.
//!
//! sqlx's own pool pings a connection when it gives it out (unless told not to) and always when it
//! takes it back, on a task of its own. On SQLite a ping wakes the connection's thread and then the
//! caller's; on PostgreSQL it is a network round trip. That is one or two extra round trips for
//! every statement. Here a connection whose job succeeded is put back at once. Only a connection
//! whose job failed, or was abandoned half-way (a client gone), is pinged first, on a task of its
//! own. It is kept only if the ping succeeds; otherwise it is dropped and a fresh one is opened
//! when next needed. Idle connections are reused last-in first-out: the connection used most
//! recently has the warmest caches.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures::future::BoxFuture;
use sqlx::Connection;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::StoreError;

/// Opens one connection.
pub(crate) type Connect<C> =
    Box<dyn Fn() -> BoxFuture<'static, Result<C, sqlx::Error>> + Send + Sync>;

/// At most `max` connections, opened when first needed. Clones share the connections.
pub(crate) struct Pool<C: Connection + 'static> {
    inner: Arc<Inner<C>>,
}

impl<C: Connection + 'static> Clone for Pool<C> {
    fn clone(&self) -> Self {
        Pool {
            inner: self.inner.clone(),
        }
    }
}

struct Inner<C> {
    idle: Mutex<Vec<C>>,
    slots: Arc<Semaphore>,
    max: u32,
    open: AtomicU32,
    closed: AtomicBool,
    connect: Connect<C>,
    acquire_timeout: Duration,
}

impl<C: Connection> Inner<C> {
    fn give_back(&self, conn: C) {
        if self.closed.load(Ordering::SeqCst) {
            self.open.fetch_sub(1, Ordering::SeqCst);
            drop(conn);
            return;
        }
        self.idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(conn);
    }

    fn take_idle(&self) -> Option<C> {
        self.idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop()
    }
}

impl<C: Connection + 'static> Pool<C> {
    /// A pool of at most `max` connections (at least one) opened by `connect`, one of them
    /// opened now so that a database that cannot be reached is reported at start.
    pub(crate) async fn open(
        max: u32,
        acquire_timeout: Duration,
        connect: Connect<C>,
    ) -> Result<Self, sqlx::Error> {
        let first = connect().await?;
        let max = max.max(1);
        let pool = Pool {
            inner: Arc::new(Inner {
                idle: Mutex::new(vec![first]),
                slots: Arc::new(Semaphore::new(max as usize)),
                max,
                open: AtomicU32::new(1),
                closed: AtomicBool::new(false),
                connect,
                acquire_timeout,
            }),
        };
        Ok(pool)
    }

    /// Runs `job` on a connection: [`StoreError::Unavailable`] if none is free within the
    /// acquire timeout, [`StoreError::Closed`] once the pool is closed.
    pub(crate) async fn run<T, F>(&self, job: F) -> Result<T, StoreError>
    where
        F: for<'c> FnOnce(&'c mut C) -> BoxFuture<'c, Result<T, StoreError>>,
    {
        let mut lease = self.lease().await?;
        let result = job(lease.conn()).await;
        lease.settle(result.is_ok());
        result
    }

    /// A connection for a job that needs more than [`Pool::run`] allows (borrowed arguments);
    /// the caller says with [`Lease::settle`] whether the job ran to its end.
    pub(crate) async fn lease(&self) -> Result<Lease<C>, StoreError> {
        let inner = &self.inner;
        let leased = async {
            let permit = inner
                .slots
                .clone()
                .acquire_owned()
                .await
                .map_err(|_| StoreError::Closed)?;
            let conn = match inner.take_idle() {
                Some(conn) => conn,
                None => {
                    let conn = (inner.connect)().await?;
                    inner.open.fetch_add(1, Ordering::SeqCst);
                    conn
                }
            };
            Ok::<_, StoreError>(Lease {
                conn: Some(conn),
                pool: inner.clone(),
                permit: Some(permit),
                clean: false,
            })
        };
        match tokio::time::timeout(inner.acquire_timeout, leased).await {
            Ok(lease) => lease,
            Err(_) => Err(StoreError::Unavailable(
                "timed out waiting for a connection".into(),
            )),
        }
    }

    /// Whether [`Pool::close`] has begun.
    pub(crate) fn is_closed(&self) -> bool {
        self.inner.closed.load(Ordering::SeqCst)
    }

    /// Connections open (idle or in use).
    pub(crate) fn size(&self) -> u32 {
        self.inner.open.load(Ordering::SeqCst)
    }

    /// Connections open and waiting for a job.
    pub(crate) fn num_idle(&self) -> usize {
        self.inner
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// Refuses new jobs, waits for the running ones (and the connections being checked), and
    /// closes every connection.
    pub(crate) async fn close(&self) {
        let inner = &self.inner;
        inner.closed.store(true, Ordering::SeqCst);
        if let Ok(all) = inner.slots.acquire_many(inner.max).await {
            all.forget();
        }
        inner.slots.close();
        let idle: Vec<C> =
            std::mem::take(&mut *inner.idle.lock().unwrap_or_else(PoisonError::into_inner));
        for conn in idle {
            inner.open.fetch_sub(1, Ordering::SeqCst);
            if let Err(e) = conn.close().await {
                tracing::warn!(error = %StoreError::from(e), "closing a pooled connection");
            }
        }
    }
}

/// One connection lent to one job, with its slot. Given back when dropped: at once if the job
/// was settled as clean, after a check otherwise.
pub(crate) struct Lease<C: Connection + 'static> {
    conn: Option<C>,
    pool: Arc<Inner<C>>,
    permit: Option<OwnedSemaphorePermit>,
    /// The job ran to its end without error.
    clean: bool,
}

impl<C: Connection + 'static> Lease<C> {
    /// The connection.
    pub(crate) fn conn(&mut self) -> &mut C {
        self.conn
            .as_mut()
            .unwrap_or_else(|| unreachable!("a lease holds its connection until dropped"))
    }

    /// Whether the job ran to its end without error (then the connection goes straight back).
    pub(crate) fn settle(&mut self, clean: bool) {
        self.clean = clean;
    }
}

impl<C: Connection + 'static> Drop for Lease<C> {
    fn drop(&mut self) {
        let Some(conn) = self.conn.take() else {
            return;
        };
        let permit = self.permit.take();
        if self.clean {
            self.pool.give_back(conn);
            drop(permit);
            return;
        }
        // Failed or abandoned: the connection may be broken or mid-exchange. Check it before it
        // serves again; its slot stays taken meanwhile, so the pool never opens more than `max`.
        let pool = self.pool.clone();
        let check = async move {
            let mut conn = conn;
            match conn.ping().await {
                Ok(()) => pool.give_back(conn),
                Err(e) => {
                    tracing::info!(error = %StoreError::from(e), "dropping a connection that failed its check");
                    pool.open.fetch_sub(1, Ordering::SeqCst);
                    drop(conn);
                }
            }
            drop(permit);
        };
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(check);
            }
            Err(_) => {
                self.pool.open.fetch_sub(1, Ordering::SeqCst);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlx::postgres::PgConnectOptions;
    use sqlx::sqlite::SqliteConnectOptions;
    use sqlx::{ConnectOptions, PgConnection, SqliteConnection};
    use std::str::FromStr;

    /// Each connection is its own in-memory database: a table made on one is seen only on it.
    async fn memory_pool(max: u32, acquire_timeout: Duration) -> Pool<SqliteConnection> {
        Pool::open(
            max,
            acquire_timeout,
            Box::new(|| {
                Box::pin(async {
                    SqliteConnectOptions::from_str("sqlite::memory:")?
                        .connect()
                        .await
                })
            }),
        )
        .await
        .unwrap()
    }

    async fn mark(pool: &Pool<SqliteConnection>, fail: bool) -> Result<(), StoreError> {
        pool.run(|conn| {
            Box::pin(async move {
                sqlx::query("CREATE TABLE mark (x INTEGER)")
                    .execute(&mut *conn)
                    .await?;
                if fail {
                    return Err(StoreError::Other("the job failed".into()));
                }
                Ok(())
            })
        })
        .await
    }

    async fn marked(pool: &Pool<SqliteConnection>) -> bool {
        pool.run(|conn| {
            Box::pin(async move {
                let (n,): (i64,) = sqlx::query_as(
                    "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'mark'",
                )
                .fetch_one(&mut *conn)
                .await?;
                Ok(n == 1)
            })
        })
        .await
        .unwrap()
    }

    #[tokio::test]
    async fn a_connection_whose_job_succeeded_serves_the_next_job() {
        let pool = memory_pool(1, Duration::from_secs(5)).await;
        mark(&pool, false).await.unwrap();
        assert!(marked(&pool).await, "the same connection, given back");
        assert_eq!((pool.size(), pool.num_idle()), (1, 1));
    }

    #[tokio::test]
    async fn a_connection_whose_job_failed_or_was_abandoned_is_checked_then_kept() {
        let pool = memory_pool(1, Duration::from_secs(5)).await;
        let failed = mark(&pool, true).await;
        assert!(matches!(failed, Err(StoreError::Other(_))), "{failed:?}");
        // The next job waits for the check (the only slot is held meanwhile) and gets it back.
        assert!(marked(&pool).await);
        assert_eq!(pool.size(), 1);

        // A job dropped half-way (its client gone): the connection is checked and serves again.
        let abandoned = pool.run(|conn| {
            Box::pin(async move {
                sqlx::query("CREATE TABLE other (x INTEGER)")
                    .execute(&mut *conn)
                    .await?;
                futures::future::pending::<()>().await;
                Ok(())
            })
        });
        let timed_out = tokio::time::timeout(Duration::from_millis(200), abandoned).await;
        assert!(timed_out.is_err());
        assert!(marked(&pool).await);
        assert_eq!((pool.size(), pool.num_idle()), (1, 1));
    }

    #[tokio::test]
    async fn no_more_than_max_connections_and_a_wait_past_the_timeout_is_unavailable() {
        let pool = memory_pool(2, Duration::from_millis(300)).await;
        let (held_tx, held_rx) = tokio::sync::oneshot::channel::<()>();
        let (release_tx, release_rx) = tokio::sync::oneshot::channel::<()>();
        let holder = {
            let pool = pool.clone();
            tokio::spawn(async move {
                let mut first = pool.lease().await.unwrap();
                let mut second = pool.lease().await.unwrap();
                first.settle(true);
                second.settle(true);
                held_tx.send(()).unwrap();
                release_rx.await.unwrap();
            })
        };
        held_rx.await.unwrap();
        assert_eq!(pool.size(), 2);
        let refused = pool.run(|_| Box::pin(async { Ok(()) })).await;
        assert!(
            matches!(&refused, Err(StoreError::Unavailable(m)) if m.contains("timed out")),
            "{refused:?}"
        );
        release_tx.send(()).unwrap();
        holder.await.unwrap();
        pool.run(|_| Box::pin(async { Ok(()) })).await.unwrap();
        assert_eq!((pool.size(), pool.num_idle()), (2, 2));
    }

    #[tokio::test]
    async fn close_waits_for_running_jobs_then_refuses_new_ones() {
        let pool = memory_pool(2, Duration::from_secs(5)).await;
        let (started_tx, started_rx) = tokio::sync::oneshot::channel::<()>();
        let running = {
            let pool = pool.clone();
            tokio::spawn(async move {
                pool.run(|conn| {
                    Box::pin(async move {
                        started_tx.send(()).unwrap();
                        tokio::time::sleep(Duration::from_millis(200)).await;
                        sqlx::query("SELECT 1").execute(&mut *conn).await?;
                        Ok(())
                    })
                })
                .await
            })
        };
        started_rx.await.unwrap();
        pool.close().await;
        assert!(
            running.is_finished(),
            "close returned before the running job ended"
        );
        running.await.unwrap().unwrap();
        let refused = pool.run(|_| Box::pin(async { Ok(()) })).await;
        assert!(matches!(refused, Err(StoreError::Closed)), "{refused:?}");
        assert_eq!((pool.size(), pool.num_idle()), (0, 0));
        assert!(pool.is_closed());
    }

    /// A PostgreSQL connection whose server process ended (a restart, a failover) fails its job,
    /// fails its check, and is replaced: the next job works on a fresh connection.
    #[tokio::test]
    async fn a_broken_postgresql_connection_is_dropped_and_replaced() {
        let url = crate::testing::admin_url();
        let pool: Pool<PgConnection> = Pool::open(
            1,
            Duration::from_secs(5),
            Box::new(move || {
                let url = url.clone();
                Box::pin(async move { PgConnectOptions::from_str(&url)?.connect().await })
            }),
        )
        .await
        .unwrap();
        let pid = |pool: Pool<PgConnection>| async move {
            pool.run(|conn| {
                Box::pin(async move {
                    let (pid,): (i32,) = sqlx::query_as("SELECT pg_backend_pid()")
                        .fetch_one(&mut *conn)
                        .await?;
                    Ok(pid)
                })
            })
            .await
        };
        let before = pid(pool.clone()).await.unwrap();
        assert_eq!(
            pid(pool.clone()).await.unwrap(),
            before,
            "kept while it works"
        );
        let ended = pool
            .run(|conn| {
                Box::pin(async move {
                    sqlx::query("SELECT pg_terminate_backend(pg_backend_pid())")
                        .execute(&mut *conn)
                        .await?;
                    Ok(())
                })
            })
            .await;
        assert!(ended.is_err(), "the server ended the connection: {ended:?}");
        let after = pid(pool.clone()).await.unwrap();
        assert_ne!(after, before, "a fresh connection");
        assert_eq!(pool.size(), 1);
        pool.close().await;
    }
}
