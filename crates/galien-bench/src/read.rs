//! `read` (issue 8): a médecin's patient summary over HTTP from the `galien` binary — session
//! checked, gate decisions and their traces committed (one durable record per section) before the
//! answer, the data key unwrapped and identity, notes, care team and consents decrypted, HTML
//! rendered — against a bare endpoint in its own process that returns the same bytes with no work.
//!
//! Setup through the use cases on the lab's database: one médecin with a two-factor session
//! (`identity::session::open`), one patient he registered, three clinical notes.

use galien_app::RequestContext;
use galien_app::patients::clinical;
use galien_app::patients::records::{self, IdentityInput, RawIdentity};
use galien_core::{Clock, SystemClock};
use galien_store::Backend;
use serde_json::json;
use std::time::Duration;

use crate::Args;
use crate::measure::measured;
use crate::node::{Lab, app_for, medecin_with_session};
use crate::report::{Outcome, Row, ms_json, table};

/// The médecin's session cookie and the summary's path.
async fn prepare(app: &galien_app::App) -> anyhow::Result<(String, String)> {
    let now = SystemClock.now();
    let ctx = RequestContext::default();
    let (doctor, cookie) = medecin_with_session(app, "bench@galien.test", "Dr Bench").await?;
    let raw = RawIdentity {
        birth_name: "Bench".into(),
        first_names: "Patient".into(),
        sex: "F".into(),
        birth_date: "1950-01-01".into(),
        ins_status: "provisional".into(),
        ..RawIdentity::default()
    };
    let input =
        IdentityInput::parse(&raw, now.date()).map_err(|c| anyhow::anyhow!("identity: {c:?}"))?;
    let patient = records::register(app, &doctor, &ctx, input).await?;
    for i in 0..3 {
        clinical::add_note(app, &doctor, &ctx, patient, &format!("Note de suivi {i}")).await?;
    }
    Ok((
        format!("galien_session={cookie}"),
        format!("/patients/{patient}"),
    ))
}

pub(crate) async fn read(backend: Backend, args: &Args) -> anyhow::Result<Outcome> {
    let dur = Duration::from_secs(args.seconds);
    let label = format!("read/{}", backend.name());
    let lab = Lab::new(backend).await?;
    let node = lab.setup_node(None).await?;
    let app = app_for(&node)?;
    let (cookie, path) = prepare(&app).await?;
    drop(app);
    let server = lab.serve(node).await?;
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.concurrency)
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let page = client
        .get(server.url(&path))
        .header("cookie", &cookie)
        .send()
        .await?;
    anyhow::ensure!(page.status() == 200, "summary status {}", page.status());
    let bytes = page.text().await?;
    anyhow::ensure!(
        bytes.contains("Note de suivi 2"),
        "the summary shows the notes"
    );

    // Baseline: the same bytes from a bare handler in its own process.
    let body = lab.path().join("summary.html");
    std::fs::write(&body, &bytes)?;
    let bare = lab.baseline("bytes", Some(&body)).await?;
    let get = |url: String, cookie: Option<String>| {
        let c = client.clone();
        move || {
            let (c, url, cookie) = (c.clone(), url.clone(), cookie.clone());
            async move {
                let mut r = c.get(url);
                if let Some(cookie) = cookie {
                    r = r.header("cookie", cookie);
                }
                let r = r.send().await?;
                anyhow::ensure!(r.status() == 200, "status {}", r.status());
                r.bytes().await?;
                Ok(())
            }
        }
    };
    let base = measured(
        &format!("{label}: baseline"),
        args.concurrency,
        dur,
        Some(bare.pid()),
        matches!(backend, Backend::Postgres),
        get(bare.url("/summary"), None),
    )
    .await;
    let base_rss = bare.rss_kib();
    bare.stop().await;

    let before = lab.audit_seq().await?;
    let galien = measured(
        &format!("{label}: galien"),
        args.concurrency,
        dur,
        Some(server.pid()),
        matches!(backend, Backend::Postgres),
        get(server.url(&path), Some(cookie)),
    )
    .await;
    let rss = server.rss_kib();
    server.stop().await;
    let after = lab.audit_seq().await?;
    let verified = lab.verify_audit().await;
    lab.close().await;
    let verified = verified?;
    let per_read = (after - before) as f64 / (galien.ops as f64).max(1.0);
    let mut g = Row::of(
        "galien: summary (session, gate, traces, decrypt)",
        &galien,
        1.0,
        "req/s",
        rss,
    );
    let mut note = format!("{per_read:.1} audit records per read; {verified}");
    if !g.note.is_empty() {
        note = format!("{note}; {}", g.note);
    }
    g.note = note;
    table(
        &format!(
            "read — a patient summary ({} bytes), {} concurrent clients, {}",
            bytes.len(),
            args.concurrency,
            backend.name()
        ),
        &[
            Row::of(
                "baseline: the same bytes, no work",
                &base,
                1.0,
                "req/s",
                base_rss,
            ),
            g,
        ],
    );
    let mut extra = serde_json::Map::new();
    extra.insert("baseline_p50_ms".into(), ms_json(base.p50));
    extra.insert("baseline_p99_ms".into(), ms_json(base.p99));
    extra.insert("baseline_rss_kib".into(), json!(base_rss));
    extra.insert("audit_records_per_read".into(), json!(per_read));
    extra.insert("audit_verify".into(), json!(verified));
    galien.cpu.json_into("", &mut extra);
    base.cpu.json_into("baseline_", &mut extra);
    Ok(Outcome {
        scenario: "read",
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
