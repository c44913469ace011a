//! The incident register and the patient's own pages over HTTP, as people use them (TRACE-4,
//! TRACE-5, TRACE-6): the DPO registers an incident by hand, qualifies it as a breach and sees the
//! 72-hour CNIL clock, records the notification and closes it, while bad dates change nothing and
//! no one else reaches the register; an incident opened by the anomaly rules (failed sign-ins)
//! appears with its label; a patient whose account a secretary linked to their record reads it and
//! sees who accessed it, and a patient without a record is told why. Last, the pages in Chromium on
//! a phone and a desktop (screenshots in `test-artifacts/incidents-*.png`).

use galien_core::{Clock, ManualClock};
use galien_store::Backend;
use galien_testkit::pages;
use galien_testkit::people::{self, Agent, Enrolled, Inviter, Page, submit};
use galien_testkit::{Options, TestServer};
use std::sync::Arc;
use std::time::Duration as StdDuration;
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

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

on_both_backends!(trace6_dpo_registers_qualifies_notifies_and_closes_a_breach);

const NOTE: &str = "Hypertension bien contrôlée, poursuite du traitement, revoir dans 3 mois.";
const SUMMARY: &str = "Ordinateur portable du secrétariat volé dans un véhicule";

struct World {
    s: TestServer,
    clock: Arc<ManualClock>,
    admin: Enrolled,
    doc: Enrolled,
    secretary: Enrolled,
    dpo: Enrolled,
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
    // Filled in below: `person` needs the administrator only.
    let mut w = World {
        doc: admin.clone(),
        secretary: admin.clone(),
        dpo: admin.clone(),
        s,
        clock,
        admin,
    };
    w.doc = Inviter::new(&w.s, &w.clock, &w.admin)
        .person(
            "medecin",
            "Dr Bernard Martin",
            "b.martin@galien.test",
            Some("1000000042"),
        )
        .await;
    w.secretary = Inviter::new(&w.s, &w.clock, &w.admin)
        .person("secretaire", "Sam Secrétaire", "sec@galien.test", None)
        .await;
    w.dpo = Inviter::new(&w.s, &w.clock, &w.admin)
        .person("dpo", "Delphine Po", "dpo@galien.test", None)
        .await;
    w
}

async fn world(backend: Backend) -> World {
    world_with(backend, Vec::new()).await
}

/// `2026-11-28T10:00`, as a `datetime-local` field holds it (Paris time).
fn local(at: OffsetDateTime) -> String {
    let at = galien_core::clock::europe_paris(at);
    format!(
        "{}-{:02}-{:02}T{:02}:{:02}",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute()
    )
}

/// `01/12/2026 à 10:00`, as the pages show an instant in French (Paris time).
fn human(at: OffsetDateTime) -> String {
    let at = galien_core::clock::europe_paris(at);
    format!(
        "{:02}/{:02}/{} à {:02}:{:02}",
        at.day(),
        u8::from(at.month()),
        at.year(),
        at.hour(),
        at.minute()
    )
}

/// A `datetime-local` value as the pages read it: Paris time.
fn parse_local(s: &str) -> OffsetDateTime {
    let f = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]");
    galien_core::clock::from_europe_paris(time::PrimitiveDateTime::parse(s, f).unwrap()).unwrap()
}

/// Registers an incident through the form; returns its page's path.
async fn register_incident(dpo: &Agent, summary: &str) -> String {
    let r = submit(
        dpo,
        "/dpo/incidents",
        "/dpo/incidents",
        &[
            ("summary", summary.into()),
            ("severity", "high".into()),
            (
                "facts",
                "Vol signalé par la secrétaire le matin ; disque chiffré.".into(),
            ),
            ("affected_people", "Environ 40 patients".into()),
            ("data_categories", "Identité, coordonnées".into()),
            ("effects", String::new()),
            ("measures", "Plainte déposée, sessions révoquées.".into()),
        ],
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let location = r.location().unwrap().to_owned();
    assert!(
        location.starts_with("/dpo/incidents/") && location.ends_with("?done=registered"),
        "{location}"
    );
    location.split('?').next().unwrap().to_owned()
}

/// The qualification form's fields, with `changes` applied.
fn qualification(changes: &[(&'static str, String)]) -> Vec<(&'static str, String)> {
    let mut fields: Vec<(&'static str, String)> = vec![
        ("status", "investigating".into()),
        ("severity", "high".into()),
        ("facts", "Vol signalé le matin ; disque chiffré.".into()),
        ("affected_people", "Environ 40 patients".into()),
        ("data_categories", "Identité, coordonnées".into()),
        ("effects", "Risque faible : disque chiffré.".into()),
        ("measures", "Plainte déposée.".into()),
        ("breach", "on".into()),
        ("aware_at", String::new()),
        ("cnil_notified_at", String::new()),
        ("inform_patients", "undecided".into()),
        ("patients_informed_at", String::new()),
    ];
    for (k, v) in changes {
        match fields.iter_mut().find(|(name, _)| name == k) {
            Some(field) => field.1 = v.clone(),
            None => fields.push((k, v.clone())),
        }
    }
    fields.retain(|(k, v)| *k != "breach" || !v.is_empty());
    fields
}

/// The register's row of the incident at `path`.
fn row_of(list: &Page, path: &str) -> String {
    let at = list
        .body
        .find(&format!("href=\"{path}\""))
        .unwrap_or_else(|| panic!("{path} not listed: {}", list.body));
    let start = list.body[..at].rfind("<tr").unwrap();
    let end = at + list.body[at..].find("</tr>").unwrap();
    list.body[start..end].to_owned()
}

async fn trace6_dpo_registers_qualifies_notifies_and_closes_a_breach(backend: Backend) {
    let w = world(backend).await;
    let dpo = &w.dpo.agent;

    // The register is the DPO's alone (ACC-2, TRACE-6).
    for other in [&w.admin.agent, &w.doc.agent] {
        let r = other.get("/dpo/incidents").await;
        assert_eq!(r.status, 403, "{}", r.body);
        assert!(!r.has("href=\"/dpo/incidents\""), "no nav link: {}", r.body);
        let r = submit(
            other,
            "/account",
            "/dpo/incidents",
            &[("summary", SUMMARY.into()), ("severity", "high".into())],
        )
        .await;
        assert_eq!(r.status, 403, "{}", r.body);
    }
    let empty = dpo.get("/dpo/incidents").await;
    assert_eq!(empty.status, 200, "{}", empty.body);
    assert!(empty.has("id=\"no-incidents\""), "{}", empty.body);
    assert!(empty.has("href=\"/dpo/incidents\""), "nav link");

    // A summary is required; nothing registered without one.
    let r = submit(
        dpo,
        "/dpo/incidents",
        "/dpo/incidents",
        &[("summary", "   ".into()), ("severity", "high".into())],
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.has("Indiquez un résumé"), "{}", r.body);
    assert!(dpo.get("/dpo/incidents").await.has("id=\"no-incidents\""));

    // Registered by hand, then shown to be qualified.
    let path = register_incident(dpo, SUMMARY).await;
    let shown = dpo.get(&format!("{path}?done=registered")).await;
    assert_eq!(shown.status, 200, "{}", shown.body);
    assert!(shown.has("L'incident a été enregistré"), "{}", shown.body);
    assert!(shown.has("Déclaré par le DPO") && shown.has(SUMMARY));
    assert!(
        shown.has("Plainte déposée, sessions révoquées."),
        "details opened"
    );
    assert!(
        shown.has("(heure de Paris)"),
        "dates are Paris time: {}",
        shown.body
    );
    let list = dpo.get("/dpo/incidents").await;
    let row = row_of(&list, &path);
    assert!(
        row.contains("Déclaré par le DPO") && row.contains("Élevée"),
        "{row}"
    );
    assert!(
        row.contains("Ouvert") && row.contains("Sans objet"),
        "{row}"
    );
    assert!(
        list.has("<span class=\"badge\">1<"),
        "open incidents badge: {}",
        list.body
    );

    // A breach known since now (the form's default): 72 hours to notify the CNIL.
    let aware = shown.field("aware_at").unwrap();
    assert_eq!(aware, local(w.clock.now()));
    let r = submit(
        dpo,
        &path,
        &path,
        &qualification(&[("aware_at", aware.clone())]),
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(
        r.location(),
        Some(format!("{path}?done=qualified").as_str())
    );
    let due = parse_local(&aware) + Duration::hours(72);
    let deadline = human(due);
    // 72 h from the minute typed: "reste 72 h" on the minute, "reste 71 h" a second later (the
    // number and its unit joined by a no-break space).
    let left = format!(
        "Notification CNIL : reste {}\u{a0}h",
        (due - w.clock.now()).whole_minutes() / 60
    );
    assert!(
        left.ends_with("reste 72\u{a0}h") || left.ends_with("reste 71\u{a0}h"),
        "{left}"
    );
    let shown = dpo.get(r.location().unwrap()).await;
    assert!(
        shown.has("La qualification a été enregistrée"),
        "{}",
        shown.body
    );
    assert!(shown.has(&left), "{}", shown.body);
    assert!(
        shown.has(&format!("échéance le {deadline}")),
        "{}",
        shown.body
    );
    assert!(shown.has("En cours d'analyse"));
    let row = row_of(&dpo.get("/dpo/incidents").await, &path);
    assert!(row.contains("Violation de données"), "{row}");
    assert!(row.contains(left.as_str()), "{row}");
    assert!(row.contains(&deadline), "{row}");

    // Bad input: the form again with the message, 4xx, nothing changed.
    for (changes, message) in [
        (
            vec![("cnil_notified_at", "2026-13-45T10:00".to_owned())],
            "Date illisible dans « CNIL notifiée le »",
        ),
        (
            vec![("cnil_notified_at", "2027-06-01T10:00".to_owned())],
            "« CNIL notifiée le » ne peut pas être dans le futur",
        ),
        (
            vec![("aware_at", "demain".to_owned())],
            "Date illisible dans « Connue depuis »",
        ),
        (
            vec![
                ("inform_patients", "no".to_owned()),
                ("patients_informed_at", local(w.clock.now())),
            ],
            "ne peuvent pas avoir été informés",
        ),
        (
            vec![
                ("breach", String::new()),
                ("cnil_notified_at", local(w.clock.now())),
            ],
            "suppose une violation",
        ),
    ] {
        let mut changes: Vec<(&'static str, String)> = changes;
        if !changes.iter().any(|(k, _)| *k == "aware_at") {
            changes.push(("aware_at", aware.clone()));
        }
        changes.push(("status", "closed".into()));
        let r = submit(dpo, &path, &path, &qualification(&changes)).await;
        assert_eq!(r.status, 400, "{changes:?}: {}", r.body);
        assert!(r.has(message), "{changes:?}: {}", r.body);
        assert!(r.has("id=\"erreurs\""));
        // What was typed is kept.
        assert_eq!(
            r.field("aware_at"),
            changes
                .iter()
                .find(|(k, _)| *k == "aware_at")
                .map(|(_, v)| v.clone())
        );
    }
    let unchanged = dpo.get(&path).await;
    assert!(
        unchanged.has("id=\"incident-status\">En cours d'analyse<"),
        "{}",
        unchanged.body
    );
    assert!(unchanged.has(&left));
    assert!(!unchanged.has("CNIL notifiée le 2"));

    // The CNIL notified and the incident closed.
    let notified = w.clock.now();
    let r = submit(
        dpo,
        &path,
        &path,
        &qualification(&[
            ("aware_at", aware.clone()),
            ("cnil_notified_at", local(notified)),
            ("inform_patients", "no".into()),
            ("status", "closed".into()),
        ]),
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let shown = dpo.get(&path).await;
    assert!(shown.has("id=\"incident-status\">Clos<"), "{}", shown.body);
    assert!(
        shown.has(&format!("CNIL notifiée le {}", human(notified))),
        "{}",
        shown.body
    );
    assert!(!shown.has("Notification CNIL : reste"));
    assert_eq!(shown.field("cnil_notified_at"), Some(local(notified)));
    assert!(
        shown.has("id=\"inform_no\" name=\"inform_patients\" type=\"radio\" value=\"no\" checked")
    );
    let list = dpo.get("/dpo/incidents").await;
    assert!(!list.has("class=\"badge\""), "nothing open: {}", list.body);
    assert!(row_of(&list, &path).contains("incident-closed"));

    // A breach known for 75 hours and not notified is late, shown first and as an alert.
    let late = register_incident(dpo, "Courriel de résultats envoyé au mauvais destinataire").await;
    let since = local(w.clock.now() - Duration::hours(75));
    let r = submit(dpo, &late, &late, &qualification(&[("aware_at", since)])).await;
    assert_eq!(r.status, 303, "{}", r.body);
    let list = dpo.get("/dpo/incidents").await;
    let row = row_of(&list, &late);
    assert!(
        row.contains("<strong>Notification CNIL : en retard de 3\u{a0}h</strong>"),
        "{row}"
    );
    assert!(row.contains("incident-late"), "{row}");
    assert!(
        list.body.find(&late).unwrap() < list.body.find(&path).unwrap(),
        "most urgent first"
    );
    assert!(list.has("<span class=\"badge\">1<"));
    w.s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trace5_trace6_failed_sign_ins_open_an_incident_the_dpo_sees() {
    let w = world_with(
        Backend::Sqlite,
        vec![
            ("anomaly.failed_logins", toml::Value::Integer(3)),
            ("anomaly.scan_interval_secs", toml::Value::Integer(5)),
        ],
    )
    .await;
    // Someone tries the doctor's account three times with a wrong password.
    let intruder = Agent::new(&w.s);
    for _ in 0..3 {
        let r = intruder
            .submit(
                "/login",
                "/login",
                &[
                    ("email", w.doc.email.as_str()),
                    ("password", "devine-devine-42"),
                ],
            )
            .await;
        assert!(r.status >= 400, "{}", r.body);
    }
    // The node's own scanner (every 5 s) opens the incident; the DPO sees it in the register.
    let started = std::time::Instant::now();
    let list = loop {
        let list = w.dpo.agent.get("/dpo/incidents").await;
        assert_eq!(list.status, 200, "{}", list.body);
        if list.has("data-rule=\"failed_logins\"") {
            break list;
        }
        assert!(
            started.elapsed() < StdDuration::from_secs(20),
            "no failed_logins incident: {}",
            list.body
        );
        tokio::time::sleep(StdDuration::from_millis(250)).await;
    };
    let row = list
        .between("data-rule=\"failed_logins\"", "</tr>")
        .unwrap();
    assert!(row.contains("Échecs de connexion répétés"), "{row}");
    assert!(row.contains("Élevée") && row.contains("Ouvert"), "{row}");
    assert!(list.has("<span class=\"badge\">"), "badge: {}", list.body);
    let href = row
        .split("href=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    let shown = w.dpo.agent.get(href).await;
    assert_eq!(shown.status, 200, "{}", shown.body);
    assert!(shown.has("Échecs de connexion répétés") && shown.has("Élément surveillé"));
    // In English too.
    let en = w.dpo.agent.get("/lang/en?next=/dpo/incidents").await;
    assert!(en.status < 400, "{}", en.body);
    let list = w.dpo.agent.get("/dpo/incidents").await;
    assert!(list.has("Repeated failed sign-ins"), "{}", list.body);
    w.s.stop().await;
}

/// Claire Martin's identity as the registration form sends it (no NIR).
fn claire_fields(birth_name: &str, first_names: &str) -> Vec<(&'static str, String)> {
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
        ("phone", "06 12 34 56 78".into()),
        ("email", "claire.martin@example.fr".into()),
        ("address", "12 rue des Lilas\n75011 Paris".into()),
        ("referring_doctor", "Dr Bernard Martin".into()),
    ]
}

/// Registers a patient through the form as `by`; returns the record's path.
async fn register(by: &Agent, birth_name: &str, first_names: &str) -> String {
    let r = submit(
        by,
        "/patients/new",
        "/patients/new",
        &claire_fields(birth_name, first_names),
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.body);
    r.location().unwrap().split('?').next().unwrap().to_owned()
}

/// The rows of the access log's table.
fn log_rows(page: &Page) -> Vec<String> {
    let table = page
        .between("id=\"access-log\"", "</table>")
        .unwrap_or_else(|| panic!("no access log table: {}", page.body));
    table
        .split("<tr class=\"access")
        .skip(1)
        .map(str::to_owned)
        .collect()
}

/// A patient with a record and what the doctor wrote in it, linked by the secretary; another
/// doctor's patient; a patient account not linked.
struct Patients {
    claire: Enrolled,
    paul: Enrolled,
    path: String,
}

async fn patients(w: &World) -> Patients {
    let claire = Inviter::new(&w.s, &w.clock, &w.admin)
        .person("patient", "Claire Martin", "claire@patients.test", None)
        .await;
    let paul = Inviter::new(&w.s, &w.clock, &w.admin)
        .person("patient", "Paul Sans-Dossier", "paul@patients.test", None)
        .await;
    let path = register(&w.doc.agent, "Martin", "Claire").await;
    let r = submit(
        &w.doc.agent,
        &path,
        &format!("{path}/notes"),
        &[("text", NOTE.into())],
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.body);
    Patients { claire, paul, path }
}

async fn link(w: &World, p: &Patients) {
    let r = submit(
        &w.secretary.agent,
        &p.path,
        &format!("{}/account", p.path),
        &[("account_email", p.claire.email.clone())],
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(
        r.location(),
        Some(format!("{}?done=account#compte", p.path).as_str())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trace4_patient_reads_own_record_and_who_accessed_it() {
    let w = world(Backend::Sqlite).await;
    let other = Inviter::new(&w.s, &w.clock, &w.admin)
        .person(
            "medecin",
            "Dr Autre Confrère",
            "autre@galien.test",
            Some("1000000043"),
        )
        .await;
    let p = patients(&w).await;
    // Another doctor's patient, whose accesses Claire must not see.
    let elsewhere = register(&other.agent, "Durand", "Jeanne").await;
    assert_eq!(other.agent.get(&elsewhere).await.status, 200);

    // Not linked yet: a kind explanation, on both pages.
    let claire = &p.claire.agent;
    for target in ["/me/record", "/me/access-log"] {
        let r = claire.get(target).await;
        assert_eq!(r.status, 200, "{target}: {}", r.body);
        assert!(
            r.has("Votre compte n'est pas encore associé à votre dossier"),
            "{target}: {}",
            r.body
        );
        assert!(!r.has(NOTE));
    }
    assert!(
        claire.get("/account").await.has("href=\"/me/record\""),
        "nav link"
    );

    // The secretary links the account from the record; a wrong account is refused (4xx).
    let sec = &w.secretary.agent;
    let summary = sec.get(&p.path).await;
    assert!(summary.has("id=\"account-form\""), "{}", summary.body);
    for wrong in [w.doc.email.clone(), "nobody@patients.test".to_owned()] {
        let r = submit(
            sec,
            &p.path,
            &format!("{}/account", p.path),
            &[("account_email", wrong.clone())],
        )
        .await;
        assert_eq!(r.status, 400, "{wrong}: {}", r.body);
        assert!(r.has("n'est pas un compte patient actif"), "{}", r.body);
        assert_eq!(r.field("account_email"), Some(wrong));
    }
    let r = submit(
        sec,
        &p.path,
        &format!("{}/account", p.path),
        &[("account_email", "pas-une-adresse".into())],
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(claire.get("/me/record").await.has("id=\"unlinked\""));
    link(&w, &p).await;
    let done = sec.get(&format!("{}?done=account", p.path)).await;
    assert!(done.has("Le compte du patient est associé à ce dossier."));
    // Not twice: the account is taken.
    let again = submit(
        sec,
        &p.path,
        &format!("{}/account", p.path),
        &[("account_email", p.claire.email.clone())],
    )
    .await;
    assert!(again.status == 303 || again.status == 400, "{}", again.body);

    // Claire reads her record, without any form to change it.
    let record = claire.get("/me/record").await;
    assert_eq!(record.status, 200, "{}", record.body);
    assert!(
        record.has("MARTIN Claire") && record.has(NOTE),
        "{}",
        record.body
    );
    assert!(record.has("Dr Bernard Martin"));
    assert!(record.has("href=\"/me/access-log\""));
    assert!(
        !record.has("action=\"/patients"),
        "read-only: {}",
        record.body
    );

    // Who accessed it: the doctor as a médecin of the care team, the secretary, herself.
    let log = claire.get("/me/access-log").await;
    assert_eq!(log.status, 200, "{}", log.body);
    assert!(log.has("Qui a consulté mon dossier ?"));
    assert!(log.has("heure de Paris"), "dates said to be Paris time");
    let rows = log_rows(&log);
    assert!(!rows.is_empty(), "{}", log.body);
    let doctor_rows: Vec<&String> = rows
        .iter()
        .filter(|r| r.contains("Dr Bernard Martin"))
        .collect();
    assert!(!doctor_rows.is_empty(), "{}", log.body);
    assert!(
        doctor_rows.iter().any(|r| r.contains(">Médecin<")
            && r.contains("équipe de soins")
            && r.contains("Accordé")),
        "{doctor_rows:?}"
    );
    assert!(
        doctor_rows
            .iter()
            .any(|r| r.contains("Lecture de données de santé")),
        "{doctor_rows:?}"
    );
    assert!(
        rows.iter().any(|r| r.contains("Sam Secrétaire")),
        "{}",
        log.body
    );
    assert!(rows.iter().any(|r| r.contains("vous-même")), "{}", log.body);
    assert!(!log.has("Dr Autre Confrère") && !log.has("DURAND") && !log.has("Jeanne"));
    // Newest first.
    let first = rows.first().unwrap();
    assert!(
        first.contains("Claire Martin"),
        "her own reading is the newest: {first}"
    );

    // In English.
    let en = claire.get("/lang/en?next=/me/access-log").await;
    assert!(en.status < 400);
    let log = claire.get("/me/access-log").await;
    assert!(
        log.has("Who accessed my record?") && log.has("care team"),
        "{}",
        log.body
    );
    assert!(
        log.has(">Doctor<") || log.has(">Physician<"),
        "{}",
        log.body
    );
    claire.get("/lang/fr?next=/me/record").await;

    // Paul has no record: the explanation; the pages are the patients' own.
    for target in ["/me/record", "/me/access-log"] {
        let r = p.paul.agent.get(target).await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert!(r.has("id=\"unlinked\"") && !r.has(NOTE) && !r.has("Dr Bernard Martin"));
    }
    for (agent, target) in [
        (&w.doc.agent, "/me/record"),
        (&w.dpo.agent, "/me/access-log"),
        (&w.admin.agent, "/me/record"),
    ] {
        assert_eq!(agent.get(target).await.status, 403, "{target}");
    }
    w.s.stop().await;
}

mod browser {
    use super::*;
    use galien_testkit::browser::{Browser, Page as BrowserPage, PageOptions};

    /// The shared page checks, the screenshot named `incidents-{name}`.
    async fn check(page: &BrowserPage, name: &str, width: u32, mobile: bool) {
        pages::check(page, &format!("incidents-{name}"), width, mobile).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn trace4_trace6_incident_and_access_log_pages_fit_a_phone_and_a_desktop() {
        let w = world(Backend::Sqlite).await;
        let dpo = &w.dpo.agent;
        // A breach with the clock running, one overdue, one notified and closed.
        let running = register_incident(dpo, SUMMARY).await;
        let now = w.clock.now();
        let r = submit(
            dpo,
            &running,
            &running,
            &qualification(&[("aware_at", local(now - Duration::hours(11)))]),
        )
        .await;
        assert_eq!(r.status, 303, "{}", r.body);
        let late =
            register_incident(dpo, "Courriel de résultats envoyé au mauvais destinataire").await;
        let r = submit(
            dpo,
            &late,
            &late,
            &qualification(&[("aware_at", local(now - Duration::hours(75)))]),
        )
        .await;
        assert_eq!(r.status, 303, "{}", r.body);
        let closed = register_incident(dpo, "Clé USB retrouvée dans la salle d'attente").await;
        let r = submit(
            dpo,
            &closed,
            &closed,
            &qualification(&[
                ("aware_at", local(now - Duration::hours(30))),
                ("cnil_notified_at", local(now - Duration::hours(2))),
                ("inform_patients", "yes".into()),
                ("patients_informed_at", local(now - Duration::hours(1))),
                ("status", "closed".into()),
            ]),
        )
        .await;
        assert_eq!(r.status, 303, "{}", r.body);
        // The overdue breach first, then the running one, the closed one last.
        let list = dpo.get("/dpo/incidents").await;
        let at = |path: &str| list.body.find(&format!("href=\"{path}\"")).unwrap();
        assert!(
            at(&late) < at(&running) && at(&running) < at(&closed),
            "{}",
            list.body
        );
        // Claire, linked, with accesses in her log.
        let p = patients(&w).await;
        link(&w, &p).await;
        assert_eq!(w.doc.agent.get(&p.path).await.status, 200);

        let browser = Browser::start().await;
        let page = browser.page(PageOptions::default()).await;
        page.set_viewport(375, 800, true).await;
        pages::sign_in(&page, &w.s, &w.dpo, &w.clock).await;
        for (width, mobile, screen) in [(375, true, "phone"), (1280, false, "desktop")] {
            page.goto(&w.s.url("/dpo/incidents")).await;
            page.wait_for("#incidents", StdDuration::from_secs(10))
                .await;
            check(&page, &format!("register-{screen}"), width, mobile).await;
            page.goto(&w.s.url(&running)).await;
            page.wait_for("#qualify-form", StdDuration::from_secs(10))
                .await;
            check(&page, &format!("breach-{screen}"), width, mobile).await;
        }
        page.goto(&w.s.url(&late)).await;
        check(&page, "late-phone", 375, true).await;
        // The badge is in the header.
        page.goto(&w.s.url("/dpo/incidents")).await;
        let badge = page.find("#nav-incidents .badge").await.text().await;
        assert!(badge.starts_with('2'), "{badge}");
        // The audit trail's search, with the médecin's reads of Claire's record in it.
        for (width, mobile, screen) in [(375, true, "phone"), (1280, false, "desktop")] {
            page.goto(&w.s.url("/dpo/audit?limit=20")).await;
            page.wait_for("#traces", StdDuration::from_secs(10)).await;
            check(&page, &format!("audit-{screen}"), width, mobile).await;
        }
        // The processing register and the draft DPIA (GDPR-1).
        for (width, mobile, screen) in [(375, true, "phone"), (1280, false, "desktop")] {
            page.goto(&w.s.url("/dpo/register")).await;
            page.wait_for("#registre", StdDuration::from_secs(10)).await;
            check(
                &page,
                &format!("processing-register-{screen}"),
                width,
                mobile,
            )
            .await;
        }

        let patient = browser.page(PageOptions::default()).await;
        patient.set_viewport(375, 800, true).await;
        pages::sign_in(&patient, &w.s, &p.claire, &w.clock).await;
        for (width, mobile, screen) in [(375, true, "phone"), (1280, false, "desktop")] {
            patient.goto(&w.s.url("/me/record")).await;
            patient
                .wait_for("#access-log-link", StdDuration::from_secs(10))
                .await;
            check(&patient, &format!("my-record-{screen}"), width, mobile).await;
            patient.goto(&w.s.url("/me/access-log")).await;
            patient
                .wait_for("#access-log", StdDuration::from_secs(10))
                .await;
            check(&patient, &format!("access-log-{screen}"), width, mobile).await;
        }
        // Keyboard: the log is reached from "Mon dossier" by its link.
        patient.goto(&w.s.url("/me/record")).await;
        patient.find("#access-log-link").await.click().await;
        patient
            .wait_for_url(
                |u| u.ends_with("/me/access-log"),
                StdDuration::from_secs(10),
            )
            .await;
        w.s.stop().await;
    }
}
