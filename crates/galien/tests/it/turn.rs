//! ICE servers for calls against a real coturn (ACT-1): Galien mints time-limited TURN credentials
//! from the secret it shares with coturn ("TURN REST API" scheme), and coturn — not a mock — is the
//! judge. A médecin with a two-factor session fetches `/calls/ice-servers`; the credentials
//! allocate a relay on coturn; credentials Galien issued with a clock set back (already expired),
//! credentials whose expiry was pushed back by hand, and credentials from a node configured with
//! another secret are all refused by coturn (401). The endpoint answers 401 without a session and
//! 403 before the second factor, with nothing of the servers.
//!
//! Needs Debian's coturn (`/usr/bin/turnserver`, `/usr/bin/turnutils_uclient`): the test fails,
//! never skips, without it (scripts/test installs it).

use galien_core::{Clock, ManualClock};
use galien_store::Backend;
use galien_testkit::coturn::Coturn;
use galien_testkit::people::{self, Agent, Inviter, PASSWORD};
use galien_testkit::{Options, TestServer};
use serde_json::Value;
use std::sync::Arc;
use time::{Duration, OffsetDateTime};

const SECRET: &str = "galien-and-coturn-share-this-secret";
const TTL_SECS: i64 = 600;

fn settings(coturn: &Coturn, secret: &str, relay_only: bool) -> Vec<(&'static str, toml::Value)> {
    vec![
        (
            "ice.stun_urls",
            toml::Value::Array(vec![coturn.stun_url().into()]),
        ),
        (
            "ice.turn_urls",
            toml::Value::Array(vec![coturn.url().into()]),
        ),
        ("ice.turn_secret", secret.into()),
        ("ice.credential_ttl_secs", TTL_SECS.into()),
        ("ice.relay_only", relay_only.into()),
    ]
}

/// `GET /calls/ice-servers` as `agent`, checked for what every answer carries.
async fn ice_servers(agent: &Agent, url: &str) -> Value {
    let r = agent.client.get(url).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "no-store");
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    r.json().await.unwrap()
}

/// The TURN server's username and credential in an answer.
fn turn_of(config: &Value) -> (String, String) {
    let turn = &config["iceServers"][1];
    (
        turn["username"].as_str().unwrap().to_owned(),
        turn["credential"].as_str().unwrap().to_owned(),
    )
}

/// Allocates on coturn without stalling the runtime that serves Galien.
fn allocate(coturn: &Coturn, username: &str, password: &str) -> Result<(), String> {
    tokio::task::block_in_place(|| coturn.allocate(username, password))
}

#[track_caller]
fn assert_refused_401(result: Result<(), String>, what: &str) {
    match result {
        Ok(()) => panic!("coturn allocated a relay for {what}"),
        Err(e) => assert!(
            e.contains("error 401"),
            "coturn refused {what}, but not with 401: {e}"
        ),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn act1_turn_credentials_allocate_on_coturn_until_they_expire() {
    let coturn = Coturn::start(SECRET);
    // coturn compares the expiry in the username with the machine's real time, so Galien's clock
    // starts at the real time (and is then moved by hand).
    #[allow(clippy::disallowed_methods)]
    let real_now = OffsetDateTime::now_utc();
    let clock = Arc::new(ManualClock::new(real_now));
    let s = TestServer::start_with(
        Backend::Sqlite,
        Options {
            clock: Some(clock.clone()),
            settings: settings(&coturn, SECRET, false),
            ..Options::default()
        },
    )
    .await;
    let admin = people::enrol_first_admin(&s, &clock).await;
    let doc = Inviter::new(&s, &clock, &admin)
        .person(
            "medecin",
            "Dr Bernard Martin",
            "b.martin@galien.test",
            Some("1000000042"),
        )
        .await;
    let url = s.url("/calls/ice-servers");

    // A two-factor session gets the STUN server and the TURN server with credentials for TTL.
    let config = ice_servers(&doc.agent, &url).await;
    assert_eq!(config["iceTransportPolicy"], "all");
    assert_eq!(config["iceServers"].as_array().unwrap().len(), 2);
    assert_eq!(
        config["iceServers"][0],
        serde_json::json!({ "urls": [coturn.stun_url()] })
    );
    assert_eq!(
        config["iceServers"][1]["urls"],
        serde_json::json!([coturn.url()])
    );
    let (username, credential) = turn_of(&config);
    let (expiry, label) = username.split_once(':').unwrap();
    assert_eq!(
        expiry.parse::<i64>().unwrap(),
        (clock.now() + Duration::seconds(TTL_SECS)).unix_timestamp()
    );
    // The label coturn logs is random, never who asked.
    assert_eq!(label.len(), 22, "{label}");
    for personal in ["martin", "bernard", "galien.test", "1000000042", "medecin"] {
        assert!(
            !username.to_lowercase().contains(personal),
            "{username} names the person"
        );
    }
    let (again, _) = turn_of(&ice_servers(&doc.agent, &url).await);
    assert_ne!(again, username, "each request gets a new label");

    // coturn allocates a relay with them.
    allocate(&coturn, &username, &credential)
        .unwrap_or_else(|e| panic!("coturn refused Galien's fresh credentials: {e}"));

    // The same password with the expiry pushed back by hand: refused (the HMAC covers it).
    let stretched = format!("{}:{label}", expiry.parse::<i64>().unwrap() + 86_400);
    assert_refused_401(
        allocate(&coturn, &stretched, &credential),
        "a username whose expiry was changed",
    );

    // Credentials Galien issues while its clock is behind are already expired: refused.
    clock.advance(-Duration::seconds(TTL_SECS + 300));
    let (old_username, old_credential) = turn_of(&ice_servers(&doc.agent, &url).await);
    assert!(old_username < username);
    assert_refused_401(
        allocate(&coturn, &old_username, &old_credential),
        "expired credentials",
    );
    clock.advance(Duration::seconds(TTL_SECS + 300));

    // Without a session: 401, JSON, nothing of the servers.
    let r = s.client.get(&url).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["code"], "AUTH-REQUIRED");
    assert!(body.get("iceServers").is_none());

    // With the password only (second factor pending): refused, nothing of the servers.
    let pending = Agent::new(&s);
    let r = pending
        .submit(
            "/login",
            "/login",
            &[("email", doc.email.as_str()), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(r.location(), Some("/login/factor"), "{}", r.body);
    let r = pending.client.get(&url).send().await.unwrap();
    assert_eq!(r.status(), 403);
    let body = r.text().await.unwrap();
    assert!(body.contains("AUTH-FACTOR-REQUIRED"), "{body}");
    assert!(
        !body.contains("credential") && !body.contains("turn:"),
        "{body}"
    );

    // A node configured with another secret (and relay only): its credentials are refused.
    let s = s
        .restart(Options {
            clock: Some(clock.clone()),
            settings: settings(&coturn, "not-the-secret-coturn-knows", true),
            ..Options::default()
        })
        .await;
    let url = s.url("/calls/ice-servers");
    let config = ice_servers(&doc.agent, &url).await;
    assert_eq!(config["iceTransportPolicy"], "relay");
    let (username, credential) = turn_of(&config);
    assert_refused_401(
        allocate(&coturn, &username, &credential),
        "credentials made with another secret",
    );
    s.stop().await;
}
