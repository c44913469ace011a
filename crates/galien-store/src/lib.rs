//! Galien persistence: SQLite (the embedded default, with group commit) and PostgreSQL (scale, several
//! nodes) behind one API; forward-only migrations; an event bus (in-process, or LISTEN/NOTIFY).
//!
//! The backend is chosen from the URL ([`DatabaseUrl::parse`]). Both run the same conformance suite
//! (`tests/conformance.rs`).
#![forbid(unsafe_code)]

mod audit;
mod bus;
mod error;
mod identity;
mod incidents;
mod migrate;
mod patients;
mod pool;
mod postgres;
mod queue;
mod sql;
mod sqlite;
mod teleconsultation;
mod telemonitoring;
pub mod testing;
mod tokens;
mod url;

use std::sync::Arc;
use std::time::Duration;

use galien_core::ids::{InstanceId, NodeId};
use galien_crypto::token::TokenDigest;
use time::OffsetDateTime;

pub use audit::{
    AuditFilter, AuditProblem, ProblemKind, StoredAuditEvent, StoredPurge, VerifyReport,
};
pub use bus::{Event, EventBus, MAX_EVENT_BYTES, PG_CHANNEL};
pub use error::{ConsumeError, StoreError};
pub use identity::{
    AcceptError, AccessToken, CreateUserError, MachineClient, NewAccessToken, NewMachineClient,
    NewSession, NewUser, NewWebauthnCredential, Session, TotpCredential, User, WebauthnCredential,
};
pub use incidents::{Incident, IncidentStatus, IncidentUpdate, NewIncident, Severity};
pub use patients::{
    CareKind, CareRelationship, Consent, EmergencyAccess, NewCareRelationship, NewConsent,
    NewEmergencyAccess, NewNote, NewPatient, Note, PatientUpdate, SealedPatient, SummaryPermits,
    SummaryRows, WrappedDataKey,
};
pub use teleconsultation::{
    Appointment, Closing, DocumentMeta, NewAppointment, NewDocument, NewMessage, NewParticipant,
    Participant, StoredMessage,
};
pub use telemonitoring::{
    Alert, AlertDecision, Enrolment, NewAlert, NewEnrolment, NewObservation, StoredObservation,
};
pub use tokens::{EnrolmentToken, NewEnrolmentToken, TokenPurpose};
pub use url::{DatabaseUrl, DatabaseUrlError};

/// How long [`Store::ping`] waits.
pub(crate) const PING_TIMEOUT: Duration = Duration::from_secs(2);

/// Shared by both dialects: the installation id is created once, by the first node to open the database.
pub(crate) const INSTANCE_INSERT: &str =
    "INSERT INTO galien_instance (singleton, id) VALUES (1, $1) ON CONFLICT (singleton) DO NOTHING";
pub(crate) const INSTANCE_SELECT: &str = "SELECT id FROM galien_instance WHERE singleton = 1";

/// Which database engine a store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Backend {
    /// Embedded SQLite file.
    Sqlite,
    /// PostgreSQL server.
    Postgres,
}

impl Backend {
    /// `sqlite` or `postgresql` (for logs and metrics labels).
    pub fn name(&self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgresql",
        }
    }
}

impl std::fmt::Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Tuning knobs; the defaults run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreOptions {
    /// Pool size (the SQLite read pool, or the PostgreSQL pool).
    pub max_connections: u32,
    /// How long to wait for a pooled connection before failing with [`StoreError::Unavailable`].
    pub acquire_timeout: Duration,
    /// SQLite: most writes committed together in one transaction; PostgreSQL: most audit records
    /// appended together by the node's audit appender.
    pub group_commit_max_batch: usize,
}

impl StoreOptions {
    /// The default pool size: twice the cores, from 4 to 64. More connections than that only
    /// make their threads (SQLite) or backends (PostgreSQL) wait on each other: on 2 cores the
    /// summary read served 20 % more with 4 connections than with 10, and less with 2 (see the
    /// README's Performance).
    pub fn default_connections() -> u32 {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        u32::try_from(cores.saturating_mul(2).clamp(4, 64)).unwrap_or(4)
    }
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            max_connections: Self::default_connections(),
            acquire_timeout: Duration::from_secs(5),
            group_commit_max_batch: 256,
        }
    }
}

/// Figures for Prometheus.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StoreStats {
    /// Open connections in the pool (the SQLite read pool, or the PostgreSQL pool).
    pub pool_size: u32,
    /// Idle connections in that pool.
    pub pool_idle: u32,
    /// Writes committed since open.
    pub writes_committed: u64,
    /// Transactions that carried them (SQLite group commit: fewer than writes under load).
    pub write_batches: u64,
    /// Writes submitted and not yet answered.
    pub write_queue_depth: usize,
    /// PostgreSQL: groups of plain audit appends written in one statement after the chain head
    /// the node knew (0 on SQLite, whose writer always knows the head).
    pub audit_appends_after_known_head: u64,
    /// PostgreSQL: of the appends tried after a known head, those that found it extended by another
    /// appender (another node, a change's transaction) and were written again under the lock.
    pub audit_stale_heads: u64,
}

/// The store: cheap to clone (an `Arc` inside).
#[derive(Clone)]
pub struct Store {
    inner: Arc<Imp>,
}

/// A short indexed read (a session, relationships, the summary): `$sqlite` or `$postgres` with
/// `$1…$n` bound to the arguments, its rows decoded by `$decode` (expanded once for each engine's
/// row type, as `&[row]` named `$rows`). On SQLite it runs on the calling thread
/// ([`sqlite::inline`]); on PostgreSQL on a connection of the pool.
macro_rules! point_read {
    ($store:expr, sqlite: $sqlite:expr, postgres: $postgres:expr, [$($arg:expr),* $(,)?],
     |$rows:ident| $decode:block) => {
        match &*$store.inner {
            $crate::Imp::Sqlite(s) => {
                let args = [$($crate::sqlite::inline::Arg::from($arg)),*];
                let rows = s.point_read($sqlite, &args).await?;
                let $rows = rows.as_slice();
                $decode
            }
            $crate::Imp::Postgres(s) => {
                s.read(move |conn| {
                    Box::pin(async move {
                        let query = sqlx::query($postgres);
                        $(let query = query.bind($arg);)*
                        let rows = query.fetch_all(&mut *conn).await?;
                        let $rows = rows.as_slice();
                        $decode
                    })
                })
                .await
            }
        }
    };
}
pub(crate) use point_read;

enum Imp {
    Sqlite(sqlite::SqliteStore),
    Postgres(postgres::PgStore),
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.backend())
            .finish_non_exhaustive()
    }
}

macro_rules! dispatch {
    ($self:ident, $s:ident => $e:expr) => {
        match &*$self.inner {
            Imp::Sqlite($s) => $e,
            Imp::Postgres($s) => $e,
        }
    };
}

impl Store {
    /// Opens the database: creates the SQLite file if missing (its directory must exist), applies
    /// migrations, starts the SQLite writer task or the PostgreSQL event listener.
    pub async fn open(
        url: &DatabaseUrl,
        opts: &StoreOptions,
        node: NodeId,
    ) -> Result<Store, StoreError> {
        let imp = match url {
            DatabaseUrl::Sqlite { path } => {
                Imp::Sqlite(sqlite::SqliteStore::open(path, opts, node).await?)
            }
            DatabaseUrl::Postgres { url } => {
                Imp::Postgres(postgres::PgStore::open(url, opts, node).await?)
            }
        };
        tracing::info!(database = %url.redacted(), "store opened");
        Ok(Store {
            inner: Arc::new(imp),
        })
    }

    /// Which engine this store runs on.
    pub fn backend(&self) -> Backend {
        match &*self.inner {
            Imp::Sqlite(_) => Backend::Sqlite,
            Imp::Postgres(_) => Backend::Postgres,
        }
    }

    /// `SELECT 1` with a short timeout (~2 s); for `/readyz`.
    pub async fn ping(&self) -> Result<(), StoreError> {
        let select_1 = async {
            patients::read_only!(self, |conn| {
                sqlx::query("SELECT 1").execute(&mut *conn).await?;
                Ok(())
            })
        };
        match tokio::time::timeout(PING_TIMEOUT, select_1).await {
            Ok(r) => r,
            Err(_) => Err(StoreError::Unavailable("ping timed out".into())),
        }
    }

    /// Copies the whole SQLite database, as one consistent snapshot taken while nodes keep
    /// writing (`VACUUM INTO`), into the new file `to`: what `galien backup create` seals
    /// (DATA-7). The copy holds health data only as it is stored, encrypted. On PostgreSQL the
    /// operator's `pg_dump` makes the copy: [`StoreError::Other`].
    pub async fn snapshot_into(&self, to: &std::path::Path) -> Result<(), StoreError> {
        let Imp::Sqlite(s) = &*self.inner else {
            return Err(StoreError::Other(
                "a PostgreSQL database is copied with pg_dump".into(),
            ));
        };
        let to = to
            .to_str()
            .ok_or_else(|| StoreError::Other("the snapshot path is not UTF-8".into()))?
            .to_owned();
        s.read(move |conn| {
            Box::pin(async move {
                sqlx::query("VACUUM INTO $1")
                    .bind(to)
                    .execute(&mut *conn)
                    .await?;
                Ok(())
            })
        })
        .await
    }

    /// Current figures, for Prometheus.
    pub fn stats(&self) -> StoreStats {
        dispatch!(self, s => s.stats())
    }

    /// Idempotent shutdown: stops accepting writes (later ones get [`StoreError::Closed`]), finishes and
    /// commits every queued write and answers its caller, stops the event listener, closes the pools.
    pub async fn close(&self) {
        dispatch!(self, s => s.close().await)
    }

    /// The event bus of this node.
    pub fn bus(&self) -> EventBus {
        dispatch!(self, s => s.bus().clone())
    }

    /// This installation's id: one per database, created on first open, stable afterwards.
    pub async fn instance_id(&self) -> Result<InstanceId, StoreError> {
        Ok(dispatch!(self, s => s.instance_id()))
    }

    /// The SQLite backend, whose group-committing `write` crate-internal writers (audit trail,
    /// telemonitoring ingestion) use. `None` on PostgreSQL.
    #[allow(dead_code)]
    pub(crate) fn sqlite(&self) -> Option<&sqlite::SqliteStore> {
        match &*self.inner {
            Imp::Sqlite(s) => Some(s),
            Imp::Postgres(_) => None,
        }
    }

    /// Issues an enrolment token. In one transaction: every earlier unused, unrevoked token of the same
    /// purpose and the same user (`None`: the first-administrator tokens) is revoked (at `t.created_at`),
    /// then the new one is stored. A duplicate digest or id is [`StoreError::Conflict`].
    pub async fn system_issue_enrolment_token(
        &self,
        t: NewEnrolmentToken,
    ) -> Result<(), StoreError> {
        dispatch!(self, s => s.issue_enrolment_token(t).await)
    }

    /// The token with this digest, or [`StoreError::NotFound`].
    pub async fn enrolment_token(
        &self,
        digest: &TokenDigest,
    ) -> Result<EnrolmentToken, StoreError> {
        let digest = digest.as_bytes().to_vec();
        let row: Option<tokens::TokenRow> = patients::read_only!(self, |conn| {
            Ok::<_, StoreError>(
                sqlx::query_as(tokens::SELECT_BY_DIGEST)
                    .bind(digest.as_slice())
                    .fetch_optional(&mut *conn)
                    .await?,
            )
        })?;
        tokens::from_row(row.ok_or(StoreError::NotFound)?)
    }

    /// Marks the token used at `now`. Atomic: of concurrent callers exactly one wins; the others get
    /// [`ConsumeError::AlreadyUsed`]. Expired, revoked and absent tokens are refused.
    pub async fn consume_enrolment_token(
        &self,
        digest: &TokenDigest,
        now: OffsetDateTime,
    ) -> Result<EnrolmentToken, ConsumeError> {
        dispatch!(self, s => s.consume_enrolment_token(digest, now).await)
    }

    /// `true` once a first-administrator token has been consumed.
    pub async fn bootstrap_completed(&self) -> Result<bool, StoreError> {
        let (n,): (i64,) = patients::read_only!(self, |conn| {
            Ok::<_, StoreError>(
                sqlx::query_as(tokens::BOOTSTRAP_COMPLETED)
                    .fetch_one(&mut *conn)
                    .await?,
            )
        })?;
        Ok(n > 0)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_default_pool_is_twice_the_cores_from_4_to_64() {
        let n = super::StoreOptions::default_connections();
        assert!((4..=64).contains(&n), "{n}");
        let cores = std::thread::available_parallelism().map_or(2, |c| c.get());
        assert_eq!(n as usize, (cores * 2).clamp(4, 64));
        assert_eq!(super::StoreOptions::default().max_connections, n);
    }
}
