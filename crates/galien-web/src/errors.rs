//! The one mapping from error codes to HTTP (CONVENTIONS 7). Every error response carries the
//! stable code, a message in the person's language and the request id; never a stack, SQL or secret.

use crate::WebState;
use crate::auth::Signed;
use crate::i18n::UiLang;
use crate::observe::current_request_id;
use askama::Template;
use axum::BoxError;
use axum::Json;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{Html, IntoResponse, Response};
use galien_core::error::ErrorClass;
use galien_core::{ErrorCode, Lang};
use serde::Serialize;

/// The HTTP status of each error class; exhaustive so a new class cannot be forgotten.
pub fn status_for(class: ErrorClass) -> StatusCode {
    match class {
        ErrorClass::BadInput => StatusCode::BAD_REQUEST,
        ErrorClass::Unauthenticated => StatusCode::UNAUTHORIZED,
        ErrorClass::Forbidden => StatusCode::FORBIDDEN,
        ErrorClass::NotFound => StatusCode::NOT_FOUND,
        ErrorClass::Gone => StatusCode::GONE,
        ErrorClass::Conflict => StatusCode::CONFLICT,
        ErrorClass::TooMany => StatusCode::TOO_MANY_REQUESTS,
        ErrorClass::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        ErrorClass::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        ErrorClass::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// Body of a JSON error.
#[derive(Debug, Serialize)]
pub struct ErrorBody {
    /// Stable code, e.g. `REQ-NOT-FOUND`.
    pub code: &'static str,
    /// For a person.
    pub message: &'static str,
    /// Quote it to support.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

/// An error for API clients (JSON).
#[derive(Debug, Clone, Copy)]
pub struct ApiError {
    /// What went wrong.
    pub code: ErrorCode,
    /// In which language to say it.
    pub lang: Lang,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            code: self.code.as_str(),
            message: self.code.message(self.lang),
            request_id: current_request_id().map(|id| id.to_string()),
        };
        (status_for(self.code.class()), Json(body)).into_response()
    }
}

/// An error for people in a browser (HTML page).
#[derive(Debug, Clone, Copy)]
pub struct PageError {
    /// What went wrong.
    pub code: ErrorCode,
    /// In which language to say it.
    pub lang: Lang,
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorTemplate<'a> {
    frame: crate::pages::Frame,
    heading: &'a str,
    message: &'a str,
    code: &'a str,
    code_label: &'a str,
    rid_label: &'a str,
    request_id: Option<String>,
    home: &'a str,
}

/// The page without navigation, carrying the error itself: the outer middleware
/// ([`crate::observe::observe`]) draws it again with the navigation of the person whose session the
/// request resolved, and a language switch back to the same address.
impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let mut response = self.page(None, "/");
        response.extensions_mut().insert(self);
        response
    }
}

impl PageError {
    /// The error page, its header showing `nav` (the person signed in) or, without one, the
    /// sign-in link; the language switch comes back to `here`.
    pub fn page(self, nav: Option<crate::pages::Nav>, here: &str) -> Response {
        let (heading, code_label, rid_label, home) = match self.lang {
            Lang::Fr => (
                "Impossible de continuer",
                "Code :",
                "requête :",
                "Retour à l'accueil",
            ),
            Lang::En => (
                "Cannot continue",
                "Code:",
                "request:",
                "Back to the home page",
            ),
        };
        let page = ErrorTemplate {
            frame: crate::pages::frame_with(self.lang, here, nav),
            heading,
            message: self.code.message(self.lang),
            code: self.code.as_str(),
            code_label,
            rid_label,
            request_id: current_request_id().map(|id| id.to_string()),
            home,
        };
        let status = status_for(self.code.class());
        match page.render() {
            Ok(html) => (status, Html(html)).into_response(),
            Err(e) => {
                tracing::error!(error = %e, "error page failed to render");
                (status, self.code.message(self.lang)).into_response()
            }
        }
    }
}

/// Whether a request wants JSON (API, FHIR, or an explicit Accept) rather than a page.
pub fn wants_json(uri: &Uri, headers: &HeaderMap) -> bool {
    let path = uri.path();
    path.starts_with("/api/")
        || path.starts_with("/fhir/")
        || headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|a| a.contains("json") && !a.contains("text/html"))
}

/// Fallback for unknown paths: 404 `REQ-NOT-FOUND`, as a page or as JSON.
pub async fn not_found(
    State(state): State<WebState>,
    UiLang(lang): UiLang,
    request: Request,
) -> Response {
    fallback(&state, ErrorCode::NotFound, lang, request).await
}

/// Fallback for a known path with the wrong method: 405 `REQ-METHOD`.
pub async fn method_not_allowed(
    State(state): State<WebState>,
    UiLang(lang): UiLang,
    request: Request,
) -> Response {
    let mut r = fallback(&state, ErrorCode::MethodNotAllowed, lang, request).await;
    *r.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
    r
}

/// A fallback's answer: JSON for API clients; for people, the error page with the navigation of
/// the person signed in, if there is one (a mistyped or stale address must not look like a
/// session that ended): the session is resolved here, as no route's extractor did it.
async fn fallback(state: &WebState, code: ErrorCode, lang: Lang, request: Request) -> Response {
    let (mut parts, _) = request.into_parts();
    if wants_json(&parts.uri, &parts.headers) {
        return ApiError { code, lang }.into_response();
    }
    let _signed = Signed::from_request_parts(&mut parts, state).await;
    PageError { code, lang }.into_response()
}

/// A bare 404 for assets.
pub fn not_found_plain() -> Response {
    ApiError {
        code: ErrorCode::NotFound,
        lang: Lang::Fr,
    }
    .into_response()
}

/// A handler panicked: log it, answer 500 `SRV-INTERNAL` (the panic text stays in the log).
pub fn panic_response(err: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let detail = err
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| err.downcast_ref::<&str>().copied())
        .unwrap_or("panic");
    tracing::error!(detail, "handler panicked");
    ApiError {
        code: ErrorCode::Internal,
        lang: Lang::Fr,
    }
    .into_response()
}

/// A request exceeded the timeout (or another middleware failed).
pub async fn timeout_response(err: BoxError) -> Response {
    if err.is::<tower::timeout::error::Elapsed>() {
        tracing::warn!("request timed out");
        ApiError {
            code: ErrorCode::Timeout,
            lang: Lang::Fr,
        }
        .into_response()
    } else {
        tracing::error!(error = %err, "middleware failed");
        ApiError {
            code: ErrorCode::Internal,
            lang: Lang::Fr,
        }
        .into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_maps_to_an_error_status() {
        for code in ErrorCode::ALL {
            let status = status_for(code.class());
            assert!(
                status.is_client_error() || status.is_server_error(),
                "{code} -> {status}"
            );
        }
        assert_eq!(
            status_for(ErrorCode::Unavailable.class()),
            StatusCode::SERVICE_UNAVAILABLE
        );
        assert_eq!(
            status_for(ErrorCode::EnrolmentLinkExpired.class()),
            StatusCode::GONE
        );
        assert_eq!(
            status_for(ErrorCode::AuthRequired.class()),
            StatusCode::UNAUTHORIZED
        );
    }
}
