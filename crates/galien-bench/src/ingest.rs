//! `ingest` (ACT-3, issue 7/8): devices post FHIR Bundles of 100 Observations to a full node —
//! authenticated, authorized by the gate, converted, sealed, rule-checked, traced, durable on
//! answer — against the baseline of raw batched SQLite inserts of rows of the same size, one durable
//! transaction per 100 rows (WAL, `synchronous=FULL`), from the same number of concurrent senders.

use anyhow::Context;
use galien::Capabilities;
use galien::config::Flags;
use galien_app::identity::machines;
use galien_app::patients::records::{self, IdentityInput, RawIdentity};
use galien_app::telemonitoring::{Programme, enrol};
use galien_app::{App, RequestContext};
use galien_core::identity::{AccountStatus, Actor, Assurance, AuthMethod, Email, Role};
use galien_core::ids::UserId;
use galien_core::patient::ConsentMeans;
use galien_core::{Clock, OsEntropy, SystemClock};
use galien_crypto::token::SecretToken;
use galien_store::{Backend, NewMachineClient, NewUser};
use serde_json::json;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::{Args, line, rate};

/// Observations per request.
const BATCH: usize = 100;

async fn app_for(node: &galien_testkit::TestServer) -> anyhow::Result<App> {
    let config = galien_testkit::valid_config(&Flags(vec![(
        "--data-dir",
        "data_dir",
        toml::Value::String(node.data_dir.display().to_string()),
    )]));
    let master = galien_crypto::keyfile::load(&node.data_dir.join("keys").join("master.key"))?;
    let caps = Capabilities {
        clock: Arc::new(SystemClock),
        entropy: Arc::new(OsEntropy),
    };
    galien::startup::make_app(
        &config,
        &caps,
        node.store.clone(),
        &master,
        node.base_url.clone(),
    )
    .map_err(|e| anyhow::anyhow!("{e}"))
}

async fn doctor(app: &App) -> anyhow::Result<Actor> {
    let id = UserId::generate(SystemClock.now(), &OsEntropy);
    app.store
        .create_user(NewUser {
            id,
            email: Email::parse("bench@galien.test").context("email")?,
            display_name: "Dr Bench".into(),
            role: Role::Medecin,
            professional_id: None,
            organisation: None,
            status: AccountStatus::Active,
            created_at: SystemClock.now(),
            created_by: None,
        })
        .await?;
    Ok(Actor {
        user: id,
        role: Role::Medecin,
        method: AuthMethod::PasswordTotp,
        assurance: Assurance::TwoFactors,
    })
}

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

pub async fn ingest(args: &Args) -> anyhow::Result<()> {
    let dur = Duration::from_secs(args.seconds);
    let devices = args.devices;
    // Baseline: raw batched inserts, same durability, same row size, same concurrency.
    let dir = tempfile::tempdir()?;
    let opts = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(dir.path().join("baseline.db"))
        .create_if_missing(true)
        .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
        .synchronous(sqlx::sqlite::SqliteSynchronous::Full)
        .busy_timeout(Duration::from_secs(30));
    let pool = sqlx::sqlite::SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(opts)
        .await?;
    sqlx::query(
        "CREATE TABLE observations (id BLOB PRIMARY KEY, patient_id BLOB, measure TEXT, \
         effective_at BIGINT, source TEXT, value BLOB, received_at BIGINT, \
         UNIQUE (patient_id, source, measure, effective_at))",
    )
    .execute(&pool)
    .await?;
    let counter = Arc::new(AtomicU64::new(0));
    let c = counter.clone();
    let base = rate(devices, dur, move || {
        let pool = pool.clone();
        let c = c.clone();
        async move {
            let mut tx = pool.begin().await?;
            let first = c.fetch_add(BATCH as u64, Ordering::Relaxed);
            for i in 0..BATCH as i64 {
                sqlx::query(
                    "INSERT INTO observations VALUES ($1, $2, 'heart_rate', $3, 'device:x', $4, 0)",
                )
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
    })
    .await
        * BATCH as f64;

    let node = galien_testkit::TestServer::start(Backend::Sqlite).await;
    let app = app_for(&node).await?;
    let doc = doctor(&app).await?;
    let mut senders = Vec::new();
    for n in 0..devices {
        senders.push(device_for(&app, &doc, n).await?);
    }
    let senders = Arc::new(senders);
    let url = node.url("/fhir/r4");
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(devices)
        .build()?;
    let next = Arc::new(AtomicU64::new(0));
    let minutes = Arc::new((0..devices).map(|_| AtomicU64::new(0)).collect::<Vec<_>>());
    let galien = rate(devices, dur, move || {
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
    })
    .await
        * BATCH as f64;
    line(
        &format!("ingest: FHIR batches of {BATCH}, {devices} devices"),
        base,
        galien,
        "obs/s",
    );
    println!(
        "ingest: {galien:.0} obs/s, baseline {base:.0} obs/s, ratio {:.2}",
        galien / base.max(1e-9)
    );
    node.stop().await;
    Ok(())
}
