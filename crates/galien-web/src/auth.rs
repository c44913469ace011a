//! How a request becomes an actor: the session cookie is resolved once per request by the
//! extractors below. A handler that needs a person asks for [`Signed`] (any session, e.g. during
//! enrolment) or [`Strong`] (two factors, required for everything else — AUTH-2); a handler that
//! forgets cannot reach another's data, because use cases take the session they are given.
//! [`StrongAbout`] is [`Strong`] on a page about one patient: the person's relationships with that
//! patient (the gate's facts) come with the session, in the same read.

use crate::WebState;
use crate::errors::wants_json;
use crate::i18n::lang_of;
use crate::observe::current_request_id;
use axum::extract::{ConnectInfo, FromRequestParts, RawPathParams};
use axum::http::request::Parts;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Redirect, Response};
use galien_app::identity::session::{self, Current};
use galien_app::identity::{NextStep, SessionGrant};
use galien_app::patients::access::Ties;
use galien_app::{AppError, RequestContext};
use galien_core::ErrorCode;
use galien_core::ids::PatientId;
use std::net::SocketAddr;

/// The session cookie.
pub const SESSION_COOKIE: &str = "galien_session";

/// The request's origin, for traces.
#[derive(Debug, Clone)]
pub struct Ctx(pub RequestContext);

impl FromRequestParts<WebState> for Ctx {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &WebState) -> Result<Self, Self::Rejection> {
        Ok(Ctx(context_of(parts)))
    }
}

/// Builds the context of a request.
pub fn context_of(parts: &Parts) -> RequestContext {
    let ip = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let user_agent = parts
        .headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(|ua| ua.chars().take(256).collect::<String>());
    RequestContext {
        ip,
        user_agent,
        request_id: current_request_id(),
        lang: lang_of(parts),
    }
}

/// Reads a cookie by name.
pub fn cookie<'a>(headers: &'a axum::http::HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| {
            v.split(';').find_map(|c| {
                c.trim()
                    .strip_prefix(name)
                    .and_then(|rest| rest.strip_prefix('='))
            })
        })
}

/// Any live session, whatever its assurance (sign-in and enrolment steps).
#[derive(Debug, Clone)]
pub struct Signed(pub Current);

/// A live two-factor session: the only kind that reaches the application (AUTH-2).
#[derive(Debug, Clone)]
pub struct Strong(pub Current);

/// [`Strong`] on a page about the patient its path names (`{id}`), with the person's relationships
/// with that patient read with the session in one round trip: the gate's facts for the page.
/// `None` when the path names no patient (the handler answers 404).
#[derive(Debug, Clone)]
pub struct StrongAbout(pub Current, pub Option<Ties>);

/// Why a request has no usable session.
#[derive(Debug)]
pub enum NoSession {
    /// Send the person to sign in (pages) or answer 401 (API).
    SignIn { json: bool, code: ErrorCode },
    /// The session exists but still needs a step.
    Pending { json: bool, next: NextStep },
    /// Storage failed.
    Failed { json: bool, code: ErrorCode },
}

impl IntoResponse for NoSession {
    fn into_response(self) -> Response {
        let lang = galien_core::Lang::Fr;
        match self {
            NoSession::SignIn { json: true, code } | NoSession::Failed { json: true, code } => {
                crate::errors::ApiError { code, lang }.into_response()
            }
            NoSession::Pending { json: true, .. } => crate::errors::ApiError {
                code: ErrorCode::SecondFactorRequired,
                lang,
            }
            .into_response(),
            NoSession::SignIn { json: false, code } => {
                let target = if code == ErrorCode::SessionExpired {
                    "/login?expired=1"
                } else {
                    "/login"
                };
                let mut r = Redirect::to(target).into_response();
                r.headers_mut()
                    .insert(header::SET_COOKIE, clear_session_cookie());
                r
            }
            NoSession::Pending { json: false, next } => {
                Redirect::to(next_path(next)).into_response()
            }
            NoSession::Failed { json: false, code } => {
                crate::errors::PageError { code, lang }.into_response()
            }
        }
    }
}

/// Where a pending step is completed.
pub fn next_path(next: NextStep) -> &'static str {
    match next {
        NextStep::SecondFactor => "/login/factor",
        NextStep::EnrolFactor => "/account/totp",
        NextStep::Done => "/account",
    }
}

/// The request's session, and when `about` names a patient, the person's relationships with that
/// patient read with it.
async fn resolve(
    parts: &Parts,
    state: &WebState,
    about: Option<PatientId>,
) -> Result<(Current, Option<Ties>), NoSession> {
    let json = wants_json(&parts.uri, &parts.headers);
    let Some(raw) = cookie(&parts.headers, SESSION_COOKIE) else {
        return Err(NoSession::SignIn {
            json,
            code: ErrorCode::AuthRequired,
        });
    };
    let ctx = context_of(parts);
    let resolved = match about {
        Some(patient) => session::resolve_about(&state.app, &ctx, raw, patient)
            .await
            .map(|(current, ties)| (current, Some(ties))),
        None => session::resolve(&state.app, &ctx, raw)
            .await
            .map(|current| (current, None)),
    };
    match resolved {
        Ok(found) => {
            crate::observe::remember_session(parts, &found.0);
            Ok(found)
        }
        Err(AppError::Refused(code)) => Err(NoSession::SignIn { json, code }),
        Err(e) => {
            tracing::error!(error = %e, "session lookup failed");
            Err(NoSession::Failed {
                json,
                code: e.code(),
            })
        }
    }
}

/// `current` if it has two factors, else where to complete it.
fn strong(parts: &Parts, current: Current) -> Result<Current, NoSession> {
    match current.pending() {
        NextStep::Done => Ok(current),
        next => Err(NoSession::Pending {
            json: wants_json(&parts.uri, &parts.headers),
            next,
        }),
    }
}

impl FromRequestParts<WebState> for Signed {
    type Rejection = NoSession;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &WebState,
    ) -> Result<Self, Self::Rejection> {
        resolve(parts, state, None)
            .await
            .map(|(current, _)| Signed(current))
    }
}

impl FromRequestParts<WebState> for Strong {
    type Rejection = NoSession;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &WebState,
    ) -> Result<Self, Self::Rejection> {
        let (current, _) = resolve(parts, state, None).await?;
        strong(parts, current).map(Strong)
    }
}

impl FromRequestParts<WebState> for StrongAbout {
    type Rejection = NoSession;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &WebState,
    ) -> Result<Self, Self::Rejection> {
        // The path's `{id}`; one that names no patient is the handler's to refuse (404).
        let about = RawPathParams::from_request_parts(parts, state)
            .await
            .ok()
            .and_then(|params| {
                params
                    .iter()
                    .find(|(name, _)| *name == "id")
                    .and_then(|(_, raw)| raw.parse::<PatientId>().ok())
            });
        let (current, ties) = resolve(parts, state, about).await?;
        strong(parts, current).map(|current| StrongAbout(current, ties))
    }
}

/// `Set-Cookie` for a new session: HttpOnly, SameSite=Strict, Secure under TLS (AUTH-7).
pub fn session_cookie(grant: &SessionGrant, tls: bool) -> HeaderValue {
    let secure = if tls { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}={}; Path=/; HttpOnly; SameSite=Strict{secure}",
        grant.token.expose()
    ))
    .unwrap_or_else(|_| clear_session_cookie())
}

/// `Set-Cookie` that removes the session cookie.
pub fn clear_session_cookie() -> HeaderValue {
    HeaderValue::from_static("galien_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0")
}

/// A redirect that also sets the new session cookie.
pub fn redirect_with_session(grant: &SessionGrant, tls: bool) -> Response {
    let mut r = Redirect::to(next_path(grant.next)).into_response();
    r.headers_mut()
        .insert(header::SET_COOKIE, session_cookie(grant, tls));
    r
}
