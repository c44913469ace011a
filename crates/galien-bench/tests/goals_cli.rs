//! `galien-bench --from … --compare …`: a stored run's goals and its change since an earlier run,
//! printed without measuring anything (README Performance).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::Command;

fn write(dir: &Path, name: &str, doc: &serde_json::Value) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, serde_json::to_string_pretty(doc).unwrap()).unwrap();
    path
}

fn run(args: &[&std::ffi::OsStr]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_galien-bench"))
        .args(args)
        .output()
        .expect("galien-bench runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn run_doc(ratio: f64, p99: f64) -> serde_json::Value {
    serde_json::json!({
        "tool": "galien-bench",
        "results": [
            {"scenario": "read", "backend": "sqlite", "rate": ratio * 70000.0, "unit": "req/s",
             "baseline": 70000.0, "ratio": ratio, "p99_ms": p99, "errors": 0,
             "server_cpu_us_per_op": 110.0},
            {"scenario": "ingest", "backend": "sqlite", "rate": 53000.0, "unit": "obs/s",
             "baseline": 24000.0, "ratio": 2.2, "p99_ms": 30.0, "errors": 0},
            {"scenario": "signaling", "backend": "sqlite", "rate": 9000.0, "unit": "msg/s",
             "baseline": 9000.0, "ratio": 1.0, "p99_ms": 0.2, "errors": 0,
             "connections": 1000, "rss_per_connection_kib": 17.3}
        ]
    })
}

#[test]
fn a_stored_run_prints_its_goals_and_its_change_since_an_earlier_run() {
    let dir = tempfile::tempdir().unwrap();
    let now = write(dir.path(), "now.json", &run_doc(0.12, 4.2));
    let then = write(dir.path(), "then.json", &run_doc(0.15, 3.5));
    let (ok, stdout, stderr) = run(&[
        "--from".as_ref(),
        now.as_os_str(),
        "--compare".as_ref(),
        then.as_os_str(),
    ]);
    assert!(ok, "{stderr}");
    for line in [
        "Goals (README Performance):",
        "  read [sqlite]: ratio ≥ 0.30 — 0.12: NOT MET",
        "  read [sqlite]: p99 < 5 ms — 4.20 ms: met",
        "  ingest [sqlite]: ratio ≥ 0.50 — 2.20: met",
        "  signaling [sqlite, 1000 connections]: paced p99 < 5 ms — 0.20 ms: met",
        "  signaling [sqlite, 1000 connections]: memory per connection < 50 KiB — 17.30 KiB: met",
        "  signaling [sqlite, 1000 connections]: no failed operation — 0 failed: met",
        "    ratio: 0.120 (was 0.150, -20.0 %)",
        "    rate: 8400 req/s (was 10500 req/s, -20.0 %)",
        "    p99: 4.20 ms (was 3.50 ms, +20.0 %)",
    ] {
        assert!(
            stdout.lines().any(|l| l == line),
            "no line {line:?} in:\n{stdout}"
        );
    }
    assert!(stdout.contains(&format!("Compared with {}:", then.display())));
    assert!(stdout.contains("worth a look"), "{stdout}");
    // Nothing was measured: no server started, no table printed.
    assert!(!stdout.contains("concurrent workers"), "{stdout}");
}

#[test]
fn a_file_that_is_not_a_run_is_refused_before_anything_is_measured() {
    let dir = tempfile::tempdir().unwrap();
    let other = write(dir.path(), "other.json", &serde_json::json!({"hello": 1}));
    let (ok, _, stderr) = run(&["--from".as_ref(), other.as_os_str()]);
    assert!(!ok);
    assert!(
        stderr.contains("not a galien-bench result file"),
        "{stderr}"
    );
    // `--compare` is read first, so a wrong path costs no measurement.
    let missing = dir.path().join("missing.json");
    let (ok, stdout, stderr) = run(&[
        "--scenario".as_ref(),
        "read".as_ref(),
        "--compare".as_ref(),
        missing.as_os_str(),
    ]);
    assert!(!ok);
    assert!(stderr.contains("missing.json"), "{stderr}");
    assert!(!stdout.contains("concurrent workers"), "{stdout}");
}

/// `galien-bench … | head -1`: the reader goes after one line; the bench neither panics nor fails.
#[test]
fn a_reader_that_goes_early_stops_the_report_not_the_run() {
    use std::io::Read;
    let dir = tempfile::tempdir().unwrap();
    let now = write(dir.path(), "now.json", &run_doc(0.12, 4.2));
    let mut child = Command::new(env!("CARGO_BIN_EXE_galien-bench"))
        .arg("--from")
        .arg(&now)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Read nothing and close the pipe: every line written after is refused (EPIPE).
    drop(child.stdout.take());
    let status = child.wait().unwrap();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(status.success(), "{status}: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}
