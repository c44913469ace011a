//! `audit`: durable audit appends through the store (SQLite group commit; PostgreSQL), in this
//! process, against the baseline of raw single-row inserts of a similar width, one durable
//! transaction each, from the same number of concurrent callers on the same backend. No server:
//! the RSS column is empty.

use anyhow::Context;
use galien_core::audit::{AuditAction, AuditActor, AuditEvent, Outcome as AuditOutcome, Source};
use galien_core::ids::{AuditEventId, NodeId};
use galien_core::{Clock, OsEntropy, SystemClock};
use galien_store::testing::TestDatabase;
use galien_store::{Backend, DatabaseUrl, Store, StoreOptions};
use serde_json::json;
use std::time::Duration;

use crate::Args;
use crate::measure::measured;
use crate::report::{Outcome, Row, table};

fn event() -> AuditEvent {
    let at = SystemClock.now();
    AuditEvent {
        id: AuditEventId::generate(at, &OsEntropy),
        at,
        actor: AuditActor::default(),
        action: AuditAction::RecordRead,
        outcome: AuditOutcome::Success,
        resource: None,
        patient: None,
        purpose: Some("bench".into()),
        emergency: false,
        source: Source::default(),
        reason: None,
    }
}

pub(crate) async fn audit(backend: Backend, args: &Args) -> anyhow::Result<Outcome> {
    let dir = tempfile::tempdir()?;
    let db = match backend {
        Backend::Sqlite => TestDatabase::sqlite(dir.path()),
        Backend::Postgres => TestDatabase::postgres().await,
    };
    let dur = Duration::from_secs(args.seconds);
    let store = Store::open(
        db.url(),
        &StoreOptions::default(),
        NodeId::generate(SystemClock.now(), &OsEntropy),
    )
    .await?;
    let label = format!("audit/{}", backend.name());
    let base = match db.url() {
        DatabaseUrl::Sqlite { path } => {
            let opts = sqlx::sqlite::SqliteConnectOptions::new()
                .filename(path.with_file_name("baseline.db"))
                .create_if_missing(true)
                .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
                .synchronous(sqlx::sqlite::SqliteSynchronous::Full)
                .busy_timeout(Duration::from_secs(30));
            let pool = sqlx::sqlite::SqlitePoolOptions::new()
                .max_connections(1)
                .connect_with(opts)
                .await?;
            sqlx::query("CREATE TABLE t (id BLOB PRIMARY KEY, at BIGINT, body BLOB)")
                .execute(&pool)
                .await?;
            measured(
                &format!("{label}: baseline"),
                args.concurrency,
                dur,
                None,
                false,
                move || {
                    let pool = pool.clone();
                    async move {
                        sqlx::query("INSERT INTO t VALUES ($1, $2, $3)")
                            .bind(uuid::Uuid::new_v4())
                            .bind(0_i64)
                            .bind(vec![0u8; 200])
                            .execute(&pool)
                            .await?;
                        Ok(())
                    }
                },
            )
            .await
        }
        DatabaseUrl::Postgres { url } => {
            let pool = sqlx::postgres::PgPoolOptions::new()
                .max_connections(10)
                .connect(url)
                .await?;
            sqlx::query("CREATE TABLE bench_t (id UUID PRIMARY KEY, at BIGINT, body BYTEA)")
                .execute(&pool)
                .await?;
            measured(
                &format!("{label}: baseline"),
                args.concurrency,
                dur,
                None,
                true,
                move || {
                    let pool = pool.clone();
                    async move {
                        sqlx::query("INSERT INTO bench_t VALUES ($1, $2, $3)")
                            .bind(uuid::Uuid::new_v4())
                            .bind(0_i64)
                            .bind(vec![0u8; 200])
                            .execute(&pool)
                            .await?;
                        Ok(())
                    }
                },
            )
            .await
        }
    };
    let before = store.stats();
    let raw = store.clone();
    let galien = measured(
        &format!("{label}: galien"),
        args.concurrency,
        dur,
        None,
        matches!(backend, Backend::Postgres),
        move || {
            let store = raw.clone();
            async move {
                store.append_audit(&event()).await.context("append")?;
                Ok(())
            }
        },
    )
    .await;
    let after = store.stats();
    let per_commit = {
        let writes = after.writes_committed - before.writes_committed;
        let batches = (after.write_batches - before.write_batches).max(1);
        Some(writes as f64 / batches as f64)
    };
    let mut g = Row::of(
        "galien: append_audit (hash-chained)",
        &galien,
        1.0,
        "rec/s",
        None,
    );
    if let Some(n) = per_commit {
        g.note = format!("{n:.1} appends per commit (group commit)");
    }
    table(
        &format!(
            "audit — durable appends, {} concurrent callers, {} (in this process)",
            args.concurrency,
            backend.name()
        ),
        &[
            Row::of(
                "baseline: raw one-row durable inserts",
                &base,
                1.0,
                "rec/s",
                None,
            ),
            g,
        ],
    );
    store.close().await;
    db.drop_database().await;
    let mut extra = serde_json::Map::new();
    extra.insert("baseline_p50_ms".into(), crate::report::ms_json(base.p50));
    extra.insert("baseline_p99_ms".into(), crate::report::ms_json(base.p99));
    extra.insert("appends_per_commit".into(), json!(per_commit));
    galien.cpu.json_into("", &mut extra);
    base.cpu.json_into("baseline_", &mut extra);
    Ok(Outcome {
        scenario: "audit",
        backend: backend.name(),
        rate: galien.rate(),
        unit: "rec/s",
        baseline: base.rate(),
        p50: Some(galien.p50),
        p99: Some(galien.p99),
        errors: galien.errors,
        rss_kib: None,
        extra,
        qualifier: None,
    })
}
