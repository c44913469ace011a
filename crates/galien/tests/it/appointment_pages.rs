//! The teleconsultation pages in Chromium, on a phone (390 px) and a desktop (1280 px) (ACT-1,
//! GDPR-3, RGAA): the booking form (patient search, then the appointment), the day's appointments,
//! an appointment as the patient sees it before consenting and as the médecin sees it after
//! inviting a guest (the link shown once, with a copy button), the closing form and its "add a
//! line" button, the patient's appointments and documents, the documents received, and the section
//! of the record's summary. Each page: no sideways scrolling, one `<h1>`, every field labelled,
//! every control named, tables captioned; screenshots in `test-artifacts/appointments-*.png`.

use galien_core::ManualClock;
use galien_core::ids::PatientId;
use galien_store::Backend;
use galien_testkit::browser::{Browser, Page as BrowserPage, PageOptions};
use galien_testkit::pages;
use galien_testkit::people::{self, Agent, Enrolled, Inviter, Page, submit};
use galien_testkit::{Options, TestServer};
use std::sync::Arc;
use std::time::Duration;
use time::macros::datetime;

/// The widths checked: (width, mobile, name).
const SCREENS: [(u32, bool, &str); 2] = [(390, true, "phone"), (1280, false, "desktop")];

/// The shared page checks at both widths, the screenshots named `appointments-{name}-{screen}`.
async fn check_both(page: &BrowserPage, name: &str) {
    for (width, mobile, screen) in SCREENS {
        pages::check(
            page,
            &format!("appointments-{name}-{screen}"),
            width,
            mobile,
        )
        .await;
    }
}

struct World {
    s: TestServer,
    clock: Arc<ManualClock>,
    doc: Enrolled,
    referrer: Enrolled,
    secretary: Enrolled,
}

async fn world() -> World {
    let clock = Arc::new(ManualClock::new(datetime!(2026-11-28 08:00 UTC)));
    let s = TestServer::start_with(Backend::Sqlite, Options::clocked(&clock)).await;
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
    let referrer = w
        .person(
            "medecin",
            "Dr Anne-Sophie Traitant-Delacroix",
            "a.traitant@galien.test",
            Some("1000000043"),
        )
        .await;
    let secretary = w
        .person("secretaire", "Sam Secrétaire", "sec@galien.test", None)
        .await;
    World {
        s,
        clock,
        doc,
        referrer,
        secretary,
    }
}

async fn register(sec: &Agent) -> PatientId {
    let fields: Vec<(&str, String)> = vec![
        ("birth_name", "Lefebvre-Zadkine".into()),
        ("first_names", "Claire Anne".into()),
        ("sex", "F".into()),
        ("birth_date", "1984-12-01".into()),
        ("ins_status", "provisional".into()),
        ("email", "claire.lefebvre@example.fr".into()),
    ];
    let r = submit(sec, "/patients/new", "/patients/new", &fields).await;
    assert_eq!(r.status, 303, "{}", r.body);
    r.location()
        .unwrap()
        .trim_start_matches("/patients/")
        .split('?')
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

fn option_value(page: &Page, name: &str) -> String {
    let (before, _) = page
        .body
        .split_once(&format!("\">{name}</option>"))
        .unwrap_or_else(|| panic!("no option {name}"));
    before.rsplit("value=\"").next().unwrap().to_owned()
}

async fn book(sec: &Agent, patient: PatientId, at: &str, reason: &str) -> Page {
    let form = format!("/appointments/new?patient={patient}");
    let shown = sec.get(&form).await;
    let fields: Vec<(&str, String)> = vec![
        ("patient", patient.to_string()),
        ("practitioner", option_value(&shown, "Dr Bernard Martin")),
        ("at", at.into()),
        ("duration", "20".into()),
        ("reason", reason.into()),
        (
            "referring",
            option_value(&shown, "Dr Anne-Sophie Traitant-Delacroix"),
        ),
    ];
    submit(sec, &form, "/appointments/new", &fields).await
}

fn appointment_in(page: &Page) -> String {
    page.location()
        .and_then(|l| l.strip_prefix("/appointments/"))
        .map(|l| l.split('?').next().unwrap().to_owned())
        .or_else(|| page.between("action=\"/appointments/", "/"))
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn act1_gdpr3_teleconsultation_pages_fit_a_phone_and_a_desktop() {
    let w = world().await;
    let sec = &w.secretary.agent;
    let claire = register(sec).await;
    // A morning appointment, closed with a report and a prescription; an afternoon one to come.
    let r = book(
        sec,
        claire,
        "2026-11-28T10:00",
        "Douleurs abdominales depuis trois jours",
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let morning = appointment_in(&r);
    let link = r.between("id=\"invitation-link\">", "<").unwrap();
    let patient =
        people::accept_invitation(&w.s, &link, "claire.lefebvre@example.fr", &w.clock).await;
    let r = book(
        sec,
        claire,
        "2026-11-28T14:30",
        "Suivi : résultats de la prise de sang",
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let afternoon = appointment_in(&r);
    let close = format!("/appointments/{morning}/close");
    let r = submit(
        &w.doc.agent,
        &close,
        &close,
        &[
            (
                "report",
                "Douleurs épigastriques sans signe de gravité.".into(),
            ),
            ("conclusion", "Traitement symptomatique.".into()),
            ("medication", "Paracétamol 1 g".into()),
            ("dosage", "1 comprimé 3 fois par jour".into()),
            ("duration", "5 jours".into()),
            ("medication", "Phloroglucinol 80 mg".into()),
            ("dosage", "2 comprimés si douleur".into()),
            ("duration", "3 jours".into()),
        ],
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.body);

    let browser = Browser::start().await;

    // The secretary: the record's section, the booking form (search, then the appointment), the
    // day of every médecin.
    let page = browser.page(PageOptions::default()).await;
    page.set_viewport(390, 800, true).await;
    pages::sign_in(&page, &w.s, &w.secretary, &w.clock).await;
    page.goto(&w.s.url(&format!("/patients/{claire}"))).await;
    page.wait_for("#rendez-vous", Duration::from_secs(10)).await;
    check_both(&page, "summary-section").await;
    page.goto(&w.s.url("/appointments/new")).await;
    page.find("#search_name")
        .await
        .send_keys("Lefebvre-Zadkine")
        .await;
    page.execute(
        "document.getElementById('search_birth_date').value = '1984-12-01';",
        vec![],
    )
    .await;
    page.find("#search-name button[type=submit]")
        .await
        .click()
        .await;
    page.wait_for("#found-patients", Duration::from_secs(10))
        .await;
    check_both(&page, "book-search").await;
    page.find("#found-patients a.button").await.click().await;
    page.wait_for("#book-form", Duration::from_secs(10)).await;
    check_both(&page, "book-form").await;
    page.goto(&w.s.url("/appointments?day=2026-11-28")).await;
    check_both(&page, "day-secretariat").await;

    // The médecin: his day, the appointment to come with a guest's link, the closing form.
    let doc = browser.page(PageOptions::default()).await;
    doc.set_viewport(390, 800, true).await;
    pages::sign_in(&doc, &w.s, &w.doc, &w.clock).await;
    doc.goto(&w.s.url("/appointments?day=2026-11-28")).await;
    check_both(&doc, "day-doctor").await;
    doc.goto(&w.s.url(&format!("/appointments/{afternoon}")))
        .await;
    doc.find("#guest_label")
        .await
        .send_keys("Interprète en langue des signes — Mme Dupont")
        .await;
    doc.find("#guest-form button[type=submit]")
        .await
        .click()
        .await;
    doc.wait_for("#guest-link", Duration::from_secs(10)).await;
    let copy = doc.find("#guest button.copy").await;
    assert!(
        copy.is_displayed().await,
        "the copy button shows with JavaScript"
    );
    check_both(&doc, "detail-doctor-guest").await;
    doc.goto(&w.s.url(&format!("/appointments/{afternoon}/close")))
        .await;
    doc.wait_for("#add-line", Duration::from_secs(10)).await;
    assert_eq!(doc.find_all("fieldset.rx-line").await.len(), 3);
    doc.find("#add-line").await.click().await;
    assert_eq!(doc.find_all("fieldset.rx-line").await.len(), 4);
    let added = doc.find("#medication_4").await;
    assert_eq!(added.attribute("name").await.as_deref(), Some("medication"));
    let active = doc.active_element().await;
    assert_eq!(
        active.attribute("id").await.as_deref(),
        Some("medication_4")
    );
    check_both(&doc, "close-form").await;

    // The referring médecin's documents received.
    let referrer = browser.page(PageOptions::default()).await;
    referrer.set_viewport(390, 800, true).await;
    pages::sign_in(&referrer, &w.s, &w.referrer, &w.clock).await;
    referrer.goto(&w.s.url("/documents/received")).await;
    check_both(&referrer, "received").await;

    // The patient: the appointment before consenting, her appointments, her documents.
    let me = browser.page(PageOptions::default()).await;
    me.set_viewport(390, 800, true).await;
    pages::sign_in(&me, &w.s, &patient, &w.clock).await;
    me.goto(&w.s.url(&format!("/appointments/{afternoon}")))
        .await;
    me.wait_for("#consent-form", Duration::from_secs(10)).await;
    check_both(&me, "detail-patient-consent").await;
    me.goto(&w.s.url("/me/appointments")).await;
    check_both(&me, "mine").await;
    me.goto(&w.s.url("/me/documents")).await;
    assert_eq!(me.find_all("a.doc-link").await.len(), 2);
    check_both(&me, "documents").await;
    // She consents from the page; then the waiting room is one link away.
    me.goto(&w.s.url(&format!("/appointments/{afternoon}")))
        .await;
    me.find("#consent-form button[type=submit]")
        .await
        .click()
        .await;
    me.wait_for("#join-call", Duration::from_secs(10)).await;
    check_both(&me, "detail-patient-consented").await;

    // In English.
    let en = browser
        .page(PageOptions {
            lang: Some("en"),
            ..PageOptions::default()
        })
        .await;
    en.set_viewport(390, 800, true).await;
    pages::sign_in(&en, &w.s, &patient, &w.clock).await;
    en.goto(&w.s.url("/me/appointments")).await;
    assert_eq!(en.find("h1").await.text().await, "My appointments");
    check_both(&en, "mine-en").await;
    w.s.stop().await;
}
