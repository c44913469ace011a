//! Sessions (AUTH-7). The session id is a 256-bit secret held by the browser; only its SHA-256
//! [`TokenDigest`] is stored. Each session also has a short public `handle` (for the "my sessions" page)
//! derived from the digest by one more hash, so it reveals neither the secret nor the digest.

use galien_access::Relationships;
use galien_core::identity::{Assurance, AuthMethod};
use galien_core::ids::{PatientId, UserId};
use galien_crypto::token::TokenDigest;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use super::users::{user_columns, user_from_row};
use super::{Cols, Shifted, User, corrupt, to_micros};
use crate::patients::add_relationship;
use crate::{Store, StoreError, point_read};

/// A session to store.
#[derive(Clone, PartialEq, Eq)]
pub struct NewSession {
    /// SHA-256 of the session secret.
    pub digest: TokenDigest,
    /// Whose it is.
    pub user: UserId,
    /// How it was authenticated.
    pub method: AuthMethod,
    /// How strongly.
    pub assurance: Assurance,
    /// When it began (also its first `last_seen_at`).
    pub created_at: OffsetDateTime,
    /// When it ends whatever the activity (12 h for professionals).
    pub absolute_expires_at: OffsetDateTime,
    /// Source address.
    pub ip: Option<String>,
    /// Browser.
    pub user_agent: Option<String>,
    /// Per-session secret for CSRF tokens.
    pub csrf_secret: [u8; 32],
}

/// A stored session.
#[derive(Clone, PartialEq, Eq)]
pub struct Session {
    /// SHA-256 of the session secret.
    pub digest: TokenDigest,
    /// Public, stable name of the session: the first 16 hex digits of SHA-256(digest).
    pub handle: String,
    /// Whose it is.
    pub user: UserId,
    /// How it was authenticated (changes on upgrade).
    pub method: AuthMethod,
    /// How strongly.
    pub assurance: Assurance,
    /// When it began.
    pub created_at: OffsetDateTime,
    /// Last activity (for the idle timeout).
    pub last_seen_at: OffsetDateTime,
    /// When it ends whatever the activity.
    pub absolute_expires_at: OffsetDateTime,
    /// When a fresh factor was last presented (sensitive actions).
    pub step_up_at: Option<OffsetDateTime>,
    /// When it was ended, if it was.
    pub ended_at: Option<OffsetDateTime>,
    /// Why (`logout`, `password_changed`, `ended_by_user`, …).
    pub end_reason: Option<String>,
    /// Source address at creation.
    pub ip: Option<String>,
    /// Browser at creation.
    pub user_agent: Option<String>,
    /// Per-session secret for CSRF tokens.
    pub csrf_secret: [u8; 32],
}

impl std::fmt::Debug for NewSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewSession")
            .field("digest", &self.digest)
            .field("user", &self.user)
            .field("method", &self.method)
            .field("assurance", &self.assurance)
            .field("created_at", &self.created_at)
            .field("absolute_expires_at", &self.absolute_expires_at)
            .field("ip", &self.ip)
            .field("user_agent", &self.user_agent)
            .field("csrf_secret", &"<redacted>")
            .finish()
    }
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("handle", &self.handle)
            .field("user", &self.user)
            .field("method", &self.method)
            .field("assurance", &self.assurance)
            .field("created_at", &self.created_at)
            .field("last_seen_at", &self.last_seen_at)
            .field("absolute_expires_at", &self.absolute_expires_at)
            .field("step_up_at", &self.step_up_at)
            .field("ended_at", &self.ended_at)
            .field("end_reason", &self.end_reason)
            .field("ip", &self.ip)
            .field("user_agent", &self.user_agent)
            .field("csrf_secret", &"<redacted>")
            .finish_non_exhaustive()
    }
}

/// The public handle of a session: the first 16 hex digits of SHA-256(digest).
pub(crate) fn handle_of(digest: &TokenDigest) -> String {
    let mut hex = hex::encode(Sha256::digest(digest.as_bytes()));
    hex.truncate(16);
    hex
}

const INSERT: &str = "INSERT INTO sessions (digest, handle, user_id, method, assurance, created_at, \
     last_seen_at, absolute_expires_at, ip, user_agent, csrf_secret) \
     VALUES ($1, $2, $3, $4, $5, $6, $6, $7, $8, $9, $10)";

macro_rules! select_session {
    ($tail:literal) => {
        concat!("SELECT ", session_columns!(), " FROM sessions s ", $tail)
    };
}

/// Every [`Session`] column of `sessions s`, in [`session_from_row`] order.
macro_rules! session_columns {
    () => {
        "s.digest, s.handle, s.user_id, s.method, s.assurance, s.created_at, s.last_seen_at, \
         s.absolute_expires_at, s.step_up_at, s.ended_at, s.end_reason, s.ip, s.user_agent, \
         s.csrf_secret"
    };
}

/// Sessions read by one statement of [`Store::sessions_and_users`] (one parameter each).
pub(crate) const SESSIONS_PER_READ: usize = 500;

/// The columns of [`session_from_row`]: the user's follow them in a joined row.
const SESSION_COLUMNS: usize = 14;

/// Sessions and their accounts, `$condition` on the digest ([`session_from_row`] then
/// [`user_from_row`] from [`SESSION_COLUMNS`] on).
macro_rules! sessions_and_users_where_digest {
    ($condition:literal) => {
        concat!(
            "SELECT ",
            session_columns!(),
            ", ",
            user_columns!(),
            " FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.digest ",
            $condition
        )
    };
}

/// A session and its account, by digest.
const SESSION_AND_USER: &str = sessions_and_users_where_digest!("= $1");

/// A session (`$1` digest) and its account, each of the account's relationships with `$2` patient
/// at `$3` now a row of its own (one row with none), from [`SESSION_AND_USER_COLUMNS`] on.
const SESSION_USER_AND_RELATIONSHIPS: &str = concat!(
    "SELECT ",
    session_columns!(),
    ", ",
    user_columns!(),
    ", r.source, r.kind FROM sessions s JOIN users u ON u.id = s.user_id LEFT JOIN (",
    crate::patients::relationships_of!("(SELECT user_id FROM sessions WHERE digest = $1)"),
    ") r ON 1 = 1 WHERE s.digest = $1"
);

/// The columns of a session and its account.
const SESSION_AND_USER_COLUMNS: usize = SESSION_COLUMNS + super::users::USER_COLUMNS;

/// Activity never moves `last_seen_at` backwards (two nodes may report out of order).
const TOUCH: &str = "UPDATE sessions SET \
     last_seen_at = CASE WHEN last_seen_at < $2 THEN $2 ELSE last_seen_at END \
     WHERE digest = $1 AND ended_at IS NULL";
const UPGRADE: &str = "UPDATE sessions SET method = $2, assurance = $3, \
     last_seen_at = CASE WHEN last_seen_at < $4 THEN $4 ELSE last_seen_at END \
     WHERE digest = $1 AND ended_at IS NULL";
const STEP_UP: &str = "UPDATE sessions SET step_up_at = $2 WHERE digest = $1 AND ended_at IS NULL";
const END: &str = "UPDATE sessions SET ended_at = $2, end_reason = $3 \
     WHERE digest = $1 AND ended_at IS NULL";
const END_BY_HANDLE: &str = "UPDATE sessions SET ended_at = $3, end_reason = $4 \
     WHERE user_id = $1 AND handle = $2 AND ended_at IS NULL";
const END_USER: &str = "UPDATE sessions SET ended_at = $2, end_reason = $3 \
     WHERE user_id = $1 AND ended_at IS NULL AND ($4 IS NULL OR digest <> $4)";

fn session_from_row<R: Cols>(r: &R) -> Result<Session, StoreError> {
    let csrf = r.bytes(13)?;
    Ok(Session {
        digest: TokenDigest::from_slice(&r.bytes(0)?).ok_or_else(|| corrupt("session digest"))?,
        handle: r.text(1)?,
        user: UserId::from_uuid(r.uuid(2)?),
        method: AuthMethod::parse(&r.text(3)?).ok_or_else(|| corrupt("session method"))?,
        assurance: Assurance::from_level(r.int(4)?).ok_or_else(|| corrupt("session assurance"))?,
        created_at: r.time(5)?,
        last_seen_at: r.time(6)?,
        absolute_expires_at: r.time(7)?,
        step_up_at: r.opt_time(8)?,
        ended_at: r.opt_time(9)?,
        end_reason: r.opt_text(10)?,
        ip: r.opt_text(11)?,
        user_agent: r.opt_text(12)?,
        csrf_secret: <[u8; 32]>::try_from(csrf.as_slice())
            .map_err(|_| corrupt("session CSRF secret"))?,
    })
}

/// `Ok(())` if a live session was updated; [`StoreError::NotFound`] if none has this digest (absent or
/// ended: an ended session is never revived).
fn live(rows_affected: u64) -> Result<(), StoreError> {
    if rows_affected == 0 {
        Err(StoreError::NotFound)
    } else {
        Ok(())
    }
}

impl Store {
    /// Stores a new session (AUTH-7). A duplicate digest is [`StoreError::Conflict`].
    pub async fn create_session(&self, s: NewSession) -> Result<(), StoreError> {
        let handle = handle_of(&s.digest);
        let digest = s.digest.as_bytes().to_vec();
        let user = s.user.as_uuid();
        let created_at = to_micros(s.created_at)?;
        let expires = to_micros(s.absolute_expires_at)?;
        let (method, assurance) = (s.method.as_str(), i64::from(s.assurance.level()));
        let (ip, user_agent, csrf) = (s.ip, s.user_agent, s.csrf_secret.to_vec());
        in_tx!(self, |conn| {
            sqlx::query(INSERT)
                .bind(digest)
                .bind(handle)
                .bind(user)
                .bind(method)
                .bind(assurance)
                .bind(created_at)
                .bind(expires)
                .bind(ip)
                .bind(user_agent)
                .bind(csrf)
                .execute(&mut *conn)
                .await?;
            Ok(())
        })
    }

    /// The session with this digest and its account, read together (one statement: what every
    /// request does first). [`StoreError::NotFound`] if there is none.
    pub async fn session_and_user(
        &self,
        digest: &TokenDigest,
    ) -> Result<(Session, User), StoreError> {
        let digest = digest.as_bytes().to_vec();
        point_read!(
            self,
            sqlite: SESSION_AND_USER,
            postgres: SESSION_AND_USER,
            [digest],
            |rows| {
                let row = rows.first().ok_or(StoreError::NotFound)?;
                Ok((
                    session_from_row(row)?,
                    user_from_row(&Shifted(row, SESSION_COLUMNS))?,
                ))
            }
        )
    }

    /// The session with this digest, its account, and that account's relationships with `patient`
    /// at `now` ([`Store::relationships`]), read together: one statement for what a request about
    /// one patient needs before the gate. The relationships are read whether or not the session
    /// is still valid (they hold no health data); the caller checks the session first.
    /// [`StoreError::NotFound`] if there is no session with this digest.
    pub async fn session_user_and_relationships(
        &self,
        digest: &TokenDigest,
        patient: PatientId,
        now: OffsetDateTime,
    ) -> Result<(Session, User, Relationships), StoreError> {
        let digest = digest.as_bytes().to_vec();
        let now = to_micros(now)?;
        point_read!(
            self,
            sqlite: SESSION_USER_AND_RELATIONSHIPS,
            postgres: SESSION_USER_AND_RELATIONSHIPS,
            [digest, patient.as_uuid(), now],
            |rows| {
                let row = rows.first().ok_or(StoreError::NotFound)?;
                let mut relationships = Relationships::none();
                for row in rows {
                    let tie = Shifted(row, SESSION_AND_USER_COLUMNS);
                    if tie.opt_text(0)?.is_some() {
                        add_relationship(&mut relationships, &tie)?;
                    }
                }
                Ok((
                    session_from_row(row)?,
                    user_from_row(&Shifted(row, SESSION_COLUMNS))?,
                    relationships,
                ))
            }
        )
    }

    /// The sessions with these digests and their accounts (those that exist, in no particular
    /// order), in one statement per [`SESSIONS_PER_READ`]: what a node's session watch reads for
    /// all its open sockets at once.
    pub async fn sessions_and_users(
        &self,
        digests: &[TokenDigest],
    ) -> Result<Vec<(Session, User)>, StoreError> {
        let mut found = Vec::with_capacity(digests.len());
        for chunk in digests.chunks(SESSIONS_PER_READ) {
            let sql = format!(
                sessions_and_users_where_digest!("IN {}"),
                crate::sql::values(1, chunk.len())
            );
            let binds: Vec<Vec<u8>> = chunk.iter().map(|d| d.as_bytes().to_vec()).collect();
            let rows = read!(self, |conn| {
                let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
                for digest in binds {
                    query = query.bind(digest);
                }
                let rows = query.fetch_all(&mut *conn).await?;
                rows.iter()
                    .map(|row| {
                        Ok::<_, StoreError>((
                            session_from_row(row)?,
                            user_from_row(&Shifted(row, SESSION_COLUMNS))?,
                        ))
                    })
                    .collect::<Result<Vec<_>, _>>()
            })?;
            found.extend(rows);
        }
        Ok(found)
    }

    /// The session with this digest, ended or not (the caller checks `ended_at`, the idle and the
    /// absolute timeouts), or [`StoreError::NotFound`].
    pub async fn session(&self, digest: &TokenDigest) -> Result<Session, StoreError> {
        let digest = digest.as_bytes().to_vec();
        read!(self, |conn| {
            let row = sqlx::query(select_session!("WHERE digest = $1"))
                .bind(digest)
                .fetch_optional(&mut *conn)
                .await?;
            session_from_row(&row.ok_or(StoreError::NotFound)?)
        })
    }

    /// Records activity at `at` (never moving `last_seen_at` backwards). [`StoreError::NotFound`] if
    /// no live session has this digest.
    pub async fn touch_session(
        &self,
        digest: &TokenDigest,
        at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let (digest, at) = (digest.as_bytes().to_vec(), to_micros(at)?);
        in_tx!(self, |conn| {
            let done = sqlx::query(TOUCH)
                .bind(digest)
                .bind(at)
                .execute(&mut *conn)
                .await?;
            live(done.rows_affected())
        })
    }

    /// Raises a live session's method and assurance (e.g. enrolment finished with a second factor),
    /// counting as activity at `at`. [`StoreError::NotFound`] if no live session has this digest.
    pub async fn upgrade_session(
        &self,
        digest: &TokenDigest,
        method: AuthMethod,
        assurance: Assurance,
        at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let (digest, at) = (digest.as_bytes().to_vec(), to_micros(at)?);
        in_tx!(self, |conn| {
            let done = sqlx::query(UPGRADE)
                .bind(digest)
                .bind(method.as_str())
                .bind(i64::from(assurance.level()))
                .bind(at)
                .execute(&mut *conn)
                .await?;
            live(done.rows_affected())
        })
    }

    /// Records that a fresh factor was presented at `at` (for sensitive actions, AUTH-7).
    /// [`StoreError::NotFound`] if no live session has this digest.
    pub async fn set_step_up(
        &self,
        digest: &TokenDigest,
        at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let (digest, at) = (digest.as_bytes().to_vec(), to_micros(at)?);
        in_tx!(self, |conn| {
            let done = sqlx::query(STEP_UP)
                .bind(digest)
                .bind(at)
                .execute(&mut *conn)
                .await?;
            live(done.rows_affected())
        })
    }

    /// Ends the session. `true` iff it was live; `false` if it had already ended or does not exist (so
    /// logging out twice is harmless). The first end's time and reason are kept.
    pub async fn end_session(
        &self,
        digest: &TokenDigest,
        reason: &str,
        at: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let (digest, reason, at) = (
            digest.as_bytes().to_vec(),
            reason.to_owned(),
            to_micros(at)?,
        );
        in_tx!(self, |conn| {
            let done = sqlx::query(END)
                .bind(digest)
                .bind(at)
                .bind(reason)
                .execute(&mut *conn)
                .await?;
            Ok(done.rows_affected() > 0)
        })
    }

    /// Ends `user`'s live session with this public handle ("my sessions" page). `true` iff one was
    /// ended; another user's session is never touched (`false`, as if absent).
    pub async fn end_session_by_handle(
        &self,
        user: UserId,
        handle: &str,
        reason: &str,
        at: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let (user, handle, reason) = (user.as_uuid(), handle.to_owned(), reason.to_owned());
        let at = to_micros(at)?;
        in_tx!(self, |conn| {
            let done = sqlx::query(END_BY_HANDLE)
                .bind(user)
                .bind(handle)
                .bind(at)
                .bind(reason)
                .execute(&mut *conn)
                .await?;
            Ok(done.rows_affected() > 0)
        })
    }

    /// Ends every live session of `user` except `except` (the current one, after a password or factor
    /// change: AUTH-7). Returns how many were ended.
    pub async fn end_user_sessions(
        &self,
        user: UserId,
        except: Option<&TokenDigest>,
        reason: &str,
        at: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        let (user, reason, at) = (user.as_uuid(), reason.to_owned(), to_micros(at)?);
        let except = except.map(|d| d.as_bytes().to_vec());
        in_tx!(self, |conn| {
            let done = sqlx::query(END_USER)
                .bind(user)
                .bind(at)
                .bind(reason)
                .bind(except)
                .execute(&mut *conn)
                .await?;
            Ok(done.rows_affected())
        })
    }

    /// `user`'s sessions, newest first; with `active_only`, those not ended (the caller still judges
    /// the idle and absolute timeouts).
    pub async fn sessions_of(
        &self,
        user: UserId,
        active_only: bool,
    ) -> Result<Vec<Session>, StoreError> {
        let user = user.as_uuid();
        let active_only = i64::from(active_only);
        read!(self, |conn| {
            let rows = sqlx::query(select_session!(
                "WHERE user_id = $1 AND ($2 = 0 OR ended_at IS NULL) \
                 ORDER BY created_at DESC, digest"
            ))
            .bind(user)
            .bind(active_only)
            .fetch_all(&mut *conn)
            .await?;
            rows.iter().map(session_from_row).collect()
        })
    }
}
