//! The audit trail on SQLite: the single group-committing writer serialises appends, so the chain head
//! read inside the job is the head (no lock needed).

use sqlx::SqliteConnection;

crate::audit::dialect::audit_dialect!(SqliteConnection, None::<&'static str>);
