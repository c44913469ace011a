//! Teleconsultation through its pages, over HTTP, on SQLite and PostgreSQL (ACT-1, ACT-6, GDPR-3,
//! ACC-1, ACC-3): a secretary books for a registered patient, whose new account is invited by an
//! e-mail that carries a link and no health data; the patient consents before anything else; the
//! médecin's day view lists the appointment; another patient is refused (traced); cancelling is
//! final; the médecin closes with a report and a prescription that reach the patient's documents
//! and the referring médecin as PDFs; a report without content changes nothing; closing twice is
//! refused; the FHIR reads (Appointment, Encounter, DocumentReference) pass `fhir.resources`.

use galien_core::audit::{AuditAction, Outcome};
use galien_core::identity::Email;
use galien_core::ids::{PatientId, UserId};
use galien_core::{ErrorCode, Lang, ManualClock};
use galien_store::{AuditFilter, Backend};
use galien_testkit::people::{self, Agent, Enrolled, Inviter, Page, submit};
use galien_testkit::smtp::SmtpSink;
use galien_testkit::{Options, TestServer};
use serde_json::Value;
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
    act1_gdpr3_acc1_booking_invites_the_patient_who_consents_first_and_strangers_are_refused,
    act1_act6_acc3_closing_sends_the_report_and_prescription_as_pdf_and_fhir_validates,
);

const REASON: &str = "Douleurs abdominales depuis trois jours";
const REPORT: &str = "Douleurs épigastriques sans signe de gravité. Examen guidé rassurant.";
const CLAIRE_EMAIL: &str = "claire.martin@example.fr";
const PAUL_EMAIL: &str = "paul.durand@example.fr";

struct World {
    s: TestServer,
    clock: Arc<ManualClock>,
    sink: SmtpSink,
    doc: Enrolled,
    referrer: Enrolled,
    secretary: Enrolled,
}

async fn world(backend: Backend) -> World {
    let sink = SmtpSink::start();
    let clock = Arc::new(ManualClock::new(datetime!(2026-11-28 08:00 UTC)));
    let s = TestServer::start_with(
        backend,
        Options {
            clock: Some(clock.clone()),
            settings: vec![
                ("smtp.host", toml::Value::String("127.0.0.1".into())),
                ("smtp.port", toml::Value::Integer(i64::from(sink.port))),
                ("smtp.security", toml::Value::String("none".into())),
                ("smtp.from", toml::Value::String("galien@chu.test".into())),
            ],
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
    let referrer = w
        .person(
            "medecin",
            "Dr Anne Traitant",
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
        sink,
        doc,
        referrer,
        secretary,
    }
}

/// Registers a patient through the form (as the secretary); returns the record's id.
async fn register(sec: &Agent, birth_name: &str, first: &str, sex: &str, email: &str) -> PatientId {
    let fields: Vec<(&str, String)> = vec![
        ("birth_name", birth_name.into()),
        ("first_names", first.into()),
        ("sex", sex.into()),
        ("birth_date", "1984-12-01".into()),
        ("ins_status", "provisional".into()),
        ("email", email.into()),
        ("phone", "06 12 34 56 78".into()),
    ];
    let r = submit(sec, "/patients/new", "/patients/new", &fields).await;
    assert_eq!(r.status, 303, "{}", r.body);
    let at = r.location().unwrap();
    at.trim_start_matches("/patients/")
        .split('?')
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

/// The value of the `<option>` whose text is `name`.
fn option_value(page: &Page, name: &str) -> String {
    let before = page
        .body
        .split(&format!("\">{name}</option>"))
        .next()
        .unwrap_or_else(|| panic!("no option {name}: {}", page.body));
    assert!(before.len() < page.body.len(), "no option {name}");
    before.rsplit("value=\"").next().unwrap().to_owned()
}

/// Books through the form, as `agent`; returns the answer (the appointment's page).
async fn book(agent: &Agent, patient: PatientId, doctor: &str, referrer: &str, at: &str) -> Page {
    let form = format!("/appointments/new?patient={patient}");
    let shown = agent.get(&form).await;
    assert_eq!(shown.status, 200, "{}", shown.body);
    let practitioner = option_value(&shown, doctor);
    let referring = if referrer.is_empty() {
        String::new()
    } else {
        option_value(&shown, referrer)
    };
    let fields: Vec<(&str, String)> = vec![
        ("patient", patient.to_string()),
        ("practitioner", practitioner),
        ("at", at.into()),
        ("duration", "20".into()),
        ("reason", REASON.into()),
        ("referring", referring),
    ];
    submit(agent, &form, "/appointments/new", &fields).await
}

/// The appointment a page is about (from its forms' actions or its address).
fn appointment_in(page: &Page) -> String {
    page.location()
        .and_then(|l| l.strip_prefix("/appointments/"))
        .map(|l| l.split('?').next().unwrap().to_owned())
        .or_else(|| page.between("action=\"/appointments/", "/"))
        .unwrap_or_else(|| panic!("no appointment in {}", page.body))
}

/// Undoes quoted-printable (soft line breaks and `=XX`).
fn unquote(raw: &str) -> String {
    let joined = raw.replace("=\r\n", "").replace("=\n", "");
    let bytes = joined.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'='
            && i + 2 < bytes.len()
            && let Ok(b) =
                u8::from_str_radix(std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or(""), 16)
        {
            out.push(b);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The body of a raw message (after the headers), decoded.
fn mail_body(raw: &str) -> String {
    let raw = raw.replace("\r\n", "\n");
    let (headers, body) = raw.split_once("\n\n").unwrap();
    assert!(
        !headers.to_lowercase().contains("base64"),
        "expected a text body: {headers}"
    );
    unquote(body)
}

/// A download: status, headers, bytes.
async fn download(
    agent: &Agent,
    s: &TestServer,
    path: &str,
) -> (u16, reqwest::header::HeaderMap, Vec<u8>) {
    let url = if path.starts_with("http") {
        path.to_owned()
    } else {
        s.url(path)
    };
    let r = agent.client.get(url).send().await.unwrap();
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    (status, headers, r.bytes().await.unwrap().to_vec())
}

async fn user_id(s: &TestServer, email: &str) -> UserId {
    s.store
        .user_by_email(&Email::parse(email).unwrap())
        .await
        .unwrap()
        .id
}

async fn act1_gdpr3_acc1_booking_invites_the_patient_who_consents_first_and_strangers_are_refused(
    backend: Backend,
) {
    let w = world(backend).await;
    let sec = &w.secretary.agent;
    let claire = register(sec, "Martin", "Claire", "F", CLAIRE_EMAIL).await;

    // The summary offers the booking, which starts with the patient chosen.
    let summary = sec.get(&format!("/patients/{claire}")).await;
    assert!(
        summary.has(&format!("href=\"/appointments/new?patient={claire}\"")),
        "{}",
        summary.body
    );
    assert!(summary.has("Prendre un rendez-vous de téléconsultation"));

    // A booking form that says nothing useful is refused with the form again (nothing booked).
    let form = format!("/appointments/new?patient={claire}");
    let r = submit(
        sec,
        &form,
        "/appointments/new",
        &[
            ("patient", claire.to_string()),
            ("at", "2026-11-28T10:00".into()),
            ("duration", "20".into()),
        ],
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(
        r.has(ErrorCode::AppointmentInvalid.message(Lang::Fr)),
        "{}",
        r.body
    );

    // The secretary books; Claire had no account: one is created, its link shown once.
    let r = book(sec, claire, "Dr Bernard Martin", "", "2026-11-28T10:00").await;
    assert_eq!(r.status, 200, "{}", r.body);
    let link = r
        .between("id=\"invitation-link\">", "<")
        .expect("activation link");
    let apt = appointment_in(&r);
    assert!(r.has("prévenu par e-mail"), "{}", r.body);
    assert!(!r.has(REASON), "the secretary does not read the reason");

    // The e-mail: a link, and no health data (no reason, no name, no médecin).
    let mails = w.sink.wait_for(1, 10).await;
    assert_eq!(mails.len(), 1, "{mails:?}");
    assert!(
        mails[0].contains(&format!("X-Envelope-To: {CLAIRE_EMAIL}"))
            || mails[0].contains(CLAIRE_EMAIL)
    );
    let body = mail_body(&mails[0]);
    assert!(body.contains(&link), "{body}");
    for secret in [
        REASON,
        "abdominales",
        "Claire",
        "MARTIN",
        "Martin",
        "Bernard",
    ] {
        assert!(!body.contains(secret), "{secret} in the e-mail: {body}");
    }

    // Claire activates her account from the link (password, then TOTP).
    let patient = people::accept_invitation(&w.s, &link, CLAIRE_EMAIL, &w.clock).await;
    let pa = &patient.agent;
    let mine = pa.get("/me/appointments").await;
    assert_eq!(mine.status, 200, "{}", mine.body);
    assert!(mine.has(&format!("/appointments/{apt}")), "{}", mine.body);
    assert!(mine.has("Donner mon accord"), "{}", mine.body);

    // Before consenting: the appointment's page asks for it, and the call sends her back there.
    let detail = pa.get(&format!("/appointments/{apt}")).await;
    assert_eq!(detail.status, 200, "{}", detail.body);
    assert!(detail.has("id=\"consent-form\""), "{}", detail.body);
    assert!(detail.has("n'est pas enregistré"), "{}", detail.body);
    assert!(detail.has(REASON), "the patient reads her reason");
    assert!(!detail.has("id=\"join-call\""), "{}", detail.body);
    let call = pa.get(&format!("/consultations/{apt}/call")).await;
    assert_eq!(call.status, 303, "{}", call.body);
    assert_eq!(
        call.location(),
        Some(format!("/appointments/{apt}?consent=required").as_str())
    );
    let asked = pa.get(call.location().unwrap()).await;
    assert!(asked.has("id=\"consent-first\""), "{}", asked.body);

    // She consents (GDPR-3): recorded with its time, shown in her consents.
    let at = pagetime(&w.clock);
    let r = pa
        .submit(
            &format!("/appointments/{apt}"),
            &format!("/appointments/{apt}/consent"),
            &[],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(
        r.location(),
        Some(format!("/appointments/{apt}?done=consent").as_str())
    );
    let detail = pa.get(r.location().unwrap()).await;
    assert!(detail.has("id=\"join-call\""), "{}", detail.body);
    assert!(detail.has(&format!("href=\"/consultations/{apt}/call\"")));
    assert!(!detail.has("id=\"consent-form\""));
    let record = pa.get("/me/record").await;
    let consents = record
        .between("id=\"consents\"", "</table>")
        .expect("consents");
    assert!(consents.contains("Téléconsultation"), "{consents}");
    assert!(consents.contains(&at), "{at} in {consents}");

    // The médecin's day lists it (his own); the other médecin's does not; the secretary sees all.
    let day = w.doc.agent.get("/appointments?day=2026-11-28").await;
    assert_eq!(day.status, 200, "{}", day.body);
    let rows = day.between("<tbody>", "</tbody>").expect("a table");
    assert!(
        rows.contains(">10:00<") && rows.contains("MARTIN Claire"),
        "{rows}"
    );
    assert!(rows.contains("Programmé"), "{rows}");
    assert!(
        rows.contains(&format!("/consultations/{apt}/call")),
        "{rows}"
    );
    let other = w.referrer.agent.get("/appointments?day=2026-11-28").await;
    assert!(other.has("id=\"no-appointments\""), "{}", other.body);
    let all = sec.get("/appointments?day=2026-11-28").await;
    assert!(all.has(&format!("/appointments/{apt}")), "{}", all.body);
    // The médecin reads the reason.
    let detail = w.doc.agent.get(&format!("/appointments/{apt}")).await;
    assert!(
        detail.has(REASON) && detail.has("id=\"guest-form\""),
        "{}",
        detail.body
    );

    // Another patient (booked the same way) cannot see Claire's appointment: 403, traced (ACC-1).
    let paul = register(sec, "Durand", "Paul", "M", PAUL_EMAIL).await;
    let r = book(sec, paul, "Dr Bernard Martin", "", "2026-11-28T11:00").await;
    let paul_apt = appointment_in(&r);
    let paul_link = r.between("id=\"invitation-link\">", "<").unwrap();
    let stranger = people::accept_invitation(&w.s, &paul_link, PAUL_EMAIL, &w.clock).await;
    let paul_user = user_id(&w.s, PAUL_EMAIL).await;
    let before = traces(&w.s, claire).await.len();
    let r = stranger.agent.get(&format!("/appointments/{apt}")).await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(
        r.has("ACC-DENIED") && !r.has(REASON) && !r.has("Claire"),
        "{}",
        r.body
    );
    let r = stranger
        .agent
        .get(&format!("/fhir/r4/Appointment/{apt}"))
        .await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(
        r.has("OperationOutcome") && r.has("ACC-DENIED"),
        "{}",
        r.body
    );
    let r = stranger
        .agent
        .post(
            &format!("/appointments/{apt}/cancel"),
            &[("_csrf", "x"), ("confirm", "yes")],
        )
        .await;
    assert_eq!(
        r.status, 403,
        "a forged cancel without this session's token: {}",
        r.body
    );
    let denials: Vec<_> = traces(&w.s, claire).await[before..]
        .iter()
        .filter(|t| t.action == AuditAction::AccessDenied && t.actor.user == Some(paul_user))
        .cloned()
        .collect();
    assert_eq!(denials.len(), 2, "{denials:?}");
    assert!(denials.iter().all(|t| t.outcome == Outcome::Denied));

    // Cancelling: confirmed, final; a second time is APT-STATE (409), nothing else changes.
    let page = format!("/appointments/{paul_apt}");
    let cancel = format!("/appointments/{paul_apt}/cancel");
    let r = sec.submit(&page, &cancel, &[]).await;
    assert_eq!(r.status, 400, "unconfirmed: {}", r.body);
    assert!(r.has("Cochez la case"), "{}", r.body);
    assert!(r.has("Programmé"));
    let r = sec.submit(&page, &cancel, &[("confirm", "yes")]).await;
    assert_eq!(r.status, 303, "{}", r.body);
    let shown = sec.get(r.location().unwrap()).await;
    assert!(
        shown.has("Annulé") && shown.has("id=\"apt-final\""),
        "{}",
        shown.body
    );
    assert!(!shown.has("id=\"cancel-form\""));
    let r = sec
        .post(
            &cancel,
            &[
                ("_csrf", &shown.field("_csrf").unwrap()),
                ("confirm", "yes"),
            ],
        )
        .await;
    assert_eq!(r.status, 409, "{}", r.body);
    assert!(
        r.has(ErrorCode::AppointmentState.message(Lang::Fr)),
        "{}",
        r.body
    );
    let theirs = stranger.agent.get("/me/appointments").await;
    let past = theirs
        .between("id=\"past\"", "</table>")
        .expect("past list");
    assert!(past.contains("Annulé"), "{past}");
    let r = stranger
        .agent
        .get(&format!("/consultations/{paul_apt}/call"))
        .await;
    assert_eq!(
        r.status, 410,
        "a cancelled room cannot be joined: {}",
        r.body
    );
    w.s.stop().await;
}

/// The time as the pages show it (`28/11/2026 à 10:03`, Paris time).
fn pagetime(clock: &ManualClock) -> String {
    use galien_core::Clock;
    let at = galien_core::clock::europe_paris(clock.now());
    format!(
        "{:02}/{:02}/{} à {:02}:{:02}",
        at.day(),
        u8::from(at.month()),
        at.year(),
        at.hour(),
        at.minute()
    )
}

async fn traces(s: &TestServer, patient: PatientId) -> Vec<galien_core::audit::AuditEvent> {
    s.store
        .audit_events(&AuditFilter {
            patient: Some(patient),
            limit: Some(5000),
            ..AuditFilter::default()
        })
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.event)
        .collect()
}

async fn act1_act6_acc3_closing_sends_the_report_and_prescription_as_pdf_and_fhir_validates(
    backend: Backend,
) {
    let w = world(backend).await;
    let sec = &w.secretary.agent;
    let claire = register(sec, "Martin", "Claire", "F", CLAIRE_EMAIL).await;
    let r = book(
        sec,
        claire,
        "Dr Bernard Martin",
        "Dr Anne Traitant",
        "2026-11-28T10:00",
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let apt = appointment_in(&r);
    let link = r.between("id=\"invitation-link\">", "<").unwrap();
    let patient = people::accept_invitation(&w.s, &link, CLAIRE_EMAIL, &w.clock).await;
    let pa = &patient.agent;
    let doc = &w.doc.agent;
    let close = format!("/appointments/{apt}/close");

    // Only the médecin of the call gets the form; it starts with three prescription rows.
    let form = doc.get(&close).await;
    assert_eq!(form.status, 200, "{}", form.body);
    assert_eq!(form.body.matches("name=\"medication\"").count(), 3);
    assert_eq!(w.referrer.agent.get(&close).await.status, 403);
    assert_eq!(pa.get(&close).await.status, 403);

    // A report without content: DOC-REPORT-INVALID, the form again with what was typed, nothing
    // changed.
    let r = submit(
        doc,
        &close,
        &close,
        &[
            ("report", "   ".into()),
            ("medication", "Paracétamol 1 g".into()),
            ("dosage", "1 comprimé 3 fois par jour".into()),
            ("duration", "5 jours".into()),
        ],
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(
        r.has(ErrorCode::ReportInvalid.message(Lang::Fr)),
        "{}",
        r.body
    );
    assert!(
        r.has("value=\"Paracétamol 1 g\""),
        "what was typed stays: {}",
        r.body
    );
    let detail = doc.get(&format!("/appointments/{apt}")).await;
    assert!(
        detail.has("Programmé") && detail.has("id=\"no-documents\""),
        "{}",
        detail.body
    );
    let mine = pa.get("/me/documents").await;
    assert!(mine.has("id=\"no-documents\""), "{}", mine.body);
    // A line without its dosage is refused the same way.
    let r = submit(
        doc,
        &close,
        &close,
        &[
            ("report", REPORT.into()),
            ("medication", "Amoxicilline".into()),
            ("dosage", String::new()),
            ("duration", String::new()),
        ],
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.body);

    // Closing with a report and two prescription lines (the third row left empty).
    let mails_before = w.sink.messages().len();
    let r = submit(
        doc,
        &close,
        &close,
        &[
            ("report", REPORT.into()),
            (
                "conclusion",
                "Traitement symptomatique, revoir si fièvre.".into(),
            ),
            ("medication", "Paracétamol 1 g".into()),
            ("dosage", "1 comprimé 3 fois par jour".into()),
            ("duration", "5 jours".into()),
            ("medication", "Phloroglucinol 80 mg".into()),
            ("dosage", "2 comprimés si douleur".into()),
            ("duration", "3 jours".into()),
            ("medication", String::new()),
            ("dosage", String::new()),
            ("duration", String::new()),
            (
                "notes",
                "Ne pas dépasser 3 g de paracétamol par jour.".into(),
            ),
            ("weight_kg", "62".into()),
        ],
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(
        r.location(),
        Some(format!("/appointments/{apt}?done=closed").as_str())
    );
    let detail = doc.get(r.location().unwrap()).await;
    assert!(
        detail.has("Terminé") && detail.has("id=\"apt-final\""),
        "{}",
        detail.body
    );
    assert!(!detail.has("id=\"join-call\"") && !detail.has("id=\"close-link\""));
    assert_eq!(
        detail.body.matches("class=\"doc-link\"").count(),
        2,
        "{}",
        detail.body
    );

    // Closing twice: CALL-CLOSED (410); the form is gone too.
    let again = doc
        .post(
            &close,
            &[
                ("_csrf", &detail.field("_csrf").unwrap()),
                ("report", REPORT),
            ],
        )
        .await;
    assert_eq!(again.status, 410, "{}", again.body);
    assert!(again.has("CALL-CLOSED"), "{}", again.body);
    assert_eq!(doc.get(&close).await.status, 410);

    // The patient's documents: the report and the prescription, as PDFs.
    let mine = pa.get("/me/documents").await;
    assert_eq!(mine.status, 200, "{}", mine.body);
    let rows = mine.between("<tbody>", "</tbody>").expect("documents");
    assert!(
        rows.contains("Compte rendu") && rows.contains("Ordonnance"),
        "{rows}"
    );
    let links: Vec<String> = rows
        .split("href=\"")
        .skip(1)
        .map(|s| s.split('"').next().unwrap().to_owned())
        .collect();
    assert_eq!(links.len(), 2, "{links:?}");
    for l in &links {
        assert!(l.starts_with("/me/documents/"), "{l}");
        let (status, headers, bytes) = download(pa, &w.s, l).await;
        assert_eq!(status, 200);
        assert!(bytes.starts_with(b"%PDF-"), "{l}");
        assert_eq!(headers["content-type"], "application/pdf");
        let disposition = headers["content-disposition"].to_str().unwrap();
        assert!(
            disposition.starts_with("attachment; filename=\"")
                && disposition.contains("filename*=UTF-8''"),
            "{disposition}"
        );
        assert_eq!(headers["cache-control"], "no-store");
        assert_eq!(headers["x-content-type-options"], "nosniff");
    }
    // The appointment's page lists them for the patient too.
    let theirs = pa.get(&format!("/appointments/{apt}")).await;
    assert_eq!(
        theirs.body.matches("href=\"/me/documents/").count(),
        2,
        "{}",
        theirs.body
    );

    // The referring médecin received them (ACC-3: through the act's recipient relationship).
    let received = w.referrer.agent.get("/documents/received").await;
    assert_eq!(received.status, 200, "{}", received.body);
    let rows = received.between("<tbody>", "</tbody>").expect("received");
    assert!(
        rows.contains("MARTIN Claire") && rows.contains("Ordonnance"),
        "{rows}"
    );
    let links: Vec<String> = rows
        .split("href=\"")
        .skip(1)
        .map(|s| s.split('"').next().unwrap().to_owned())
        .filter(|h| h.contains("/documents/"))
        .collect();
    assert_eq!(links.len(), 2, "{links:?}");
    for l in &links {
        let (status, _, bytes) = download(&w.referrer.agent, &w.s, l).await;
        assert_eq!(status, 200, "{l}");
        assert!(bytes.starts_with(b"%PDF-"), "{l}");
    }
    // The secretary does not read clinical documents.
    let (status, _, _) = download(sec, &w.s, &links[0]).await;
    assert_eq!(status, 403);
    // The notices sent at closing carry links only.
    let mails = w.sink.wait_for(mails_before + 2, 10).await;
    assert!(mails.len() >= mails_before + 2, "{mails:?}");
    for m in &mails[mails_before..] {
        let body = mail_body(m);
        assert!(body.contains("/documents"), "{body}");
        for secret in [REPORT, "Paracétamol", "Claire", "MARTIN", REASON] {
            assert!(!body.contains(secret), "{secret} in {body}");
        }
    }

    // FHIR reads, validated by `fhir.resources`.
    let a = fhir(doc, &format!("/fhir/r4/Appointment/{apt}")).await;
    assert_eq!(
        (a["resourceType"].as_str(), a["status"].as_str()),
        (Some("Appointment"), Some("fulfilled"))
    );
    assert_eq!(a["description"], REASON);
    // Booked for 10:00 on the form, Paris time (winter): 09:00 UTC in the exchanged resource.
    assert_eq!(a["start"], "2026-11-28T09:00:00Z");
    let e = fhir(doc, &format!("/fhir/r4/Encounter/{apt}")).await;
    assert_eq!(e["class"]["code"], "VR");
    assert_eq!(e["status"], "finished");
    let b = fhir(pa, &format!("/fhir/r4/DocumentReference?patient={claire}")).await;
    assert_eq!(
        (b["type"].as_str(), b["total"].as_u64()),
        (Some("searchset"), Some(2))
    );
    let codes: Vec<&str> = b["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["resource"]["type"]["coding"][0]["code"].as_str().unwrap())
        .collect();
    assert!(
        codes.contains(&"11488-4") && codes.contains(&"57833-6"),
        "{codes:?}"
    );
    validate(&[("Appointment", &a), ("Encounter", &e), ("Bundle", &b)]);
    // The attachment's URL is the gated download.
    let url = b["entry"][0]["resource"]["content"][0]["attachment"]["url"]
        .as_str()
        .unwrap();
    let (status, _, bytes) = download(pa, &w.s, url).await;
    assert_eq!(status, 200, "{url}");
    assert!(bytes.starts_with(b"%PDF-"));
    w.s.stop().await;
}

/// A FHIR read: 200, `application/fhir+json`, the JSON.
async fn fhir(agent: &Agent, path: &str) -> Value {
    let r = agent.get(path).await;
    assert_eq!(r.status, 200, "{path}: {}", r.body);
    assert!(
        r.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/fhir+json"),
        "{path}"
    );
    serde_json::from_str(&r.body).unwrap()
}

/// Validates resources with the PyPI `fhir.resources` library (R4B models, whose Appointment,
/// Encounter and DocumentReference are R4's); a Bundle's entries are validated each by its type.
fn validate(resources: &[(&str, &Value)]) {
    let script = r#"
import json, sys, importlib
try:
    import fhir.resources.R4B  # noqa: F401
except ImportError:
    print("fhir.resources is not installed: python3 -m pip install 'fhir.resources>=7' (scripts/test does it)")
    sys.exit(1)
def check(r):
    name = r["resourceType"]
    module = importlib.import_module("fhir.resources.R4B." + name.lower())
    model = getattr(module, name)
    model.model_validate(r) if hasattr(model, "model_validate") else model.parse_obj(r)
    for e in r.get("entry", []):
        check(e["resource"])
for r in json.load(sys.stdin):
    check(r)
print("OK")
"#;
    let list: Vec<&Value> = resources.iter().map(|(_, v)| *v).collect();
    for (kind, v) in resources {
        assert_eq!(v["resourceType"], *kind);
    }
    let mut child = std::process::Command::new("python3")
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python3 is needed to validate FHIR output");
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        stdin
            .write_all(serde_json::to_string(&list).unwrap().as_bytes())
            .unwrap();
    }
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.starts_with("OK"),
        "fhir.resources refused:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
