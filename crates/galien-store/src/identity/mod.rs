//! Identity persistence for authentication (AUTH-1…AUTH-9): users and their credentials (password hash,
//! TOTP, recovery codes, WebAuthn), sessions, login throttling, machine identities, and the atomic
//! acceptance of enrolment links.
//!
//! Each operation is written once: the [`in_tx!`] macro expands its body for the SQLite writer
//! connection and for a PostgreSQL transaction, and the SQL text is shared (the dialects agree on
//! everything used here). Times are BIGINT microseconds UTC; ids are UUID (PostgreSQL) / 16-byte BLOB
//! (SQLite); secrets never reach the database, only their digests (sessions, access tokens, recovery
//! codes) or sealed forms (TOTP).

use sqlx::Row;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::StoreError;
pub(crate) use crate::tokens::{from_micros, to_micros};

/// Runs `$body` with `$conn` bound to the backend's connection, inside one transaction that is durable
/// when the call returns: the SQLite group-committing writer, or a PostgreSQL pool transaction. An
/// `Err` from the body rolls the transaction back. Captured values must be owned (`move`).
macro_rules! in_tx {
    ($store:expr, |$conn:ident| $body:block) => {
        match &*$store.inner {
            $crate::Imp::Sqlite(s) => s.write(move |$conn| Box::pin(async move $body)).await,
            $crate::Imp::Postgres(s) => s.write(move |$conn| Box::pin(async move $body)).await,
        }
    };
}

pub(crate) use in_tx;

/// Runs a read-only `$body` on the backend's read pool: on SQLite it never queues behind the writer.
macro_rules! read {
    ($store:expr, |$conn:ident| $body:block) => {
        match &*$store.inner {
            $crate::Imp::Sqlite(s) => s.read(move |$conn| Box::pin(async move $body)).await,
            $crate::Imp::Postgres(s) => s.read(move |$conn| Box::pin(async move $body)).await,
        }
    };
}

mod credentials;
mod enrolment;
mod machines;
mod sessions;
mod throttle;
mod users;

pub use credentials::{NewWebauthnCredential, WebauthnCredential};
pub use enrolment::AcceptError;
pub use machines::{AccessToken, MachineClient, NewAccessToken, NewMachineClient};
pub use sessions::{NewSession, Session};
pub use users::{CreateUserError, NewUser, TotpCredential, User};

/// Typed column access shared by both backends' rows, so each row type is decoded by one function.
pub(crate) trait Cols {
    fn uuid(&self, i: usize) -> Result<Uuid, StoreError>;
    fn opt_uuid(&self, i: usize) -> Result<Option<Uuid>, StoreError>;
    fn text(&self, i: usize) -> Result<String, StoreError>;
    fn opt_text(&self, i: usize) -> Result<Option<String>, StoreError>;
    fn int(&self, i: usize) -> Result<i64, StoreError>;
    fn opt_int(&self, i: usize) -> Result<Option<i64>, StoreError>;
    fn bytes(&self, i: usize) -> Result<Vec<u8>, StoreError>;
    fn opt_bytes(&self, i: usize) -> Result<Option<Vec<u8>>, StoreError>;

    fn time(&self, i: usize) -> Result<OffsetDateTime, StoreError> {
        from_micros(self.int(i)?)
    }

    fn opt_time(&self, i: usize) -> Result<Option<OffsetDateTime>, StoreError> {
        self.opt_int(i)?.map(from_micros).transpose()
    }
}

macro_rules! impl_cols {
    ($row:ty) => {
        impl Cols for $row {
            fn uuid(&self, i: usize) -> Result<Uuid, StoreError> {
                Ok(self.try_get(i)?)
            }
            fn opt_uuid(&self, i: usize) -> Result<Option<Uuid>, StoreError> {
                Ok(self.try_get(i)?)
            }
            fn text(&self, i: usize) -> Result<String, StoreError> {
                Ok(self.try_get(i)?)
            }
            fn opt_text(&self, i: usize) -> Result<Option<String>, StoreError> {
                Ok(self.try_get(i)?)
            }
            fn int(&self, i: usize) -> Result<i64, StoreError> {
                Ok(self.try_get(i)?)
            }
            fn opt_int(&self, i: usize) -> Result<Option<i64>, StoreError> {
                Ok(self.try_get(i)?)
            }
            fn bytes(&self, i: usize) -> Result<Vec<u8>, StoreError> {
                Ok(self.try_get(i)?)
            }
            fn opt_bytes(&self, i: usize) -> Result<Option<Vec<u8>>, StoreError> {
                Ok(self.try_get(i)?)
            }
        }
    };
}

impl_cols!(sqlx::sqlite::SqliteRow);
impl_cols!(sqlx::postgres::PgRow);

/// Where the columns of a record are in a row.
pub(crate) trait Place {
    /// The row's column holding the record's `i`th.
    fn at(&self, i: usize) -> usize;
}

/// From the `n`th column on: the second record of a joined row.
impl Place for usize {
    fn at(&self, i: usize) -> usize {
        self + i
    }
}

/// At the row's columns listed in order (a part of [`crate::sql::parts`]); a column not listed
/// is out of bounds.
impl Place for &[usize] {
    fn at(&self, i: usize) -> usize {
        self.get(i).copied().unwrap_or(usize::MAX)
    }
}

/// A record read from the columns of a row that `P` places it in.
pub(crate) struct Shifted<'r, R, P = usize>(pub &'r R, pub P);

impl<R: Cols, P: Place> Cols for Shifted<'_, R, P> {
    fn uuid(&self, i: usize) -> Result<Uuid, StoreError> {
        self.0.uuid(self.1.at(i))
    }
    fn opt_uuid(&self, i: usize) -> Result<Option<Uuid>, StoreError> {
        self.0.opt_uuid(self.1.at(i))
    }
    fn text(&self, i: usize) -> Result<String, StoreError> {
        self.0.text(self.1.at(i))
    }
    fn opt_text(&self, i: usize) -> Result<Option<String>, StoreError> {
        self.0.opt_text(self.1.at(i))
    }
    fn int(&self, i: usize) -> Result<i64, StoreError> {
        self.0.int(self.1.at(i))
    }
    fn opt_int(&self, i: usize) -> Result<Option<i64>, StoreError> {
        self.0.opt_int(self.1.at(i))
    }
    fn bytes(&self, i: usize) -> Result<Vec<u8>, StoreError> {
        self.0.bytes(self.1.at(i))
    }
    fn opt_bytes(&self, i: usize) -> Result<Option<Vec<u8>>, StoreError> {
        self.0.opt_bytes(self.1.at(i))
    }
}

/// A stored value that does not parse (an unknown role, a digest of the wrong length, …).
pub(crate) fn corrupt(what: &str) -> StoreError {
    StoreError::Other(format!("invalid {what} in database"))
}

/// A count from `COUNT(*)` / `rows_affected` as `u32`, saturating.
pub(crate) fn count_u32(n: i64) -> u32 {
    u32::try_from(n.max(0)).unwrap_or(u32::MAX)
}

/// A step, count, limit or offset as the BIGINT the database stores.
pub(crate) fn to_i64(n: u64) -> Result<i64, StoreError> {
    i64::try_from(n).map_err(|_| StoreError::Other("value out of range".into()))
}

/// `"<set>"` or `"None"`, for `Debug` impls that must not print secrets.
pub(crate) fn redact<T>(v: &Option<T>) -> &'static str {
    if v.is_some() {
        "Some(<redacted>)"
    } else {
        "None"
    }
}

/// `StoreError::Conflict` naming `constraint` the same way on both backends. PostgreSQL reports the
/// constraint (or unique index) name; SQLite only says `UNIQUE constraint failed: table.column`, so
/// `sqlite_columns` (e.g. `"users.email"`) maps that message to the same name.
pub(crate) fn unique_violation(
    e: sqlx::Error,
    names: &[(&'static str, &'static str)],
) -> StoreError {
    if let sqlx::Error::Database(db) = &e
        && matches!(db.kind(), sqlx::error::ErrorKind::UniqueViolation)
    {
        let constraint = db.constraint().unwrap_or("");
        let message = db.message();
        for (name, sqlite_columns) in names {
            if constraint == *name
                || (constraint.is_empty() && message.ends_with(&format!(": {sqlite_columns}")))
            {
                return conflict(name);
            }
        }
    }
    StoreError::from(e)
}

/// The conflict [`unique_violation`] reports for `constraint`.
pub(crate) fn conflict(constraint: &str) -> StoreError {
    StoreError::Conflict(format!("unique constraint {constraint} violated"))
}
