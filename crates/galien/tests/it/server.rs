//! The node over HTTP, on both backends: health, readiness, metrics, security headers, request
//! ids, errors, languages, the first-start enrolment link, graceful shutdown.

use galien_core::ManualClock;
use galien_crypto::token::SecretToken;
use galien_store::Backend;
use galien_testkit::{Options, TestServer};
use std::sync::Arc;
use std::time::Duration;
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
    ops_1_healthz_and_readyz_answer,
    ops_1_readyz_is_503_when_the_database_is_gone,
    ops_2_security_headers_on_every_response,
    metrics_expose_requests_latencies_pool_and_writer,
    every_response_carries_a_request_id,
    errors_are_coded_pages_or_json,
    french_by_default_english_on_request,
    first_start_link_is_single_use_and_expires,
    restart_before_enrolment_revokes_the_old_link,
    graceful_shutdown_finishes_in_flight_requests,
);

async fn ops_1_healthz_and_readyz_answer(backend: Backend) {
    let s = TestServer::start(backend).await;
    let r = s.get("/healthz").await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap(), "ok");
    let r = s.get("/readyz").await;
    assert_eq!(r.status(), 200);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["status"], "ready");
    assert_eq!(body["database"], backend.name());
    s.stop().await;
}

async fn ops_1_readyz_is_503_when_the_database_is_gone(backend: Backend) {
    let s = TestServer::start(backend).await;
    s.store.close().await;
    let r = s.get("/readyz").await;
    assert_eq!(r.status(), 503);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["code"], "SRV-UNAVAILABLE");
    // The process still lives.
    assert_eq!(s.get("/healthz").await.status(), 200);
    s.stop().await;
}

async fn ops_2_security_headers_on_every_response(backend: Backend) {
    let s = TestServer::start(backend).await;
    for path in [
        "/",
        "/healthz",
        "/nowhere",
        "/assets/galien.css",
        "/api/nowhere",
        "/metrics",
    ] {
        let r = s.get(path).await;
        let h = r.headers();
        let csp = h["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert!(
            csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
            "{path}: {csp}"
        );
        assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(h["referrer-policy"], "no-referrer", "{path}");
        assert_eq!(h["x-frame-options"], "DENY", "{path}");
        assert!(
            h.get("strict-transport-security").is_none(),
            "{path}: HSTS without TLS"
        );
    }
    assert_eq!(s.get("/").await.headers()["cache-control"], "no-store");
    assert!(
        s.get("/assets/galien.css").await.headers()["cache-control"]
            .to_str()
            .unwrap()
            .contains("max-age")
    );
    s.stop().await;
}

async fn metrics_expose_requests_latencies_pool_and_writer(backend: Backend) {
    let s = TestServer::start(backend).await;
    s.get("/healthz").await;
    s.get("/nowhere-at-all").await;
    let r = s.get("/metrics").await;
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .contains("openmetrics")
    );
    let text = r.text().await.unwrap();
    assert!(
        text.contains(
            r#"galien_http_requests_total{method="GET",route="/healthz",status="200"} 1"#
        ),
        "{text}"
    );
    assert!(text.contains(r#"route="unmatched",status="404""#), "{text}");
    assert!(
        !text.contains("nowhere-at-all"),
        "raw paths must not become labels"
    );
    assert!(
        text.contains("galien_http_request_duration_seconds_bucket"),
        "{text}"
    );
    assert!(text.contains("galien_db_pool_connections "), "{text}");
    // The PostgreSQL appender's one-statement appends and stale heads (always 0 on SQLite).
    for counter in [
        "galien_db_audit_appends_after_known_head_total ",
        "galien_db_audit_stale_heads_total ",
    ] {
        assert!(
            text.lines().any(|l| l.starts_with(counter)),
            "{counter}: {text}"
        );
    }
    // The first-start link was written through the store.
    let committed = text
        .lines()
        .find(|l| l.starts_with("galien_db_writes_committed_total "))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap();
    assert!(committed >= 1, "{text}");
    s.stop().await;
}

async fn every_response_carries_a_request_id(backend: Backend) {
    let s = TestServer::start(backend).await;
    let a = s.get("/healthz").await.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let b = s.get("/healthz").await.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_ne!(a, b);
    assert!(uuid::Uuid::parse_str(&a).is_ok());
    let r = s.get("/api/nothing").await;
    let id = r.headers()["x-request-id"].to_str().unwrap().to_owned();
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(
        body["request_id"],
        id.as_str(),
        "error bodies quote the request id"
    );
    s.stop().await;
}

async fn errors_are_coded_pages_or_json(backend: Backend) {
    let s = TestServer::start(backend).await;
    let r = s.get("/pas/ici").await;
    assert_eq!(r.status(), 404);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let html = page(r).await;
    assert!(
        html.contains("REQ-NOT-FOUND") && html.contains("Cette page n'existe pas."),
        "{html}"
    );
    let r = s
        .client
        .get(s.url("/pas/ici"))
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["code"], "REQ-NOT-FOUND");
    let r = s.client.post(s.url("/healthz")).send().await.unwrap();
    assert_eq!(r.status(), 405);
    assert!(r.text().await.unwrap().contains("REQ-METHOD"));
    let r = s.get("/enrol/not-a-token").await;
    assert_eq!(r.status(), 404);
    assert!(r.text().await.unwrap().contains("ENROL-LINK-INVALID"));
    s.stop().await;
}

async fn french_by_default_english_on_request(backend: Backend) {
    let s = TestServer::start(backend).await;
    let html = s.get("/").await.text().await.unwrap();
    assert!(
        html.contains(r#"<html lang="fr">"#) && html.contains("Téléconsultation"),
        "{html}"
    );
    let r = s
        .client
        .get(s.url("/"))
        .header("accept-language", "en-GB,en;q=0.9")
        .send()
        .await
        .unwrap();
    let html = r.text().await.unwrap();
    assert!(html.contains(r#"<html lang="en">"#) && html.contains("Teleconsultation"));
    let r = s.get("/lang/en?next=/enrol/x").await;
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/enrol/x");
    let cookie = r.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(
        cookie.starts_with("galien_lang=en") && cookie.contains("HttpOnly"),
        "{cookie}"
    );
    let r = s.get("/lang/en?next=//evil.example/").await;
    assert_eq!(r.headers()["location"], "/", "no open redirect");
    let html = s
        .client
        .get(s.url("/"))
        .header("cookie", "galien_lang=en")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("Teleconsultation"));
    s.stop().await;
}

/// Page text with askama's HTML escapes undone, to compare with plain sentences.
async fn page(r: reqwest::Response) -> String {
    r.text()
        .await
        .unwrap()
        .replace("&#39;", "'")
        .replace("&quot;", "\"")
        .replace("&amp;", "&")
}

fn token_of(link: &str) -> String {
    link.rsplit('/').next().unwrap().to_owned()
}

async fn first_start_link_is_single_use_and_expires(backend: Backend) {
    let clock = Arc::new(ManualClock::new(datetime!(2026-11-28 09:00 UTC)));
    let s = TestServer::start_with(backend, Options::clocked(&clock)).await;
    let link = s
        .first_admin_link
        .clone()
        .expect("a first start prints an enrolment link");
    assert!(
        link.starts_with(&s.base_url),
        "{link} is not on {}",
        s.base_url
    );
    let path = link.strip_prefix(&s.base_url).unwrap().to_owned();

    let html = page(s.get(&path).await).await;
    assert!(html.contains("Ce lien d'enrôlement est valide."), "{html}");
    assert!(
        html.contains("29/11/2026 à 10:00"),
        "default validity is 24 hours (09:00 UTC, 10:00 in Paris): {html}"
    );
    let home = s.get("/").await.text().await.unwrap();
    assert!(home.contains("en attente de son premier administrateur"));

    clock.advance(time::Duration::hours(24));
    let r = s.get(&path).await;
    assert_eq!(r.status(), 410);
    assert!(r.text().await.unwrap().contains("ENROL-LINK-EXPIRED"));

    // Back within validity, the link can be used exactly once.
    clock.advance(time::Duration::hours(-1));
    let digest = SecretToken::parse(&token_of(&link)).unwrap().digest();
    s.store
        .consume_enrolment_token(&digest, galien_core::Clock::now(clock.as_ref()))
        .await
        .unwrap();
    assert!(
        s.store
            .consume_enrolment_token(&digest, galien_core::Clock::now(clock.as_ref()))
            .await
            .is_err()
    );
    let r = s.get(&path).await;
    assert_eq!(r.status(), 410);
    assert!(r.text().await.unwrap().contains("ENROL-LINK-USED"));
    let home = s.get("/").await.text().await.unwrap();
    assert!(!home.contains("en attente de son premier administrateur"));

    // Once used, a restart issues no new link.
    let s2 = s.restart(Options::default()).await;
    assert!(s2.first_admin_link.is_none());
    s2.stop().await;
}

async fn restart_before_enrolment_revokes_the_old_link(backend: Backend) {
    let s = TestServer::start(backend).await;
    let old = s.first_admin_link.clone().unwrap();
    let s2 = s.restart(Options::default()).await;
    let new = s2
        .first_admin_link
        .clone()
        .expect("not enrolled yet: a new link");
    assert_ne!(token_of(&old), token_of(&new));
    let r = s2.get(&format!("/enrol/{}", token_of(&old))).await;
    assert_eq!(r.status(), 404, "the previous link is revoked");
    assert_eq!(
        s2.get(&format!("/enrol/{}", token_of(&new))).await.status(),
        200
    );
    s2.stop().await;
}

async fn graceful_shutdown_finishes_in_flight_requests(backend: Backend) {
    let (entered_tx, entered_rx) = tokio::sync::oneshot::channel::<()>();
    let entered = Arc::new(std::sync::Mutex::new(Some(entered_tx)));
    let slow = axum::Router::new().route(
        "/test/slow",
        axum::routing::get(move || {
            let entered = entered.clone();
            async move {
                if let Some(tx) = entered.lock().unwrap().take() {
                    let _ = tx.send(());
                }
                tokio::time::sleep(Duration::from_millis(700)).await;
                "finished"
            }
        }),
    );
    let mut s = TestServer::start_with(
        backend,
        Options {
            extra_routes: Some(slow),
            ..Options::default()
        },
    )
    .await;
    let in_flight = tokio::spawn({
        let client = s.client.clone();
        let url = s.url("/test/slow");
        async move { client.get(url).send().await }
    });
    entered_rx.await.unwrap();
    s.begin_shutdown();
    // New connections are refused soon after the shutdown begins…
    let addr = s.base_url.trim_start_matches("http://").to_owned();
    let mut refused = false;
    for _ in 0..50 {
        if tokio::net::TcpStream::connect(&addr).await.is_err() {
            refused = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(
        refused,
        "the node kept accepting connections after shutdown began"
    );
    // …while the request already in flight completes.
    let r = in_flight.await.unwrap().unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap(), "finished");
    s.stopped().await.unwrap();
    // Writes after the node stopped are refused: the store was flushed and closed.
    assert!(s.store.ping().await.is_err());
    s.stop().await;
}
