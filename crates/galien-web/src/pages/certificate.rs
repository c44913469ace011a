//! Sign-in with a TLS client certificate, CPS card style (AUTH-2): `POST /auth/certificate`, a
//! button on the sign-in page. The certificate itself travels in the TLS handshake and was
//! verified there; this form only says "use it", with the pre-session CSRF token of `/login`.

use crate::WebState;
use crate::auth::{Ctx, redirect_with_session};
use crate::client_cert::{CertificateOffer, PresentedCertificate};
use crate::csrf;
use crate::pages::login::login_page;
use crate::pages::{messages, status_of};
use axum::Form;
use axum::Router;
use axum::extract::State;
use axum::extract::rejection::FormRejection;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::post;
use galien_app::identity::certificate;
use galien_core::ErrorCode;
use serde::Deserialize;

/// The routes of certificate sign-in.
pub fn routes() -> Router<WebState> {
    Router::new().route("/auth/certificate", post(submit))
}

/// The form: only the pre-session CSRF token.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct CertificateForm {
    #[serde(rename = "_csrf")]
    csrf: String,
}

/// `POST /auth/certificate`: a two-factor session and `/account`, or the sign-in page with why.
pub async fn submit(
    State(state): State<WebState>,
    Ctx(ctx): Ctx,
    offer: CertificateOffer,
    PresentedCertificate(presented): PresentedCertificate,
    headers: HeaderMap,
    form: Result<Form<CertificateForm>, FormRejection>,
) -> Response {
    let lang = ctx.lang;
    let refuse = |status: StatusCode, code: ErrorCode| {
        login_page(
            &state,
            &headers,
            lang,
            status,
            vec![code.message(lang).into()],
            String::new(),
            false,
            offer,
        )
    };
    let Ok(Form(form)) = form else {
        return refuse(StatusCode::BAD_REQUEST, ErrorCode::FormInvalid);
    };
    if !csrf::pre_ok(&state.app, &headers, &form.csrf) {
        return refuse(StatusCode::FORBIDDEN, ErrorCode::CsrfInvalid);
    }
    let leaf = presented.as_ref().map(|c| c.0.as_slice());
    match certificate::sign_in(&state.app, &ctx, leaf).await {
        Ok(grant) => redirect_with_session(&grant, state.tls),
        Err(e) => login_page(
            &state,
            &headers,
            lang,
            status_of(&e),
            messages(&e, lang),
            String::new(),
            false,
            offer,
        ),
    }
}
