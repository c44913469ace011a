//! `GET /api/openapi.json`: the OpenAPI 3.0 document of the machine-readable API (token, whoami,
//! FHIR Observations, a call's ICE servers, the FHIR reads of teleconsultation and of a record's
//! documents, the audit trail's search and export, the probes and metrics), written by hand beside
//! the handlers it describes and checked against them by schemathesis
//! (`crates/galien/tests/it/api_schema.rs`).

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::WebState;

/// The document, as served.
pub const DOCUMENT: &str = include_str!("openapi.json");

/// The route.
pub fn routes() -> Router<WebState> {
    Router::new().route("/api/openapi.json", get(document))
}

async fn document() -> Response {
    let mut r = DOCUMENT.into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn the_document_is_openapi_3_json_naming_every_machine_route() {
        let doc: serde_json::Value = serde_json::from_str(DOCUMENT).unwrap();
        assert!(doc["openapi"].as_str().unwrap().starts_with("3.0"));
        for path in [
            "/api/openapi.json",
            "/api/v1/token",
            "/api/v1/whoami",
            "/fhir/r4",
            "/fhir/r4/Observation",
            "/calls/ice-servers",
            "/fhir/r4/Appointment/{id}",
            "/fhir/r4/Encounter/{id}",
            "/fhir/r4/DocumentReference",
            "/api/audit/events",
            "/healthz",
            "/readyz",
            "/metrics",
        ] {
            assert!(doc["paths"][path].is_object(), "{path}");
        }
    }
}
