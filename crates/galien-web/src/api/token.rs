//! `POST /api/v1/token` (client credentials) and `GET /api/v1/whoami` (what a token allows).

use super::Machine;
use crate::WebState;
use crate::auth::Ctx;
use axum::Form;
use axum::Json;
use axum::extract::State;
use axum::extract::rejection::FormRejection;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use galien_app::identity::machines;
use galien_core::ErrorCode;
use serde::Deserialize;
use serde_json::json;

/// The token request (RFC 6749 §4.4).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct TokenRequest {
    grant_type: String,
    client_id: Option<String>,
    client_secret: Option<String>,
    scope: Option<String>,
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    let mut r = (
        status,
        Json(json!({ "error": error, "error_description": description })),
    )
        .into_response();
    r.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    r
}

/// Client id and secret from HTTP Basic (preferred) or the form.
fn credentials(headers: &HeaderMap, form: &TokenRequest) -> Option<(String, String)> {
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| STANDARD.decode(b).ok())
        .and_then(|raw| String::from_utf8(raw).ok())
        .and_then(|s| s.split_once(':').map(|(a, b)| (a.to_owned(), b.to_owned())));
    basic.or_else(|| Some((form.client_id.clone()?, form.client_secret.clone()?)))
}

/// `POST /api/v1/token`.
pub async fn token(
    State(state): State<WebState>,
    Ctx(ctx): Ctx,
    headers: HeaderMap,
    form: Result<Form<TokenRequest>, FormRejection>,
) -> Response {
    let Ok(Form(form)) = form else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "expected an application/x-www-form-urlencoded body",
        );
    };
    if form.grant_type != "client_credentials" {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "only client_credentials is supported",
        );
    }
    let Some((id, secret)) = credentials(&headers, &form) else {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "client authentication is required",
        );
    };
    match machines::token(&state.app, &ctx, &id, &secret, form.scope.as_deref()).await {
        Ok(issued) => {
            let mut r = Json(json!({
                "access_token": issued.token.expose(),
                "token_type": "Bearer",
                "expires_in": issued.expires_in,
                "scope": issued.scopes.join(" "),
            }))
            .into_response();
            r.headers_mut().insert(
                header::CACHE_CONTROL,
                header::HeaderValue::from_static("no-store"),
            );
            r
        }
        Err(e) if e.code() == ErrorCode::BadCredentials => oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "unknown or revoked client, or wrong secret",
        ),
        Err(e) if e.code() == ErrorCode::AccessDenied => oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            "a requested scope was not granted to this client",
        ),
        Err(e) => {
            tracing::error!(error = %e, "token issuance failed");
            crate::errors::ApiError {
                code: e.code(),
                lang: ctx.lang,
            }
            .into_response()
        }
    }
}

/// `GET /api/v1/whoami`.
pub async fn whoami(Machine(m): Machine) -> Json<serde_json::Value> {
    Json(json!({ "client_id": m.client, "scopes": m.scopes }))
}
