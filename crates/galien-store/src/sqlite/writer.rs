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
//! caller's records are appended again on their own, so one bad record fails only its caller. A
//! batch of such appends alone is committed by the writer's thread on a connection of its own
//! ([`super::append`]), without a hand-off per statement.
//!
//! The writer is a thread, not a task: it waits for its disk, and each step of a batch would
//! otherwise wait for its turn among the requests' tasks.

use std::panic::AssertUnwindSafe;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use crate::queue::answering;
use futures::FutureExt;
use futures::future::BoxFuture;
use galien_core::audit::AuditEvent;
use sqlx::{Connection, SqliteConnection};
use tokio::sync::{mpsc, oneshot};

use super::append::Direct;
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
    /// Starts the writer thread owning `conn`, the writer connection to the database at `path`.
    pub fn start(
        conn: SqliteConnection,
        path: &Path,
        busy_timeout: Duration,
        max_batch: usize,
    ) -> Result<Writer, StoreError> {
        let max_batch = max_batch.max(1);
        let stats = Arc::new(WriterStats::default());
        let task_stats = Arc::clone(&stats);
        let direct = Direct::new(path, busy_timeout);
        // The jobs are futures on sqlx's connection: the thread runs them on this runtime.
        let runtime = tokio::runtime::Handle::current();
        let queue = Queue::start_thread(
            "SQLite writer",
            max_batch.saturating_mul(4).max(64),
            move |rx, pending| run(conn, direct, runtime, rx, max_batch, task_stats, pending),
        )?;
        Ok(Writer { queue, stats })
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

/// The writer thread: takes up to `max_batch` queued items and commits them together. A batch of
/// plain audit appends only is committed by this thread itself ([`Direct`]); one with jobs runs on
/// the sqlx connection, the thread driving its futures.
fn run(
    mut conn: SqliteConnection,
    mut direct: Direct,
    runtime: tokio::runtime::Handle,
    mut rx: mpsc::Receiver<Item>,
    max_batch: usize,
    stats: Arc<WriterStats>,
    pending: Arc<AtomicUsize>,
) {
    let mut batch = Vec::with_capacity(max_batch);
    // blocking_recv() returns None only once every sender is dropped AND the queue is empty:
    // close() flushes.
    while let Some(first) = rx.blocking_recv() {
        batch.push(first);
        while batch.len() < max_batch {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        if batch.iter().all(|item| matches!(item, Item::Audit(_))) {
            let appends = batch
                .drain(..)
                .filter_map(|item| match item {
                    Item::Audit(append) => Some(append),
                    Item::Job(_) => None,
                })
                .collect();
            direct.append_batch(appends, &stats, &pending);
        } else {
            runtime.block_on(run_batch(&mut conn, batch.drain(..), &stats, &pending));
        }
    }
    drop(direct);
    if let Err(e) = runtime.block_on(conn.close()) {
        tracing::warn!(error = %StoreError::from(e), "closing the SQLite writer connection");
    }
}

/// Answers an item's caller with `e` without running it.
async fn skip(item: Item, e: StoreError, pending: &AtomicUsize) {
    match item {
        Item::Job(job) => {
            let (_, completion) = job(None).await;
            answering(pending);
            completion(Err(e));
        }
        Item::Audit(append) => {
            answering(pending);
            let _ = append.answer.send(Err(e));
        }
    }
}

async fn run_batch(
    conn: &mut SqliteConnection,
    items: impl Iterator<Item = Item>,
    stats: &WriterStats,
    pending: &AtomicUsize,
) {
    let mut completions: Vec<(bool, Completion)> = Vec::new();
    let mut tx = match conn.begin_with("BEGIN IMMEDIATE").await {
        Ok(tx) => tx,
        Err(e) => {
            let e = StoreError::from(e);
            tracing::error!(error = %e, "SQLite writer cannot begin a batch");
            for item in items {
                skip(item, e.clone(), pending).await;
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
            skip(Item::Job(job), e.clone(), pending).await;
            continue;
        }
        let mut savepoint = match tx.begin().await {
            Ok(sp) => sp,
            Err(e) => {
                let e = StoreError::from(e);
                broken = Some(e.clone());
                skip(Item::Job(job), e, pending).await;
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
        answering(pending);
        completion(outcome.clone());
    }
    for (append, seq) in appends.into_iter().zip(appended) {
        let answer = outcome.clone().and(seq);
        if answer.is_ok() {
            stats.writes_committed.fetch_add(1, Ordering::Relaxed);
        }
        answering(pending);
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

    async fn start(dir: &std::path::Path, max_batch: usize) -> Writer {
        start_on(open(dir).await, dir, max_batch)
    }

    fn start_on(conn: SqliteConnection, dir: &std::path::Path, max_batch: usize) -> Writer {
        Writer::start(
            conn,
            &dir.join("w.db"),
            Duration::from_millis(300),
            max_batch,
        )
        .unwrap()
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

    /// Waits until `n` items wait in the writer's channel (sent, not yet taken).
    async fn wait_queued(writer: &Writer, n: usize) {
        tokio::time::timeout(std::time::Duration::from_secs(10), async {
            while writer.queue.queued() < n {
                tokio::task::yield_now().await;
            }
        })
        .await
        .unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failing_job_is_rolled_back_alone_and_its_batch_commits() {
        let dir = tempfile::tempdir().unwrap();
        let writer = Arc::new(start(dir.path(), 64).await);
        // Job 0 holds the writer until released, so jobs 1..=3 queue up and form the next batch.
        let (release, first) = hold(&writer).await;
        let ok1 = insert(&writer, 1, false);
        wait_queued(&writer, 1).await;
        let bad = insert(&writer, 2, true);
        wait_queued(&writer, 2).await;
        let ok3 = insert(&writer, 3, false);
        wait_queued(&writer, 3).await;
        release.send(()).unwrap();

        assert_eq!(first.await.unwrap(), Ok(()));
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
        let writer = start(dir.path(), 8).await;
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

    /// The audit schema on the test database.
    async fn with_audit(dir: &std::path::Path) -> SqliteConnection {
        let mut conn = open(dir).await;
        crate::migrate::run_sqlite(&mut conn).await.unwrap();
        conn
    }

    /// Holds the writer with a job, once it has started, until the returned sender is used (or
    /// dropped).
    async fn hold(
        writer: &Arc<Writer>,
    ) -> (oneshot::Sender<()>, JoinHandle<Result<(), StoreError>>) {
        let (release, gate) = oneshot::channel::<()>();
        let (started, running) = oneshot::channel::<()>();
        let w = Arc::clone(writer);
        let held = tokio::spawn(async move {
            w.write(move |_conn| {
                Box::pin(async move {
                    let _ = started.send(());
                    let _ = gate.await;
                    Ok(())
                })
            })
            .await
        });
        running.await.unwrap();
        (release, held)
    }

    fn append(writer: &Arc<Writer>, ids: &[u128]) -> JoinHandle<Result<u64, StoreError>> {
        let writer = Arc::clone(writer);
        let events = ids.iter().map(|&i| crate::audit::group::event(i)).collect();
        tokio::spawn(async move { writer.append_audit(events).await })
    }

    /// `(seq, id, canonical, prev_hash, hash)`.
    type Record = (i64, uuid::Uuid, Vec<u8>, Vec<u8>, Vec<u8>);

    /// Every record, in order.
    async fn records(dir: &std::path::Path) -> Vec<Record> {
        let mut conn = open_existing(dir).await;
        sqlx::query_as("SELECT seq, id, canonical, prev_hash, hash FROM audit_events ORDER BY seq")
            .fetch_all(&mut conn)
            .await
            .unwrap()
    }

    async fn open_existing(dir: &std::path::Path) -> SqliteConnection {
        SqliteConnectOptions::new()
            .filename(dir.join("w.db"))
            .connect()
            .await
            .unwrap()
    }

    /// TRACE-2: every record chained to the one before, its hash that of its own bytes.
    fn assert_chained(rows: &[Record]) {
        let mut prev = galien_crypto::audit::GENESIS.to_vec();
        for (n, (seq, _, canonical, prev_hash, hash)) in rows.iter().enumerate() {
            assert_eq!(*seq, n as i64 + 1, "seqs without gaps");
            assert_eq!(prev_hash, &prev, "record {seq} chained to the one before");
            let expected = galien_crypto::audit::record_hash(
                prev_hash.as_slice().try_into().unwrap(),
                *seq as u64,
                canonical,
            );
            assert_eq!(hash.as_slice(), expected.as_slice(), "record {seq} hash");
            prev = hash.clone();
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn trace2_appends_alone_in_a_batch_commit_together_on_the_writer_thread() {
        let dir = tempfile::tempdir().unwrap();
        let writer = Arc::new(start_on(with_audit(dir.path()).await, dir.path(), 64));
        // A batch with a job goes through sqlx, appends with it.
        let (release, held) = hold(&writer).await;
        let first = append(&writer, &[1]);
        wait_queued(&writer, 1).await;
        release.send(()).unwrap();
        held.await.unwrap().unwrap();
        assert_eq!(first.await.unwrap().unwrap(), 1);
        let batches = writer.stats.write_batches.load(Ordering::SeqCst);
        // Three callers queued behind a job: the job's batch, then one batch of appends only.
        let (release, held) = hold(&writer).await;
        let a = append(&writer, &[2, 3]);
        wait_queued(&writer, 1).await;
        let b = append(&writer, &[4]);
        wait_queued(&writer, 2).await;
        let c = append(&writer, &[5, 6, 7]);
        wait_queued(&writer, 3).await;
        release.send(()).unwrap();
        held.await.unwrap().unwrap();
        assert_eq!(
            a.await.unwrap().unwrap(),
            3,
            "each caller gets its last seq"
        );
        assert_eq!(b.await.unwrap().unwrap(), 4);
        assert_eq!(c.await.unwrap().unwrap(), 7);
        assert_eq!(
            writer.stats.write_batches.load(Ordering::SeqCst),
            batches + 2,
            "the three appends shared one transaction"
        );
        writer.close().await;
        let rows = records(dir.path()).await;
        assert_eq!(
            rows.iter().map(|r| r.1.as_u128()).collect::<Vec<_>>(),
            (1..=7).collect::<Vec<_>>(),
            "every record, in the callers' order"
        );
        assert_chained(&rows);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn trace2_a_bad_append_fails_alone_and_its_batch_commits() {
        let dir = tempfile::tempdir().unwrap();
        let writer = Arc::new(start_on(with_audit(dir.path()).await, dir.path(), 64));
        assert_eq!(append(&writer, &[1]).await.unwrap().unwrap(), 1);
        let (release, held) = hold(&writer).await;
        let a = append(&writer, &[2]);
        wait_queued(&writer, 1).await;
        // The id of record 1 again: the whole group's insert fails, then each caller goes alone.
        let bad = append(&writer, &[3, 1]);
        wait_queued(&writer, 2).await;
        let c = append(&writer, &[4]);
        wait_queued(&writer, 3).await;
        release.send(()).unwrap();
        held.await.unwrap().unwrap();
        assert_eq!(a.await.unwrap().unwrap(), 2);
        assert!(
            matches!(bad.await.unwrap(), Err(StoreError::Conflict(_))),
            "a duplicate record id is refused"
        );
        assert_eq!(
            c.await.unwrap().unwrap(),
            3,
            "the next caller takes the seq after"
        );
        // The writer goes on after the failure.
        assert_eq!(append(&writer, &[5]).await.unwrap().unwrap(), 4);
        writer.close().await;
        let rows = records(dir.path()).await;
        assert_eq!(
            rows.iter().map(|r| r.1.as_u128()).collect::<Vec<_>>(),
            vec![1, 2, 4, 5],
            "nothing of the refused append was kept, not even its first record"
        );
        assert_chained(&rows);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_unwritable_database_fails_the_appends_and_the_writer_recovers() {
        let dir = tempfile::tempdir().unwrap();
        let writer = Arc::new(start_on(with_audit(dir.path()).await, dir.path(), 64));
        assert_eq!(append(&writer, &[1]).await.unwrap().unwrap(), 1);
        // Another connection holds the write lock past the busy timeout.
        let mut other = open_existing(dir.path()).await;
        sqlx::raw_sql("BEGIN IMMEDIATE")
            .execute(&mut other)
            .await
            .unwrap();
        let refused = append(&writer, &[2]).await.unwrap();
        assert!(
            matches!(refused, Err(StoreError::Unavailable(_))),
            "busy: {refused:?}"
        );
        sqlx::raw_sql("ROLLBACK").execute(&mut other).await.unwrap();
        assert_eq!(append(&writer, &[3]).await.unwrap().unwrap(), 2);
        writer.close().await;
        let rows = records(dir.path()).await;
        assert_eq!(
            rows.iter().map(|r| r.1.as_u128()).collect::<Vec<_>>(),
            vec![1, 3]
        );
        assert_chained(&rows);
    }
}
