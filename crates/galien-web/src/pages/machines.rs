//! `/admin/machines`: register devices and systems (AUTH-9), show their secret once, revoke them.

use crate::WebState;
use crate::auth::{Ctx, Strong};
use crate::errors::PageError;
use crate::pages::{Frame, frame, human_time, messages, render, status_of};
use askama::Template;
use axum::extract::rejection::FormRejection;
use axum::extract::{Path, RawForm, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use galien_app::identity::machines;
use galien_app::identity::session::Current;
use galien_core::{ErrorCode, Lang};

#[derive(Debug)]
struct Row {
    id: String,
    name: String,
    kind: String,
    scopes: String,
    created: String,
    revoked: bool,
}

#[derive(Debug)]
struct Created {
    id: String,
    secret: String,
}

#[derive(Template)]
#[template(path = "admin_machines.html")]
struct MachinesPage {
    frame: Frame,
    errors: Vec<String>,
    csrf: String,
    scopes: Vec<(&'static str, &'static str)>,
    rows: Vec<Row>,
    created: Option<Created>,
}

async fn page(
    state: &WebState,
    current: &Current,
    lang: Lang,
    status: StatusCode,
    errors: Vec<String>,
    created: Option<Created>,
) -> Result<Response, PageError> {
    let clients = machines::list(&state.app, current)
        .await
        .map_err(|e| PageError {
            code: e.code(),
            lang,
        })?;
    let rows = clients
        .into_iter()
        .map(|c| Row {
            id: c.id.to_string(),
            name: c.name,
            kind: c.kind,
            scopes: c.scopes.join(", "),
            created: human_time(c.created_at, lang),
            revoked: c.revoked_at.is_some(),
        })
        .collect();
    let p = MachinesPage {
        frame: frame(lang, "/admin/machines", Some(current)),
        errors,
        csrf: current.csrf_token(),
        scopes: machines::SCOPES
            .iter()
            .map(|(k, fr, en)| (*k, if lang == Lang::Fr { *fr } else { *en }))
            .collect(),
        rows,
        created,
    };
    Ok(render(status, &p))
}

/// `GET /admin/machines`.
pub async fn show(
    State(state): State<WebState>,
    Strong(current): Strong,
    Ctx(ctx): Ctx,
) -> Result<Response, PageError> {
    page(&state, &current, ctx.lang, StatusCode::OK, Vec::new(), None).await
}

/// `POST /admin/machines` (fields `name`, `kind`, repeated `scope`).
pub async fn create(
    State(state): State<WebState>,
    Strong(current): Strong,
    Ctx(ctx): Ctx,
    form: Result<RawForm, axum::extract::rejection::RawFormRejection>,
) -> Result<Response, PageError> {
    let lang = ctx.lang;
    let Ok(RawForm(raw)) = form else {
        return Err(PageError {
            code: ErrorCode::FormInvalid,
            lang,
        });
    };
    let pairs: Vec<(String, String)> = serde_urlencoded_pairs(&raw);
    let get = |k: &str| {
        pairs
            .iter()
            .find(|(a, _)| a == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    if !current.csrf_ok(&get("_csrf")) {
        return Err(PageError {
            code: ErrorCode::CsrfInvalid,
            lang,
        });
    }
    let scopes: Vec<String> = pairs
        .iter()
        .filter(|(k, _)| k == "scope")
        .map(|(_, v)| v.clone())
        .collect();
    match machines::create(
        &state.app,
        &ctx,
        &current,
        &get("name"),
        &get("kind"),
        &scopes,
    )
    .await
    {
        Ok((client, secret)) => {
            let created = Created {
                id: client.id.to_string(),
                secret: secret.expose().to_owned(),
            };
            page(
                &state,
                &current,
                lang,
                StatusCode::OK,
                Vec::new(),
                Some(created),
            )
            .await
        }
        Err(e)
            if matches!(
                e.code(),
                ErrorCode::AccessDenied | ErrorCode::SecondFactorRequired
            ) =>
        {
            Err(PageError {
                code: e.code(),
                lang,
            })
        }
        Err(e) => {
            page(
                &state,
                &current,
                lang,
                status_of(&e),
                messages(&e, lang),
                None,
            )
            .await
        }
    }
}

fn serde_urlencoded_pairs(raw: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(raw)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// `POST /admin/machines/{id}/revoke`.
pub async fn revoke(
    State(state): State<WebState>,
    Strong(current): Strong,
    Ctx(ctx): Ctx,
    Path(id): Path<String>,
    form: Result<axum::Form<crate::pages::login::CsrfOnly>, FormRejection>,
) -> Result<Response, PageError> {
    let lang = ctx.lang;
    if !form.is_ok_and(|axum::Form(f)| current.csrf_ok(&f.csrf)) {
        return Err(PageError {
            code: ErrorCode::CsrfInvalid,
            lang,
        });
    }
    let id = uuid::Uuid::parse_str(&id).map_err(|_| PageError {
        code: ErrorCode::NotFound,
        lang,
    })?;
    machines::revoke(&state.app, &ctx, &current, id)
        .await
        .map_err(|e| PageError {
            code: e.code(),
            lang,
        })?;
    Ok(Redirect::to("/admin/machines").into_response())
}
