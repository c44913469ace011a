//! The audit trail as FHIR R4 `AuditEvent` resources, following the IHE Basic Audit Log Patterns
//! (BALP): DICOM event types, the acting user as the requestor agent, Galien as the observer, the
//! patient as a `Patient` entity (role 1) and the resource acted upon as a domain resource entity
//! (role 4). The chain position and hash (TRACE-2) travel in an extra entity's `detail`, so a
//! receiver can check a record against `galien audit verify`. Written by hand with `serde_json`:
//! the shape is small and a FHIR crate would bring far more than it gives.

use galien_core::audit::{AuditAction, AuditEvent, Outcome};
use galien_store::StoredAuditEvent;
use serde_json::{Map, Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// DICOM controlled terminology (event types and agent roles).
pub const DCM: &str = "http://dicom.nema.org/resources/ontology/DCM";
/// FHIR `audit-entity-type`.
const ENTITY_TYPE: &str = "http://terminology.hl7.org/CodeSystem/audit-entity-type";
/// FHIR `object-role`.
const OBJECT_ROLE: &str = "http://terminology.hl7.org/CodeSystem/object-role";
/// Galien's own action codes (the dotted names of `AuditAction`).
pub const ACTION_SYSTEM: &str = "urn:galien:audit-action";
/// Identifier system of Galien accounts.
pub const USER_SYSTEM: &str = "urn:galien:user";
/// Identifier system of Galien machine clients.
pub const CLIENT_SYSTEM: &str = "urn:galien:client";
/// Identifier system of records in Galien's hash-chained audit trail.
pub const CHAIN_SYSTEM: &str = "urn:galien:audit-chain";
/// Galien roles.
const ROLE_SYSTEM: &str = "urn:galien:role";

/// The DICOM event type of an action: (code, display).
pub fn event_type(action: AuditAction) -> (&'static str, &'static str) {
    use AuditAction as A;
    match action {
        A::AuthLoginSucceeded
        | A::AuthLoginFailed
        | A::AuthLogout
        | A::AuthSessionEnded
        | A::AuthSessionExpired
        | A::AuthTotpReplayed
        | A::AuthRecoveryCodeUsed
        | A::AuthStepUp
        | A::AuthLocked
        | A::MachineTokenIssued => ("110114", "User Authentication"),
        A::AuthFactorEnrolled
        | A::AuthFactorRemoved
        | A::AuthPasswordChanged
        | A::AuthEnrolmentCompleted
        | A::AccountInvited
        | A::AccountActivated
        | A::AccountSuspended
        | A::AccountReactivated
        | A::AccountDeactivated
        | A::MachineClientCreated
        | A::MachineClientRevoked => ("110137", "User Security Attributes Changed"),
        A::RecordRead
        | A::RecordWrite
        | A::RecordShredded
        | A::AccessDenied
        | A::AccessEmergency
        | A::ConsultationJoined
        | A::ConsultationClosed => ("110110", "Patient Record"),
        A::AccessEmergencyReviewed | A::IncidentOpened | A::IncidentUpdated => {
            ("110101", "Audit Log Used")
        }
        A::RecordExport => ("110106", "Export"),
        A::RecordPrint => ("110106", "Export"),
        A::AuditExported | A::AuditPurged => ("110101", "Audit Log Used"),
        A::BackupCreated => ("110106", "Export"),
        A::BackupRestored => ("110107", "Import"),
    }
}

/// The DICOM subtype, where one is more precise than Galien's own code.
fn dicom_subtype(action: AuditAction) -> Option<(&'static str, &'static str)> {
    match action {
        AuditAction::AuthLoginSucceeded | AuditAction::AuthLoginFailed => Some(("110122", "Login")),
        AuditAction::AuthLogout | AuditAction::AuthSessionEnded => Some(("110123", "Logout")),
        _ => None,
    }
}

/// The FHIR action code: C(reate), R(ead), U(pdate), D(elete), E(xecute).
pub fn action_code(action: AuditAction) -> &'static str {
    use AuditAction as A;
    match action {
        A::AccountInvited
        | A::MachineClientCreated
        | A::MachineTokenIssued
        | A::IncidentOpened
        | A::BackupRestored => "C",
        A::RecordRead
        | A::RecordExport
        | A::RecordPrint
        | A::AuditExported
        | A::BackupCreated
        | A::ConsultationJoined => "R",
        A::RecordWrite
        | A::AuthFactorEnrolled
        | A::AuthFactorRemoved
        | A::AuthPasswordChanged
        | A::AuthEnrolmentCompleted
        | A::AccountActivated
        | A::AccountSuspended
        | A::AccountReactivated
        | A::AccountDeactivated
        | A::ConsultationClosed => "U",
        A::MachineClientRevoked | A::AuditPurged | A::RecordShredded => "D",
        A::AuthLoginSucceeded
        | A::AuthLoginFailed
        | A::AuthLogout
        | A::AuthSessionEnded
        | A::AuthSessionExpired
        | A::AuthTotpReplayed
        | A::AuthRecoveryCodeUsed
        | A::AuthStepUp
        | A::AuthLocked
        | A::AccessDenied
        | A::AccessEmergency
        | A::AccessEmergencyReviewed
        | A::IncidentUpdated => "E",
    }
}

/// The FHIR outcome: `0` success; `4` minor failure (a refusal, or bad credentials: nothing was
/// done and the person may try again); `8` serious failure (anything else that failed).
pub fn outcome_code(event: &AuditEvent) -> &'static str {
    match event.outcome {
        Outcome::Success => "0",
        Outcome::Denied => "4",
        Outcome::Failure if event.action.as_str().starts_with("auth.") => "4",
        Outcome::Failure => "8",
    }
}

fn coding(system: &str, code: &str, display: &str) -> Value {
    json!({ "system": system, "code": code, "display": display })
}

fn instant(at: OffsetDateTime) -> String {
    at.to_offset(time::UtcOffset::UTC)
        .format(&Rfc3339)
        .unwrap_or_else(|_| "1970-01-01T00:00:00Z".to_owned())
}

fn detail(kind: &str, value: &str) -> Value {
    json!({ "type": kind, "valueString": value })
}

/// One record as a FHIR R4 `AuditEvent`.
pub fn to_fhir_audit_event(stored: &StoredAuditEvent) -> Value {
    let e = &stored.event;
    let (type_code, type_display) = event_type(e.action);
    let mut subtype = Vec::new();
    if let Some((code, display)) = dicom_subtype(e.action) {
        subtype.push(coding(DCM, code, display));
    }
    subtype.push(coding(ACTION_SYSTEM, e.action.as_str(), e.action.as_str()));

    let mut out = Map::new();
    out.insert("resourceType".into(), json!("AuditEvent"));
    out.insert("id".into(), json!(e.id.to_string()));
    out.insert("type".into(), coding(DCM, type_code, type_display));
    out.insert("subtype".into(), Value::Array(subtype));
    out.insert("action".into(), json!(action_code(e.action)));
    out.insert("recorded".into(), json!(instant(e.at)));
    out.insert("outcome".into(), json!(outcome_code(e)));
    if let Some(reason) = &e.reason {
        out.insert("outcomeDesc".into(), json!(reason));
    }
    let mut purpose = Vec::new();
    if e.emergency {
        purpose.push(json!({
            "coding": [coding(
                "http://terminology.hl7.org/CodeSystem/v3-ActReason",
                "ETREAT",
                "Emergency Treatment"
            )]
        }));
    }
    if let Some(p) = &e.purpose {
        purpose.push(json!({ "text": p }));
    }
    if !purpose.is_empty() {
        out.insert("purposeOfEvent".into(), Value::Array(purpose));
    }
    out.insert("agent".into(), Value::Array(agents(e)));
    out.insert(
        "source".into(),
        json!({
            "site": "Galien",
            "observer": { "display": "Galien" },
            "type": [coding(
                "http://terminology.hl7.org/CodeSystem/security-source-type",
                "4",
                "Application Server"
            )]
        }),
    );
    out.insert("entity".into(), Value::Array(entities(stored)));
    Value::Object(out)
}

/// The requestor (a person or a machine client, or nobody known) and Galien as the server.
fn agents(e: &AuditEvent) -> Vec<Value> {
    let mut who = Map::new();
    let mut requestor = Map::new();
    if let Some(user) = e.actor.user {
        who.insert(
            "identifier".into(),
            json!({ "system": USER_SYSTEM, "value": user.to_string() }),
        );
        requestor.insert(
            "type".into(),
            json!({ "coding": [coding(
                "http://terminology.hl7.org/CodeSystem/extra-security-role-type",
                "humanuser",
                "human user"
            )] }),
        );
    } else if let Some(client) = &e.actor.client {
        who.insert(
            "identifier".into(),
            json!({ "system": CLIENT_SYSTEM, "value": client }),
        );
        requestor.insert(
            "type".into(),
            json!({ "coding": [coding(DCM, "110150", "Application")] }),
        );
    } else {
        who.insert("display".into(), json!("unidentified"));
    }
    requestor.insert("who".into(), Value::Object(who));
    if let Some(role) = e.actor.role {
        requestor.insert(
            "role".into(),
            json!([{ "coding": [coding(ROLE_SYSTEM, role.as_str(), role.label_en())] }]),
        );
    }
    requestor.insert("requestor".into(), json!(true));
    if let Some(ip) = &e.source.ip {
        // Network access point type 2: an IP address.
        requestor.insert("network".into(), json!({ "address": ip, "type": "2" }));
    }
    let server = json!({
        "type": { "coding": [coding(DCM, "110152", "Destination Role ID")] },
        "who": { "display": "Galien" },
        "requestor": false
    });
    vec![Value::Object(requestor), server]
}

/// The patient, the resource acted upon, and the record's place in the chain.
fn entities(stored: &StoredAuditEvent) -> Vec<Value> {
    let e = &stored.event;
    let mut out = Vec::new();
    if let Some(patient) = e.patient {
        out.push(json!({
            "what": { "reference": format!("Patient/{patient}") },
            "type": coding(ENTITY_TYPE, "1", "Person"),
            "role": coding(OBJECT_ROLE, "1", "Patient")
        }));
    }
    if let Some(r) = &e.resource {
        let role = if r.kind == "user" {
            coding(OBJECT_ROLE, "11", "Security User Entity")
        } else {
            coding(OBJECT_ROLE, "4", "Domain Resource")
        };
        out.push(json!({
            "what": { "identifier": { "system": format!("urn:galien:{}", r.kind), "value": r.id } },
            "type": coding(ENTITY_TYPE, "2", "System Object"),
            "role": role
        }));
    }
    let mut details = vec![
        detail("seq", &stored.seq.to_string()),
        detail("hash", &hex::encode(stored.hash)),
        detail("event-id", &e.id.to_string()),
    ];
    if let Some(rid) = e.source.request_id {
        details.push(detail("request-id", &rid.to_string()));
    }
    if let Some(ua) = &e.source.user_agent {
        details.push(detail("user-agent", ua));
    }
    if let Some(a) = e.actor.assurance {
        details.push(detail("assurance", &a.level().to_string()));
    }
    out.push(json!({
        "what": { "identifier": { "system": CHAIN_SYSTEM, "value": stored.seq.to_string() } },
        "type": coding(ENTITY_TYPE, "4", "Other"),
        "description": "Galien audit chain record",
        "detail": details
    }));
    out
}

/// Records as a FHIR `Bundle` of type `searchset`; `next` is the URL of the following page, if any.
pub fn to_fhir_bundle(
    events: &[StoredAuditEvent],
    at: OffsetDateTime,
    next: Option<&str>,
) -> Value {
    let entries: Vec<Value> = events
        .iter()
        .map(|s| {
            json!({
                "fullUrl": format!("urn:uuid:{}", s.event.id),
                "resource": to_fhir_audit_event(s),
                "search": { "mode": "match" }
            })
        })
        .collect();
    let mut bundle = json!({
        "resourceType": "Bundle",
        "type": "searchset",
        "timestamp": instant(at),
        "total": entries.len(),
        "entry": entries
    });
    if let (Some(next), Some(obj)) = (next, bundle.as_object_mut()) {
        obj.insert("link".into(), json!([{ "relation": "next", "url": next }]));
    }
    bundle
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_action_has_a_type_and_an_action_code() {
        for a in AuditAction::ALL {
            let (code, _) = event_type(*a);
            assert!(code.starts_with("110"));
            assert!(["C", "R", "U", "D", "E"].contains(&action_code(*a)));
        }
    }
}
