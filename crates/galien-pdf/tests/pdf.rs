//! Teleconsultation documents (ACT-1): the report and the prescription as PDF, checked through
//! poppler's `pdftotext` / `pdfinfo` (an independent reader), with odd inputs and page breaks.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use galien_core::Lang;
use galien_pdf::{
    Organisation, PatientLine, Prescriber, Prescription, PrescriptionLine, Report,
    prescription_pdf, report_pdf,
};
use time::macros::{date, datetime};

fn organisation() -> Organisation {
    Organisation {
        name: "Centre de santé Galien".into(),
        address_lines: vec!["12 rue de la Roquette".into(), "75011 Paris".into()],
        phone: Some("01 23 45 67 89".into()),
    }
}

fn prescriber() -> Prescriber {
    Prescriber {
        name: "Dr Hélène Lefèvre".into(),
        profession: "Médecin généraliste".into(),
        rpps: Some("10101234567".into()),
    }
}

fn patient() -> PatientLine {
    PatientLine {
        name: "François Nœl-Müller".into(),
        birth_date: Some(date!(2019 - 06 - 15)),
        sex: Some("M".into()),
        weight_kg: Some("21,5".into()),
    }
}

fn report() -> Report {
    Report {
        lang: Lang::Fr,
        organisation: organisation(),
        author: prescriber(),
        patient: patient(),
        act_at: datetime!(2026-03-14 10:30 +1),
        reason: "Fièvre à 39 °C depuis deux jours, toux sèche.".into(),
        body: "L'enfant est vu en téléconsultation avec sa mère, « très fatigué » selon elle.\n\n\
               Examen à distance : enfant tonique, pas de signe de lutte respiratoire, \
               coloration normale. Les frais de 25 € sont pris en charge.\n\n\
               Pas de critère de gravité, œdème absent."
            .into(),
        conclusion: Some(
            "Virose probable. Surveillance, réévaluation si la fièvre persiste au-delà de 72 h."
                .into(),
        ),
        document_id: "CR-2026-03-14-0001".into(),
    }
}

fn prescription() -> Prescription {
    Prescription {
        lang: Lang::Fr,
        organisation: organisation(),
        prescriber: prescriber(),
        patient: patient(),
        issued_at: datetime!(2026-03-14 10:45 +1),
        lines: vec![
            PrescriptionLine {
                medication: "Paracétamol 2,4 % suspension buvable".into(),
                dosage: "1 dose-poids de 21 kg toutes les 6 heures si fièvre".into(),
                duration: "5 jours".into(),
            },
            PrescriptionLine {
                medication: "Sérum physiologique unidoses".into(),
                dosage: "Lavage de nez 3 fois par jour".into(),
                duration: "8 jours".into(),
            },
            PrescriptionLine {
                medication: "Ibuprofène 20 mg/ml suspension buvable".into(),
                dosage: "1 dose-poids de 21 kg toutes les 8 heures, en cas de douleur, au cours d'un repas".into(),
                duration: "3 jours".into(),
            },
        ],
        notes: Some("Consulter en urgence si difficulté à respirer.\r\nNe pas dépasser 4 prises par jour.".into()),
        document_id: "ORD-2026-03-14-0001".into(),
    }
}

/// A scratch file holding `pdf`, for poppler.
fn write_temp(pdf: &[u8]) -> tempfile::NamedTempFile {
    let mut f = tempfile::Builder::new().suffix(".pdf").tempfile().unwrap();
    std::io::Write::write_all(&mut f, pdf).unwrap();
    f
}

fn poppler(tool: &str, args: &[&str], pdf: &[u8]) -> String {
    let f = write_temp(pdf);
    let mut cmd = Command::new(tool);
    cmd.args(args).arg(f.path());
    if tool == "pdftotext" {
        cmd.arg("-");
    }
    let out = cmd.output().unwrap_or_else(|e| {
        panic!("{tool} is required for these tests (apt-get install poppler-utils): {e}")
    });
    assert!(
        out.status.success(),
        "{tool} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stderr.is_empty(),
        "{tool} complained: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The text poppler reads, with no-break spaces as plain spaces.
fn text_of(pdf: &[u8]) -> String {
    poppler("pdftotext", &["-enc", "UTF-8"], pdf).replace(['\u{a0}', '\u{202f}'], " ")
}

fn info_of(pdf: &[u8]) -> String {
    poppler("pdfinfo", &["-isodates"], pdf)
}

fn pages_of(pdf: &[u8]) -> usize {
    info_of(pdf)
        .lines()
        .find_map(|l| l.strip_prefix("Pages:"))
        .and_then(|n| n.trim().parse().ok())
        .unwrap()
}

fn assert_is_pdf(pdf: &[u8]) {
    assert!(pdf.starts_with(b"%PDF-"), "no PDF header");
    let tail = String::from_utf8_lossy(&pdf[pdf.len().saturating_sub(16)..]);
    assert!(
        tail.trim_end().ends_with("%%EOF"),
        "no %%EOF trailer: {tail:?}"
    );
}

/// Squeezes whitespace away, so words split over lines by the layout can be found.
fn squeeze(s: &str) -> String {
    s.chars().filter(|c| !c.is_whitespace()).collect()
}

/// Whitespace runs (line breaks included) as single spaces.
fn flat(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The text without the page furniture (running header, footer), so text that flows over a
/// page break reads continuously.
fn without_furniture(s: &str) -> String {
    s.lines()
        .map(|l| l.trim_start_matches('\u{c}'))
        .filter(|l| {
            !(l.starts_with("Réf. du document")
                || l.starts_with("Document ref.")
                || l.starts_with("page ")
                || l.starts_with("Compte rendu de téléconsultation —")
                || l.starts_with("Ordonnance —"))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn act_1_report_pdf_shows_patient_accents_mention_and_page_numbers() {
    let pdf = report_pdf(&report()).unwrap();
    assert_is_pdf(&pdf);
    let text = flat(&text_of(&pdf));
    for expected in [
        "Compte rendu de téléconsultation",
        "Centre de santé Galien",
        "Dr Hélène Lefèvre",
        "Médecin généraliste",
        "RPPS : 10101234567",
        "Paris, le 14 mars 2026",
        "François Nœl-Müller",
        "15/06/2019 (6 ans)",
        "21,5 kg",
        "Téléconsultation réalisée par vidéotransmission le 14 mars 2026 à 10 h 30.",
        "« très fatigué »",
        "25 €",
        "œdème",
        "Virose probable.",
        "Signé électroniquement par Dr Hélène Lefèvre le 14 mars 2026 à 10 h 30",
        "Réf. du document : CR-2026-03-14-0001",
        "page 1 / 1",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
    assert!(!text.contains('?'), "a character fell back to '?':\n{text}");
}

#[test]
fn act_1_prescription_pdf_lists_every_line_numbered() {
    let p = prescription();
    let pdf = prescription_pdf(&p).unwrap();
    assert_is_pdf(&pdf);
    let text = flat(&text_of(&pdf));
    for expected in [
        "Ordonnance",
        "Téléconsultation réalisée par vidéotransmission le 14 mars 2026 à 10 h 45.",
        "François Nœl-Müller",
        "Sexe : M",
        "Poids : 21,5 kg",
        "Remarques",
        "Ne pas dépasser 4 prises par jour.",
        "Signé électroniquement par Dr Hélène Lefèvre le 14 mars 2026 à 10 h 45",
        "Réf. du document : ORD-2026-03-14-0001",
        "page 1 / 1",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
    let squeezed = squeeze(&text);
    for (i, line) in p.lines.iter().enumerate() {
        let numbered = format!("{}.{}", i + 1, squeeze(&line.medication));
        assert!(squeezed.contains(&numbered), "missing {numbered:?}");
        assert!(
            squeezed.contains(&squeeze(&format!("Posologie : {}", line.dosage))),
            "{}",
            line.dosage
        );
        assert!(
            squeezed.contains(&squeeze(&format!("Durée : {}", line.duration))),
            "{}",
            line.duration
        );
    }
    // Subset fonts: a one-page ordonnance is small enough to mail.
    assert!(pdf.len() < 80_000, "{} bytes", pdf.len());
}

#[test]
fn act_1_english_documents_use_english_wording() {
    let mut r = report();
    r.lang = Lang::En;
    let text = flat(&text_of(&report_pdf(&r).unwrap()));
    for expected in [
        "Teleconsultation report",
        "Teleconsultation carried out by video transmission on 14 March 2026 at 10:30.",
        "Date of birth: 15 June 2019 (6 years)",
        "Reason for the teleconsultation",
        "Electronically signed by Dr Hélène Lefèvre on 14 March 2026 at 10:30",
        "Paris, 14 March 2026",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
    let mut p = prescription();
    p.lang = Lang::En;
    p.issued_at = datetime!(2026-03-14 9:45 UTC);
    let text = flat(&text_of(&prescription_pdf(&p).unwrap()));
    for expected in [
        "Prescription",
        "Dosage: ",
        "Duration: ",
        "Notes",
        "on 14 March 2026 at 09:45 UTC",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
}

#[test]
fn act_1_pdf_metadata_names_galien_and_the_document() {
    let info = info_of(&prescription_pdf(&prescription()).unwrap());
    for expected in [
        "Title:           Ordonnance — François Nœl-Müller",
        "Author:          Dr Hélène Lefèvre",
        "Producer:        Galien",
        "Creator:         Galien",
        "CreationDate:    2026-03-14T09:45:00",
        "Page size:       595.276 x 841.89 pts (A4)",
    ] {
        assert!(info.contains(expected), "missing {expected:?} in:\n{info}");
    }
    assert!(
        !info.contains("PDF/X"),
        "claims a PDF/X conformance it does not meet:\n{info}"
    );
}

fn lorem_paragraph(i: usize) -> String {
    format!(
        "Paragraphe{i} : la patiente décrit des céphalées intermittentes, majorées le soir, sans \
         fièvre ni raideur méningée ; l'examen à distance retrouve une élocution normale, une \
         motricité symétrique et une marche assurée. Traitement antérieur bien toléré, \
         observance correcte, pas d'effet indésirable rapporté. Fin{i}."
    )
}

#[test]
fn act_1_long_report_breaks_pages_and_loses_no_word() {
    let mut r = report();
    r.body = (0..30)
        .map(lorem_paragraph)
        .collect::<Vec<_>>()
        .join("\n\n");
    let pdf = report_pdf(&r).unwrap();
    assert_is_pdf(&pdf);
    let pages = pages_of(&pdf);
    assert!(pages >= 2, "{pages} page(s)");
    let text = text_of(&pdf);
    for n in 1..=pages {
        assert!(
            text.contains(&format!("page {n} / {pages}")),
            "no number on page {n}"
        );
    }
    assert!(text.contains("Compte rendu de téléconsultation — François Nœl-Müller (suite)"));
    let extracted: std::collections::HashSet<&str> = text.split_whitespace().collect();
    for word in r.body.split_whitespace().chain(r.reason.split_whitespace()) {
        assert!(extracted.contains(word), "word {word:?} lost");
    }
    // In order, nothing cut: each paragraph reads whole, also across page breaks.
    let squeezed = squeeze(&without_furniture(&text));
    for i in 0..30 {
        assert!(
            squeezed.contains(&squeeze(&lorem_paragraph(i))),
            "paragraph {i} not intact"
        );
    }
}

fn long_prescription() -> Prescription {
    let mut p = prescription();
    p.lines = (1..=40)
        .map(|i| PrescriptionLine {
            medication: format!("Médicament n°{i} 500 mg comprimé"),
            dosage: format!("{i} comprimé(s) matin, midi et soir pendant les repas"),
            duration: format!("{i} jours"),
        })
        .collect();
    p
}

#[test]
fn act_1_long_prescription_breaks_pages_keeping_each_line_whole() {
    let p = long_prescription();
    let pdf = prescription_pdf(&p).unwrap();
    let pages = pages_of(&pdf);
    assert!(pages >= 3, "{pages} page(s)");
    let text = text_of(&pdf);
    let page_texts: Vec<String> = text.split('\u{c}').map(squeeze).collect();
    for (i, line) in p.lines.iter().enumerate() {
        let whole = squeeze(&format!(
            "{}. {} Posologie : {} Durée : {}",
            i + 1,
            line.medication,
            line.dosage,
            line.duration
        ));
        assert!(
            page_texts.iter().any(|t| t.contains(&whole)),
            "line {} split over pages or lost",
            i + 1
        );
    }
    assert!(text.contains(&format!("page {pages} / {pages}")));
}

#[test]
fn act_1_odd_inputs_render_without_error() {
    let long_word = "x".repeat(5000);
    let odd = format!(
        "emoji 😀👍🏽👨‍👩‍👧 fin\r\nעברית שלום עולם\r\nالعربية مرحبا\r\n\ttabulé\u{0}\u{7}\u{1b}[31m\u{200b}\u{feff}\r\rseul\n\n\n{long_word}\n\u{10FFFD}\u{E000} 中文 "
    );
    let empty_org = Organisation {
        name: String::new(),
        address_lines: vec![String::new(); 3],
        phone: Some(String::new()),
    };
    let empty_who = Prescriber {
        name: String::new(),
        profession: String::new(),
        rpps: Some(String::new()),
    };
    let empty_patient = PatientLine {
        name: String::new(),
        birth_date: Some(date!(2030 - 01 - 01)),
        sex: Some(String::new()),
        weight_kg: Some(String::new()),
    };

    // Everything empty.
    let r = Report {
        lang: Lang::Fr,
        organisation: empty_org.clone(),
        author: empty_who.clone(),
        patient: empty_patient.clone(),
        act_at: datetime!(2026-03-14 10:30 +1),
        reason: String::new(),
        body: String::new(),
        conclusion: Some(String::new()),
        document_id: String::new(),
    };
    let pdf = report_pdf(&r).unwrap();
    assert_is_pdf(&pdf);
    assert!(text_of(&pdf).contains("page 1 / 1"));
    let p = Prescription {
        lang: Lang::En,
        organisation: empty_org,
        prescriber: empty_who,
        patient: empty_patient,
        issued_at: datetime!(2026-03-14 10:30 +1),
        lines: vec![PrescriptionLine {
            medication: String::new(),
            dosage: String::new(),
            duration: String::new(),
        }],
        notes: Some(String::new()),
        document_id: String::new(),
    };
    assert_is_pdf(&prescription_pdf(&p).unwrap());
    let p = Prescription {
        lines: Vec::new(),
        ..p
    };
    assert!(text_of(&prescription_pdf(&p).unwrap()).contains("No medication prescribed."));

    // Odd text everywhere.
    let odd_org = Organisation {
        name: odd.clone(),
        address_lines: vec![odd.clone(); 10],
        phone: Some(odd.clone()),
    };
    let odd_who = Prescriber {
        name: odd.clone(),
        profession: odd.clone(),
        rpps: Some(odd.clone()),
    };
    let odd_patient = PatientLine {
        name: odd.clone(),
        birth_date: Some(date!(-9999 - 01 - 01)),
        sex: Some(odd.clone()),
        weight_kg: Some(odd.clone()),
    };
    let r = Report {
        lang: Lang::Fr,
        organisation: odd_org.clone(),
        author: odd_who.clone(),
        patient: odd_patient.clone(),
        act_at: datetime!(9999-12-31 23:59:59 -23:59),
        reason: odd.clone(),
        body: odd.clone(),
        conclusion: Some(odd.clone()),
        document_id: odd.clone(),
    };
    let pdf = report_pdf(&r).unwrap();
    assert_is_pdf(&pdf);
    let text = text_of(&pdf);
    // The unbreakable word is split across lines, not cut.
    assert!(
        squeeze(&without_furniture(&text)).contains(&long_word),
        "5,000-character word cut"
    );
    // Hebrew prints in logical order (readers may show it reordered); the font has no CJK, and
    // those characters fall back to '?'.
    for expected in ["tabulé", "seul", "שלום", "emoji 😀", "?? "] {
        assert!(
            text.contains(expected) || text.contains(&expected.chars().rev().collect::<String>()),
            "{expected}"
        );
    }
    assert!(!text.contains('中'));
    let p = Prescription {
        lang: Lang::Fr,
        organisation: odd_org,
        prescriber: odd_who,
        patient: odd_patient,
        issued_at: datetime!(-9999-01-01 0:00 +23:59),
        lines: vec![
            PrescriptionLine {
                medication: odd.clone(),
                dosage: odd.clone(),
                duration: odd.clone()
            };
            3
        ],
        notes: Some(odd.clone()),
        document_id: odd,
    };
    let pdf = prescription_pdf(&p).unwrap();
    assert_is_pdf(&pdf);
    assert!(squeeze(&without_furniture(&text_of(&pdf))).contains(&long_word));
}

#[test]
fn act_1_rendering_is_deterministic() {
    assert_eq!(
        report_pdf(&report()).unwrap(),
        report_pdf(&report()).unwrap()
    );
    assert_eq!(
        prescription_pdf(&prescription()).unwrap(),
        prescription_pdf(&prescription()).unwrap()
    );
    // Concurrent renders (shared font cache) give the same bytes too.
    let handles: Vec<_> = (0..4)
        .map(|_| std::thread::spawn(|| prescription_pdf(&prescription()).unwrap()))
        .collect();
    let first = prescription_pdf(&prescription()).unwrap();
    for h in handles {
        assert_eq!(h.join().unwrap(), first);
    }
}

fn artifacts_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../test-artifacts")
}

/// Writes a sample of each document and a PNG of its first page to `test-artifacts/` (ignored
/// by git) for a person to look at.
#[test]
fn act_1_samples_are_written_for_review() {
    let dir = artifacts_dir();
    std::fs::create_dir_all(&dir).unwrap();
    let mut long = report();
    long.body = (0..30)
        .map(lorem_paragraph)
        .collect::<Vec<_>>()
        .join("\n\n");
    for (name, pdf) in [
        ("compte-rendu", report_pdf(&report()).unwrap()),
        ("compte-rendu-long", report_pdf(&long).unwrap()),
        ("ordonnance", prescription_pdf(&prescription()).unwrap()),
        (
            "ordonnance-longue",
            prescription_pdf(&long_prescription()).unwrap(),
        ),
    ] {
        let path = dir.join(format!("{name}.pdf"));
        std::fs::write(&path, &pdf).unwrap();
        let status = Command::new("pdftoppm")
            .args(["-png", "-r", "60", "-f", "1", "-l", "2"])
            .arg(&path)
            .arg(dir.join(name))
            .status()
            .expect("pdftoppm (poppler-utils) is required");
        assert!(status.success());
    }
}

/// Render times, printed (not asserted): `cargo nextest run -p galien-pdf --run-ignored all
/// --no-capture render_time` (add `--release` for the optimised figure).
#[test]
#[ignore = "timing figure, run on demand"]
fn render_time() {
    let r = report();
    let p = prescription();
    // The first call also parses the two embedded faces (once per process).
    let t = Instant::now();
    let _ = (report_pdf(&r).unwrap(), prescription_pdf(&p).unwrap());
    let cold = t.elapsed();
    let n = 20;
    let t = Instant::now();
    for _ in 0..n {
        report_pdf(&r).unwrap();
    }
    let report_t = t.elapsed() / n;
    let t = Instant::now();
    for _ in 0..n {
        prescription_pdf(&p).unwrap();
    }
    let prescription_t = t.elapsed() / n;
    let mut long = report();
    long.body = (0..30)
        .map(lorem_paragraph)
        .collect::<Vec<_>>()
        .join("\n\n");
    let t = Instant::now();
    for _ in 0..n {
        report_pdf(&long).unwrap();
    }
    let long_t = t.elapsed() / n;
    println!(
        "first report + prescription (cold): {cold:?}; then per document: report {report_t:?}, \
         prescription {prescription_t:?}, 30-paragraph report {long_t:?}"
    );
}
