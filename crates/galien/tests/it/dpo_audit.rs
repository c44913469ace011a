//! The DPO's view of the audit trail over HTTP, on both backends (TRACE-3, TRACE-1, ACC-2):
//! searching by user, action and period, paging, the FHIR `AuditEvent` bundle (validated with the
//! PyPI `fhir.resources` library when it is installed), who may search, and that searching is
//! itself traced.

use galien_core::audit::{AuditAction, Outcome};
use galien_core::{Clock, ManualClock};
use galien_store::{AuditFilter, Backend, StoredAuditEvent};
use galien_testkit::people::{self, Agent, Enrolled, PASSWORD};
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
    trace_03_dpo_searches_traces_by_user_action_and_period,
    trace_03_audit_events_render_as_valid_fhir_auditevent_bundle,
    acc_02_only_the_dpo_sees_traces,
    trace_01_searching_the_traces_is_itself_traced,
    trace_03_bad_parameters_are_refused_named_and_not_traced,
);

struct World {
    s: TestServer,
    clock: Arc<ManualClock>,
    admin: Enrolled,
    dpo: Enrolled,
    doc: Enrolled,
}

async fn world(backend: Backend) -> World {
    let clock = Arc::new(ManualClock::new(datetime!(2026-11-28 09:00 UTC)));
    let s = TestServer::start_with(backend, Options::clocked(&clock)).await;
    let admin = people::enrol_first_admin(&s, &clock).await;
    let link = people::invite(&admin.agent, "dpo", "Delphine Po", "dpo@galien.test", "").await;
    let dpo = people::accept_invitation(&s, &link, "dpo@galien.test", &clock).await;
    let rpps = people::rpps("1000000042");
    let link = people::invite(
        &admin.agent,
        "medecin",
        "Dr Bernard Martin",
        "b.martin@galien.test",
        &rpps,
    )
    .await;
    let doc = people::accept_invitation(&s, &link, "b.martin@galien.test", &clock).await;
    World {
        s,
        clock,
        admin,
        dpo,
        doc,
    }
}

async fn all_events(s: &TestServer, action: AuditAction) -> Vec<StoredAuditEvent> {
    s.store
        .audit_events(&AuditFilter {
            action: Some(action),
            limit: Some(1000),
            ..AuditFilter::default()
        })
        .await
        .unwrap()
}

async fn fail_login(s: &TestServer, email: &str) {
    let r = Agent::new(s)
        .submit(
            "/login",
            "/login",
            &[("email", email), ("password", "not the password at all")],
        )
        .await;
    assert_eq!(r.status, 401, "{}", r.body);
}

async fn json(agent: &Agent, path: &str) -> Value {
    let r = agent.get(path).await;
    assert_eq!(r.status, 200, "{path}: {}", r.body);
    serde_json::from_str(&r.body).unwrap()
}

fn events(v: &Value) -> &Vec<Value> {
    v["events"].as_array().unwrap()
}

/// The id of the account an event names as acting, from the invitation trace.
async fn user_id_of_inviter(s: &TestServer) -> String {
    all_events(s, AuditAction::AccountInvited).await[0]
        .event
        .actor
        .user
        .unwrap()
        .to_string()
}

async fn trace_03_dpo_searches_traces_by_user_action_and_period(backend: Backend) {
    let w = world(backend).await;
    // Two failures in the morning, one an hour later.
    fail_login(&w.s, "b.martin@galien.test").await;
    fail_login(&w.s, "b.martin@galien.test").await;
    let morning_end = w.clock.now();
    w.clock.advance(time::Duration::hours(1));
    fail_login(&w.s, "b.martin@galien.test").await;
    let dpo = people::sign_in(&w.s, &w.dpo.email, PASSWORD, &w.dpo.totp, &w.clock).await;

    // By action.
    let v = json(&dpo, "/api/audit/events?action=auth.login.failed").await;
    assert_eq!(events(&v).len(), 3, "{v}");
    for e in events(&v) {
        assert_eq!(e["event"]["action"], "auth.login.failed");
        assert_eq!(e["hash"].as_str().unwrap().len(), 64);
        assert!(e["seq"].as_u64().unwrap() > 0);
    }
    // By period: `to` is exclusive with a full time.
    let to = (morning_end + time::Duration::minutes(30))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let v = json(
        &dpo,
        &format!("/api/audit/events?action=auth.login.failed&from=2026-11-28T00:00:00Z&to={to}"),
    )
    .await;
    assert_eq!(events(&v).len(), 2, "{v}");
    let v = json(
        &dpo,
        &format!("/api/audit/events?action=auth.login.failed&from={to}"),
    )
    .await;
    assert_eq!(events(&v).len(), 1, "{v}");
    // A day given as `to` includes that day; the next day has nothing.
    let v = json(
        &dpo,
        "/api/audit/events?action=auth.login.failed&to=2026-11-28",
    )
    .await;
    assert_eq!(events(&v).len(), 3, "{v}");
    let v = json(
        &dpo,
        "/api/audit/events?action=auth.login.failed&from=2026-11-29",
    )
    .await;
    assert_eq!(events(&v).len(), 0, "{v}");

    // By user: everything the administrator did, and nothing else.
    let admin_id = user_id_of_inviter(&w.s).await;
    let v = json(&dpo, &format!("/api/audit/events?user={admin_id}")).await;
    assert!(events(&v).len() >= 3, "{v}");
    for e in events(&v) {
        assert_eq!(e["event"]["actor"]["user"], admin_id.as_str());
    }
    assert!(
        events(&v)
            .iter()
            .any(|e| e["event"]["action"] == "account.invited")
    );

    // Paging by after_seq: one at a time, in chain order, without overlap.
    let p1 = json(&dpo, "/api/audit/events?action=auth.login.failed&limit=2").await;
    assert_eq!(events(&p1).len(), 2);
    let next = p1["next_after_seq"].as_u64().unwrap();
    assert_eq!(next, events(&p1)[1]["seq"].as_u64().unwrap());
    let p2 = json(
        &dpo,
        &format!("/api/audit/events?action=auth.login.failed&limit=2&after_seq={next}"),
    )
    .await;
    assert_eq!(events(&p2).len(), 1);
    assert!(events(&p2)[0]["seq"].as_u64().unwrap() > next);
    assert!(p2.get("next_after_seq").is_none(), "{p2}");

    // The page: a form with labels, and a table with the same results.
    let page = dpo.get("/dpo/audit").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.has("<label for=\"action\">Action</label>"));
    assert!(page.has("href=\"/dpo/audit\""), "nav link for the DPO");
    assert!(
        !page.has("id=\"traces\""),
        "no search until the form is sent"
    );
    let page = dpo
        .get("/dpo/audit?user=&patient=&action=auth.login.failed&from=&to=&limit=2")
        .await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert_eq!(
        page.body.matches("Connexion échouée").count(),
        2 + 1,
        "two rows + the option"
    );
    assert!(page.has("127.0.0.1"));
    assert!(page.has("Échec") || page.has("Refusé"), "{}", page.body);
    let next_link = page.between("id=\"next-page\"", ">").is_some();
    assert!(next_link, "{}", page.body);
    assert!(page.has(&format!("after_seq={next}")));
    let en = dpo.get("/lang/en?next=/dpo/audit").await;
    assert!(en.status == 303 || en.status == 302, "{}", en.status);
    let page = dpo.get("/dpo/audit?action=auth.login.failed").await;
    assert!(page.has("Sign-in failed"), "{}", page.body);
    assert!(page.has("Audit trail"));

    // A bare day is a UTC day in the API (as its OpenAPI document says) and a Paris day on the
    // page, whose times are Paris time: a failure at 23:30 UTC on 28 November is at 00:30 on the
    // 29th in Paris.
    w.clock.set(datetime!(2026-11-28 23:30 UTC));
    fail_login(&w.s, "b.martin@galien.test").await;
    let dpo = people::sign_in(&w.s, &w.dpo.email, PASSWORD, &w.dpo.totp, &w.clock).await;
    let v = json(
        &dpo,
        "/api/audit/events?action=auth.login.failed&from=2026-11-29",
    )
    .await;
    assert_eq!(events(&v).len(), 0, "{v}");
    let page = dpo
        .get("/dpo/audit?action=auth.login.failed&from=2026-11-29")
        .await;
    assert_eq!(page.status, 200, "{}", page.body);
    let shown = page.body.matches("Connexion échouée").count()
        + page.body.matches("Sign-in failed").count();
    assert_eq!(shown, 1 + 1, "one row + the option: {}", page.body);
    assert!(
        page.has("29/11/2026 à 00:30") || page.has("2026-11-29 00:30"),
        "{}",
        page.body
    );
}

async fn trace_03_audit_events_render_as_valid_fhir_auditevent_bundle(backend: Backend) {
    let w = world(backend).await;
    fail_login(&w.s, "b.martin@galien.test").await;
    let r = w
        .dpo
        .agent
        .get("/api/audit/events?format=fhir&limit=1000")
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(
        r.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/fhir+json")
    );
    let bundle: Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(bundle["resourceType"], "Bundle");
    assert_eq!(bundle["type"], "searchset");
    let entries = bundle["entry"].as_array().unwrap();
    assert_eq!(bundle["total"].as_u64().unwrap() as usize, entries.len());
    let stored =
        w.s.store
            .audit_events(&AuditFilter {
                limit: Some(1000),
                ..AuditFilter::default()
            })
            .await
            .unwrap();
    // The search itself was traced after reading: the bundle has every record before it.
    assert_eq!(entries.len() + 1, stored.len());
    let dcm = "http://dicom.nema.org/resources/ontology/DCM";
    for (entry, s) in entries.iter().zip(&stored) {
        let ae = &entry["resource"];
        assert_eq!(ae["resourceType"], "AuditEvent");
        assert_eq!(ae["id"], s.event.id.to_string().as_str());
        assert_eq!(ae["type"]["system"], dcm);
        assert!(["C", "R", "U", "D", "E"].contains(&ae["action"].as_str().unwrap()));
        assert!(ae["recorded"].as_str().unwrap().ends_with('Z'));
        let outcome = ae["outcome"].as_str().unwrap();
        match s.event.outcome {
            Outcome::Success => assert_eq!(outcome, "0"),
            _ => assert!(outcome == "4" || outcome == "8"),
        }
        assert!(
            ae["agent"]
                .as_array()
                .unwrap()
                .iter()
                .any(|a| a["requestor"] == true)
        );
        assert_eq!(ae["source"]["observer"]["display"], "Galien");
        let chain = ae["entity"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["what"]["identifier"]["system"] == "urn:galien:audit-chain")
            .unwrap();
        let details = chain["detail"].as_array().unwrap();
        let get = |k: &str| {
            details
                .iter()
                .find(|d| d["type"] == k)
                .and_then(|d| d["valueString"].as_str())
                .unwrap()
                .to_owned()
        };
        assert_eq!(get("seq"), s.seq.to_string());
        assert_eq!(get("hash").len(), 64);
        assert_eq!(
            get("hash"),
            s.hash
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        );
    }
    // A failed sign-in: User Authentication / Login, minor failure, the person's address.
    let failed = entries
        .iter()
        .map(|e| &e["resource"])
        .find(|ae| {
            ae["subtype"]
                .as_array()
                .unwrap()
                .iter()
                .any(|c| c["code"] == "auth.login.failed")
        })
        .unwrap();
    assert_eq!(failed["type"]["code"], "110114");
    assert_eq!(failed["subtype"][0]["code"], "110122");
    assert_eq!(failed["action"], "E");
    assert_eq!(failed["outcome"], "4");
    assert_eq!(failed["agent"][0]["network"]["address"], "127.0.0.1");
    // An invitation names the invited account as a security user entity and the inviter's role.
    let invited = entries
        .iter()
        .map(|e| &e["resource"])
        .find(|ae| ae["subtype"][0]["code"] == "account.invited")
        .unwrap();
    assert_eq!(invited["action"], "C");
    assert_eq!(
        invited["agent"][0]["role"][0]["coding"][0]["code"],
        "administrateur"
    );
    assert_eq!(
        invited["agent"][0]["who"]["identifier"]["system"],
        "urn:galien:user"
    );
    assert!(
        invited["entity"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["role"]["code"] == "11")
    );

    validate_with_fhir_resources(&r.body);
}

/// Validates the bundle and each AuditEvent with the PyPI `fhir.resources` library (R4B models,
/// whose AuditEvent is R4's). `scripts/test` installs it; a missing library fails the test.
fn validate_with_fhir_resources(bundle: &str) {
    let script = r#"
import json, sys
try:
    from fhir.resources.R4B.bundle import Bundle
    from fhir.resources.R4B.auditevent import AuditEvent
except ImportError:
    print("fhir.resources is not installed: python3 -m pip install 'fhir.resources>=7' (scripts/test does it)")
    sys.exit(1)
data = json.load(sys.stdin)
Bundle.model_validate(data) if hasattr(Bundle, "model_validate") else Bundle.parse_obj(data)
for e in data["entry"]:
    r = e["resource"]
    AuditEvent.model_validate(r) if hasattr(AuditEvent, "model_validate") else AuditEvent.parse_obj(r)
print("OK", len(data["entry"]))
"#;
    let child = std::process::Command::new("python3")
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn();
    let mut child = child.expect("python3 is needed to validate FHIR output");
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(bundle.as_bytes()).unwrap();
    }
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "fhir.resources refused the bundle:\n{}\n{}",
        stdout,
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.starts_with("OK"), "{stdout}");
}

async fn acc_02_only_the_dpo_sees_traces(backend: Backend) {
    let w = world(backend).await;
    for (who, agent) in [("admin", &w.admin.agent), ("médecin", &w.doc.agent)] {
        let r = agent.get("/api/audit/events").await;
        assert_eq!(r.status, 403, "{who}: {}", r.body);
        assert!(r.has("ACC-DENIED"), "{who}: {}", r.body);
        let r = agent
            .get("/api/audit/events?format=fhir&user=nonsense")
            .await;
        assert_eq!(
            r.status, 403,
            "{who}: refusal does not depend on parameters"
        );
        let r = agent.get("/dpo/audit?action=auth.login.failed").await;
        assert_eq!(r.status, 403, "{who}: {}", r.body);
        assert!(!agent.get("/account").await.has("href=\"/dpo/audit\""));
    }
    let r = Agent::new(&w.s).get("/api/audit/events").await;
    assert_eq!(r.status, 401, "{}", r.body);
    let r = Agent::new(&w.s).get("/dpo/audit").await;
    assert_eq!(r.location(), Some("/login"));
    assert_eq!(w.dpo.agent.get("/api/audit/events").await.status, 200);
    assert_eq!(w.dpo.agent.get("/dpo/audit").await.status, 200);

    // Each refusal is traced as a denied access by the person who tried.
    let denied = all_events(&w.s, AuditAction::AccessDenied).await;
    assert_eq!(denied.len(), 6, "{denied:?}");
    assert!(
        denied.iter().all(|d| d.event.outcome == Outcome::Denied
            && d.event.reason.as_deref() == Some("audit.search"))
    );
    // A médecin's 403 leaks no record.
    assert!(!w.doc.agent.get("/api/audit/events").await.has("\"seq\""));
}

async fn trace_01_searching_the_traces_is_itself_traced(backend: Backend) {
    let w = world(backend).await;
    assert!(
        all_events(&w.s, AuditAction::AuditExported)
            .await
            .is_empty()
    );
    json(&w.dpo.agent, "/api/audit/events?action=auth.login.failed").await;
    let page = w.dpo.agent.get("/dpo/audit?action=auth.login.failed").await;
    assert_eq!(page.status, 200);
    let r = w.dpo.agent.get("/api/audit/events?format=fhir").await;
    assert_eq!(r.status, 200);
    let traced = all_events(&w.s, AuditAction::AuditExported).await;
    let reasons: Vec<_> = traced
        .iter()
        .map(|t| t.event.reason.clone().unwrap())
        .collect();
    assert_eq!(reasons, ["export", "search", "export"]);
    let dpo_id = traced[0].event.actor.user.unwrap();
    for t in &traced {
        assert_eq!(t.event.actor.user, Some(dpo_id));
        assert_eq!(t.event.actor.role, Some(galien_core::identity::Role::Dpo));
        assert_eq!(t.event.outcome, Outcome::Success);
        assert_eq!(t.event.source.ip.as_deref(), Some("127.0.0.1"));
        assert!(t.event.source.request_id.is_some());
    }
    // The DPO finds their own searches.
    let v = json(
        &w.dpo.agent,
        &format!("/api/audit/events?action=audit.exported&user={dpo_id}"),
    )
    .await;
    assert_eq!(events(&v).len(), 3, "{v}");
}

async fn trace_03_bad_parameters_are_refused_named_and_not_traced(backend: Backend) {
    let w = world(backend).await;
    for (query, param) in [
        ("user=not-a-uuid", "user"),
        ("patient=12", "patient"),
        ("action=record.burn", "action"),
        ("from=last-tuesday", "from"),
        ("to=2026-02-30", "to"),
        ("after_seq=-3", "after_seq"),
        ("limit=5000", "limit"),
        ("format=xml", "format"),
        ("sort=desc", "sort"),
    ] {
        let r = w.dpo.agent.get(&format!("/api/audit/events?{query}")).await;
        assert_eq!(r.status, 400, "{query}: {}", r.body);
        let body: Value = serde_json::from_str(&r.body).unwrap();
        assert_eq!(body["code"], "REQ-INVALID", "{query}");
        assert_eq!(body["parameter"], param, "{query}");
    }
    let page = w.dpo.agent.get("/dpo/audit?user=nope").await;
    assert_eq!(page.status, 400);
    assert!(page.has("Paramètre invalide : user"), "{}", page.body);
    assert!(page.has("role=\"alert\""));
    assert!(
        all_events(&w.s, AuditAction::AuditExported)
            .await
            .is_empty()
    );
    assert!(all_events(&w.s, AuditAction::AccessDenied).await.is_empty());
    let _ = &w.clock;
}
