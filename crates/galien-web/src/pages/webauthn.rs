//! Security keys and passkeys (WebAuthn, AUTH-2): the JSON steps that `assets/webauthn.js` calls,
//! and removing a key from "Mon compte".
//!
//! | route | session | answers |
//! | --- | --- | --- |
//! | `POST /webauthn/register/begin` | enrolling, or strong with a fresh factor | `{options, state}` |
//! | `POST /webauthn/register/finish` `{credential, state, name}` | same | `{redirect, recovery_codes?}` (+ new session cookie on enrolment) |
//! | `POST /webauthn/login/begin` | after the password, or strong (step-up) | `{options, state}` |
//! | `POST /webauthn/login/finish` `{credential, state, next?}` | same | `{redirect}` (+ new session cookie after the password) |
//! | `POST /account/keys/{id}/remove` (form) | strong, fresh factor | redirect to `/account` |
//!
//! The JSON steps need the session's CSRF token in the `x-csrf-token` header (the page gives it in
//! a `data-csrf` attribute); errors answer `{code, message, request_id}` with the usual statuses.

use crate::WebState;
use crate::auth::{Ctx, Signed, Strong, next_path, session_cookie};
use crate::errors::{ApiError, PageError};
use crate::i18n::is_local_path;
use crate::pages::human_time;
use crate::pages::login::CsrfOnly;
use axum::extract::rejection::{FormRejection, JsonRejection};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::post;
use axum::{Form, Json, Router};
use galien_app::identity::session::{self, Current};
use galien_app::identity::webauthn::{self, Authenticated, Registered};
use galien_core::{ErrorCode, Lang};
use serde::Deserialize;
use serde_json::json;

/// The header carrying the session's CSRF token on the JSON steps.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// The routes of security keys.
pub fn routes() -> Router<WebState> {
    Router::new()
        .route("/webauthn/register/begin", post(register_begin))
        .route("/webauthn/register/finish", post(register_finish))
        .route("/webauthn/login/begin", post(login_begin))
        .route("/webauthn/login/finish", post(login_finish))
        .route("/account/keys/{id}/remove", post(remove))
}

fn csrf_ok(current: &Current, headers: &HeaderMap) -> bool {
    headers
        .get(CSRF_HEADER)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| current.csrf_ok(t))
}

fn refused(code: ErrorCode, lang: Lang) -> Response {
    ApiError { code, lang }.into_response()
}

fn failed(e: &galien_app::AppError, lang: Lang) -> Response {
    if let galien_app::AppError::Store(err) = e {
        tracing::error!(error = %err, "WebAuthn step failed");
    }
    refused(e.code(), lang)
}

/// `POST /webauthn/register/begin`.
pub async fn register_begin(
    State(state): State<WebState>,
    Signed(current): Signed,
    Ctx(ctx): Ctx,
    headers: HeaderMap,
) -> Response {
    if !csrf_ok(&current, &headers) {
        return refused(ErrorCode::CsrfInvalid, ctx.lang);
    }
    match webauthn::begin_registration(&state.app, &current).await {
        Ok(ceremony) => Json(ceremony).into_response(),
        Err(e) => failed(&e, ctx.lang),
    }
}

/// The answer to a registration.
#[derive(Debug, Deserialize)]
pub struct RegisterFinish {
    credential: serde_json::Value,
    state: String,
    #[serde(default)]
    name: String,
}

/// `POST /webauthn/register/finish`.
pub async fn register_finish(
    State(state): State<WebState>,
    Signed(current): Signed,
    Ctx(ctx): Ctx,
    headers: HeaderMap,
    body: Result<Json<RegisterFinish>, JsonRejection>,
) -> Response {
    let lang = ctx.lang;
    if !csrf_ok(&current, &headers) {
        return refused(ErrorCode::CsrfInvalid, lang);
    }
    let Ok(Json(body)) = body else {
        return refused(ErrorCode::RequestInvalid, lang);
    };
    let done = webauthn::finish_registration(
        &state.app,
        &ctx,
        &current,
        &body.credential,
        &body.state,
        &body.name,
    )
    .await;
    match done {
        Ok(Registered::Enrolled { grant, codes }) => {
            let codes: Vec<String> = codes.iter().map(|c| c.display().to_string()).collect();
            // The page stays (it shows the codes): its sign-out form needs the new session's token.
            let csrf = match session::resolve(&state.app, &ctx, grant.token.expose()).await {
                Ok(new_session) => new_session.csrf_token(),
                Err(e) => return failed(&e, lang),
            };
            let mut r = Json(json!({
                "redirect": next_path(grant.next),
                "recovery_codes": codes,
                "csrf": csrf,
            }))
            .into_response();
            r.headers_mut()
                .insert(header::SET_COOKIE, session_cookie(&grant, state.tls));
            r
        }
        Ok(Registered::Added) => {
            Json(json!({ "redirect": "/account?done=key#keys" })).into_response()
        }
        Err(e) => failed(&e, lang),
    }
}

/// `POST /webauthn/login/begin`.
pub async fn login_begin(
    State(state): State<WebState>,
    Signed(current): Signed,
    Ctx(ctx): Ctx,
    headers: HeaderMap,
) -> Response {
    if !csrf_ok(&current, &headers) {
        return refused(ErrorCode::CsrfInvalid, ctx.lang);
    }
    match webauthn::begin_authentication(&state.app, &current).await {
        Ok(ceremony) => Json(ceremony).into_response(),
        Err(e) => failed(&e, ctx.lang),
    }
}

/// The answer to an authentication.
#[derive(Debug, Deserialize)]
pub struct LoginFinish {
    credential: serde_json::Value,
    state: String,
    /// Where a step-up returns to.
    #[serde(default)]
    next: Option<String>,
}

/// `POST /webauthn/login/finish`.
pub async fn login_finish(
    State(state): State<WebState>,
    Signed(current): Signed,
    Ctx(ctx): Ctx,
    headers: HeaderMap,
    body: Result<Json<LoginFinish>, JsonRejection>,
) -> Response {
    let lang = ctx.lang;
    if !csrf_ok(&current, &headers) {
        return refused(ErrorCode::CsrfInvalid, lang);
    }
    let Ok(Json(body)) = body else {
        return refused(ErrorCode::RequestInvalid, lang);
    };
    match webauthn::finish_authentication(&state.app, &ctx, &current, &body.credential, &body.state)
        .await
    {
        Ok(Authenticated::SignedIn(grant)) => {
            let mut r = Json(json!({ "redirect": next_path(grant.next) })).into_response();
            r.headers_mut()
                .insert(header::SET_COOKIE, session_cookie(&grant, state.tls));
            r
        }
        Ok(Authenticated::SteppedUp) => {
            let target = body
                .next
                .filter(|n| is_local_path(n))
                .unwrap_or_else(|| "/account".to_owned());
            Json(json!({ "redirect": target })).into_response()
        }
        Err(e) => failed(&e, lang),
    }
}

/// `POST /account/keys/{id}/remove`: asks a fresh factor first; never removes the last factor.
pub async fn remove(
    State(state): State<WebState>,
    Strong(current): Strong,
    Ctx(ctx): Ctx,
    Path(id): Path<String>,
    form: Result<Form<CsrfOnly>, FormRejection>,
) -> Result<Response, PageError> {
    let lang = ctx.lang;
    if !form.is_ok_and(|Form(f)| current.csrf_ok(&f.csrf)) {
        return Err(PageError {
            code: ErrorCode::CsrfInvalid,
            lang,
        });
    }
    let Ok(id) = uuid::Uuid::parse_str(&id) else {
        return Err(PageError {
            code: ErrorCode::NotFound,
            lang,
        });
    };
    match webauthn::remove(&state.app, &ctx, &current, id).await {
        Ok(()) => Ok(Redirect::to("/account?done=key_removed#keys").into_response()),
        Err(e) if e.code() == ErrorCode::StepUpRequired => {
            Ok(Redirect::to("/account/step-up?next=/account").into_response())
        }
        Err(e) => {
            if let galien_app::AppError::Store(err) = &e {
                tracing::error!(error = %err, "removing a security key failed");
            }
            Err(PageError {
                code: e.code(),
                lang,
            })
        }
    }
}

/// One key in "Mon compte".
#[derive(Debug, Clone)]
pub struct KeyRow {
    /// Row id (for the remove form).
    pub id: String,
    /// The name the person gave it.
    pub name: String,
    /// When it was registered.
    pub created: String,
    /// When it was last used, if ever.
    pub last_used: Option<String>,
}

/// The "Clés de sécurité" section of "Mon compte".
#[derive(Debug, Clone)]
pub struct KeysSection {
    /// Whether security keys work at this installation's address.
    pub available: bool,
    /// Whether a key may be added now (a fresh factor); otherwise the page links to the step-up.
    pub may_add: bool,
    /// The person's keys.
    pub keys: Vec<KeyRow>,
    /// A notice after adding or removing a key (a text key).
    pub notice: Option<&'static str>,
}

/// Builds the keys section; `done` is the `done` query parameter of `/account`.
pub async fn keys_section(
    state: &WebState,
    current: &Current,
    lang: Lang,
    done: Option<&str>,
) -> Result<KeysSection, PageError> {
    let keys = webauthn::list(&state.app, current)
        .await
        .map_err(|e| PageError {
            code: e.code(),
            lang,
        })?
        .into_iter()
        .map(|k| KeyRow {
            id: k.id.to_string(),
            name: k.name,
            created: human_time(k.created_at, lang),
            last_used: k.last_used_at.map(|t| human_time(t, lang)),
        })
        .collect();
    Ok(KeysSection {
        available: webauthn::available(&state.app),
        may_add: webauthn::may_register(&state.app, current),
        keys,
        notice: match done {
            Some("key") => Some("webauthn.key_added"),
            Some("key_removed") => Some("webauthn.key_removed"),
            _ => None,
        },
    })
}

/// Which second factors the factor and step-up pages offer.
#[derive(Debug, Clone, Copy)]
pub struct FactorOffer {
    /// The account has a TOTP app.
    pub totp: bool,
    /// The account has security keys (and they work at this address).
    pub keys: bool,
}

/// What `current`'s account can use as a second factor.
pub async fn factor_offer(
    state: &WebState,
    current: &Current,
    lang: Lang,
) -> Result<FactorOffer, PageError> {
    let keys = webauthn::available(&state.app)
        && !webauthn::list(&state.app, current)
            .await
            .map_err(|e| PageError {
                code: e.code(),
                lang,
            })?
            .is_empty();
    Ok(FactorOffer {
        totp: current.user.totp.is_some(),
        keys,
    })
}
