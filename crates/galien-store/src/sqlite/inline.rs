//! Point reads on the calling thread. sqlx runs every SQLite connection on a thread of its own: a
//! statement is a message to that thread, which wakes, runs it and sends each row back across a
//! channel, waking the caller. For the short indexed reads every request makes (its session, the
//! actor's relationships with a patient, the patient summary), those hand-offs cost more than the
//! statement: the two cores spent a third of their time switching threads. These reads run here
//! instead, on the caller's thread, on connections of their own (read-only, WAL: they see every
//! committed write and never wait for the writer).
//!
//! A connection never waits here for a lock: it is opened without a busy timeout, and in the rare
//! case SQLite answers `SQLITE_BUSY` to a reader (a crashed process's WAL being recovered), the
//! statement is run again on a blocking thread that may wait, like any other read, up to the
//! store's busy timeout. Pages of the audit trail (the anomaly scan, searches) are read on these
//! connections too, but always on a blocking thread ([`Inline::rows_on_blocking_thread`]), never
//! on a request's; other long reads (exports, grouped scans) stay on sqlx's read pool.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use rusqlite::types::Value;
use rusqlite::{Connection, OpenFlags};
use uuid::Uuid;

use crate::StoreError;
use crate::identity::Cols;

/// A value bound to a point read's `$n` (encoded as sqlx encodes it for SQLite).
#[derive(Debug, Clone)]
pub(crate) enum Arg {
    /// A 16-byte BLOB.
    Uuid(Uuid),
    /// An INTEGER.
    Int(i64),
    /// 0 or 1.
    Bool(bool),
    /// A BLOB.
    Bytes(Vec<u8>),
    /// A TEXT.
    Text(&'static str),
}

impl From<Uuid> for Arg {
    fn from(v: Uuid) -> Self {
        Arg::Uuid(v)
    }
}

impl From<i64> for Arg {
    fn from(v: i64) -> Self {
        Arg::Int(v)
    }
}

impl From<bool> for Arg {
    fn from(v: bool) -> Self {
        Arg::Bool(v)
    }
}

impl From<Vec<u8>> for Arg {
    fn from(v: Vec<u8>) -> Self {
        Arg::Bytes(v)
    }
}

impl Arg {
    fn value(&self) -> Value {
        match self {
            Arg::Uuid(u) => Value::Blob(u.as_bytes().to_vec()),
            Arg::Int(i) => Value::Integer(*i),
            Arg::Bool(b) => Value::Integer(i64::from(*b)),
            Arg::Bytes(b) => Value::Blob(b.clone()),
            Arg::Text(t) => Value::Text((*t).to_owned()),
        }
    }
}

/// A row read, its values owned.
#[derive(Debug)]
pub(crate) struct Row(Vec<Value>);

impl Row {
    fn get(&self, i: usize) -> Result<&Value, StoreError> {
        self.0
            .get(i)
            .ok_or_else(|| StoreError::Other(format!("no column {i}")))
    }

    /// Column `i` through `of`, `None` for `NULL`; any other value `of` refuses is an error.
    fn opt<T>(
        &self,
        i: usize,
        wanted: &str,
        of: impl FnOnce(&Value) -> Option<T>,
    ) -> Result<Option<T>, StoreError> {
        match self.get(i)? {
            Value::Null => Ok(None),
            v => of(v).map(Some).ok_or_else(|| wrong(i, wanted)),
        }
    }

    /// Column `i` through `of`, `NULL` refused.
    fn required<T>(
        &self,
        i: usize,
        wanted: &str,
        of: impl FnOnce(&Value) -> Option<T>,
    ) -> Result<T, StoreError> {
        self.opt(i, wanted, of)?.ok_or_else(|| wrong(i, wanted))
    }
}

fn wrong(i: usize, wanted: &str) -> StoreError {
    StoreError::Other(format!("cannot decode column {i} as {wanted}"))
}

fn uuid_of(v: &Value) -> Option<Uuid> {
    match v {
        Value::Blob(b) => Uuid::from_slice(b).ok(),
        _ => None,
    }
}

fn text_of(v: &Value) -> Option<String> {
    match v {
        Value::Text(s) => Some(s.clone()),
        _ => None,
    }
}

fn int_of(v: &Value) -> Option<i64> {
    match v {
        Value::Integer(n) => Some(*n),
        _ => None,
    }
}

fn bytes_of(v: &Value) -> Option<Vec<u8>> {
    match v {
        Value::Blob(b) => Some(b.clone()),
        _ => None,
    }
}

impl Cols for Row {
    fn uuid(&self, i: usize) -> Result<Uuid, StoreError> {
        self.required(i, "uuid", uuid_of)
    }
    fn opt_uuid(&self, i: usize) -> Result<Option<Uuid>, StoreError> {
        self.opt(i, "uuid", uuid_of)
    }
    fn text(&self, i: usize) -> Result<String, StoreError> {
        self.required(i, "text", text_of)
    }
    fn opt_text(&self, i: usize) -> Result<Option<String>, StoreError> {
        self.opt(i, "text", text_of)
    }
    fn int(&self, i: usize) -> Result<i64, StoreError> {
        self.required(i, "integer", int_of)
    }
    fn opt_int(&self, i: usize) -> Result<Option<i64>, StoreError> {
        self.opt(i, "integer", int_of)
    }
    fn bytes(&self, i: usize) -> Result<Vec<u8>, StoreError> {
        self.required(i, "bytes", bytes_of)
    }
    fn opt_bytes(&self, i: usize) -> Result<Option<Vec<u8>>, StoreError> {
        self.opt(i, "bytes", bytes_of)
    }
}

/// The point-read connections of one database: as many as threads reading at once (each is held
/// only while its statement runs, without ever yielding), opened when first needed.
pub(crate) struct Inline {
    path: PathBuf,
    busy_timeout: Duration,
    idle: Mutex<Vec<Connection>>,
    closed: AtomicBool,
}

impl Inline {
    /// Point reads of the database at `path`; a statement answered `SQLITE_BUSY` is retried on a
    /// blocking thread that waits up to `busy_timeout`.
    pub(crate) fn new(path: &Path, busy_timeout: Duration) -> Inline {
        Inline {
            path: path.to_owned(),
            busy_timeout,
            idle: Mutex::new(Vec::new()),
            closed: AtomicBool::new(false),
        }
    }

    /// Closes the idle connections; reads from now on are [`StoreError::Closed`] (a read running
    /// now closes its connection when done).
    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
        self.idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }

    fn take(&self) -> Result<Connection, StoreError> {
        if self.closed.load(Ordering::SeqCst) {
            return Err(StoreError::Closed);
        }
        let idle = self
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        match idle {
            Some(conn) => Ok(conn),
            None => {
                let flags = OpenFlags::SQLITE_OPEN_READ_ONLY
                    | OpenFlags::SQLITE_OPEN_NO_MUTEX
                    | OpenFlags::SQLITE_OPEN_URI;
                let conn = Connection::open_with_flags(&self.path, flags).map_err(error)?;
                conn.busy_timeout(Duration::ZERO).map_err(error)?;
                Ok(conn)
            }
        }
    }

    fn give_back(&self, conn: Connection) {
        if self.closed.load(Ordering::SeqCst) {
            return;
        }
        self.idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(conn);
    }

    /// The rows of `sql` with `$1…$n` bound to `args`, read on this thread.
    pub(crate) async fn rows(&self, sql: &str, args: &[Arg]) -> Result<Vec<Row>, StoreError> {
        let conn = self.take()?;
        match run(&conn, sql, args) {
            Err(e) if busy(&e) => {}
            done => {
                self.give_back(conn);
                return done.map_err(error);
            }
        }
        // Busy: wait on a blocking thread, as a read of the pool would.
        self.on_blocking_thread(conn, sql, args).await
    }

    /// The rows of a longer read (many rows: a page of the trail), read on a blocking thread on
    /// one of these connections, without the per-row hand-off of sqlx's connection thread. It
    /// waits for a lock, as a read of the pool would, up to the busy timeout.
    pub(crate) async fn rows_on_blocking_thread(
        &self,
        sql: &str,
        args: &[Arg],
    ) -> Result<Vec<Row>, StoreError> {
        let conn = self.take()?;
        self.on_blocking_thread(conn, sql, args).await
    }

    async fn on_blocking_thread(
        &self,
        conn: Connection,
        sql: &str,
        args: &[Arg],
    ) -> Result<Vec<Row>, StoreError> {
        let (sql, args, wait) = (sql.to_owned(), args.to_vec(), self.busy_timeout);
        let (conn, done) = tokio::task::spawn_blocking(move || {
            let done = conn
                .busy_timeout(wait)
                .and_then(|()| run(&conn, &sql, &args));
            let reset = conn.busy_timeout(Duration::ZERO);
            (reset.is_ok().then_some(conn), done)
        })
        .await
        .map_err(|e| StoreError::Other(format!("point read failed: {e}")))?;
        if let Some(conn) = conn {
            self.give_back(conn);
        }
        done.map_err(error)
    }
}

fn run(conn: &Connection, sql: &str, args: &[Arg]) -> rusqlite::Result<Vec<Row>> {
    let mut statement = conn.prepare_cached(sql)?;
    for (n, arg) in args.iter().enumerate() {
        let name = format!("${}", n + 1);
        if let Some(at) = statement.parameter_index(&name)? {
            statement.raw_bind_parameter(at, arg.value())?;
        }
    }
    let width = statement.column_count();
    let mut rows = statement.raw_query();
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        let mut values = Vec::with_capacity(width);
        for i in 0..width {
            values.push(row.get::<_, Value>(i)?);
        }
        out.push(Row(values));
    }
    Ok(out)
}

fn busy(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    )
}

/// As [`StoreError::from`] a sqlx error: the code, never the values.
pub(crate) fn error(e: rusqlite::Error) -> StoreError {
    if let rusqlite::Error::SqliteFailure(f, _) = &e
        && matches!(
            f.extended_code,
            rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE | rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
        )
    {
        return StoreError::Conflict("unique constraint violated".into());
    }
    match e.sqlite_error_code() {
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) => {
            StoreError::Unavailable("database busy".into())
        }
        Some(rusqlite::ErrorCode::CannotOpen) => {
            StoreError::Unavailable("cannot open the database".into())
        }
        Some(code) => StoreError::Other(format!("database error ({code:?})")),
        None => StoreError::Other("database error".into()),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

    use super::*;

    /// Runs `change` in an exclusive transaction on `writer` (every reader meets its lock) and
    /// commits it 300 ms later, on a task.
    fn commit_later(writer: Connection, change: &str) -> tokio::task::JoinHandle<()> {
        writer
            .execute_batch(&format!("BEGIN EXCLUSIVE; {change}"))
            .unwrap();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(300)).await;
            writer.execute_batch("COMMIT").unwrap();
        })
    }

    /// A database with one row, in rollback-journal mode so that a writer's exclusive lock keeps
    /// readers out (what a reader meets, rarely, in WAL mode).
    fn database(dir: &Path) -> (PathBuf, Connection) {
        let path = dir.join("inline.db");
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(
            "PRAGMA journal_mode = DELETE; \
             CREATE TABLE t (id BLOB PRIMARY KEY, n INTEGER, label TEXT, data BLOB); \
             INSERT INTO t VALUES (x'000102030405060708090a0b0c0d0e0f', 1, 'un', NULL);",
        )
        .unwrap();
        (path, conn)
    }

    /// The SQLite compiled in is built with `.cargo/config.toml`'s `LIBSQLITE3_FLAGS`: no
    /// process-wide mutex around every allocation (memory statistics) nor around every page lookup
    /// (one page cache shared by all connections). Without them the node reads and writes as
    /// correctly but slower (README, Performance), which no other test would notice. (Its
    /// `HAVE_FDATASYNC` is not among the options SQLite reports.)
    #[test]
    fn sqlite_is_built_with_the_workspace_flags() {
        let conn = Connection::open_in_memory().unwrap();
        let mut statement = conn.prepare("PRAGMA compile_options").unwrap();
        let options: Vec<String> = statement
            .query_map([], |row| row.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert!(
            options.iter().any(|o| o == "DEFAULT_MEMSTATUS=0"),
            "{options:?}"
        );
        assert!(
            !options.iter().any(|o| o == "ENABLE_MEMORY_MANAGEMENT"),
            "{options:?}"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn binds_by_number_and_decodes_as_sqlx_encodes() {
        let dir = tempfile::tempdir().unwrap();
        let (path, _conn) = database(dir.path());
        let inline = Inline::new(&path, Duration::from_secs(1));
        let id = Uuid::from_bytes([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]);
        // `$2` written before `$1`: bound by number, not by position.
        let rows = inline
            .rows(
                "SELECT id, n, label, data FROM t WHERE n = $2 AND id = $1",
                &[Arg::Uuid(id), Arg::Int(1)],
            )
            .await
            .unwrap();
        assert_eq!(rows.len(), 1);
        let row = &rows[0];
        assert_eq!(row.uuid(0).unwrap(), id);
        assert_eq!(row.int(1).unwrap(), 1);
        assert_eq!(row.text(2).unwrap(), "un");
        assert_eq!(row.opt_bytes(3).unwrap(), None);
        assert!(row.bytes(3).is_err(), "NULL is not bytes");
        assert!(row.text(1).is_err(), "an integer is not text");
        assert!(row.int(9).is_err(), "no such column");
        let none = inline
            .rows("SELECT n FROM t WHERE n = $1", &[Arg::Bool(false)])
            .await
            .unwrap();
        assert!(none.is_empty());
        assert!(matches!(
            inline.rows("SELECT nothing FROM t", &[]).await,
            Err(StoreError::Other(_))
        ));
    }

    /// A reader that meets a lock does not hold the caller's thread: it waits on a blocking thread,
    /// up to the busy timeout, and then reads what was committed meanwhile.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_busy_read_waits_elsewhere_then_reads_what_was_committed() {
        let dir = tempfile::tempdir().unwrap();
        let (path, writer) = database(dir.path());
        let inline = Inline::new(&path, Duration::from_secs(5));
        let commit = commit_later(writer, "UPDATE t SET n = 2;");
        let started = std::time::Instant::now();
        let rows = inline.rows("SELECT n FROM t", &[]).await.unwrap();
        assert_eq!(rows[0].int(0).unwrap(), 2, "read after the commit");
        assert!(started.elapsed() >= Duration::from_millis(250));
        commit.await.unwrap();
        // The connection came back, without a busy timeout: the next read is immediate.
        assert_eq!(inline.idle.lock().unwrap().len(), 1);
        let rows = inline.rows("SELECT n FROM t", &[]).await.unwrap();
        assert_eq!(rows[0].int(0).unwrap(), 2);
    }

    /// A long read leaves the caller's thread free: on a runtime of one thread, the task that
    /// releases the lock still runs while the read waits for it, and every row comes back, text
    /// bound as text.
    #[tokio::test(flavor = "current_thread")]
    async fn a_long_read_waits_off_the_runtime_and_returns_every_row() {
        let dir = tempfile::tempdir().unwrap();
        let (path, writer) = database(dir.path());
        writer
            .execute_batch(
                "WITH RECURSIVE k(i) AS (SELECT 2 UNION ALL SELECT i + 1 FROM k WHERE i < 2000) \
                 INSERT INTO t SELECT randomblob(16), i, 'deux', zeroblob(100) FROM k;",
            )
            .unwrap();
        let inline = Inline::new(&path, Duration::from_secs(5));
        let commit = commit_later(writer, "UPDATE t SET label = 'trois' WHERE n > 1;");
        let rows = inline
            .rows_on_blocking_thread(
                "SELECT n, data FROM t WHERE label = $1 ORDER BY n",
                &[Arg::Text("trois")],
            )
            .await
            .unwrap();
        commit.await.unwrap();
        assert_eq!(rows.len(), 1999, "read after the commit, every row");
        assert_eq!(rows[0].int(0).unwrap(), 2);
        assert_eq!(rows[1998].int(0).unwrap(), 2000);
        assert_eq!(rows[5].bytes(1).unwrap(), vec![0_u8; 100]);
        assert_eq!(
            inline.idle.lock().unwrap().len(),
            1,
            "the connection came back"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_lock_held_past_the_busy_timeout_is_unavailable() {
        let dir = tempfile::tempdir().unwrap();
        let (path, writer) = database(dir.path());
        let inline = Inline::new(&path, Duration::from_millis(100));
        writer
            .execute_batch("BEGIN EXCLUSIVE; UPDATE t SET n = 3;")
            .unwrap();
        assert!(matches!(
            inline.rows("SELECT n FROM t", &[]).await,
            Err(StoreError::Unavailable(_))
        ));
        writer.execute_batch("ROLLBACK").unwrap();
        let rows = inline.rows("SELECT n FROM t", &[]).await.unwrap();
        assert_eq!(rows[0].int(0).unwrap(), 1, "nothing changed");
        inline.close();
        assert_eq!(inline.idle.lock().unwrap().len(), 0, "closed, not kept");
        assert!(matches!(
            inline.rows("SELECT n FROM t", &[]).await,
            Err(StoreError::Closed)
        ));
    }
}
