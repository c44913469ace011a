//! Checks of the server-rendered pages in Chromium, shared by the page suites (patients, incidents,
//! telemonitoring): signing in through the forms, and a page as a person sees it at a width (no
//! sideways scrolling, one `<h1>`, every field labelled, every button and link named, tables
//! captioned, charts wide enough, and no violation of axe-core's WCAG 2.1 A and AA rules — the
//! ground of RGAA 4 — contrast included), with a screenshot of the whole page in `test-artifacts/`.

// Reading the page's facts by key: a missing one is a failed check, as any other.
#![allow(clippy::indexing_slicing)]

use crate::TestServer;
use crate::browser::Page;
use crate::people::{self, Enrolled, PASSWORD};
use galien_core::ManualClock;
use serde_json::json;
use std::sync::OnceLock;
use std::time::Duration;

/// The widths the pages are checked at: (width, mobile, screen name).
pub const SCREENS: [(u32, bool, &str); 2] = [(375, true, "phone"), (1280, false, "desktop")];

/// A chart (`svg.chart-svg`) narrower than this is unreadable.
const MIN_CHART_WIDTH: u64 = 280;

/// Checks the page as shown now at `width` (no sideways scrolling, one `<h1>`, every field
/// labelled, every button and link named, tables with `<caption>` and `<th scope>`, charts at least
/// 280 px wide), then saves a screenshot of the whole page as `{name}.png` and goes back to a
/// window 800 px high.
pub async fn check(page: &Page, name: &str, width: u32, mobile: bool) {
    page.set_viewport(width, 800, mobile).await;
    let facts = page
        .execute(
            r#"
            const unlabelled = [...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
              .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label'))
              .map(e => e.name || e.id);
            const unnamed = [...document.querySelectorAll('button, a')]
              .filter(e => !(e.textContent.trim() || e.getAttribute('aria-label')))
              .map(e => e.outerHTML.slice(0, 60));
            const tables = [...document.querySelectorAll('table')]
              .filter(t => !t.querySelector('caption') || !t.querySelector('th[scope]'))
              .map(t => t.id);
            const wide = [...document.querySelectorAll('body *')]
              .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1)
              .map(e => e.tagName + '#' + e.id + '.' + e.className).slice(0, 5);
            const svgs = [...document.querySelectorAll('svg.chart-svg')]
              .map(s => Math.round(s.getBoundingClientRect().width));
            return {
              overflow: document.documentElement.scrollWidth - window.innerWidth,
              height: document.documentElement.scrollHeight,
              h1: document.querySelectorAll('h1').length,
              unlabelled, unnamed, tables, wide, svgs,
            };"#,
            vec![],
        )
        .await;
    assert!(
        facts["overflow"].as_i64().unwrap() <= 0,
        "{name}: scrolls sideways: {facts}"
    );
    assert_eq!(facts["h1"], 1, "{name}: {facts}");
    assert_eq!(facts["unlabelled"], json!([]), "{name}: {facts}");
    assert_eq!(facts["unnamed"], json!([]), "{name}: {facts}");
    assert_eq!(
        facts["tables"],
        json!([]),
        "{name}: tables need <caption> and <th scope>"
    );
    for w in facts["svgs"].as_array().unwrap() {
        assert!(
            w.as_u64().unwrap() >= MIN_CHART_WIDTH,
            "{name}: a chart too narrow: {facts}"
        );
    }
    accessibility(page, name).await;
    // The whole page in one picture.
    let height = u32::try_from(facts["height"].as_u64().unwrap().clamp(600, 8000)).unwrap();
    page.set_viewport(width, height, mobile).await;
    page.save_screenshot(name).await;
    page.set_viewport(width, 800, mobile).await;
}

/// axe-core's rules for WCAG 2.0 and 2.1 at levels A and AA, on which RGAA 4 is built.
const AXE_TAGS: [&str; 4] = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"];

/// Deque's axe-core (`testkit/axe`, installed by `scripts/test` with `npm ci`).
fn axe_source() -> &'static str {
    static SOURCE: OnceLock<String> = OnceLock::new();
    SOURCE.get_or_init(|| {
        let path =
            crate::browser::workspace_root().join("testkit/axe/node_modules/axe-core/axe.min.js");
        std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!(
                "cannot read {} ({e}): run scripts/test, or `npm ci` in testkit/axe",
                path.display()
            )
        })
    })
}

/// Runs axe-core on the page as shown now and fails with every violation of WCAG 2.1 A and AA it
/// finds (contrast, names, roles, language, structure…): which rule, how serious, where, and what
/// to fix.
pub async fn accessibility(page: &Page, name: &str) {
    page.execute(
        &format!("if (!window.axe) {{ {} }}\nreturn 0;", axe_source()),
        vec![],
    )
    .await;
    let found = page
        .execute_async(
            r#"
            const done = arguments[arguments.length - 1];
            axe.run(document, { runOnly: { type: 'tag', values: arguments[0] }, resultTypes: ['violations'] })
              .then(r => done(r.violations.map(v => ({
                rule: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.slice(0, 5).map(n => n.target.join(' ') + ': ' + n.failureSummary),
              }))))
              .catch(e => done([{ rule: 'axe failed', help: String(e) }]));"#,
            vec![json!(AXE_TAGS)],
        )
        .await;
    let violations = found.as_array().cloned().unwrap_or_default();
    assert!(
        violations.is_empty(),
        "{name}: {} accessibility violation(s) (WCAG 2.1 A/AA, axe-core):\n{}",
        violations.len(),
        serde_json::to_string_pretty(&violations).unwrap()
    );
}

/// Signs `who` in through the pages (password, then their TOTP code), ending on `/account`.
pub async fn sign_in(page: &Page, s: &TestServer, who: &Enrolled, clock: &ManualClock) {
    page.goto(&s.url("/login")).await;
    let fill = |css: &'static str, text: String| async move {
        let e = page.find(css).await;
        e.clear().await;
        e.send_keys(&text).await;
    };
    fill("#email", who.email.clone()).await;
    fill("#password", PASSWORD.to_owned()).await;
    page.find("form[action='/login'] button[type=submit]")
        .await
        .click()
        .await;
    page.wait_for("#code", Duration::from_secs(10)).await;
    fill("#code", people::next_code(clock, &who.totp)).await;
    page.find("form[action='/login/factor'] button[type=submit]")
        .await
        .click()
        .await;
    page.wait_for_url(|u| u.ends_with("/account"), Duration::from_secs(10))
        .await;
}
