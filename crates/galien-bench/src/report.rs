//! What each scenario prints (a table, then its one summary line) and what `--json` writes.

use crate::cpu::CpuCost;
use crate::measure::Measured;
use serde_json::{Value, json};
use std::time::Duration;

/// One row of a scenario's table.
#[derive(Debug, Clone)]
pub(crate) struct Row {
    /// What was measured.
    pub label: String,
    /// Operations per second.
    pub rate: f64,
    /// Of what.
    pub unit: &'static str,
    /// Latencies, when measured per operation.
    pub p50: Option<Duration>,
    /// 99th percentile.
    pub p99: Option<Duration>,
    /// Failed operations.
    pub errors: u64,
    /// The server's resident memory at the end, in KiB (`None`: no separate server).
    pub rss_kib: Option<u64>,
    /// CPU time per operation (server process, load generator).
    pub cpu: CpuCost,
    /// Anything else worth a column (memory per connection…).
    pub note: String,
}

impl Row {
    /// A row from a measurement; `scale` turns operations into units (observations per Bundle).
    pub(crate) fn of(
        label: impl Into<String>,
        m: &Measured,
        scale: f64,
        unit: &'static str,
        rss_kib: Option<u64>,
    ) -> Row {
        Row {
            label: label.into(),
            rate: m.rate() * scale,
            unit,
            p50: Some(m.p50),
            p99: Some(m.p99),
            errors: m.errors,
            rss_kib,
            cpu: m.cpu,
            note: m
                .first_error
                .as_ref()
                .map(|e| format!("first error: {}", e.chars().take(120).collect::<String>()))
                .unwrap_or_default(),
        }
    }
}

pub(crate) fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// CPU time per operation, in µs (`-`: not measured).
fn micros(d: Option<Duration>) -> String {
    d.map_or("-".to_owned(), |d| {
        format!("{:.0} µs", d.as_secs_f64() * 1e6)
    })
}

fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

/// Prints a scenario's table.
pub(crate) fn table(title: &str, rows: &[Row]) {
    let w = rows
        .iter()
        .map(|r| r.label.chars().count())
        .max()
        .unwrap_or(0)
        .max(20);
    say!();
    say!("{title}");
    say!(
        "  {:<w$} {:>16} {:>9} {:>9} {:>7} {:>11} {:>9} {:>9} {:>9}",
        "",
        "rate",
        "p50",
        "p99",
        "errors",
        "server RSS",
        "srv CPU",
        "cli CPU",
        "db CPU"
    );
    for r in rows {
        let lat = |d: Option<Duration>| d.map_or("-".to_owned(), |d| format!("{:.2} ms", ms(d)));
        say!(
            "  {:<w$} {:>10.0} {:<5} {:>9} {:>9} {:>7} {:>11} {:>9} {:>9} {:>9}  {}",
            r.label,
            r.rate,
            r.unit,
            lat(r.p50),
            lat(r.p99),
            r.errors,
            r.rss_kib.map_or("-".to_owned(), mib),
            micros(r.cpu.server),
            micros(r.cpu.client),
            micros(r.cpu.database),
            r.note
        );
    }
    say!(
        "  (srv CPU, cli CPU, db CPU: the CPU time per operation of the server process, of the load \
         generator, and of the PostgreSQL server's processes on PostgreSQL runs)"
    );
}

/// One scenario's result, for its summary line and for `--json`.
#[derive(Debug, Clone)]
pub(crate) struct Outcome {
    /// `read`, `signaling`…
    pub scenario: &'static str,
    /// `sqlite` or `postgres`.
    pub backend: &'static str,
    /// Galien's rate.
    pub rate: f64,
    /// Its unit.
    pub unit: &'static str,
    /// The baseline's rate.
    pub baseline: f64,
    /// Galien's latencies.
    pub p50: Option<Duration>,
    /// 99th percentile.
    pub p99: Option<Duration>,
    /// Galien's failed operations.
    pub errors: u64,
    /// Galien's server RSS at the end (KiB).
    pub rss_kib: Option<u64>,
    /// More fields for the JSON record (connections, baseline latencies…).
    pub extra: serde_json::Map<String, Value>,
    /// Qualifies the summary line (`10000 connections`).
    pub qualifier: Option<String>,
}

impl Outcome {
    /// Galien's rate over the baseline's.
    pub(crate) fn ratio(&self) -> f64 {
        self.rate / self.baseline.max(1e-9)
    }

    /// `read: 1234 req/s, baseline 5678 req/s, ratio 0.22` (the backend and qualifier in
    /// brackets when not the default SQLite run).
    pub(crate) fn print_line(&self) {
        let mut tags = Vec::new();
        if let Some(q) = &self.qualifier {
            tags.push(q.clone());
        }
        if self.backend != "sqlite" {
            tags.push(self.backend.to_owned());
        }
        let name = if tags.is_empty() {
            self.scenario.to_owned()
        } else {
            format!("{} [{}]", self.scenario, tags.join(", "))
        };
        say!(
            "{name}: {:.0} {unit}, baseline {:.0} {unit}, ratio {:.2}",
            self.rate,
            self.baseline,
            self.ratio(),
            unit = self.unit
        );
    }

    /// The JSON record.
    pub(crate) fn json(&self) -> Value {
        let mut v = json!({
            "scenario": self.scenario,
            "backend": self.backend,
            "rate": round(self.rate),
            "unit": self.unit,
            "baseline": round(self.baseline),
            "ratio": (self.ratio() * 1000.0).round() / 1000.0,
            "p50_ms": self.p50.map(|d| round(ms(d))),
            "p99_ms": self.p99.map(|d| round(ms(d))),
            "errors": self.errors,
            "rss_kib": self.rss_kib,
        });
        if let Some(map) = v.as_object_mut() {
            for (k, x) in &self.extra {
                map.insert(k.clone(), x.clone());
            }
        }
        v
    }
}

/// Three decimals are plenty.
pub(crate) fn round(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// Latency in ms for a JSON field.
pub(crate) fn ms_json(d: Duration) -> Value {
    json!(round(ms(d)))
}
