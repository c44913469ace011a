//! The "Rendez-vous et documents" section of a record's summary (ACT-1): the patient's
//! teleconsultations (time, médecin, status, a link to each) and, for those who book, the link that
//! books one for this patient. It shows to whoever sees the summary: an appointment's metadata is
//! read under the identity read the summary already made, and nothing more is traced.

use super::{StatusBadge, badge, books, when};
use galien_app::identity::session::Current;
use galien_app::patients::clinical::Summary;
use galien_core::Lang;
use galien_core::ids::PatientId;

/// Most appointments listed (the newest).
pub(crate) const LIMIT: usize = 10;

/// One appointment as listed.
#[derive(Debug, Clone)]
pub(crate) struct Line {
    pub(crate) href: String,
    pub(crate) when: String,
    pub(crate) practitioner: String,
    pub(crate) status: StatusBadge,
}

/// The section as shown.
#[derive(Debug, Clone)]
pub(crate) struct Section {
    pub(crate) lines: Vec<Line>,
    /// Older ones are not listed.
    pub(crate) more: bool,
    /// The booking link, for those who book.
    pub(crate) book_href: Option<String>,
}

/// The section of a summary: its appointments.
pub(crate) fn section(
    current: &Current,
    lang: Lang,
    patient: PatientId,
    summary: &Summary,
) -> Section {
    let list = &summary.appointments;
    let lines = list
        .iter()
        .take(LIMIT)
        .map(|a| Line {
            href: format!("/appointments/{}", a.id),
            when: when(a.scheduled_at, lang),
            practitioner: a.practitioner_name.clone(),
            status: badge(a.status, lang),
        })
        .collect();
    Section {
        lines,
        more: list.len() > LIMIT,
        book_href: books(current.user.role).then(|| format!("/appointments/new?patient={patient}")),
    }
}
