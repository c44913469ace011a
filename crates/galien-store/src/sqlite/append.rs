//! A batch of plain audit appends with no job beside it, committed on the writer's thread in one
//! go. Most batches are such (every read of health data leaves traces and changes nothing else).
//! Through sqlx each of its statements (BEGIN, the savepoint, the head, the inserts, RELEASE,
//! COMMIT) was a message to the connection's thread and an answer back to the writer, each waiting
//! for its turn among the runtime's tasks while requests kept both cores busy: the batch took
//! several times longer than its work, and every request waited for it. Here the writer's thread
//! runs the whole transaction itself, on a rusqlite connection of its own to the same database, and
//! answers the callers when it has committed.
//!
//! The records are those [`crate::audit::sqlite::append_all_in`] writes (the same chain, columns
//! and encodings); the writer's thread is the only one writing for this store, so the head read
//! inside the transaction is the head. A grouped append that fails leaves nothing, and each
//! caller's records are then appended again alone, each in a transaction of its own: a bad record
//! fails only its caller, as in the sqlx path.
//!
//! No savepoint and no statement journal. The batch holds nothing but these records, so a failure
//! can undo the whole transaction instead of one statement: the `INSERT` is `OR ROLLBACK`. With a
//! savepoint, or with the default `OR ABORT` inside a transaction, SQLite copied every page a
//! statement was about to change into a journal of its own first, so as to undo that statement
//! alone (a profile of the `read` scenario: a tenth of the writer's time).

use std::path::{Path, PathBuf};
use std::sync::LazyLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use galien_core::audit::AuditEvent;
use rusqlite::{Connection, OpenFlags, OptionalExtension, params};

use super::inline::error;
use super::writer::WriterStats;
use crate::StoreError;
use crate::audit::NewRecord;
use crate::audit::dialect::{HEAD, insert_rows};
use crate::audit::group::{Append, all_events, seqs_of};

/// One record's `INSERT`, as the sqlx path writes it ([`insert_rows`]) but `OR ROLLBACK` (see the
/// module's doc): prepared once, run a record at a time (no round trip to save here).
static INSERT: LazyLock<String> = LazyLock::new(|| {
    insert_rows::<sqlx::SqliteConnection>(1).replacen("INSERT INTO", "INSERT OR ROLLBACK INTO", 1)
});

/// The writer thread's rusqlite connection, opened when first needed (and again after a failure
/// that may have left it unusable).
pub(crate) struct Direct {
    path: PathBuf,
    busy_timeout: Duration,
    conn: Option<Connection>,
}

impl Direct {
    pub(crate) fn new(path: &Path, busy_timeout: Duration) -> Direct {
        Direct {
            path: path.to_owned(),
            busy_timeout,
            conn: None,
        }
    }

    fn conn(&mut self) -> Result<&Connection, StoreError> {
        if self.conn.is_none() {
            let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX
                | OpenFlags::SQLITE_OPEN_URI;
            let conn = Connection::open_with_flags(&self.path, flags).map_err(error)?;
            conn.busy_timeout(self.busy_timeout).map_err(error)?;
            // As the sqlx writer connection: durable at COMMIT, foreign keys enforced. WAL is a
            // property of the database file, set when the store opened it.
            conn.execute_batch("PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;")
                .map_err(error)?;
            self.conn = Some(conn);
        }
        self.conn
            .as_ref()
            .ok_or_else(|| StoreError::Other("SQLite writer connection missing".into()))
    }

    /// Appends every caller's records in one transaction (or, if that append fails, each caller's
    /// in one of its own) and answers each caller once its records have committed, or with the
    /// error that stopped them.
    pub(crate) fn append_batch(
        &mut self,
        appends: Vec<Append>,
        stats: &WriterStats,
        pending: &AtomicUsize,
    ) {
        let seqs = match self.conn() {
            Ok(conn) => {
                let (seqs, broken) = append_all(conn, &appends);
                if let Some(e) = broken {
                    tracing::error!(error = %e, appends = appends.len(), "SQLite audit batch failed");
                    // Whatever state it is in, the next batch starts from a fresh connection.
                    self.conn = None;
                }
                seqs
            }
            Err(e) => {
                tracing::error!(error = %e, appends = appends.len(), "SQLite audit batch failed");
                appends.iter().map(|_| Err(e.clone())).collect()
            }
        };
        stats.write_batches.fetch_add(1, Ordering::Relaxed);
        for (append, seq) in appends.into_iter().zip(seqs) {
            if seq.is_ok() {
                stats.writes_committed.fetch_add(1, Ordering::Relaxed);
            }
            crate::queue::answering(pending);
            let _ = append.answer.send(seq);
        }
    }
}

/// As the writer's `append_all`: all callers' records in one transaction or, if that append fails,
/// each caller's alone. Each caller's last seq (or error), and the error that left the connection
/// unusable, if one did: the callers not answered by then get it too.
fn append_all(
    conn: &Connection,
    appends: &[Append],
) -> (Vec<Result<u64, StoreError>>, Option<StoreError>) {
    let broken = |e: StoreError, from: usize, mut seqs: Vec<Result<u64, StoreError>>| {
        if !conn.is_autocommit() {
            let _ = conn.execute_batch("ROLLBACK");
        }
        seqs.extend(appends.iter().skip(from).map(|_| Err(e.clone())));
        (seqs, Some(e))
    };
    if appends.len() > 1 {
        match in_transaction(conn, &all_events(appends)) {
            Ok(Ok(last)) => return (seqs_of(appends, last), None),
            Ok(Err(_)) => {}
            Err(e) => return broken(e, 0, Vec::new()),
        }
    }
    let mut seqs = Vec::with_capacity(appends.len());
    for (i, a) in appends.iter().enumerate() {
        match in_transaction(conn, &a.events) {
            Ok(seq) => seqs.push(seq),
            Err(e) => return broken(e, i, seqs),
        }
    }
    (seqs, None)
}

/// Appends `events` in a transaction of their own, of which nothing is left if the append fails.
/// The outer `Err` is a transaction that could not be begun, committed or rolled back (the
/// connection cannot be trusted any more); the inner one, the append's.
fn in_transaction(
    conn: &Connection,
    events: &[AuditEvent],
) -> Result<Result<u64, StoreError>, StoreError> {
    conn.execute_batch("BEGIN IMMEDIATE").map_err(error)?;
    match append_in(conn, events) {
        Ok(last) => {
            conn.execute_batch("COMMIT").map_err(error)?;
            Ok(Ok(last))
        }
        Err(e) => {
            // A refused record has already ended the transaction (`OR ROLLBACK`); anything else
            // is undone here.
            if !conn.is_autocommit() {
                conn.execute_batch("ROLLBACK").map_err(error)?;
            }
            Ok(Err(e))
        }
    }
}

/// Chains `events` (at least one) to the head and inserts them; the last seq.
fn append_in(conn: &Connection, events: &[AuditEvent]) -> Result<u64, StoreError> {
    let mut head: Option<(i64, Vec<u8>)> = conn
        .prepare_cached(HEAD)
        .and_then(|mut s| s.query_row([], |r| Ok((r.get(0)?, r.get(1)?))).optional())
        .map_err(error)?;
    let mut insert = conn.prepare_cached(&INSERT).map_err(error)?;
    let mut last = None;
    for event in events {
        let r = NewRecord::build(head.take(), event)?;
        // UUIDs as 16-byte BLOBs, as sqlx encodes them for SQLite.
        insert
            .execute(params![
                r.seq,
                r.id.as_bytes().as_slice(),
                r.at,
                r.actor_user.as_ref().map(|u| u.as_bytes().as_slice()),
                r.action,
                r.outcome,
                r.patient.as_ref().map(|p| p.as_bytes().as_slice()),
                r.canonical,
                r.prev_hash.as_slice(),
                r.hash.as_slice(),
            ])
            .map_err(error)?;
        last = Some(r.seq);
        head = Some((r.seq, r.hash.to_vec()));
    }
    let last = last.ok_or_else(|| StoreError::Other("an audit append needs a record".into()))?;
    u64::try_from(last).map_err(|_| StoreError::Other("audit seq out of range".into()))
}

#[cfg(test)]
mod tests {
    use super::INSERT;

    #[test]
    fn the_insert_ends_the_transaction_on_a_refused_record() {
        assert!(
            INSERT.starts_with("INSERT OR ROLLBACK INTO audit_events "),
            "{}",
            *INSERT
        );
    }
}
