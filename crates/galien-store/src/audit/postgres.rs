//! The audit trail on PostgreSQL: several nodes append to one database, so the chain head is read and
//! extended under a transaction-scoped advisory lock; two nodes can never fork the chain (and the
//! primary key on `seq` would refuse a fork anyway).

use sqlx::PgConnection;

/// "galienau": the audit chain's advisory lock key.
const CHAIN_LOCK: &str = "SELECT pg_advisory_xact_lock(7449354458576609653)";

crate::audit::dialect::audit_dialect!(PgConnection, Some(CHAIN_LOCK));
