//! Sign-in through an OpenID Connect provider (AUTH-2, Pro Santé Connect style):
//! `GET /auth/oidc/start` keeps the sealed request state in a short-lived cookie and sends the
//! person to the provider; `GET /auth/oidc/callback` finishes there (every check is in
//! `galien_app::identity::oidc`) and opens a two-factor session.
//!
//! The state cookie is `SameSite=Lax`: the provider sends the person back with a cross-site
//! top-level navigation, which carries Lax cookies but not Strict ones. The session cookie stays
//! `SameSite=Strict`; since a browser still counts the redirect chain from the provider as
//! cross-site, the callback answers with a short page that moves on to the account itself (a
//! `Refresh` and a link), so the first request that needs the session is a same-site one.

use crate::WebState;
use crate::auth::{Ctx, cookie, next_path, session_cookie};
use crate::client_cert::CertificateOffer;
use crate::errors::PageError;
use crate::pages::{Frame, frame, login::login_page, render, status_of};
use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use galien_app::AppError;
use galien_app::identity::oidc::{self, Callback};
use galien_core::ErrorCode;

/// The cookie holding the sealed request state between start and callback.
pub const STATE_COOKIE: &str = "galien_oidc";

/// The two routes (public: the person is not signed in yet).
pub fn routes() -> Router<WebState> {
    Router::new()
        .route("/auth/oidc/start", get(start))
        .route(oidc::CALLBACK_PATH, get(callback))
}

fn state_cookie(value: &str, tls: bool) -> Option<HeaderValue> {
    let secure = if tls { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{STATE_COOKIE}={value}; Path=/auth/oidc; HttpOnly; SameSite=Lax; Max-Age={}{secure}",
        oidc::PENDING_TTL.whole_seconds()
    ))
    .ok()
}

fn clear_state_cookie(tls: bool) -> HeaderValue {
    if tls {
        HeaderValue::from_static(
            "galien_oidc=; Path=/auth/oidc; HttpOnly; SameSite=Lax; Max-Age=0; Secure",
        )
    } else {
        HeaderValue::from_static("galien_oidc=; Path=/auth/oidc; HttpOnly; SameSite=Lax; Max-Age=0")
    }
}

/// `GET /auth/oidc/start`: to the provider, with the sealed state in a cookie.
pub async fn start(State(state): State<WebState>, Ctx(ctx): Ctx) -> Response {
    let started = match oidc::begin(&state.app).await {
        Ok(s) => s,
        Err(e) => {
            return PageError {
                code: e.code(),
                lang: ctx.lang,
            }
            .into_response();
        }
    };
    let Some(cookie) = state_cookie(&started.sealed_state, state.tls) else {
        return PageError {
            code: ErrorCode::Internal,
            lang: ctx.lang,
        }
        .into_response();
    };
    let mut r = Redirect::to(&started.authorize_url).into_response();
    r.headers_mut().insert(header::SET_COOKIE, cookie);
    // The authorization URL carries state and PKCE challenge: never cached.
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

#[derive(Template)]
#[template(path = "oidc_done.html")]
struct DonePage {
    frame: Frame,
    next: &'static str,
}

/// `GET /auth/oidc/callback`: finishes the sign-in; a refusal shows the sign-in page with why.
pub async fn callback(
    State(state): State<WebState>,
    Ctx(ctx): Ctx,
    offer: CertificateOffer,
    headers: HeaderMap,
    Query(params): Query<Callback>,
) -> Response {
    let lang = ctx.lang;
    let sealed = cookie(&headers, STATE_COOKIE);
    let mut r = match oidc::finish(&state.app, &ctx, sealed, &params).await {
        Ok(grant) => {
            let next = next_path(grant.next);
            let page = DonePage {
                // The language switch leads on to the account, never back to a spent callback.
                frame: frame(lang, next, None),
                next,
            };
            let mut r = render(StatusCode::OK, &page);
            r.headers_mut()
                .insert(header::SET_COOKIE, session_cookie(&grant, state.tls));
            if let Ok(v) = HeaderValue::from_str(&format!("0; url={next}")) {
                r.headers_mut().insert(header::REFRESH, v);
            }
            r
        }
        Err(e) => {
            if let AppError::Store(err) = &e {
                tracing::error!(error = %err, "storage failed during OpenID Connect sign-in");
            }
            login_page(
                &state,
                &headers,
                lang,
                status_of(&e),
                vec![format!("{} ({})", e.code().message(lang), e.code())],
                String::new(),
                false,
                offer,
            )
        }
    };
    // The state is single use, whatever the outcome.
    r.headers_mut()
        .append(header::SET_COOKIE, clear_state_cookie(state.tls));
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}
