//! Anomaly rules and the incident and breach register (TRACE-5, TRACE-6), on a real node: each rule
//! fires at its threshold and not below, an incident is not opened twice, the DPO qualifies a breach
//! and sees the 72-hour CNIL deadline, and no one else reaches the register.

use galien_app::compliance::anomaly;
use galien_app::compliance::incidents::{self, IncidentDetails, Qualification};
use galien_app::patients::clinical;
use galien_core::ErrorCode;
use galien_core::audit::{AuditAction, AuditActor, AuditEvent, Outcome, ResourceRef, Source};
use galien_core::identity::{Actor, Role};
use galien_core::ids::{AuditEventId, PatientId, UserId};
use galien_store::{Backend, IncidentStatus, Severity};
use time::Duration;

use crate::common;
use common::{T0, World, ctx, world, world_with};

async fn rules_fired(w: &World) -> Vec<(String, String)> {
    anomaly::scan(&w.app, 1000).await.unwrap();
    w.app
        .store
        .incidents()
        .await
        .unwrap()
        .into_iter()
        .map(|i| (i.rule.unwrap_or_default(), i.subject.unwrap_or_default()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trace5_many_patients_fires_at_its_threshold_once() {
    let w = world(Backend::Sqlite).await;
    let doctor = w.person("a@chu.fr", Role::Medecin).await;
    let threshold = w.app.settings.anomaly.many_patients;
    // One below the threshold (each registration writes to a distinct patient's record): nothing.
    for i in 0..threshold - 1 {
        w.register(&doctor, &format!("Patient{i}"), "").await;
    }
    let before = rules_fired(&w).await;
    assert!(
        before.iter().all(|(r, _)| r != "many_patients"),
        "{before:?}"
    );
    // One more distinct patient within the window reaches it.
    w.clock.advance(Duration::minutes(1));
    let extra = w.register(&doctor, "Encore", "").await;
    clinical::summary(&w.app, &doctor, &ctx(), extra)
        .await
        .unwrap();
    let after = rules_fired(&w).await;
    let hits: Vec<_> = after.iter().filter(|(r, _)| r == "many_patients").collect();
    assert_eq!(hits.len(), 1, "{after:?}");
    assert_eq!(hits[0].1, format!("user:{}", doctor.user));
    // More accesses in the window do not open a second incident.
    let more = w.register(&doctor, "EncoreUn", "").await;
    clinical::summary(&w.app, &doctor, &ctx(), more)
        .await
        .unwrap();
    let again = rules_fired(&w).await;
    assert_eq!(
        again.iter().filter(|(r, _)| r == "many_patients").count(),
        1
    );
    // The incident's own trace names the rule.
    let traced = w
        .app
        .store
        .audit_events(&galien_store::AuditFilter {
            action: Some(AuditAction::IncidentOpened),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(
        traced
            .iter()
            .any(|t| t.event.reason.as_deref() == Some("ANOMALY:many_patients"))
    );
    w.server.stop().await;
}

fn failed_login(w: &World, account: &str, ip: &str, minutes: i64) -> AuditEvent {
    let at = T0 + Duration::minutes(minutes);
    AuditEvent {
        id: AuditEventId::generate(at, w.app.entropy.as_ref()),
        at,
        actor: AuditActor::default(),
        action: AuditAction::AuthLoginFailed,
        outcome: Outcome::Failure,
        resource: Some(ResourceRef {
            kind: "user".into(),
            id: account.into(),
        }),
        patient: None,
        purpose: None,
        emergency: false,
        source: Source {
            ip: Some(ip.into()),
            user_agent: None,
            request_id: None,
        },
        reason: Some("AUTH-BAD-CREDENTIALS".into()),
    }
}

/// A successful read of `patient`'s record by `user`, `seconds` after T0 (working hours).
fn record_read(w: &World, user: UserId, patient: PatientId, seconds: i64) -> AuditEvent {
    let at = T0 + Duration::seconds(seconds);
    AuditEvent {
        id: AuditEventId::generate(at, w.app.entropy.as_ref()),
        at,
        actor: AuditActor {
            user: Some(user),
            role: Some(Role::Medecin),
            assurance: Some(galien_core::identity::Assurance::TwoFactors),
            client: None,
        },
        action: AuditAction::RecordRead,
        outcome: Outcome::Success,
        resource: Some(ResourceRef {
            kind: "patient_record".into(),
            id: patient.to_string(),
        }),
        patient: Some(patient),
        purpose: Some("care".into()),
        emergency: false,
        source: Source::default(),
        reason: None,
    }
}

fn some_id() -> uuid::Uuid {
    uuid::Uuid::new_v4()
}

async fn many_patients_incidents(w: &World) -> usize {
    w.app
        .store
        .incidents()
        .await
        .unwrap()
        .iter()
        .filter(|i| i.rule.as_deref() == Some("many_patients"))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trace5_many_patients_counts_every_record_of_a_busy_window() {
    // A user who read one record 1,100 times in the window, then others: every record of the
    // window counts, not only its first thousand.
    let w = world(Backend::Postgres).await;
    let threshold = i64::from(w.app.settings.anomaly.many_patients);
    let user = UserId::from_uuid(some_id());
    let busy = PatientId::from_uuid(some_id());
    let mut scanner = anomaly::Scanner::new();
    let burst: Vec<_> = (0..1100).map(|_| record_read(&w, user, busy, 1)).collect();
    w.app.store.append_audit_all(burst).await.unwrap();
    // One below the threshold: nothing.
    let others: Vec<_> = (0..threshold - 2)
        .map(|i| record_read(&w, user, PatientId::from_uuid(some_id()), 60 + i))
        .collect();
    w.app.store.append_audit_all(others).await.unwrap();
    let head = w.app.store.audit_head().await.unwrap().unwrap().0;
    while w.app.store.anomaly_cursor().await.unwrap() < head {
        assert_eq!(scanner.scan(&w.app, 500).await.unwrap(), 0);
    }
    assert_eq!(many_patients_incidents(&w).await, 0);
    // The threshold, within the window: one incident, found by the scanner kept since.
    let last = record_read(&w, user, PatientId::from_uuid(some_id()), 300);
    w.app.store.append_audit(&last).await.unwrap();
    assert_eq!(scanner.scan(&w.app, 500).await.unwrap(), 1);
    assert_eq!(many_patients_incidents(&w).await, 1);
    // A scanner that knows nothing reads the window from the trail and finds the same.
    let again = record_read(&w, user, PatientId::from_uuid(some_id()), 301);
    w.app.store.append_audit(&again).await.unwrap();
    let mut fresh = anomaly::Scanner::new();
    assert_eq!(fresh.scan(&w.app, 500).await.unwrap(), 0, "already open");
    assert_eq!(many_patients_incidents(&w).await, 1);
    // Outside the window, the old patients no longer count.
    let later = record_read(&w, user, PatientId::from_uuid(some_id()), 300 + 60 * 11 + 1);
    w.app.store.append_audit(&later).await.unwrap();
    w.clock.advance(Duration::minutes(30));
    let cursor = w.app.store.anomaly_cursor().await.unwrap();
    let mut cold = anomaly::Scanner::new();
    cold.scan(&w.app, 500).await.unwrap();
    assert_eq!(w.app.store.anomaly_cursor().await.unwrap(), cursor + 1);
    assert_eq!(many_patients_incidents(&w).await, 1);
    w.server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trace5_a_kept_scanner_counts_the_records_another_node_scanned() {
    let w = world(Backend::Sqlite).await;
    let threshold = i64::from(w.app.settings.anomaly.many_patients);
    let user = UserId::from_uuid(some_id());
    let reads = |from: i64, n: i64| -> Vec<AuditEvent> {
        (from..from + n)
            .map(|i| record_read(&w, user, PatientId::from_uuid(some_id()), i))
            .collect()
    };
    let (ours, theirs) = (threshold / 2, threshold / 4);
    let mut this_node = anomaly::Scanner::new();
    let mut other_node = anomaly::Scanner::new();
    w.app.store.append_audit_all(reads(0, ours)).await.unwrap();
    this_node.scan(&w.app, 500).await.unwrap();
    // The other node scans the next records…
    w.app
        .store
        .append_audit_all(reads(100, theirs))
        .await
        .unwrap();
    other_node.scan(&w.app, 500).await.unwrap();
    // …and this one the rest: one below the threshold, then the threshold.
    let rest = threshold - ours - theirs;
    w.app
        .store
        .append_audit_all(reads(200, rest - 1))
        .await
        .unwrap();
    this_node.scan(&w.app, 500).await.unwrap();
    assert_eq!(many_patients_incidents(&w).await, 0);
    w.app.store.append_audit_all(reads(300, 1)).await.unwrap();
    assert_eq!(this_node.scan(&w.app, 500).await.unwrap(), 1);
    assert_eq!(many_patients_incidents(&w).await, 1);
    w.server.stop().await;
}

async fn off_hours_incidents(w: &World, dpo: &Actor) -> Vec<(uuid::Uuid, IncidentStatus)> {
    incidents::list(&w.app, dpo)
        .await
        .unwrap()
        .into_iter()
        .filter(|v| v.incident.rule.as_deref() == Some("off_hours"))
        .map(|v| (v.incident.id, v.incident.status))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trace5_a_kept_scanner_asks_again_a_minute_after_an_incident_it_raised() {
    // A médecin on night duty: every record he reaches is off hours. The scanner opens one
    // incident and does not ask the store again for each record; once the DPO has closed it, the
    // next off-hours access opens a new one, at most a minute later.
    let w = world(Backend::Sqlite).await;
    let dpo = w.person("dpo@chu.fr", Role::Dpo).await;
    let user = UserId::from_uuid(some_id());
    let patient = PatientId::from_uuid(some_id());
    let night = 12 * 3600 + 30 * 60; // 21:30 UTC, 22:30 in Paris.
    let mut scanner = anomaly::Scanner::new();
    let night_reads: Vec<_> = (0..50)
        .map(|i| record_read(&w, user, patient, night + i))
        .collect();
    w.app.store.append_audit_all(night_reads).await.unwrap();
    assert_eq!(scanner.scan(&w.app, 500).await.unwrap(), 1);
    let first = off_hours_incidents(&w, &dpo).await;
    assert_eq!(first.len(), 1, "{first:?}");
    // The DPO closes it.
    let closed = Qualification {
        status: IncidentStatus::Closed,
        severity: Severity::Low,
        details: IncidentDetails::default(),
        breach_aware_at: None,
        cnil_notified_at: None,
        inform_patients: None,
        patients_informed_at: None,
    };
    incidents::qualify(&w.app, &dpo, &ctx(), first[0].0, closed)
        .await
        .unwrap();
    // Within the minute, the scanner trusts what it raised: no new incident yet.
    w.clock.advance(Duration::seconds(30));
    let again = record_read(&w, user, patient, night + 100);
    w.app.store.append_audit(&again).await.unwrap();
    assert_eq!(scanner.scan(&w.app, 500).await.unwrap(), 0);
    // After it, the closed incident is seen and a new one opened.
    w.clock.advance(Duration::seconds(31));
    let later = record_read(&w, user, patient, night + 200);
    w.app.store.append_audit(&later).await.unwrap();
    assert_eq!(scanner.scan(&w.app, 500).await.unwrap(), 1);
    let now = off_hours_incidents(&w, &dpo).await;
    assert_eq!(now.len(), 2, "{now:?}");
    assert_eq!(
        now.iter()
            .filter(|(_, s)| *s == IncidentStatus::Closed)
            .count(),
        1
    );
    w.server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trace5_failed_login_bursts_fire_per_account_and_per_address() {
    let w = world(Backend::Postgres).await;
    let n = w.app.settings.anomaly.failed_logins;
    // One below the threshold on one account, spread over addresses: nothing.
    for i in 0..n - 1 {
        let e = failed_login(&w, "acc-1", &format!("198.51.100.{i}"), 1);
        w.app.store.append_audit(&e).await.unwrap();
    }
    assert!(
        rules_fired(&w)
            .await
            .iter()
            .all(|(r, _)| r != "failed_logins")
    );
    // The threshold-th failure on the account fires for the account.
    let e = failed_login(&w, "acc-1", "198.51.100.200", 2);
    w.app.store.append_audit(&e).await.unwrap();
    let fired = rules_fired(&w).await;
    assert!(
        fired.contains(&("failed_logins".into(), "account:acc-1".into())),
        "{fired:?}"
    );
    // One address trying many accounts fires for the address.
    for i in 0..n {
        let e = failed_login(&w, &format!("acc-x{i}"), "203.0.113.9", 3);
        w.app.store.append_audit(&e).await.unwrap();
    }
    let fired = rules_fired(&w).await;
    assert!(
        fired.contains(&("failed_logins".into(), "ip:203.0.113.9".into())),
        "{fired:?}"
    );
    // Failures older than the window do not count.
    let old = failed_login(&w, "acc-old", "192.0.2.50", -120);
    w.app.store.append_audit(&old).await.unwrap();
    for i in 0..n - 1 {
        let e = failed_login(&w, "acc-old", "192.0.2.50", i64::from(i) + 30);
        w.app.store.append_audit(&e).await.unwrap();
    }
    let fired = rules_fired(&w).await;
    assert!(
        !fired.iter().any(|(_, s)| s == "account:acc-old"),
        "{fired:?}"
    );
    w.server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trace5_emergency_access_and_off_hours_open_incidents() {
    let w = world(Backend::Sqlite).await;
    let doctor = w.person("a@chu.fr", Role::Medecin).await;
    let er = w.person("urgences@chu.fr", Role::Medecin).await;
    // 09:00 UTC = 10:00 in Paris (UTC+1): working hours.
    let p = w.register(&doctor, "Durand", "").await;
    assert!(rules_fired(&w).await.is_empty());
    galien_app::patients::care::open_emergency(
        &w.app,
        &er,
        &ctx(),
        p,
        "Patient inconscient aux urgences, dossier nécessaire",
    )
    .await
    .unwrap();
    let fired = rules_fired(&w).await;
    assert_eq!(
        fired
            .iter()
            .filter(|(r, _)| r == "emergency_access")
            .count(),
        1,
        "{fired:?}"
    );
    // 22:30 in Paris: off hours.
    w.clock.advance(Duration::hours(12) + Duration::minutes(30));
    clinical::summary(&w.app, &doctor, &ctx(), p).await.unwrap();
    let fired = rules_fired(&w).await;
    assert!(
        fired.contains(&("off_hours".into(), format!("user:{}", doctor.user))),
        "{fired:?}"
    );
    w.server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trace6_the_dpo_qualifies_a_breach_with_the_72_hour_deadline() {
    let w = world(Backend::Sqlite).await;
    let dpo = w.person("dpo@chu.fr", Role::Dpo).await;
    let admin = w.person("admin@chu.fr", Role::Administrateur).await;
    let details = IncidentDetails {
        facts: "Ordinateur portable volé contenant un export".into(),
        affected_people: "≈ 40 patients du service de cardiologie".into(),
        data_categories: "identité, comptes rendus".into(),
        effects: "divulgation possible".into(),
        measures: "comptes révoqués, plainte déposée".into(),
    };
    let id = incidents::register(
        &w.app,
        &dpo,
        &ctx(),
        "Vol d'un portable",
        Severity::High,
        &details,
    )
    .await
    .unwrap();
    assert_eq!(incidents::open_count(&w.app, &dpo).await.unwrap(), 1);
    assert_eq!(
        incidents::list(&w.app, &admin).await.unwrap_err().code(),
        ErrorCode::AccessDenied
    );
    // Qualified as a breach known since now: 72 hours to notify the CNIL.
    let q = Qualification {
        status: IncidentStatus::Investigating,
        severity: Severity::High,
        details: details.clone(),
        breach_aware_at: Some(T0),
        cnil_notified_at: None,
        inform_patients: Some(true),
        patients_informed_at: None,
    };
    incidents::qualify(&w.app, &dpo, &ctx(), id, q.clone())
        .await
        .unwrap();
    w.clock.advance(Duration::hours(10));
    let v = incidents::get(&w.app, &dpo, id).await.unwrap();
    assert!(v.incident.is_breach);
    assert_eq!(v.cnil_deadline, Some(T0 + Duration::hours(72)));
    assert_eq!(v.time_left, Some(Duration::hours(62)));
    assert_eq!(v.details, details);
    assert_eq!(v.incident.inform_patients, Some(true));
    // Nonsense is refused: informed although not to be informed; a date in the future.
    let mut bad = q.clone();
    bad.inform_patients = Some(false);
    bad.patients_informed_at = Some(T0);
    assert_eq!(
        incidents::qualify(&w.app, &dpo, &ctx(), id, bad)
            .await
            .unwrap_err()
            .code(),
        ErrorCode::FormInvalid
    );
    let mut bad = q.clone();
    bad.cnil_notified_at = Some(T0 + Duration::days(30));
    assert_eq!(
        incidents::qualify(&w.app, &dpo, &ctx(), id, bad)
            .await
            .unwrap_err()
            .code(),
        ErrorCode::FormInvalid
    );
    // Notified: the deadline no longer runs; closed: no longer counted as open.
    let mut done = q;
    done.status = IncidentStatus::Closed;
    done.cnil_notified_at = Some(T0 + Duration::hours(9));
    done.patients_informed_at = Some(T0 + Duration::hours(10));
    incidents::qualify(&w.app, &dpo, &ctx(), id, done)
        .await
        .unwrap();
    let v = incidents::get(&w.app, &dpo, id).await.unwrap();
    assert_eq!((v.cnil_deadline, v.time_left), (None, None));
    assert_eq!(incidents::open_count(&w.app, &dpo).await.unwrap(), 0);
    // The details are sealed at rest: the facts are not in the database file.
    let mut found = false;
    for entry in std::fs::read_dir(&w.server.data_dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            let bytes = std::fs::read(&path).unwrap();
            found |= bytes.windows(10).any(|x| x == b"Ordinateur");
        }
    }
    assert!(!found, "incident facts in clear on disk");
    w.server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trace5_the_dpos_are_mailed_when_a_rule_opens_an_incident_without_any_detail() {
    let sink = galien_testkit::smtp::SmtpSink::start();
    let w = world_with(
        Backend::Sqlite,
        vec![
            ("smtp.host", toml::Value::String("127.0.0.1".into())),
            ("smtp.port", toml::Value::Integer(i64::from(sink.port))),
            ("smtp.security", toml::Value::String("none".into())),
            ("smtp.from", toml::Value::String("galien@chu.test".into())),
            ("anomaly.failed_logins", toml::Value::Integer(3)),
        ],
    )
    .await;
    let _dpo = w.person("dpo@chu.test", Role::Dpo).await;
    let _other_dpo = w.person("dpo2@chu.test", Role::Dpo).await;
    for _ in 0..3 {
        let e = failed_login(&w, "acc-9", "203.0.113.77", 1);
        w.app.store.append_audit(&e).await.unwrap();
    }
    anomaly::scan(&w.app, 1000).await.unwrap();
    // Two incidents (the account, the address), each mailed to both DPOs.
    let mails: Vec<String> = sink
        .wait_for(4, 10)
        .await
        .into_iter()
        .map(|m| m.replace("=\n", ""))
        .collect();
    assert_eq!(mails.len(), 4, "{mails:?}");
    let to: Vec<&str> = mails
        .iter()
        .filter_map(|m| m.lines().find_map(|l| l.strip_prefix("X-Envelope-To: ")))
        .collect();
    assert!(
        to.contains(&"dpo@chu.test") && to.contains(&"dpo2@chu.test"),
        "{to:?}"
    );
    let mail = &mails[0];
    assert!(mail.contains("failed_logins"), "{mail}");
    assert!(
        mail.contains(&format!("{}/dpo/incidents/", w.server.base_url)),
        "{mail}"
    );
    // The finding (account, address) stays in Galien.
    assert!(
        !mail.contains("203.0.113.77") && !mail.contains("acc-9"),
        "{mail}"
    );
    w.server.stop().await;
}
