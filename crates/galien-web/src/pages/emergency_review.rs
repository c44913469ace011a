//! `/dpo/emergency`: the DPO reviews emergency accesses (ACC-4): who opened one, on which patient
//! (id only: the DPO sees no clinical content, ACC-2), when, for how long and why; pending ones
//! first, each with a form to mark it reviewed with a note. Others get 403.

use crate::WebState;
use crate::auth::{Ctx, Strong};
use crate::errors::PageError;
use crate::pages::patients::{page_error, refused};
use crate::pages::{DoneQuery, Frame, checked_form, frame, human_time, render};
use crate::texts::T;
use askama::Template;
use axum::extract::rejection::FormRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Form, Router};
use galien_app::RequestContext;
use galien_app::identity::session::Current;
use galien_app::patients::care::{self, EmergencyReview};
use galien_core::ids::EmergencyAccessId;
use galien_core::{ErrorCode, Lang};
use serde::Deserialize;

/// The review routes.
pub fn routes() -> Router<WebState> {
    Router::new().route("/dpo/emergency", get(show).post(review))
}

/// One emergency access as listed.
#[derive(Debug)]
struct Row {
    id: String,
    patient: String,
    user: String,
    user_name: String,
    reason: String,
    opened: String,
    expires: String,
    reviewed: String,
    note: String,
}

fn row(r: &EmergencyReview, lang: Lang) -> Row {
    Row {
        id: r.id.to_string(),
        patient: r.patient.to_string(),
        user: r.user.to_string(),
        user_name: r.user_name.clone(),
        reason: r.reason.clone(),
        opened: human_time(r.opened_at, lang),
        expires: human_time(r.expires_at, lang),
        reviewed: r
            .reviewed_at
            .map(|t| human_time(t, lang))
            .unwrap_or_default(),
        note: r.review_note.clone().unwrap_or_default(),
    }
}

#[derive(Template)]
#[template(path = "dpo_emergency.html")]
struct ReviewPage {
    frame: Frame,
    errors: Vec<String>,
    notice: Option<&'static str>,
    csrf: String,
    pending: Vec<Row>,
    reviewed: Vec<Row>,
    /// The access whose form was refused, and the note typed.
    typed_for: String,
    typed_note: String,
}

/// What the page shows besides the accesses: a notice, or a refused form (access id and note typed).
#[derive(Debug, Default)]
struct Shown {
    errors: Vec<String>,
    notice: Option<&'static str>,
    typed_for: String,
    typed_note: String,
}

async fn page(
    state: &WebState,
    current: &Current,
    ctx: &RequestContext,
    status: StatusCode,
    shown: Shown,
) -> Result<Response, PageError> {
    let lang = ctx.lang;
    let all = care::emergency_reviews(&state.app, &current.actor(), false)
        .await
        .map_err(|e| page_error(&e, lang))?;
    let (mut pending, mut reviewed): (Vec<&EmergencyReview>, Vec<&EmergencyReview>) =
        all.iter().partition(|r| r.reviewed_at.is_none());
    // Oldest pending first (the longest waiting); most recent review first.
    pending.sort_by_key(|r| r.opened_at);
    reviewed.sort_by_key(|r| std::cmp::Reverse(r.reviewed_at));
    let page_frame = super::with_open_incidents(
        frame(lang, "/dpo/emergency", Some(current)),
        &state.app,
        current,
    )
    .await;
    let p = ReviewPage {
        frame: page_frame,
        errors: shown.errors,
        notice: shown.notice,
        csrf: current.csrf_token(),
        pending: pending.into_iter().map(|r| row(r, lang)).collect(),
        reviewed: reviewed.into_iter().map(|r| row(r, lang)).collect(),
        typed_for: shown.typed_for,
        typed_note: shown.typed_note,
    };
    Ok(render(status, &p))
}

/// `GET /dpo/emergency`.
pub async fn show(
    State(state): State<WebState>,
    Strong(current): Strong,
    Ctx(ctx): Ctx,
    Query(q): Query<DoneQuery>,
) -> Result<Response, PageError> {
    let notice = match q.done.as_deref() {
        Some("reviewed") => Some("emergency.done.reviewed"),
        Some("already") => Some("emergency.done.already"),
        _ => None,
    };
    let shown = Shown {
        notice,
        ..Shown::default()
    };
    page(&state, &current, &ctx, StatusCode::OK, shown).await
}

/// The review form.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ReviewForm {
    #[serde(rename = "_csrf")]
    csrf: String,
    id: String,
    note: String,
}

/// `POST /dpo/emergency`: marks one access reviewed, with a note (required).
pub async fn review(
    State(state): State<WebState>,
    Strong(current): Strong,
    Ctx(ctx): Ctx,
    form: Result<Form<ReviewForm>, FormRejection>,
) -> Result<Response, PageError> {
    let lang = ctx.lang;
    let form = checked_form(&current, form, lang, |f| &f.csrf)?;
    if current.user.role != galien_core::identity::Role::Dpo {
        return Err(refused(ErrorCode::AccessDenied, lang));
    }
    let Ok(id) = form.id.trim().parse::<EmergencyAccessId>() else {
        return Err(refused(ErrorCode::FormInvalid, lang));
    };
    if form.note.trim().is_empty() {
        let t = T { lang };
        let shown = Shown {
            errors: vec![t.s("emergency.note_required").to_owned()],
            notice: None,
            typed_for: form.id,
            typed_note: form.note,
        };
        return page(&state, &current, &ctx, StatusCode::BAD_REQUEST, shown).await;
    }
    let done = care::review_emergency(&state.app, &current.actor(), &ctx, id, &form.note)
        .await
        .map_err(|e| page_error(&e, lang))?;
    let target = if done {
        "/dpo/emergency?done=reviewed"
    } else {
        "/dpo/emergency?done=already"
    };
    Ok(Redirect::to(target).into_response())
}
