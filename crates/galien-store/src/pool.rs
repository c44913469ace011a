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
//!
//! A connection that waited idle for longer than [`PoolSettings::check_after_idle`] (1 s) is pinged
//! before it serves: a firewall or the server may have closed it while it waited, and a clinic's
//! first request after a quiet night must not be the one that finds out. Under load connections
//! come back within milliseconds and are never pinged. A connection older than
//! [`PoolSettings::max_lifetime`] (30 min) is closed when it comes back, so that connections to a
//! server that was failed over, or whose memory grew, are renewed in time.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

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

/// How many connections, how long to wait for one, when to check and renew them.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PoolSettings {
    /// At most this many connections (at least one).
    pub max: u32,
    /// How long a job waits for a connection before [`StoreError::Unavailable`].
    pub acquire_timeout: Duration,
    /// A connection idle for longer is pinged before it serves.
    pub check_after_idle: Duration,
    /// A connection older than this is closed when it comes back.
    pub max_lifetime: Duration,
}

impl PoolSettings {
    /// `max` connections, `acquire_timeout`, a check after 1 s idle, renewal after 30 min.
    pub(crate) fn new(max: u32, acquire_timeout: Duration) -> Self {
        PoolSettings {
            max: max.max(1),
            acquire_timeout,
            check_after_idle: Duration::from_secs(1),
            max_lifetime: Duration::from_secs(30 * 60),
        }
    }
}

/// A connection with its dates.
struct Pooled<C> {
    conn: C,
    opened: Instant,
    used: Instant,
}

/// Takes one from the count of open connections when dropped armed.
struct Gone<'a> {
    open: &'a AtomicU32,
    armed: bool,
}

impl Drop for Gone<'_> {
    fn drop(&mut self) {
        if self.armed {
            self.open.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

struct Inner<C> {
    idle: Mutex<Vec<Pooled<C>>>,
    slots: Arc<Semaphore>,
    settings: PoolSettings,
    open: AtomicU32,
    closed: AtomicBool,
    connect: Connect<C>,
}

impl<C: Connection + 'static> Inner<C> {
    fn give_back(&self, mut pooled: Pooled<C>) {
        if self.closed.load(Ordering::SeqCst)
            || pooled.opened.elapsed() >= self.settings.max_lifetime
        {
            self.retire(pooled.conn);
            return;
        }
        pooled.used = Instant::now();
        self.idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(pooled);
    }

    fn take_idle(&self) -> Option<Pooled<C>> {
        self.idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop()
    }

    /// Closes `conn` politely (on a task of its own when there is a runtime) and counts it gone.
    fn retire(&self, conn: C) {
        self.open.fetch_sub(1, Ordering::SeqCst);
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                if let Err(e) = conn.close().await {
                    tracing::debug!(error = %StoreError::from(e), "closing a retired connection");
                }
            });
        }
    }

    /// An idle connection fit to serve, or a new one.
    async fn ready_connection(&self) -> Result<Pooled<C>, StoreError> {
        while let Some(mut pooled) = self.take_idle() {
            if pooled.opened.elapsed() >= self.settings.max_lifetime {
                self.retire(pooled.conn);
                continue;
            }
            if pooled.used.elapsed() >= self.settings.check_after_idle {
                // Counted gone unless the check passes: a caller that gives up during the ping
                // (its acquire timed out, its client left) drops the connection with it.
                let mut gone = Gone {
                    open: &self.open,
                    armed: true,
                };
                if let Err(e) = pooled.conn.ping().await {
                    tracing::info!(error = %StoreError::from(e), "an idle connection failed its check; opening another");
                    drop(pooled);
                    continue;
                }
                gone.armed = false;
            }
            return Ok(pooled);
        }
        let conn = (self.connect)().await?;
        self.open.fetch_add(1, Ordering::SeqCst);
        let now = Instant::now();
        Ok(Pooled {
            conn,
            opened: now,
            used: now,
        })
    }
}

impl<C: Connection + 'static> Pool<C> {
    /// A pool of connections opened by `connect`, one of them opened now so that a database
    /// that cannot be reached is reported at start.
    pub(crate) async fn open(
        settings: PoolSettings,
        connect: Connect<C>,
    ) -> Result<Self, sqlx::Error> {
        let first = connect().await?;
        let now = Instant::now();
        let settings = PoolSettings {
            max: settings.max.max(1),
            ..settings
        };
        let pool = Pool {
            inner: Arc::new(Inner {
                idle: Mutex::new(vec![Pooled {
                    conn: first,
                    opened: now,
                    used: now,
                }]),
                slots: Arc::new(Semaphore::new(settings.max as usize)),
                settings,
                open: AtomicU32::new(1),
                closed: AtomicBool::new(false),
                connect,
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
            let conn = inner.ready_connection().await?;
            Ok::<_, StoreError>(Lease {
                conn: Some(conn),
                pool: inner.clone(),
                permit: Some(permit),
                clean: false,
            })
        };
        match tokio::time::timeout(inner.settings.acquire_timeout, leased).await {
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
        if let Ok(all) = inner.slots.acquire_many(inner.settings.max).await {
            all.forget();
        }
        inner.slots.close();
        let idle: Vec<Pooled<C>> =
            std::mem::take(&mut *inner.idle.lock().unwrap_or_else(PoisonError::into_inner));
        for pooled in idle {
            inner.open.fetch_sub(1, Ordering::SeqCst);
            if let Err(e) = pooled.conn.close().await {
                tracing::warn!(error = %StoreError::from(e), "closing a pooled connection");
            }
        }
    }
}

/// One connection lent to one job, with its slot. Given back when dropped: at once if the job
/// was settled as clean, after a check otherwise.
pub(crate) struct Lease<C: Connection + 'static> {
    conn: Option<Pooled<C>>,
    pool: Arc<Inner<C>>,
    permit: Option<OwnedSemaphorePermit>,
    /// The job ran to its end without error.
    clean: bool,
}

impl<C: Connection + 'static> Lease<C> {
    /// The connection.
    pub(crate) fn conn(&mut self) -> &mut C {
        &mut self
            .conn
            .as_mut()
            .unwrap_or_else(|| unreachable!("a lease holds its connection until dropped"))
            .conn
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
            let mut pooled = conn;
            match pooled.conn.ping().await {
                Ok(()) => pool.give_back(pooled),
                Err(e) => {
                    tracing::info!(error = %StoreError::from(e), "dropping a connection that failed its check");
                    pool.open.fetch_sub(1, Ordering::SeqCst);
                    drop(pooled);
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
        memory_pool_with(PoolSettings::new(max, acquire_timeout)).await
    }

    async fn memory_pool_with(settings: PoolSettings) -> Pool<SqliteConnection> {
        Pool::open(
            settings,
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

    async fn pg_pool(settings: PoolSettings) -> Pool<PgConnection> {
        let url = crate::testing::admin_url();
        Pool::open(
            settings,
            Box::new(move || {
                let url = url.clone();
                Box::pin(async move { PgConnectOptions::from_str(&url)?.connect().await })
            }),
        )
        .await
        .unwrap()
    }

    async fn pid(pool: Pool<PgConnection>) -> Result<i32, StoreError> {
        pool.run(|conn| {
            Box::pin(async move {
                let (pid,): (i32,) = sqlx::query_as("SELECT pg_backend_pid()")
                    .fetch_one(&mut *conn)
                    .await?;
                Ok(pid)
            })
        })
        .await
    }

    /// Ends PostgreSQL server process `pid` from a connection of its own (what a restart, a
    /// failover or a firewall does to an idle connection).
    async fn terminate(pid: i32) {
        let mut admin = PgConnectOptions::from_str(&crate::testing::admin_url())
            .unwrap()
            .connect()
            .await
            .unwrap();
        let (ended,): (bool,) = sqlx::query_as("SELECT pg_terminate_backend($1)")
            .bind(pid)
            .fetch_one(&mut admin)
            .await
            .unwrap();
        assert!(ended);
        admin.close().await.unwrap();
    }

    /// A connection that waited idle past the check window is pinged before it serves, and a dead
    /// one is replaced before the job runs; within the window nothing is pinged (the job finds
    /// out, and the connection is replaced after it).
    #[tokio::test]
    async fn a_connection_idle_past_the_window_is_checked_before_it_serves() {
        let checked = pg_pool(PoolSettings {
            check_after_idle: Duration::from_millis(100),
            ..PoolSettings::new(1, Duration::from_secs(5))
        })
        .await;
        let before = pid(checked.clone()).await.unwrap();
        terminate(before).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        let after = pid(checked.clone())
            .await
            .expect("the check replaced the dead connection");
        assert_ne!(after, before);
        assert_eq!(checked.size(), 1);
        checked.close().await;

        let unchecked = pg_pool(PoolSettings {
            check_after_idle: Duration::from_secs(3600),
            ..PoolSettings::new(1, Duration::from_secs(5))
        })
        .await;
        let before = pid(unchecked.clone()).await.unwrap();
        terminate(before).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(
            pid(unchecked.clone()).await.is_err(),
            "no ping within the window"
        );
        let after = pid(unchecked.clone()).await.unwrap();
        assert_ne!(after, before);
        unchecked.close().await;
    }

    /// A caller that gives up while an idle connection is being checked (here: the server process
    /// is stopped, so the ping hangs until the acquire timeout) leaves the count of open
    /// connections true, and the pool opens a fresh connection afterwards.
    #[tokio::test]
    async fn a_check_abandoned_half_way_leaves_the_count_true() {
        let pool = pg_pool(PoolSettings {
            check_after_idle: Duration::ZERO,
            ..PoolSettings::new(1, Duration::from_millis(500))
        })
        .await;
        let stuck = pid(pool.clone()).await.unwrap();
        let signal = |sig: &str| {
            let status = std::process::Command::new("kill")
                .args([sig, &stuck.to_string()])
                .status()
                .unwrap();
            assert!(status.success(), "kill {sig} {stuck}");
        };
        signal("-STOP");
        let gave_up = pid(pool.clone()).await;
        // The abandoned connection's socket is closed: the server process ends once it runs again.
        signal("-CONT");
        assert!(
            matches!(&gave_up, Err(StoreError::Unavailable(m)) if m.contains("timed out")),
            "{gave_up:?}"
        );
        assert_eq!(pool.size(), 0, "the abandoned connection is counted gone");
        let fresh = pid(pool.clone()).await.unwrap();
        assert_ne!(fresh, stuck);
        assert_eq!(pool.size(), 1);
        pool.close().await;
    }

    #[tokio::test]
    async fn a_connection_past_its_lifetime_is_renewed() {
        let pool = memory_pool_with(PoolSettings {
            max_lifetime: Duration::from_millis(150),
            ..PoolSettings::new(1, Duration::from_secs(5))
        })
        .await;
        mark(&pool, false).await.unwrap();
        assert!(marked(&pool).await, "still young: the same connection");
        tokio::time::sleep(Duration::from_millis(250)).await;
        assert!(!marked(&pool).await, "a new connection");
        assert_eq!(pool.size(), 1);
    }

    /// A PostgreSQL connection whose server process ended (a restart, a failover) fails its job,
    /// fails its check, and is replaced: the next job works on a fresh connection.
    #[tokio::test]
    async fn a_broken_postgresql_connection_is_dropped_and_replaced() {
        let pool = pg_pool(PoolSettings::new(1, Duration::from_secs(5))).await;
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
