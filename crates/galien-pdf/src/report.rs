//! The teleconsultation report (compte rendu).

use crate::blocks::{self, section};
use crate::compose::Composer;
use crate::i18n::words;
use crate::text::normalize_line;
use crate::{PdfError, Report, fonts};

/// Lays the report out and serialises it.
pub(crate) fn render(r: &Report) -> Result<Vec<u8>, PdfError> {
    let w = words(r.lang);
    let patient = normalize_line(&r.patient.name);
    let mut c = Composer::new(
        fonts::regular()?,
        fonts::bold()?,
        crate::running_header(w.report_title, &patient, w.continued),
    );

    blocks::letterhead(&mut c, r.lang, &r.organisation, &r.author);
    blocks::date_line(&mut c, r.lang, &r.organisation, r.act_at.date());
    blocks::patient_panel(&mut c, r.lang, &r.patient, r.act_at.date());
    blocks::title(&mut c, r.lang, w.report_title, r.act_at);
    section(&mut c, w.reason, &r.reason);
    section(&mut c, w.observations, &r.body);
    if let Some(conclusion) = &r.conclusion {
        section(&mut c, w.conclusion, conclusion);
    }
    blocks::signature(&mut c, r.lang, &r.author.name, r.act_at);

    let composed = c.finish(&crate::footer_reference(r.lang, &r.document_id));
    crate::serialize(
        composed,
        &crate::Meta {
            title: crate::metadata_title(w.report_title, &patient),
            author: normalize_line(&r.author.name),
            subject: w.report_title,
            document_id: &r.document_id,
            at: r.act_at,
        },
    )
}
