//! `read` (issue 8): a médecin's patient summary over HTTP — session checked, gate decision and
//! traces committed (one durable record per section), data keys unwrapped and identity, notes,
//! care team and consents decrypted, HTML rendered — against a bare endpoint on the same loopback
//! that returns the same bytes with no work. Reports rate, p50 and p99 for both.

use anyhow::Context;
use galien_core::{Clock, ManualClock, SystemClock};
use galien_store::Backend;
use galien_testkit::people;
use galien_testkit::{Options, TestServer};
use std::sync::Arc;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::Args;

/// Runs `op` from `workers` tasks for `dur`; returns (ops/s, p50, p99).
async fn measured<F, Fut>(workers: usize, dur: Duration, op: F) -> (f64, Duration, Duration)
where
    F: Fn() -> Fut + Send + Sync + Clone + 'static,
    Fut: std::future::Future<Output = anyhow::Result<()>> + Send,
{
    let latencies = Arc::new(Mutex::new(Vec::new()));
    let start = Instant::now();
    let deadline = start + dur;
    let mut tasks = Vec::new();
    for _ in 0..workers {
        let op = op.clone();
        let latencies = latencies.clone();
        tasks.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            while Instant::now() < deadline {
                let t = Instant::now();
                if op().await.is_ok() {
                    mine.push(t.elapsed());
                }
            }
            if let Ok(mut all) = latencies.lock() {
                all.extend(mine);
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    let elapsed = start.elapsed().as_secs_f64();
    let mut all = latencies.lock().map(|l| l.clone()).unwrap_or_default();
    all.sort();
    let pick = |q: f64| {
        let i = ((all.len() as f64) * q) as usize;
        all.get(i.min(all.len().saturating_sub(1)))
            .copied()
            .unwrap_or_default()
    };
    (all.len() as f64 / elapsed, pick(0.5), pick(0.99))
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

pub async fn read(args: &Args) -> anyhow::Result<()> {
    let dur = Duration::from_secs(args.seconds);
    let clock = Arc::new(ManualClock::new(SystemClock.now()));
    let node = TestServer::start_with(
        Backend::Sqlite,
        Options {
            clock: Some(clock.clone()),
            ..Options::default()
        },
    )
    .await;
    let admin = people::enrol_first_admin(&node, &clock).await;
    let link = people::invite(
        &admin.agent,
        "medecin",
        "Dr Bench",
        "bench@galien.test",
        &people::rpps("1000000042"),
    )
    .await;
    let doc = people::accept_invitation(&node, &link, "bench@galien.test", &clock).await;
    let created = doc
        .agent
        .submit(
            "/patients/new",
            "/patients/new",
            &[
                ("birth_name", "Bench"),
                ("first_names", "Patient"),
                ("sex", "F"),
                ("birth_date", "1950-01-01"),
                ("ins_status", "provisional"),
            ],
        )
        .await;
    let path = created
        .location()
        .and_then(|l| l.split('?').next())
        .context("registered patient path")?
        .to_owned();
    for i in 0..3 {
        doc.agent
            .submit(
                &path,
                &format!("{path}/notes"),
                &[("text", &format!("Note de suivi {i}"))],
            )
            .await;
    }
    let page = doc.agent.get(&path).await;
    anyhow::ensure!(page.status == 200, "summary status {}", page.status);
    let bytes = page.body.clone();

    // Baseline: the same bytes from a bare handler.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let body = bytes.clone();
    let bare = axum::Router::new().route(
        "/summary",
        axum::routing::get(move || {
            let body = body.clone();
            async move { axum::response::Html(body) }
        }),
    );
    let server = tokio::spawn(async move { axum::serve(listener, bare).await });
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.concurrency)
        .build()?;
    let url = format!("http://{addr}/summary");
    let (base, base50, base99) = measured(args.concurrency, dur, move || {
        let (c, url) = (client.clone(), url.clone());
        async move {
            c.get(url).send().await?.error_for_status()?.bytes().await?;
            Ok(())
        }
    })
    .await;
    server.abort();

    let client = doc.agent.client.clone();
    let url = node.url(&path);
    let before = node.store.audit_head().await?.map_or(0, |(s, _)| s);
    let (galien, g50, g99) = measured(args.concurrency, dur, move || {
        let (c, url) = (client.clone(), url.clone());
        async move {
            c.get(url).send().await?.error_for_status()?.bytes().await?;
            Ok(())
        }
    })
    .await;
    let after = node.store.audit_head().await?.map_or(0, |(s, _)| s);
    println!(
        "{:<44} baseline {base:>8.0} req/s p50 {:.2} ms p99 {:.2} ms   galien {galien:>8.0} req/s p50 {:.2} ms p99 {:.2} ms",
        "read: patient summary (session, gate, traces, decrypt)",
        ms(base50),
        ms(base99),
        ms(g50),
        ms(g99)
    );
    println!(
        "{:<44} {:.1} audit records per read",
        "  traces",
        (after - before) as f64 / (galien * dur.as_secs_f64()).max(1.0)
    );
    println!(
        "read: {galien:.0} req/s, baseline {base:.0} req/s, ratio {:.2}",
        galien / base.max(1e-9)
    );
    let _ = clock.now();
    node.stop().await;
    Ok(())
}
