//! The patient's own teleconsultations and documents (ACT-1): `GET /me/appointments` (upcoming
//! first, then the past ones), `GET /me/documents` and `GET /me/documents/{doc}`; a professional's
//! download of a record's document (`GET /patients/{id}/documents/{doc}`, the gate decides); and
//! the documents sent to a referring médecin (`GET /documents/received`).
//!
//! Downloads carry their media type, `Content-Disposition: attachment` with the cleaned name
//! (RFC 5987 `filename*`), `Cache-Control: no-store` and `X-Content-Type-Options: nosniff`.

use super::detail::{DocRow, doc_row};
use super::{StatusBadge, badge, document_id, failed, when};
use crate::WebState;
use crate::auth::{Ctx, Strong};
use crate::errors::PageError;
use crate::pages::my_record::require_patient;
use crate::pages::patients::{patient_id, refused, require};
use crate::pages::{Frame, frame, render};
use crate::texts::T;
use askama::Template;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use galien_app::identity::session::Current;
use galien_app::patients::{access_log, records};
use galien_app::teleconsultation::{appointments, documents};
use galien_app::{AppError, RequestContext};
use galien_core::ErrorCode;
use galien_core::ids::{DocumentId, PatientId};
use galien_store::Appointment;
use time::{Duration, OffsetDateTime};

/// One of the patient's appointments.
#[derive(Debug)]
struct MineRow {
    href: String,
    when: String,
    practitioner: String,
    status: StatusBadge,
    /// Consent still to give (before the call).
    needs_consent: bool,
    /// The waiting room is open to the patient.
    join_href: Option<String>,
}

#[derive(Template)]
#[template(path = "appointments_mine.html")]
struct MinePage {
    frame: Frame,
    linked: bool,
    upcoming: Vec<MineRow>,
    past: Vec<MineRow>,
}

/// Whether an appointment is still to come: not final, and not ended more than an hour ago.
fn upcoming(a: &Appointment, now: OffsetDateTime) -> bool {
    !a.status.is_final()
        && a.scheduled_at + Duration::minutes(i64::from(a.duration_minutes)) + Duration::hours(1)
            > now
}

fn mine_row(a: &Appointment, lang: galien_core::Lang) -> MineRow {
    let open = !a.status.is_final();
    MineRow {
        href: format!("/appointments/{}", a.id),
        when: when(a.scheduled_at, lang),
        practitioner: a.practitioner_name.clone(),
        status: badge(a.status, lang),
        needs_consent: open && a.consent.is_none(),
        join_href: (open && a.consent.is_some()).then(|| format!("/consultations/{}/call", a.id)),
    }
}

/// The patient's own record, or `None` when the account is not linked to one yet.
async fn own(
    state: &WebState,
    current: &Current,
    lang: galien_core::Lang,
) -> Result<Option<PatientId>, PageError> {
    require_patient(current, lang)?;
    access_log::own_record(&state.app, &current.actor())
        .await
        .map_err(|e| failed(&e, lang))
}

/// `GET /me/appointments`: upcoming first (soonest first), then the past ones (latest first).
pub async fn my_appointments(
    State(state): State<WebState>,
    Strong(current): Strong,
    Ctx(ctx): Ctx,
) -> Result<Response, PageError> {
    let lang = ctx.lang;
    let linked = own(&state, &current, lang).await?.is_some();
    let list = appointments::mine(&state.app, &current.actor())
        .await
        .map_err(|e| failed(&e, lang))?;
    let now = state.app.clock.now();
    let (mut soon, mut past): (Vec<&Appointment>, Vec<&Appointment>) =
        list.iter().partition(|a| upcoming(a, now));
    soon.sort_by_key(|a| a.scheduled_at);
    past.sort_by_key(|a| std::cmp::Reverse(a.scheduled_at));
    let p = MinePage {
        frame: frame(lang, "/me/appointments", Some(&current)),
        linked,
        upcoming: soon.iter().map(|a| mine_row(a, lang)).collect(),
        past: past.iter().map(|a| mine_row(a, lang)).collect(),
    };
    Ok(render(StatusCode::OK, &p))
}

#[derive(Template)]
#[template(path = "documents_mine.html")]
struct DocumentsPage {
    frame: Frame,
    linked: bool,
    rows: Vec<DocRow>,
}

/// `GET /me/documents`: the patient's documents, newest first.
pub async fn my_documents(
    State(state): State<WebState>,
    Strong(current): Strong,
    Ctx(ctx): Ctx,
) -> Result<Response, PageError> {
    let lang = ctx.lang;
    let own = own(&state, &current, lang).await?;
    let rows = match own {
        None => Vec::new(),
        Some(patient) => {
            let mut lines = documents::of_patient(&state.app, &current.actor(), &ctx, patient)
                .await
                .map_err(|e| failed(&e, lang))?;
            lines.sort_by_key(|d| std::cmp::Reverse(d.created_at));
            lines
                .iter()
                .map(|d| doc_row(d, patient, true, lang))
                .collect()
        }
    };
    let p = DocumentsPage {
        frame: frame(lang, "/me/documents", Some(&current)),
        linked: own.is_some(),
        rows,
    };
    Ok(render(StatusCode::OK, &p))
}

/// A document as a download: its type, an attachment named after it (an ASCII fallback and the
/// RFC 5987 UTF-8 name), never cached nor sniffed.
pub(crate) fn file_response(file: documents::DocumentFile) -> Response {
    let name = galien_core::consultation::clean_file_name(&file.name);
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || ".-_ ".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    let encoded: String = form_urlencoded::byte_serialize(name.as_bytes())
        .collect::<String>()
        .replace('+', "%20");
    let disposition = format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}");
    let mut r = (StatusCode::OK, file.bytes).into_response();
    let h = r.headers_mut();
    let media_type = HeaderValue::from_str(&file.media_type)
        .unwrap_or(HeaderValue::from_static("application/octet-stream"));
    h.insert(header::CONTENT_TYPE, media_type);
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    r
}

async fn fetch(
    state: &WebState,
    current: &Current,
    ctx: &RequestContext,
    patient: PatientId,
    doc: DocumentId,
) -> Result<Response, PageError> {
    match documents::download(&state.app, &current.actor(), ctx, patient, doc).await {
        Ok(file) => Ok(file_response(file)),
        Err(e) => Err(failed(&e, ctx.lang)),
    }
}

/// `GET /me/documents/{doc}`: one of the patient's own documents.
pub async fn my_download(
    State(state): State<WebState>,
    Strong(current): Strong,
    Ctx(ctx): Ctx,
    Path(doc): Path<String>,
) -> Result<Response, PageError> {
    let lang = ctx.lang;
    let doc = document_id(&doc, lang)?;
    let patient = own(&state, &current, lang)
        .await?
        .ok_or_else(|| refused(ErrorCode::NotFound, lang))?;
    fetch(&state, &current, &ctx, patient, doc).await
}

/// `GET /patients/{id}/documents/{doc}`: a document of a record, for whom the gate allows to read
/// it (the care team, the professionals of the act, a recipient, the patient).
pub async fn download(
    State(state): State<WebState>,
    Strong(current): Strong,
    Ctx(ctx): Ctx,
    Path((id, doc)): Path<(String, String)>,
) -> Result<Response, PageError> {
    let lang = ctx.lang;
    let patient = patient_id(&id, lang)?;
    let doc = document_id(&doc, lang)?;
    fetch(&state, &current, &ctx, patient, doc).await
}

/// A document received.
#[derive(Debug)]
struct ReceivedRow {
    patient: String,
    patient_href: String,
    doc: DocRow,
}

#[derive(Template)]
#[template(path = "documents_received.html")]
struct ReceivedPage {
    frame: Frame,
    rows: Vec<ReceivedRow>,
}

/// `GET /documents/received`: reports and prescriptions sent to the signed-in médecin, newest
/// first, with the patient's name (read under the gate, once per patient).
pub async fn received(
    State(state): State<WebState>,
    Strong(current): Strong,
    Ctx(ctx): Ctx,
) -> Result<Response, PageError> {
    let lang = ctx.lang;
    let t = T { lang };
    require(current.user.role.is_health_professional(), lang)?;
    let actor = current.actor();
    let list = documents::received(&state.app, &actor, &ctx)
        .await
        .map_err(|e| failed(&e, lang))?;
    let mut names: Vec<(PatientId, String)> = Vec::new();
    let mut rows = Vec::with_capacity(list.len());
    for (patient, line) in &list {
        let name = match names.iter().find(|(p, _)| p == patient) {
            Some((_, n)) => n.clone(),
            None => {
                let n = match records::identity(&state.app, &actor, &ctx, *patient).await {
                    Ok((v, _)) => v.identity.display_name(),
                    Err(AppError::Refused(_)) => t.s("apt.patient.unknown").to_owned(),
                    Err(e) => return Err(failed(&e, lang)),
                };
                names.push((*patient, n.clone()));
                n
            }
        };
        rows.push(ReceivedRow {
            patient: name,
            patient_href: format!("/patients/{patient}"),
            doc: doc_row(line, *patient, false, lang),
        });
    }
    let p = ReceivedPage {
        frame: frame(lang, "/documents/received", Some(&current)),
        rows,
    };
    Ok(render(StatusCode::OK, &p))
}

#[cfg(test)]
mod tests {
    use super::*;
    use galien_core::consultation::AppointmentStatus;
    use galien_core::ids::{AppointmentId, UserId};
    use time::macros::datetime;
    use uuid::Uuid;

    fn appt(status: AppointmentStatus, at: OffsetDateTime) -> Appointment {
        Appointment {
            id: AppointmentId::from_uuid(Uuid::from_u128(1)),
            patient: PatientId::from_uuid(Uuid::from_u128(2)),
            practitioner: UserId::from_uuid(Uuid::from_u128(3)),
            practitioner_name: "Dr Martin".into(),
            scheduled_at: at,
            duration_minutes: 20,
            status,
            referring: None,
            consent: None,
            started_at: None,
            ended_at: None,
        }
    }

    #[test]
    fn act1_an_appointment_is_upcoming_until_an_hour_after_its_end() {
        let now = datetime!(2026-11-28 10:00 UTC);
        let s = AppointmentStatus::Scheduled;
        assert!(upcoming(&appt(s, datetime!(2026-11-28 09:00 UTC)), now));
        assert!(!upcoming(&appt(s, datetime!(2026-11-28 08:30 UTC)), now));
        let done = AppointmentStatus::Completed;
        assert!(!upcoming(&appt(done, datetime!(2026-11-29 09:00 UTC)), now));
        let r = mine_row(
            &appt(s, datetime!(2026-11-29 09:00 UTC)),
            galien_core::Lang::Fr,
        );
        assert!(r.needs_consent && r.join_href.is_none());
    }

    #[test]
    fn act1_a_download_is_an_attachment_never_cached_nor_sniffed() {
        let r = file_response(documents::DocumentFile {
            name: "Compte rendu \"2026\".pdf".into(),
            media_type: "application/pdf".into(),
            bytes: b"%PDF-1.7".to_vec(),
        });
        let h = r.headers();
        assert_eq!(h[header::CONTENT_TYPE], "application/pdf");
        assert_eq!(
            h[header::CONTENT_DISPOSITION],
            "attachment; filename=\"Compte rendu 2026.pdf\"; filename*=UTF-8''Compte%20rendu%202026.pdf"
        );
        assert_eq!(h[header::CACHE_CONTROL], "no-store");
        assert_eq!(h[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    }
}
