//! Machine identities (AUTH-9): devices and systems get their own credentials, limited scopes,
//! short-lived bearer tokens, and revocation that takes effect at once.

use galien_core::ManualClock;
use galien_core::audit::AuditAction;
use galien_store::{AuditFilter, Backend};
use galien_testkit::people::{self, Agent};
use galien_testkit::{Options, TestServer};
use std::sync::Arc;
use time::macros::datetime;

async fn register(
    admin: &Agent,
    name: &str,
    kind: &str,
    scopes: &[&str],
) -> (u16, Option<(String, String)>) {
    let page = admin.get("/admin/machines").await;
    let csrf = page.field("_csrf").unwrap();
    let mut fields = vec![("_csrf", csrf.as_str()), ("name", name), ("kind", kind)];
    for s in scopes {
        fields.push(("scope", s));
    }
    let r = admin.post("/admin/machines", &fields).await;
    let creds = r
        .between("id=\"client-id\">", "<")
        .zip(r.between("id=\"client-secret\">", "<"));
    (r.status, creds)
}

async fn traced(s: &TestServer, action: AuditAction) -> usize {
    let filter = AuditFilter {
        action: Some(action),
        ..AuditFilter::default()
    };
    s.store.audit_events(&filter).await.unwrap().len()
}

async fn token(s: &TestServer, id: &str, secret: &str) -> reqwest::Response {
    s.client
        .post(s.url("/api/v1/token"))
        .basic_auth(id, Some(secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_09_device_gets_scoped_short_lived_tokens_and_revocation_is_immediate() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let clock = Arc::new(ManualClock::new(datetime!(2026-11-28 09:00 UTC)));
        let s = TestServer::start_with(backend, Options::clocked(&clock)).await;
        let admin = people::enrol_first_admin(&s, &clock).await;

        // Least privilege: a device may only send measurements.
        let (status, creds) = register(
            &admin.agent,
            "Balance connectée 12",
            "device",
            &["fhir.read"],
        )
        .await;
        assert_eq!(status, 400);
        assert!(creds.is_none());
        let (status, creds) = register(
            &admin.agent,
            "Balance connectée 12",
            "device",
            &["observations.write"],
        )
        .await;
        assert_eq!(status, 200);
        let (id, secret) = creds.expect("client id and secret shown once");
        assert!(
            !admin.agent.get("/admin/machines").await.has(&secret),
            "the secret is never shown again"
        );

        let r = token(&s, &id, "wrong-secret").await;
        assert_eq!(r.status(), 401);
        assert_eq!(
            r.json::<serde_json::Value>().await.unwrap()["error"],
            "invalid_client"
        );
        let r = s
            .client
            .post(s.url("/api/v1/token"))
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", id.as_str()),
                ("client_secret", secret.as_str()),
                ("scope", "fhir.read"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "a scope the client does not hold");
        assert_eq!(
            r.json::<serde_json::Value>().await.unwrap()["error"],
            "invalid_scope"
        );

        let r = token(&s, &id, &secret).await;
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["cache-control"], "no-store");
        let body: serde_json::Value = r.json().await.unwrap();
        assert_eq!(body["token_type"], "Bearer");
        assert_eq!(body["expires_in"], 600);
        assert_eq!(body["scope"], "observations.write");
        let bearer = body["access_token"].as_str().unwrap().to_owned();
        let whoami = |b: String| {
            let c = s.client.clone();
            let url = s.url("/api/v1/whoami");
            async move { c.get(url).bearer_auth(b).send().await.unwrap() }
        };
        let r = whoami(bearer.clone()).await;
        assert_eq!(r.status(), 200);
        assert_eq!(
            r.json::<serde_json::Value>().await.unwrap()["client_id"],
            id.as_str()
        );
        assert_eq!(whoami("forged".into()).await.status(), 401);

        // Short-lived: ten minutes.
        clock.advance(time::Duration::minutes(11));
        assert_eq!(whoami(bearer).await.status(), 401);

        // Revocation kills live tokens at once.
        let fresh = token(&s, &id, &secret)
            .await
            .json::<serde_json::Value>()
            .await
            .unwrap()["access_token"]
            .as_str()
            .unwrap()
            .to_owned();
        assert_eq!(whoami(fresh.clone()).await.status(), 200);
        let r = admin
            .agent
            .submit(
                "/admin/machines",
                &format!("/admin/machines/{id}/revoke"),
                &[],
            )
            .await;
        assert_eq!(r.status, 303, "{}", r.body);
        assert_eq!(whoami(fresh).await.status(), 401);
        assert_eq!(token(&s, &id, &secret).await.status(), 401);

        assert_eq!(traced(&s, AuditAction::MachineClientCreated).await, 1);
        assert_eq!(traced(&s, AuditAction::MachineClientRevoked).await, 1);
        assert!(traced(&s, AuditAction::MachineTokenIssued).await >= 3);
        s.stop().await;
    }
}
