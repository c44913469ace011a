//! The store's error types: one per layer (CONVENTIONS 7), "not found" kept apart from "database failed" (8).

/// Why a store call failed. Messages never contain SQL parameters or stored values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The requested row does not exist.
    #[error("not found")]
    NotFound,
    /// The database cannot be reached right now (connection refused, timeout): retry later (HTTP 503).
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// The store has been closed; no more writes are accepted.
    #[error("store closed")]
    Closed,
    /// A uniqueness constraint refused the write.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The database schema cannot be brought to the version this binary expects.
    #[error("migration: {0}")]
    Migration(String),
    /// A permit was used for something it does not allow (a programming error: the access gate).
    #[error("permit misuse: {0}")]
    Permit(String),
    /// Anything else.
    #[error("database error: {0}")]
    Other(String),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        use sqlx::Error as E;
        match e {
            E::RowNotFound => StoreError::NotFound,
            E::PoolClosed => StoreError::Closed,
            E::PoolTimedOut => StoreError::Unavailable("timed out waiting for a connection".into()),
            E::Io(io) => StoreError::Unavailable(format!("i/o error: {}", io.kind())),
            E::Tls(_) => StoreError::Unavailable("TLS error".into()),
            E::WorkerCrashed => StoreError::Unavailable("database worker crashed".into()),
            E::Database(db) => {
                let code = db.code().map(|c| c.into_owned()).unwrap_or_default();
                let constraint = db.constraint().unwrap_or("").to_owned();
                match db.kind() {
                    sqlx::error::ErrorKind::UniqueViolation => {
                        StoreError::Conflict(if constraint.is_empty() {
                            "unique constraint violated".to_owned()
                        } else {
                            format!("unique constraint {constraint} violated")
                        })
                    }
                    // PostgreSQL class 08 (connection exception), 57P01..03 (admin shutdown, crash,
                    // cannot connect now), 53300 (too many connections): the server is there but cannot
                    // serve us now.
                    _ if code.starts_with("08")
                        || matches!(code.as_str(), "57P01" | "57P02" | "57P03" | "53300") =>
                    {
                        StoreError::Unavailable(format!("database refused service (code {code})"))
                    }
                    // Connecting: the server's own words (they name a role or a database, never
                    // stored values) are what an operator needs to fix the URL.
                    _ if code.starts_with("28") || code == "3D000" => {
                        StoreError::Unavailable(format!("{} (code {code})", db.message()))
                    }
                    // SQLite: SQLITE_BUSY (5) / SQLITE_LOCKED (6) after busy_timeout.
                    _ if matches!(code.as_str(), "5" | "6") => {
                        StoreError::Unavailable(format!("database busy (code {code})"))
                    }
                    // The driver's message can quote values (e.g. invalid input syntax), so only the code
                    // and constraint name are kept.
                    _ => StoreError::Other(format!(
                        "database error (code {code}{})",
                        if constraint.is_empty() {
                            String::new()
                        } else {
                            format!(", constraint {constraint}")
                        }
                    )),
                }
            }
            E::ColumnDecode { index, .. } => {
                StoreError::Other(format!("cannot decode column {index}"))
            }
            E::Decode(_) => StoreError::Other("cannot decode a value".into()),
            E::Encode(_) => StoreError::Other("cannot encode a value".into()),
            E::ColumnNotFound(name) => StoreError::Other(format!("column {name} not found")),
            E::Configuration(_) => StoreError::Other("invalid database configuration".into()),
            E::Protocol(_) => StoreError::Unavailable("database protocol error".into()),
            other => StoreError::Other(other.to_string()),
        }
    }
}

/// Why an enrolment token could not be consumed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConsumeError {
    /// No token has this digest.
    #[error("enrolment token not found")]
    NotFound,
    /// The token's expiry has passed.
    #[error("enrolment token expired")]
    Expired,
    /// The token has already been used (single use).
    #[error("enrolment token already used")]
    AlreadyUsed,
    /// The token was revoked (for instance by a newer token of the same purpose).
    #[error("enrolment token revoked")]
    Revoked,
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}
