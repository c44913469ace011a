//! Teleconsultation documents as PDF: the report (compte rendu) and the prescription
//! (ordonnance), rendered in-process with printpdf, no external service.
//!
//! Both documents are A4 and laid out like their paper counterparts: organisation letterhead,
//! prescriber identification (name, profession, RPPS), place and date, the patient panel the
//! ordonnance rules ask for (name, birth date and age, sex, weight when given), the title, the
//! mention « Téléconsultation réalisée par vidéotransmission le … », the content, and
//! « Signé électroniquement par … le … ». Every page carries « page N / M » and the document
//! reference.
//!
//! Text is user input and is never trusted to be tidy: Windows newlines, tabs, invisible
//! characters, words longer than a line and characters the font lacks (printed `?`) are all
//! handled without error. DejaVu Sans is embedded (subset to the characters used), so French
//! accents, « guillemets », œ and € render in any reader. There is no bidirectional reordering
//! or complex-script shaping: right-to-left text prints in logical order, Arabic unjoined.
//!
//! The same input always gives the same bytes. Dates are printed in the offset they carry
//! (pass Europe/Paris local time); an instant in UTC is printed with « UTC ».
#![warn(missing_docs)]

mod blocks;
mod compose;
mod fonts;
mod i18n;
mod prescription;
mod report;
mod text;

use galien_core::Lang;
use printpdf::{FontId, PdfDocument, PdfFont, PdfParseErrorSeverity, PdfSaveOptions};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use crate::compose::{BOLD_ID, Composed, REGULAR_ID};

/// The health organisation the document is issued under (letterhead, top left).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Organisation {
    /// Name, e.g. « Centre de santé Galien ».
    pub name: String,
    /// Postal address, one line each; the last line « 75011 Paris » gives the place of the
    /// date line.
    pub address_lines: Vec<String>,
    /// Telephone number, printed as given.
    pub phone: Option<String>,
}

/// The health professional who signs the document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prescriber {
    /// Full name as it should appear, e.g. « Dr Marie Curie ».
    pub name: String,
    /// Profession or speciality, e.g. « Médecin généraliste ».
    pub profession: String,
    /// RPPS number (Répertoire partagé des professionnels de santé), when known.
    pub rpps: Option<String>,
}

/// The patient, as the ordonnance rules require them identified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatientLine {
    /// Last and first names.
    pub name: String,
    /// Birth date; the age on the day of the document is printed next to it.
    pub birth_date: Option<time::Date>,
    /// Sex, printed as given.
    pub sex: Option<String>,
    /// Weight in kilograms (« kg » is added unless present), when relevant (children).
    pub weight_kg: Option<String>,
}

/// A teleconsultation report (compte rendu).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// Language of the document's fixed wording.
    pub lang: Lang,
    /// Letterhead.
    pub organisation: Organisation,
    /// The professional who held the teleconsultation and signs the report.
    pub author: Prescriber,
    /// The patient.
    pub patient: PatientLine,
    /// When the teleconsultation took place, in the offset to print (local time).
    pub act_at: OffsetDateTime,
    /// Reason for the teleconsultation (free text).
    pub reason: String,
    /// The report itself: free text, paragraphs separated by blank lines.
    pub body: String,
    /// Conclusion, when there is one.
    pub conclusion: Option<String>,
    /// Reference printed small at the bottom of every page, for traceability.
    pub document_id: String,
}

/// One line of a prescription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrescriptionLine {
    /// Medication, strength and form, e.g. « Amoxicilline 1 g, comprimé ».
    pub medication: String,
    /// Dosage (posologie), e.g. « 1 comprimé matin et soir ».
    pub dosage: String,
    /// Duration of treatment, e.g. « 7 jours ».
    pub duration: String,
}

/// A prescription (ordonnance) issued after a teleconsultation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prescription {
    /// Language of the document's fixed wording.
    pub lang: Lang,
    /// Letterhead.
    pub organisation: Organisation,
    /// The prescriber, who signs.
    pub prescriber: Prescriber,
    /// The patient.
    pub patient: PatientLine,
    /// When the prescription was issued (the teleconsultation's date), in the offset to print.
    pub issued_at: OffsetDateTime,
    /// The prescribed items, numbered in this order.
    pub lines: Vec<PrescriptionLine>,
    /// Further instructions, when any (free text).
    pub notes: Option<String>,
    /// Reference printed small at the bottom of every page, for traceability.
    pub document_id: String,
}

/// Why a document could not be produced. None of these depends on the text given: they mean the
/// build or the PDF library is broken.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PdfError {
    /// An embedded font could not be parsed.
    #[error("embedded font unusable: {0}")]
    Font(String),
    /// printpdf reported an error while assembling the document.
    #[error("PDF assembly failed: {0}")]
    Assemble(String),
    /// The assembled document could not be written out.
    #[error("PDF could not be written: {0}")]
    Write(String),
}

/// Renders a teleconsultation report.
pub fn report_pdf(r: &Report) -> Result<Vec<u8>, PdfError> {
    report::render(r)
}

/// Renders a prescription (ordonnance).
pub fn prescription_pdf(p: &Prescription) -> Result<Vec<u8>, PdfError> {
    prescription::render(p)
}

/// Heading of pages after the first: « Ordonnance — Jean Dupont (suite) ».
fn running_header(title: &str, patient: &str, continued: &str) -> String {
    if patient.is_empty() {
        format!("{title} ({continued})")
    } else {
        format!("{title} — {patient} ({continued})")
    }
}

fn metadata_title(title: &str, patient: &str) -> String {
    if patient.is_empty() {
        title.to_owned()
    } else {
        format!("{title} — {patient}")
    }
}

fn footer_reference(lang: Lang, document_id: &str) -> String {
    let id = text::normalize_line(document_id);
    format!("{}{id}", i18n::label(lang, i18n::words(lang).document_ref))
}

/// Document information written into the PDF.
struct Meta<'a> {
    title: String,
    author: String,
    subject: &'a str,
    document_id: &'a str,
    at: OffsetDateTime,
}

/// printpdf's date type, in UTC (printpdf writes every date with a `+00'00'` offset).
fn pdf_date(at: OffsetDateTime) -> printpdf::OffsetDateTime {
    let u = at.checked_to_offset(time::UtcOffset::UTC).unwrap_or(at);
    printpdf::OffsetDateTime::new_in_offset(
        printpdf::Date {
            year: u.year(),
            month: u8::from(u.month()),
            day: u.day(),
        },
        printpdf::Time {
            hour: u.hour(),
            minute: u.minute(),
            second: u.second(),
            millisecond: 0,
        },
        printpdf::Offset {
            hours: 0,
            minutes: 0,
            seconds: 0,
            milliseconds: 0,
        },
    )
}

/// Embeds the subset fonts, writes the metadata and serialises the pages, deterministically:
/// fixed font resource names, and a file identifier derived from the document reference
/// instead of printpdf's process-wide counter.
fn serialize(composed: Composed, meta: &Meta<'_>) -> Result<Vec<u8>, PdfError> {
    let mut doc = PdfDocument::new(&meta.title);
    let info = &mut doc.metadata.info;
    info.author = meta.author.clone();
    info.subject = meta.subject.to_owned();
    info.creator = "Galien".to_owned();
    info.producer = "Galien".to_owned();
    info.identifier = text::normalize_line(meta.document_id);
    info.creation_date = pdf_date(meta.at);
    info.modification_date = info.creation_date;
    info.metadata_date = info.creation_date;

    for (id, face, used) in [
        (REGULAR_ID, fonts::regular()?, &composed.used_regular),
        (BOLD_ID, fonts::bold()?, &composed.used_bold),
    ] {
        if !used.is_empty() {
            doc.resources
                .fonts
                .map
                .insert(FontId(id.to_owned()), PdfFont::new(face.subset_for(used)?));
        }
    }
    doc.pages = composed.pages;

    let opts = PdfSaveOptions {
        optimize: true,
        subset_fonts: false,
        secure: true,
        image_optimization: None,
    };
    let mut warnings = Vec::new();
    let mut lo = doc.to_lopdf_document(&opts, &mut warnings);
    if let Some(e) = warnings
        .iter()
        .find(|w| w.severity == PdfParseErrorSeverity::Error)
    {
        return Err(PdfError::Assemble(e.msg.clone()));
    }
    // printpdf always writes `/GTS_PDFXVersion`, which readers take as a PDF/X claim this file
    // does not meet; and an empty `/Keywords`.
    if let Some(info) = lo
        .trailer
        .get(b"Info")
        .and_then(lopdf::Object::as_reference)
        .ok()
        .and_then(|id| lo.get_object_mut(id).ok())
        .and_then(|o| o.as_dict_mut().ok())
    {
        info.remove(b"GTS_PDFXVersion");
        info.remove(b"Keywords");
    }
    let digest = Sha256::digest(meta.document_id.as_bytes());
    let file_id: Vec<u8> = digest.iter().take(16).copied().collect();
    lo.trailer.set(
        "ID",
        lopdf::Object::Array(vec![
            lopdf::Object::String(file_id.clone(), lopdf::StringFormat::Hexadecimal),
            lopdf::Object::String(file_id, lopdf::StringFormat::Hexadecimal),
        ]),
    );
    lo.compress();
    let mut out = Vec::new();
    lo.save_to(&mut out)
        .map_err(|e| PdfError::Write(e.to_string()))?;
    Ok(out)
}
