//! What a run says about the goals, and how it moved since an earlier run.
//!
//! Both read the results as `--json` writes them (one record per scenario, backend and, for
//! `signaling`, number of connections), so that a stored file is judged exactly as a run that just
//! ended: `--from run.json` prints a file's goals without measuring anything, `--compare
//! earlier.json` sets each record beside the earlier one. Nothing here fails a run: a goal not met
//! is printed, never asserted (figures are for people and closing notes).
//!
//! The goals are those of README Performance: `read` ratio ≥ 0.30 and p99 < 5 ms, `ingest` ratio
//! ≥ 0.5, `signaling` paced p99 < 5 ms and < 50 KiB of server memory per connection; and for every
//! scenario, no failed operation.

use serde_json::{Value, json};

/// How a measured figure is held against its bound.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Bound {
    /// At least this much.
    AtLeast(f64),
    /// Strictly under this.
    Under(f64),
}

/// A goal: a figure of a scenario's record and its bound.
#[derive(Debug, Clone, Copy)]
struct Goal {
    scenario: &'static str,
    /// The record's field.
    field: &'static str,
    /// How the figure is named in the printout.
    what: &'static str,
    bound: Bound,
    /// The figure's unit in the printout (`""`: a bare number).
    unit: &'static str,
}

const GOALS: [Goal; 5] = [
    Goal {
        scenario: "read",
        field: "ratio",
        what: "ratio",
        bound: Bound::AtLeast(0.30),
        unit: "",
    },
    Goal {
        scenario: "read",
        field: "p99_ms",
        what: "p99",
        bound: Bound::Under(5.0),
        unit: "ms",
    },
    Goal {
        scenario: "ingest",
        field: "ratio",
        what: "ratio",
        bound: Bound::AtLeast(0.5),
        unit: "",
    },
    Goal {
        scenario: "signaling",
        field: "p99_ms",
        what: "paced p99",
        bound: Bound::Under(5.0),
        unit: "ms",
    },
    Goal {
        scenario: "signaling",
        field: "rss_per_connection_kib",
        what: "memory per connection",
        bound: Bound::Under(50.0),
        unit: "KiB",
    },
];

/// One goal judged on one record.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Verdict {
    /// `read [sqlite]`, `signaling [postgres, 10000 connections]`.
    pub record: String,
    /// `ratio ≥ 0.30`.
    pub goal: String,
    /// The figure, `None` when the record does not hold it (not measured).
    pub measured: Option<f64>,
    /// Its unit.
    pub unit: &'static str,
    /// `None`: not measured, so neither met nor missed.
    pub met: Option<bool>,
}

impl Verdict {
    /// The verdict as a line of the printout.
    pub(crate) fn line(&self) -> String {
        let figure = match self.measured {
            // A count of failures is a whole number.
            Some(x) if self.unit == FAILED => format!("{x:.0} {FAILED}"),
            Some(x) => with_unit(x, self.unit),
            None => "not measured".to_owned(),
        };
        let word = match self.met {
            Some(true) => "met",
            Some(false) => "NOT MET",
            None => "unknown",
        };
        format!("{}: {} — {figure}: {word}", self.record, self.goal)
    }

    /// The verdict as a JSON record.
    pub(crate) fn json(&self) -> Value {
        json!({
            "record": self.record,
            "goal": self.goal,
            "measured": self.measured,
            "unit": self.unit,
            "met": self.met,
        })
    }
}

/// The unit of the "no failed operation" verdict.
const FAILED: &str = "failed";

fn with_unit(x: f64, unit: &str) -> String {
    if unit.is_empty() {
        format!("{x:.2}")
    } else {
        format!("{x:.2} {unit}")
    }
}

/// `read [sqlite]`, `signaling [sqlite, 1000 connections]`: a record's name, the same in every
/// printout and in `--compare`'s matching.
pub(crate) fn record_name(record: &Value) -> String {
    let scenario = record["scenario"].as_str().unwrap_or("?");
    let backend = record["backend"].as_str().unwrap_or("?");
    match record["connections"].as_u64() {
        Some(n) => format!("{scenario} [{backend}, {n} connections]"),
        None => format!("{scenario} [{backend}]"),
    }
}

/// Every goal of every record, in the records' order; and for each record, that no operation
/// failed.
pub(crate) fn verdicts(records: &[Value]) -> Vec<Verdict> {
    let mut out = Vec::new();
    for record in records {
        let scenario = record["scenario"].as_str().unwrap_or_default();
        let name = record_name(record);
        for goal in GOALS.iter().filter(|g| g.scenario == scenario) {
            let measured = record[goal.field].as_f64();
            let (sign, bound) = match goal.bound {
                Bound::AtLeast(b) => ("≥", b),
                Bound::Under(b) => ("<", b),
            };
            out.push(Verdict {
                record: name.clone(),
                goal: format!("{} {sign} {}", goal.what, with_bound(bound, goal.unit)),
                measured,
                unit: goal.unit,
                met: measured.map(|x| match goal.bound {
                    Bound::AtLeast(b) => x >= b,
                    Bound::Under(b) => x < b,
                }),
            });
        }
        let errors = record["errors"].as_f64();
        out.push(Verdict {
            record: name,
            goal: "no failed operation".to_owned(),
            measured: errors,
            unit: FAILED,
            met: errors.map(|e| e == 0.0),
        });
    }
    out
}

/// A bound as the README writes it: `0.30`, `5 ms`, `50 KiB`.
fn with_bound(b: f64, unit: &str) -> String {
    let n = if b.fract() == 0.0 {
        format!("{b:.0}")
    } else {
        format!("{b:.2}")
    };
    if unit.is_empty() {
        n
    } else {
        format!("{n} {unit}")
    }
}

/// The figures `--compare` sets beside the earlier run's: the rate, the ratio to the same run's
/// baseline (what stays comparable from one hour of a shared machine to the next), the p99 and the
/// server's CPU time per operation; with their unit (`None`: the record's own `unit`) and decimals.
const COMPARED: [(&str, &str, Option<&str>, usize); 4] = [
    ("rate", "rate", None, 0),
    ("ratio", "ratio", Some(""), 3),
    ("p99_ms", "p99", Some("ms"), 2),
    ("server_cpu_us_per_op", "server CPU per op", Some("µs"), 0),
];

/// One figure of a record, now and in the earlier run.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Figure {
    /// `ratio`, `p99`…
    pub what: &'static str,
    /// In this run.
    pub now: f64,
    /// In the earlier run.
    pub then: f64,
    /// `ms`, `req/s` (`""`: a bare number).
    pub unit: String,
    /// Decimals shown.
    pub decimals: usize,
}

impl Figure {
    fn show(&self, x: f64) -> String {
        if self.unit.is_empty() {
            format!("{x:.*}", self.decimals)
        } else {
            format!("{x:.*} {}", self.decimals, self.unit)
        }
    }
}

/// A ratio that fell by more than this (relative) is pointed out: runs of the same build in the
/// same hour differ by up to about 10 %.
const NOTABLE_DROP: f64 = 0.15;

/// One record set beside the earlier run's record of the same name.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Change {
    /// The record's name.
    pub record: String,
    /// Each figure both records hold.
    pub figures: Vec<Figure>,
    /// The ratio fell by more than [`NOTABLE_DROP`].
    pub ratio_dropped: bool,
}

impl Change {
    /// The change as lines of the printout.
    pub(crate) fn lines(&self) -> Vec<String> {
        let mut out = vec![format!("{}:", self.record)];
        for f in &self.figures {
            let delta = if f.then != 0.0 {
                format!("{:+.1} %", (f.now / f.then - 1.0) * 100.0)
            } else {
                "-".to_owned()
            };
            out.push(format!(
                "  {}: {} (was {}, {delta})",
                f.what,
                f.show(f.now),
                f.show(f.then)
            ));
        }
        if self.ratio_dropped {
            out.push(format!(
                "  the ratio fell by more than {:.0} %: more than the runs' noise, worth a look",
                NOTABLE_DROP * 100.0
            ));
        }
        out
    }
}

/// Each record of `now` beside the record of the same name in `then`; records found in only
/// one of the two are named in the second list (with where they are missing).
pub(crate) fn compare(now: &[Value], then: &[Value]) -> (Vec<Change>, Vec<String>) {
    let mut changes = Vec::new();
    let mut unmatched = Vec::new();
    for record in now {
        let name = record_name(record);
        let Some(earlier) = then.iter().find(|r| record_name(r) == name) else {
            unmatched.push(format!("{name}: not in the earlier run"));
            continue;
        };
        let figures: Vec<_> = COMPARED
            .iter()
            .filter_map(|&(field, what, unit, decimals)| {
                Some(Figure {
                    what,
                    now: record[field].as_f64()?,
                    then: earlier[field].as_f64()?,
                    unit: unit
                        .or_else(|| record["unit"].as_str())
                        .unwrap_or_default()
                        .to_owned(),
                    decimals,
                })
            })
            .collect();
        let ratio_dropped = match (record["ratio"].as_f64(), earlier["ratio"].as_f64()) {
            (Some(now), Some(then)) if then > 0.0 => now < then * (1.0 - NOTABLE_DROP),
            _ => false,
        };
        changes.push(Change {
            record: name,
            figures,
            ratio_dropped,
        });
    }
    for record in then {
        let name = record_name(record);
        if !now.iter().any(|r| record_name(r) == name) {
            unmatched.push(format!("{name}: not in this run"));
        }
    }
    (changes, unmatched)
}

/// The records of a `--json` file.
pub(crate) fn records_of(doc: &Value) -> anyhow::Result<Vec<Value>> {
    match doc["results"].as_array() {
        Some(records) => Ok(records.clone()),
        None => anyhow::bail!("not a galien-bench result file (no \"results\" list)"),
    }
}

/// Prints the goals of `records`.
pub(crate) fn print_goals(records: &[Value]) {
    say!();
    say!("Goals (README Performance):");
    for v in verdicts(records) {
        say!("  {}", v.line());
    }
}

/// Prints `now` beside `then`, saying where `then` came from.
pub(crate) fn print_comparison(now: &[Value], then: &[Value], source: &str) {
    say!();
    say!("Compared with {source}:");
    let (changes, unmatched) = compare(now, then);
    for c in &changes {
        for line in c.lines() {
            say!("  {line}");
        }
    }
    for u in &unmatched {
        say!("  {u}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(backend: &str, ratio: f64, p99: f64, errors: u64) -> Value {
        json!({
            "scenario": "read", "backend": backend, "rate": ratio * 70_000.0, "unit": "req/s",
            "baseline": 70_000.0, "ratio": ratio, "p50_ms": 1.2, "p99_ms": p99,
            "errors": errors, "server_cpu_us_per_op": 110.0,
        })
    }

    fn signaling(connections: u64, p99: f64, kib: Option<f64>) -> Value {
        json!({
            "scenario": "signaling", "backend": "sqlite", "rate": 9000.0, "unit": "msg/s",
            "baseline": 9500.0, "ratio": 0.947, "p99_ms": p99, "errors": 0,
            "connections": connections, "rss_per_connection_kib": kib,
        })
    }

    fn met(verdicts: &[Verdict], record: &str, goal: &str) -> Option<bool> {
        verdicts
            .iter()
            .find(|v| v.record == record && v.goal == goal)
            .unwrap_or_else(|| panic!("no verdict {record} / {goal} in {verdicts:#?}"))
            .met
    }

    #[test]
    fn the_read_goals_hold_only_within_their_bounds() {
        let v = verdicts(&[
            read("sqlite", 0.30, 4.99, 0),
            read("postgres", 0.29, 5.0, 2),
        ]);
        assert_eq!(met(&v, "read [sqlite]", "ratio ≥ 0.30"), Some(true));
        assert_eq!(met(&v, "read [sqlite]", "p99 < 5 ms"), Some(true));
        assert_eq!(met(&v, "read [sqlite]", "no failed operation"), Some(true));
        assert_eq!(met(&v, "read [postgres]", "ratio ≥ 0.30"), Some(false));
        assert_eq!(met(&v, "read [postgres]", "p99 < 5 ms"), Some(false));
        assert_eq!(
            met(&v, "read [postgres]", "no failed operation"),
            Some(false)
        );
        assert_eq!(v.len(), 6, "three verdicts a read record: {v:#?}");
        let line = v[0].line();
        assert_eq!(line, "read [sqlite]: ratio ≥ 0.30 — 0.30: met");
        assert_eq!(
            v[4].line(),
            "read [postgres]: p99 < 5 ms — 5.00 ms: NOT MET"
        );
        assert_eq!(
            v[5].line(),
            "read [postgres]: no failed operation — 2 failed: NOT MET"
        );
    }

    #[test]
    fn signaling_is_judged_per_number_of_connections_and_a_missing_figure_is_unknown() {
        let v = verdicts(&[
            signaling(1000, 0.2, Some(17.3)),
            signaling(10000, 6.0, None),
        ]);
        let small = "signaling [sqlite, 1000 connections]";
        let large = "signaling [sqlite, 10000 connections]";
        assert_eq!(met(&v, small, "paced p99 < 5 ms"), Some(true));
        assert_eq!(met(&v, small, "memory per connection < 50 KiB"), Some(true));
        assert_eq!(met(&v, large, "paced p99 < 5 ms"), Some(false));
        assert_eq!(met(&v, large, "memory per connection < 50 KiB"), None);
        let unknown = v
            .iter()
            .find(|x| x.record == large && x.met.is_none())
            .unwrap();
        assert!(
            unknown.line().ends_with("not measured: unknown"),
            "{}",
            unknown.line()
        );
    }

    #[test]
    fn ingest_needs_half_its_baseline_and_other_scenarios_only_no_failure() {
        let ingest =
            json!({"scenario": "ingest", "backend": "postgres", "ratio": 0.49, "errors": 0});
        let audit = json!({"scenario": "audit", "backend": "sqlite", "ratio": 8.5, "errors": 0});
        let v = verdicts(&[ingest, audit]);
        assert_eq!(met(&v, "ingest [postgres]", "ratio ≥ 0.50"), Some(false));
        let audit: Vec<_> = v.iter().filter(|x| x.record == "audit [sqlite]").collect();
        assert_eq!(audit.len(), 1);
        assert_eq!(audit[0].goal, "no failed operation");
        assert_eq!(audit[0].met, Some(true));
    }

    #[test]
    fn records_are_compared_by_name_and_a_ratio_fallen_beyond_the_noise_is_pointed_out() {
        let now = [
            read("sqlite", 0.12, 4.0, 0),
            read("postgres", 0.066, 5.5, 0),
            signaling(1000, 0.2, Some(17.0)),
        ];
        let then = [
            read("postgres", 0.06, 6.0, 0),
            read("sqlite", 0.15, 3.5, 0),
            signaling(10000, 0.6, Some(12.8)),
        ];
        let (changes, unmatched) = compare(&now, &then);
        assert_eq!(changes.len(), 2);
        let sqlite = &changes[0];
        assert_eq!(sqlite.record, "read [sqlite]");
        assert!(sqlite.ratio_dropped, "0.15 → 0.12 is a fall of 20 %");
        let ratio = sqlite.figures.iter().find(|f| f.what == "ratio").unwrap();
        assert_eq!((ratio.now, ratio.then), (0.12, 0.15));
        let lines = sqlite.lines();
        for line in [
            "  ratio: 0.120 (was 0.150, -20.0 %)",
            "  rate: 8400 req/s (was 10500 req/s, -20.0 %)",
            "  server CPU per op: 110 µs (was 110 µs, +0.0 %)",
        ] {
            assert!(
                lines.contains(&line.to_owned()),
                "{line:?} not in {lines:?}"
            );
        }
        assert!(
            lines.contains(&"  p99: 4.00 ms (was 3.50 ms, +14.3 %)".to_owned()),
            "{lines:?}"
        );
        assert!(lines.last().unwrap().contains("worth a look"));
        let pg = &changes[1];
        assert_eq!(pg.record, "read [postgres]");
        assert!(!pg.ratio_dropped, "a rise is not pointed out");
        assert!(!pg.lines().iter().any(|l| l.contains("worth a look")));
        assert_eq!(
            unmatched,
            vec![
                "signaling [sqlite, 1000 connections]: not in the earlier run".to_owned(),
                "signaling [sqlite, 10000 connections]: not in this run".to_owned(),
            ]
        );
    }

    #[test]
    fn a_fall_within_the_noise_is_not_pointed_out() {
        let (changes, _) = compare(
            &[read("sqlite", 0.14, 4.0, 0)],
            &[read("sqlite", 0.16, 4.0, 0)],
        );
        assert!(!changes[0].ratio_dropped, "0.16 → 0.14 is 12.5 %");
    }

    #[test]
    fn a_file_without_results_is_refused_with_a_reason() {
        let err = records_of(&json!({"tool": "something else"})).unwrap_err();
        assert!(err.to_string().contains("not a galien-bench result file"));
        let ok = records_of(&json!({"results": [read("sqlite", 0.2, 3.0, 0)]})).unwrap();
        assert_eq!(ok.len(), 1);
    }
}
