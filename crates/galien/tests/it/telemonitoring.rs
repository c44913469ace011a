//! Telemonitoring ingestion over FHIR R4 (ACT-3): a médecin enrols a patient and attaches a device;
//! the device posts Observations — alone, in a batch, in a transaction — with its bearer token; values
//! are converted to canonical units, stored once (duplicates are idempotent), sealed at rest, traced,
//! and a reading beyond a threshold opens an alert. Bad input gets an OperationOutcome and stores
//! nothing partial. Output is checked with an independent FHIR library (PyPI `fhir.resources`).

use galien_app::identity::machines;
use galien_app::telemonitoring::Programme;
use galien_app::telemonitoring::enrol;
use galien_core::audit::AuditAction;
use galien_core::identity::{Email, Role};
use galien_core::ids::PatientId;
use galien_core::patient::ConsentMeans;
use galien_crypto::token::SecretToken;
use galien_store::{AuditFilter, Backend, NewMachineClient};
use serde_json::{Value, json};
use time::Duration;
use uuid::Uuid;

use crate::common;
use common::{T0, World, app_for, ctx, world};

struct Device {
    id: Uuid,
    token: String,
}

async fn device(w: &World, by: galien_core::ids::UserId) -> Device {
    let secret = SecretToken::generate(w.app.entropy.as_ref());
    let id = Uuid::now_v7();
    w.app
        .store
        .create_machine_client(NewMachineClient {
            id,
            name: "Balance connectée".into(),
            kind: "device".into(),
            secret_hash: machines::hash_secret(&w.app, &secret).unwrap(),
            scopes: vec!["observations.write".into()],
            created_at: T0,
            created_by: by,
        })
        .await
        .unwrap();
    let issued = machines::token(
        &w.app,
        &ctx(),
        &id.to_string(),
        secret.expose(),
        Some("observations.write"),
    )
    .await
    .unwrap();
    Device {
        id,
        token: issued.token.expose().to_owned(),
    }
}

fn observation(patient: PatientId, code: &str, value: Value, unit: &str, at: &str) -> Value {
    json!({
        "resourceType": "Observation",
        "status": "final",
        "code": { "coding": [{ "system": "http://loinc.org", "code": code }] },
        "subject": { "reference": format!("Patient/{patient}") },
        "effectiveDateTime": at,
        "valueQuantity": { "value": value, "system": "http://unitsofmeasure.org", "code": unit },
    })
}

fn bundle(kind: &str, entries: Vec<Value>) -> Value {
    json!({
        "resourceType": "Bundle",
        "type": kind,
        "entry": entries.into_iter().map(|r| json!({
            "resource": r,
            "request": { "method": "POST", "url": "Observation" },
        })).collect::<Vec<_>>(),
    })
}

async fn post(w: &World, token: &str, body: &Value) -> (u16, Value) {
    let r = w
        .server
        .client
        .post(w.server.url("/fhir/r4"))
        .bearer_auth(token)
        .header("content-type", "application/fhir+json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/fhir+json")
    );
    (status, r.json().await.unwrap())
}

async fn stored(w: &World, patient: PatientId) -> usize {
    w.app
        .store
        .audit_events(&AuditFilter {
            patient: Some(patient),
            action: Some(AuditAction::RecordWrite),
            limit: Some(1000),
            ..AuditFilter::default()
        })
        .await
        .unwrap()
        .iter()
        .filter(|e| {
            e.event
                .resource
                .as_ref()
                .is_some_and(|r| r.kind == "observation")
        })
        .count()
}

/// Validates FHIR JSON with the independent `fhir.resources` library (R4B models).
fn validate_with_fhir_resources(doc: &Value) {
    let out = std::process::Command::new("python3")
        .arg("-c")
        .arg(
            "import sys, json\n\
             from fhir.resources.R4B.bundle import Bundle\n\
             from fhir.resources.R4B.observation import Observation\n\
             from fhir.resources.R4B.operationoutcome import OperationOutcome\n\
             d = json.load(sys.stdin)\n\
             {'Bundle': Bundle, 'Observation': Observation, 'OperationOutcome': OperationOutcome}[d['resourceType']].model_validate(d)\n",
        )
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child.stdin.take().unwrap().write_all(doc.to_string().as_bytes())?;
            child.wait_with_output()
        })
        .unwrap();
    assert!(
        out.status.success(),
        "fhir.resources refused {doc}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn act3_devices_post_observations_through_the_gate() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        run(backend).await;
    }
}

async fn run(backend: Backend) {
    let w = world(backend).await;
    let doctor = w.person("a@chu.fr", Role::Medecin).await;
    let _nurse = w.person("n@chu.fr", Role::Infirmier).await;
    let p = w.register(&doctor, "Durand", "").await;
    let q = w.register(&doctor, "Autre", "").await;
    enrol::enrol(
        &w.app,
        &doctor,
        &ctx(),
        p,
        Programme::HeartFailure,
        None,
        "8-18",
        &[Email::parse("n@chu.fr").unwrap()],
        ConsentMeans::Oral,
    )
    .await
    .unwrap();
    let scale = device(&w, doctor.user).await;
    enrol::attach_device(&w.app, &doctor, &ctx(), p, scale.id)
        .await
        .unwrap();

    // One Observation, in grams: stored in kg, 201 with the stored resource.
    let at = "2026-11-02T08:00:00+01:00";
    let (status, body) = post(
        &w,
        &scale.token,
        &observation(p, "29463-7", json!(72500), "g", at),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["valueQuantity"]["value"], json!(72.5));
    assert_eq!(body["valueQuantity"]["code"], json!("kg"));
    validate_with_fhir_resources(&body);
    // The same again: idempotent (200, nothing new).
    let (status, body) = post(
        &w,
        &scale.token,
        &observation(p, "29463-7", json!(72.5), "kg", at),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    validate_with_fhir_resources(&body);

    // A batch: one good, one unknown code, one for a patient the device is not enrolled for,
    // one low SpO2 (alert), one in the future.
    let future = (T0 + Duration::days(2))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let (status, body) = post(
        &w,
        &scale.token,
        &bundle(
            "batch",
            vec![
                observation(p, "8867-4", json!(72), "/min", "2026-11-02T08:01:00+01:00"),
                observation(p, "1234-5", json!(1), "kg", at),
                observation(q, "29463-7", json!(60), "kg", at),
                observation(p, "59408-5", json!(86), "%", "2026-11-02T08:02:00+01:00"),
                observation(p, "29463-7", json!(73), "kg", &future),
            ],
        ),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    validate_with_fhir_resources(&body);
    let statuses: Vec<&str> = body["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["response"]["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        statuses,
        [
            "201 Created",
            "422 Unprocessable Entity",
            "403 Forbidden",
            "201 Created",
            "422 Unprocessable Entity"
        ]
    );
    assert_eq!(
        body["entry"][1]["response"]["outcome"]["issue"][0]["details"]["coding"][0]["code"],
        json!("OBS-CODE-UNKNOWN")
    );
    // The refusal for the other patient is traced as a denial naming the device.
    let denied = w
        .app
        .store
        .audit_events(&AuditFilter {
            patient: Some(q),
            action: Some(AuditAction::AccessDenied),
            ..AuditFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(denied.len(), 1);
    assert_eq!(
        denied[0].event.actor.client.as_deref(),
        Some(scale.id.to_string().as_str())
    );
    // The low SpO2 opened one alert.
    let alerts = w.app.store.open_alerts().await.unwrap();
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(
        (alerts[0].patient, alerts[0].rule.as_str()),
        (p, "threshold_low")
    );

    // A transaction with one bad entry stores nothing.
    let before = stored(&w, p).await;
    let (status, body) = post(
        &w,
        &scale.token,
        &bundle(
            "transaction",
            vec![
                observation(p, "8867-4", json!(75), "/min", "2026-11-02T09:00:00+01:00"),
                observation(
                    p,
                    "8867-4",
                    json!("soixante"),
                    "/min",
                    "2026-11-02T09:01:00+01:00",
                ),
            ],
        ),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["resourceType"], json!("OperationOutcome"));
    validate_with_fhir_resources(&body);
    assert_eq!(stored(&w, p).await, before);
    // A good transaction: all of it, with a blood-pressure panel split into its two values.
    let panel = json!({
        "resourceType": "Observation",
        "status": "final",
        "code": { "coding": [{ "system": "http://loinc.org", "code": "85354-9" }] },
        "subject": { "reference": format!("Patient/{p}") },
        "effectiveDateTime": "2026-11-02T09:05:00+01:00",
        "component": [
            { "code": { "coding": [{ "system": "http://loinc.org", "code": "8480-6" }] },
              "valueQuantity": { "value": 16, "system": "http://unitsofmeasure.org", "code": "kPa" } },
            { "code": { "coding": [{ "system": "http://loinc.org", "code": "8462-4" }] },
              "valueQuantity": { "value": 80, "system": "http://unitsofmeasure.org", "code": "mm[Hg]" } },
        ],
    });
    let (status, body) = post(
        &w,
        &scale.token,
        &bundle(
            "transaction",
            vec![
                observation(p, "8867-4", json!(75), "/min", "2026-11-02T09:00:00+01:00"),
                panel,
            ],
        ),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    validate_with_fhir_resources(&body);
    assert_eq!(body["type"], json!("transaction-response"));
    assert_eq!(body["entry"].as_array().unwrap().len(), 3);
    let systolic = body["entry"][1]["resource"]["valueQuantity"]["value"]
        .as_f64()
        .unwrap();
    assert!((systolic - 120.0).abs() < 0.1, "{systolic}");

    // No token, a bad token, a non-FHIR body: OperationOutcomes.
    let r = w
        .server
        .client
        .post(w.server.url("/fhir/r4"))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    let (status, body) = post(&w, "not-a-token", &json!({})).await;
    assert_eq!(status, 401, "{body}");
    let (status, body) = post(&w, &scale.token, &json!({"resourceType": "Patient"})).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(
        body["issue"][0]["details"]["coding"][0]["code"],
        json!("OBS-INVALID")
    );
    w.server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn act3_weight_trend_alert_decision_and_the_patients_own_entries() {
    use galien_app::patients::access_log;
    use galien_app::telemonitoring::alerts::{self, Decision};
    use galien_core::measure::Measure;
    let w = world(Backend::Sqlite).await;
    let doctor = w.person("a@chu.fr", Role::Medecin).await;
    let nurse = w.person("n@chu.fr", Role::Infirmier).await;
    let stranger = w.person("s@chu.fr", Role::Infirmier).await;
    let patient_user = w.person("durand@example.fr", Role::Patient).await;
    let p = w.register(&doctor, "Durand", "").await;
    access_log::link_account(
        &w.app,
        &doctor,
        &ctx(),
        p,
        &Email::parse("durand@example.fr").unwrap(),
    )
    .await
    .unwrap();
    enrol::enrol(
        &w.app,
        &doctor,
        &ctx(),
        p,
        Programme::HeartFailure,
        None,
        "8-18",
        &[Email::parse("n@chu.fr").unwrap()],
        ConsentMeans::Written,
    )
    .await
    .unwrap();
    // Twice in the same programme: refused.
    let again = enrol::enrol(
        &w.app,
        &doctor,
        &ctx(),
        p,
        Programme::HeartFailure,
        None,
        "8-18",
        &[],
        ConsentMeans::Written,
    )
    .await
    .unwrap_err();
    assert_eq!(again.code(), galien_core::ErrorCode::AlreadyEnrolled);

    // The patient enters weights by hand: 70 kg, then 72.4 kg two days later → +2.4 kg in 3 days.
    let at = |h: i64| T0 - Duration::days(3) + Duration::hours(h);
    alerts::record_own(
        &w.app,
        &patient_user,
        &ctx(),
        Measure::Weight,
        70.0,
        "kg",
        at(0),
    )
    .await
    .unwrap();
    assert!(
        alerts::board(&w.app, &nurse, &ctx())
            .await
            .unwrap()
            .is_empty()
    );
    alerts::record_own(
        &w.app,
        &patient_user,
        &ctx(),
        Measure::Weight,
        72_400.0,
        "g",
        at(48),
    )
    .await
    .unwrap();
    // A unit that makes no sense, and a value no one has: refused, nothing stored.
    assert_eq!(
        alerts::record_own(
            &w.app,
            &patient_user,
            &ctx(),
            Measure::Weight,
            72.0,
            "mmol/L",
            at(49)
        )
        .await
        .unwrap_err()
        .code(),
        galien_core::ErrorCode::ObservationUnitInvalid
    );
    assert_eq!(
        alerts::record_own(
            &w.app,
            &patient_user,
            &ctx(),
            Measure::Weight,
            7200.0,
            "kg",
            at(49)
        )
        .await
        .unwrap_err()
        .code(),
        galien_core::ErrorCode::ObservationImplausible
    );
    // The monitoring nurse sees one alert; a nurse without relationship sees nothing.
    let board = alerts::board(&w.app, &nurse, &ctx()).await.unwrap();
    assert_eq!(board.len(), 1, "{board:?}");
    assert_eq!(board[0].alert.rule, "trend_weight_gain");
    assert_eq!(board[0].patient.display_name, "MARTIN Héloïse");
    assert!(
        alerts::board(&w.app, &stranger, &ctx())
            .await
            .unwrap()
            .is_empty()
    );
    let id = board[0].alert.id;
    assert!(
        alerts::acknowledge(&w.app, &nurse, &ctx(), id)
            .await
            .unwrap()
    );
    assert!(
        !alerts::acknowledge(&w.app, &nurse, &ctx(), id)
            .await
            .unwrap()
    );
    assert_eq!(
        alerts::close(&w.app, &stranger, &ctx(), id, Decision::NoAction, "")
            .await
            .unwrap_err()
            .code(),
        galien_core::ErrorCode::AccessDenied
    );
    assert!(
        alerts::close(
            &w.app,
            &nurse,
            &ctx(),
            id,
            Decision::CallPatient,
            "Appel : diurétique ajusté"
        )
        .await
        .unwrap()
    );
    assert!(
        alerts::board(&w.app, &nurse, &ctx())
            .await
            .unwrap()
            .is_empty()
    );

    // The series for charts: both weights, in kg, with the programme's thresholds.
    let series = alerts::series(&w.app, &nurse, &ctx(), p, 30).await.unwrap();
    let weight = series
        .iter()
        .find(|s| s.measure == Measure::Weight)
        .unwrap();
    assert_eq!(weight.points.len(), 2);
    assert!((weight.points[1].1 - 72.4).abs() < 1e-9);
    let spo2 = series.iter().find(|s| s.measure == Measure::Spo2).unwrap();
    assert_eq!(spo2.threshold.unwrap().low, Some(90.0));
    // The patient reads their own series; a stranger cannot.
    assert_eq!(
        alerts::series(&w.app, &patient_user, &ctx(), p, 30)
            .await
            .unwrap()
            .len(),
        series.len()
    );
    assert_eq!(
        alerts::series(&w.app, &stranger, &ctx(), p, 30)
            .await
            .unwrap_err()
            .code(),
        galien_core::ErrorCode::AccessDenied
    );
    w.server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn act3_thresholds_are_set_per_patient() {
    use galien_app::telemonitoring::{Threshold, Thresholds, alerts};
    use galien_core::measure::Measure;
    let w = world(Backend::Sqlite).await;
    let doctor = w.person("a@chu.fr", Role::Medecin).await;
    let stranger = w.person("s@chu.fr", Role::Medecin).await;
    let p = w.register(&doctor, "Durand", "").await;
    enrol::enrol(
        &w.app,
        &doctor,
        &ctx(),
        p,
        Programme::RespiratoryFailure,
        None,
        "8-18",
        &[],
        ConsentMeans::Oral,
    )
    .await
    .unwrap();
    let set = |low: Option<f64>, high: Option<f64>, m: Measure| {
        let mut t = Thresholds::new();
        t.insert(m, Threshold { low, high });
        t
    };
    // This patient lives at 86-88 % SpO2: the médecin lowers the low threshold to 85 %.
    enrol::set_thresholds(
        &w.app,
        &doctor,
        &ctx(),
        p,
        set(Some(85.0), None, Measure::Spo2),
    )
    .await
    .unwrap();
    let series = alerts::series(&w.app, &doctor, &ctx(), p, 30)
        .await
        .unwrap();
    let spo2 = series.iter().find(|s| s.measure == Measure::Spo2).unwrap();
    assert_eq!(spo2.threshold.unwrap().low, Some(85.0));
    // Heart rate keeps the programme's limits.
    let hr = series
        .iter()
        .find(|s| s.measure == Measure::HeartRate)
        .unwrap();
    assert_eq!(hr.threshold.unwrap().high, Some(110.0));
    // Nonsense is refused: low above high, outside what is plausible, a measure not monitored.
    for bad in [
        set(Some(95.0), Some(90.0), Measure::Spo2),
        set(Some(10.0), None, Measure::Spo2),
        set(Some(70.0), Some(250.0), Measure::Glucose),
    ] {
        assert_eq!(
            enrol::set_thresholds(&w.app, &doctor, &ctx(), p, bad)
                .await
                .unwrap_err()
                .code(),
            galien_core::ErrorCode::FormInvalid
        );
    }
    // The refusals changed nothing.
    let series = alerts::series(&w.app, &doctor, &ctx(), p, 30)
        .await
        .unwrap();
    let spo2 = series.iter().find(|s| s.measure == Measure::Spo2).unwrap();
    assert_eq!(spo2.threshold.unwrap().low, Some(85.0));
    assert!(series.iter().all(|s| s.measure != Measure::Glucose));
    // Someone without a relationship cannot.
    assert_eq!(
        enrol::set_thresholds(
            &w.app,
            &stranger,
            &ctx(),
            p,
            set(Some(80.0), None, Measure::Spo2)
        )
        .await
        .unwrap_err()
        .code(),
        galien_core::ErrorCode::AccessDenied
    );
    w.server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn act3_an_organisation_changes_programme_thresholds_without_a_rebuild() {
    use galien_core::measure::Measure;
    let w = world(Backend::Sqlite).await;
    let doctor = w.person("a@chu.fr", Role::Medecin).await;
    let p = w.register(&doctor, "Durand", "").await;
    std::fs::write(
        w.server.data_dir.join("programmes.toml"),
        "[insuffisance_respiratoire.spo2]\nlow = 88\n",
    )
    .unwrap();
    let app = app_for(&w.server, &w.clock, Vec::new()).unwrap();
    enrol::enrol(
        &app,
        &doctor,
        &ctx(),
        p,
        Programme::RespiratoryFailure,
        None,
        "8-18",
        &[],
        ConsentMeans::Oral,
    )
    .await
    .unwrap();
    let series = galien_app::telemonitoring::alerts::series(&app, &doctor, &ctx(), p, 30)
        .await
        .unwrap();
    let spo2 = series.iter().find(|s| s.measure == Measure::Spo2).unwrap();
    assert_eq!(spo2.threshold.unwrap().low, Some(88.0));
    // A broken file stops the start with the key at fault.
    std::fs::write(
        w.server.data_dir.join("programmes.toml"),
        "[insuffisance_respiratoire.spo2]\nlow = 101\n",
    )
    .unwrap();
    let err = app_for(&w.server, &w.clock, Vec::new())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("programmes.toml: insuffisance_respiratoire.spo2"),
        "{err}"
    );
    w.server.stop().await;
}
