//! Failed logins, counted per opaque key (`account:<uuid>`, `addr:<ip>`) within a window, for growing
//! delays and temporary locks (AUTH-5). The policy (how many, how long) belongs to the caller.

use time::OffsetDateTime;

use super::{count_u32, to_micros};
use crate::{Store, StoreError};

const INSERT: &str = "INSERT INTO login_failures (throttle_key, at) VALUES ($1, $2)";
const COUNT_SINCE: &str =
    "SELECT COUNT(*) FROM login_failures WHERE throttle_key = $1 AND at >= $2";
const CLEAR: &str = "DELETE FROM login_failures WHERE throttle_key = $1";
const PURGE: &str = "DELETE FROM login_failures WHERE at < $1";

impl Store {
    /// Records one failed login for `key` at `at`.
    pub async fn record_login_failure(
        &self,
        key: &str,
        at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let (key, at) = (key.to_owned(), to_micros(at)?);
        in_tx!(self, |conn| {
            sqlx::query(INSERT)
                .bind(key)
                .bind(at)
                .execute(&mut *conn)
                .await?;
            Ok(())
        })
    }

    /// Failures recorded for `key` at or after `since`.
    pub async fn login_failures_since(
        &self,
        key: &str,
        since: OffsetDateTime,
    ) -> Result<u32, StoreError> {
        let (key, since) = (key.to_owned(), to_micros(since)?);
        read!(self, |conn| {
            let (n,): (i64,) = sqlx::query_as(COUNT_SINCE)
                .bind(key)
                .bind(since)
                .fetch_one(&mut *conn)
                .await?;
            Ok(count_u32(n))
        })
    }

    /// Forgets `key`'s failures (after a successful login).
    pub async fn clear_login_failures(&self, key: &str) -> Result<(), StoreError> {
        let key = key.to_owned();
        in_tx!(self, |conn| {
            sqlx::query(CLEAR).bind(key).execute(&mut *conn).await?;
            Ok(())
        })
    }

    /// Deletes failures older than `at` (housekeeping); returns how many.
    pub async fn purge_login_failures_before(&self, at: OffsetDateTime) -> Result<u64, StoreError> {
        let at = to_micros(at)?;
        in_tx!(self, |conn| {
            let done = sqlx::query(PURGE).bind(at).execute(&mut *conn).await?;
            Ok(done.rows_affected())
        })
    }
}
