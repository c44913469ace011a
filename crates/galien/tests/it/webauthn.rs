//! Security keys (WebAuthn) as the second factor (AUTH-2, AUTH-6, AUTH-7), driven through the real
//! pages in Debian's Chromium with a virtual authenticator. WebAuthn needs a secure context, so the
//! node listens on a port picked first and its `public_url` is `http://localhost:<port>`.

use galien_core::ManualClock;
use galien_core::audit::{AuditAction, Outcome};
use galien_core::identity::AccountStatus;
use galien_store::{AuditFilter, Backend, Store};
use galien_testkit::browser::{Browser, Page, PageOptions, VirtualAuthenticator};
use galien_testkit::people::PASSWORD;
use galien_testkit::{Options, TestServer};
use serde_json::{Value, json};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use time::macros::datetime;

const WAIT: Duration = Duration::from_secs(20);
const EMAIL: &str = "admin@galien.test";

/// A security key on USB that verifies its user (PIN).
const USB_KEY: VirtualAuthenticator = VirtualAuthenticator {
    protocol: "ctap2",
    transport: "usb",
    has_resident_key: false,
    has_user_verification: true,
    is_user_verified: true,
};

/// A node whose public address is `http://localhost:<port>` (a secure context for Chromium).
struct Node {
    server: TestServer,
    clock: Arc<ManualClock>,
    /// `http://localhost:<port>`.
    base: String,
}

async fn start(backend: Backend) -> Node {
    let clock = Arc::new(ManualClock::new(datetime!(2026-11-28 09:00 UTC)));
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let base = format!("http://localhost:{port}");
    let server = TestServer::start_with(
        backend,
        Options {
            clock: Some(clock.clone()),
            settings: vec![
                ("listen", toml::Value::String(format!("127.0.0.1:{port}"))),
                ("public_url", toml::Value::String(base.clone())),
            ],
            ..Options::default()
        },
    )
    .await;
    Node {
        server,
        clock,
        base,
    }
}

/// Runs `body` and, if it panics, saves a screenshot of `page` before passing the panic on.
async fn screenshot_on_failure<Fut>(page: &Page, name: &str, body: Fut)
where
    Fut: Future<Output = ()> + Send + 'static,
{
    if let Err(e) = tokio::spawn(body).await {
        if e.is_panic() {
            let path = page.save_screenshot(&format!("{name}-failure")).await;
            eprintln!("screenshot of the failure: {}", path.display());
            eprintln!("browser console: {:?}", page.console_log().await);
            std::panic::resume_unwind(e.into_panic());
        }
        panic!("test task failed: {e}");
    }
}

async fn audit(store: &Store, action: AuditAction) -> Vec<(Outcome, Option<String>)> {
    store
        .audit_events(&AuditFilter {
            action: Some(action),
            limit: Some(1000),
            ..AuditFilter::default()
        })
        .await
        .unwrap()
        .into_iter()
        .map(|e| (e.event.outcome, e.event.reason))
        .collect()
}

async fn type_into(page: &Page, css: &str, text: &str) {
    let field = page.find(css).await;
    field.clear().await;
    field.send_keys(text).await;
}

/// The first administrator sets a password from the first-start link, then registers a security
/// key instead of TOTP on the enrolment page; returns the recovery codes shown.
async fn enrol_with_key(page: &Page, link: &str, key_name: &str) -> Vec<String> {
    page.goto(link).await;
    type_into(page, "#display_name", "Alice Admin").await;
    type_into(page, "#email", EMAIL).await;
    type_into(page, "#password", PASSWORD).await;
    page.find("main form button[type=submit]")
        .await
        .click()
        .await;
    page.wait_for_url(|u| u.ends_with("/account/totp"), WAIT)
        .await;
    type_into(page, "#webauthn-name", key_name).await;
    let button = page.find("#webauthn-enrol [data-webauthn-start]").await;
    assert_eq!(button.text().await, "Utiliser plutôt une clé de sécurité");
    button.click().await;
    page.wait_for("#webauthn-recovery:not([hidden]) ol.codes li", WAIT)
        .await;
    assert_eq!(
        page.execute("return document.activeElement.id;", vec![])
            .await,
        "webauthn-recovery",
        "the focus moves to the codes"
    );
    assert!(
        !page
            .find("form[action='/account/totp']")
            .await
            .is_displayed()
            .await,
        "only the codes remain on the page"
    );
    page.save_screenshot("webauthn-recovery-codes").await;
    let mut codes = Vec::new();
    for li in page.find_all("#webauthn-recovery ol.codes li").await {
        codes.push(li.text().await);
    }
    codes
}

async fn sign_out(page: &Page) {
    page.find("form[action='/logout'] button")
        .await
        .click()
        .await;
    page.wait_for_url(|u| u.ends_with("/login"), WAIT).await;
}

/// E-mail and password on `/login`; the factor page follows.
async fn password_step(page: &Page, base: &str) {
    page.goto(&format!("{base}/login")).await;
    type_into(page, "#email", EMAIL).await;
    type_into(page, "#password", PASSWORD).await;
    page.find("form[action='/login'] button[type=submit]")
        .await
        .click()
        .await;
    page.wait_for_url(|u| u.ends_with("/login/factor"), WAIT)
        .await;
}

/// Posts JSON to `path` from the page, with the session's CSRF token from the key section;
/// returns `{status, body}`.
async fn post_json(page: &Page, path: &str, body: Value) -> Value {
    page.execute_async(
        "const [path, body, done] = arguments;
         const csrf = document.querySelector('[data-webauthn]').dataset.csrf;
         fetch(path, { method: 'POST', credentials: 'same-origin',
             headers: { 'content-type': 'application/json', 'accept': 'application/json',
                        'x-csrf-token': csrf },
             body: JSON.stringify(body) })
           .then(r => r.json().then(b => done({ status: r.status, body: b })))
           .catch(e => done({ status: 0, body: String(e) }));",
        vec![json!(path), body],
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_02_webauthn_enrolment_and_sign_in_in_chromium() {
    enrolment_and_sign_in(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_02_webauthn_enrolment_and_sign_in_in_chromium_on_postgres() {
    enrolment_and_sign_in(Backend::Postgres).await;
}

async fn enrolment_and_sign_in(backend: Backend) {
    let node = start(backend).await;
    let browser = Browser::start().await;
    let page = browser.page(PageOptions::default()).await;
    let authenticator = page.add_virtual_authenticator(USB_KEY).await;
    let link = node.server.first_admin_link.clone().unwrap();
    assert!(link.starts_with(&node.base), "{link}");
    let store = node.server.store.clone();
    let base = node.base.clone();
    let p = page.clone();
    let name = format!("webauthn-enrolment-{backend:?}").to_lowercase();
    let shot = name.clone();
    screenshot_on_failure(&page, &shot, async move {
        let page = p;
        // Enrolment with a key instead of TOTP: recovery codes shown once, account active.
        let codes = enrol_with_key(&page, &link, "Clé bleue").await;
        assert_eq!(codes.len(), 10, "{codes:?}");
        assert!(
            !page.find("#webauthn-enrol").await.is_displayed().await,
            "the enrolment form is hidden once the key is registered"
        );
        let admin = store
            .user_by_email(&galien_core::identity::Email::parse(EMAIL).unwrap())
            .await
            .unwrap();
        assert_eq!(admin.status, AccountStatus::Active);
        assert!(admin.totp.is_none());
        assert_eq!(admin.recovery_codes_remaining, 10);
        let keys = store.webauthn_credentials(admin.id).await.unwrap();
        assert_eq!(keys.len(), 1);
        assert_eq!(keys[0].name, "Clé bleue");
        assert!(keys[0].last_used_at.is_none());
        assert!(
            audit(&store, AuditAction::AuthFactorEnrolled)
                .await
                .contains(&(Outcome::Success, Some("webauthn".into())))
        );
        assert_eq!(
            browser_credentials(&page, &authenticator).await,
            1,
            "the authenticator holds one credential"
        );

        // Signing out works from the codes page (its forms now carry the new session's token).
        sign_out(&page).await;

        // Password + key.
        password_step(&page, &base).await;
        assert!(
            page.try_find("#code").await.is_none(),
            "no TOTP form for an account without TOTP"
        );
        let button = page.find("#webauthn-login [data-webauthn-start]").await;
        assert_eq!(button.text().await, "Utiliser ma clé de sécurité");
        button.click().await;
        page.wait_for_url(|u| u.ends_with("/account"), WAIT).await;
        assert_eq!(page.find("h1").await.text().await, "Mon compte");
        let table = page.find("#keys-table").await.text().await;
        assert!(table.contains("Clé bleue"), "{table}");
        assert!(!table.contains("jamais"), "last use is shown: {table}");
        assert_eq!(
            page.find("#webauthn-add [data-webauthn-start]")
                .await
                .text()
                .await,
            "Ajouter une clé"
        );

        // The key's last use and its signature counter are kept (a counter going back = a clone).
        let keys = store.webauthn_credentials(admin.id).await.unwrap();
        assert!(keys[0].last_used_at.is_some());
        let stored: Value = serde_json::from_str(&keys[0].passkey_json).unwrap();
        let in_key = page.virtual_credentials(&authenticator).await[0]["signCount"].clone();
        assert_eq!(stored["cred"]["counter"], in_key, "{stored}");
        assert!(in_key.as_u64().unwrap() > 0);
        assert!(
            audit(&store, AuditAction::AuthLoginSucceeded)
                .await
                .contains(&(Outcome::Success, Some("password_webauthn".into())))
        );

        // No script error, CSP violation nor WebAuthn failure on the way.
        let console = page.console_log().await;
        assert!(
            console.iter().all(|e| {
                let message = e["message"].as_str().unwrap_or_default();
                e["source"] != "javascript"
                    && !message.contains("Content Security Policy")
                    && !message.contains("WebAuthn:")
            }),
            "console: {console:?}"
        );
        page.execute("document.getElementById('keys').scrollIntoView();", vec![])
            .await;
        page.save_screenshot(&format!("{name}-account")).await;
        galien_testkit::pages::accessibility(&page, &format!("{name}-account")).await;
    })
    .await;
    page.close().await;
    node.server.stop().await;
}

async fn browser_credentials(page: &Page, authenticator: &str) -> usize {
    page.virtual_credentials(authenticator).await.len()
}

/// A one-page HTTP server on another port of localhost: another origin for the same RP id.
async fn other_origin() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = socket.read(&mut buf).await;
                let body = "<!doctype html><title>Ailleurs</title><p>Another site</p>";
                let _ = socket
                    .write_all(
                        format!(
                            "HTTP/1.1 200 OK\r\ncontent-type: text/html\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                            body.len()
                        )
                        .as_bytes(),
                    )
                    .await;
            });
        }
    });
    format!("http://localhost:{port}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_02_forged_ceremony_state_and_wrong_origin_assertion_are_refused_and_traced() {
    let node = start(Backend::Sqlite).await;
    let browser = Browser::start().await;
    let page = browser.page(PageOptions::default()).await;
    page.add_virtual_authenticator(USB_KEY).await;
    let link = node.server.first_admin_link.clone().unwrap();
    let store = node.server.store.clone();
    let base = node.base.clone();
    let elsewhere = other_origin().await;
    let p = page.clone();
    screenshot_on_failure(&page, "webauthn-forged", async move {
        let page = p;
        enrol_with_key(&page, &link, "").await;
        page.goto(&format!("{base}/account")).await;
        sign_out(&page).await;
        password_step(&page, &base).await;

        // A state that is not sealed by Galien, or altered, is refused before anything else.
        let ceremony = post_json(&page, "/webauthn/login/begin", json!({})).await;
        assert_eq!(ceremony["status"], 200, "{ceremony}");
        let state = ceremony["body"]["state"].as_str().unwrap().to_owned();
        let mut altered = state.clone().into_bytes();
        let i = altered.len() / 2;
        altered[i] = if altered[i] == b'A' { b'B' } else { b'A' };
        let altered = String::from_utf8(altered).unwrap();
        // Well-formed but never sealed: what an attacker would write to skip the challenge.
        let unsealed = page
            .execute(
                "return btoa(JSON.stringify({ expires: 4102444800, state: {} }))
                     .replace(/\\+/g, '-').replace(/\\//g, '_').replace(/=+$/, '');",
                vec![],
            )
            .await;
        let unsealed = unsealed.as_str().unwrap().to_owned();
        for forged in [altered.as_str(), unsealed.as_str(), ""] {
            let r = post_json(
                &page,
                "/webauthn/login/finish",
                json!({ "credential": {}, "state": forged }),
            )
            .await;
            assert_eq!(r["status"], 403, "{r}");
            assert_eq!(r["body"]["code"], "CSRF-INVALID", "{r}");
        }
        // Without the CSRF header: refused too, and not counted as a key failure.
        let r = page
            .execute_async(
                "const done = arguments[arguments.length - 1];
                 fetch('/webauthn/login/begin', { method: 'POST', headers: { accept: 'application/json' } })
                   .then(r => done(r.status));",
                vec![],
            )
            .await;
        assert_eq!(r, 403);
        let failures = audit(&store, AuditAction::AuthLoginFailed).await;
        assert_eq!(
            failures
                .iter()
                .filter(|f| **f == (Outcome::Failure, Some("AUTH-WEBAUTHN-STATE".into())))
                .count(),
            3,
            "{failures:?}"
        );

        // A real assertion by the same key for the same RP id, but made on another origin.
        let ceremony = post_json(&page, "/webauthn/login/begin", json!({})).await;
        let options = ceremony["body"]["options"].clone();
        let state = ceremony["body"]["state"].as_str().unwrap().to_owned();
        page.goto(&elsewhere).await;
        let assertion = page
            .execute_async(
                "const [options, done] = arguments;
                 const b = s => Uint8Array.from(atob(s.replace(/-/g, '+').replace(/_/g, '/')
                     + '==='.slice((s.length + 3) % 4)), c => c.charCodeAt(0));
                 const u = buf => btoa(String.fromCharCode(...new Uint8Array(buf)))
                     .replace(/\\+/g, '-').replace(/\\//g, '_').replace(/=+$/, '');
                 const pk = options.publicKey;
                 pk.challenge = b(pk.challenge);
                 pk.allowCredentials.forEach(c => c.id = b(c.id));
                 navigator.credentials.get({ publicKey: pk }).then(c => done({
                     origin: JSON.parse(new TextDecoder().decode(c.response.clientDataJSON)).origin,
                     credential: {
                       id: c.id, rawId: u(c.rawId), type: c.type,
                       response: { authenticatorData: u(c.response.authenticatorData),
                                   clientDataJSON: u(c.response.clientDataJSON),
                                   signature: u(c.response.signature), userHandle: null },
                       extensions: {} } }), e => done({ error: String(e) }));",
                vec![options],
            )
            .await;
        assert!(assertion.get("error").is_none(), "{assertion}");
        assert_eq!(assertion["origin"], json!(elsewhere), "{assertion}");
        page.goto(&format!("{base}/login/factor")).await;
        let r = post_json(
            &page,
            "/webauthn/login/finish",
            json!({ "credential": assertion["credential"], "state": state }),
        )
        .await;
        assert_eq!(r["status"], 401, "{r}");
        assert_eq!(r["body"]["code"], "AUTH-WEBAUTHN-INVALID", "{r}");
        assert!(
            audit(&store, AuditAction::AuthLoginFailed)
                .await
                .contains(&(Outcome::Failure, Some("AUTH-WEBAUTHN-INVALID".into())))
        );
        // Still one factor: the application stays closed.
        page.goto(&format!("{base}/account")).await;
        page.wait_for_url(|u| u.ends_with("/login/factor"), WAIT)
            .await;

        // The genuine ceremony still works afterwards.
        page.find("#webauthn-login [data-webauthn-start]")
            .await
            .click()
            .await;
        page.wait_for_url(|u| u.ends_with("/account"), WAIT).await;
    })
    .await;
    page.close().await;
    node.server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_07_keys_are_added_and_removed_with_a_fresh_factor_but_never_the_last() {
    let node = start(Backend::Sqlite).await;
    let browser = Browser::start().await;
    let page = browser.page(PageOptions::default()).await;
    let first = page.add_virtual_authenticator(USB_KEY).await;
    let link = node.server.first_admin_link.clone().unwrap();
    let store = node.server.store.clone();
    let base = node.base.clone();
    let clock = node.clock.clone();
    let p = page.clone();
    screenshot_on_failure(&page, "webauthn-last-factor", async move {
        let page = p;
        enrol_with_key(&page, &link, "Clé A").await;
        page.goto(&format!("{base}/account")).await;

        // A second key, from another authenticator, while the sign-in is fresh.
        page.remove_virtual_authenticator(&first).await;
        page.add_virtual_authenticator(USB_KEY).await;
        type_into(&page, "#webauthn-name", "Clé B").await;
        let add = page.find("#webauthn-add [data-webauthn-start]").await;
        assert_eq!(add.text().await, "Ajouter une clé");
        add.click().await;
        page.wait_for_url(|u| u.contains("done=key"), WAIT).await;
        let table = page.find("#keys-table").await.text().await;
        assert!(
            table.contains("Clé A") && table.contains("Clé B"),
            "{table}"
        );

        // Key A (whose authenticator is gone) is removed.
        remove_key(&page, "Clé A").await;
        page.wait_for_url(|u| u.contains("done=key_removed"), WAIT)
            .await;
        let table = page.find("#keys-table").await.text().await;
        assert!(
            !table.contains("Clé A") && table.contains("Clé B"),
            "{table}"
        );

        // Later, removing needs a fresh factor: the key itself gives it (step-up).
        clock.advance(time::Duration::minutes(6));
        remove_key(&page, "Clé B").await;
        page.wait_for_url(|u| u.contains("/account/step-up"), WAIT)
            .await;
        assert!(page.try_find("#code").await.is_none());
        page.find("#webauthn-login [data-webauthn-start]")
            .await
            .click()
            .await;
        page.wait_for_url(|u| u.ends_with("/account") && !u.contains("step-up"), WAIT)
            .await;
        assert!(
            audit(&store, AuditAction::AuthStepUp)
                .await
                .contains(&(Outcome::Success, Some("webauthn".into())))
        );

        // The last factor stays.
        remove_key(&page, "Clé B").await;
        // The refusal is a new page: wait for it rather than read the page being left.
        page.wait_until_js(
            "document.querySelector('main').innerText\
             .includes('Impossible de retirer votre dernier second facteur')",
            WAIT,
        )
        .await;
        let admin = store
            .user_by_email(&galien_core::identity::Email::parse(EMAIL).unwrap())
            .await
            .unwrap();
        let keys = store.webauthn_credentials(admin.id).await.unwrap();
        assert_eq!(keys.len(), 1);
        assert_eq!(keys[0].name, "Clé B");
        let removed = audit(&store, AuditAction::AuthFactorRemoved).await;
        assert!(
            removed.contains(&(Outcome::Success, Some("webauthn".into())))
                && removed.contains(&(Outcome::Denied, Some("AUTH-LAST-FACTOR".into()))),
            "{removed:?}"
        );
    })
    .await;
    page.close().await;
    node.server.stop().await;
}

/// Clicks "Retirer" on the key named `name` in "Mon compte".
async fn remove_key(page: &Page, name: &str) {
    let label = format!("Retirer — {name}");
    let button = page
        .find(&format!("#keys-table button[aria-label='{label}']"))
        .await;
    button.click().await;
}
