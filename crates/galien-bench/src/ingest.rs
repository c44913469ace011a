//! `ingest` (ACT-3, issue 7/8): devices post FHIR Bundles of 100 Observations to the `galien`
//! binary — authenticated, authorized by the gate, converted, sealed, rule-checked, traced, durable
//! on answer — against the baseline of raw batched inserts of rows of the same size on the same
//! backend, one durable transaction per 100 rows (SQLite: WAL, `synchronous=FULL`; PostgreSQL: a
//! fresh database, default durability), from the same number of concurrent senders.
//!
//! Setup through the use cases on the lab's database: one médecin, one enrolled patient per
//! device, each device a machine client with its bearer token.

use anyhow::Context;
use galien_app::identity::machines;
use galien_app::patients::records::{self, IdentityInput, RawIdentity};
use galien_app::telemonitoring::{Programme, enrol};
use galien_app::{App, RequestContext};
use galien_core::identity::Actor;
use galien_core::patient::ConsentMeans;
use galien_core::{Clock, OsEntropy, SystemClock};
use galien_crypto::token::SecretToken;
use galien_store::testing::TestDatabase;
use galien_store::{Backend, DatabaseUrl, NewMachineClient};
use serde_json::json;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::Args;
use crate::measure::{Measured, measured};
use crate::node::{Lab, app_for, medecin};
use crate::report::{Outcome, Row, ms_json, table};

/// Observations per request.
const BATCH: usize = 100;

/// One enrolled patient with its device's bearer token.
async fn device_for(app: &App, doctor: &Actor, n: usize) -> anyhow::Result<(String, String)> {
    let ctx = RequestContext::default();
    let raw = RawIdentity {
        birth_name: format!("Bench{n}"),
        first_names: "Patient".into(),
        sex: "F".into(),
        birth_date: "1950-01-01".into(),
        ..RawIdentity::default()
    };
    let input = IdentityInput::parse(&raw, SystemClock.now().date())
        .map_err(|c| anyhow::anyhow!("{c:?}"))?;
    let patient = records::register(app, doctor, &ctx, input).await?;
    enrol::enrol(
        app,
        doctor,
        &ctx,
        patient,
        Programme::HeartFailure,
        None,
        "8-18",
        &[],
        ConsentMeans::Oral,
    )
    .await?;
    let secret = SecretToken::generate(&OsEntropy);
    let client = uuid::Uuid::now_v7();
    app.store
        .create_machine_client(NewMachineClient {
            id: client,
            name: format!("Device {n}"),
            kind: "device".into(),
            secret_hash: machines::hash_secret(app, &secret)?,
            scopes: vec!["observations.write".into()],
            created_at: SystemClock.now(),
            created_by: doctor.user,
        })
        .await?;
    enrol::attach_device(app, doctor, &ctx, patient, client).await?;
    let token = machines::token(
        app,
        &ctx,
        &client.to_string(),
        secret.expose(),
        Some("observations.write"),
    )
    .await?;
    Ok((patient.to_string(), token.token.expose().to_owned()))
}

fn bundle(patient: &str, first_minute: u64) -> String {
    let start = time::macros::datetime!(2026-01-01 0:00 UTC);
    let entries: Vec<_> = (0..BATCH as u64)
        .map(|i| {
            let at = start + time::Duration::minutes((first_minute + i) as i64);
            json!({ "resource": {
                "resourceType": "Observation",
                "status": "final",
                "code": { "coding": [{ "system": "http://loinc.org", "code": "8867-4" }] },
                "subject": { "reference": format!("Patient/{patient}") },
                "effectiveDateTime": at.format(&time::format_description::well_known::Rfc3339).unwrap_or_default(),
                "valueQuantity": { "value": 60 + (i % 40), "system": "http://unitsofmeasure.org", "code": "/min" },
            }})
        })
        .collect();
    json!({ "resourceType": "Bundle", "type": "batch", "entry": entries }).to_string()
}

/// One baseline operation on `pool` (SQLite's or PostgreSQL's): `BATCH` rows in one durable
/// transaction, their `effective_at` numbered from `counter`.
macro_rules! batch_of_inserts {
    ($pool:expr, $counter:expr) => {{
        let (pool, counter) = ($pool, $counter);
        move || {
            let (pool, c) = (pool.clone(), counter.clone());
            async move {
                let mut tx = pool.begin().await?;
                let first = c.fetch_add(BATCH as u64, Ordering::Relaxed);
                for i in 0..BATCH as i64 {
                    sqlx::query(INSERT)
                        .bind(uuid::Uuid::new_v4())
                        .bind(uuid::Uuid::nil())
                        .bind(first as i64 + i)
                        .bind(vec![0u8; 60])
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
                Ok(())
            }
        }
    }};
}

/// Raw batched inserts of `BATCH` rows per durable transaction, from `senders` tasks.
async fn baseline(backend: Backend, lab: &Lab, args: &Args) -> anyhow::Result<Measured> {
    let dur = Duration::from_secs(args.seconds);
    let label = format!("ingest/{}: baseline", backend.name());
    let counter = Arc::new(AtomicU64::new(0));
    const TABLE: &str = "CREATE TABLE bench_observations (id UUID PRIMARY KEY, patient_id UUID, \
         measure TEXT, effective_at BIGINT, source TEXT, value BYTEA, received_at BIGINT, \
         UNIQUE (patient_id, source, measure, effective_at))";
    const INSERT: &str =
        "INSERT INTO bench_observations VALUES ($1, $2, 'heart_rate', $3, 'device:x', $4, 0)";
    match backend {
        Backend::Sqlite => {
            let opts = sqlx::sqlite::SqliteConnectOptions::new()
                .filename(lab.path().join("baseline.db"))
                .create_if_missing(true)
                .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
                .synchronous(sqlx::sqlite::SqliteSynchronous::Full)
                .busy_timeout(Duration::from_secs(30));
            let pool = sqlx::sqlite::SqlitePoolOptions::new()
                .max_connections(1)
                .connect_with(opts)
                .await?;
            sqlx::query(TABLE).execute(&pool).await?;
            Ok(measured(
                &label,
                args.devices,
                dur,
                None,
                false,
                batch_of_inserts!(pool, counter),
            )
            .await)
        }
        Backend::Postgres => {
            let db = TestDatabase::postgres().await;
            let url = match db.url() {
                DatabaseUrl::Postgres { url } => url.clone(),
                DatabaseUrl::Sqlite { .. } => anyhow::bail!("unexpected SQLite URL"),
            };
            let pool = sqlx::postgres::PgPoolOptions::new()
                .max_connections(u32::try_from(args.devices.clamp(1, 10))?)
                .connect(&url)
                .await?;
            sqlx::query(TABLE).execute(&pool).await?;
            let m = measured(
                &label,
                args.devices,
                dur,
                None,
                true,
                batch_of_inserts!(pool, counter),
            )
            .await;
            db.drop_database().await;
            Ok(m)
        }
    }
}

pub(crate) async fn ingest(backend: Backend, args: &Args) -> anyhow::Result<Outcome> {
    let dur = Duration::from_secs(args.seconds);
    let devices = args.devices;
    let lab = Lab::new(backend).await?;
    let base = baseline(backend, &lab, args).await?;

    let node = lab.setup_node(None).await?;
    let app = app_for(&node)?;
    let doc = medecin(&app, "bench@galien.test", "Dr Bench").await?;
    let mut senders = Vec::new();
    for n in 0..devices {
        senders.push(device_for(&app, &doc, n).await?);
    }
    drop(app);
    let server = lab.serve(node).await?;
    let senders = Arc::new(senders);
    let url = server.url("/fhir/r4");
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(devices)
        .build()?;
    let next = Arc::new(AtomicU64::new(0));
    let minutes = Arc::new((0..devices).map(|_| AtomicU64::new(0)).collect::<Vec<_>>());
    let galien = measured(
        &format!("ingest/{}: galien", backend.name()),
        devices,
        dur,
        Some(server.pid()),
        matches!(backend, Backend::Postgres),
        move || {
            let (client, url, senders, next, minutes) = (
                client.clone(),
                url.clone(),
                senders.clone(),
                next.clone(),
                minutes.clone(),
            );
            async move {
                let who = (next.fetch_add(1, Ordering::Relaxed) as usize) % senders.len();
                let (patient, token) = senders.get(who).context("sender")?;
                let first = minutes
                    .get(who)
                    .context("minute")?
                    .fetch_add(BATCH as u64, Ordering::Relaxed);
                let r = client
                    .post(&url)
                    .bearer_auth(token)
                    .header("content-type", "application/fhir+json")
                    .body(bundle(patient, first))
                    .send()
                    .await?;
                anyhow::ensure!(r.status().is_success(), "status {}", r.status());
                Ok(())
            }
        },
    )
    .await;
    let rss = server.rss_kib();
    server.stop().await;
    let verified = lab.verify_audit().await;
    lab.close().await;
    let verified = verified?;
    let scale = BATCH as f64;
    let mut galien_row = Row::of(
        "galien: POST /fhir/r4 (auth, gate, seal, rules, traces)",
        &galien,
        scale,
        "obs/s",
        rss,
    );
    galien_row.note = if galien_row.note.is_empty() {
        verified.clone()
    } else {
        format!("{verified}; {}", galien_row.note)
    };
    table(
        &format!(
            "ingest — FHIR Bundles of {BATCH} Observations, {devices} devices, {} (latency per Bundle)",
            backend.name()
        ),
        &[
            Row::of(
                "baseline: raw batched durable inserts",
                &base,
                scale,
                "obs/s",
                None,
            ),
            galien_row,
        ],
    );
    let mut extra = serde_json::Map::new();
    extra.insert("baseline_p50_ms".into(), ms_json(base.p50));
    extra.insert("baseline_p99_ms".into(), ms_json(base.p99));
    extra.insert("devices".into(), json!(devices));
    extra.insert("latency_per".into(), json!("bundle of 100"));
    extra.insert("audit_verify".into(), json!(verified));
    galien.cpu.json_into("", &mut extra);
    base.cpu.json_into("baseline_", &mut extra);
    Ok(Outcome {
        scenario: "ingest",
        backend: backend.name(),
        rate: galien.rate() * scale,
        unit: "obs/s",
        baseline: base.rate() * scale,
        p50: Some(galien.p50),
        p99: Some(galien.p99),
        errors: galien.errors,
        rss_kib: rss,
        extra,
        qualifier: None,
    })
}
