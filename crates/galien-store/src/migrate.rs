//! A small forward-only migration runner (CONVENTIONS 14): versioned SQL files embedded in the binary,
//! recorded in `galien_migrations(version, name, checksum, applied_at)`.

use sha2::{Digest, Sha256};
use sqlx::{Connection, PgConnection, SqliteConnection};

use crate::StoreError;

/// One embedded migration.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub sql: &'static str,
}

impl Migration {
    /// SHA-256 of the SQL text, hex.
    pub fn checksum(&self) -> String {
        hex::encode(Sha256::digest(self.sql.as_bytes()))
    }
}

pub(crate) const SQLITE: &[Migration] = &[
    Migration {
        version: 1,
        name: "init",
        sql: include_str!("../migrations/sqlite/0001_init.sql"),
    },
    Migration {
        version: 2,
        name: "identity",
        sql: include_str!("../migrations/sqlite/0002_identity.sql"),
    },
    Migration {
        version: 3,
        name: "audit",
        sql: include_str!("../migrations/sqlite/0003_audit.sql"),
    },
    Migration {
        version: 4,
        name: "patients",
        sql: include_str!("../migrations/sqlite/0004_patients.sql"),
    },
    Migration {
        version: 5,
        name: "audit_purge",
        sql: include_str!("../migrations/sqlite/0005_audit_purge.sql"),
    },
    Migration {
        version: 6,
        name: "incidents",
        sql: include_str!("../migrations/sqlite/0006_incidents.sql"),
    },
    Migration {
        version: 7,
        name: "telemonitoring",
        sql: include_str!("../migrations/sqlite/0007_telemonitoring.sql"),
    },
    Migration {
        version: 8,
        name: "teleconsultation",
        sql: include_str!("../migrations/sqlite/0008_teleconsultation.sql"),
    },
    Migration {
        version: 9,
        name: "audit_rowid",
        sql: include_str!("../migrations/sqlite/0009_audit_rowid.sql"),
    },
    Migration {
        version: 10,
        name: "summary_order_indexes",
        sql: include_str!("../migrations/sqlite/0010_summary_order_indexes.sql"),
    },
];

pub(crate) const POSTGRES: &[Migration] = &[
    Migration {
        version: 1,
        name: "init",
        sql: include_str!("../migrations/postgres/0001_init.sql"),
    },
    Migration {
        version: 2,
        name: "identity",
        sql: include_str!("../migrations/postgres/0002_identity.sql"),
    },
    Migration {
        version: 3,
        name: "audit",
        sql: include_str!("../migrations/postgres/0003_audit.sql"),
    },
    Migration {
        version: 4,
        name: "patients",
        sql: include_str!("../migrations/postgres/0004_patients.sql"),
    },
    Migration {
        version: 5,
        name: "audit_purge",
        sql: include_str!("../migrations/postgres/0005_audit_purge.sql"),
    },
    Migration {
        version: 6,
        name: "incidents",
        sql: include_str!("../migrations/postgres/0006_incidents.sql"),
    },
    Migration {
        version: 7,
        name: "telemonitoring",
        sql: include_str!("../migrations/postgres/0007_telemonitoring.sql"),
    },
    Migration {
        version: 8,
        name: "teleconsultation",
        sql: include_str!("../migrations/postgres/0008_teleconsultation.sql"),
    },
    Migration {
        version: 9,
        name: "audit_rowid",
        sql: include_str!("../migrations/postgres/0009_audit_rowid.sql"),
    },
    Migration {
        version: 10,
        name: "summary_order_indexes",
        sql: include_str!("../migrations/postgres/0010_summary_order_indexes.sql"),
    },
];

/// Arbitrary constant key for `pg_advisory_lock`: "galien migrations".
const PG_MIGRATION_LOCK: i64 = 0x6761_6c69_656e_6d67;

const INSERT_APPLIED: &str =
    "INSERT INTO galien_migrations (version, name, checksum) VALUES ($1, $2, $3)";
const SELECT_APPLIED: &str = "SELECT version, checksum FROM galien_migrations ORDER BY version";

/// Checks what is applied against what this binary knows and returns the migrations still to apply.
pub(crate) fn plan<'m>(
    known: &'m [Migration],
    applied: &[(i64, String)],
) -> Result<Vec<&'m Migration>, StoreError> {
    for (version, checksum) in applied {
        match known.iter().find(|m| m.version == *version) {
            None => {
                return Err(StoreError::Migration(format!(
                    "the database has migration {version}, which this binary does not know: it was migrated by a \
                     newer Galien; run that version (or newer) instead"
                )));
            }
            Some(m) if m.checksum() != *checksum => {
                return Err(StoreError::Migration(format!(
                    "migration {version} ({}) applied to this database differs from the one embedded in this \
                     binary (checksum mismatch); refusing to start",
                    m.name
                )));
            }
            Some(_) => {}
        }
    }
    Ok(known
        .iter()
        .filter(|m| !applied.iter().any(|(v, _)| *v == m.version))
        .collect())
}

fn wrap(stage: &'static str) -> impl Fn(sqlx::Error) -> StoreError {
    move |e| match StoreError::from(e) {
        StoreError::Unavailable(m) => StoreError::Unavailable(m),
        other => StoreError::Migration(format!("{stage}: {other}")),
    }
}

/// Applies pending SQLite migrations on `conn` (the writer connection, before the writer starts).
pub(crate) async fn run_sqlite(conn: &mut SqliteConnection) -> Result<(), StoreError> {
    run_sqlite_through(conn, i64::MAX).await
}

/// Applies pending SQLite migrations up to `last` included (all of them in service; fewer in the
/// tests of a migration, to write what it will find).
async fn run_sqlite_through(conn: &mut SqliteConnection, last: i64) -> Result<(), StoreError> {
    sqlx::raw_sql(
        "CREATE TABLE IF NOT EXISTS galien_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, \
         checksum TEXT NOT NULL, applied_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP)",
    )
    .execute(&mut *conn)
    .await
    .map_err(wrap("creating galien_migrations"))?;
    let applied: Vec<(i64, String)> = sqlx::query_as(SELECT_APPLIED)
        .fetch_all(&mut *conn)
        .await
        .map_err(wrap("reading galien_migrations"))?;
    for m in plan(SQLITE, &applied)?
        .into_iter()
        .filter(|m| m.version <= last)
    {
        let mut tx = conn
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(wrap("beginning a migration"))?;
        apply_sqlite(&mut tx, m).await?;
        tx.commit().await.map_err(wrap("committing a migration"))?;
        tracing::info!(
            version = m.version,
            name = m.name,
            "applied SQLite migration"
        );
    }
    Ok(())
}

async fn apply_sqlite(conn: &mut SqliteConnection, m: &Migration) -> Result<(), StoreError> {
    sqlx::raw_sql(m.sql)
        .execute(&mut *conn)
        .await
        .map_err(wrap("applying a migration"))?;
    sqlx::query(INSERT_APPLIED)
        .bind(m.version)
        .bind(m.name)
        .bind(m.checksum())
        .execute(&mut *conn)
        .await
        .map_err(wrap("recording a migration"))?;
    Ok(())
}

/// Applies pending PostgreSQL migrations under `pg_advisory_lock`, so that nodes starting together on one
/// database do not race. `conn` is a dedicated connection, closed by the caller afterwards (so the
/// session lock can never leak into a pool).
pub(crate) async fn run_postgres(conn: &mut PgConnection) -> Result<(), StoreError> {
    sqlx::query("SELECT pg_advisory_lock($1)")
        .bind(PG_MIGRATION_LOCK)
        .execute(&mut *conn)
        .await
        .map_err(wrap("taking the migration lock"))?;
    let result = run_postgres_locked(conn).await;
    let unlock = sqlx::query("SELECT pg_advisory_unlock($1)")
        .bind(PG_MIGRATION_LOCK)
        .execute(&mut *conn)
        .await
        .map_err(wrap("releasing the migration lock"));
    result.and(unlock.map(|_| ()))
}

async fn run_postgres_locked(conn: &mut PgConnection) -> Result<(), StoreError> {
    sqlx::raw_sql(
        "CREATE TABLE IF NOT EXISTS galien_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, \
         checksum TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())",
    )
    .execute(&mut *conn)
    .await
    .map_err(wrap("creating galien_migrations"))?;
    let applied: Vec<(i64, String)> = sqlx::query_as(SELECT_APPLIED)
        .fetch_all(&mut *conn)
        .await
        .map_err(wrap("reading galien_migrations"))?;
    for m in plan(POSTGRES, &applied)? {
        let mut tx = conn.begin().await.map_err(wrap("beginning a migration"))?;
        sqlx::raw_sql(m.sql)
            .execute(&mut *tx)
            .await
            .map_err(wrap("applying a migration"))?;
        sqlx::query(INSERT_APPLIED)
            .bind(m.version)
            .bind(m.name)
            .bind(m.checksum())
            .execute(&mut *tx)
            .await
            .map_err(wrap("recording a migration"))?;
        tx.commit().await.map_err(wrap("committing a migration"))?;
        tracing::info!(
            version = m.version,
            name = m.name,
            "applied PostgreSQL migration"
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_unique_and_increasing() {
        for set in [SQLITE, POSTGRES] {
            assert!(set.windows(2).all(|w| w[0].version < w[1].version));
            assert_eq!(set[0].version, 1);
        }
        assert_eq!(SQLITE.len(), POSTGRES.len());
    }

    /// A trail written before 0009 keeps every record, in order and byte for byte, its seq
    /// becomes the rowid (no index of its own), and the table stays append-only (TRACE-2) with
    /// the purge exception of 0005 (TRACE-7).
    #[tokio::test]
    async fn trace2_0009_keys_the_trail_by_rowid_and_keeps_it_whole_and_append_only() {
        use sqlx::Row;
        let mut conn = SqliteConnection::connect("sqlite::memory:").await.unwrap();
        run_sqlite_through(&mut conn, 8).await.unwrap();
        let insert = "INSERT INTO audit_events (seq, id, at, actor_user, action, outcome, \
                      patient, canonical, prev_hash, hash) VALUES ($1, $2, $3, NULL, 'a', 's', NULL, $4, $5, $6)";
        for seq in 1..=5_i64 {
            sqlx::query(insert)
                .bind(seq)
                .bind(vec![u8::try_from(seq).unwrap(); 16])
                .bind(seq * 10)
                .bind(vec![7_u8; usize::try_from(seq).unwrap()])
                .bind(vec![1_u8; 32])
                .bind(vec![2_u8; 32])
                .execute(&mut conn)
                .await
                .unwrap();
        }
        let all = "SELECT seq, id, at, canonical FROM audit_events ORDER BY seq";
        let rows = |rows: Vec<sqlx::sqlite::SqliteRow>| {
            rows.iter()
                .map(|r| {
                    (
                        r.get::<i64, _>(0),
                        r.get::<Vec<u8>, _>(1),
                        r.get::<i64, _>(2),
                        r.get::<Vec<u8>, _>(3),
                    )
                })
                .collect::<Vec<_>>()
        };
        let kept = rows(sqlx::query(all).fetch_all(&mut conn).await.unwrap());
        let seq_index = "SELECT COUNT(*) FROM pragma_index_list('audit_events') i \
                         JOIN pragma_index_info(i.name) c WHERE c.name = 'seq'";
        let count = |sql: &'static str| sqlx::query_scalar::<_, i64>(sql);
        assert_eq!(count(seq_index).fetch_one(&mut conn).await.unwrap(), 1);

        run_sqlite(&mut conn).await.unwrap();
        assert_eq!(
            rows(sqlx::query(all).fetch_all(&mut conn).await.unwrap()),
            kept
        );
        assert_eq!(count(seq_index).fetch_one(&mut conn).await.unwrap(), 0);
        let rowid_is_seq = "SELECT COUNT(*) FROM audit_events WHERE rowid = seq";
        assert_eq!(count(rowid_is_seq).fetch_one(&mut conn).await.unwrap(), 5);
        let indexes = "SELECT COUNT(*) FROM pragma_index_list('audit_events')";
        assert_eq!(
            count(indexes).fetch_one(&mut conn).await.unwrap(),
            5,
            "id's unique index and the four search indexes"
        );
        for refused in [
            "UPDATE audit_events SET at = 0 WHERE seq = 5",
            "DELETE FROM audit_events WHERE seq = 1",
        ] {
            let e = sqlx::query(refused).execute(&mut conn).await.unwrap_err();
            assert!(e.to_string().contains("append-only"), "{refused}: {e}");
        }
        sqlx::query(
            "INSERT INTO audit_purges (through, removed, last_hash, cutoff, at, signature, key_id) \
             VALUES (2, 2, x'00', 0, 0, x'00', 'k')",
        )
        .execute(&mut conn)
        .await
        .unwrap();
        sqlx::query("DELETE FROM audit_events WHERE seq <= 2")
            .execute(&mut conn)
            .await
            .unwrap();
        assert!(
            sqlx::query("DELETE FROM audit_events WHERE seq = 3")
                .execute(&mut conn)
                .await
                .is_err(),
            "above the purge marker, still refused"
        );
        let dup = sqlx::query(insert)
            .bind(6_i64)
            .bind(vec![5_u8; 16])
            .bind(60_i64)
            .bind(vec![7_u8])
            .bind(vec![1_u8; 32])
            .bind(vec![2_u8; 32])
            .execute(&mut conn)
            .await;
        assert!(dup.is_err(), "record ids stay unique");
    }

    #[test]
    fn plan_refuses_unknown_and_tampered() {
        let applied_ok: Vec<(i64, String)> =
            SQLITE.iter().map(|m| (m.version, m.checksum())).collect();
        assert!(plan(SQLITE, &applied_ok).unwrap().is_empty());
        assert_eq!(
            plan(SQLITE, &applied_ok[..1]).unwrap().len(),
            SQLITE.len() - 1,
            "pending migrations are planned"
        );
        assert_eq!(plan(SQLITE, &[]).unwrap().len(), SQLITE.len());
        let newer = vec![(1, SQLITE[0].checksum()), (9999, "x".into())];
        assert!(
            matches!(plan(SQLITE, &newer), Err(StoreError::Migration(m)) if m.contains("newer Galien"))
        );
        let tampered = vec![(1, "0".repeat(64))];
        assert!(
            matches!(plan(SQLITE, &tampered), Err(StoreError::Migration(m)) if m.contains("checksum"))
        );
    }
}
