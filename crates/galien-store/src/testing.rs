//! Test databases for this crate's and other crates' tests (no feature gate). PostgreSQL is never skipped
//! silently: if the server cannot be reached, the test fails and says how to start it.
#![allow(clippy::panic, clippy::expect_used)] // test helpers: failing loudly is the point

use std::path::Path;
use std::str::FromStr;

use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection};

use crate::{Backend, DatabaseUrl, StoreError};

const DEFAULT_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";
const HOW_TO_START: &str = "start it with: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start \
                            (or point GALIEN_TEST_POSTGRES_URL at a server where the user may CREATE DATABASE)";

/// A fresh database for one test.
#[derive(Debug)]
pub struct TestDatabase {
    url: DatabaseUrl,
    /// PostgreSQL: (admin URL, database name) to drop at the end.
    postgres: Option<(String, String)>,
}

pub(crate) fn admin_url() -> String {
    std::env::var("GALIEN_TEST_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_ADMIN_URL.to_owned())
}

async fn admin_execute(admin: &str, sql: String) -> Result<(), sqlx::Error> {
    let opts = PgConnectOptions::from_str(admin)?;
    let mut conn = opts.connect().await?;
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
        .execute(&mut conn)
        .await?;
    conn.close().await
}

impl TestDatabase {
    /// An SQLite database file in `dir` (`<dir>/galien.db`).
    pub fn sqlite(dir: &Path) -> TestDatabase {
        TestDatabase {
            url: DatabaseUrl::sqlite_in(dir),
            postgres: None,
        }
    }

    /// `CREATE DATABASE galien_test_<random hex>` on `GALIEN_TEST_POSTGRES_URL` (default
    /// `postgres://postgres@127.0.0.1:5432/postgres`). Panics, saying how to start PostgreSQL, if the
    /// server cannot be reached.
    pub async fn postgres() -> TestDatabase {
        let admin = admin_url();
        let name = format!("galien_test_{}", uuid::Uuid::new_v4().simple());
        if let Err(e) = admin_execute(&admin, format!("CREATE DATABASE {name}")).await {
            let shown = DatabaseUrl::parse(&admin)
                .map(|u| u.redacted())
                .unwrap_or_else(|_| "(invalid URL)".into());
            panic!("cannot create a test database on PostgreSQL at {shown}: {e}; {HOW_TO_START}");
        }
        let url = crate::url::postgres_with_database(&admin, &name);
        TestDatabase {
            url: DatabaseUrl::Postgres { url },
            postgres: Some((admin, name)),
        }
    }

    /// A fresh database of the given backend; SQLite files go in `dir`.
    pub async fn new(backend: Backend, dir: &Path) -> TestDatabase {
        match backend {
            Backend::Sqlite => TestDatabase::sqlite(dir),
            Backend::Postgres => TestDatabase::postgres().await,
        }
    }

    /// Where the database is.
    pub fn url(&self) -> &DatabaseUrl {
        &self.url
    }

    /// Runs raw SQL on the database, outside any `Store` (to tamper with it in tests).
    pub async fn execute_raw(&self, sql: &str) -> Result<(), StoreError> {
        let sql = sqlx::AssertSqlSafe(sql.to_owned());
        match &self.url {
            DatabaseUrl::Sqlite { path } => {
                let mut conn = sqlx::sqlite::SqliteConnectOptions::new()
                    .filename(path)
                    .connect()
                    .await?;
                sqlx::raw_sql(sql).execute(&mut conn).await?;
                conn.close().await?;
            }
            DatabaseUrl::Postgres { url } => {
                let opts = PgConnectOptions::from_str(url)?;
                let mut conn = opts.connect().await?;
                sqlx::raw_sql(sql).execute(&mut conn).await?;
                conn.close().await?;
            }
        }
        Ok(())
    }

    /// `DROP DATABASE … WITH (FORCE)` for PostgreSQL; nothing for SQLite (the caller's directory goes).
    pub async fn drop_database(self) {
        if let Some((admin, name)) = self.postgres
            && let Err(e) = admin_execute(
                &admin,
                format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
            )
            .await
        {
            tracing::warn!(database = %name, error = %StoreError::from(e), "cannot drop test database");
        }
    }
}

/// Both backends, always: PostgreSQL is never skipped silently.
pub fn backends_under_test() -> Vec<Backend> {
    vec![Backend::Sqlite, Backend::Postgres]
}
