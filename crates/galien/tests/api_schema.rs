//! The machine API against its OpenAPI document (AUTH-9, ACT-3): schemathesis (PyPI) reads
//! `GET /api/openapi.json` from a real node and sends generated requests — valid and invalid — with
//! a device's bearer token, checking that no answer is a server error and that every answer
//! (status, content type, headers, body) is one the document describes. The device is attached to
//! an enrolled patient, whose id replaces the document's example patient (and its id and secret
//! the example client), so the examples really issue tokens and store measurements; a person's two-factor session covers the routes of signed-in pages
//! (`/calls/ice-servers`). Bounded: 30 examples per operation, one worker, a hard timeout.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stdout
)]

use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use galien_app::identity::machines;
use galien_app::telemonitoring::{Programme, enrol};
use galien_core::ManualClock;
use galien_core::identity::Role;
use galien_core::patient::ConsentMeans;
use galien_crypto::token::SecretToken;
use galien_store::{Backend, NewMachineClient};
use galien_testkit::TestServer;
use galien_testkit::people::{self, PASSWORD, Page};
use reqwest::cookie::CookieStore;
use uuid::Uuid;

mod common;
use common::{T0, ctx, world};

/// The patient the document's examples name; replaced by a real one.
const EXAMPLE_PATIENT: &str = "0191d6a8-7c4e-7cc0-8000-000000000001";
/// The machine client and secret of the document's token example; replaced by the device's.
const EXAMPLE_CLIENT: &str = "0191d6a8-7c4e-7cc0-8000-0000000000c1";
const EXAMPLE_SECRET: &str = "example-client-secret";
/// Longest the pass may take before it is stopped and the test fails.
const HARD_TIMEOUT: Duration = Duration::from_secs(150);

/// Enrols the first administrator through the link of the first start (password, then TOTP) and
/// returns their session (the value of the `galien_session` cookie).
async fn first_admin_session(server: &TestServer, clock: &ManualClock) -> String {
    let jar = Arc::new(reqwest::cookie::Jar::default());
    let client = reqwest::Client::builder()
        .cookie_provider(jar.clone())
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let link = server.first_admin_link.clone().unwrap();
    let r = client
        .post(&link)
        .form(&[
            ("display_name", "Alice Admin"),
            ("email", "admin@galien.test"),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let page = client
        .get(server.url("/account/totp"))
        .send()
        .await
        .unwrap();
    let page = Page {
        status: page.status().as_u16(),
        headers: page.headers().clone(),
        body: page.text().await.unwrap().replace("&quot;", "\""),
    };
    assert_eq!(page.status, 200, "{}", page.body);
    let secret: String = page
        .between("id=\"secret\">", "<")
        .unwrap()
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    let code = people::next_code(clock, &secret);
    let r = client
        .post(server.url("/account/totp"))
        .form(&[
            ("_csrf", page.field("_csrf").unwrap()),
            ("sealed", page.field("sealed").unwrap()),
            ("code", code),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let url: reqwest::Url = server.base_url.parse().unwrap();
    let cookies = jar.cookies(&url).unwrap();
    cookies
        .to_str()
        .unwrap()
        .split("; ")
        .find_map(|c| c.strip_prefix("galien_session="))
        .expect("a session cookie")
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth9_act3_machine_api_matches_its_openapi_document_without_server_errors() {
    let w = world(Backend::Sqlite).await;
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

    // A person's two-factor session, for the routes of signed-in pages (`/calls/ice-servers`).
    let session = first_admin_session(&w.server, &w.clock).await;

    // The document as served, its example patient and client made real.
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
            .replace(EXAMPLE_CLIENT, &device.to_string())
            .replace(EXAMPLE_SECRET, secret.expose()),
    )
    .unwrap();

    // Credentials by security scheme, so that schemathesis sends each only where the document
    // asks for it and can check that leaving it out is refused.
    let config = dir.path().join("schemathesis.toml");
    std::fs::write(
        &config,
        "[auth.openapi.bearerAuth]\nbearer = \"${GALIEN_ST_BEARER}\"\n\
         [auth.openapi.basicAuth]\nusername = \"${GALIEN_ST_CLIENT}\"\npassword = \"${GALIEN_ST_SECRET}\"\n\
         [auth.openapi.sessionCookie]\napi_key = \"${GALIEN_ST_SESSION}\"\n",
    )
    .unwrap();
    let mut st = tokio::process::Command::new("python3");
    st.args(["-m", "schemathesis.cli", "--config-file"])
        .arg(&config)
        .arg("run")
        .arg(&schema)
        .args(["--url", &w.server.base_url])
        .env("GALIEN_ST_BEARER", &token)
        .env("GALIEN_ST_CLIENT", device.to_string())
        .env("GALIEN_ST_SECRET", secret.expose())
        .env("GALIEN_ST_SESSION", &session)
        .args([
            "--checks",
            "not_a_server_error,status_code_conformance,content_type_conformance,\
             response_headers_conformance,response_schema_conformance,negative_data_rejection,\
             missing_required_header,unsupported_method,ignored_auth",
        ])
        .args(["--phases", "examples,coverage,fuzzing"])
        .args(["--max-examples", "30"])
        .args(["--seed", "8"])
        .args(["--workers", "1"])
        .args(["--request-timeout", "10"])
        .args(["--generation-database", "none"])
        .args(["--report-dir"])
        .arg(dir.path().join("report"))
        .args(["--no-color", "--suppress-health-check", "all"])
        .env("SCHEMATHESIS_HOOKS", "")
        .current_dir(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let out = tokio::time::timeout(HARD_TIMEOUT, st.output())
        .await
        .unwrap_or_else(|_| panic!("schemathesis did not finish within {HARD_TIMEOUT:?}"))
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
    // The summary, for the closing notes.
    println!("api_schema: schemathesis said:\n{said}");
    w.server.stop().await;
}
