//! FHIR R4 Observations in and out (ACT-3): parsing what devices send — one `Observation`, or a
//! `Bundle` of type `batch` or `transaction` — into checked [`Reading`]s, and rendering stored
//! measurements, `OperationOutcome`s and batch/transaction responses. Codes are LOINC, units UCUM;
//! a blood-pressure panel (85354-9) carries its systolic and diastolic values as components.

use galien_core::ErrorCode;
use galien_core::ids::PatientId;
use galien_core::measure::{Measure, MeasureError};
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::ingest::Reading;

/// LOINC's system URI.
pub const LOINC: &str = "http://loinc.org";
/// UCUM's system URI.
pub const UCUM: &str = "http://unitsofmeasure.org";
/// The blood-pressure panel.
pub const BP_PANEL: &str = "85354-9";
/// The most entries a Bundle may hold.
pub const MAX_ENTRIES: usize = 1000;

/// Why an entry (or the whole request) is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The stable code.
    pub code: ErrorCode,
    /// What exactly, for the sender (no health data: paths and codes).
    pub diagnostics: String,
}

fn refuse(code: ErrorCode, diagnostics: impl Into<String>) -> Refusal {
    Refusal {
        code,
        diagnostics: diagnostics.into(),
    }
}

/// What was posted.
#[derive(Debug, Clone, PartialEq)]
pub enum Submission {
    /// One Observation.
    One(Result<Vec<Reading>, Refusal>),
    /// A batch: each entry stands alone.
    Batch(Vec<Result<Vec<Reading>, Refusal>>),
    /// A transaction: all entries or none.
    Transaction(Vec<Result<Vec<Reading>, Refusal>>),
}

fn invalid(d: impl Into<String>) -> Refusal {
    refuse(ErrorCode::ObservationInvalid, d)
}

fn measure_error(e: MeasureError) -> Refusal {
    let code = match e {
        MeasureError::UnknownCode(_) => ErrorCode::ObservationCodeUnknown,
        MeasureError::Unit { .. } => ErrorCode::ObservationUnitInvalid,
        MeasureError::NotANumber => ErrorCode::ObservationInvalid,
        MeasureError::Implausible { .. } => ErrorCode::ObservationImplausible,
    };
    refuse(code, e.to_string())
}

fn loinc_code(code: &Value, at: &str) -> Result<String, Refusal> {
    let codings = code
        .get("coding")
        .and_then(Value::as_array)
        .ok_or_else(|| invalid(format!("{at}.coding is required")))?;
    codings
        .iter()
        .find(|c| c.get("system").and_then(Value::as_str) == Some(LOINC))
        .and_then(|c| c.get("code").and_then(Value::as_str))
        .map(str::to_owned)
        .ok_or_else(|| invalid(format!("{at}.coding needs a LOINC code ({LOINC})")))
}

fn quantity(q: Option<&Value>, measure: Measure, at: &str) -> Result<f64, Refusal> {
    let q = q.ok_or_else(|| invalid(format!("{at}.valueQuantity is required")))?;
    let value = q
        .get("value")
        .and_then(Value::as_f64)
        .ok_or_else(|| invalid(format!("{at}.valueQuantity.value must be a number")))?;
    if q.get("system").and_then(Value::as_str) != Some(UCUM) {
        return Err(refuse(
            ErrorCode::ObservationUnitInvalid,
            format!("{at}.valueQuantity.system must be {UCUM}"),
        ));
    }
    let unit = q.get("code").and_then(Value::as_str).ok_or_else(|| {
        refuse(
            ErrorCode::ObservationUnitInvalid,
            format!("{at}.valueQuantity.code (UCUM) is required"),
        )
    })?;
    measure.normalise(value, unit).map_err(measure_error)
}

fn patient_of(obs: &Value) -> Result<PatientId, Refusal> {
    obs.get("subject")
        .and_then(|s| s.get("reference"))
        .and_then(Value::as_str)
        .and_then(|r| r.strip_prefix("Patient/"))
        .and_then(|id| id.parse().ok())
        .ok_or_else(|| invalid("subject.reference must be Patient/<id>"))
}

fn time_of(obs: &Value) -> Result<OffsetDateTime, Refusal> {
    let text = obs
        .get("effectiveDateTime")
        .or_else(|| obs.get("effectiveInstant"))
        .and_then(Value::as_str)
        .ok_or_else(|| invalid("effectiveDateTime (with a time zone) is required"))?;
    OffsetDateTime::parse(text, &Rfc3339)
        .map_err(|_| invalid("effectiveDateTime must be a full date-time with a time zone"))
}

/// Parses one Observation into its readings (two for a blood-pressure panel).
pub fn observation(obs: &Value) -> Result<Vec<Reading>, Refusal> {
    if obs.get("resourceType").and_then(Value::as_str) != Some("Observation") {
        return Err(invalid("resourceType must be Observation"));
    }
    match obs.get("status").and_then(Value::as_str) {
        Some("final" | "amended" | "corrected" | "preliminary") => {}
        _ => {
            return Err(invalid(
                "status must be final, amended, corrected or preliminary",
            ));
        }
    }
    let code = loinc_code(obs.get("code").unwrap_or(&Value::Null), "code")?;
    let patient = patient_of(obs)?;
    let effective_at = time_of(obs)?;
    if code == BP_PANEL {
        let components = obs
            .get("component")
            .and_then(Value::as_array)
            .ok_or_else(|| invalid("a blood-pressure panel needs its components"))?;
        let mut out = Vec::new();
        for (i, c) in components.iter().enumerate() {
            let at = format!("component[{i}]");
            let code = loinc_code(c.get("code").unwrap_or(&Value::Null), &format!("{at}.code"))?;
            let measure = match Measure::from_loinc(&code) {
                Some(m @ (Measure::Systolic | Measure::Diastolic)) => m,
                _ => return Err(measure_error(MeasureError::UnknownCode(code))),
            };
            out.push(Reading {
                patient,
                measure,
                value: quantity(c.get("valueQuantity"), measure, &at)?,
                effective_at,
            });
        }
        if out.is_empty() {
            return Err(invalid("a blood-pressure panel needs its components"));
        }
        return Ok(out);
    }
    let measure =
        Measure::from_loinc(&code).ok_or_else(|| measure_error(MeasureError::UnknownCode(code)))?;
    Ok(vec![Reading {
        patient,
        measure,
        value: quantity(obs.get("valueQuantity"), measure, "Observation")?,
        effective_at,
    }])
}

/// Parses a posted resource. A malformed document, a Bundle of another type, or too many entries
/// refuse the whole request.
pub fn parse(body: &[u8]) -> Result<Submission, Refusal> {
    let doc: Value = serde_json::from_slice(body).map_err(|e| invalid(format!("not JSON: {e}")))?;
    match doc.get("resourceType").and_then(Value::as_str) {
        Some("Observation") => Ok(Submission::One(observation(&doc))),
        Some("Bundle") => {
            let entries = doc
                .get("entry")
                .and_then(Value::as_array)
                .ok_or_else(|| invalid("Bundle.entry is required"))?;
            if entries.len() > MAX_ENTRIES {
                return Err(invalid(format!(
                    "a Bundle holds at most {MAX_ENTRIES} entries"
                )));
            }
            let parsed: Vec<_> = entries
                .iter()
                .map(|e| match e.get("resource") {
                    Some(r) => observation(r),
                    None => Err(invalid("entry.resource is required")),
                })
                .collect();
            match doc.get("type").and_then(Value::as_str) {
                Some("batch") => Ok(Submission::Batch(parsed)),
                Some("transaction") => Ok(Submission::Transaction(parsed)),
                _ => Err(invalid("Bundle.type must be batch or transaction")),
            }
        }
        _ => Err(invalid("post an Observation or a Bundle")),
    }
}

/// The FHIR issue code of an error.
fn issue_code(code: ErrorCode) -> &'static str {
    match code {
        ErrorCode::AccessDenied => "forbidden",
        ErrorCode::AuthRequired => "login",
        ErrorCode::ObservationCodeUnknown => "not-supported",
        ErrorCode::ObservationUnitInvalid
        | ErrorCode::ObservationImplausible
        | ErrorCode::ObservationInFuture => "value",
        ErrorCode::Unavailable => "transient",
        ErrorCode::Internal => "exception",
        _ => "invalid",
    }
}

/// An OperationOutcome for refusals (`severity` error) or notes (`information`).
pub fn operation_outcome(issues: &[(&str, ErrorCode, String)]) -> Value {
    json!({
        "resourceType": "OperationOutcome",
        "issue": issues.iter().map(|(severity, code, diagnostics)| json!({
            "severity": severity,
            "code": issue_code(*code),
            "details": {
                "coding": [{ "system": "https://galien.example/error-codes", "code": code.as_str() }],
                "text": code.message(galien_core::Lang::En),
            },
            "diagnostics": diagnostics,
        })).collect::<Vec<_>>(),
    })
}

/// A stored measurement as a FHIR Observation.
pub fn render(id: &str, r: &Reading) -> Value {
    let at = r.effective_at.format(&Rfc3339).unwrap_or_default();
    json!({
        "resourceType": "Observation",
        "id": id,
        "status": "final",
        "category": [{ "coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/observation-category",
            "code": "vital-signs",
            "display": "Vital Signs",
        }]}],
        "code": { "coding": [{ "system": LOINC, "code": r.measure.loinc(), "display": r.measure.display() }] },
        "subject": { "reference": format!("Patient/{}", r.patient) },
        "effectiveDateTime": at,
        "valueQuantity": {
            "value": r.value,
            "unit": r.measure.unit_label(),
            "system": UCUM,
            "code": r.measure.unit(),
        },
    })
}

/// The HTTP status of an error code, as a batch entry reports it.
pub fn status_line(code: ErrorCode) -> &'static str {
    match code {
        ErrorCode::AccessDenied => "403 Forbidden",
        ErrorCode::Unavailable => "503 Service Unavailable",
        ErrorCode::Internal => "500 Internal Server Error",
        ErrorCode::ObservationCodeUnknown
        | ErrorCode::ObservationUnitInvalid
        | ErrorCode::ObservationImplausible
        | ErrorCode::ObservationInFuture => "422 Unprocessable Entity",
        _ => "400 Bad Request",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obs(code: &str, value: Value, unit: &str) -> Value {
        json!({
            "resourceType": "Observation",
            "status": "final",
            "code": { "coding": [{ "system": LOINC, "code": code }] },
            "subject": { "reference": "Patient/01890000-0000-7000-8000-000000000001" },
            "effectiveDateTime": "2026-11-28T08:00:00+01:00",
            "valueQuantity": { "value": value, "system": UCUM, "code": unit },
        })
    }

    #[test]
    fn observations_parse_with_units_converted() {
        let r = observation(&obs("29463-7", json!(72500), "g")).unwrap();
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].measure, Measure::Weight);
        assert!((r[0].value - 72.5).abs() < 1e-9);
        assert_eq!(r[0].effective_at.unix_timestamp(), 1_795_849_200);
    }

    #[test]
    fn bad_observations_are_refused_with_their_code() {
        let code = |v: Value| observation(&v).unwrap_err().code;
        assert_eq!(
            code(obs("1234-5", json!(1), "kg")),
            ErrorCode::ObservationCodeUnknown
        );
        assert_eq!(
            code(obs("29463-7", json!(70), "mmol/L")),
            ErrorCode::ObservationUnitInvalid
        );
        assert_eq!(
            code(obs("29463-7", json!("70"), "kg")),
            ErrorCode::ObservationInvalid
        );
        assert_eq!(
            code(obs("59408-5", json!(140), "%")),
            ErrorCode::ObservationImplausible
        );
        let mut no_tz = obs("29463-7", json!(70), "kg");
        no_tz["effectiveDateTime"] = json!("2026-11-28T08:00:00");
        assert_eq!(code(no_tz), ErrorCode::ObservationInvalid);
        let mut no_subject = obs("29463-7", json!(70), "kg");
        no_subject["subject"] = json!({ "reference": "Device/1" });
        assert_eq!(code(no_subject), ErrorCode::ObservationInvalid);
        assert!(parse(b"{").is_err());
        assert!(parse(br#"{"resourceType":"Bundle","type":"collection","entry":[]}"#).is_err());
    }
}
