//! Accounts (AUTH-1, AUTH-8: one per e-mail and per professional identifier, never deleted), their
//! password hash (AUTH-4), TOTP secret with its last accepted step, and recovery codes (AUTH-6).

use galien_core::identity::{AccountStatus, Email, ProfessionalId, Role};
use galien_core::ids::UserId;
use time::OffsetDateTime;
use uuid::Uuid;

use super::{Cols, conflict, corrupt, count_u32, redact, to_i64, to_micros};
use crate::{Store, StoreError};

/// `users.email` is unique (AUTH-1).
pub(crate) const EMAIL_KEY: &str = "users_email_key";
/// `users.professional_id` is unique where not null (AUTH-1).
pub(crate) const PROFESSIONAL_ID_KEY: &str = "users_professional_id_key";
/// `(PostgreSQL constraint name, SQLite "table.column")` for [`super::unique_violation`].
pub(crate) const USER_UNIQUES: &[(&str, &str)] = &[
    (EMAIL_KEY, "users.email"),
    (PROFESSIONAL_ID_KEY, "users.professional_id"),
];

/// An account to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUser {
    /// Its identifier (AUTH-1).
    pub id: UserId,
    /// Its e-mail address, unique.
    pub email: Email,
    /// The name shown to others.
    pub display_name: String,
    /// Its role.
    pub role: Role,
    /// RPPS / ADELI number, unique where present.
    pub professional_id: Option<ProfessionalId>,
    /// Employer or practice.
    pub organisation: Option<String>,
    /// Its initial state (usually [`AccountStatus::Invited`]).
    pub status: AccountStatus,
    /// When it was created.
    pub created_at: OffsetDateTime,
    /// Who created it (`None` for the first administrator).
    pub created_by: Option<UserId>,
}

/// An enrolled TOTP secret (AUTH-6).
#[derive(Clone, PartialEq, Eq)]
pub struct TotpCredential {
    /// The secret, sealed (encrypted) by the caller; the store never sees it in clear.
    pub sealed_secret: Vec<u8>,
    /// The last time step accepted, if any: codes of this step or earlier are replays.
    pub last_step: Option<u64>,
    /// When it was enrolled.
    pub enrolled_at: OffsetDateTime,
}

impl std::fmt::Debug for TotpCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TotpCredential")
            .field("sealed_secret", &"<redacted>")
            .field("last_step", &self.last_step)
            .field("enrolled_at", &self.enrolled_at)
            .finish()
    }
}

/// A stored account and its credentials' state.
#[derive(Clone, PartialEq, Eq)]
pub struct User {
    /// Its identifier.
    pub id: UserId,
    /// Its e-mail address.
    pub email: Email,
    /// The name shown to others.
    pub display_name: String,
    /// Its role.
    pub role: Role,
    /// RPPS / ADELI number.
    pub professional_id: Option<ProfessionalId>,
    /// Employer or practice.
    pub organisation: Option<String>,
    /// Its state (AUTH-8).
    pub status: AccountStatus,
    /// When it was created.
    pub created_at: OffsetDateTime,
    /// Who created it.
    pub created_by: Option<UserId>,
    /// When it first became [`AccountStatus::Active`].
    pub activated_at: Option<OffsetDateTime>,
    /// When its status last changed (its creation if never).
    pub status_changed_at: OffsetDateTime,
    /// When its details, status or credentials last changed.
    pub updated_at: OffsetDateTime,
    /// Argon2id PHC string, once a password is set.
    pub password_hash: Option<String>,
    /// When the password was last set.
    pub password_changed_at: Option<OffsetDateTime>,
    /// The enrolled TOTP secret, if any.
    pub totp: Option<TotpCredential>,
    /// Unused recovery codes.
    pub recovery_codes_remaining: u32,
}

impl std::fmt::Debug for User {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("User")
            .field("id", &self.id)
            .field("email", &self.email)
            .field("display_name", &self.display_name)
            .field("role", &self.role)
            .field("professional_id", &self.professional_id)
            .field("organisation", &self.organisation)
            .field("status", &self.status)
            .field("created_at", &self.created_at)
            .field("created_by", &self.created_by)
            .field("activated_at", &self.activated_at)
            .field("status_changed_at", &self.status_changed_at)
            .field("updated_at", &self.updated_at)
            .field("password_hash", &redact(&self.password_hash))
            .field("password_changed_at", &self.password_changed_at)
            .field("totp", &self.totp)
            .field("recovery_codes_remaining", &self.recovery_codes_remaining)
            .finish()
    }
}

/// Why an account could not be created.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CreateUserError {
    /// Another account has this e-mail address (AUTH-1).
    #[error("an account with this e-mail address already exists")]
    EmailTaken,
    /// Another account has this RPPS / ADELI number (AUTH-1).
    #[error("an account with this professional identifier already exists")]
    ProfessionalIdTaken,
    /// The database failed (a duplicate [`UserId`] is a [`StoreError::Conflict`] here).
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for CreateUserError {
    fn from(e: StoreError) -> Self {
        if e == conflict(EMAIL_KEY) {
            CreateUserError::EmailTaken
        } else if e == conflict(PROFESSIONAL_ID_KEY) {
            CreateUserError::ProfessionalIdTaken
        } else {
            CreateUserError::Store(e)
        }
    }
}

/// Bind-ready form of a new user (owned, so it can move into a write job).
pub(crate) struct UserParams {
    pub id: Uuid,
    pub email: String,
    pub display_name: String,
    pub role: &'static str,
    pub professional_id: Option<String>,
    pub organisation: Option<String>,
    pub status: &'static str,
    pub created_at: i64,
    pub created_by: Option<Uuid>,
    pub activated_at: Option<i64>,
    pub password_hash: Option<String>,
    pub password_changed_at: Option<i64>,
}

impl UserParams {
    /// `password`: the PHC string and when it was set (enrolment sets it with the account).
    pub fn new(u: &NewUser, password: Option<(&str, OffsetDateTime)>) -> Result<Self, StoreError> {
        let created_at = to_micros(u.created_at)?;
        Ok(Self {
            id: u.id.as_uuid(),
            email: u.email.as_str().to_owned(),
            display_name: u.display_name.clone(),
            role: u.role.as_str(),
            professional_id: u.professional_id.as_ref().map(ProfessionalId::stored),
            organisation: u.organisation.clone(),
            status: u.status.as_str(),
            created_at,
            created_by: u.created_by.map(|c| c.as_uuid()),
            activated_at: (u.status == AccountStatus::Active).then_some(created_at),
            password_hash: password.map(|(phc, _)| phc.to_owned()),
            password_changed_at: password.map(|(_, at)| to_micros(at)).transpose()?,
        })
    }
}

pub(crate) const INSERT_USER: &str = "INSERT INTO users (id, email, display_name, role, \
     professional_id, organisation, status, created_at, created_by, activated_at, status_changed_at, \
     updated_at, password_hash, password_changed_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $8, $8, $11, $12)";

/// Inserts [`UserParams`] `$p` on `$conn`; e-mail and professional-id clashes become the conflicts that
/// [`CreateUserError::from`] recognises.
macro_rules! insert_user {
    ($conn:ident, $p:expr) => {{
        let p: $crate::identity::users::UserParams = $p;
        sqlx::query($crate::identity::users::INSERT_USER)
            .bind(p.id)
            .bind(p.email)
            .bind(p.display_name)
            .bind(p.role)
            .bind(p.professional_id)
            .bind(p.organisation)
            .bind(p.status)
            .bind(p.created_at)
            .bind(p.created_by)
            .bind(p.activated_at)
            .bind(p.password_hash)
            .bind(p.password_changed_at)
            .execute(&mut *$conn)
            .await
            .map_err(|e| {
                $crate::identity::unique_violation(e, $crate::identity::users::USER_UNIQUES)
            })
    }};
}
pub(crate) use insert_user;

/// `SELECT` of every [`User`] column (in [`user_from_row`] order) followed by `$tail`.
macro_rules! select_user {
    ($tail:literal) => {
        concat!("SELECT ", user_columns!(), " FROM users u ", $tail)
    };
}

/// Every [`User`] column of `users u`, in [`user_from_row`] order.
macro_rules! user_columns {
    () => {
        "u.id, u.email, u.display_name, u.role, u.professional_id, u.organisation, u.status, \
         u.created_at, u.created_by, u.activated_at, u.status_changed_at, u.updated_at, \
         u.password_hash, u.password_changed_at, u.totp_secret, u.totp_last_step, u.totp_enrolled_at, \
         (SELECT COUNT(*) FROM recovery_codes r WHERE r.user_id = u.id AND r.used_at IS NULL)"
    };
}
pub(crate) use user_columns;

/// The columns of [`user_columns!`].
pub(super) const USER_COLUMNS: usize = 18;

pub(super) fn user_from_row<R: Cols>(r: &R) -> Result<User, StoreError> {
    let totp = match r.opt_bytes(14)? {
        None => None,
        Some(sealed_secret) => Some(TotpCredential {
            sealed_secret,
            last_step: r
                .opt_int(15)?
                .map(|s| u64::try_from(s).map_err(|_| corrupt("TOTP step")))
                .transpose()?,
            enrolled_at: r.opt_time(16)?.ok_or_else(|| corrupt("TOTP enrolment"))?,
        }),
    };
    Ok(User {
        id: UserId::from_uuid(r.uuid(0)?),
        email: Email::parse(&r.text(1)?).ok_or_else(|| corrupt("e-mail address"))?,
        display_name: r.text(2)?,
        role: Role::parse(&r.text(3)?).ok_or_else(|| corrupt("role"))?,
        professional_id: r
            .opt_text(4)?
            .map(|s| ProfessionalId::from_stored(&s).ok_or_else(|| corrupt("professional id")))
            .transpose()?,
        organisation: r.opt_text(5)?,
        status: AccountStatus::parse(&r.text(6)?).ok_or_else(|| corrupt("account status"))?,
        created_at: r.time(7)?,
        created_by: r.opt_uuid(8)?.map(UserId::from_uuid),
        activated_at: r.opt_time(9)?,
        status_changed_at: r.time(10)?,
        updated_at: r.time(11)?,
        password_hash: r.opt_text(12)?,
        password_changed_at: r.opt_time(13)?,
        totp,
        recovery_codes_remaining: count_u32(r.int(17)?),
    })
}

/// `Ok(())` if an `UPDATE … WHERE id = $1` touched the account, [`StoreError::NotFound`] otherwise.
fn found(rows_affected: u64) -> Result<(), StoreError> {
    if rows_affected == 0 {
        Err(StoreError::NotFound)
    } else {
        Ok(())
    }
}

const COUNT_ACTIVE_WITH_ROLE: &str =
    "SELECT COUNT(*) FROM users WHERE status = 'active' AND role = $1";
const SET_STATUS: &str = "UPDATE users SET status = $2, \
     status_changed_at = CASE WHEN status = $2 THEN status_changed_at ELSE $3 END, \
     activated_at = CASE WHEN activated_at IS NULL AND $2 = 'active' THEN $3 ELSE activated_at END, \
     updated_at = $3 WHERE id = $1";
const SET_DISPLAY: &str =
    "UPDATE users SET display_name = $2, organisation = $3, updated_at = $4 WHERE id = $1";
const SET_PASSWORD: &str =
    "UPDATE users SET password_hash = $2, password_changed_at = $3, updated_at = $3 WHERE id = $1";
const SET_TOTP: &str = "UPDATE users SET totp_secret = $2, totp_last_step = NULL, \
     totp_enrolled_at = $3, updated_at = $3 WHERE id = $1";
const REMOVE_TOTP: &str = "UPDATE users SET totp_secret = NULL, totp_last_step = NULL, \
     totp_enrolled_at = NULL, updated_at = $2 WHERE id = $1";
/// One statement, so the row lock (PostgreSQL) or the single writer (SQLite) makes it atomic across
/// nodes: of concurrent callers with the same step, exactly one updates the row (AUTH-6).
const ADVANCE_TOTP: &str = "UPDATE users SET totp_last_step = $2 WHERE id = $1 \
     AND totp_secret IS NOT NULL AND (totp_last_step IS NULL OR totp_last_step < $2)";
const USER_EXISTS: &str = "SELECT COUNT(*) FROM users WHERE id = $1";
const DELETE_RECOVERY: &str = "DELETE FROM recovery_codes WHERE user_id = $1";
const INSERT_RECOVERY: &str =
    "INSERT INTO recovery_codes (user_id, code_hash, created_at) VALUES ($1, $2, $3)";
const USE_RECOVERY: &str = "UPDATE recovery_codes SET used_at = $3 \
     WHERE user_id = $1 AND code_hash = $2 AND used_at IS NULL";

impl Store {
    /// Creates an account. E-mail and professional identifier are unique (AUTH-1): a clash is
    /// [`CreateUserError::EmailTaken`] / [`CreateUserError::ProfessionalIdTaken`] and stores nothing.
    pub async fn create_user(&self, user: NewUser) -> Result<(), CreateUserError> {
        let p = UserParams::new(&user, None)?;
        in_tx!(self, |conn| {
            insert_user!(conn, p)?;
            Ok(())
        })
        .map_err(CreateUserError::from)
    }

    /// The account, or [`StoreError::NotFound`].
    pub async fn user(&self, id: UserId) -> Result<User, StoreError> {
        let id = id.as_uuid();
        read!(self, |conn| {
            let row = sqlx::query(select_user!("WHERE u.id = $1"))
                .bind(id)
                .fetch_optional(&mut *conn)
                .await?;
            user_from_row(&row.ok_or(StoreError::NotFound)?)
        })
    }

    /// The account with this (normalised) address, or [`StoreError::NotFound`].
    pub async fn user_by_email(&self, email: &Email) -> Result<User, StoreError> {
        let email = email.as_str().to_owned();
        read!(self, |conn| {
            let row = sqlx::query(select_user!("WHERE u.email = $1"))
                .bind(email)
                .fetch_optional(&mut *conn)
                .await?;
            user_from_row(&row.ok_or(StoreError::NotFound)?)
        })
    }

    /// The account with this RPPS / ADELI number, or [`StoreError::NotFound`].
    pub async fn user_by_professional_id(&self, id: &ProfessionalId) -> Result<User, StoreError> {
        let stored = id.stored();
        read!(self, |conn| {
            let row = sqlx::query(select_user!("WHERE u.professional_id = $1"))
                .bind(stored)
                .fetch_optional(&mut *conn)
                .await?;
            user_from_row(&row.ok_or(StoreError::NotFound)?)
        })
    }

    /// Accounts, optionally of one status and/or role, oldest first, `limit` from `offset`.
    pub async fn users(
        &self,
        status: Option<AccountStatus>,
        role: Option<Role>,
        limit: u32,
        offset: u32,
    ) -> Result<Vec<User>, StoreError> {
        let status = status.map(|s| s.as_str().to_owned());
        let role = role.map(|r| r.as_str().to_owned());
        read!(self, |conn| {
            let rows = sqlx::query(select_user!(
                "WHERE ($1 IS NULL OR u.status = $1) AND ($2 IS NULL OR u.role = $2) \
                 ORDER BY u.created_at, u.id LIMIT $3 OFFSET $4"
            ))
            .bind(status)
            .bind(role)
            .bind(i64::from(limit))
            .bind(i64::from(offset))
            .fetch_all(&mut *conn)
            .await?;
            rows.iter().map(user_from_row).collect()
        })
    }

    /// How many [`AccountStatus::Active`] accounts have `role` (e.g. to refuse suspending the last
    /// administrator).
    pub async fn count_active_with_role(&self, role: Role) -> Result<u64, StoreError> {
        read!(self, |conn| {
            let (n,): (i64,) = sqlx::query_as(COUNT_ACTIVE_WITH_ROLE)
                .bind(role.as_str())
                .fetch_one(&mut *conn)
                .await?;
            Ok(u64::try_from(n).unwrap_or(0))
        })
    }

    /// Moves the account to `status` at `at` (AUTH-8). `activated_at` is set the first time it becomes
    /// [`AccountStatus::Active`] and kept afterwards; `status_changed_at` moves only if the status
    /// changes. [`StoreError::NotFound`] if there is no such account. Accounts are never deleted.
    pub async fn set_user_status(
        &self,
        id: UserId,
        status: AccountStatus,
        at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let (id, at) = (id.as_uuid(), to_micros(at)?);
        in_tx!(self, |conn| {
            let done = sqlx::query(SET_STATUS)
                .bind(id)
                .bind(status.as_str())
                .bind(at)
                .execute(&mut *conn)
                .await?;
            found(done.rows_affected())
        })
    }

    /// Changes the name shown and the organisation.
    pub async fn set_display_details(
        &self,
        id: UserId,
        display_name: String,
        organisation: Option<String>,
        at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let (id, at) = (id.as_uuid(), to_micros(at)?);
        in_tx!(self, |conn| {
            let done = sqlx::query(SET_DISPLAY)
                .bind(id)
                .bind(display_name)
                .bind(organisation)
                .bind(at)
                .execute(&mut *conn)
                .await?;
            found(done.rows_affected())
        })
    }

    /// Stores a new Argon2id PHC string (AUTH-4).
    pub async fn set_password_hash(
        &self,
        id: UserId,
        phc: &str,
        at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let (id, phc, at) = (id.as_uuid(), phc.to_owned(), to_micros(at)?);
        in_tx!(self, |conn| {
            let done = sqlx::query(SET_PASSWORD)
                .bind(id)
                .bind(phc)
                .bind(at)
                .execute(&mut *conn)
                .await?;
            found(done.rows_affected())
        })
    }

    /// Enrols (or replaces) the TOTP secret, sealed by the caller; no step has been used yet.
    pub async fn set_totp(
        &self,
        id: UserId,
        sealed_secret: Vec<u8>,
        at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let (id, at) = (id.as_uuid(), to_micros(at)?);
        in_tx!(self, |conn| {
            let done = sqlx::query(SET_TOTP)
                .bind(id)
                .bind(sealed_secret)
                .bind(at)
                .execute(&mut *conn)
                .await?;
            found(done.rows_affected())
        })
    }

    /// Removes the TOTP secret.
    pub async fn remove_totp(&self, id: UserId, at: OffsetDateTime) -> Result<(), StoreError> {
        let (id, at) = (id.as_uuid(), to_micros(at)?);
        in_tx!(self, |conn| {
            let done = sqlx::query(REMOVE_TOTP)
                .bind(id)
                .bind(at)
                .execute(&mut *conn)
                .await?;
            found(done.rows_affected())
        })
    }

    /// Records that a TOTP code of time step `step` was accepted. `true` iff `step` is later than every
    /// step accepted before (and a secret is enrolled): one atomic statement, so a code works once per
    /// step even with several nodes or concurrent requests (AUTH-6). `false` means replay (or no TOTP).
    pub async fn advance_totp_step(&self, id: UserId, step: u64) -> Result<bool, StoreError> {
        let (id, step) = (id.as_uuid(), to_i64(step)?);
        in_tx!(self, |conn| {
            let done = sqlx::query(ADVANCE_TOTP)
                .bind(id)
                .bind(step)
                .execute(&mut *conn)
                .await?;
            Ok(done.rows_affected() == 1)
        })
    }

    /// Replaces the account's recovery codes by `hashes` (digests of the codes, never the codes): the
    /// previous set, used or not, is deleted in the same transaction.
    pub async fn replace_recovery_codes(
        &self,
        id: UserId,
        hashes: Vec<[u8; 32]>,
        at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let (id, at) = (id.as_uuid(), to_micros(at)?);
        in_tx!(self, |conn| {
            let (exists,): (i64,) = sqlx::query_as(USER_EXISTS)
                .bind(id)
                .fetch_one(&mut *conn)
                .await?;
            if exists == 0 {
                return Err(StoreError::NotFound);
            }
            sqlx::query(DELETE_RECOVERY)
                .bind(id)
                .execute(&mut *conn)
                .await?;
            for hash in hashes {
                sqlx::query(INSERT_RECOVERY)
                    .bind(id)
                    .bind(hash.to_vec())
                    .bind(at)
                    .execute(&mut *conn)
                    .await?;
            }
            Ok(())
        })
    }

    /// Spends the recovery code with this hash. `true` iff it existed unused: one atomic statement, so
    /// of concurrent uses exactly one succeeds (AUTH-6).
    pub async fn use_recovery_code(
        &self,
        id: UserId,
        hash: [u8; 32],
        at: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let (id, at) = (id.as_uuid(), to_micros(at)?);
        in_tx!(self, |conn| {
            let done = sqlx::query(USE_RECOVERY)
                .bind(id)
                .bind(hash.to_vec())
                .bind(at)
                .execute(&mut *conn)
                .await?;
            Ok(done.rows_affected() == 1)
        })
    }
}
