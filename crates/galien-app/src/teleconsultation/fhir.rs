//! The FHIR R4 mapping of teleconsultation (ACT-1): an appointment is an `Appointment`, the call
//! held at it an `Encounter` of class `VR` (virtual), each document a `DocumentReference` whose
//! attachment is fetched through the gate. Pure functions: callers read under their permits.

use galien_core::consultation::{AppointmentStatus, DocumentKind};
use galien_store::Appointment;
use serde_json::{Value, json};
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

use super::documents::DocumentLine;

fn instant(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_default()
}

/// FHIR `Appointment.status` of a status.
pub fn appointment_status(s: AppointmentStatus) -> &'static str {
    match s {
        AppointmentStatus::Scheduled => "booked",
        AppointmentStatus::Waiting => "arrived",
        AppointmentStatus::InProgress => "checked-in",
        AppointmentStatus::Completed => "fulfilled",
        AppointmentStatus::Cancelled => "cancelled",
        AppointmentStatus::NoShow => "noshow",
    }
}

/// FHIR `Encounter.status` of a status.
pub fn encounter_status(s: AppointmentStatus) -> &'static str {
    match s {
        AppointmentStatus::Scheduled => "planned",
        AppointmentStatus::Waiting => "arrived",
        AppointmentStatus::InProgress => "in-progress",
        AppointmentStatus::Completed => "finished",
        AppointmentStatus::Cancelled | AppointmentStatus::NoShow => "cancelled",
    }
}

/// The appointment as a FHIR `Appointment` (the reason only when given: it is clinical content).
pub fn appointment(a: &Appointment, reason: Option<&str>) -> Value {
    let end = a.scheduled_at + Duration::minutes(i64::from(a.duration_minutes));
    let mut r = json!({
        "resourceType": "Appointment",
        "id": a.id.to_string(),
        "status": appointment_status(a.status),
        "serviceType": [{
            "coding": [{
                "system": "http://snomed.info/sct",
                "code": "448337001",
                "display": "Telemedicine consultation with patient"
            }],
            "text": "Téléconsultation"
        }],
        "start": instant(a.scheduled_at),
        "end": instant(end),
        "minutesDuration": a.duration_minutes,
        "participant": [
            {
                "actor": { "reference": format!("Patient/{}", a.patient), "type": "Patient" },
                "status": "accepted"
            },
            {
                "actor": {
                    "reference": format!("Practitioner/{}", a.practitioner),
                    "type": "Practitioner",
                    "display": a.practitioner_name
                },
                "status": "accepted"
            }
        ]
    });
    if let (Some(reason), Some(obj)) = (reason, r.as_object_mut()) {
        obj.insert("description".into(), json!(reason));
    }
    r
}

/// The call as a FHIR `Encounter` of class `VR` (virtual).
pub fn encounter(a: &Appointment) -> Value {
    let mut period = serde_json::Map::new();
    if let Some(s) = a.started_at {
        period.insert("start".into(), json!(instant(s)));
    }
    if let Some(e) = a.ended_at {
        period.insert("end".into(), json!(instant(e)));
    }
    let mut r = json!({
        "resourceType": "Encounter",
        "id": a.id.to_string(),
        "status": encounter_status(a.status),
        "class": {
            "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
            "code": "VR",
            "display": "virtual"
        },
        "subject": { "reference": format!("Patient/{}", a.patient) },
        "participant": [{
            "individual": {
                "reference": format!("Practitioner/{}", a.practitioner),
                "display": a.practitioner_name
            }
        }],
        "appointment": [{ "reference": format!("Appointment/{}", a.id) }]
    });
    if !period.is_empty()
        && let Some(obj) = r.as_object_mut()
    {
        obj.insert("period".into(), Value::Object(period));
    }
    r
}

/// A document as a FHIR `DocumentReference` (LOINC type; the attachment's URL goes through the
/// gate like the page's download link).
pub fn document_reference(
    patient: galien_core::ids::PatientId,
    d: &DocumentLine,
    url: &str,
) -> Value {
    let (code, display) = match d.kind {
        DocumentKind::Report => ("11488-4", "Consult note"),
        DocumentKind::Prescription => ("57833-6", "Prescription for medication"),
        DocumentKind::Shared => ("51855-5", "Patient Note"),
    };
    let mut r = json!({
        "resourceType": "DocumentReference",
        "id": d.id.to_string(),
        "status": "current",
        "type": { "coding": [{ "system": "http://loinc.org", "code": code, "display": display }] },
        "subject": { "reference": format!("Patient/{patient}") },
        "date": instant(d.created_at),
        "content": [{
            "attachment": {
                "contentType": d.media_type,
                "url": url,
                "size": d.size_bytes,
                "title": d.name,
                "creation": instant(d.created_at)
            }
        }]
    });
    if let (Some(a), Some(obj)) = (d.appointment, r.as_object_mut()) {
        obj.insert(
            "context".into(),
            json!({ "encounter": [{ "reference": format!("Encounter/{a}") }] }),
        );
    }
    r
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;
    use galien_core::ids::{AppointmentId, DocumentId, PatientId, UserId};
    use time::macros::datetime;
    use uuid::Uuid;

    fn appt(status: AppointmentStatus) -> Appointment {
        Appointment {
            id: AppointmentId::from_uuid(Uuid::from_u128(1)),
            patient: PatientId::from_uuid(Uuid::from_u128(2)),
            practitioner: UserId::from_uuid(Uuid::from_u128(3)),
            practitioner_name: "Dr Martin".into(),
            scheduled_at: datetime!(2026-11-28 09:00 UTC),
            duration_minutes: 20,
            status,
            referring: None,
            consent: None,
            started_at: Some(datetime!(2026-11-28 09:02 UTC)),
            ended_at: Some(datetime!(2026-11-28 09:20 UTC)),
        }
    }

    #[test]
    fn act1_encounter_is_virtual_and_statuses_map() {
        let e = encounter(&appt(AppointmentStatus::Completed));
        assert_eq!(e["class"]["code"], "VR");
        assert_eq!(e["status"], "finished");
        assert_eq!(e["period"]["end"], "2026-11-28T09:20:00Z");
        let a = appointment(&appt(AppointmentStatus::NoShow), None);
        assert_eq!(a["status"], "noshow");
        assert_eq!(a["end"], "2026-11-28T09:20:00Z");
        assert!(a.get("description").is_none(), "no reason unless read");
        let d = document_reference(
            PatientId::from_uuid(Uuid::from_u128(2)),
            &DocumentLine {
                id: DocumentId::from_uuid(Uuid::from_u128(4)),
                appointment: Some(AppointmentId::from_uuid(Uuid::from_u128(1))),
                kind: DocumentKind::Prescription,
                name: "Ordonnance.pdf".into(),
                media_type: "application/pdf".into(),
                size_bytes: 1234,
                author: None,
                created_at: datetime!(2026-11-28 09:20 UTC),
            },
            "https://galien.example/x",
        );
        assert_eq!(d["type"]["coding"][0]["code"], "57833-6");
        assert_eq!(
            d["context"]["encounter"][0]["reference"],
            "Encounter/00000000-0000-0000-0000-000000000001"
        );
    }
}
