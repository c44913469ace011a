//! The patients' pages over HTTP, as people use them (DATA-2, ACC-2, ACC-3, ACC-4, GDPR-3): a
//! médecin registers a patient through the form, finds them by NIR and by name, writes a note,
//! records a consent and brings a nurse into the care team; a médecin without relationship is
//! refused with nothing of the record shown, then breaks the glass, and the DPO reviews it; a
//! secretary sees the identity without clinical notes; an administrator sees nothing; bad input is
//! refused with nothing changed. Last, the pages in Chromium on a phone and a desktop (screenshots
//! in `test-artifacts/patients-*.png`).

use galien_core::ManualClock;
use galien_core::nir::{Nir, compute_key};
use galien_store::Backend;
use galien_testkit::pages;
use galien_testkit::people::{self, Agent, Enrolled, Inviter, submit};
use galien_testkit::{Options, TestServer};
use std::sync::Arc;
use time::macros::datetime;

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
    data2_acc3_gdpr3_doctor_registers_finds_writes_and_shares_with_a_nurse,
    acc4_stranger_is_refused_then_breaks_the_glass_and_the_dpo_reviews_it,
);

const NOTE: &str = "Douleur thoracique atypique, ECG normal, revoir dans 48 h.";
const REASON: &str = "Patient inconscient aux urgences, antécédents inconnus.";

/// A valid NIR for Claire Martin (woman, born December 1984 in Paris).
fn claire_nir() -> Nir {
    let matricule = "2841275056123";
    Nir::parse(&format!(
        "{matricule}{:02}",
        compute_key(matricule).unwrap()
    ))
    .unwrap()
}

struct World {
    s: TestServer,
    clock: Arc<ManualClock>,
    admin: Enrolled,
    doc: Enrolled,
    stranger: Enrolled,
    nurse: Enrolled,
    secretary: Enrolled,
    dpo: Enrolled,
}

async fn world(backend: Backend) -> World {
    let clock = Arc::new(ManualClock::new(datetime!(2026-11-28 09:00 UTC)));
    let s = TestServer::start_with(backend, Options::clocked(&clock)).await;
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
    let stranger = w
        .person(
            "medecin",
            "Dr Urgence Durand",
            "u.durand@galien.test",
            Some("1000000043"),
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
    let secretary = w
        .person("secretaire", "Sam Secrétaire", "sec@galien.test", None)
        .await;
    let dpo = w
        .person("dpo", "Delphine Po", "dpo@galien.test", None)
        .await;
    World {
        s,
        clock,
        admin,
        doc,
        stranger,
        nurse,
        secretary,
        dpo,
    }
}

/// Claire Martin's identity as the form sends it.
fn claire_fields(nir: &str) -> Vec<(&'static str, String)> {
    vec![
        ("birth_name", "Martin".into()),
        ("used_name", String::new()),
        ("first_names", "Claire Anne".into()),
        ("used_first_name", String::new()),
        ("sex", "F".into()),
        ("birth_date", "1984-12-01".into()),
        ("birth_place", "75056".into()),
        ("nir", nir.into()),
        ("ins_status", "validated".into()),
        ("phone", "06 12 34 56 78".into()),
        ("email", "claire.martin@example.fr".into()),
        ("address", "12 rue des Lilas\n75011 Paris".into()),
        ("referring_doctor", "Dr Bernard Martin".into()),
    ]
}

/// Registers Claire through the form; returns her record's path.
async fn register_claire(doc: &Agent) -> String {
    let nir = claire_nir();
    let r = submit(
        doc,
        "/patients/new",
        "/patients/new",
        &claire_fields(&nir.formatted()),
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let location = r.location().unwrap().to_owned();
    assert!(
        location.starts_with("/patients/") && location.ends_with("?done=registered"),
        "{location}"
    );
    let path = location.split('?').next().unwrap().to_owned();
    assert!(
        !location.contains(nir.as_str()),
        "no NIR in a URL: {location}"
    );
    path
}

async fn data2_acc3_gdpr3_doctor_registers_finds_writes_and_shares_with_a_nurse(backend: Backend) {
    let w = world(backend).await;
    let doc = &w.doc.agent;
    let nir = claire_nir();

    // The list offers registration; the form registers (DATA-2).
    let list = doc.get("/patients").await;
    assert_eq!(list.status, 200, "{}", list.body);
    assert!(list.has("href=\"/patients/new\""), "{}", list.body);
    let path = register_claire(doc).await;
    let shown = doc.get(&format!("{path}?done=registered")).await;
    assert_eq!(shown.status, 200, "{}", shown.body);
    assert!(shown.has("Le dossier a été créé."));
    assert!(shown.has("MARTIN Claire"));
    // Identitovigilance: the INS status is shown; the NIR is masked until asked for.
    assert!(
        shown.has("id=\"ins-status\">Identité validée<"),
        "{}",
        shown.body
    );
    assert!(shown.has("NIR enregistré"));
    assert!(!shown.has(&nir.formatted()) && !shown.has(nir.as_str()));

    // Found by NIR (typed with spaces) and by name + birth date, in "my patients" too.
    for fields in [
        vec![("by", "nir".to_owned()), ("nir", nir.formatted())],
        vec![
            ("by", "name".to_owned()),
            ("name", "martin".to_owned()),
            ("birth_date", "1984-12-01".to_owned()),
        ],
    ] {
        let found = submit(doc, "/patients", "/patients", &fields).await;
        assert_eq!(found.status, 200, "{}", found.body);
        let results = found.between("id=\"resultats\"", "</section>").unwrap();
        assert!(results.contains(&format!("href=\"{path}\"")), "{results}");
        assert!(results.contains("MARTIN Claire"), "{results}");
    }
    let none = submit(
        doc,
        "/patients",
        "/patients",
        &[
            ("by", "name".to_owned()),
            ("name", "Martin".to_owned()),
            ("birth_date", "1985-12-01".to_owned()),
        ],
    )
    .await;
    assert!(none.has("id=\"no-results\""), "{}", none.body);
    let mine = doc.get("/patients").await;
    assert!(mine.has(&format!("href=\"{path}\"")), "{}", mine.body);

    // The NIR on purpose (POST), then a note, a consent, a nurse in the team (ACC-3, GDPR-3).
    let revealed = submit(doc, &path, &format!("{path}/nir"), &[]).await;
    assert_eq!(revealed.status, 200, "{}", revealed.body);
    assert!(revealed.has(&nir.formatted()), "{}", revealed.body);
    let r = submit(
        doc,
        &path,
        &format!("{path}/notes"),
        &[("text", NOTE.into())],
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(
        r.location(),
        Some(format!("{path}?done=note#notes").as_str())
    );
    let r = submit(
        doc,
        &path,
        &format!("{path}/consents"),
        &[
            ("subject", "teleconsultation".into()),
            ("decision", "yes".into()),
            ("means", "oral".into()),
        ],
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let r = submit(
        doc,
        &path,
        &format!("{path}/team"),
        &[("email", w.nurse.email.clone()), ("until", String::new())],
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let summary = doc.get(&path).await;
    assert!(summary.has(NOTE), "{}", summary.body);
    let consents = summary
        .between("id=\"consentements\"", "</section>")
        .unwrap();
    assert!(consents.contains("Téléconsultation") && consents.contains("Consentement donné"));
    let team = summary.between("id=\"team\"", "</table>").unwrap();
    assert!(team.contains("Inès Infirmière"), "{team}");

    // Withdrawing the consent keeps it listed, as withdrawn.
    let withdraw = summary
        .between(&format!("action=\"{path}/consents/"), "\"")
        .unwrap();
    let r = submit(doc, &path, &format!("{path}/consents/{withdraw}"), &[]).await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert!(doc.get(&path).await.has("Retiré le"));

    // The nurse now sees Claire among her patients, and the note.
    let nurse = &w.nurse.agent;
    let list = nurse.get("/patients").await;
    assert_eq!(list.status, 200, "{}", list.body);
    let mine = list.between("id=\"mes-patients\"", "</table>").unwrap();
    assert!(mine.contains("MARTIN Claire"), "{}", list.body);
    let seen = nurse.get(&path).await;
    assert_eq!(seen.status, 200, "{}", seen.body);
    assert!(seen.has(NOTE));
    // A nurse neither manages the team nor sees the NIR button.
    assert!(!seen.has("id=\"team-form\"") && !seen.has("id=\"reveal-nir\""));
    w.s.stop().await;
}

async fn acc4_stranger_is_refused_then_breaks_the_glass_and_the_dpo_reviews_it(backend: Backend) {
    let w = world(backend).await;
    let path = register_claire(&w.doc.agent).await;
    let r = submit(
        &w.doc.agent,
        &path,
        &format!("{path}/notes"),
        &[("text", NOTE.into())],
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.body);

    // Refused, with nothing of the record in the page (ACC-3), and the glass to break (ACC-4).
    let stranger = &w.stranger.agent;
    let refused = stranger.get(&path).await;
    assert_eq!(refused.status, 403, "{}", refused.body);
    for secret in ["MARTIN", "Martin", "Claire", NOTE, "1984", "Lilas"] {
        assert!(!refused.has(secret), "{secret} leaked: {}", refused.body);
    }
    assert!(refused.has("id=\"emergency-form\""), "{}", refused.body);
    assert!(refused.has("délégué à la protection des données"));

    // A reason too short is refused, nothing opened.
    let short = submit(
        stranger,
        &path,
        &format!("{path}/emergency"),
        &[("reason", "urgence".into())],
    )
    .await;
    assert_eq!(short.status, 400, "{}", short.body);
    assert!(short.has("au moins 10 caractères"), "{}", short.body);
    assert_eq!(stranger.get(&path).await.status, 403);

    let opened = submit(
        stranger,
        &path,
        &format!("{path}/emergency"),
        &[("reason", REASON.into())],
    )
    .await;
    assert_eq!(opened.status, 303, "{}", opened.body);
    let record = stranger.get(&path).await;
    assert_eq!(record.status, 200, "{}", record.body);
    assert!(record.has("id=\"emergency-banner\""), "{}", record.body);
    assert!(record.has("Accès d'urgence en cours"));
    assert!(record.has(NOTE) && record.has("MARTIN Claire"));
    // The emergency access does not offer to break the glass again.
    assert!(!record.has("id=\"emergency-form\""));

    // Only the DPO reviews (ACC-2).
    for other in [&w.doc.agent, &w.admin.agent, stranger] {
        assert_eq!(other.get("/dpo/emergency").await.status, 403);
    }
    let dpo = &w.dpo.agent;
    let queue = dpo.get("/dpo/emergency").await;
    assert_eq!(queue.status, 200, "{}", queue.body);
    assert!(
        queue.has("href=\"/dpo/emergency\""),
        "nav link: {}",
        queue.body
    );
    let pending = queue.between("id=\"a-revoir\"", "id=\"revus\"").unwrap();
    assert!(pending.contains("Dr Urgence Durand"), "{pending}");
    assert!(pending.contains(REASON), "{pending}");
    // The DPO sees no clinical content and no identity (ACC-2).
    assert!(!queue.has(NOTE) && !queue.has("MARTIN"));
    let access = queue.between("name=\"id\" value=\"", "\"").unwrap();
    let empty = submit(
        dpo,
        "/dpo/emergency",
        "/dpo/emergency",
        &[("id", access.clone()), ("note", "  ".into())],
    )
    .await;
    assert_eq!(empty.status, 400, "{}", empty.body);
    let done = submit(
        dpo,
        "/dpo/emergency",
        "/dpo/emergency",
        &[
            ("id", access.clone()),
            (
                "note",
                "Motif confirmé avec le service des urgences.".into(),
            ),
        ],
    )
    .await;
    assert_eq!(done.status, 303, "{}", done.body);
    let after = dpo.get("/dpo/emergency?done=reviewed").await;
    assert!(after.has("id=\"none-pending\""), "{}", after.body);
    let reviewed = after.between("id=\"reviewed\"", "</table>").unwrap();
    assert!(reviewed.contains("Motif confirmé avec le service des urgences."));
    let _ = &w.clock;
    w.s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acc2_secretary_sees_identity_not_notes_and_admin_sees_nothing() {
    let w = world(Backend::Sqlite).await;
    let path = register_claire(&w.doc.agent).await;
    let r = submit(
        &w.doc.agent,
        &path,
        &format!("{path}/notes"),
        &[("text", NOTE.into())],
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.body);

    let sec = &w.secretary.agent;
    let seen = sec.get(&path).await;
    assert_eq!(seen.status, 200, "{}", seen.body);
    assert!(seen.has("MARTIN Claire") && seen.has("Identité validée"));
    assert!(!seen.has("id=\"notes\"") && !seen.has("Notes cliniques") && !seen.has(NOTE));
    // The secretary corrects identities and handles billing (NIR), and registers patients.
    assert!(seen.has("id=\"edit-identity\"") && seen.has("id=\"reveal-nir\""));
    let list = sec.get("/patients").await;
    assert!(list.has("href=\"/patients/new\""));

    // The identity correction form is prefilled and saves (the NIR kept when left empty).
    let form = sec.get(&format!("{path}/identity")).await;
    assert_eq!(form.status, 200, "{}", form.body);
    assert_eq!(form.field("birth_name").as_deref(), Some("Martin"));
    assert_eq!(form.field("nir").as_deref(), Some(""));
    let mut fields = claire_fields("");
    fields[1].1 = "Durand".into();
    let r = submit(
        sec,
        &format!("{path}/identity"),
        &format!("{path}/identity"),
        &fields,
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let seen = sec.get(&path).await;
    assert!(
        seen.has("DURAND Claire") && seen.has("NIR enregistré"),
        "{}",
        seen.body
    );

    // The administrator sees no record at all (ACC-2). The refusal is an error page that still
    // shows the person signed in (not a sign-in link, as if the session had ended), and its
    // language switch comes back to the same address.
    let admin = &w.admin.agent;
    for target in [path.as_str(), "/patients", "/patients/new"] {
        let r = admin.get(target).await;
        assert_eq!(r.status, 403, "{target}: {}", r.body);
        assert!(!r.has("Claire") && !r.has("DURAND"), "{}", r.body);
        assert!(r.has("ACC-DENIED"), "{target}: {}", r.body);
        assert!(
            r.has("action=\"/logout\"") && !r.has("href=\"/login\""),
            "{target}: signed in, the error page's header offers to sign out: {}",
            r.body
        );
        assert!(
            r.has(&format!("href=\"/lang/en?next={target}\"")),
            "{target}: {}",
            r.body
        );
    }
    assert!(!admin.get("/account").await.has("href=\"/patients\""));
    assert!(w.doc.agent.get("/account").await.has("href=\"/patients\""));
    w.s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data2_bad_input_is_refused_and_changes_nothing() {
    let w = world(Backend::Sqlite).await;
    let doc = &w.doc.agent;
    let nir_message = "Le NIR saisi n'est pas valide";

    // A NIR with a wrong key: the form again, with the message, nothing registered.
    let mut bad = claire_nir().as_str().to_owned();
    let key = if bad.ends_with("01") { "02" } else { "01" };
    bad.replace_range(13.., key);
    let r = submit(doc, "/patients/new", "/patients/new", &claire_fields(&bad)).await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.has(nir_message), "{}", r.body);
    assert_eq!(r.field("birth_name").as_deref(), Some("Martin"), "kept");
    assert!(doc.get("/patients").await.has("id=\"no-patients\""));
    let r = submit(
        doc,
        "/patients",
        "/patients",
        &[("by", "nir".into()), ("nir", "1 23".into())],
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.has(nir_message));
    // Missing identity traits.
    let mut fields = claire_fields("");
    fields[0].1 = String::new();
    let r = submit(doc, "/patients/new", "/patients/new", &fields).await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.has("L'identité est incomplète"), "{}", r.body);

    let path = register_claire(doc).await;
    // A path that names no patient: 404 once signed in; without a session, the sign-in page
    // whatever the path names (the session is read before the record's relationships).
    let r = doc.get("/patients/not-a-patient").await;
    assert_eq!(r.status, 404, "{}", r.body);
    assert!(
        r.has("action=\"/logout\"") && r.has("href=\"/lang/en?next=/patients/not-a-patient\""),
        "{}",
        r.body
    );
    let nobody = Agent::new(&w.s);
    for p in [path.as_str(), "/patients/not-a-patient"] {
        let r = nobody.get(p).await;
        assert_eq!((r.status, r.location()), (303, Some("/login")), "{p}");
    }
    // Without the CSRF token: refused, nothing written.
    let r = doc.post(&format!("{path}/notes"), &[("text", NOTE)]).await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(r.has("CSRF-INVALID"));
    let r = doc
        .post(
            &format!("{path}/notes"),
            &[("_csrf", "forged-token"), ("text", NOTE)],
        )
        .await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(!doc.get(&path).await.has(NOTE));
    // An empty note, a bad consent, an unknown member: the summary again, 4xx.
    let r = submit(
        doc,
        &path,
        &format!("{path}/notes"),
        &[("text", "   ".into())],
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.has("MARTIN Claire") && r.has("id=\"erreurs\""));
    let r = submit(
        doc,
        &path,
        &format!("{path}/consents"),
        &[
            ("subject", "tout".into()),
            ("decision", "yes".into()),
            ("means", "oral".into()),
        ],
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.body);
    let r = submit(
        doc,
        &path,
        &format!("{path}/team"),
        &[
            ("email", w.secretary.email.clone()),
            ("until", String::new()),
        ],
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.has("Seul un professionnel de santé"), "{}", r.body);
    assert_eq!(
        r.field("email").as_deref(),
        Some(w.secretary.email.as_str())
    );
    let r = submit(
        doc,
        &path,
        &format!("{path}/team"),
        &[
            ("email", w.nurse.email.clone()),
            ("until", "2020-01-01".into()),
        ],
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(!doc.get(&path).await.has("Inès Infirmière"));

    // Ids that do not parse are pages that do not exist; an unknown patient is 404 to those who
    // may read any identity, and a plain refusal to others (existence is not disclosed).
    assert_eq!(doc.get("/patients/not-an-id").await.status, 404);
    let r = submit(
        doc,
        &path,
        "/patients/not-an-id/notes",
        &[("text", NOTE.into())],
    )
    .await;
    assert_eq!(r.status, 404, "{}", r.body);
    let r = submit(doc, &path, &format!("{path}/consents/nope/withdraw"), &[]).await;
    assert_eq!(r.status, 404, "{}", r.body);
    let unknown = "/patients/0192f0c0-0000-7000-8000-000000000000";
    assert_eq!(w.secretary.agent.get(unknown).await.status, 404);
    assert_eq!(doc.get(unknown).await.status, 403);
    w.s.stop().await;
}

mod browser {
    use super::*;
    use galien_testkit::browser::{Browser, Page as BrowserPage, PageOptions};
    use std::time::Duration;

    /// The shared page checks, the screenshot named `patients-{name}`.
    async fn check(page: &BrowserPage, name: &str, width: u32, mobile: bool) {
        pages::check(page, &format!("patients-{name}"), width, mobile).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn acc3_patient_pages_fit_a_phone_and_a_desktop() {
        let w = world(Backend::Sqlite).await;
        let path = register_claire(&w.doc.agent).await;
        for text in [
            NOTE,
            "Appel de contrôle : tension 13/8, pas de douleur. Poursuite du traitement.",
        ] {
            let r = submit(
                &w.doc.agent,
                &path,
                &format!("{path}/notes"),
                &[("text", text.into())],
            )
            .await;
            assert_eq!(r.status, 303, "{}", r.body);
        }
        for (subject, decision) in [("teleconsultation", "yes"), ("data_sharing", "no")] {
            let r = submit(
                &w.doc.agent,
                &path,
                &format!("{path}/consents"),
                &[
                    ("subject", subject.into()),
                    ("decision", decision.into()),
                    ("means", "oral".into()),
                ],
            )
            .await;
            assert_eq!(r.status, 303, "{}", r.body);
        }
        let r = submit(
            &w.doc.agent,
            &path,
            &format!("{path}/team"),
            &[
                ("email", w.nurse.email.clone()),
                ("until", "2027-06-30".into()),
            ],
        )
        .await;
        assert_eq!(r.status, 303, "{}", r.body);

        let browser = Browser::start().await;
        let page = browser.page(PageOptions::default()).await;
        page.set_viewport(375, 800, true).await;
        pages::sign_in(&page, &w.s, &w.doc, &w.clock).await;
        for (width, mobile, screen) in [(375, true, "phone"), (1280, false, "desktop")] {
            page.goto(&w.s.url("/patients")).await;
            check(&page, &format!("list-{screen}"), width, mobile).await;
            page.goto(&w.s.url(&path)).await;
            page.wait_for("#ins-status", Duration::from_secs(10)).await;
            check(&page, &format!("summary-{screen}"), width, mobile).await;
        }
        // The NIR on purpose.
        page.find("#reveal-nir button").await.click().await;
        page.wait_for(".nir-shown", Duration::from_secs(10)).await;
        assert_eq!(
            page.find(".nir-shown").await.text().await,
            claire_nir().formatted()
        );
        check(&page, "summary-nir-phone", 375, true).await;
        page.goto(&w.s.url("/patients/new")).await;
        check(&page, "new-phone", 375, true).await;
        // A search from the form, in the browser.
        page.goto(&w.s.url("/patients")).await;
        page.find("#search_nir")
            .await
            .send_keys(&claire_nir().formatted())
            .await;
        page.find("#search-nir button[type=submit]")
            .await
            .click()
            .await;
        page.wait_for("#resultats", Duration::from_secs(10)).await;
        check(&page, "search-results-phone", 375, true).await;

        // The refusal with the emergency form, then the record under emergency access.
        let other = browser.page(PageOptions::default()).await;
        other.set_viewport(375, 800, true).await;
        pages::sign_in(&other, &w.s, &w.stranger, &w.clock).await;
        other.goto(&w.s.url(&path)).await;
        check(&other, "denied-phone", 375, true).await;
        other.find("#reason").await.send_keys(REASON).await;
        other
            .find("#emergency-form button[type=submit]")
            .await
            .click()
            .await;
        other
            .wait_for("#emergency-banner", Duration::from_secs(10))
            .await;
        check(&other, "emergency-summary-phone", 375, true).await;

        // The DPO's review queue.
        let dpo = browser.page(PageOptions::default()).await;
        dpo.set_viewport(375, 800, true).await;
        pages::sign_in(&dpo, &w.s, &w.dpo, &w.clock).await;
        dpo.goto(&w.s.url("/dpo/emergency")).await;
        check(&dpo, "dpo-emergency-phone", 375, true).await;
        dpo.find("textarea[name=note]")
            .await
            .send_keys("Motif confirmé avec le service des urgences.")
            .await;
        dpo.find("form[action='/dpo/emergency'] button[type=submit]")
            .await
            .click()
            .await;
        dpo.wait_for("#reviewed", Duration::from_secs(10)).await;
        check(&dpo, "dpo-reviewed-phone", 375, true).await;
        check(&dpo, "dpo-reviewed-desktop", 1280, false).await;
        w.s.stop().await;
    }
}
