//! FHIR R4 reads of teleconsultation for a two-factor session (ACT-1): `GET
//! /fhir/r4/Appointment/{id}` and `GET /fhir/r4/Encounter/{id}` (the same gate as the appointment's
//! page; the reason only for those who may read it), and `GET /fhir/r4/DocumentReference?patient=`
//! (a `searchset` Bundle of the record's documents, under `record.read`). Answers are
//! `application/fhir+json`; refusals are `OperationOutcome`s with the stable code.

use crate::WebState;
use crate::auth::{Ctx, Strong};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use galien_app::AppError;
use galien_app::teleconsultation::{appointments, documents, fhir};
use galien_app::telemonitoring::fhir::operation_outcome;
use galien_core::ErrorCode;
use galien_core::ids::{AppointmentId, PatientId};
use serde::Deserialize;
use serde_json::{Value, json};

fn fhir_json(status: StatusCode, body: &Value) -> Response {
    let mut r = (status, body.to_string()).into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/fhir+json; charset=utf-8"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

fn outcome(code: ErrorCode) -> Response {
    let body = operation_outcome(&[("error", code, code.message(galien_core::Lang::En).into())]);
    fhir_json(crate::errors::status_for(code.class()), &body)
}

fn refused(e: &AppError) -> Response {
    if let AppError::Store(err) = e {
        tracing::error!(error = %err, "storage failed while serving FHIR");
    }
    outcome(e.code())
}

/// The appointment of the path, as its page's gate lets the actor see it.
async fn view(
    state: &WebState,
    current: &galien_app::identity::session::Current,
    ctx: &galien_app::RequestContext,
    raw: &str,
) -> Result<appointments::AppointmentView, Response> {
    let Ok(id) = raw.parse::<AppointmentId>() else {
        return Err(outcome(ErrorCode::NotFound));
    };
    appointments::view(&state.app, &current.actor(), ctx, id)
        .await
        .map_err(|e| refused(&e))
}

/// `GET /fhir/r4/Appointment/{id}`.
pub async fn appointment(
    State(state): State<WebState>,
    Strong(current): Strong,
    Ctx(ctx): Ctx,
    Path(id): Path<String>,
) -> Response {
    match view(&state, &current, &ctx, &id).await {
        Ok(v) => fhir_json(
            StatusCode::OK,
            &fhir::appointment(&v.appointment, v.reason.as_deref()),
        ),
        Err(r) => r,
    }
}

/// `GET /fhir/r4/Encounter/{id}`: the call held at the appointment (class `VR`).
pub async fn encounter(
    State(state): State<WebState>,
    Strong(current): Strong,
    Ctx(ctx): Ctx,
    Path(id): Path<String>,
) -> Response {
    match view(&state, &current, &ctx, &id).await {
        Ok(v) => fhir_json(StatusCode::OK, &fhir::encounter(&v.appointment)),
        Err(r) => r,
    }
}

/// The search: whose documents.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct DocumentSearch {
    patient: Option<String>,
}

/// `GET /fhir/r4/DocumentReference?patient={id}`: a `searchset` Bundle.
pub async fn document_references(
    State(state): State<WebState>,
    Strong(current): Strong,
    Ctx(ctx): Ctx,
    Query(q): Query<DocumentSearch>,
) -> Response {
    let raw = q.patient.unwrap_or_default();
    let raw = raw.trim().trim_start_matches("Patient/");
    let Ok(patient) = raw.parse::<PatientId>() else {
        return outcome(ErrorCode::FormInvalid);
    };
    let lines = match documents::of_patient(&state.app, &current.actor(), &ctx, patient).await {
        Ok(lines) => lines,
        Err(e) => return refused(&e),
    };
    let base = state
        .app
        .settings
        .public_url
        .trim_end_matches('/')
        .to_owned();
    let entries: Vec<Value> = lines
        .iter()
        .map(|d| {
            let url = format!("{base}/patients/{patient}/documents/{}", d.id);
            json!({
                "fullUrl": format!("{base}/fhir/r4/DocumentReference/{}", d.id),
                "resource": fhir::document_reference(patient, d, &url),
                "search": { "mode": "match" }
            })
        })
        .collect();
    let bundle = json!({
        "resourceType": "Bundle",
        "type": "searchset",
        "total": entries.len(),
        "link": [{
            "relation": "self",
            "url": format!("{base}/fhir/r4/DocumentReference?patient={patient}")
        }],
        "entry": entries
    });
    fhir_json(StatusCode::OK, &bundle)
}
