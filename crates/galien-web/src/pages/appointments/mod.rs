//! Teleconsultation pages (ACT-1, ACT-6, GDPR-3) around the call itself (which lives in
//! `pages::call`): booking ([`book`]), the day's appointments of a médecin or of the secretariat
//! ([`day`]), one appointment with what each person may do there — the patient's consent, joining,
//! guests, cancelling, a no-show ([`detail`]) —, closing with a report and a prescription
//! ([`close`]), the patient's own appointments and documents and the documents sent to a referring
//! médecin ([`documents`]), the FHIR reads ([`fhir`]), and the "Rendez-vous et documents" section of
//! a record's summary ([`section`]).
//!
//! Every page asks `galien_app::teleconsultation`, whose gate decides and traces; a refusal is an
//! error page with nothing of the appointment in it. Only two-factor sessions get here ([`Strong`]).
//!
//! [`Strong`]: crate::auth::Strong

pub mod book;
pub mod close;
pub mod day;
pub mod detail;
pub mod documents;
pub mod fhir;
pub mod section;

use crate::WebState;
use crate::errors::PageError;
use crate::pages::human_time;
use crate::pages::patients::{label, page_error, refused};
use axum::Router;
use axum::routing::{get, post};
use galien_core::consultation::{AppointmentStatus, DocumentKind};
use galien_core::identity::Role;
use galien_core::ids::{AppointmentId, DocumentId, UserId};
use galien_core::{ErrorCode, Lang};
use time::OffsetDateTime;

/// The teleconsultation pages' routes.
pub fn routes() -> Router<WebState> {
    Router::new()
        .route("/appointments", get(day::show))
        .route("/appointments/new", get(book::form).post(book::submit))
        .route("/appointments/new/search", post(book::search))
        .route("/appointments/{id}", get(detail::show))
        .route("/appointments/{id}/consent", post(detail::consent))
        .route("/appointments/{id}/cancel", post(detail::cancel))
        .route("/appointments/{id}/no-show", post(detail::no_show))
        .route("/appointments/{id}/guests", post(detail::invite_guest))
        .route(
            "/appointments/{id}/close",
            get(close::form).post(close::submit),
        )
        .route("/me/appointments", get(documents::my_appointments))
        .route("/me/documents", get(documents::my_documents))
        .route("/me/documents/{doc}", get(documents::my_download))
        .route("/patients/{id}/documents/{doc}", get(documents::download))
        .route("/documents/received", get(documents::received))
        .route("/fhir/r4/Appointment/{id}", get(fhir::appointment))
        .route("/fhir/r4/Encounter/{id}", get(fhir::encounter))
        .route("/fhir/r4/DocumentReference", get(fhir::document_references))
}

/// The roles that book and see a day of appointments (the gate decides in the end).
pub(crate) fn books(role: Role) -> bool {
    matches!(role, Role::Medecin | Role::Secretaire | Role::SageFemme)
}

/// An appointment id from the path; one that does not parse is a page that does not exist.
pub(crate) fn appointment_id(raw: &str, lang: Lang) -> Result<AppointmentId, PageError> {
    raw.parse().map_err(|_| refused(ErrorCode::NotFound, lang))
}

/// A document id from the path.
pub(crate) fn document_id(raw: &str, lang: Lang) -> Result<DocumentId, PageError> {
    raw.parse().map_err(|_| refused(ErrorCode::NotFound, lang))
}

/// The error page of a use case's refusal.
pub(crate) fn failed(e: &galien_app::AppError, lang: Lang) -> PageError {
    page_error(e, lang)
}

/// A status as shown: its words (never its colour alone) and the class that colours it.
#[derive(Debug, Clone)]
pub(crate) struct StatusBadge {
    pub(crate) text: &'static str,
    pub(crate) class: String,
}

/// The badge of `s`.
pub(crate) fn badge(s: AppointmentStatus, lang: Lang) -> StatusBadge {
    StatusBadge {
        text: label(lang, s.label_fr(), s.label_en()),
        class: format!("apt-status apt-status-{}", s.as_str().replace('_', "-")),
    }
}

/// `10:40`, in the organisation's time zone (as [`human_time`]).
pub(crate) fn clock_time(at: OffsetDateTime) -> String {
    let at = crate::local_time::zone().local(at);
    format!("{:02}:{:02}", at.hour(), at.minute())
}

/// When, for people (`28/11/2026 à 10:40`, in the organisation's time zone).
pub(crate) fn when(at: OffsetDateTime, lang: Lang) -> String {
    human_time(at, lang)
}

/// A document kind's words.
pub(crate) fn kind_label(k: DocumentKind, lang: Lang) -> &'static str {
    label(lang, k.label_fr(), k.label_en())
}

/// A size for people: `840 o`, `34 Ko`, `1,2 Mo` (`840 B`, `34 KB`, `1.2 MB`).
pub(crate) fn size_text(bytes: u64, lang: Lang) -> String {
    let (b, k, m, sep) = match lang {
        Lang::Fr => ("o", "Ko", "Mo", ','),
        Lang::En => ("B", "KB", "MB", '.'),
    };
    if bytes < 1024 {
        format!("{bytes} {b}")
    } else if bytes < 1024 * 1024 {
        format!("{} {k}", bytes.div_ceil(1024))
    } else {
        let tenths = (bytes * 10).div_ceil(1024 * 1024);
        format!("{}{sep}{} {m}", tenths / 10, tenths % 10)
    }
}

/// The active médecins, by name: (id, name). Only names and ids leave the store's account rows.
pub(crate) async fn medecins(
    state: &WebState,
    lang: Lang,
) -> Result<Vec<(UserId, String)>, PageError> {
    let users = state
        .app
        .store
        .users(
            Some(galien_core::identity::AccountStatus::Active),
            Some(Role::Medecin),
            1000,
            0,
        )
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "cannot list the médecins");
            refused(ErrorCode::Unavailable, lang)
        })?;
    let mut out: Vec<(UserId, String)> =
        users.into_iter().map(|u| (u.id, u.display_name)).collect();
    out.sort_by_cached_key(|(_, name)| name.to_lowercase());
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_badges_read_well() {
        assert_eq!(size_text(840, Lang::Fr), "840 o");
        assert_eq!(size_text(34 * 1024, Lang::Fr), "34 Ko");
        assert_eq!(size_text(1_258_291, Lang::Fr), "1,2 Mo");
        assert_eq!(size_text(1_258_291, Lang::En), "1.2 MB");
        let b = badge(AppointmentStatus::NoShow, Lang::Fr);
        assert_eq!(b.text, "Patient absent");
        assert_eq!(b.class, "apt-status apt-status-no-show");
    }
}
