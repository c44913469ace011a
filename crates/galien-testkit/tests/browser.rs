//! The WebDriver client against a real Galien node and Debian's Chromium.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use galien_store::Backend;
use galien_testkit::TestServer;
use galien_testkit::browser::{Browser, PageOptions, VirtualAuthenticator, localhost};
use serde_json::json;
use std::time::Duration;

const PNG_MAGIC: &[u8] = b"\x89PNG\r\n\x1a\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn home_page_in_chromium_is_french_with_a_skip_link_first_and_screenshots_at_two_widths() {
    let server = TestServer::start(Backend::Sqlite).await;
    let browser = Browser::start().await;
    let page = browser.page(PageOptions::default()).await;

    page.goto(&server.url("/")).await;
    assert_eq!(
        page.find("h1").await.text().await,
        "Galien, la télémédecine sûre"
    );
    assert_eq!(
        page.find("html").await.attribute("lang").await.as_deref(),
        Some("fr")
    );
    assert!(page.title().await.contains("Galien"));

    // Keyboard users reach the skip link first.
    let focused = page.tab().await;
    assert_eq!(focused.tag_name().await, "a");
    assert_eq!(focused.text().await, "Aller au contenu");
    assert_eq!(focused.attribute("href").await.as_deref(), Some("#contenu"));
    assert_eq!(focused, page.find("a.skip-link").await);

    // The CSP forbids inline script; WebDriver's script execution still works.
    let width = page
        .execute("return [window.innerWidth, arguments[0]];", vec![json!(7)])
        .await;
    assert_eq!(width[1], 7);

    let desktop = page.save_screenshot("testkit-home-desktop").await;
    let png = std::fs::read(&desktop).unwrap();
    assert!(
        png.starts_with(PNG_MAGIC) && png.len() > 1000,
        "{desktop:?}"
    );

    page.set_window_size(390, 844).await;
    page.wait_until_js("window.innerWidth <= 390", Duration::from_secs(5))
        .await;
    let phone = page.save_screenshot("testkit-home-phone").await;
    let png = std::fs::read(&phone).unwrap();
    assert!(png.starts_with(PNG_MAGIC) && png.len() > 1000, "{phone:?}");
    // An exact phone viewport, as a phone would lay it out.
    page.set_viewport(390, 844, true).await;
    assert_eq!(page.viewport_width().await, 390);
    assert_eq!(
        page.execute("return window.innerHeight;", vec![]).await,
        844
    );

    // No CSP violation nor script error (a missing favicon is a network entry, not checked here).
    let console = page.console_log().await;
    assert!(
        console.iter().all(|e| e["source"] != "javascript"
            && !e["message"]
                .as_str()
                .unwrap_or_default()
                .contains("Content Security Policy")),
        "console: {console:?}"
    );
    // …and a violation would show: inline script is refused.
    page.execute(
        "const s = document.createElement('script'); s.textContent = 'window.pwned = 1'; \
         document.body.appendChild(s);",
        vec![],
    )
    .await;
    assert_eq!(
        page.execute("return window.pwned;", vec![]).await,
        json!(null)
    );
    let console = page.console_log().await;
    assert!(
        console.iter().any(|e| e["message"]
            .as_str()
            .unwrap_or_default()
            .contains("Content Security Policy")),
        "console: {console:?}"
    );
    page.close().await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_pages_are_two_people_with_separate_cookies_and_languages() {
    let server = TestServer::start(Backend::Sqlite).await;
    let browser = Browser::start().await;
    let (alice, bob) = tokio::join!(
        browser.page(PageOptions {
            lang: Some("en"),
            ..PageOptions::default()
        }),
        browser.page(PageOptions::default())
    );
    assert_ne!(alice.session_id(), bob.session_id());

    alice.goto(&server.url("/")).await;
    bob.goto(&server.url("/")).await;
    let navigator_lang = alice.execute("return navigator.language;", vec![]).await;
    assert_eq!(
        navigator_lang, "en",
        "the lang option sets the browser language"
    );
    let html_lang = |page: &galien_testkit::browser::Page| {
        let page = page.clone();
        async move { page.find("html").await.attribute("lang").await }
    };
    assert_eq!(html_lang(&alice).await.as_deref(), Some("en"));
    assert_eq!(html_lang(&bob).await.as_deref(), Some("fr"));

    // A cookie set in one session is not seen by the other.
    alice
        .execute("document.cookie = 'who=alice; path=/';", vec![])
        .await;
    assert!(alice.cookies().await.iter().any(|c| c.name == "who"));
    assert!(bob.cookies().await.iter().all(|c| c.name != "who"));

    alice.close().await;
    bob.close().await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webauthn_virtual_authenticator_creates_a_credential_on_the_localhost_origin() {
    let server = TestServer::start(Backend::Sqlite).await;
    let browser = Browser::start().await;
    let page = browser.page(PageOptions::default()).await;
    // http://127.0.0.1 is not a secure context; http://localhost is.
    page.goto(&localhost(&server.url("/"))).await;
    assert_eq!(
        page.execute("return window.isSecureContext;", vec![]).await,
        true
    );

    let authenticator = page
        .add_virtual_authenticator(VirtualAuthenticator {
            protocol: "ctap2",
            transport: "internal",
            has_resident_key: true,
            has_user_verification: true,
            is_user_verified: true,
        })
        .await;
    assert!(page.virtual_credentials(&authenticator).await.is_empty());

    let created = page
        .execute_async(
            r#"
            const done = arguments[arguments.length - 1];
            navigator.credentials.create({ publicKey: {
                rp: { name: "Galien", id: "localhost" },
                user: { id: new TextEncoder().encode("user-1"), name: "claire", displayName: "Claire Martin" },
                challenge: crypto.getRandomValues(new Uint8Array(32)),
                pubKeyCredParams: [{ type: "public-key", alg: -7 }, { type: "public-key", alg: -257 }],
                authenticatorSelection: { residentKey: "required", userVerification: "required" },
                timeout: 10000,
            }}).then(
                c => done({ id: c.id, type: c.type, attachment: c.authenticatorAttachment }),
                e => done({ error: String(e) }),
            );
            "#,
            vec![],
        )
        .await;
    assert_eq!(created["type"], "public-key", "{created}");
    let id = created["id"].as_str().unwrap();

    let credentials = page.virtual_credentials(&authenticator).await;
    assert_eq!(credentials.len(), 1, "{credentials:?}");
    assert_eq!(credentials[0]["credentialId"], id);
    assert_eq!(credentials[0]["rpId"], "localhost");
    assert_eq!(credentials[0]["isResidentCredential"], true);

    // A failed user verification makes a UV-required assertion fail.
    page.set_user_verified(&authenticator, false).await;
    let refused = page
        .execute_async(
            r#"
            const done = arguments[arguments.length - 1];
            navigator.credentials.get({ publicKey: {
                challenge: crypto.getRandomValues(new Uint8Array(32)),
                rpId: "localhost", userVerification: "required", timeout: 3000,
            }}).then(() => done("signed"), e => done(e.name));
            "#,
            vec![],
        )
        .await;
    assert_eq!(refused, "NotAllowedError");

    page.remove_virtual_authenticator(&authenticator).await;
    page.close().await;
    server.stop().await;
}
