//! Sign-in: `/login` (e-mail and password), `/login/factor` (TOTP), `/login/recovery` (a
//! recovery code), `/logout`. Errors never say whether an account exists.

use crate::WebState;
use crate::auth::{Ctx, Signed, clear_session_cookie, next_path, redirect_with_session};
use crate::client_cert::CertificateOffer;
use crate::csrf;
use crate::errors::PageError;
use crate::pages::{Frame, frame, messages, render, status_of};
use askama::Template;
use axum::Form;
use axum::extract::rejection::FormRejection;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use galien_app::identity::{NextStep, login, session};
use galien_core::ErrorCode;
use serde::Deserialize;

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    frame: Frame,
    errors: Vec<String>,
    csrf: String,
    email: String,
    expired: bool,
    /// Offers sign-in with a CPS card / client certificate (AUTH-2).
    certificate: bool,
    /// The label of the OpenID Connect provider's button, when one is configured (AUTH-2).
    oidc: Option<String>,
}

/// Query of `GET /login`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct LoginQuery {
    expired: Option<String>,
}

/// The sign-in form.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct LoginForm {
    #[serde(rename = "_csrf")]
    csrf: String,
    email: String,
    password: String,
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn login_page(
    state: &WebState,
    headers: &HeaderMap,
    lang: galien_core::Lang,
    status: StatusCode,
    errors: Vec<String>,
    email: String,
    expired: bool,
    certificate: CertificateOffer,
) -> Response {
    let token = csrf::pre_token(&state.app, headers);
    let page = LoginPage {
        frame: frame(lang, "/login", None),
        errors,
        csrf: token.form.clone(),
        email,
        expired,
        certificate: certificate.0,
        oidc: state.app.settings.oidc.as_ref().map(|o| o.label.clone()),
    };
    let mut r = render(status, &page);
    if let Some(v) = csrf::pre_cookie_header(&token, state.tls) {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
    r
}

/// `GET /login`.
pub async fn show(
    State(state): State<WebState>,
    Ctx(ctx): Ctx,
    Query(q): Query<LoginQuery>,
    offer: CertificateOffer,
    headers: HeaderMap,
) -> Response {
    login_page(
        &state,
        &headers,
        ctx.lang,
        StatusCode::OK,
        Vec::new(),
        String::new(),
        q.expired.is_some(),
        offer,
    )
}

/// `POST /login`.
pub async fn submit(
    State(state): State<WebState>,
    Ctx(ctx): Ctx,
    offer: CertificateOffer,
    headers: HeaderMap,
    form: Result<Form<LoginForm>, FormRejection>,
) -> Response {
    let lang = ctx.lang;
    let Ok(Form(form)) = form else {
        return login_page(
            &state,
            &headers,
            lang,
            StatusCode::BAD_REQUEST,
            vec![ErrorCode::FormInvalid.message(lang).into()],
            String::new(),
            false,
            offer,
        );
    };
    if !csrf::pre_ok(&state.app, &headers, &form.csrf) {
        return login_page(
            &state,
            &headers,
            lang,
            StatusCode::FORBIDDEN,
            vec![ErrorCode::CsrfInvalid.message(lang).into()],
            form.email,
            false,
            offer,
        );
    }
    match login::password(&state.app, &ctx, &form.email, &form.password).await {
        Ok(grant) => redirect_with_session(&grant, state.tls),
        Err(e) => login_page(
            &state,
            &headers,
            lang,
            status_of(&e),
            messages(&e, lang),
            form.email,
            false,
            offer,
        ),
    }
}

#[derive(Template)]
#[template(path = "factor.html")]
pub(crate) struct FactorPage {
    pub(crate) frame: Frame,
    pub(crate) errors: Vec<String>,
    pub(crate) csrf: String,
    pub(crate) title_key: &'static str,
    pub(crate) lead_key: &'static str,
    pub(crate) action: &'static str,
    pub(crate) recovery: bool,
    pub(crate) next: Option<String>,
    /// Which factors to offer (TOTP form, security key button).
    pub(crate) offer: crate::pages::webauthn::FactorOffer,
}

/// The code forms.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct CodeForm {
    #[serde(rename = "_csrf")]
    pub(crate) csrf: String,
    pub(crate) code: String,
    pub(crate) next: Option<String>,
}

async fn factor_page(
    state: &WebState,
    current: &session::Current,
    lang: galien_core::Lang,
    status: StatusCode,
    errors: Vec<String>,
) -> Response {
    let offer = match crate::pages::webauthn::factor_offer(state, current, lang).await {
        Ok(offer) => offer,
        Err(e) => return e.into_response(),
    };
    let page = FactorPage {
        frame: frame(lang, "/login/factor", Some(current)),
        errors,
        csrf: current.csrf_token(),
        title_key: "factor.title",
        lead_key: "factor.lead",
        action: "/login/factor",
        recovery: true,
        next: None,
        offer,
    };
    render(status, &page)
}

/// `GET /login/factor`.
pub async fn factor(
    State(state): State<WebState>,
    Signed(current): Signed,
    Ctx(ctx): Ctx,
) -> Response {
    if current.pending() != NextStep::SecondFactor {
        return Redirect::to(next_path(current.pending())).into_response();
    }
    factor_page(&state, &current, ctx.lang, StatusCode::OK, Vec::new()).await
}

/// Which second factor a form carries.
#[derive(Debug, Clone, Copy)]
enum Factor {
    Totp,
    Recovery,
}

/// `POST /login/factor`.
pub async fn factor_submit(
    State(state): State<WebState>,
    Signed(current): Signed,
    Ctx(ctx): Ctx,
    form: Result<Form<CodeForm>, FormRejection>,
) -> Response {
    second_factor(&state, &current, &ctx, form, Factor::Totp).await
}

/// `POST /login/recovery`.
pub async fn recovery_submit(
    State(state): State<WebState>,
    Signed(current): Signed,
    Ctx(ctx): Ctx,
    form: Result<Form<CodeForm>, FormRejection>,
) -> Response {
    second_factor(&state, &current, &ctx, form, Factor::Recovery).await
}

async fn second_factor(
    state: &WebState,
    current: &session::Current,
    ctx: &galien_app::RequestContext,
    form: Result<Form<CodeForm>, FormRejection>,
    factor: Factor,
) -> Response {
    let lang = ctx.lang;
    let refused = |code: ErrorCode| vec![code.message(lang).to_owned()];
    let Ok(Form(form)) = form else {
        return factor_page(
            state,
            current,
            lang,
            StatusCode::BAD_REQUEST,
            refused(ErrorCode::FormInvalid),
        )
        .await;
    };
    if !current.csrf_ok(&form.csrf) {
        return factor_page(
            state,
            current,
            lang,
            StatusCode::FORBIDDEN,
            refused(ErrorCode::CsrfInvalid),
        )
        .await;
    }
    if current.pending() != NextStep::SecondFactor {
        return Redirect::to(next_path(current.pending())).into_response();
    }
    let result = match factor {
        Factor::Totp => login::second_factor_totp(&state.app, ctx, current, &form.code).await,
        Factor::Recovery => {
            login::second_factor_recovery(&state.app, ctx, current, &form.code).await
        }
    };
    match result {
        Ok(grant) => redirect_with_session(&grant, state.tls),
        Err(e) => factor_page(state, current, lang, status_of(&e), messages(&e, lang)).await,
    }
}

/// The sign-out form.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct CsrfOnly {
    #[serde(rename = "_csrf")]
    pub(crate) csrf: String,
}

/// `POST /logout`.
pub async fn logout(
    State(state): State<WebState>,
    Signed(current): Signed,
    Ctx(ctx): Ctx,
    form: Result<Form<CsrfOnly>, FormRejection>,
) -> Result<Response, PageError> {
    let lang = ctx.lang;
    let ok = form.is_ok_and(|Form(f)| current.csrf_ok(&f.csrf));
    if !ok {
        return Err(PageError {
            code: ErrorCode::CsrfInvalid,
            lang,
        });
    }
    session::logout(&state.app, &ctx, &current)
        .await
        .map_err(|e| PageError {
            code: e.code(),
            lang,
        })?;
    let mut r = Redirect::to("/login").into_response();
    r.headers_mut()
        .insert(header::SET_COOKIE, clear_session_cookie());
    Ok(r)
}
