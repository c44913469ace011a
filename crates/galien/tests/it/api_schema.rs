//! The API against its OpenAPI document (AUTH-9, ACT-1, ACT-3, TRACE-3): schemathesis (PyPI)
//! reads `GET /api/openapi.json` from a real node and sends generated requests — valid and
//! invalid — checking that no answer is a server error and that every answer (status, content
//! type, headers, body) is one the document describes. Real credentials and ids, so that the
//! examples reach the success paths: a device's bearer token (the device attached to an enrolled
//! patient, whose id replaces the document's example patient, and its id and secret the example
//! client), a médecin's two-factor session (the ICE servers, the FHIR reads of an appointment booked
//! with them, whose id replaces the example appointment, and of the patient's documents), and a
//! DPO's session for the audit trail's search and export (a second pass, on that path only).
//! Bounded: 30 examples per operation, one worker, a hard timeout per pass.
//!
//! A deeper pass, by hand: `GALIEN_ST_EXAMPLES` (examples per operation), `GALIEN_ST_SEED` (a
//! number, or `random`) and `GALIEN_ST_TIMEOUT_S` (the hard timeout of each pass) change those
//! bounds, e.g. `GALIEN_ST_EXAMPLES=1000 GALIEN_ST_SEED=random GALIEN_ST_TIMEOUT_S=1800 cargo
//! nextest run -p galien --test api_schema --no-capture`; the seed schemathesis used is in what it
//! prints.

#![allow(clippy::print_stdout)]

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use galien_app::identity::machines;
use galien_app::teleconsultation::appointments::{self, Booking};
use galien_app::telemonitoring::{Programme, enrol};
use galien_core::Clock;
use galien_core::identity::{Email, Role};
use galien_core::patient::ConsentMeans;
use galien_crypto::token::SecretToken;
use galien_store::{Backend, NewMachineClient};
use galien_testkit::people::{self, Enrolled, Inviter};
use uuid::Uuid;

use crate::common;
use common::{T0, World, ctx, world};

/// The patient the document's examples name; replaced by a real one.
const EXAMPLE_PATIENT: &str = "0191d6a8-7c4e-7cc0-8000-000000000001";
/// The machine client and secret of the document's token example; replaced by the device's.
const EXAMPLE_CLIENT: &str = "0191d6a8-7c4e-7cc0-8000-0000000000c1";
const EXAMPLE_SECRET: &str = "example-client-secret";
/// The appointment of the document's FHIR read examples; replaced by one booked with the médecin.
const EXAMPLE_APPOINTMENT: &str = "0191d6a8-7c4e-7cc0-8000-0000000000a1";
/// The médecin whose session reads teleconsultation.
const MEDECIN_EMAIL: &str = "j.teleconsult@galien.test";
/// Longest the pass may take before it is stopped and the test fails.
const HARD_TIMEOUT: Duration = Duration::from_secs(150);

/// A bound of the pass: the environment's `var` if set (a deeper pass by hand), else `default`.
fn bound(var: &str, default: &str) -> String {
    match std::env::var(var) {
        Ok(v) if !v.trim().is_empty() => v.trim().to_owned(),
        _ => default.to_owned(),
    }
}

/// The value of a person's `galien_session` cookie, signed in with password and TOTP.
async fn session_of(w: &World, who: &Enrolled) -> String {
    people::session_cookie(&w.server, &w.clock, who)
        .await
        .strip_prefix("galien_session=")
        .expect("a session cookie")
        .to_owned()
}

/// One schemathesis pass over the operations `paths` selects, with these credentials; what it
/// said. Fails the test on any problem.
async fn schemathesis(
    schema: &Path,
    base_url: &str,
    creds: &Credentials<'_>,
    paths: Paths<'_>,
) -> String {
    let dir = schema.parent().unwrap();
    // Credentials by security scheme, so that schemathesis sends each only where the document
    // asks for it and can check that leaving it out is refused.
    let config = dir.join("schemathesis.toml");
    std::fs::write(
        &config,
        "[auth.openapi.bearerAuth]\nbearer = \"${GALIEN_ST_BEARER}\"\n\
         [auth.openapi.basicAuth]\nusername = \"${GALIEN_ST_CLIENT}\"\npassword = \"${GALIEN_ST_SECRET}\"\n\
         [auth.openapi.sessionCookie]\napi_key = \"${GALIEN_ST_SESSION}\"\n",
    )
    .unwrap();
    let examples = bound("GALIEN_ST_EXAMPLES", "30");
    let seed = bound("GALIEN_ST_SEED", "8");
    let hard_timeout = Duration::from_secs(
        bound("GALIEN_ST_TIMEOUT_S", "")
            .parse()
            .unwrap_or(HARD_TIMEOUT.as_secs()),
    );
    let mut st = tokio::process::Command::new("python3");
    st.args(["-m", "schemathesis.cli", "--config-file"])
        .arg(&config)
        .arg("run")
        .arg(schema)
        .args(["--url", base_url])
        .env("GALIEN_ST_BEARER", creds.bearer)
        .env("GALIEN_ST_CLIENT", creds.client)
        .env("GALIEN_ST_SECRET", creds.secret)
        .env("GALIEN_ST_SESSION", creds.session)
        .args([
            "--checks",
            "not_a_server_error,status_code_conformance,content_type_conformance,\
             response_headers_conformance,response_schema_conformance,negative_data_rejection,\
             missing_required_header,unsupported_method,ignored_auth",
        ])
        .args(["--phases", "examples,coverage,fuzzing"])
        .args(["--max-examples", &examples]);
    match paths {
        Paths::Only(p) => st.args(["--include-path", p]),
        Paths::AllBut(p) => st.args(["--exclude-path", p]),
    };
    if seed != "random" {
        st.args(["--seed", &seed]);
    }
    st.args(["--workers", "1"])
        .args(["--request-timeout", "10"])
        .args(["--generation-database", "none"])
        .args(["--report-dir"])
        .arg(dir.join("report"))
        .args(["--no-color", "--suppress-health-check", "all"])
        .env("SCHEMATHESIS_HOOKS", "")
        .current_dir(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let out = tokio::time::timeout(hard_timeout, st.output())
        .await
        .unwrap_or_else(|_| panic!("schemathesis did not finish within {hard_timeout:?}"))
        .expect("python3 -m schemathesis.cli (pip install 'schemathesis>=4,<5')");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "schemathesis found problems ({:?}):\n{said}",
        out.status
    );
    said
}

/// What a pass sends, by security scheme.
struct Credentials<'a> {
    bearer: &'a str,
    client: &'a str,
    secret: &'a str,
    session: &'a str,
}

/// Which operations a pass covers.
#[derive(Clone, Copy)]
enum Paths<'a> {
    Only(&'a str),
    AllBut(&'a str),
}

/// The DPO's path: the trail's search and export.
const AUDIT_PATH: &str = "/api/audit/events";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth9_act3_machine_api_matches_its_openapi_document_without_server_errors_sqlite() {
    machine_api_matches_its_openapi_document(Backend::Sqlite).await;
}

/// The same passes on PostgreSQL, which refuses what SQLite stores (a NUL character in text, an
/// out-of-range number): such an input must be a 4xx there too, never a 500.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth9_act3_machine_api_matches_its_openapi_document_without_server_errors_postgres() {
    machine_api_matches_its_openapi_document(Backend::Postgres).await;
}

async fn machine_api_matches_its_openapi_document(backend: Backend) {
    let w = world(backend).await;
    let doctor = w.person("a@chu.fr", Role::Medecin).await;
    let patient = w.register(&doctor, "Durand", "").await;
    enrol::enrol(
        &w.app,
        &doctor,
        &ctx(),
        patient,
        Programme::HeartFailure,
        None,
        "8-18",
        &[],
        ConsentMeans::Oral,
    )
    .await
    .unwrap();
    let secret = SecretToken::generate(w.app.entropy.as_ref());
    let device = Uuid::now_v7();
    w.app
        .store
        .create_machine_client(NewMachineClient {
            id: device,
            name: "Balance connectée".into(),
            kind: "device".into(),
            secret_hash: machines::hash_secret(&w.app, &secret).unwrap(),
            scopes: vec!["observations.write".into()],
            created_at: T0,
            created_by: doctor.user,
        })
        .await
        .unwrap();
    enrol::attach_device(&w.app, &doctor, &ctx(), patient, device)
        .await
        .unwrap();
    let token = machines::token(
        &w.app,
        &ctx(),
        &device.to_string(),
        secret.expose(),
        Some("observations.write"),
    )
    .await
    .unwrap()
    .token
    .expose()
    .to_owned();

    // People with two-factor sessions, signed in through the pages: a médecin with a
    // teleconsultation booked with the patient, and a DPO.
    let admin = people::enrol_first_admin(&w.server, &w.clock).await;
    let inviter = Inviter::new(&w.server, &w.clock, &admin);
    let medecin = inviter
        .person(
            "medecin",
            "Dr Jeanne Téléconsult",
            MEDECIN_EMAIL,
            Some("1000000042"),
        )
        .await;
    let dpo = inviter
        .person("dpo", "Delphine Po", "dpo@galien.test", None)
        .await;
    let practitioner = w
        .app
        .store
        .user_by_email(&Email::parse(MEDECIN_EMAIL).unwrap())
        .await
        .unwrap()
        .id;
    let appointment = appointments::book(
        &w.app,
        &doctor,
        &ctx(),
        Booking {
            patient,
            practitioner,
            at: w.clock.now() + time::Duration::days(1),
            duration_minutes: 20,
            reason: "Suivi de l'insuffisance cardiaque".into(),
            referring: None,
        },
    )
    .await
    .unwrap()
    .id;
    let medecin_session = session_of(&w, &medecin).await;
    let dpo_session = session_of(&w, &dpo).await;
    // The credentials reach the success paths (else the passes would test refusals only).
    let http = reqwest::Client::new();
    for (session, path) in [
        (
            &medecin_session,
            format!("/fhir/r4/Appointment/{appointment}"),
        ),
        (
            &medecin_session,
            format!("/fhir/r4/Encounter/{appointment}"),
        ),
        (
            &medecin_session,
            format!("/fhir/r4/DocumentReference?patient={patient}"),
        ),
        (&dpo_session, format!("{AUDIT_PATH}?format=fhir&limit=5")),
    ] {
        let r = http
            .get(w.server.url(&path))
            .header("cookie", format!("galien_session={session}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{path}: {}", r.text().await.unwrap());
    }

    // The document as served, its example patient, appointment and client made real.
    let r = w.server.get("/api/openapi.json").await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/json");
    let served = r.text().await.unwrap();
    let _: serde_json::Value = serde_json::from_str(&served).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let schema = dir.path().join("openapi.json");
    std::fs::write(
        &schema,
        served
            .replace(EXAMPLE_PATIENT, &patient.to_string())
            .replace(EXAMPLE_APPOINTMENT, &appointment.to_string())
            .replace(EXAMPLE_CLIENT, &device.to_string())
            .replace(EXAMPLE_SECRET, secret.expose()),
    )
    .unwrap();

    let client = device.to_string();
    let mut creds = Credentials {
        bearer: &token,
        client: &client,
        secret: secret.expose(),
        session: &medecin_session,
    };
    let said = schemathesis(
        &schema,
        &w.server.base_url,
        &creds,
        Paths::AllBut(AUDIT_PATH),
    )
    .await;
    // The summaries, for the closing notes.
    println!("api_schema: {backend:?}: schemathesis said (device, médecin):\n{said}");
    creds.session = &dpo_session;
    let said = schemathesis(&schema, &w.server.base_url, &creds, Paths::Only(AUDIT_PATH)).await;
    println!("api_schema: {backend:?}: schemathesis said (DPO, {AUDIT_PATH}):\n{said}");
    w.server.stop().await;
}
