//! The prescription (ordonnance).

use crate::blocks::{self, BODY, section};
use crate::compose::{Align, CONTENT_W, Composer, LEFT, MUTED, Style, Weight};
use crate::i18n::{label, words};
use crate::text::normalize_line;
use crate::{PdfError, Prescription, fonts};

/// Indent of a line's text after its number.
const NUMBER_W: f32 = 22.0;

/// Lays the prescription out and serialises it.
pub(crate) fn render(p: &Prescription) -> Result<Vec<u8>, PdfError> {
    let w = words(p.lang);
    let patient = normalize_line(&p.patient.name);
    let mut c = Composer::new(
        fonts::regular()?,
        fonts::bold()?,
        crate::running_header(w.prescription_title, &patient, w.continued),
    );

    blocks::letterhead(&mut c, p.lang, &p.organisation, &p.prescriber);
    blocks::date_line(&mut c, p.lang, &p.organisation, p.issued_at.date());
    blocks::patient_panel(&mut c, p.lang, &p.patient, p.issued_at.date());
    blocks::title(&mut c, p.lang, w.prescription_title, p.issued_at);

    let med_style = Style::new(Weight::Bold, 10.5, BODY.color);
    let label_style = Style::new(Weight::Regular, 10.0, MUTED);
    let value_style = Style::new(Weight::Regular, 10.0, BODY.color);
    let x = LEFT + NUMBER_W;
    let width = CONTENT_W - NUMBER_W;
    if p.lines.is_empty() {
        let lines = c.wrap(label_style, w.no_medication, CONTENT_W);
        c.lines(&lines, label_style, LEFT, CONTENT_W, Align::Left);
        c.gap(10.0);
    }
    for (i, line) in p.lines.iter().enumerate() {
        let medication = normalize_line(&line.medication);
        let medication = if medication.is_empty() {
            "—".to_owned()
        } else {
            medication
        };
        let med_lines = c.wrap(med_style, &medication, width);
        let details: Vec<(String, String)> =
            [(w.dosage, &line.dosage), (w.duration, &line.duration)]
                .into_iter()
                .map(|(l, v)| {
                    (
                        label(p.lang, l),
                        crate::text::normalize_multiline(v).trim().to_owned(),
                    )
                })
                .filter(|(_, v)| !v.is_empty())
                .collect();
        let detail_lines: usize = details
            .iter()
            .map(|(l, v)| {
                c.wrap(
                    value_style,
                    v,
                    width - c.width(label_style, l).min(width / 2.0),
                )
                .len()
            })
            .sum();
        // Keep a line of the prescription on one page when it fits on one.
        c.keep(
            med_lines.len() as f32 * med_style.leading()
                + detail_lines as f32 * value_style.leading(),
        );

        let number = format!("{}.", i + 1);
        let first_baseline = Composer::baseline(c.y(), med_style);
        c.draw_text(LEFT, first_baseline, med_style, &number);
        c.lines(&med_lines, med_style, x, width, Align::Left);
        for (l, v) in &details {
            c.labelled(l, label_style, v, value_style, x, width);
        }
        c.gap(9.0);
    }
    c.gap(6.0);
    if let Some(notes) = &p.notes {
        section(&mut c, w.notes, notes);
    }
    blocks::signature(&mut c, p.lang, &p.prescriber.name, p.issued_at);

    let composed = c.finish(&crate::footer_reference(p.lang, &p.document_id));
    crate::serialize(
        composed,
        &crate::Meta {
            title: crate::metadata_title(w.prescription_title, &patient),
            author: normalize_line(&p.prescriber.name),
            subject: w.prescription_title,
            document_id: &p.document_id,
            at: p.issued_at,
        },
    )
}
