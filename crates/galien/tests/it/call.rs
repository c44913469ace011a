//! The teleconsultation call end to end (ACT-1, ACT-6): two people in two Chromium sessions with
//! fake cameras, signed in with their second factor, meet in the waiting room, reach ICE
//! `connected` (DTLS-SRTP up), chat, and the médecin closes with a report the patient then sees;
//! the same call across two nodes on one PostgreSQL database; and every bad input refused, traced,
//! without disturbing the others' call.

use crate::common;

use std::sync::Arc;
use std::time::Duration;

use galien_app::teleconsultation::appointments::{self, Booking};
use galien_app::teleconsultation::call;
use galien_app::{App, RequestContext};
use galien_core::ManualClock;
use galien_core::identity::{Actor, Assurance, AuthMethod, Email, Role};
use galien_core::ids::{AppointmentId, PatientId};
use galien_store::{AuditFilter, Backend};
use galien_testkit::browser::{Browser, Page as BrowserPage, PageOptions};
use galien_testkit::people::{self, Enrolled, Inviter, submit};
use galien_testkit::{Options, TestServer, pages, ws};
use time::macros::datetime;

const T0: time::OffsetDateTime = datetime!(2026-11-28 09:00 UTC);

struct World {
    s: TestServer,
    clock: Arc<ManualClock>,
    app: App,
    doc: Enrolled,
    claire: Enrolled,
    other: Enrolled,
    doc_actor: Actor,
    claire_actor: Actor,
    other_actor: Actor,
    patient: PatientId,
    other_patient: PatientId,
}

async fn actor(app: &App, email: &str, role: Role) -> Actor {
    let u = app
        .store
        .user_by_email(&Email::parse(email).unwrap())
        .await
        .unwrap();
    Actor {
        user: u.id,
        role,
        method: AuthMethod::PasswordTotp,
        assurance: Assurance::TwoFactors,
    }
}

fn ctx() -> RequestContext {
    common::ctx()
}

/// A patient's identity as the registration form sends it.
fn identity(birth_name: &str, first_names: &str) -> Vec<(&'static str, String)> {
    vec![
        ("birth_name", birth_name.into()),
        ("used_name", String::new()),
        ("first_names", first_names.into()),
        ("used_first_name", String::new()),
        ("sex", "F".into()),
        ("birth_date", "1984-12-01".into()),
        ("birth_place", "75056".into()),
        ("nir", String::new()),
        ("ins_status", "provisional".into()),
        ("phone", String::new()),
        ("email", String::new()),
        ("address", String::new()),
        ("referring_doctor", String::new()),
    ]
}

/// Registers a patient with the médecin's form and links their account.
async fn patient_with_account(doc: &Enrolled, name: &str, account: &Enrolled) -> PatientId {
    let r = submit(
        &doc.agent,
        "/patients/new",
        "/patients/new",
        &identity(name, "Claire"),
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let path = r.location().unwrap().split('?').next().unwrap().to_owned();
    let r = submit(
        &doc.agent,
        &path,
        &format!("{path}/account"),
        &[("account_email", account.email.clone())],
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.body);
    path.trim_start_matches("/patients/").parse().unwrap()
}

async fn world_on(s: TestServer, clock: Arc<ManualClock>) -> World {
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
    let claire = w
        .person("patient", "Claire Petit", "claire@patients.test", None)
        .await;
    let other = w
        .person("patient", "Odile Autre", "odile@patients.test", None)
        .await;
    let app = common::app_for(&s, &clock, Vec::new()).unwrap();
    let patient = patient_with_account(&doc, "Petit", &claire).await;
    let other_patient = patient_with_account(&doc, "Autre", &other).await;
    World {
        doc_actor: actor(&app, &doc.email, Role::Medecin).await,
        claire_actor: actor(&app, &claire.email, Role::Patient).await,
        other_actor: actor(&app, &other.email, Role::Patient).await,
        s,
        clock,
        app,
        doc,
        claire,
        other,
        patient,
        other_patient,
    }
}

async fn world(backend: Backend) -> World {
    let clock = Arc::new(ManualClock::new(T0));
    let s = TestServer::start_with(backend, Options::clocked(&clock)).await;
    world_on(s, clock).await
}

/// A teleconsultation booked by the médecin for `patient` now, consented to by the patient.
async fn booked(w: &World, patient: PatientId, patient_actor: &Actor) -> AppointmentId {
    let b = appointments::book(
        &w.app,
        &w.doc_actor,
        &ctx(),
        Booking {
            patient,
            practitioner: w.doc_actor.user,
            at: w.clock_now(),
            duration_minutes: 20,
            reason: "Suivi de tension artérielle".into(),
            referring: None,
        },
    )
    .await
    .unwrap();
    appointments::consent(&w.app, patient_actor, &ctx(), b.id)
        .await
        .unwrap();
    b.id
}

impl World {
    fn clock_now(&self) -> time::OffsetDateTime {
        use galien_core::Clock;
        self.clock.now()
    }
}

const WAIT: Duration = Duration::from_secs(30);

/// Whether a remote tile of `page` reached ICE connected with DTLS up.
const CONNECTED: &str = "(() => { const t = document.querySelector('.tile.remote'); \
    return !!t && (t.dataset.ice === 'connected' || t.dataset.ice === 'completed') \
    && t.dataset.dtls === 'connected' && t.querySelector('video').videoWidth > 0; })()";

async fn open_call(page: &BrowserPage, s: &TestServer, id: AppointmentId) {
    page.goto(&s.url(&format!("/consultations/{id}/call")))
        .await;
    join(page).await;
}

/// Clicks "Entrer" as a person would: once the page says whether the camera and microphone are
/// ready.
async fn join(page: &BrowserPage) {
    page.wait_for("#join", WAIT).await;
    page.wait_until_js(
        "document.getElementById('setup-status').textContent.trim() !== ''",
        WAIT,
    )
    .await;
    page.find("#join").await.click().await;
}

async fn wait_state(page: &BrowserPage, want: &str) {
    page.wait_until_js(
        &format!("document.getElementById('call').dataset.state === '{want}'"),
        WAIT,
    )
    .await;
}

/// The médecin opens the room, the patient waits, is admitted, both connect, chat.
async fn meet(
    doc: &BrowserPage,
    me: &BrowserPage,
    doc_node: &TestServer,
    my_node: &TestServer,
    id: AppointmentId,
) {
    open_call(doc, doc_node, id).await;
    wait_state(doc, "in-call").await;
    open_call(me, my_node, id).await;
    wait_state(me, "waiting").await;
    // The médecin sees who waits, and admits.
    doc.wait_for("#lobby-list button.admit", WAIT).await;
    let lobby = doc.find("#lobby-list").await.text().await;
    assert!(lobby.contains("Claire Petit"), "{lobby}");
    pages::accessibility(me, "call-waiting-room").await;
    pages::accessibility(doc, "call-lobby").await;
    doc.find("#lobby-list button.admit").await.click().await;
    wait_state(me, "in-call").await;
    doc.wait_until_js(CONNECTED, WAIT).await;
    me.wait_until_js(CONNECTED, WAIT).await;
    let path = me
        .execute(
            "return document.querySelector('.tile.remote').dataset.path",
            vec![],
        )
        .await;
    assert_eq!(path, "direct", "loopback, no TURN configured");
    let status = me.find("#call-status").await.text().await;
    assert!(status.contains("chiffrée de bout en bout"), "{status}");
    // Chat, both ways.
    me.find("#chat-text")
        .await
        .send_keys("Bonjour docteur, je vous entends bien.")
        .await;
    me.find("#chat-form button[type=submit]")
        .await
        .click()
        .await;
    doc.wait_until_js(
        "[...document.querySelectorAll('#chat-list li')].some(li => li.textContent.includes('je vous entends bien'))",
        WAIT,
    )
    .await;
    doc.find("#chat-text")
        .await
        .send_keys("Parfait, commençons.")
        .await;
    doc.find("#chat-form button[type=submit]")
        .await
        .click()
        .await;
    me.wait_until_js(
        "[...document.querySelectorAll('#chat-list li')].some(li => li.textContent.includes('commençons'))",
        WAIT,
    )
    .await;
}

async fn screenshots_on_failure<F: std::future::Future<Output = ()>>(
    pages: &[(&BrowserPage, &str)],
    f: F,
) {
    use futures::FutureExt;
    let outcome = std::panic::AssertUnwindSafe(f).catch_unwind().await;
    if let Err(panic) = outcome {
        for (page, name) in pages {
            page.save_screenshot(&format!("call-failure-{name}")).await;
            let log = page.console_log().await;
            eprintln!("console of {name}: {log:?}");
        }
        std::panic::resume_unwind(panic);
    }
}

async fn browsers(w: &World) -> (Browser, BrowserPage, BrowserPage) {
    let browser = Browser::start().await;
    let media = PageOptions {
        fake_media: true,
        ..PageOptions::default()
    };
    let doc = browser.page(media).await;
    let me = browser.page(media).await;
    pages::sign_in(&doc, &w.s, &w.doc, &w.clock).await;
    pages::sign_in(&me, &w.s, &w.claire, &w.clock).await;
    (browser, doc, me)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn act1_doctor_and_patient_meet_talk_and_close_with_a_report() {
    let w = world(Backend::Sqlite).await;
    let id = booked(&w, w.patient, &w.claire_actor).await;
    let (_browser, doc, me) = browsers(&w).await;
    screenshots_on_failure(&[(&doc, "doctor"), (&me, "patient")], async {
        meet(&doc, &me, &w.s, &w.s, id).await;
        doc.save_screenshot("call-doctor-desktop").await;
        pages::accessibility(&doc, "call-doctor-desktop").await;
        me.set_viewport(390, 844, true).await;
        me.save_screenshot("call-patient-phone").await;
        pages::accessibility(&me, "call-patient-phone").await;
        let overflow = me
            .execute(
                "return document.documentElement.scrollWidth > document.documentElement.clientWidth",
                vec![],
            )
            .await;
        assert_eq!(overflow, false, "the call page scrolls sideways on a phone");

        // The patient's page drops (reload: a new socket, no new invitation): the admission
        // holds, and the médecin's page offers again.
        me.set_viewport(1280, 900, false).await;
        me.refresh().await;
        join(&me).await;
        wait_state(&me, "in-call").await;
        me.wait_until_js(CONNECTED, WAIT).await;
        doc.wait_until_js(
            "document.querySelectorAll('.tile.remote').length === 1",
            WAIT,
        )
        .await;
        doc.wait_until_js(CONNECTED, WAIT).await;

        // The médecin writes the report and a prescription, and closes: the patient's page leaves
        // the call.
        doc.goto(&w.s.url(&format!("/appointments/{id}/close"))).await;
        doc.wait_for("#report", WAIT).await;
        doc.find("#report")
            .await
            .send_keys("Tension bien contrôlée sous traitement. Poursuite à l'identique.")
            .await;
        doc.find("#conclusion").await.send_keys("Revoir dans 3 mois.").await;
        doc.find("input[name=medication]").await.send_keys("Amlodipine 5 mg").await;
        doc.find("input[name=dosage]").await.send_keys("1 comprimé le matin").await;
        doc.find("input[name=duration]").await.send_keys("3 mois").await;
        doc.find("#close-form button[type=submit]").await.click().await;
        doc.wait_for_url(|u| u.contains("done=closed"), WAIT).await;
        wait_state(&me, "closed").await;
        me.save_screenshot("call-patient-closed").await;
        pages::accessibility(&me, "call-patient-closed").await;
        // The patient sees the report in their documents.
        let docs = galien_app::teleconsultation::documents::of_patient(
            &w.app,
            &w.claire_actor,
            &ctx(),
            w.patient,
        )
        .await
        .unwrap();
        assert!(docs.iter().any(|d| d.name.starts_with("Compte rendu")), "{docs:?}");
        me.goto(&w.s.url("/me/documents")).await;
        let body = me.source().await;
        assert!(body.contains("Compte rendu"), "the patient's documents page lists the report");
        assert!(body.contains("Ordonnance"), "and the prescription");
        me.save_screenshot("call-patient-documents").await;
        pages::accessibility(&me, "call-patient-documents").await;
        // Nobody can rejoin a closed consultation.
        let again = call::join(
            &w.app,
            &galien_app::teleconsultation::Joiner::Person(w.claire_actor.clone()),
            &ctx(),
            id,
        )
        .await
        .unwrap_err();
        assert_eq!(again.code().as_str(), "CALL-CLOSED");
        let r = w.s.client.get(w.s.url(&format!("/consultations/{id}/call"))).send().await.unwrap();
        assert!(r.status().is_client_error() || r.status().is_redirection());
    })
    .await;
    w.s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn act1_the_call_crosses_nodes_through_the_event_bus() {
    let db = galien_store::testing::TestDatabase::postgres().await;
    let clock = Arc::new(ManualClock::new(T0));
    let a = TestServer::start_with(
        Backend::Postgres,
        Options {
            clock: Some(clock.clone()),
            database: Some(db.url().clone()),
            ..Options::default()
        },
    )
    .await;
    // People first (a new node of an installation without administrator would issue a new
    // first-administrator link), then the second node.
    let w = world_on(a, clock.clone()).await;
    let b = TestServer::start_with(
        Backend::Postgres,
        Options {
            clock: Some(clock.clone()),
            database: Some(db.url().clone()),
            keys_from: Some(w.s.data_dir.clone()),
            ..Options::default()
        },
    )
    .await;
    assert_ne!(w.s.node, b.node);
    let id = booked(&w, w.patient, &w.claire_actor).await;
    let browser = Browser::start().await;
    let media = PageOptions {
        fake_media: true,
        ..PageOptions::default()
    };
    let doc = browser.page(media).await;
    let me = browser.page(media).await;
    // The médecin on node A, the patient on node B.
    pages::sign_in(&doc, &w.s, &w.doc, &w.clock).await;
    pages::sign_in(&me, &b, &w.claire, &w.clock).await;
    screenshots_on_failure(&[(&doc, "node-a-doctor"), (&me, "node-b-patient")], async {
        meet(&doc, &me, &w.s, &b, id).await;
    })
    .await;
    b.stop().await;
    w.s.stop().await;
}

fn traces_with(events: &[galien_core::audit::AuditEvent], reason: &str) -> usize {
    events
        .iter()
        .filter(|e| e.reason.as_deref().is_some_and(|r| r.contains(reason)))
        .count()
}

async fn all_traces(w: &World) -> Vec<galien_core::audit::AuditEvent> {
    let mut out = Vec::new();
    let mut after = None;
    loop {
        let page = w
            .app
            .store
            .audit_events(&AuditFilter {
                limit: Some(1000),
                after_seq: after,
                ..AuditFilter::default()
            })
            .await
            .unwrap();
        let Some(last) = page.last() else {
            return out;
        };
        after = Some(last.seq);
        out.extend(page.into_iter().map(|s| s.event));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn act1_bad_input_is_refused_traced_and_leaves_the_call_alone() {
    let w = world(Backend::Sqlite).await;
    let id = booked(&w, w.patient, &w.claire_actor).await;
    let path = format!("/consultations/{id}/ws");
    let origin = w.s.base_url.clone();

    // A stranger's socket: no session, 401, traced.
    let before = traces_with(&all_traces(&w).await, "AUTH-REQUIRED");
    let (status, head, _) = ws::open(&w.s, &path, None, Some(&origin)).await;
    assert_eq!(status, 401, "{head}");
    assert!(head.contains("AUTH-REQUIRED"), "{head}");
    assert_eq!(
        traces_with(&all_traces(&w).await, "AUTH-REQUIRED"),
        before + 1
    );

    // The médecin and the patient are in the call.
    let doc_cookie = people::session_cookie(&w.s, &w.clock, &w.doc).await;
    let claire_cookie = people::session_cookie(&w.s, &w.clock, &w.claire).await;
    let other_cookie = people::session_cookie(&w.s, &w.clock, &w.other).await;
    let (s, _, doc_ws) = ws::open(&w.s, &path, Some(&doc_cookie), Some(&origin)).await;
    assert_eq!(s, 101);
    let mut doc_ws = doc_ws.unwrap();
    let welcome = ws::until(&mut doc_ws, WAIT, |m| m["type"] == "welcome").await;
    assert_eq!(welcome["admitted"], true);
    let (s, _, claire_ws) = ws::open(&w.s, &path, Some(&claire_cookie), Some(&origin)).await;
    assert_eq!(s, 101);
    let mut claire_ws = claire_ws.unwrap();
    let welcome = ws::until(&mut claire_ws, WAIT, |m| m["type"] == "welcome").await;
    assert_eq!(welcome["admitted"], false, "the patient waits");
    let lobby = ws::until(&mut doc_ws, WAIT, |m| {
        m["type"] == "lobby" && m["waiting"].as_array().is_some_and(|l| !l.is_empty())
    })
    .await;
    let participant = lobby["waiting"][0]["participant"]
        .as_str()
        .unwrap()
        .to_owned();
    // The patient cannot admit themself.
    ws::send_text(
        &mut claire_ws,
        &format!(r#"{{"type":"admit","participant":"{participant}"}}"#),
    )
    .await;
    let err = ws::until(&mut claire_ws, WAIT, |m| m["type"] == "error").await;
    assert_eq!(err["code"], "ACC-DENIED");
    assert_eq!(
        traces_with(&all_traces(&w).await, "ACCESS-DENIED:consultation.admit"),
        1,
        "the attempt is traced"
    );
    ws::send_text(
        &mut doc_ws,
        &format!(r#"{{"type":"admit","participant":"{participant}"}}"#),
    )
    .await;
    ws::until(&mut claire_ws, WAIT, |m| m["type"] == "admitted").await;

    // Another patient joining this patient's room: 403, traced by the gate.
    let denied_before = all_traces(&w)
        .await
        .iter()
        .filter(|e| {
            e.patient == Some(w.patient) && e.outcome == galien_core::audit::Outcome::Denied
        })
        .count();
    let (s, head, _) = ws::open(&w.s, &path, Some(&other_cookie), Some(&origin)).await;
    assert_eq!(s, 403, "{head}");
    assert!(head.contains("ACC-DENIED"), "{head}");
    let denied_after = all_traces(&w)
        .await
        .iter()
        .filter(|e| {
            e.patient == Some(w.patient)
                && e.outcome == galien_core::audit::Outcome::Denied
                && e.actor.user == Some(w.other_actor.user)
        })
        .count();
    assert!(
        denied_after > denied_before.saturating_sub(denied_before),
        "the refusal is traced"
    );
    let _ = w.other_patient;

    // Another origin: refused even with the cookie.
    let (s, _, _) = ws::open(
        &w.s,
        &path,
        Some(&claire_cookie),
        Some("https://evil.example"),
    )
    .await;
    assert_eq!(s, 403);

    // Malformed frames: an error each, the socket stays open, the first is traced.
    for (frame, code) in [
        ("not json", "SIG-MALFORMED"),
        (r#"{"type":"offer","to":"x","sdp":"v=0"}"#, "SIG-MALFORMED"),
        (r#"{"type":"chat","text":"   "}"#, "SIG-BAD-CHAT"),
    ] {
        ws::send_text(&mut claire_ws, frame).await;
        let err = ws::until(&mut claire_ws, WAIT, |m| m["type"] == "error").await;
        assert_eq!(err["code"], code, "{frame}");
    }
    let big = format!(r#"{{"type":"chat","text":"{}"}}"#, "x".repeat(70_000));
    ws::send_text(&mut claire_ws, &big).await;
    assert!(traces_with(&all_traces(&w).await, "SIG-MALFORMED") >= 1);
    // The others' call goes on: a chat message still reaches the médecin.
    let (s, _, claire2) = ws::open(&w.s, &path, Some(&claire_cookie), Some(&origin)).await;
    assert_eq!(s, 101, "the patient reconnects without a new invitation");
    let mut claire2 = claire2.unwrap();
    let welcome = ws::until(&mut claire2, WAIT, |m| m["type"] == "welcome").await;
    assert_eq!(
        welcome["admitted"], true,
        "the admission holds across reconnections"
    );
    ws::send_text(&mut claire2, r#"{"type":"chat","text":"Toujours là"}"#).await;
    let chat = ws::until(&mut doc_ws, WAIT, |m| m["type"] == "chat").await;
    assert_eq!(chat["line"]["text"], "Toujours là");

    // Uploads: too large, wrong type, then a good one.
    let docs = w.s.url(&format!("/consultations/{id}/documents"));
    let csrf = {
        let page =
            w.s.client
                .get(w.s.url(&format!("/consultations/{id}/call")))
                .header("cookie", &claire_cookie)
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
        let at = page.find("data-csrf=\"").unwrap() + 11;
        page[at..at + page[at..].find('"').unwrap()].to_owned()
    };
    let upload = |body: Vec<u8>, name: &'static str| {
        w.s.client
            .post(&docs)
            .header("cookie", &claire_cookie)
            .header("origin", &origin)
            .header("x-csrf-token", &csrf)
            .header("x-file-name", name)
            .body(body)
            .send()
    };
    let r = upload(vec![b'%'; 11 * 1024 * 1024], "big.pdf")
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    assert!(r.text().await.unwrap().contains("DOC-TOO-LARGE"));
    let r = upload(b"MZ\x90\x00 not a document".to_vec(), "virus.exe")
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("DOC-TYPE"));
    assert!(traces_with(&all_traces(&w).await, "UPLOAD-REFUSED:DOC-TOO-LARGE") == 1);
    assert!(traces_with(&all_traces(&w).await, "UPLOAD-REFUSED:DOC-TYPE") == 1);
    let r =
        w.s.client
            .post(&docs)
            .header("cookie", &claire_cookie)
            .header("origin", &origin)
            .header("x-file-name", "photo.png")
            .body(b"\x89PNG\r\n\x1a\n....".to_vec())
            .send()
            .await
            .unwrap();
    assert_eq!(r.status(), 403, "no CSRF token: refused");
    let r = upload(b"\x89PNG\r\n\x1a\n fake image".to_vec(), "photo%20peau.png")
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let doc_msg = ws::until(&mut doc_ws, WAIT, |m| m["type"] == "document").await;
    assert_eq!(doc_msg["name"], "photo peau.png");
    let r =
        w.s.client
            .get(w.s.url(doc_msg["url"].as_str().unwrap()))
            .header("cookie", &doc_cookie)
            .send()
            .await
            .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "image/png");
    assert_eq!(
        r.bytes().await.unwrap().as_ref(),
        b"\x89PNG\r\n\x1a\n fake image"
    );

    // A guest link: once, then 410 and traced.
    let invitation = call::invite_guest(&w.app, &w.doc_actor, &ctx(), id, "Interprète — M. Diallo")
        .await
        .unwrap();
    let token = invitation.url.rsplit('/').next().unwrap().to_owned();
    let guest = people::Agent::new(&w.s);
    let page = guest.get(&format!("/join/{token}")).await;
    assert_eq!(page.status, 200);
    let r = guest
        .submit(&format!("/join/{token}"), &format!("/join/{token}"), &[])
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(
        r.location(),
        Some(format!("/consultations/{id}/call").as_str())
    );
    let again = people::Agent::new(&w.s);
    let r = again
        .submit(&format!("/join/{token}"), &format!("/join/{token}"), &[])
        .await;
    assert_eq!(r.status, 410, "{}", r.body);
    assert!(r.body.contains("CALL-LINK-USED"));
    assert_eq!(traces_with(&all_traces(&w).await, "CALL-LINK-USED"), 1);
    // The guest sees the call and nothing else of the record.
    let r = guest.get(&format!("/consultations/{id}/call")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = guest.get(&format!("/patients/{}", w.patient)).await;
    assert!(
        r.status == 303 || r.status == 401 || r.status == 403,
        "{}",
        r.status
    );

    w.s.stop().await;
}

/// With `ice.relay_only` the browsers may only use the TURN relay: the call still connects, through
/// a real coturn with the credentials Galien derived from their shared secret, and the page says
/// the media are relayed (and still encrypted end to end).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn act1_the_call_goes_through_coturn_and_says_it_is_relayed() {
    use galien_core::Clock;
    let secret = "coturn-shared-secret-for-tests-0123456789";
    let coturn = galien_testkit::coturn::Coturn::start(secret);
    // coturn checks the credentials' expiry against the machine's clock.
    let clock = Arc::new(ManualClock::new(galien_core::SystemClock.now()));
    let s = TestServer::start_with(
        Backend::Sqlite,
        Options {
            clock: Some(clock.clone()),
            settings: vec![
                (
                    "ice.turn_urls",
                    toml::Value::Array(vec![toml::Value::String(coturn.url())]),
                ),
                ("ice.turn_secret", toml::Value::String(secret.into())),
                ("ice.relay_only", toml::Value::Boolean(true)),
            ],
            ..Options::default()
        },
    )
    .await;
    let w = world_on(s, clock).await;
    let id = booked(&w, w.patient, &w.claire_actor).await;
    let (_browser, doc, me) = browsers(&w).await;
    screenshots_on_failure(&[(&doc, "relay-doctor"), (&me, "relay-patient")], async {
        open_call(&doc, &w.s, id).await;
        wait_state(&doc, "in-call").await;
        open_call(&me, &w.s, id).await;
        wait_state(&me, "waiting").await;
        doc.wait_for("#lobby-list button.admit", WAIT).await;
        doc.find("#lobby-list button.admit").await.click().await;
        me.wait_until_js(CONNECTED, WAIT).await;
        doc.wait_until_js(CONNECTED, WAIT).await;
        for page in [&doc, &me] {
            page.wait_until_js(
                "document.querySelector('.tile.remote').dataset.path === 'relayed'",
                WAIT,
            )
            .await;
        }
        let status = me.find("#call-status").await.text().await;
        assert!(status.contains("relayée (serveur TURN)"), "{status}");
        assert!(status.contains("chiffrée de bout en bout"), "{status}");
        me.save_screenshot("call-patient-relayed").await;
    })
    .await;
    w.s.stop().await;
}

/// A guest joins with their single-use link, waits, is admitted and chats under the name the
/// médecin gave; a call holds four people (a mesh), the fifth admission is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn act1_guests_join_by_link_and_a_call_holds_four_people() {
    let w = world(Backend::Sqlite).await;
    let id = booked(&w, w.patient, &w.claire_actor).await;
    let path = format!("/consultations/{id}/ws");
    let origin = w.s.base_url.clone();
    let doc_cookie = people::session_cookie(&w.s, &w.clock, &w.doc).await;
    let claire_cookie = people::session_cookie(&w.s, &w.clock, &w.claire).await;
    let (_, _, doc_ws) = ws::open(&w.s, &path, Some(&doc_cookie), Some(&origin)).await;
    let mut doc_ws = doc_ws.unwrap();
    let (_, _, claire_ws) = ws::open(&w.s, &path, Some(&claire_cookie), Some(&origin)).await;
    let mut claire_ws = claire_ws.unwrap();
    let mut guests = Vec::new();
    for i in 0..3 {
        let invitation =
            call::invite_guest(&w.app, &w.doc_actor, &ctx(), id, &format!("Interprète {i}"))
                .await
                .unwrap();
        let token = invitation.url.rsplit('/').next().unwrap().to_owned();
        let agent = people::Agent::new(&w.s);
        let r = agent
            .submit(&format!("/join/{token}"), &format!("/join/{token}"), &[])
            .await;
        assert_eq!(r.status, 303, "{}", r.body);
        let cookie = r.headers["set-cookie"]
            .to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_owned();
        assert!(cookie.starts_with("galien_guest="), "{cookie}");
        let (s, head, g) = ws::open(&w.s, &path, Some(&cookie), Some(&origin)).await;
        assert_eq!(s, 101, "{head}");
        let mut g = g.unwrap();
        let welcome = ws::until(&mut g, WAIT, |m| m["type"] == "welcome").await;
        assert_eq!(welcome["admitted"], false);
        assert_eq!(welcome["name"], format!("Interprète {i}"));
        guests.push(g);
    }
    let lobby = ws::until(&mut doc_ws, WAIT, |m| {
        m["type"] == "lobby" && m["waiting"].as_array().is_some_and(|l| l.len() == 4)
    })
    .await;
    let waiting: Vec<(String, String)> = lobby["waiting"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["participant"].as_str().unwrap().to_owned(),
                p["name"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let find = |name: &str| waiting.iter().find(|(_, n)| n == name).unwrap().0.clone();
    // The médecin + the patient + two guests: four.
    for who in ["Claire Petit", "Interprète 0", "Interprète 1"] {
        ws::send_text(
            &mut doc_ws,
            &format!(r#"{{"type":"admit","participant":"{}"}}"#, find(who)),
        )
        .await;
    }
    ws::until(&mut claire_ws, WAIT, |m| m["type"] == "admitted").await;
    ws::until(&mut guests[0], WAIT, |m| m["type"] == "admitted").await;
    ws::until(&mut guests[1], WAIT, |m| m["type"] == "admitted").await;
    ws::send_text(
        &mut doc_ws,
        &format!(
            r#"{{"type":"admit","participant":"{}"}}"#,
            find("Interprète 2")
        ),
    )
    .await;
    let full = ws::until(&mut doc_ws, WAIT, |m| m["type"] == "error").await;
    assert_eq!(full["code"], "CALL-FULL");
    // A guest speaks in the chat under the name the médecin gave.
    ws::send_text(
        &mut guests[0],
        r#"{"type":"chat","text":"Je traduis pour Mme Petit."}"#,
    )
    .await;
    let chat = ws::until(&mut claire_ws, WAIT, |m| m["type"] == "chat").await;
    assert_eq!(chat["line"]["name"], "Interprète 0");
    assert_eq!(chat["line"]["text"], "Je traduis pour Mme Petit.");
    // The guest's reads are traced with the guest as actor.
    let traces = all_traces(&w).await;
    assert!(
        traces.iter().any(|e| e
            .actor
            .client
            .as_deref()
            .is_some_and(|c| c.starts_with("guest:"))
            && e.patient == Some(w.patient)),
        "guest accesses are traced"
    );
    w.s.stop().await;
}
