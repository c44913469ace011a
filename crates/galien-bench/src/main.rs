//! `galien-bench`: measures Galien's hot paths, each beside a baseline measured in the same run on
//! the same machine, so the ratio means something on a noisy 2-core box. Nothing here is asserted:
//! figures are printed for people (and closing notes), and written as JSON with `--json`.
//!
//! Scenarios (each prints a table — rate, p50, p99, errors, server RSS, CPU time per operation of
//! the server process and of the load generator (`cpu.rs`) — then one line
//! `<scenario>: <rate> <unit>, baseline <rate> <unit>, ratio <r>`):
//! - `audit`: durable audit appends through the store (SQLite group commit; PostgreSQL) against
//!   the baseline of raw single-row inserts, one durable transaction each, on the same backend.
//! - `http`: `GET /healthz` on a full Galien node (every middleware: request id, metrics, headers)
//!   against a bare axum handler on the same loopback, same client, same concurrency.
//! - `read`: a médecin's patient summary over HTTP (session, gate, durable traces, decryption)
//!   against a bare endpoint returning the same bytes (see `read.rs`).
//! - `ingest`: FHIR Bundles of 100 Observations from several devices to a full node, against raw
//!   batched inserts of the same rows with the same durability (see `ingest.rs`).
//! - `signaling`: WebSocket pairs relaying call signaling at 1,000 and 10,000 connections, against
//!   a bare relay; latency and memory per connection (see `signaling.rs`).
//!
//! After the scenarios come the goals of README Performance, each said met or not (`goals.rs`);
//! `--compare earlier.json` sets every record beside an earlier run's, and `--from run.json` does
//! both for a stored run without measuring anything.
//!
//! Servers run in their own processes: the `galien` release binary, and this binary re-executed
//! as a baseline server (`node.rs`, `baseline.rs`). `--backend postgres` runs the same scenarios on
//! PostgreSQL.

#![allow(clippy::print_stdout, clippy::print_stderr)]

/// A line of the report on stdout. When whoever reads it has gone (`galien-bench … | head`), the
/// rest of the report is dropped rather than the run stopped: the servers it started are still
/// stopped and `--json` still written.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout().lock(), $($arg)*);
    }};
}

mod audit;
mod baseline;
mod cpu;
mod goals;
mod http;
mod ingest;
mod measure;
mod node;
mod read;
mod report;
mod signaling;
mod wsclient;

use anyhow::Context;
use clap::Parser;
use galien_store::Backend;
use serde_json::json;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum BackendArg {
    Sqlite,
    Postgres,
}

#[derive(Debug, Parser)]
#[command(
    name = "galien-bench",
    about = "Galien hot paths against same-run baselines"
)]
pub(crate) struct Args {
    /// Seconds per measurement.
    #[arg(long, default_value_t = 3)]
    pub(crate) seconds: u64,
    /// Concurrent workers (HTTP clients; pairs relaying back to back in `signaling`).
    #[arg(long, default_value_t = 32)]
    pub(crate) concurrency: usize,
    /// Devices posting in parallel (`ingest`).
    #[arg(long, default_value_t = 8)]
    pub(crate) devices: usize,
    /// Scenarios, separated by commas: `audit`, `http`, `read`, `ingest`, `signaling` or `all`.
    #[arg(long, default_value = "all", value_delimiter = ',')]
    scenario: Vec<String>,
    /// Backends, separated by commas: `sqlite`, `postgres` (GALIEN_TEST_POSTGRES_URL or the
    /// local server; a fresh database each run).
    #[arg(long, default_value = "sqlite", value_delimiter = ',')]
    backend: Vec<BackendArg>,
    /// Alias kept from earlier versions: adds `postgres` to `--backend`.
    #[arg(long)]
    postgres: bool,
    /// Open WebSocket connections for `signaling`, separated by commas (two per call).
    #[arg(long, default_value = "1000,10000", value_delimiter = ',')]
    pub(crate) connections: Vec<usize>,
    /// `signaling`: each pair's period between two exchanges in the paced phase (ms).
    #[arg(long, default_value_t = 1000)]
    pub(crate) pace_ms: u64,
    /// Also write the results to this file as JSON (to compare runs over time).
    #[arg(long)]
    json: Option<PathBuf>,
    /// Set each result beside the same scenario's in this earlier `--json` file.
    #[arg(long, value_name = "EARLIER_JSON")]
    compare: Option<PathBuf>,
    /// Measure nothing: print the goals (and `--compare`) of this stored `--json` file.
    #[arg(long, value_name = "RUN_JSON", conflicts_with = "json")]
    from: Option<PathBuf>,
    /// Internal: serve a baseline (`healthz`, `bytes`, `relay`) until killed.
    #[arg(long, hide = true)]
    serve_baseline: Option<String>,
    /// Internal: the bytes served by the `bytes` baseline.
    #[arg(long, hide = true)]
    body: Option<PathBuf>,
}

const ALL: [&str; 5] = ["audit", "http", "read", "ingest", "signaling"];

async fn run(
    scenario: &str,
    backend: Backend,
    args: &Args,
) -> anyhow::Result<Vec<report::Outcome>> {
    Ok(match scenario {
        "audit" => vec![audit::audit(backend, args).await?],
        "http" => vec![http::http(backend, args).await?],
        "read" => vec![read::read(backend, args).await?],
        "ingest" => vec![ingest::ingest(backend, args).await?],
        "signaling" => {
            let mut out = Vec::new();
            for &n in &args.connections {
                match signaling::signaling(args, backend, n).await {
                    Ok(o) => {
                        o.print_line();
                        out.push(o);
                    }
                    Err(e) => eprintln!("galien-bench: signaling at {n} connections: {e:#}"),
                }
            }
            return Ok(out);
        }
        other => anyhow::bail!("unknown scenario {other}; choose among {}", ALL.join(", ")),
    })
}

#[tokio::main]
async fn main() -> anyhow::Result<ExitCode> {
    let args = Args::parse();
    if let Some(kind) = &args.serve_baseline {
        baseline::serve(kind, args.body.as_deref()).await?;
        return Ok(ExitCode::SUCCESS);
    }
    let earlier = match &args.compare {
        Some(path) => Some(read_records(path)?),
        None => None,
    };
    if let Some(path) = &args.from {
        let records = read_records(path)?;
        goals::print_goals(&records);
        if let (Some(then), Some(source)) = (&earlier, &args.compare) {
            goals::print_comparison(&records, then, &source.display().to_string());
        }
        return Ok(ExitCode::SUCCESS);
    }
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut backends = Vec::new();
    for b in args
        .backend
        .iter()
        .copied()
        .chain(args.postgres.then_some(BackendArg::Postgres))
    {
        let b = match b {
            BackendArg::Sqlite => Backend::Sqlite,
            BackendArg::Postgres => Backend::Postgres,
        };
        if !backends.contains(&b) {
            backends.push(b);
        }
    }
    let scenarios: Vec<&str> = if args.scenario.iter().any(|s| s == "all") {
        ALL.to_vec()
    } else {
        args.scenario.iter().map(String::as_str).collect()
    };
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    say!(
        "galien-bench: {} s per measurement, {} concurrent workers, {cores} cores, backends: {}",
        args.seconds,
        args.concurrency,
        backends
            .iter()
            .map(|b| b.name())
            .collect::<Vec<_>>()
            .join(", ")
    );
    let mut outcomes = Vec::new();
    let mut failed = false;
    for scenario in &scenarios {
        for &backend in &backends {
            match run(scenario, backend, &args).await {
                Ok(found) => {
                    if *scenario != "signaling" {
                        for o in &found {
                            o.print_line();
                        }
                    }
                    failed |= found.is_empty();
                    outcomes.extend(found);
                }
                Err(e) => {
                    failed = true;
                    eprintln!("galien-bench: {scenario} on {}: {e:#}", backend.name());
                }
            }
        }
    }
    let records: Vec<_> = outcomes.iter().map(report::Outcome::json).collect();
    goals::print_goals(&records);
    if let (Some(then), Some(source)) = (&earlier, &args.compare) {
        goals::print_comparison(&records, then, &source.display().to_string());
    }
    if let Some(path) = &args.json {
        let doc = json!({
            "tool": "galien-bench",
            "at": galien_core::Clock::now(&galien_core::SystemClock)
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default(),
            "version": env!("CARGO_PKG_VERSION"),
            "seconds": args.seconds,
            "concurrency": args.concurrency,
            "devices": args.devices,
            "cores": cores,
            "goals": goals::verdicts(&records).iter().map(goals::Verdict::json).collect::<Vec<_>>(),
            "results": records,
        });
        std::fs::write(path, serde_json::to_string_pretty(&doc)? + "\n")
            .with_context(|| format!("write {}", path.display()))?;
        eprintln!("galien-bench: results written to {}", path.display());
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// The records of a `--json` file, or why it cannot be read.
fn read_records(path: &std::path::Path) -> anyhow::Result<Vec<serde_json::Value>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("read {}", path.display()))?;
    let doc: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))?;
    goals::records_of(&doc).with_context(|| path.display().to_string())
}
