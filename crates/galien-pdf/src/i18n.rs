//! Wording and date formats of the documents, in French and English.

use galien_core::Lang;
use time::{Date, Month, OffsetDateTime};

/// No-break space, before « : » in French.
const NBSP: char = '\u{A0}';

/// Fixed wording, per language.
pub(crate) struct Words {
    pub report_title: &'static str,
    pub prescription_title: &'static str,
    pub continued: &'static str,
    pub patient: &'static str,
    pub birth: &'static str,
    pub sex: &'static str,
    pub weight: &'static str,
    pub phone: &'static str,
    pub rpps: &'static str,
    pub reason: &'static str,
    pub observations: &'static str,
    pub conclusion: &'static str,
    pub dosage: &'static str,
    pub duration: &'static str,
    pub notes: &'static str,
    pub no_medication: &'static str,
    pub document_ref: &'static str,
}

const FR: Words = Words {
    report_title: "Compte rendu de téléconsultation",
    prescription_title: "Ordonnance",
    continued: "suite",
    patient: "Patient",
    birth: "Né(e) le",
    sex: "Sexe",
    weight: "Poids",
    phone: "Tél.",
    rpps: "RPPS",
    reason: "Motif de la téléconsultation",
    observations: "Observations",
    conclusion: "Conclusion",
    dosage: "Posologie",
    duration: "Durée",
    notes: "Remarques",
    no_medication: "Aucun médicament prescrit.",
    document_ref: "Réf. du document",
};

const EN: Words = Words {
    report_title: "Teleconsultation report",
    prescription_title: "Prescription",
    continued: "continued",
    patient: "Patient",
    birth: "Date of birth",
    sex: "Sex",
    weight: "Weight",
    phone: "Tel.",
    rpps: "RPPS",
    reason: "Reason for the teleconsultation",
    observations: "Observations",
    conclusion: "Conclusion",
    dosage: "Dosage",
    duration: "Duration",
    notes: "Notes",
    no_medication: "No medication prescribed.",
    document_ref: "Document ref.",
};

pub(crate) fn words(lang: Lang) -> &'static Words {
    match lang {
        Lang::Fr => &FR,
        Lang::En => &EN,
    }
}

/// `label` followed by the colon the language's typography wants: « Poids : » / “Weight: ”.
pub(crate) fn label(lang: Lang, label: &str) -> String {
    match lang {
        Lang::Fr => format!("{label}{NBSP}: "),
        Lang::En => format!("{label}: "),
    }
}

fn month_name(lang: Lang, m: Month) -> &'static str {
    let (fr, en) = match m {
        Month::January => ("janvier", "January"),
        Month::February => ("février", "February"),
        Month::March => ("mars", "March"),
        Month::April => ("avril", "April"),
        Month::May => ("mai", "May"),
        Month::June => ("juin", "June"),
        Month::July => ("juillet", "July"),
        Month::August => ("août", "August"),
        Month::September => ("septembre", "September"),
        Month::October => ("octobre", "October"),
        Month::November => ("novembre", "November"),
        Month::December => ("décembre", "December"),
    };
    match lang {
        Lang::Fr => fr,
        Lang::En => en,
    }
}

/// « 1er mars 2026 » / « 14 mars 2026 » / “14 March 2026”.
pub(crate) fn date_long(lang: Lang, d: Date) -> String {
    let month = month_name(lang, d.month());
    match lang {
        Lang::Fr if d.day() == 1 => format!("1er{NBSP}{month}{NBSP}{}", d.year()),
        Lang::Fr => format!("{}{NBSP}{month}{NBSP}{}", d.day(), d.year()),
        Lang::En => format!("{}{NBSP}{month} {}", d.day(), d.year()),
    }
}

/// « 03/04/1980 » / “3 April 1980” (English readers may take 03/04 for March 4th).
pub(crate) fn date_short(lang: Lang, d: Date) -> String {
    match lang {
        Lang::Fr => format!("{:02}/{:02}/{:04}", d.day(), u8::from(d.month()), d.year()),
        Lang::En => date_long(lang, d),
    }
}

/// « 14 mars 2026 à 10 h 30 » / “14 March 2026 at 10:30”, in the offset `at` carries; an
/// instant given in UTC says so, so a UTC time is never read as French local time.
pub(crate) fn date_time(lang: Lang, at: OffsetDateTime) -> String {
    let date = date_long(lang, at.date());
    let utc = if at.offset().is_utc() { " UTC" } else { "" };
    match lang {
        Lang::Fr => format!("{date} à {}{NBSP}h{NBSP}{:02}{utc}", at.hour(), at.minute()),
        Lang::En => format!("{date} at {:02}:{:02}{utc}", at.hour(), at.minute()),
    }
}

/// Age on `on` of someone born on `birth`: months under two years (as paediatric doses are
/// given), years after; `None` when the birth date is after `on`.
pub(crate) fn age(lang: Lang, birth: Date, on: Date) -> Option<String> {
    if birth > on {
        return None;
    }
    let mut months = (on.year() - birth.year()) * 12 + i32::from(u8::from(on.month()))
        - i32::from(u8::from(birth.month()));
    if on.day() < birth.day() {
        months -= 1;
    }
    let months = months.max(0);
    let (n, unit_fr, unit_en) = if months < 24 {
        (months, "mois", if months == 1 { "month" } else { "months" })
    } else {
        let years = months / 12;
        (years, "ans", "years")
    };
    Some(match lang {
        Lang::Fr => format!("{n}{NBSP}{unit_fr}"),
        Lang::En => format!("{n}{NBSP}{unit_en}"),
    })
}

/// Where the document is written from: the town of the organisation's last address line, after
/// a French postcode (« 75011 Paris » gives « Paris »); `None` when no line looks like that.
pub(crate) fn place(address_lines: &[String]) -> Option<String> {
    let last = address_lines
        .iter()
        .rev()
        .map(|l| crate::text::normalize_line(l))
        .find(|l| !l.is_empty())?;
    let (code, town) = last.split_once(' ')?;
    let town = town.trim();
    (code.len() == 5 && code.chars().all(|c| c.is_ascii_digit()) && !town.is_empty())
        .then(|| town.to_owned())
}

/// The date line under the letterhead: « Paris, le 14 mars 2026 » / “Paris, 14 March 2026”.
pub(crate) fn date_line(lang: Lang, place: Option<&str>, d: Date) -> String {
    let date = date_long(lang, d);
    match (lang, place) {
        (Lang::Fr, Some(p)) => format!("{p}, le {date}"),
        (Lang::Fr, None) => format!("Le {date}"),
        (Lang::En, Some(p)) => format!("{p}, {date}"),
        (Lang::En, None) => date,
    }
}

/// The teleconsultation mention required on both documents.
pub(crate) fn teleconsultation_mention(lang: Lang, at: OffsetDateTime) -> String {
    let when = date_time(lang, at);
    match lang {
        Lang::Fr => format!("Téléconsultation réalisée par vidéotransmission le {when}."),
        Lang::En => format!("Teleconsultation carried out by video transmission on {when}."),
    }
}

/// « Signé électroniquement par » and « le … », which frame the signer's name.
pub(crate) fn signature(lang: Lang, at: OffsetDateTime) -> (&'static str, String) {
    let when = date_time(lang, at);
    match lang {
        Lang::Fr => ("Signé électroniquement par", format!("le {when}")),
        Lang::En => ("Electronically signed by", format!("on {when}")),
    }
}

/// “page N / M” (both languages).
pub(crate) fn page_number(n: usize, m: usize) -> String {
    format!("page {n} / {m}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::{date, datetime};

    #[test]
    fn french_dates() {
        assert_eq!(
            date_long(Lang::Fr, date!(2026 - 03 - 01)),
            "1er\u{a0}mars\u{a0}2026"
        );
        assert_eq!(date_short(Lang::Fr, date!(1980 - 04 - 03)), "03/04/1980");
        assert_eq!(
            date_time(Lang::Fr, datetime!(2026-03-14 9:05 +1)),
            "14\u{a0}mars\u{a0}2026 à 9\u{a0}h\u{a0}05"
        );
        assert_eq!(
            date_time(Lang::En, datetime!(2026-03-14 9:05 UTC)),
            "14\u{a0}March 2026 at 09:05 UTC"
        );
    }

    #[test]
    fn ages() {
        assert_eq!(
            age(Lang::Fr, date!(1980 - 04 - 03), date!(2026 - 04 - 02)).as_deref(),
            Some("45\u{a0}ans")
        );
        assert_eq!(
            age(Lang::Fr, date!(1980 - 04 - 03), date!(2026 - 04 - 03)).as_deref(),
            Some("46\u{a0}ans")
        );
        assert_eq!(
            age(Lang::En, date!(2025 - 01 - 31), date!(2026 - 03 - 14)).as_deref(),
            Some("13\u{a0}months")
        );
        assert_eq!(
            age(Lang::En, date!(2026 - 03 - 01), date!(2026 - 03 - 14)).as_deref(),
            Some("0\u{a0}months")
        );
        assert_eq!(
            age(Lang::Fr, date!(2027 - 01 - 01), date!(2026 - 03 - 14)),
            None
        );
    }

    #[test]
    fn place_comes_from_the_postcode_line() {
        let lines = vec!["12 rue de la Paix".to_owned(), "75002 Paris".to_owned()];
        assert_eq!(place(&lines).as_deref(), Some("Paris"));
        assert_eq!(place(&["Somewhere".to_owned()]), None);
        assert_eq!(place(&[]), None);
    }
}
