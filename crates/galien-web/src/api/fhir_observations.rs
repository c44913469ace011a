//! `POST /fhir/r4` and `POST /fhir/r4/Observation` (ACT-3): devices post measurements as FHIR R4
//! Observations — one, or a `Bundle` of type `batch` or `transaction`. The device authenticates with
//! its bearer token (scope `observations.write`); each patient's readings pass the gate. Every answer
//! is FHIR JSON: the stored Observation, a batch/transaction response, or an `OperationOutcome`.

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use galien_app::AppError;
use galien_app::identity::machines;
use galien_app::telemonitoring::fhir::{self, Refusal, Submission};
use galien_app::telemonitoring::ingest::{self, Reading, Sender, Stored};
use galien_core::ErrorCode;
use serde_json::{Value, json};

use crate::WebState;
use crate::auth::Ctx;

/// The FHIR routes.
pub fn routes() -> Router<WebState> {
    Router::new()
        .route("/fhir/r4", post(submit))
        .route("/fhir/r4/Observation", post(submit))
}

fn fhir_json(status: StatusCode, body: &Value) -> Response {
    let mut r = (status, body.to_string()).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/fhir+json; charset=utf-8"),
    );
    r
}

fn status_of(code: ErrorCode) -> StatusCode {
    crate::errors::status_for(code.class())
}

fn outcome(code: ErrorCode, diagnostics: impl Into<String>) -> Response {
    fhir_json(
        status_of(code),
        &fhir::operation_outcome(&[("error", code, diagnostics.into())]),
    )
}

fn refused(r: &Refusal) -> Response {
    outcome(r.code, r.diagnostics.clone())
}

fn app_error(e: &AppError) -> Response {
    if matches!(e, AppError::Store(_) | AppError::Keys(_)) {
        tracing::error!(error = %e, "storing measurements failed");
    }
    outcome(e.code(), e.code().message(galien_core::Lang::En))
}

async fn submit(
    State(state): State<WebState>,
    Ctx(ctx): Ctx,
    headers: HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Response {
    let Some(token) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
    else {
        return outcome(ErrorCode::AuthRequired, "a bearer token is required");
    };
    let device = match machines::authenticate(&state.app, token).await {
        Ok(d) => d,
        Err(e) => return outcome(e.code(), "the bearer token is not valid"),
    };
    if !device.may("observations.write") {
        return outcome(
            ErrorCode::AccessDenied,
            "the token lacks scope observations.write",
        );
    }
    let sender = Sender::Device(device.client);
    let body = match body {
        Ok(b) => b,
        Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            return outcome(
                ErrorCode::RequestTooLarge,
                "the request body is larger than http.max_body_bytes; send smaller Bundles",
            );
        }
        Err(e) => return outcome(ErrorCode::RequestInvalid, e.body_text()),
    };
    let submission = match fhir::parse(&body) {
        Ok(s) => s,
        Err(r) => return refused(&r),
    };
    match submission {
        Submission::One(Err(r)) => refused(&r),
        Submission::One(Ok(readings)) => {
            match ingest::ingest(&state.app, &sender, &ctx, &readings, true).await {
                Err(e) => app_error(&e),
                Ok(results) => one_response(&readings, &results),
            }
        }
        Submission::Transaction(entries) => {
            if let Some((i, r)) = entries
                .iter()
                .enumerate()
                .find_map(|(i, e)| e.as_ref().err().map(|r| (i, r)))
            {
                return outcome(r.code, format!("entry[{i}]: {}", r.diagnostics));
            }
            let flat: Vec<Reading> = entries.into_iter().flatten().flatten().collect();
            match ingest::ingest(&state.app, &sender, &ctx, &flat, true).await {
                Err(e) => app_error(&e),
                Ok(results) => bundle_response("transaction-response", &flat, &results),
            }
        }
        Submission::Batch(entries) => {
            // Readings of the entries that parsed, remembering which entry each came from.
            let mut flat = Vec::new();
            let mut origin = Vec::new();
            for (i, e) in entries.iter().enumerate() {
                if let Ok(readings) = e {
                    for r in readings {
                        flat.push(*r);
                        origin.push(i);
                    }
                }
            }
            match ingest::ingest(&state.app, &sender, &ctx, &flat, false).await {
                Err(e) => app_error(&e),
                Ok(results) => batch_response(&entries, &flat, &origin, &results),
            }
        }
    }
}

fn one_response(readings: &[Reading], results: &[Result<Stored, ErrorCode>]) -> Response {
    if let Some(Err(code)) = results.iter().find(|r| r.is_err()) {
        return outcome(*code, code.message(galien_core::Lang::En));
    }
    match (readings.first(), results.first()) {
        (Some(r), Some(Ok(Stored::Created(id)))) if readings.len() == 1 => {
            let mut resp = fhir_json(StatusCode::CREATED, &fhir::render(&id.to_string(), r));
            if let Ok(v) = HeaderValue::from_str(&format!("Observation/{id}")) {
                resp.headers_mut().insert(header::LOCATION, v);
            }
            resp
        }
        _ => {
            let created = results
                .iter()
                .filter(|r| matches!(r, Ok(Stored::Created(_))))
                .count();
            let status = if created > 0 {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            };
            fhir_json(
                status,
                &fhir::operation_outcome(&[(
                    "information",
                    ErrorCode::RequestInvalid,
                    format!(
                        "{created} value(s) stored, {} already present",
                        results.len() - created
                    ),
                )]),
            )
        }
    }
}

fn entry_for(r: &Reading, result: &Result<Stored, ErrorCode>) -> Value {
    match result {
        Ok(Stored::Created(id)) => json!({
            "resource": fhir::render(&id.to_string(), r),
            "response": { "status": "201 Created", "location": format!("Observation/{id}") },
        }),
        Ok(Stored::Duplicate) => json!({
            "response": {
                "status": "200 OK",
                "outcome": fhir::operation_outcome(&[(
                    "information",
                    ErrorCode::RequestInvalid,
                    "already stored (same device, code and time)".to_owned(),
                )]),
            },
        }),
        Err(code) => json!({
            "response": {
                "status": fhir::status_line(*code),
                "outcome": fhir::operation_outcome(&[("error", *code, code.message(galien_core::Lang::En).to_owned())]),
            },
        }),
    }
}

fn bundle_response(
    kind: &str,
    readings: &[Reading],
    results: &[Result<Stored, ErrorCode>],
) -> Response {
    let entries: Vec<Value> = readings
        .iter()
        .zip(results)
        .map(|(r, res)| entry_for(r, res))
        .collect();
    fhir_json(
        StatusCode::OK,
        &json!({ "resourceType": "Bundle", "type": kind, "entry": entries }),
    )
}

/// One response entry per request entry: a refused entry carries its OperationOutcome; an entry whose
/// readings were stored carries them (a blood-pressure panel becomes two Observations, the first
/// entry's response).
fn batch_response(
    entries: &[Result<Vec<Reading>, Refusal>],
    flat: &[Reading],
    origin: &[usize],
    results: &[Result<Stored, ErrorCode>],
) -> Response {
    let mut out = Vec::with_capacity(entries.len());
    for (i, e) in entries.iter().enumerate() {
        match e {
            Err(r) => out.push(json!({
                "response": {
                    "status": fhir::status_line(r.code),
                    "outcome": fhir::operation_outcome(&[("error", r.code, r.diagnostics.clone())]),
                },
            })),
            Ok(_) => {
                let mine: Vec<(&Reading, &Result<Stored, ErrorCode>)> = origin
                    .iter()
                    .zip(flat.iter().zip(results))
                    .filter(|(o, _)| **o == i)
                    .map(|(_, x)| x)
                    .collect();
                let failed = mine.iter().find_map(|(_, r)| r.as_ref().err());
                match (failed, mine.first()) {
                    (Some(code), Some((r, _))) => out.push(entry_for(r, &Err(*code))),
                    (None, Some((r, res))) => out.push(entry_for(r, res)),
                    _ => out.push(json!({ "response": { "status": "500 Internal Server Error" } })),
                }
            }
        }
    }
    fhir_json(
        StatusCode::OK,
        &json!({ "resourceType": "Bundle", "type": "batch-response", "entry": out }),
    )
}
