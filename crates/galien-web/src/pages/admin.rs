//! `/admin/users`: the account list, invitations, suspension, reactivation, closure (AUTH-1,
//! AUTH-8). Administrators see identities and roles, never clinical content (ACC-2).

use crate::WebState;
use crate::auth::{Ctx, Strong};
use crate::errors::PageError;
use crate::pages::{Frame, frame, human_time, messages, render, status_of};
use askama::Template;
use axum::Form;
use axum::extract::rejection::FormRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use galien_app::identity::admin::{self, InviteForm};
use galien_app::identity::session::Current;
use galien_core::identity::{AccountStatus, Role};
use galien_core::ids::UserId;
use galien_core::{ErrorCode, Lang};
use serde::Deserialize;

#[derive(Debug)]
struct UserRow {
    id: String,
    name: String,
    role: &'static str,
    email: String,
    status_key: &'static str,
    /// (path segment, text key)
    actions: Vec<(&'static str, &'static str)>,
}

#[derive(Debug)]
struct Invited {
    name: String,
    url: String,
    expires: String,
}

#[derive(Template)]
#[template(path = "admin_users.html")]
struct UsersPage {
    frame: Frame,
    errors: Vec<String>,
    csrf: String,
    roles: Vec<(&'static str, &'static str)>,
    form: InviteFormView,
    users: Vec<UserRow>,
    invited: Option<Invited>,
}

/// The invitation form as typed (re-shown after an error).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct InviteFormView {
    #[serde(rename = "_csrf")]
    csrf: String,
    role: String,
    display_name: String,
    email: String,
    professional_id: String,
    organisation: String,
}

fn role_label(role: Role, lang: Lang) -> &'static str {
    match lang {
        Lang::Fr => role.label_fr(),
        Lang::En => role.label_en(),
    }
}

async fn page(
    state: &WebState,
    current: &Current,
    lang: Lang,
    status: StatusCode,
    errors: Vec<String>,
    form: InviteFormView,
    invited: Option<Invited>,
) -> Result<Response, PageError> {
    let users = admin::list(&state.app, current)
        .await
        .map_err(|e| PageError {
            code: e.code(),
            lang,
        })?;
    let rows = users
        .into_iter()
        .map(|u| {
            let is_self = u.id == current.user.id;
            let (status_key, actions): (&str, Vec<(&str, &str)>) = match u.status {
                AccountStatus::Invited => (
                    "status.invited",
                    vec![
                        ("reinvite", "admin.reinvite"),
                        ("deactivate", "admin.deactivate"),
                    ],
                ),
                AccountStatus::Active => (
                    "status.active",
                    vec![
                        ("suspend", "admin.suspend"),
                        ("deactivate", "admin.deactivate"),
                    ],
                ),
                AccountStatus::Suspended => (
                    "status.suspended",
                    vec![
                        ("reactivate", "admin.reactivate"),
                        ("deactivate", "admin.deactivate"),
                    ],
                ),
                AccountStatus::Deactivated => ("status.deactivated", Vec::new()),
            };
            UserRow {
                id: u.id.to_string(),
                name: u.display_name,
                role: role_label(u.role, lang),
                email: u.email.as_str().to_owned(),
                status_key,
                actions: if is_self { Vec::new() } else { actions },
            }
        })
        .collect();
    let p = UsersPage {
        frame: frame(lang, "/admin/users", Some(current)),
        errors,
        csrf: current.csrf_token(),
        roles: Role::ALL
            .iter()
            .map(|r| (r.as_str(), role_label(*r, lang)))
            .collect(),
        form,
        users: rows,
        invited,
    };
    Ok(render(status, &p))
}

/// `GET /admin/users`.
pub async fn show(
    State(state): State<WebState>,
    Strong(current): Strong,
    Ctx(ctx): Ctx,
) -> Result<Response, PageError> {
    page(
        &state,
        &current,
        ctx.lang,
        StatusCode::OK,
        Vec::new(),
        InviteFormView {
            role: "medecin".into(),
            ..Default::default()
        },
        None,
    )
    .await
}

/// `POST /admin/users`: invites someone.
pub async fn invite(
    State(state): State<WebState>,
    Strong(current): Strong,
    Ctx(ctx): Ctx,
    form: Result<Form<InviteFormView>, FormRejection>,
) -> Result<Response, PageError> {
    let lang = ctx.lang;
    let form = crate::pages::checked_form(&current, form, lang, |f| &f.csrf)?;
    let input = InviteForm {
        role: form.role.clone(),
        display_name: form.display_name.clone(),
        email: form.email.clone(),
        professional_id: form.professional_id.clone(),
        organisation: form.organisation.clone(),
    };
    match admin::invite(&state.app, &ctx, &current, &input).await {
        Ok((user, link)) => {
            let invited = Invited {
                name: user.display_name,
                url: link.url,
                expires: human_time(link.expires_at, lang),
            };
            page(
                &state,
                &current,
                lang,
                StatusCode::OK,
                Vec::new(),
                InviteFormView {
                    role: form.role,
                    ..Default::default()
                },
                Some(invited),
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
                form,
                None,
            )
            .await
        }
    }
}

/// `POST /admin/users/{id}/{action}`: suspend, reactivate, deactivate, reinvite.
pub async fn act(
    State(state): State<WebState>,
    Strong(current): Strong,
    Ctx(ctx): Ctx,
    Path((id, action)): Path<(String, String)>,
    form: Result<Form<crate::pages::login::CsrfOnly>, FormRejection>,
) -> Result<Response, PageError> {
    let lang = ctx.lang;
    if !form.is_ok_and(|Form(f)| current.csrf_ok(&f.csrf)) {
        return Err(PageError {
            code: ErrorCode::CsrfInvalid,
            lang,
        });
    }
    let user: UserId = id.parse().map_err(|_| PageError {
        code: ErrorCode::NotFound,
        lang,
    })?;
    let refused = |e: galien_app::AppError| PageError {
        code: e.code(),
        lang,
    };
    match action.as_str() {
        "suspend" => admin::set_status(&state.app, &ctx, &current, user, AccountStatus::Suspended)
            .await
            .map_err(refused)?,
        "reactivate" => admin::set_status(&state.app, &ctx, &current, user, AccountStatus::Active)
            .await
            .map_err(refused)?,
        "deactivate" => {
            admin::set_status(&state.app, &ctx, &current, user, AccountStatus::Deactivated)
                .await
                .map_err(refused)?
        }
        "reinvite" => {
            let link = admin::reinvite(&state.app, &ctx, &current, user)
                .await
                .map_err(refused)?;
            let target = state.app.store.user(user).await.map_err(|e| PageError {
                code: galien_app::AppError::from(e).code(),
                lang,
            })?;
            let invited = Invited {
                name: target.display_name,
                url: link.url,
                expires: human_time(link.expires_at, lang),
            };
            return page(
                &state,
                &current,
                lang,
                StatusCode::OK,
                Vec::new(),
                InviteFormView {
                    role: "medecin".into(),
                    ..Default::default()
                },
                Some(invited),
            )
            .await;
        }
        _ => {
            return Err(PageError {
                code: ErrorCode::NotFound,
                lang,
            });
        }
    }
    Ok(Redirect::to("/admin/users").into_response())
}
