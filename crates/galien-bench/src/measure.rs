//! Measuring: closed-loop workers for a bounded time, latencies and errors counted, a progress
//! line on stderr every second.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::task::JoinHandle;

use crate::cpu::{CpuCost, CpuWindow};

/// What one measurement saw.
#[derive(Debug, Clone, Default)]
pub(crate) struct Measured {
    /// Operations that succeeded.
    pub ops: u64,
    /// Operations that failed.
    pub errors: u64,
    /// Seconds measured.
    pub secs: f64,
    /// Median latency of the successful operations.
    pub p50: Duration,
    /// 99th percentile.
    pub p99: Duration,
    /// The first failure's message, to say why.
    pub first_error: Option<String>,
    /// CPU time per successful operation, the server's and the load generator's.
    pub cpu: CpuCost,
}

impl Measured {
    /// Successful operations per second.
    pub(crate) fn rate(&self) -> f64 {
        self.ops as f64 / self.secs.max(1e-9)
    }

    /// From sorted-or-not latencies.
    pub(crate) fn from_latencies(
        mut latencies: Vec<Duration>,
        errors: u64,
        secs: f64,
        first_error: Option<String>,
    ) -> Measured {
        latencies.sort_unstable();
        Measured {
            ops: latencies.len() as u64,
            errors,
            secs,
            p50: quantile(&latencies, 0.50),
            p99: quantile(&latencies, 0.99),
            first_error,
            cpu: CpuCost::default(),
        }
    }
}

/// The `q` quantile of sorted values (zero when empty).
pub(crate) fn quantile(sorted: &[Duration], q: f64) -> Duration {
    let i = ((sorted.len() as f64) * q) as usize;
    sorted
        .get(i.min(sorted.len().saturating_sub(1)))
        .copied()
        .unwrap_or_default()
}

/// Counters a phase shares with its progress line.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    /// Done.
    pub done: AtomicU64,
    /// Failed.
    pub errors: AtomicU64,
}

/// A line on stderr every second while a phase runs; stops when dropped.
pub(crate) struct Progress {
    task: JoinHandle<()>,
}

impl Progress {
    /// Starts reporting `counters` under `label`; `total` adds "of N".
    pub(crate) fn start(label: String, counters: Arc<Counters>, total: Option<u64>) -> Progress {
        eprintln!("galien-bench: {label}");
        let task = tokio::spawn(async move {
            let start = Instant::now();
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            tick.tick().await;
            loop {
                tick.tick().await;
                let done = counters.done.load(Ordering::Relaxed);
                let errors = counters.errors.load(Ordering::Relaxed);
                let of = total.map(|t| format!(" of {t}")).unwrap_or_default();
                eprintln!(
                    "  [{label}] {:>4.0} s: {done}{of} done, {errors} errors",
                    start.elapsed().as_secs_f64()
                );
            }
        });
        Progress { task }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Runs `op` from `workers` tasks for `dur` (closed loop) and measures it, with the CPU time per
/// operation of the `server` process (if it is one of ours), of this one, and of the PostgreSQL
/// server's processes when `database` (a PostgreSQL run).
pub(crate) async fn measured<F, Fut>(
    label: &str,
    workers: usize,
    dur: Duration,
    server: Option<u32>,
    database: bool,
    op: F,
) -> Measured
where
    F: Fn() -> Fut + Send + Sync + Clone + 'static,
    Fut: std::future::Future<Output = anyhow::Result<()>> + Send,
{
    let counters = Arc::new(Counters::default());
    let _progress = Progress::start(label.to_owned(), counters.clone(), None);
    let first_error: Arc<Mutex<Option<String>>> = Arc::default();
    let cpu = CpuWindow::start(server, database);
    let start = Instant::now();
    let deadline = start + dur;
    let mut tasks = Vec::new();
    for _ in 0..workers.max(1) {
        let op = op.clone();
        let counters = counters.clone();
        let first_error = first_error.clone();
        tasks.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            while Instant::now() < deadline {
                let t = Instant::now();
                match op().await {
                    Ok(()) => {
                        mine.push(t.elapsed());
                        counters.done.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(e) => {
                        counters.errors.fetch_add(1, Ordering::Relaxed);
                        if let Ok(mut first) = first_error.lock()
                            && first.is_none()
                        {
                            *first = Some(format!("{e:#}"));
                        }
                    }
                }
            }
            mine
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        if let Ok(mine) = t.await {
            all.extend(mine);
        }
    }
    let secs = start.elapsed().as_secs_f64();
    let cost = cpu.per_op(all.len() as u64);
    let first = first_error.lock().ok().and_then(|f| f.clone());
    let mut m = Measured::from_latencies(all, counters.errors.load(Ordering::Relaxed), secs, first);
    m.cpu = cost;
    m
}
