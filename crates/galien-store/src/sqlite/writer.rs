//! The single SQLite writer with group commit.
//!
//! Callers send jobs over a channel. The writer takes up to `max_batch` queued jobs, runs them in ONE
//! transaction, each inside its own savepoint (a failing job is rolled back to its savepoint and gets its
//! own error; its neighbours still commit), COMMITs, and only then answers every caller: `Ok` means durable
//! (`synchronous=FULL`). One fsync is thus shared by a whole batch, which keeps audit records and
//! telemonitoring ingestion fast.
//!
//! Plain audit appends (a trace with no change beside it: reads, sign-ins, denials) are not jobs: the
//! writer gathers those of a batch and appends them with one read of the chain head and one `INSERT`
//! per 64 records, in a savepoint of their own after the batch's jobs. Should that append fail, each
//! caller's records are appended again on their own, so one bad record fails only its caller.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use futures::FutureExt;
use futures::future::BoxFuture;
use galien_core::audit::AuditEvent;
use sqlx::{Connection, SqliteConnection};
use tokio::sync::{mpsc, oneshot};

use crate::StoreError;
use crate::audit::group::{Append, all_events, seqs_of};
use crate::queue::Queue;

/// Called once the batch's fate is known: `Ok(())` if it committed.
type Completion = Box<dyn FnOnce(Result<(), StoreError>) + Send>;
/// A type-erased job: runs on the writer connection (or, given `None`, does not run at all), says whether
/// it succeeded, and hands back how to answer its caller.
type ErasedJob = Box<
    dyn for<'c> FnOnce(Option<&'c mut SqliteConnection>) -> BoxFuture<'c, (bool, Completion)>
        + Send,
>;

/// What the writer is sent: a job, or records to append to the audit trail.
enum Item {
    Job(ErasedJob),
    Audit(Append),
}

fn erase<F>(f: F) -> ErasedJob
where
    F: for<'c> FnOnce(Option<&'c mut SqliteConnection>) -> BoxFuture<'c, (bool, Completion)>
        + Send
        + 'static,
{
    Box::new(f)
}

/// Counters shared with [`crate::StoreStats`].
#[derive(Debug, Default)]
pub(crate) struct WriterStats {
    pub writes_committed: AtomicU64,
    pub write_batches: AtomicU64,
}

/// Handle to the writer task: its queue of jobs and appends.
pub(crate) struct Writer {
    queue: Queue<Item>,
    pub stats: Arc<WriterStats>,
}

impl Writer {
    /// Starts the writer task owning `conn`.
    pub fn start(conn: SqliteConnection, max_batch: usize) -> Writer {
        let max_batch = max_batch.max(1);
        let stats = Arc::new(WriterStats::default());
        let task_stats = Arc::clone(&stats);
        let queue = Queue::start(
            "SQLite writer",
            max_batch.saturating_mul(4).max(64),
            move |rx, pending| run(conn, rx, max_batch, task_stats, pending),
        );
        Writer { queue, stats }
    }

    /// Jobs and appends submitted and not yet answered (queued or in the running batch).
    pub fn pending(&self) -> usize {
        self.queue.pending()
    }

    /// Runs `job` on the writer connection inside the next batch; returns once the batch has committed.
    pub async fn write<T, F>(&self, job: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c mut SqliteConnection) -> BoxFuture<'c, Result<T, StoreError>>
            + Send
            + 'static,
    {
        let (answer_tx, answer_rx) = oneshot::channel::<Result<T, StoreError>>();
        let erased = erase(move |conn| {
            Box::pin(async move {
                let result = match conn {
                    Some(conn) => match AssertUnwindSafe(job(conn)).catch_unwind().await {
                        Ok(result) => result,
                        Err(_) => Err(StoreError::Other("write job panicked".into())),
                    },
                    // Not run: the completion receives the reason.
                    None => Err(StoreError::Other("write job not run".into())),
                };
                let ok = result.is_ok();
                let completion: Completion = Box::new(move |commit| {
                    let answer = match (result, commit) {
                        (Ok(value), Ok(())) => Ok(value),
                        (_, Err(e)) | (Err(e), Ok(())) => Err(e),
                    };
                    // The caller may have gone away; the write stands regardless.
                    let _ = answer_tx.send(answer);
                });
                (ok, completion)
            })
        });
        self.queue.submit(Item::Job(erased)).await?;
        answer_rx.await.unwrap_or(Err(StoreError::Closed))
    }

    /// Appends `events` (at least one), in order, to the audit trail in the next batch, with the other
    /// plain appends of that batch; returns the last record's seq once the batch has committed.
    pub async fn append_audit(&self, events: Vec<AuditEvent>) -> Result<u64, StoreError> {
        let (append, answer_rx) = Append::new(events)?;
        self.queue.submit(Item::Audit(append)).await?;
        answer_rx.await.unwrap_or(Err(StoreError::Closed))
    }

    /// Stops accepting writes, lets the task finish and commit every queued job, and waits for it.
    /// Idempotent; a concurrent second call waits for the first.
    pub async fn close(&self) {
        self.queue.close().await;
    }
}

async fn run(
    mut conn: SqliteConnection,
    mut rx: mpsc::Receiver<Item>,
    max_batch: usize,
    stats: Arc<WriterStats>,
    pending: Arc<AtomicUsize>,
) {
    let mut batch = Vec::with_capacity(max_batch);
    // recv() returns None only once every sender is dropped AND the queue is empty: close() flushes.
    while let Some(first) = rx.recv().await {
        batch.push(first);
        while batch.len() < max_batch {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let n = batch.len();
        run_batch(&mut conn, batch.drain(..), &stats).await;
        pending.fetch_sub(n, Ordering::SeqCst);
    }
    if let Err(e) = conn.close().await {
        tracing::warn!(error = %StoreError::from(e), "closing the SQLite writer connection");
    }
}

/// Answers an item's caller with `e` without running it.
async fn skip(item: Item, e: StoreError) {
    match item {
        Item::Job(job) => {
            let (_, completion) = job(None).await;
            completion(Err(e));
        }
        Item::Audit(append) => {
            let _ = append.answer.send(Err(e));
        }
    }
}

async fn run_batch(
    conn: &mut SqliteConnection,
    items: impl Iterator<Item = Item>,
    stats: &WriterStats,
) {
    let mut completions: Vec<(bool, Completion)> = Vec::new();
    let mut tx = match conn.begin_with("BEGIN IMMEDIATE").await {
        Ok(tx) => tx,
        Err(e) => {
            let e = StoreError::from(e);
            tracing::error!(error = %e, "SQLite writer cannot begin a batch");
            for item in items {
                skip(item, e.clone()).await;
            }
            return;
        }
    };
    let mut broken: Option<StoreError> = None;
    let mut appends = Vec::new();
    for item in items {
        let job = match item {
            Item::Audit(append) => {
                appends.push(append);
                continue;
            }
            Item::Job(job) => job,
        };
        if let Some(e) = &broken {
            skip(Item::Job(job), e.clone()).await;
            continue;
        }
        let mut savepoint = match tx.begin().await {
            Ok(sp) => sp,
            Err(e) => {
                let e = StoreError::from(e);
                broken = Some(e.clone());
                skip(Item::Job(job), e).await;
                continue;
            }
        };
        let (ok, completion) = job(Some(&mut *savepoint)).await;
        let end = if ok {
            savepoint.commit().await
        } else {
            savepoint.rollback().await
        };
        if let Err(e) = end {
            broken = Some(e.into());
        }
        completions.push((ok, completion));
    }
    let appended = match &broken {
        Some(e) => appends.iter().map(|_| Err(e.clone())).collect(),
        None => match append_all(&mut tx, &appends).await {
            Ok(seqs) => seqs,
            Err(e) => {
                broken = Some(e.clone());
                appends.iter().map(|_| Err(e.clone())).collect()
            }
        },
    };
    let outcome = match broken {
        Some(e) => {
            let _ = tx.rollback().await;
            Err(e)
        }
        None => tx.commit().await.map_err(StoreError::from),
    };
    if let Err(e) = &outcome {
        tracing::error!(
            error = %e,
            jobs = completions.len(),
            appends = appends.len(),
            "SQLite write batch failed"
        );
    }
    stats.write_batches.fetch_add(1, Ordering::Relaxed);
    for (ok, completion) in completions {
        if ok && outcome.is_ok() {
            stats.writes_committed.fetch_add(1, Ordering::Relaxed);
        }
        completion(outcome.clone());
    }
    for (append, seq) in appends.into_iter().zip(appended) {
        let answer = outcome.clone().and(seq);
        if answer.is_ok() {
            stats.writes_committed.fetch_add(1, Ordering::Relaxed);
        }
        let _ = append.answer.send(answer);
    }
}

/// Appends the batch's plain audit records, all in one savepoint; if that fails, each caller's
/// records on their own. Returns each caller's last seq (or error); `Err` only when the transaction
/// itself can no longer be used.
async fn append_all(
    tx: &mut SqliteConnection,
    appends: &[Append],
) -> Result<Vec<Result<u64, StoreError>>, StoreError> {
    if appends.is_empty() {
        return Ok(Vec::new());
    }
    if appends.len() > 1
        && let Ok(last) = append_in_savepoint(tx, &all_events(appends)).await?
    {
        return Ok(seqs_of(appends, last));
    }
    let mut seqs = Vec::with_capacity(appends.len());
    for a in appends {
        seqs.push(append_in_savepoint(tx, &a.events).await?);
    }
    Ok(seqs)
}

/// Appends `events` in a savepoint, rolled back if the append fails. The outer `Err` is a savepoint
/// that could not be opened or closed (the transaction is broken); the inner one, the append's.
async fn append_in_savepoint(
    tx: &mut SqliteConnection,
    events: &[AuditEvent],
) -> Result<Result<u64, StoreError>, StoreError> {
    let mut savepoint = tx.begin().await?;
    match crate::audit::sqlite::append_all_in(&mut savepoint, events).await {
        Ok(Some(last)) => {
            savepoint.commit().await?;
            Ok(Ok(last))
        }
        Ok(None) => {
            savepoint.rollback().await?;
            Ok(Err(StoreError::Other(
                "an audit append needs a record".into(),
            )))
        }
        Err(e) => {
            savepoint.rollback().await?;
            Ok(Err(e))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlx::ConnectOptions;
    use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
    use tokio::task::JoinHandle;

    async fn open(dir: &std::path::Path) -> SqliteConnection {
        let mut conn = SqliteConnectOptions::new()
            .filename(dir.join("w.db"))
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .connect()
            .await
            .unwrap();
        sqlx::raw_sql("CREATE TABLE t (k INTEGER PRIMARY KEY)")
            .execute(&mut conn)
            .await
            .unwrap();
        conn
    }

    fn insert(
        writer: &Arc<Writer>,
        k: i64,
        then_fail: bool,
    ) -> JoinHandle<Result<i64, StoreError>> {
        let writer = Arc::clone(writer);
        tokio::spawn(async move {
            writer
                .write(move |conn| {
                    Box::pin(async move {
                        sqlx::query("INSERT INTO t (k) VALUES ($1)")
                            .bind(k)
                            .execute(&mut *conn)
                            .await?;
                        if then_fail {
                            return Err(StoreError::Other("job failed on purpose".into()));
                        }
                        Ok(k)
                    })
                })
                .await
        })
    }

    async fn wait_pending(writer: &Writer, n: usize) {
        tokio::time::timeout(std::time::Duration::from_secs(10), async {
            while writer.pending() < n {
                tokio::task::yield_now().await;
            }
        })
        .await
        .unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failing_job_is_rolled_back_alone_and_its_batch_commits() {
        let dir = tempfile::tempdir().unwrap();
        let writer = Arc::new(Writer::start(open(dir.path()).await, 64));
        // Job 0 holds the writer until released, so jobs 1..=3 queue up and form the next batch.
        let (release, gate) = oneshot::channel::<()>();
        let w0 = Arc::clone(&writer);
        let first = tokio::spawn(async move {
            w0.write(move |_conn| {
                Box::pin(async move {
                    gate.await
                        .map_err(|_| StoreError::Other("gate dropped".into()))?;
                    Ok(0_i64)
                })
            })
            .await
        });
        wait_pending(&writer, 1).await;
        let ok1 = insert(&writer, 1, false);
        wait_pending(&writer, 2).await;
        let bad = insert(&writer, 2, true);
        wait_pending(&writer, 3).await;
        let ok3 = insert(&writer, 3, false);
        wait_pending(&writer, 4).await;
        release.send(()).unwrap();

        assert_eq!(first.await.unwrap().unwrap(), 0);
        assert_eq!(ok1.await.unwrap().unwrap(), 1);
        assert!(
            matches!(bad.await.unwrap(), Err(StoreError::Other(m)) if m.contains("on purpose"))
        );
        assert_eq!(ok3.await.unwrap().unwrap(), 3);
        assert_eq!(
            writer.stats.write_batches.load(Ordering::SeqCst),
            2,
            "jobs 1..=3 shared one batch"
        );
        assert_eq!(writer.stats.writes_committed.load(Ordering::SeqCst), 3);

        let rows: Vec<(i64,)> = writer
            .write(|conn| {
                Box::pin(async move {
                    Ok(sqlx::query_as("SELECT k FROM t ORDER BY k")
                        .fetch_all(&mut *conn)
                        .await?)
                })
            })
            .await
            .unwrap();
        assert_eq!(
            rows,
            vec![(1,), (3,)],
            "the failing job's insert was rolled back, its neighbours kept"
        );
        writer.close().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_panicking_job_gets_an_error_and_the_writer_survives() {
        let dir = tempfile::tempdir().unwrap();
        let writer = Writer::start(open(dir.path()).await, 8);
        let r: Result<(), StoreError> = writer
            .write(|_conn| Box::pin(async move { panic!("boom") }))
            .await;
        assert!(matches!(r, Err(StoreError::Other(m)) if m.contains("panicked")));
        let r = writer
            .write(|conn| {
                Box::pin(async move {
                    sqlx::query("INSERT INTO t (k) VALUES (7)")
                        .execute(&mut *conn)
                        .await?;
                    Ok(())
                })
            })
            .await;
        assert_eq!(r, Ok(()));
        writer.close().await;
        writer.close().await; // idempotent
        let after: Result<(), StoreError> =
            writer.write(|_conn| Box::pin(async move { Ok(()) })).await;
        assert_eq!(after, Err(StoreError::Closed));
    }
}
