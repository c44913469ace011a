//! `/enrol/{token}`: the first administrator (link printed at first start) or an invited person
//! sets a password; then the factor enrolment follows. A dead link says exactly why.

use crate::WebState;
use crate::auth::{Ctx, redirect_with_session};
use crate::errors::PageError;
use crate::i18n::UiLang;
use crate::pages::{Frame, frame, human_time, messages, render, status_of};
use askama::Template;
use axum::Form;
use axum::extract::rejection::FormRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use galien_app::bootstrap::ValidLink;
use galien_app::identity::enrol::{self, FirstAdminForm};
use galien_core::ErrorCode;
use galien_core::Lang;
use galien_store::TokenPurpose;
use serde::Deserialize;
use time::format_description::well_known::Rfc3339;

#[derive(Template)]
#[template(path = "enrol.html")]
struct EnrolPage {
    frame: Frame,
    errors: Vec<String>,
    expires_iso: String,
    expires_human: String,
    /// (name, role label) for an invitation.
    invitee: Option<(String, String)>,
    form_name: String,
    form_email: String,
}

/// The enrolment form.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct EnrolForm {
    display_name: String,
    email: String,
    password: String,
}

async fn page(
    state: &WebState,
    lang: Lang,
    token: &str,
    link: &ValidLink,
    errors: Vec<String>,
    form: &EnrolForm,
) -> Result<EnrolPage, PageError> {
    let invitee = if link.purpose == TokenPurpose::Invitation {
        let user = enrol::invitee(&state.app, token)
            .await
            .map_err(|e| PageError {
                code: e.code(),
                lang,
            })?;
        let role = match lang {
            Lang::Fr => user.role.label_fr(),
            Lang::En => user.role.label_en(),
        };
        Some((user.display_name, role.to_owned()))
    } else {
        None
    };
    Ok(EnrolPage {
        frame: frame(lang, format!("/enrol/{token}"), None),
        errors,
        expires_iso: link.expires_at.format(&Rfc3339).unwrap_or_default(),
        expires_human: human_time(link.expires_at, lang),
        invitee,
        form_name: form.display_name.clone(),
        form_email: form.email.clone(),
    })
}

/// `GET /enrol/{token}`.
pub async fn show(
    State(state): State<WebState>,
    UiLang(lang): UiLang,
    Path(token): Path<String>,
) -> Result<Response, PageError> {
    let link = galien_app::bootstrap::check_link(&state.app, &token)
        .await
        .map_err(|e| PageError {
            code: e.code(),
            lang,
        })?;
    let page = page(
        &state,
        lang,
        &token,
        &link,
        Vec::new(),
        &EnrolForm::default(),
    )
    .await?;
    Ok(render(StatusCode::OK, &page))
}

/// `POST /enrol/{token}`: the link itself is the secret, so it also protects the form (no CSRF
/// token can be more secret than it).
pub async fn submit(
    State(state): State<WebState>,
    Ctx(ctx): Ctx,
    Path(token): Path<String>,
    form: Result<Form<EnrolForm>, FormRejection>,
) -> Result<Response, PageError> {
    let lang = ctx.lang;
    let Form(form) = form.map_err(|_| PageError {
        code: ErrorCode::FormInvalid,
        lang,
    })?;
    let link = galien_app::bootstrap::check_link(&state.app, &token)
        .await
        .map_err(|e| PageError {
            code: e.code(),
            lang,
        })?;
    let result = match link.purpose {
        TokenPurpose::FirstAdministrator => {
            let f = FirstAdminForm {
                display_name: form.display_name.clone(),
                email: form.email.clone(),
                password: form.password.clone(),
            };
            enrol::first_admin(&state.app, &ctx, &token, &f).await
        }
        TokenPurpose::Invitation => {
            enrol::accept_invitation(&state.app, &ctx, &token, &form.password).await
        }
    };
    match result {
        Ok(grant) => Ok(redirect_with_session(&grant, state.tls)),
        Err(e) => {
            let page = page(&state, lang, &token, &link, messages(&e, lang), &form).await?;
            Ok(render(status_of(&e), &page))
        }
    }
}
