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
//! inside the transaction is the head. Failures are handled as in the sqlx path: a grouped append
//! that fails is rolled back to its savepoint and each caller's records are appended again alone.

use std::path::{Path, PathBuf};
use std::sync::LazyLock;
use std::sync::atomic::Ordering;
use std::time::Duration;

use galien_core::audit::AuditEvent;
use rusqlite::{Connection, OpenFlags, OptionalExtension, params};

use super::inline::error;
use super::writer::WriterStats;
use crate::StoreError;
use crate::audit::NewRecord;
use crate::audit::dialect::{HEAD, insert_rows};
use crate::audit::group::{Append, all_events, seqs_of};

/// One record's `INSERT`, as the sqlx path writes it ([`insert_rows`]): prepared once, run a record
/// at a time (no round trip to save here).
static INSERT: LazyLock<String> = LazyLock::new(|| insert_rows::<sqlx::SqliteConnection>(1));

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

    /// Appends every caller's records in one transaction and answers each caller once it has
    /// committed (or with the error that stopped it).
    pub(crate) fn append_batch(&mut self, appends: Vec<Append>, stats: &WriterStats) {
        let outcome = self.commit(&appends);
        if outcome.is_err() {
            // Whatever state it is in, the next batch starts from a fresh connection.
            self.conn = None;
        }
        stats.write_batches.fetch_add(1, Ordering::Relaxed);
        let seqs = match outcome {
            Ok(seqs) => seqs,
            Err(e) => {
                tracing::error!(error = %e, appends = appends.len(), "SQLite audit batch failed");
                appends.iter().map(|_| Err(e.clone())).collect()
            }
        };
        for (append, seq) in appends.into_iter().zip(seqs) {
            if seq.is_ok() {
                stats.writes_committed.fetch_add(1, Ordering::Relaxed);
            }
            let _ = append.answer.send(seq);
        }
    }

    /// Each caller's last seq (or error), once the transaction has committed; `Err` when it did not.
    fn commit(&mut self, appends: &[Append]) -> Result<Vec<Result<u64, StoreError>>, StoreError> {
        let conn = self.conn()?;
        conn.execute_batch("BEGIN IMMEDIATE").map_err(error)?;
        let done = append_all(conn, appends).and_then(|seqs| {
            conn.execute_batch("COMMIT").map_err(error)?;
            Ok(seqs)
        });
        if done.is_err() && !conn.is_autocommit() {
            let _ = conn.execute_batch("ROLLBACK");
        }
        done
    }
}

/// As the writer's `append_all`: all callers' records in one savepoint, or, if that fails, each
/// caller's alone. `Err` only when the transaction can no longer be used.
fn append_all(
    conn: &Connection,
    appends: &[Append],
) -> Result<Vec<Result<u64, StoreError>>, StoreError> {
    if appends.len() > 1
        && let Ok(last) = in_savepoint(conn, &all_events(appends))?
    {
        return Ok(seqs_of(appends, last));
    }
    appends
        .iter()
        .map(|a| in_savepoint(conn, &a.events))
        .collect()
}

/// Appends `events` in a savepoint, rolled back if the append fails. The outer `Err` is a savepoint
/// that could not be opened or closed; the inner one, the append's.
fn in_savepoint(
    conn: &Connection,
    events: &[AuditEvent],
) -> Result<Result<u64, StoreError>, StoreError> {
    conn.execute_batch("SAVEPOINT audit_append")
        .map_err(error)?;
    match append_in(conn, events) {
        Ok(last) => {
            conn.execute_batch("RELEASE audit_append").map_err(error)?;
            Ok(Ok(last))
        }
        Err(e) => {
            conn.execute_batch("ROLLBACK TO audit_append; RELEASE audit_append")
                .map_err(error)?;
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
