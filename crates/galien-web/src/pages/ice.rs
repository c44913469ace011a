//! `GET /calls/ice-servers` (ACT-1): the STUN and TURN servers a call page passes to
//! `new RTCPeerConnection(…)`, with TURN credentials minted for this request only.
//!
//! Only for a two-factor session (the relay is a resource of the installation, not the public's):
//! otherwise a JSON error, 401 without a session, 403 before the second factor. The TURN username
//! carries a fresh random label, never who asked (coturn logs usernames). `Cache-Control: no-store`.

use crate::WebState;
use crate::auth::{NoSession, Strong};
use crate::errors::ApiError;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use galien_core::{ErrorCode, Lang};

/// Random bytes of a TURN label (128 bits).
const LABEL_BYTES: usize = 16;

/// The routes of this module.
pub fn routes() -> Router<WebState> {
    Router::new().route("/calls/ice-servers", get(ice_servers))
}

fn refuse(code: ErrorCode) -> Response {
    ApiError {
        code,
        lang: Lang::Fr,
    }
    .into_response()
}

/// `GET /calls/ice-servers`.
#[tracing::instrument(skip_all)]
pub async fn ice_servers(
    State(state): State<WebState>,
    session: Result<Strong, NoSession>,
) -> Response {
    match session {
        Ok(Strong(_)) => {}
        Err(NoSession::Pending { .. }) => return refuse(ErrorCode::SecondFactorRequired),
        Err(NoSession::Failed { code, .. } | NoSession::SignIn { code, .. }) => {
            return refuse(code);
        }
    }
    let mut label = [0u8; LABEL_BYTES];
    state.app.entropy.fill(&mut label);
    let config = state
        .app
        .settings
        .ice
        .servers_for(&URL_SAFE_NO_PAD.encode(label), state.app.clock.now());
    let mut response = Json(config).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
