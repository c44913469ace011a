//! The pages as a person on a phone meets them, in Chromium: every step of enrolment, sign-in and
//! administration at 390×844 — no sideways scrolling, every field labelled, one `<h1>`, French by
//! default and English on request. Screenshots go to `test-artifacts/pages-*.png` for review.

use galien_core::{Clock, SystemClock};
use galien_crypto::totp::TotpSecret;
use galien_store::Backend;
use galien_testkit::TestServer;
use galien_testkit::browser::{Browser, Page, PageOptions};
use galien_testkit::people::PASSWORD;
use serde_json::json;
use std::time::Duration;

/// Checks the page a person sees now, and saves its screenshot.
async fn check(page: &Page, name: &str, lang: &str) {
    let facts = page
        .execute(
            r#"
            const unlabelled = [...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
              .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label'))
              .map(e => e.name || e.id);
            const unnamed = [...document.querySelectorAll('button, a')]
              .filter(e => !(e.textContent.trim() || e.getAttribute('aria-label')))
              .map(e => e.outerHTML.slice(0, 60));
            return {
              overflow: document.documentElement.scrollWidth - window.innerWidth,
              h1: document.querySelectorAll('h1').length,
              lang: document.documentElement.lang,
              unlabelled, unnamed,
              title: document.title,
            };"#,
            vec![],
        )
        .await;
    page.save_screenshot(&format!("pages-{name}")).await;
    assert!(
        facts["overflow"].as_i64().unwrap() <= 0,
        "{name}: scrolls sideways on a phone: {facts}"
    );
    assert_eq!(facts["h1"], 1, "{name}: one <h1>: {facts}");
    assert_eq!(facts["lang"], lang, "{name}");
    assert_eq!(
        facts["unlabelled"],
        json!([]),
        "{name}: fields without a label"
    );
    assert_eq!(
        facts["unnamed"],
        json!([]),
        "{name}: buttons or links without a name"
    );
    assert!(
        facts["title"].as_str().unwrap().ends_with("— Galien"),
        "{name}: {facts}"
    );
    galien_testkit::pages::accessibility(page, name).await;
}

async fn fill(page: &Page, css: &str, text: &str) {
    let e = page.find(css).await;
    e.clear().await;
    e.send_keys(text).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ops_pages_work_on_a_phone_with_labels_in_french_and_english() {
    let s = TestServer::start(Backend::Sqlite).await;
    let link = s.first_admin_link.clone().unwrap();
    let browser = Browser::start().await;
    let page = browser.page(PageOptions::default()).await;
    page.set_viewport(390, 844, true).await;

    page.goto(&s.url("/")).await;
    check(&page, "home-phone", "fr").await;
    page.goto(&link).await;
    check(&page, "enrol-phone", "fr").await;
    fill(&page, "#display_name", "Alice Admin").await;
    fill(&page, "#email", "admin@galien.test").await;
    fill(&page, "#password", "trop court").await;
    page.find("form.stack button[type=submit]")
        .await
        .click()
        .await;
    page.wait_for(".notice.error", Duration::from_secs(10))
        .await;
    check(&page, "enrol-refused-phone", "fr").await;
    fill(&page, "#password", PASSWORD).await;
    page.find("form.stack button[type=submit]")
        .await
        .click()
        .await;

    page.wait_for("#secret", Duration::from_secs(10)).await;
    check(&page, "totp-phone", "fr").await;
    let secret: String = page
        .find("#secret")
        .await
        .text()
        .await
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    let totp = TotpSecret::from_base32(&secret).unwrap();
    fill(&page, "#code", &totp.code_at(SystemClock.now()).unwrap()).await;
    page.find("form[action='/account/totp'] button[type=submit]")
        .await
        .click()
        .await;
    page.wait_for("ol.codes", Duration::from_secs(10)).await;
    check(&page, "recovery-codes-phone", "fr").await;

    page.goto(&s.url("/account")).await;
    check(&page, "account-phone", "fr").await;
    page.goto(&s.url("/admin/users")).await;
    check(&page, "admin-users-phone", "fr").await;
    page.goto(&s.url("/admin/machines")).await;
    check(&page, "admin-machines-phone", "fr").await;

    // An address that leads nowhere: the error page, with its code, and the header still shows
    // the person signed in (not a sign-in link, as if the session had ended).
    page.goto(&s.url("/nulle-part")).await;
    let body = page.source().await;
    assert!(
        body.contains("REQ-NOT-FOUND"),
        "the error page gives its code"
    );
    assert!(
        body.contains("action=\"/logout\"") && !body.contains("href=\"/login\""),
        "signed in, the header offers to sign out"
    );
    check(&page, "not-found-phone", "fr").await;

    // Sign out, then the sign-in pages, in English this time.
    page.find("form[action='/logout'] button")
        .await
        .click()
        .await;
    page.wait_for("#email", Duration::from_secs(10)).await;
    check(&page, "login-phone", "fr").await;
    page.goto(&s.url("/lang/en?next=/login")).await;
    page.wait_for("#email", Duration::from_secs(10)).await;
    check(&page, "login-phone-en", "en").await;
    fill(&page, "#email", "admin@galien.test").await;
    fill(&page, "#password", PASSWORD).await;
    page.find("form[action='/login'] button[type=submit]")
        .await
        .click()
        .await;
    page.wait_for("#code", Duration::from_secs(10)).await;
    check(&page, "second-factor-phone-en", "en").await;

    // The same pages on a desktop screen.
    page.set_viewport(1280, 900, false).await;
    page.goto(&s.url("/login/factor")).await;
    check(&page, "second-factor-desktop-en", "en").await;
    // Signed out, the same address: the error page offers to sign in.
    page.delete_cookies().await;
    page.goto(&s.url("/nulle-part?lang=en")).await;
    let body = page.source().await;
    assert!(body.contains("REQ-NOT-FOUND") && body.contains("href=\"/login\""));
    check(&page, "not-found-desktop-en", "en").await;
    s.stop().await;
}
