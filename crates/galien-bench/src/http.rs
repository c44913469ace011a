//! `http`: `GET /healthz` on the `galien` binary (every middleware: request id, metrics, security
//! headers, logging) against a bare axum handler in its own process; same client, same loopback,
//! same concurrency.

use crate::Args;
use crate::measure::measured;
use crate::node::Lab;
use crate::report::{Outcome, Row, ms_json, table};
use galien_store::Backend;
use std::time::Duration;

pub(crate) async fn http(backend: Backend, args: &Args) -> anyhow::Result<Outcome> {
    let dur = Duration::from_secs(args.seconds);
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.concurrency)
        .build()?;
    let lab = Lab::new(backend).await?;
    let label = format!("http/{}", backend.name());
    let get = |url: String| {
        let c = client.clone();
        move || {
            let (c, url) = (c.clone(), url.clone());
            async move {
                c.get(url).send().await?.error_for_status()?;
                Ok(())
            }
        }
    };
    let bare = lab.baseline("healthz", None).await?;
    let base = measured(
        &format!("{label}: baseline"),
        args.concurrency,
        dur,
        Some(bare.pid()),
        matches!(backend, Backend::Postgres),
        get(bare.url("/healthz")),
    )
    .await;
    let base_rss = bare.rss_kib();
    bare.stop().await;

    let node = lab.setup_node(None).await?;
    let server = lab.serve(node).await?;
    let galien = measured(
        &format!("{label}: galien"),
        args.concurrency,
        dur,
        Some(server.pid()),
        matches!(backend, Backend::Postgres),
        get(server.url("/healthz")),
    )
    .await;
    let rss = server.rss_kib();
    server.stop().await;
    lab.close().await;
    table(
        &format!(
            "http — GET /healthz, {} concurrent clients, {}",
            args.concurrency,
            backend.name()
        ),
        &[
            Row::of("baseline: bare axum handler", &base, 1.0, "req/s", base_rss),
            Row::of("galien: full middleware stack", &galien, 1.0, "req/s", rss),
        ],
    );
    let mut extra = serde_json::Map::new();
    extra.insert("baseline_p50_ms".into(), ms_json(base.p50));
    extra.insert("baseline_p99_ms".into(), ms_json(base.p99));
    extra.insert("baseline_rss_kib".into(), serde_json::json!(base_rss));
    galien.cpu.json_into("", &mut extra);
    base.cpu.json_into("baseline_", &mut extra);
    Ok(Outcome {
        scenario: "http",
        backend: backend.name(),
        rate: galien.rate(),
        unit: "req/s",
        baseline: base.rate(),
        p50: Some(galien.p50),
        p99: Some(galien.p99),
        errors: galien.errors,
        rss_kib: rss,
        extra,
        qualifier: None,
    })
}
