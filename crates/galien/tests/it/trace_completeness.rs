//! Trace completeness (TRACE-1, ACC-6): every route that reads or writes health data, called by
//! someone allowed and by someone refused, leaves exactly the expected audit records — one per
//! permit or denial, with the patient, the outcome and the kind of data — and nothing else.

use galien_core::ManualClock;
use galien_core::nir::{Nir, compute_key};
use galien_store::{AuditFilter, Backend};
use galien_testkit::people::{self, Agent, Enrolled, Page};
use galien_testkit::{Options, TestServer};
use std::sync::Arc;
use time::macros::datetime;

async fn person(
    s: &TestServer,
    clock: &ManualClock,
    admin: &Enrolled,
    role: &str,
    email: &str,
    rpps: Option<&str>,
) -> Enrolled {
    let pid = rpps.map(people::rpps).unwrap_or_default();
    let link = people::invite(&admin.agent, role, &format!("{role} {email}"), email, &pid).await;
    people::accept_invitation(s, &link, email, clock).await
}

/// The records appended since `after`: (action, outcome, kind of resource, emergency flag).
async fn since(s: &TestServer, after: u64) -> Vec<(String, String, String, bool)> {
    s.store
        .audit_events(&AuditFilter {
            after_seq: Some(after),
            limit: Some(1000),
            ..AuditFilter::default()
        })
        .await
        .unwrap()
        .into_iter()
        .map(|e| {
            let e = e.event;
            (
                e.action.as_str().to_owned(),
                e.outcome.as_str().to_owned(),
                e.resource.map(|r| r.kind).unwrap_or_default(),
                e.emergency,
            )
        })
        .collect()
}

async fn head(s: &TestServer) -> u64 {
    s.store
        .audit_head()
        .await
        .unwrap()
        .map_or(0, |(seq, _)| seq)
}

fn sorted(mut v: Vec<(String, String, String, bool)>) -> Vec<(String, String, String, bool)> {
    v.sort();
    v
}

fn rec(action: &str, outcome: &str, kind: &str) -> (String, String, String, bool) {
    (action.into(), outcome.into(), kind.into(), false)
}

const READ: &str = "record.read";
const WRITE: &str = "record.write";
const DENIED: &str = "access.denied";
const OK: &str = "success";
const NO: &str = "denied";

/// Posts `fields` to `action` with the CSRF token of `form`.
async fn post_form(agent: &Agent, form: &Page, action: &str, fields: &[(&str, &str)]) -> Page {
    let csrf = form
        .field("_csrf")
        .unwrap_or_else(|| panic!("no _csrf: {}", form.body));
    let mut all: Vec<(&str, &str)> = vec![("_csrf", csrf.as_str())];
    all.extend_from_slice(fields);
    agent.post(action, &all).await
}

/// Calls `page` (GET) or posts `fields` to `action` from `page`, and returns the records it left.
async fn call(
    s: &TestServer,
    agent: &Agent,
    page: &str,
    post: Option<(&str, &[(&str, &str)])>,
) -> (u16, Vec<(String, String, String, bool)>) {
    // Fetching the form page (for its CSRF token) leaves its own records: take them first.
    let status;
    let before;
    match post {
        None => {
            before = head(s).await;
            status = agent.get(page).await.status;
        }
        Some((action, fields)) => {
            // `submit` reads the page then posts; measure only the post.
            let form = agent.get(page).await;
            before = head(s).await;
            status = post_form(agent, &form, action, fields).await.status;
        }
    }
    (status, sorted(since(s, before).await))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trace1_acc6_every_health_data_route_leaves_exactly_its_records() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        run(backend).await;
    }
}

async fn run(backend: Backend) {
    let clock = Arc::new(ManualClock::new(datetime!(2026-11-28 10:00 UTC)));
    let s = TestServer::start_with(backend, Options::clocked(&clock)).await;
    let admin = people::enrol_first_admin(&s, &clock).await;
    let doc = person(
        &s,
        &clock,
        &admin,
        "medecin",
        "doc@galien.test",
        Some("1000000042"),
    )
    .await;
    let other = person(
        &s,
        &clock,
        &admin,
        "medecin",
        "other@galien.test",
        Some("1000000043"),
    )
    .await;
    let sec = person(&s, &clock, &admin, "secretaire", "sec@galien.test", None).await;
    let matricule = "1841276451089";
    let nir = Nir::parse(&format!(
        "{matricule}{:02}",
        compute_key(matricule).unwrap()
    ))
    .unwrap();
    let nir_text = nir.formatted();
    let identity: Vec<(&str, &str)> = vec![
        ("birth_name", "Durand"),
        ("first_names", "Paul"),
        ("sex", "M"),
        ("birth_date", "1984-12-01"),
        ("nir", &nir_text),
        ("ins_status", "validated"),
    ];

    // Register: one write, naming the new patient.
    let before = head(&s).await;
    let form = doc.agent.get("/patients/new").await;
    let r = post_form(&doc.agent, &form, "/patients/new", &identity).await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(
        sorted(since(&s, before).await),
        vec![rec(WRITE, OK, "patient_identity")]
    );
    let path = r.location().unwrap().split('?').next().unwrap().to_owned();

    // The summary: identity, notes, care team, consents — one record each.
    let (status, got) = call(&s, &doc.agent, &path, None).await;
    assert_eq!(status, 200);
    assert_eq!(
        got,
        sorted(vec![
            rec(READ, OK, "patient_identity"),
            rec(READ, OK, "clinical_record"),
            rec(READ, OK, "care_team"),
            rec(READ, OK, "consent"),
        ])
    );
    // A note: one write of that note.
    let (status, got) = call(
        &s,
        &doc.agent,
        &path,
        Some((&format!("{path}/notes"), &[("text", "Examen normal.")])),
    )
    .await;
    assert_eq!(status, 303);
    assert_eq!(got, vec![rec(WRITE, OK, "clinical_note")]);
    // A consent: one write.
    let (status, got) = call(
        &s,
        &doc.agent,
        &path,
        Some((
            &format!("{path}/consents"),
            &[
                ("subject", "teleconsultation"),
                ("decision", "yes"),
                ("means", "oral"),
            ],
        )),
    )
    .await;
    assert_eq!(status, 303);
    assert_eq!(got, vec![rec(WRITE, OK, "consent")]);
    // The NIR on purpose: its own read (the page shown with it reads the summary again).
    let (status, got) = call(&s, &doc.agent, &path, Some((&format!("{path}/nir"), &[]))).await;
    assert_eq!(status, 200);
    assert!(got.contains(&rec(READ, OK, "patient_nir")), "{got:?}");
    assert_eq!(
        got.iter().filter(|r| r.2 == "patient_nir").count(),
        1,
        "{got:?}"
    );
    // Search by NIR: one registry read.
    let (status, got) = call(
        &s,
        &sec.agent,
        "/patients",
        Some(("/patients", &[("by", "nir"), ("nir", &nir_text)])),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        got.iter().filter(|r| r.2 == "patient_search").count(),
        1,
        "{got:?}"
    );
    assert!(got.iter().all(|r| r.1 == OK), "{got:?}");

    // Refusals: exactly one denial each, nothing read.
    let (status, got) = call(&s, &other.agent, &path, None).await;
    assert_eq!(status, 403);
    assert_eq!(got, vec![rec(DENIED, NO, "patient_identity")]);
    let (status, got) = call(
        &s,
        &sec.agent,
        &path,
        Some((&format!("{path}/notes"), &[("text", "x")])),
    )
    .await;
    assert_eq!(status, 403);
    assert_eq!(got, vec![rec(DENIED, NO, "clinical_note")]);
    let (status, got) = call(&s, &admin.agent, &path, None).await;
    assert_eq!(status, 403);
    assert_eq!(got, vec![rec(DENIED, NO, "patient_identity")]);

    // Break-the-glass: one flagged record; then every read under it is flagged.
    let before = head(&s).await;
    let denied = other.agent.get(&path).await;
    let r = post_form(
        &other.agent,
        &denied,
        &format!("{path}/emergency"),
        &[("reason", "Patient inconscient aux urgences")],
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let got = since(&s, before).await;
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!(got[0].0, DENIED);
    assert_eq!((got[1].0.as_str(), got[1].3), ("access.emergency", true));
    let (status, got) = call(&s, &other.agent, &path, None).await;
    assert_eq!(status, 200);
    assert_eq!(got.len(), 4, "{got:?}");
    assert!(got.iter().all(|r| r.1 == OK && r.3), "{got:?}");
    s.stop().await;
}
