//! The telemonitoring pages over HTTP, as people use them (ACT-3): a médecin registers a patient
//! and enrols them from the record's summary, naming a nurse; an administrator creates a device,
//! the médecin attaches it; the device posts a low SpO2; the nurse sees the alert on the board,
//! takes it on, closes it with a decision, and it leaves the board; the charts show the values and
//! thresholds; others are refused with nothing of the record. The board's WebSocket says "alerts"
//! (nothing else) when a new value is out of range, and refuses a handshake without a session, of
//! the wrong role or from another origin. The patient enters their weight by hand and sees it in
//! their chart; a bad unit, an implausible value or a time in the future are refused and change
//! nothing. Last, the pages in Chromium on a phone and a desktop, updating live (screenshots in
//! `test-artifacts/monitoring-*.png`).

use galien_core::ManualClock;
use galien_store::Backend;
use galien_testkit::pages;
use galien_testkit::people::{self, Agent, Enrolled, Inviter, Page, submit};
use galien_testkit::{Options, TestServer};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration as StdDuration;
use time::macros::datetime;
use tokio::net::TcpStream;

macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
               async fn $name() { super::$name(galien_store::Backend::Sqlite).await } )*
        }
        mod postgres {
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
               async fn $name() { super::$name(galien_store::Backend::Postgres).await } )*
        }
    };
}

on_both_backends!(
    act3_doctor_enrols_device_alerts_nurse_takes_on_and_closes,
    act3_live_board_socket_says_alerts_changed_and_refuses_strangers,
);

const NOTE: &str = "Appel : dyspnée d'effort, diurétique ajusté, revoir demain.";

struct World {
    s: TestServer,
    clock: Arc<ManualClock>,
    admin: Enrolled,
    doc: Enrolled,
    nurse: Enrolled,
    stranger: Enrolled,
    secretary: Enrolled,
}

async fn world(backend: Backend) -> World {
    world_with(backend, Vec::new()).await
}

async fn world_with(backend: Backend, settings: Vec<(&'static str, toml::Value)>) -> World {
    let clock = Arc::new(ManualClock::new(datetime!(2026-11-28 09:00 UTC)));
    let s = TestServer::start_with(
        backend,
        Options {
            clock: Some(clock.clone()),
            settings,
            ..Options::default()
        },
    )
    .await;
    let admin = people::enrol_first_admin(&s, &clock).await;
    let w = Inviter::new(&s, &clock, &admin);
    let doc = w
        .person(
            "medecin",
            "Dr Bernard Martin",
            "b.martin@galien.test",
            Some("1000000042"),
        )
        .await;
    let nurse = w
        .person(
            "infirmier",
            "Inès Infirmière",
            "i.nurse@galien.test",
            Some("1000000044"),
        )
        .await;
    let stranger = w
        .person(
            "infirmier",
            "Igor Ailleurs",
            "i.ailleurs@galien.test",
            Some("1000000045"),
        )
        .await;
    let secretary = w
        .person("secretaire", "Sam Secrétaire", "sec@galien.test", None)
        .await;
    World {
        s,
        clock,
        admin,
        doc,
        nurse,
        stranger,
        secretary,
    }
}

/// A patient's identity as the registration form sends it (no NIR: provisional identity).
fn identity(birth_name: &str, first_names: &str, birth_date: &str) -> Vec<(&'static str, String)> {
    vec![
        ("birth_name", birth_name.into()),
        ("used_name", String::new()),
        ("first_names", first_names.into()),
        ("used_first_name", String::new()),
        ("sex", "F".into()),
        ("birth_date", birth_date.into()),
        ("birth_place", "75056".into()),
        ("nir", String::new()),
        ("ins_status", "provisional".into()),
        ("phone", "06 12 34 56 78".into()),
        ("email", String::new()),
        ("address", "12 rue des Lilas\n75011 Paris".into()),
        ("referring_doctor", "Dr Bernard Martin".into()),
    ]
}

/// Registers a patient through the form; returns the record's path.
async fn register(doc: &Agent, fields: &[(&'static str, String)]) -> String {
    let r = submit(doc, "/patients/new", "/patients/new", fields).await;
    assert_eq!(r.status, 303, "{}", r.body);
    r.location().unwrap().split('?').next().unwrap().to_owned()
}

async fn register_claire(doc: &Agent) -> String {
    register(doc, &identity("Martin", "Claire Anne", "1984-12-01")).await
}

/// The enrolment form of the summary.
async fn enrol(doc: &Agent, path: &str, programme: &str, hours: &str, monitors: &str) -> Page {
    submit(
        doc,
        path,
        &format!("{path}/monitoring"),
        &[
            ("programme", programme.into()),
            ("reading_hours", hours.into()),
            ("monitors", monitors.into()),
            ("consent_means", "written".into()),
        ],
    )
    .await
}

/// A device created by the administrator through the form: (client id, secret).
async fn device(admin: &Agent, name: &str) -> (String, String) {
    let r = submit(
        admin,
        "/admin/machines",
        "/admin/machines",
        &[
            ("name", name.into()),
            ("kind", "device".into()),
            ("scope", "observations.write".into()),
        ],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    (
        r.between("id=\"client-id\">", "<").unwrap(),
        r.between("id=\"client-secret\">", "<").unwrap(),
    )
}

async fn token(s: &TestServer, id: &str, secret: &str) -> String {
    let r = s
        .client
        .post(s.url("/api/v1/token"))
        .basic_auth(id, Some(secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.json::<Value>().await.unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn observation(patient: &str, code: &str, value: f64, unit: &str, at: &str) -> Value {
    json!({
        "resourceType": "Observation",
        "status": "final",
        "code": { "coding": [{ "system": "http://loinc.org", "code": code }] },
        "subject": { "reference": format!("Patient/{patient}") },
        "effectiveDateTime": at,
        "valueQuantity": { "value": value, "system": "http://unitsofmeasure.org", "code": unit },
    })
}

async fn post_fhir(s: &TestServer, token: &str, body: &Value) -> (u16, Value) {
    let r = s
        .client
        .post(s.url("/fhir/r4"))
        .bearer_auth(token)
        .header("content-type", "application/fhir+json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

/// The patient id of a record's path.
fn id_of(path: &str) -> &str {
    path.trim_start_matches("/patients/")
}

/// A registered, enrolled patient with an attached device: (record path, device token).
async fn enrolled_with_device(w: &World) -> (String, String) {
    let path = register_claire(&w.doc.agent).await;
    let (client, secret) =
        enrol_with_device(w, &path, "insuffisance_cardiaque", "8-18", "Oxymètre 7").await;
    (path, token(&w.s, &client, &secret).await)
}

/// The doctor enrols the patient at `path` in `programme` (the nurse monitors, in
/// `reading_hours`) and attaches a new device named `device_name`: its client id and secret.
async fn enrol_with_device(
    w: &World,
    path: &str,
    programme: &str,
    reading_hours: &str,
    device_name: &str,
) -> (String, String) {
    let r = enrol(&w.doc.agent, path, programme, reading_hours, &w.nurse.email).await;
    assert_eq!(r.status, 303, "{}", r.body);
    let (client, secret) = device(&w.admin.agent, device_name).await;
    let r = submit(
        &w.doc.agent,
        path,
        &format!("{path}/monitoring/devices"),
        &[("client_id", client.clone())],
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.body);
    (client, secret)
}

/// Claire's account, invited by the admin and linked by the doctor to the record at `path`.
async fn link_claire(w: &World, path: &str) -> Enrolled {
    let claire = Inviter::new(&w.s, &w.clock, &w.admin)
        .person("patient", "Claire Martin", "claire@patients.test", None)
        .await;
    let r = submit(
        &w.doc.agent,
        path,
        &format!("{path}/account"),
        &[("account_email", claire.email.clone())],
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.body);
    claire
}

/// The fields of the patient's form for one weight.
fn weight_entry(value: &str, unit: &str, at: &str) -> Vec<(&'static str, String)> {
    vec![
        ("measure", "weight".to_owned()),
        ("value", value.to_owned()),
        ("unit", unit.to_owned()),
        ("at", at.to_owned()),
    ]
}

async fn act3_doctor_enrols_device_alerts_nurse_takes_on_and_closes(backend: Backend) {
    let w = world(backend).await;
    let doc = &w.doc.agent;
    let path = register_claire(doc).await;
    let pid = id_of(&path).to_owned();

    // The summary offers the enrolment to the médecin.
    let summary = doc.get(&path).await;
    assert_eq!(summary.status, 200, "{}", summary.body);
    let section = summary
        .between("id=\"telesurveillance\"", "</section>")
        .unwrap();
    assert!(section.contains("id=\"not-enrolled\""), "{section}");
    assert!(section.contains("id=\"monitoring-form\""), "{section}");
    assert!(section.contains("Insuffisance cardiaque chronique"));
    assert_eq!(summary.field("reading_hours").as_deref(), Some("8-18"));

    // Bad hours, an address that is not a professional's: refused, nothing enrolled.
    let r = enrol(doc, &path, "insuffisance_cardiaque", "18-8", &w.nurse.email).await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.has("Heures de lecture à corriger"), "{}", r.body);
    assert_eq!(r.field("reading_hours").as_deref(), Some("18-8"), "kept");
    let r = enrol(
        doc,
        &path,
        "insuffisance_cardiaque",
        "8-18",
        &w.secretary.email,
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.has("Seul un professionnel de santé"), "{}", r.body);
    let r = enrol(
        doc,
        &path,
        "insuffisance_cardiaque",
        "8-18",
        "pas-une-adresse",
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.has("pas-une-adresse"), "{}", r.body);
    assert!(doc.get(&path).await.has("id=\"not-enrolled\""));

    // Enrolled, naming the nurse; the consent is recorded with it.
    let r = enrol(doc, &path, "insuffisance_cardiaque", "8-18", &w.nurse.email).await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(
        r.location(),
        Some(format!("{path}?done=monitoring#telesurveillance").as_str())
    );
    let summary = doc.get(&format!("{path}?done=monitoring")).await;
    assert!(summary.has("Le patient est inscrit en télésurveillance"));
    let section = summary
        .between("id=\"telesurveillance\"", "</section>")
        .unwrap();
    assert!(section.contains("Insuffisance cardiaque chronique") && section.contains("8-18"));
    assert!(section.contains(&format!("href=\"/monitoring/patients/{pid}\"")));
    assert!(section.contains("id=\"device-form\"") && !section.contains("id=\"monitoring-form\""));
    let consents = summary
        .between("id=\"consentements\"", "</section>")
        .unwrap();
    assert!(consents.contains("Télésurveillance"), "{consents}");
    // Twice: refused.
    let r = submit(
        doc,
        "/patients",
        &format!("{path}/monitoring"),
        &[
            ("programme", "insuffisance_cardiaque".into()),
            ("reading_hours", "8-18".into()),
            ("monitors", String::new()),
            ("consent_means", "oral".into()),
        ],
    )
    .await;
    assert_eq!(r.status, 409, "{}", r.body);

    // The nurse sees the section (the link to the charts) without the forms; the secretary does
    // not see it at all (a programme names a condition).
    let seen = w.nurse.agent.get(&path).await;
    let section = seen
        .between("id=\"telesurveillance\"", "</section>")
        .unwrap();
    assert!(section.contains("id=\"charts-link\"") && !section.contains("<form"));
    let seen = w.secretary.agent.get(&path).await;
    assert_eq!(seen.status, 200);
    assert!(!seen.has("id=\"telesurveillance\"") && !seen.has("Insuffisance cardiaque"));

    // The administrator creates a device; an unknown id is refused, the real one attached.
    let (client, secret) = device(&w.admin.agent, "Oxymètre 7").await;
    for bad in ["pas-un-identifiant", "0192f0c0-0000-7000-8000-000000000000"] {
        let r = submit(
            doc,
            &path,
            &format!("{path}/monitoring/devices"),
            &[("client_id", bad.into())],
        )
        .await;
        assert_eq!(r.status, 400, "{}", r.body);
        assert!(
            r.has("Aucun appareil ne porte cet identifiant"),
            "{}",
            r.body
        );
        assert_eq!(r.field("client_id").as_deref(), Some(bad));
    }
    let r = submit(
        doc,
        &path,
        &format!("{path}/monitoring/devices"),
        &[("client_id", client.clone())],
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert!(
        doc.get(&format!("{path}?done=device"))
            .await
            .has("L'appareil est rattaché")
    );

    // The device posts a low SpO2: an alert.
    let bearer = token(&w.s, &client, &secret).await;
    let (status, body) = post_fhir(
        &w.s,
        &bearer,
        &observation(&pid, "59408-5", 86.0, "%", "2026-11-28T08:30:00Z"),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    w.clock.advance(time::Duration::minutes(12));

    // The nurse's board: the alert, in words, with its actions.
    let nurse = &w.nurse.agent;
    let board = nurse.get("/monitoring").await;
    assert_eq!(board.status, 200, "{}", board.body);
    assert!(board.has("href=\"/monitoring\""), "nav link");
    let rows = board.between("id=\"alert-rows\"", "</tbody>").unwrap();
    assert!(rows.contains("MARTIN Claire"), "{rows}");
    assert!(rows.contains(&format!("href=\"/monitoring/patients/{pid}\"")));
    for words in [
        "Saturation en oxygène",
        "Sous le seuil bas",
        "Élevée",
        "class=\"sev sev-high\"",
        "il y a 12\u{a0}min",
        "Nouvelle",
        "Je prends en charge",
        "Appeler le patient",
        "class=\"spark\"",
    ] {
        assert!(rows.contains(words), "{words}: {rows}");
    }
    assert!(
        !rows.contains("hors des heures de lecture"),
        "09:00 is within 8-18"
    );
    assert!(board.has("id=\"alert-count\">1<"), "{}", board.body);
    let alert = rows.between_first("id=\"alerte-", "\"");
    // The same in English.
    let english = nurse.get("/monitoring?lang=en").await;
    for words in [
        "Oxygen saturation",
        "Below the low threshold",
        "12\u{a0}min ago",
        "I am on it",
        "Call the patient",
    ] {
        assert!(english.has(words), "{words}: {}", english.body);
    }
    // The fragment the page swaps in: the same rows, with the count.
    let fragment = nurse.get("/monitoring/rows").await;
    assert_eq!(fragment.status, 200);
    assert_eq!(fragment.headers["x-galien-alerts"], "1");
    assert!(fragment.has(&format!("id=\"alerte-{alert}\"")) && !fragment.has("<html"));

    // Others: a nurse without relationship sees an empty board and no charts; the secretary,
    // the administrator and the patient-less stranger get nothing.
    let other = w.stranger.agent.get("/monitoring").await;
    assert_eq!(other.status, 200, "{}", other.body);
    assert!(other.has("id=\"no-alerts\"") && !other.has("MARTIN"));
    let charts = w
        .stranger
        .agent
        .get(&format!("/monitoring/patients/{pid}"))
        .await;
    assert_eq!(charts.status, 403, "{}", charts.body);
    for secret in ["MARTIN", "Claire", "Saturation", "Insuffisance"] {
        assert!(!charts.has(secret), "{secret} leaked: {}", charts.body);
    }
    for refused in [&w.secretary.agent, &w.admin.agent] {
        for target in [
            "/monitoring".to_owned(),
            "/monitoring/rows".to_owned(),
            format!("/monitoring/patients/{pid}"),
        ] {
            let r = refused.get(&target).await;
            assert_eq!(r.status, 403, "{target}: {}", r.body);
            assert!(!r.has("MARTIN"));
        }
    }
    let r = submit(
        &w.stranger.agent,
        "/monitoring",
        &format!("/monitoring/alerts/{alert}/ack"),
        &[],
    )
    .await;
    assert_eq!(r.status, 403, "{}", r.body);
    // Without the CSRF token: refused.
    let r = nurse
        .post(&format!("/monitoring/alerts/{alert}/ack"), &[])
        .await;
    assert_eq!(r.status, 403, "{}", r.body);

    // "I am on it", then the decision.
    let r = submit(
        nurse,
        "/monitoring",
        &format!("/monitoring/alerts/{alert}/ack"),
        &[],
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(
        r.location(),
        Some(format!("/monitoring?done=ack#alerte-{alert}").as_str())
    );
    let board = nurse.get("/monitoring?done=ack").await;
    assert!(board.has("Vous prenez en charge cette alerte."));
    let rows = board.between("id=\"alert-rows\"", "</tbody>").unwrap();
    assert!(
        rows.contains("Prise en charge") && !rows.contains("/ack\""),
        "{rows}"
    );
    let r = submit(
        nurse,
        "/monitoring",
        &format!("/monitoring/alerts/{alert}/close"),
        &[("decision", "rien".into()), ("note", NOTE.into())],
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.has("Choisissez une décision"), "{}", r.body);
    assert!(r.has(&format!("id=\"alerte-{alert}\"")), "still open");
    let r = submit(
        nurse,
        "/monitoring",
        &format!("/monitoring/alerts/{alert}/close"),
        &[("decision", "call_patient".into()), ("note", NOTE.into())],
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let board = nurse.get("/monitoring?done=closed").await;
    assert!(board.has("La décision est enregistrée"), "{}", board.body);
    assert!(board.has("id=\"no-alerts\"") && !board.has(&format!("alerte-{alert}")));
    assert!(board.has("id=\"alert-count\">0<"));
    // Closing again: it was no longer open.
    let r = submit(
        nurse,
        "/monitoring",
        &format!("/monitoring/alerts/{alert}/close"),
        &[("decision", "no_action".into()), ("note", String::new())],
    )
    .await;
    assert_eq!(r.location(), Some("/monitoring?done=stale#tableau"));
    let r = submit(
        nurse,
        "/monitoring",
        "/monitoring/alerts/not-an-id/ack",
        &[],
    )
    .await;
    assert_eq!(r.status, 404, "{}", r.body);

    // The charts: the value, the threshold, in the picture and in the table.
    let charts = nurse.get(&format!("/monitoring/patients/{pid}")).await;
    assert_eq!(charts.status, 200, "{}", charts.body);
    assert!(charts.has("MARTIN Claire") && charts.has("Insuffisance cardiaque chronique"));
    let spo2 = charts.between("id=\"courbe-spo2\"", "</section>").unwrap();
    for words in [
        "<svg class=\"chart-svg\" viewBox=\"0 0 320 210\" role=\"img\"",
        "stroke-dasharray",
        "Seuil bas 90\u{a0}%",
        "class=\"dot dot-out\"",
        "86\u{a0}%",
        "Sous le seuil bas",
        "<caption>Saturation en oxygène",
        "Nombre de mesures : 1.",
    ] {
        assert!(spo2.contains(words), "{words}: {spo2}");
    }
    // Measures of the programme without values yet say so.
    let weight = charts
        .between("id=\"courbe-weight\"", "</section>")
        .unwrap();
    assert!(weight.contains("Aucune mesure sur la période"), "{weight}");
    assert!(
        weight.contains("Alerte si le poids augmente de 2 kg"),
        "{weight}"
    );
    let week = nurse
        .get(&format!("/monitoring/patients/{pid}?days=7"))
        .await;
    assert_eq!(week.status, 200);
    assert!(week.has("aria-current=\"page\">7 jours<"), "{}", week.body);
    assert!(week.has("7 derniers jours"));
    w.s.stop().await;
}

/// A session cookie (`galien_session=…`) of `who`, signed in with password and TOTP.
async fn session_cookie(w: &World, who: &Enrolled) -> String {
    people::session_cookie(&w.s, &w.clock, who).await
}

async fn ws_open(
    s: &TestServer,
    cookie: Option<&str>,
    origin: Option<&str>,
) -> (u16, String, Option<TcpStream>) {
    galien_testkit::ws::open(s, "/monitoring/ws", cookie, origin).await
}

async fn ws_text(stream: &mut TcpStream) -> String {
    galien_testkit::ws::text(stream).await
}

async fn act3_live_board_socket_says_alerts_changed_and_refuses_strangers(backend: Backend) {
    let w = world(backend).await;
    let (path, bearer) = enrolled_with_device(&w).await;
    let pid = id_of(&path).to_owned();

    // No session, a session of the wrong role, another site's page: refused, no upgrade.
    let (status, head, _) = ws_open(&w.s, None, None).await;
    assert_eq!(status, 401, "{head}");
    assert!(
        !head.to_lowercase().contains("upgrade: websocket"),
        "{head}"
    );
    let (status, head, _) = ws_open(&w.s, Some("galien_session=forged"), None).await;
    assert_eq!(status, 401, "{head}");
    let secretary = session_cookie(&w, &w.secretary).await;
    let (status, head, _) = ws_open(&w.s, Some(&secretary), None).await;
    assert_eq!(status, 403, "{head}");
    let nurse = session_cookie(&w, &w.nurse).await;
    let (status, head, _) = ws_open(&w.s, Some(&nurse), Some("https://evil.example")).await;
    assert_eq!(status, 403, "{head}");
    // A plain GET without a session: 401 too, not the sign-in redirect of pages.
    let r =
        w.s.client
            .get(w.s.url("/monitoring/ws"))
            .send()
            .await
            .unwrap();
    assert_eq!(r.status(), 401);

    // The nurse's board socket: a new out-of-range value says "alerts", nothing more.
    let origin = w.s.base_url.clone();
    let (status, head, socket) = ws_open(&w.s, Some(&nurse), Some(&origin)).await;
    assert_eq!(status, 101, "{head}");
    let mut socket = socket.unwrap();
    let (status, body) = post_fhir(
        &w.s,
        &bearer,
        &observation(&pid, "8867-4", 124.0, "/min", "2026-11-28T08:40:00Z"),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let message = tokio::time::timeout(StdDuration::from_secs(5), ws_text(&mut socket))
        .await
        .expect("a message within 5 s");
    assert_eq!(message, "alerts", "no health data on the socket");
    // Taking the alert on is a change too (seen by every open board).
    let board = w.nurse.agent.get("/monitoring").await;
    let alert = board.between("id=\"alerte-", "\"").unwrap();
    assert!(board.has("Fréquence cardiaque") && board.has("Au-dessus du seuil haut"));
    let r = submit(
        &w.nurse.agent,
        "/monitoring",
        &format!("/monitoring/alerts/{alert}/ack"),
        &[],
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let message = tokio::time::timeout(StdDuration::from_secs(5), ws_text(&mut socket))
        .await
        .expect("a message within 5 s");
    assert_eq!(message, "alerts");

    // The node looks at the sessions of its open sockets every 20 s: the first ping (25 s after
    // the socket opened) comes after at least one look, which left this live session open.
    let ping = tokio::time::timeout(StdDuration::from_secs(40), async {
        loop {
            match galien_testkit::ws::frame(&mut socket).await {
                (9, _) => return,
                (8, payload) => panic!("closed while the session is live: {payload:?}"),
                _ => {}
            }
        }
    })
    .await;
    assert!(ping.is_ok(), "a ping within 40 s");
    // Once the session is over (idle for longer than 15 minutes, on the server's clock), the next
    // look closes the board with 4001 (a look that fails is made again 20 s later: three chances).
    w.clock.advance(time::Duration::minutes(16));
    let closed = tokio::time::timeout(StdDuration::from_secs(70), async {
        loop {
            let (opcode, payload) = galien_testkit::ws::frame(&mut socket).await;
            if opcode == 8 {
                return payload;
            }
        }
    })
    .await
    .expect("the socket closes within 70 s");
    assert_eq!(
        closed.get(..2),
        Some(&4001u16.to_be_bytes()[..]),
        "{closed:?}"
    );
    w.s.stop().await;
}

/// An organisation of La Réunion (UTC+4 all year) sets `time_zone`: its pages show and read
/// Réunion time, not Paris time, and a device's UTC instant is shown in it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn act3_at_la_reunion_pages_show_and_read_reunion_time() {
    let w = world_with(
        Backend::Sqlite,
        vec![("time_zone", toml::Value::String("Indian/Reunion".into()))],
    )
    .await;
    let (path, bearer) = enrolled_with_device(&w).await;
    let pid = id_of(&path).to_owned();
    let claire = link_claire(&w, &path).await;
    // The device sends at 04:15 UTC: 08:15 at La Réunion.
    let (status, body) = post_fhir(
        &w.s,
        &bearer,
        &observation(&pid, "8867-4", 72.0, "/min", "2026-11-28T04:15:00Z"),
    )
    .await;
    assert_eq!(status, 201, "{body}");

    let me = &claire.agent;
    let page = me.get("/me/measures").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.has("heure de La Réunion"), "{}", page.body);
    assert!(!page.has("heure de Paris"));
    // Now (09:xx UTC) as a clock at La Réunion shows it.
    assert!(page.field("at").unwrap().starts_with("2026-11-28T13:"));
    let entry = |at: &str| weight_entry("72,4", "kg", at);
    let r = submit(
        me,
        "/me/measures",
        "/me/measures",
        &entry("2026-11-28T07:30"),
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.body);
    // 13:30 at La Réunion is 09:30 UTC, after now (09:00 UTC): the future is refused.
    let r = submit(
        me,
        "/me/measures",
        "/me/measures",
        &entry("2026-11-28T13:30"),
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.has("dans le futur"), "{}", r.body);
    let page = me.get("/me/measures").await;
    let weight = page.between("id=\"courbe-weight\"", "</section>").unwrap();
    assert!(weight.contains("28/11/2026 à 07:30<"), "{weight}");

    // The nurse's charts: the device's 04:15 UTC is 08:15 there, the weight typed 07:30 stays 07:30.
    let charts = w
        .nurse
        .agent
        .get(&format!("/monitoring/patients/{pid}"))
        .await;
    assert_eq!(charts.status, 200, "{}", charts.body);
    assert!(charts.has("28/11/2026 à 08:15"), "{}", charts.body);
    assert!(charts.has("28/11/2026 à 07:30"), "{}", charts.body);
    assert!(
        charts.has("Heures : heure de La Réunion."),
        "{}",
        charts.body
    );
    w.s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn act3_patient_enters_weight_sees_chart_and_bad_input_changes_nothing() {
    let w = world(Backend::Sqlite).await;
    let unlinked = Inviter::new(&w.s, &w.clock, &w.admin)
        .person("patient", "Paul Durand", "paul@patients.test", None)
        .await;
    let path = register_claire(&w.doc.agent).await;
    // The doctor links her account ("Associer le compte du patient") and enrols her.
    let claire = link_claire(&w, &path).await;
    let r = enrol(
        &w.doc.agent,
        &path,
        "insuffisance_cardiaque",
        "8-18",
        &w.nurse.email,
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.body);

    let me = &claire.agent;
    let page = me.get("/me/measures").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.has("href=\"/me/measures\""), "nav link");
    // The patient is told whom to call in an emergency (ACT-3).
    assert!(page.has("appelez le 15"), "{}", page.body);
    assert!(page.has("id=\"measure-form\""));
    assert!(
        page.has("heure de Paris"),
        "the form says the time is Paris time"
    );
    assert_eq!(
        page.field("unit").as_deref(),
        Some("kg"),
        "the weight's unit"
    );
    // Now (09:xx UTC) as the patient's clock shows it, in Paris.
    assert!(page.field("at").unwrap().starts_with("2026-11-28T10:"));
    assert!(page.has("<option value=\"spo2\" data-unit=\"%\">"));
    assert!(page.has("/assets/monitoring.js"));

    let entry = weight_entry;
    let r = submit(
        me,
        "/me/measures",
        "/me/measures",
        &entry("72,4", "kg", "2026-11-28T07:30"),
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(r.location(), Some("/me/measures?done=recorded#courbes"));
    let page = me.get("/me/measures?done=recorded").await;
    assert!(page.has("Votre mesure est enregistrée."), "{}", page.body);
    let weight = page.between("id=\"courbe-weight\"", "</section>").unwrap();
    assert!(weight.contains("<svg class=\"chart-svg\""), "{weight}");
    assert!(weight.contains("72,4\u{a0}kg") && weight.contains("28/11/2026 à 07:30<"));
    let values = |p: &Page| {
        p.between("id=\"courbe-weight\"", "</section>")
            .unwrap_or_default()
            .matches("<th scope=\"row\">")
            .count()
    };
    assert_eq!(values(&page), 1);

    // Refused, the form again with what was typed, nothing stored.
    for (fields, status, words) in [
        (
            entry("72", "mmol/L", "2026-11-28T08:00"),
            400,
            "Unité attendue pour « Poids » : kg",
        ),
        (
            entry("7200", "kg", "2026-11-28T08:00"),
            400,
            "hors de toute plage plausible",
        ),
        (entry("72", "kg", "2026-12-01T08:00"), 400, "dans le futur"),
        (
            entry("soixante", "kg", "2026-11-28T08:00"),
            400,
            "La valeur doit être un nombre",
        ),
        (
            entry("72", "kg", "28/11/2026 8h"),
            400,
            "La date et l'heure sont à corriger",
        ),
        // Paris time: 02:30 did not exist on 29 March 2026 (clocks went from 02:00 to 03:00).
        (
            entry("72", "kg", "2026-03-29T02:30"),
            400,
            "heure sautée au passage",
        ),
    ] {
        let r = submit(me, "/me/measures", "/me/measures", &fields).await;
        assert_eq!(r.status, status, "{fields:?}: {}", r.body);
        assert!(r.has(words), "{words}: {}", r.body);
        assert!(r.has("id=\"erreurs\""));
        assert_eq!(r.field("value").as_deref(), Some(fields[1].1.as_str()));
        assert_eq!(values(&me.get("/me/measures").await), 1, "nothing stored");
    }
    // Grams are converted.
    let r = submit(
        me,
        "/me/measures",
        "/me/measures",
        &entry("72600", "g", "2026-11-28T08:00"),
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let page = me.get("/me/measures").await;
    assert_eq!(values(&page), 2);
    assert!(page.has("72,6\u{a0}kg"));

    // A patient account not linked is told why; others may not use the page.
    let page = unlinked.agent.get("/me/measures").await;
    assert_eq!(page.status, 200);
    assert!(page.has("id=\"not-linked\"") && !page.has("id=\"measure-form\""));
    let r = submit(
        &unlinked.agent,
        "/me/record",
        "/me/measures",
        &entry("70", "kg", "2026-11-28T08:00"),
    )
    .await;
    assert!(r.status >= 400 && r.status < 500, "{}", r.body);
    for other in [&w.doc.agent, &w.nurse.agent] {
        assert_eq!(other.get("/me/measures").await.status, 403);
    }
    assert_eq!(me.get("/monitoring").await.status, 403);
    assert_eq!(
        me.get(&format!("/monitoring/patients/{}", id_of(&path)))
            .await
            .status,
        403
    );
    // The nurse sees the patient's weights in the charts.
    let charts = w
        .nurse
        .agent
        .get(&format!("/monitoring/patients/{}", id_of(&path)))
        .await;
    assert!(charts.has("72,4\u{a0}kg") && charts.has("72,6\u{a0}kg"));
    w.s.stop().await;
}

/// `between` on a plain string.
trait Between {
    fn between_first(&self, start: &str, end: &str) -> String;
}

impl Between for String {
    fn between_first(&self, start: &str, end: &str) -> String {
        let rest = self.split(start).nth(1).unwrap();
        rest.split(end).next().unwrap().to_owned()
    }
}

mod browser {
    use super::*;
    use galien_testkit::browser::{Browser, Page as BrowserPage, PageOptions};

    /// The shared page checks, the screenshot named `monitoring-{name}`.
    async fn check(page: &BrowserPage, name: &str, width: u32, mobile: bool) {
        pages::check(page, &format!("monitoring-{name}"), width, mobile).await;
    }

    /// Two weeks of a heart-failure patient's measurements, with a low SpO2, a fast heart and a
    /// quick weight gain at the end.
    fn fortnight(pid: &str) -> Value {
        let mut entries = Vec::new();
        for day in 0..14u32 {
            let date = format!("2026-11-{:02}", 14 + day);
            let weight = if day < 12 {
                70.0 + f64::from(day % 3) * 0.3
            } else {
                70.2 + f64::from(day - 11) * 1.4
            };
            let spo2 = if day == 13 {
                86.0
            } else {
                94.0 + f64::from(day % 4)
            };
            let heart = if day == 13 {
                118.0
            } else {
                68.0 + f64::from(day % 5) * 3.0
            };
            let systolic = 118.0 + f64::from(day % 6) * 4.0;
            for (code, value, unit, hour) in [
                ("29463-7", weight, "kg", "07:00"),
                ("59408-5", spo2, "%", "07:05"),
                ("8867-4", heart, "/min", "07:06"),
                ("8480-6", systolic, "mm[Hg]", "07:07"),
            ] {
                entries.push(json!({
                    "resource": observation(pid, code, value, unit, &format!("{date}T{hour}:00Z")),
                    "request": { "method": "POST", "url": "Observation" },
                }));
            }
        }
        json!({ "resourceType": "Bundle", "type": "batch", "entry": entries })
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn act3_board_and_charts_fit_a_phone_and_a_desktop_and_update_live() {
        let w = world(Backend::Sqlite).await;
        let (path, bearer) = enrolled_with_device(&w).await;
        let pid = id_of(&path).to_owned();
        let (status, body) = post_fhir(&w.s, &bearer, &fortnight(&pid)).await;
        assert_eq!(status, 200, "{body}");
        // A second patient, read only in the afternoon: her alert is outside reading hours.
        let other = register(&w.doc.agent, &identity("Durand", "Paulette", "1948-03-02")).await;
        let (client, secret) = super::enrol_with_device(
            &w,
            &other,
            "insuffisance_respiratoire",
            "14-20",
            "Oxymètre 8",
        )
        .await;
        let other_bearer = token(&w.s, &client, &secret).await;
        let other_id = id_of(&other).to_owned();
        let (status, body) = post_fhir(
            &w.s,
            &other_bearer,
            &observation(&other_id, "59408-5", 88.0, "%", "2026-11-28T08:50:00Z"),
        )
        .await;
        assert_eq!(status, 201, "{body}");
        w.clock.advance(time::Duration::minutes(12));

        let browser = Browser::start().await;
        let page = browser.page(PageOptions::default()).await;
        page.set_viewport(375, 800, true).await;
        pages::sign_in(&page, &w.s, &w.nurse, &w.clock).await;
        page.goto(&w.s.url("/monitoring")).await;
        page.wait_until_js(
            "document.getElementById('tableau').dataset.liveState === 'open'",
            StdDuration::from_secs(10),
        )
        .await;
        let count: u64 = page
            .find("#alert-count")
            .await
            .text()
            .await
            .parse()
            .unwrap();
        assert!(
            count >= 4,
            "SpO2, heart rate, weight gain, the other patient: {count}"
        );
        assert!(page.source().await.contains("hors des heures de lecture"));
        for (width, mobile, screen) in [(375, true, "phone"), (1280, false, "desktop")] {
            check(&page, &format!("board-{screen}"), width, mobile).await;
        }
        // A decision form opened on a phone.
        page.set_viewport(375, 800, true).await;
        page.find("#alert-rows details.decide summary")
            .await
            .click()
            .await;
        check(&page, "board-decision-phone", 375, true).await;
        page.find("#alert-rows details.decide summary")
            .await
            .click()
            .await;

        // Live: a new out-of-range value appears without reloading, and the live region says so.
        page.execute("window.__stay = 'same page';", vec![]).await;
        // Device tokens live ten minutes: a fresh one.
        let other_bearer = token(&w.s, &client, &secret).await;
        let (status, body) = post_fhir(
            &w.s,
            &other_bearer,
            &observation(&other_id, "8867-4", 131.0, "/min", "2026-11-28T09:05:00Z"),
        )
        .await;
        assert_eq!(status, 201, "{body}");
        let expected = (count + 1).to_string();
        page.wait_until_js(
            &format!("document.getElementById('alert-count').textContent === '{expected}'"),
            StdDuration::from_secs(10),
        )
        .await;
        let live = page.find("#board-status").await.text().await;
        assert!(live.starts_with("Mis à jour à "), "{live}");
        assert_eq!(
            page.execute("return window.__stay;", vec![]).await,
            json!("same page"),
            "no reload"
        );
        assert!(page.source().await.contains("Fréquence cardiaque"));

        // Taking an alert on from the board.
        page.find("#alert-rows form.ack-form button")
            .await
            .click()
            .await;
        page.wait_for_url(|u| u.contains("done=ack"), StdDuration::from_secs(10))
            .await;
        assert!(
            page.source()
                .await
                .contains("Vous prenez en charge cette alerte.")
        );

        // The charts of the first patient, on a phone and a desktop.
        for (width, mobile, screen) in [(375, true, "phone"), (1280, false, "desktop")] {
            page.goto(&w.s.url(&format!("/monitoring/patients/{pid}")))
                .await;
            page.wait_for("#courbe-weight svg", StdDuration::from_secs(10))
                .await;
            check(&page, &format!("charts-{screen}"), width, mobile).await;
        }
        page.goto(&w.s.url(&format!("/monitoring/patients/{pid}?days=7")))
            .await;
        page.find("#courbe-spo2 details summary")
            .await
            .click()
            .await;
        check(&page, "charts-week-values-phone", 375, true).await;

        // The summary's section, as the médecin sees it.
        let doc = browser.page(PageOptions::default()).await;
        doc.set_viewport(375, 800, true).await;
        pages::sign_in(&doc, &w.s, &w.doc, &w.clock).await;
        doc.goto(&w.s.url(&path)).await;
        doc.wait_for("#telesurveillance", StdDuration::from_secs(10))
            .await;
        check(&doc, "summary-section-phone", 375, true).await;
        let third = register(&w.doc.agent, &identity("Petit", "Jeanne", "1961-07-21")).await;
        doc.goto(&w.s.url(&third)).await;
        doc.wait_for("#monitoring-form", StdDuration::from_secs(10))
            .await;
        check(&doc, "summary-enrol-phone", 375, true).await;

        // The patient's own page.
        let claire = super::link_claire(&w, &path).await;
        let me = browser.page(PageOptions::default()).await;
        me.set_viewport(375, 800, true).await;
        pages::sign_in(&me, &w.s, &claire, &w.clock).await;
        me.goto(&w.s.url("/me/measures")).await;
        // The unit follows the measure chosen.
        me.execute(
            "const s = document.getElementById('measure'); s.value = 'spo2'; s.dispatchEvent(new Event('change'));",
            vec![],
        )
        .await;
        assert_eq!(me.find("#unit").await.property("value").await, json!("%"));
        me.execute(
            "const s = document.getElementById('measure'); s.value = 'weight'; s.dispatchEvent(new Event('change'));",
            vec![],
        )
        .await;
        assert_eq!(me.find("#unit").await.property("value").await, json!("kg"));
        me.find("#value").await.send_keys("71,8").await;
        me.find("#measure-form button[type=submit]")
            .await
            .click()
            .await;
        me.wait_for("#done", StdDuration::from_secs(10)).await;
        assert_eq!(
            me.execute(
                "return document.getElementById('courbe-weight').textContent.includes('71,8\\u00a0kg');",
                vec![],
            )
            .await,
            json!(true)
        );
        for (width, mobile, screen) in [(375, true, "phone"), (1280, false, "desktop")] {
            check(&me, &format!("own-{screen}"), width, mobile).await;
        }
        w.s.stop().await;
    }
}
