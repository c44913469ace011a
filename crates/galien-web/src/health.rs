//! Liveness, readiness and metrics for operators and load balancers.

use crate::WebState;
use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use galien_core::ErrorCode;
use serde_json::json;

/// `GET /healthz`: 200 while the process runs.
pub async fn healthz() -> &'static str {
    "ok"
}

/// `GET /readyz`: 200 when the database answers, 503 otherwise (the node leaves the pool).
pub async fn readyz(State(state): State<WebState>) -> Response {
    let backend = state.app.store.backend().name();
    match state.app.store.ping().await {
        Ok(()) => Json(json!({ "status": "ready", "database": backend })).into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({ "status": "unavailable", "database": backend, "code": ErrorCode::Unavailable.as_str() })),
            )
                .into_response()
        }
    }
}

/// `GET /metrics`: Prometheus / OpenMetrics text.
pub async fn metrics(State(state): State<WebState>) -> Response {
    match state.metrics.encode() {
        Ok(text) => (
            [(
                header::CONTENT_TYPE,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )],
            text,
        )
            .into_response(),
        Err(e) => {
            tracing::error!(error = %e, "metrics encoding failed");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}
