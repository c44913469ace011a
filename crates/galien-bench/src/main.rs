//! `galien-bench`: measures Galien's hot paths, each beside a baseline measured in the same run on
//! the same machine, so the ratio means something on a noisy 2-core box. Nothing here is asserted:
//! figures are printed for people (and closing notes).
//!
//! Scenarios:
//! - `audit`: durable audit appends through the store (SQLite group commit; PostgreSQL) against
//!   the baseline of raw single-row inserts, one fsync'd transaction each, on the same backend.
//! - `http`: `GET /healthz` on a full Galien node (every middleware: request id, metrics, headers)
//!   against a bare axum handler on the same loopback, same client, same concurrency.
//! - `read`: a médecin's patient summary over HTTP (session, gate, durable traces, decryption)
//!   against a bare endpoint returning the same bytes (see `read.rs`).
//! - `ingest`: FHIR Bundles of 100 Observations from several devices to a full node, against raw
//!   batched SQLite inserts of the same rows with the same durability (see `ingest.rs`).

#![allow(clippy::print_stdout)]

mod ingest;
mod read;

use anyhow::Context;
use clap::Parser;
use galien_core::audit::{AuditAction, AuditActor, AuditEvent, Outcome, Source};
use galien_core::ids::{AuditEventId, NodeId};
use galien_core::{Clock, OsEntropy, SystemClock};
use galien_store::testing::TestDatabase;
use galien_store::{Backend, Store, StoreOptions};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

#[derive(Debug, Parser)]
#[command(
    name = "galien-bench",
    about = "Galien hot paths against same-run baselines"
)]
pub(crate) struct Args {
    /// Seconds per measurement.
    #[arg(long, default_value_t = 3)]
    pub(crate) seconds: u64,
    /// Concurrent workers.
    #[arg(long, default_value_t = 32)]
    pub(crate) concurrency: usize,
    /// Devices posting in parallel (`ingest`).
    #[arg(long, default_value_t = 8)]
    pub(crate) devices: usize,
    /// `audit`, `http`, `read`, `ingest` or `all`.
    #[arg(long, default_value = "all")]
    scenario: String,
    /// Also run the audit scenario on PostgreSQL (GALIEN_TEST_POSTGRES_URL or the local server).
    #[arg(long)]
    postgres: bool,
}

/// Runs `op` from `workers` tasks for `dur`; returns operations per second.
pub(crate) async fn rate<F, Fut>(workers: usize, dur: Duration, op: F) -> f64
where
    F: Fn() -> Fut + Send + Sync + Clone + 'static,
    Fut: std::future::Future<Output = anyhow::Result<()>> + Send,
{
    let done = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let deadline = start + dur;
    let mut tasks = Vec::new();
    for _ in 0..workers {
        let op = op.clone();
        let done = done.clone();
        tasks.push(tokio::spawn(async move {
            while Instant::now() < deadline {
                if op().await.is_ok() {
                    done.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    done.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64()
}

fn event() -> AuditEvent {
    let at = SystemClock.now();
    AuditEvent {
        id: AuditEventId::generate(at, &OsEntropy),
        at,
        actor: AuditActor::default(),
        action: AuditAction::RecordRead,
        outcome: Outcome::Success,
        resource: None,
        patient: None,
        purpose: Some("bench".into()),
        emergency: false,
        source: Source::default(),
        reason: None,
    }
}

pub(crate) fn line(name: &str, baseline: f64, galien: f64, unit: &str) {
    println!(
        "{name:<44} baseline {baseline:>10.0} {unit}   galien {galien:>10.0} {unit}   ratio {:>6.2}",
        galien / baseline.max(1e-9)
    );
}

async fn audit(backend: Backend, args: &Args) -> anyhow::Result<()> {
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
    // Baseline: the same durability without grouping — one committed transaction per row, from
    // the same number of concurrent callers, into a plain table of similar width.
    let raw = store.clone();
    let base = match backend {
        Backend::Sqlite => {
            let url = match db.url() {
                galien_store::DatabaseUrl::Sqlite { path } => path.clone(),
                galien_store::DatabaseUrl::Postgres { .. } => anyhow::bail!("unexpected"),
            };
            let bench_path = url.with_file_name("baseline.db");
            let opts = sqlx::sqlite::SqliteConnectOptions::new()
                .filename(&bench_path)
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
            rate(args.concurrency, dur, move || {
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
            })
            .await
        }
        Backend::Postgres => {
            let url = match db.url() {
                galien_store::DatabaseUrl::Postgres { url } => url.clone(),
                galien_store::DatabaseUrl::Sqlite { .. } => anyhow::bail!("unexpected"),
            };
            let pool = sqlx::postgres::PgPoolOptions::new()
                .max_connections(10)
                .connect(&url)
                .await?;
            sqlx::query("CREATE TABLE bench_t (id UUID PRIMARY KEY, at BIGINT, body BYTEA)")
                .execute(&pool)
                .await?;
            rate(args.concurrency, dur, move || {
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
            })
            .await
        }
    };
    let before = raw.stats();
    let galien = rate(args.concurrency, dur, move || {
        let store = raw.clone();
        async move {
            store.append_audit(&event()).await.context("append")?;
            Ok(())
        }
    })
    .await;
    let after = store.stats();
    line(
        &format!("audit append, durable ({})", backend.name()),
        base,
        galien,
        "rec/s",
    );
    if backend == Backend::Sqlite {
        let writes = after.writes_committed - before.writes_committed;
        let batches = (after.write_batches - before.write_batches).max(1);
        println!(
            "{:<44} {:.1} writes per commit on average",
            "  group commit",
            writes as f64 / batches as f64
        );
    }
    store.close().await;
    db.drop_database().await;
    Ok(())
}

async fn http(args: &Args) -> anyhow::Result<()> {
    let dur = Duration::from_secs(args.seconds);
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.concurrency)
        .build()?;
    // Baseline: a bare axum handler on loopback.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let bare = axum::Router::new().route("/healthz", axum::routing::get(|| async { "ok" }));
    let server = tokio::spawn(async move { axum::serve(listener, bare).await });
    let url = format!("http://{addr}/healthz");
    let c = client.clone();
    let base = rate(args.concurrency, dur, move || {
        let c = c.clone();
        let url = url.clone();
        async move {
            c.get(url).send().await?.error_for_status()?;
            Ok(())
        }
    })
    .await;
    server.abort();
    let node = galien_testkit::TestServer::start(Backend::Sqlite).await;
    let url = node.url("/healthz");
    let c = client.clone();
    let galien = rate(args.concurrency, dur, move || {
        let c = c.clone();
        let url = url.clone();
        async move {
            c.get(url).send().await?.error_for_status()?;
            Ok(())
        }
    })
    .await;
    line(
        "GET /healthz (full middleware stack)",
        base,
        galien,
        "req/s",
    );
    node.stop().await;
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let _ = rustls::crypto::ring::default_provider().install_default();
    println!(
        "galien-bench: {} s per measurement, {} concurrent workers, {} cores",
        args.seconds,
        args.concurrency,
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    );
    if matches!(args.scenario.as_str(), "audit" | "all") {
        audit(Backend::Sqlite, &args).await?;
        if args.postgres {
            audit(Backend::Postgres, &args).await?;
        }
    }
    if matches!(args.scenario.as_str(), "http" | "all") {
        http(&args).await?;
    }
    if matches!(args.scenario.as_str(), "read" | "all") {
        read::read(&args).await?;
    }
    if matches!(args.scenario.as_str(), "ingest" | "all") {
        ingest::ingest(&args).await?;
    }
    Ok(())
}
