//! Cross-site request forgery protection on every state-changing form. With a session, forms
//! carry the session's CSRF secret. Before sign-in (the sign-in form itself), a random cookie and
//! its HMAC in the form ("signed double submit"). Cookies are also SameSite=Strict.

use crate::auth::cookie;
use axum::http::HeaderMap;
use axum::http::HeaderValue;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use galien_app::App;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// The pre-session CSRF cookie.
pub const PRE_COOKIE: &str = "galien_csrf";

/// A pre-session token pair: the cookie value and the form value.
#[derive(Debug, Clone)]
pub struct PreToken {
    /// Goes in the cookie.
    pub cookie: String,
    /// Goes in the form.
    pub form: String,
}

fn mac(app: &App, nonce: &str) -> String {
    let Ok(mut m) = <Hmac<Sha256> as KeyInit>::new_from_slice(app.keys.csrf.as_ref()) else {
        return String::new();
    };
    m.update(b"galien-pre-session-csrf:");
    m.update(nonce.as_bytes());
    URL_SAFE_NO_PAD.encode(m.finalize().into_bytes())
}

/// The pre-session token of this browser (reusing its cookie if it has a valid one).
pub fn pre_token(app: &App, headers: &HeaderMap) -> PreToken {
    let existing = cookie(headers, PRE_COOKIE)
        .filter(|v| v.len() == 43)
        .map(str::to_owned);
    let cookie = existing.unwrap_or_else(|| {
        let mut raw = [0u8; 32];
        app.entropy.fill(&mut raw);
        URL_SAFE_NO_PAD.encode(raw)
    });
    let form = mac(app, &cookie);
    PreToken { cookie, form }
}

/// `Set-Cookie` for the pre-session token.
pub fn pre_cookie_header(t: &PreToken, tls: bool) -> Option<HeaderValue> {
    let secure = if tls { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{PRE_COOKIE}={}; Path=/; HttpOnly; SameSite=Strict{secure}",
        t.cookie
    ))
    .ok()
}

/// Whether a submitted pre-session form token matches this browser's cookie.
pub fn pre_ok(app: &App, headers: &HeaderMap, submitted: &str) -> bool {
    let Some(c) = cookie(headers, PRE_COOKIE) else {
        return false;
    };
    let expected = mac(app, c);
    !expected.is_empty() && subtle_eq(expected.as_bytes(), submitted.as_bytes())
}

fn subtle_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.ct_eq(b))
}
