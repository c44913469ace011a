//! The teleconsultation call (ACT-1): `GET /consultations/{id}/call` (the call page: camera and
//! microphone test, waiting room, video mesh, chat, documents), `GET /consultations/{id}/ws` (its
//! signaling socket, [`ws`]), documents shared during the call (`POST /consultations/{id}/documents`,
//! `GET /consultations/{id}/documents/{doc}`), and guests' single-use links (`GET`/`POST
//! /join/{token}`).
//!
//! Everyone here is a [`Joiner`]: a two-factor session, or a guest's session opened by their link
//! (cookie [`GUEST_COOKIE`], limited to `/consultations/`). Every route asks the gate through the
//! use cases; refusals are traced and answered with their stable code.

pub mod ws;

use crate::WebState;
use crate::auth::{Ctx, NoSession, SESSION_COOKIE, Strong, cookie};
use crate::errors::{ApiError, PageError};
use crate::pages::{Frame, frame, render};
use crate::texts::T;
use askama::Template;
use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use galien_app::AppError;
use galien_app::identity::session::Current;
use galien_app::teleconsultation::call::{self, Ticket};
use galien_app::teleconsultation::{Joiner, documents};
use galien_core::consultation::{MAX_DOCUMENT_BYTES, ParticipantKind};
use galien_core::ids::{AppointmentId, DocumentId};
use galien_core::{ErrorCode, Lang};

/// The guest's session cookie (set by their link, sent only to `/consultations/`).
pub const GUEST_COOKIE: &str = "galien_guest";

/// The call's routes.
pub fn routes() -> Router<WebState> {
    Router::new()
        .route("/consultations/{id}/call", get(page))
        .route("/consultations/{id}/ws", get(ws::socket))
        .route(
            "/consultations/{id}/documents",
            post(upload).layer(DefaultBodyLimit::max(MAX_DOCUMENT_BYTES + 64 * 1024)),
        )
        .route("/consultations/{id}/documents/{doc}", get(download))
        .route("/join/{token}", get(join_page).post(join_submit))
}

/// Who is asking, from the request: a two-factor session, else a guest session.
pub(crate) enum Who {
    /// A signed-in person.
    Person(Box<Current>),
    /// A guest.
    Guest(galien_store::Participant),
}

impl Who {
    pub(crate) fn joiner(&self) -> Joiner {
        match self {
            Who::Person(c) => Joiner::Person(c.actor()),
            Who::Guest(p) => Joiner::Guest(p.id),
        }
    }
}

/// The person or guest of this request; `None` with the code to answer otherwise.
pub(crate) async fn who(
    state: &WebState,
    session: Result<Strong, NoSession>,
    headers: &HeaderMap,
) -> Result<Who, ErrorCode> {
    match session {
        Ok(Strong(current)) => return Ok(Who::Person(Box::new(current))),
        Err(NoSession::Pending { .. }) if cookie(headers, SESSION_COOKIE).is_some() => {
            return Err(ErrorCode::SecondFactorRequired);
        }
        Err(NoSession::Failed { code, .. }) => return Err(code),
        Err(_) => {}
    }
    let Some(raw) = cookie(headers, GUEST_COOKIE) else {
        return Err(ErrorCode::AuthRequired);
    };
    match call::guest_of_session(&state.app, raw).await {
        Ok(Some(p)) => Ok(Who::Guest(p)),
        Ok(None) => Err(ErrorCode::AuthRequired),
        Err(e) => Err(e.code()),
    }
}

#[derive(Template)]
#[template(path = "call.html")]
struct CallPage {
    frame: Frame,
    id: String,
    title: String,
    practitioner: String,
    is_practitioner: bool,
    is_guest: bool,
    me: String,
    csrf: String,
    back: &'static str,
}

fn page_error(code: ErrorCode, lang: Lang) -> Response {
    PageError { code, lang }.into_response()
}

/// `GET /consultations/{id}/call`.
pub async fn page(
    State(state): State<WebState>,
    session: Result<Strong, NoSession>,
    Ctx(ctx): Ctx,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let lang = ctx.lang;
    let Ok(id) = id.parse::<AppointmentId>() else {
        return page_error(ErrorCode::NotFound, lang);
    };
    let who = match who(&state, session, &headers).await {
        Ok(w) => w,
        Err(ErrorCode::AuthRequired) => return Redirect::to("/login").into_response(),
        Err(ErrorCode::SecondFactorRequired) => {
            return Redirect::to("/login/factor").into_response();
        }
        Err(code) => return page_error(code, lang),
    };
    let ticket: Ticket = match call::look(&state.app, &who.joiner(), &ctx, id).await {
        Ok(t) => t,
        Err(AppError::Refused(ErrorCode::ConsentRequired)) => {
            // The patient consents on the appointment's page first (GDPR-3).
            return Redirect::to(&format!("/appointments/{id}?consent=required")).into_response();
        }
        Err(e) => return page_error(e.code(), lang),
    };
    let t = T { lang };
    let (current, csrf, is_guest) = match &who {
        Who::Person(c) => (Some(c.as_ref()), c.csrf_token(), false),
        Who::Guest(_) => (None, String::new(), true),
    };
    let when = crate::pages::human_time(ticket.appointment.scheduled_at, lang);
    render(
        StatusCode::OK,
        &CallPage {
            frame: frame(lang, format!("/consultations/{id}/call"), current),
            id: id.to_string(),
            title: format!("{} — {when}", t.s("call.title")),
            practitioner: ticket.appointment.practitioner_name.clone(),
            is_practitioner: ticket.kind == ParticipantKind::Practitioner,
            is_guest,
            me: ticket.name.clone(),
            csrf,
            back: if is_guest {
                "/"
            } else if ticket.kind == ParticipantKind::Patient {
                "/me/appointments"
            } else {
                "/appointments"
            },
        },
    )
}

fn api_error(code: ErrorCode, lang: Lang) -> Response {
    ApiError { code, lang }.into_response()
}

/// The request comes from one of our pages: a same-origin `fetch` with our header (a form of
/// another site cannot set it), and for a person, their session's CSRF token.
fn from_our_page(who: &Who, headers: &HeaderMap, public_url: &str) -> bool {
    if !ws::same_origin(headers, public_url) {
        return false;
    }
    let token = headers
        .get("x-csrf-token")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    match who {
        Who::Person(c) => c.csrf_ok(token),
        Who::Guest(_) => headers
            .get("x-requested-with")
            .is_some_and(|v| v.as_bytes() == b"galien"),
    }
}

/// `POST /consultations/{id}/documents`: the raw file as the body, its name in `X-File-Name`
/// (URI-encoded). 413 `DOC-TOO-LARGE` over 10 MiB, 400 `DOC-TYPE` unless PDF/JPEG/PNG by its bytes,
/// each traced; 201 with the document's id otherwise.
pub async fn upload(
    State(state): State<WebState>,
    session: Result<Strong, NoSession>,
    Ctx(ctx): Ctx,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let lang = ctx.lang;
    let Ok(id) = id.parse::<AppointmentId>() else {
        return api_error(ErrorCode::NotFound, lang);
    };
    let who = match who(&state, session, &headers).await {
        Ok(w) => w,
        Err(code) => return api_error(code, lang),
    };
    if !from_our_page(&who, &headers, &state.app.settings.public_url) {
        return api_error(ErrorCode::CsrfInvalid, lang);
    }
    let joiner = who.joiner();
    let ticket = match call::look(&state.app, &joiner, &ctx, id).await {
        Ok(t) => t,
        Err(e) => return api_error(e.code(), lang),
    };
    let bytes = match body {
        Ok(b) => b,
        Err(rejection) => {
            let code = if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ErrorCode::DocumentTooLarge
            } else {
                ErrorCode::FormInvalid
            };
            // Traced like any refused upload (the bytes were never read).
            let _ = documents::refuse(&state.app, &joiner, &ctx, &ticket.appointment, code).await;
            return api_error(code, lang);
        }
    };
    let name = headers
        .get("x-file-name")
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            form_urlencoded::parse(format!("n={v}").as_bytes())
                .next()
                .map(|(_, n)| n.into_owned())
                .unwrap_or_default()
        })
        .unwrap_or_default();
    match documents::share(
        &state.app,
        &joiner,
        &ctx,
        &ticket.appointment,
        ticket.participant,
        &name,
        &bytes,
    )
    .await
    {
        Ok(doc) => (
            StatusCode::CREATED,
            axum::Json(serde_json::json!({ "id": doc })),
        )
            .into_response(),
        Err(e) => api_error(e.code(), lang),
    }
}

/// `GET /consultations/{id}/documents/{doc}`: a document of the call, for someone taking part.
pub async fn download(
    State(state): State<WebState>,
    session: Result<Strong, NoSession>,
    Ctx(ctx): Ctx,
    headers: HeaderMap,
    Path((id, doc)): Path<(String, String)>,
) -> Response {
    let lang = ctx.lang;
    let (Ok(id), Ok(doc)) = (id.parse::<AppointmentId>(), doc.parse::<DocumentId>()) else {
        return page_error(ErrorCode::NotFound, lang);
    };
    let who = match who(&state, session, &headers).await {
        Ok(w) => w,
        Err(code) => return page_error(code, lang),
    };
    let joiner = who.joiner();
    let ticket = match call::look(&state.app, &joiner, &ctx, id).await {
        Ok(t) => t,
        Err(e) => return page_error(e.code(), lang),
    };
    match documents::download_from_call(&state.app, &joiner, &ctx, &ticket.appointment, doc).await {
        Ok(file) => crate::pages::appointments::documents::file_response(file),
        Err(e) => page_error(e.code(), lang),
    }
}

#[derive(Template)]
#[template(path = "call_join.html")]
struct JoinPage {
    frame: Frame,
    token: String,
    csrf: String,
    error: Option<&'static str>,
}

/// `GET /join/{token}`: a button, so that a mail scanner opening the link does not use it up.
pub async fn join_page(
    State(state): State<WebState>,
    Ctx(ctx): Ctx,
    headers: HeaderMap,
    Path(token): Path<String>,
) -> Response {
    let pre = crate::csrf::pre_token(&state.app, &headers);
    let mut r = render(
        StatusCode::OK,
        &JoinPage {
            frame: frame(ctx.lang, "/", None),
            token,
            csrf: pre.form.clone(),
            error: None,
        },
    );
    if let Some(v) = crate::csrf::pre_cookie_header(&pre, state.tls) {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
    r
}

/// The guest's form.
#[derive(Debug, serde::Deserialize)]
pub struct JoinForm {
    /// Pre-session CSRF token.
    #[serde(rename = "_csrf")]
    pub csrf: String,
}

/// `POST /join/{token}`: uses the link (once) and opens the guest's session; a link used twice is
/// 410 `CALL-LINK-USED`, traced.
pub async fn join_submit(
    State(state): State<WebState>,
    Ctx(ctx): Ctx,
    headers: HeaderMap,
    Path(token): Path<String>,
    form: Result<axum::Form<JoinForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let lang = ctx.lang;
    let Ok(axum::Form(form)) = form else {
        return page_error(ErrorCode::FormInvalid, lang);
    };
    if !crate::csrf::pre_ok(&state.app, &headers, &form.csrf) {
        return page_error(ErrorCode::CsrfInvalid, lang);
    }
    match call::use_guest_link(&state.app, &ctx, &token).await {
        Ok(session) => {
            let secure = if state.tls { "; Secure" } else { "" };
            let mut r = Redirect::to(&format!(
                "/consultations/{}/call",
                session.participant.appointment
            ))
            .into_response();
            if let Ok(v) = HeaderValue::from_str(&format!(
                "{GUEST_COOKIE}={}; Path=/consultations/; HttpOnly; SameSite=Strict{secure}",
                session.token.expose()
            )) {
                r.headers_mut().append(header::SET_COOKIE, v);
            }
            r
        }
        Err(e) => page_error(e.code(), lang),
    }
}
