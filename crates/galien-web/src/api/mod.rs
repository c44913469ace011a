//! The native JSON API. Machines authenticate with a bearer token from `POST /api/v1/token`
//! (OAuth 2.0 client credentials, AUTH-9); errors are JSON with a stable code.

pub mod fhir_observations;
pub mod openapi;
pub mod token;

use crate::WebState;
use crate::errors::ApiError;
use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use galien_app::identity::machines::{self, MachineActor};
use galien_core::{ErrorCode, Lang};

/// A machine authenticated by `Authorization: Bearer …`.
#[derive(Debug, Clone)]
pub struct Machine(pub MachineActor);

impl FromRequestParts<WebState> for Machine {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &WebState,
    ) -> Result<Self, Self::Rejection> {
        let refused = ApiError {
            code: ErrorCode::AuthRequired,
            lang: Lang::Fr,
        };
        let raw = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or(refused)?;
        match machines::authenticate(&state.app, raw).await {
            Ok(actor) => Ok(Machine(actor)),
            Err(e) => Err(ApiError {
                code: e.code(),
                lang: Lang::Fr,
            }),
        }
    }
}
