//! A patient's identity as Galien keeps it: the INS identity traits (birth names, first names, sex,
//! birth date, birth place), the INS matricule (a NIR) with its identity status, contacts and the
//! referring doctor (DATA-2). Everything here is personal data and is stored encrypted; only keyed
//! blind indexes of the NIR and of the names serve look-ups.

use crate::nir::Nir;
use serde::{Deserialize, Serialize};
use time::Date;

#[macro_export]
#[doc(hidden)]
macro_rules! simple_enum {
    ($(#[$doc:meta])* $name:ident { $( $(#[$vdoc:meta])* $variant:ident = $text:literal, $fr:literal, $en:literal ),* $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub enum $name { $( $(#[$vdoc])* #[serde(rename = $text)] $variant, )* }

        impl $name {
            /// Every value.
            pub const ALL: &'static [$name] = &[ $( $name::$variant, )* ];
            /// The stable text stored.
            pub fn as_str(self) -> &'static str { match self { $( $name::$variant => $text, )* } }
            /// Parses the stable text.
            pub fn parse(s: &str) -> Option<Self> { match s { $( $text => Some($name::$variant), )* _ => None } }
            /// A French label.
            pub fn label_fr(self) -> &'static str { match self { $( $name::$variant => $fr, )* } }
            /// An English label.
            pub fn label_en(self) -> &'static str { match self { $( $name::$variant => $en, )* } }
        }
    };
}

simple_enum! {
    /// The INS identity status (référentiel national d'identitovigilance): how far the identity was
    /// checked. Only a qualified identity may be exchanged with the INS.
    InsStatus {
        /// Provisional: entered from what the patient said, nothing checked.
        Provisional = "provisional", "Identité provisoire", "Provisional identity",
        /// Retrieved through the INSi teleservice, not checked against an identity document.
        Retrieved = "retrieved", "Identité récupérée", "Retrieved identity",
        /// Checked against an identity document, not retrieved from the INSi teleservice.
        Validated = "validated", "Identité validée", "Validated identity",
        /// Retrieved and checked: the INS may be used and exchanged.
        Qualified = "qualified", "Identité qualifiée", "Qualified identity",
    }
}

simple_enum! {
    /// Administrative sex as in the INS traits.
    Sex {
        /// Female.
        Female = "F", "Féminin", "Female",
        /// Male.
        Male = "M", "Masculin", "Male",
        /// Unknown or undetermined.
        Unknown = "I", "Indéterminé", "Undetermined",
    }
}

simple_enum! {
    /// The act or processing a consent is about (GDPR-3).
    ConsentSubject {
        /// Teleconsultation.
        Teleconsultation = "teleconsultation", "Téléconsultation", "Teleconsultation",
        /// Tele-expertise.
        Teleexpertise = "teleexpertise", "Téléexpertise", "Tele-expertise",
        /// Telemonitoring.
        Telesurveillance = "telesurveillance", "Télésurveillance", "Telemonitoring",
        /// Tele-assistance.
        Teleassistance = "teleassistance", "Téléassistance", "Tele-assistance",
        /// Sharing data within the care team (CSP L.1110-4).
        DataSharing = "data_sharing", "Partage au sein de l'équipe de soins", "Sharing within the care team",
    }
}

simple_enum! {
    /// How a consent was given.
    ConsentMeans {
        /// Said aloud to the professional, who recorded it.
        Oral = "oral", "Oral, recueilli par le professionnel", "Oral, recorded by the professional",
        /// Signed on paper.
        Written = "written", "Écrit (papier signé)", "Written (signed paper)",
        /// Given by the patient in Galien.
        Electronic = "electronic", "Électronique, dans Galien", "Electronic, in Galien",
    }
}

/// A five-character INSEE code of the birth place (a commune, or `99xxx` for a country).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct InseeCode(String);

impl InseeCode {
    /// Five characters: digits, or `2A`/`2B` followed by three digits (Corsica).
    pub fn parse(s: &str) -> Option<InseeCode> {
        let s = s.trim().to_uppercase();
        let b = s.as_bytes();
        let corsica = s.starts_with("2A") || s.starts_with("2B");
        let ok = b.len() == 5
            && b.iter()
                .enumerate()
                .all(|(i, c)| c.is_ascii_digit() || (corsica && i == 1));
        ok.then_some(InseeCode(s))
    }

    /// The code.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for InseeCode {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        InseeCode::parse(&s).ok_or_else(|| "invalid INSEE code".to_owned())
    }
}

impl From<InseeCode> for String {
    fn from(c: InseeCode) -> String {
        c.0
    }
}

/// The identity traits and contacts of a patient (sealed as one value at rest).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PatientIdentity {
    /// Birth name (nom de naissance), as on the identity document.
    pub birth_name: String,
    /// Used name (nom utilisé), when different.
    pub used_name: Option<String>,
    /// Birth first names, in order, space separated (prénoms de naissance).
    pub first_names: String,
    /// Used first name (prénom utilisé), when different from the first of the first names.
    pub used_first_name: Option<String>,
    /// Administrative sex.
    pub sex: Sex,
    /// Birth date.
    pub birth_date: Date,
    /// Birth place INSEE code.
    pub birth_place: Option<InseeCode>,
    /// Phone number.
    pub phone: Option<String>,
    /// E-mail address.
    pub email: Option<String>,
    /// Postal address.
    pub address: Option<String>,
    /// Referring doctor (médecin traitant), as text.
    pub referring_doctor: Option<String>,
}

impl std::fmt::Debug for PatientIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PatientIdentity(<redacted>)")
    }
}

impl PatientIdentity {
    /// The name to show: used name (or birth name) then the used first name (or the first first
    /// name), e.g. "MARTIN Claire".
    pub fn display_name(&self) -> String {
        let name = self.used_name.as_deref().unwrap_or(&self.birth_name);
        let first = self
            .used_first_name
            .as_deref()
            .or_else(|| self.first_names.split_whitespace().next())
            .unwrap_or("");
        format!("{} {first}", name.to_uppercase()).trim().to_owned()
    }
}

/// The form of a name used for look-ups: upper case, accents removed, letters only, one space between
/// words ("Lefèvre-Dupont " and "LEFEVRE DUPONT" match).
pub fn normalise_name(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        let c = fold_accent(c);
        if c.is_alphabetic() {
            out.extend(c.to_uppercase());
        } else if !out.ends_with(' ') && !out.is_empty() {
            out.push(' ');
        }
    }
    out.trim_end().to_owned()
}

fn fold_accent(c: char) -> char {
    match c {
        'à' | 'â' | 'ä' | 'á' | 'ã' | 'å' | 'À' | 'Â' | 'Ä' | 'Á' | 'Ã' | 'Å' => 'a',
        'ç' | 'Ç' => 'c',
        'é' | 'è' | 'ê' | 'ë' | 'É' | 'È' | 'Ê' | 'Ë' => 'e',
        'î' | 'ï' | 'í' | 'ì' | 'Î' | 'Ï' | 'Í' | 'Ì' => 'i',
        'ô' | 'ö' | 'ó' | 'ò' | 'õ' | 'Ô' | 'Ö' | 'Ó' | 'Ò' | 'Õ' => 'o',
        'ù' | 'û' | 'ü' | 'ú' | 'Ù' | 'Û' | 'Ü' | 'Ú' => 'u',
        'ÿ' | 'ý' | 'Ÿ' | 'Ý' => 'y',
        'ñ' | 'Ñ' => 'n',
        'œ' | 'Œ' => 'o',
        'æ' | 'Æ' => 'a',
        other => other,
    }
}

/// The value whose blind index finds a patient by name and birth date.
pub fn name_lookup_key(name: &str, birth_date: Date) -> String {
    format!("{}|{}", normalise_name(name), birth_date)
}

/// The INS matricule with its status, as entered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ins {
    /// The matricule (a NIR, or a temporary number).
    pub nir: Nir,
    /// How far the identity was checked.
    pub status: InsStatus,
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn names_normalise_for_lookup() {
        assert_eq!(normalise_name(" Lefèvre-Dupont "), "LEFEVRE DUPONT");
        assert_eq!(normalise_name("LEFEVRE  DUPONT"), "LEFEVRE DUPONT");
        assert_eq!(normalise_name("Œdipe"), "ODIPE");
        assert_eq!(
            name_lookup_key("Martin", date!(1984 - 12 - 01)),
            "MARTIN|1984-12-01"
        );
    }

    #[test]
    fn insee_codes() {
        assert!(InseeCode::parse("75056").is_some());
        assert!(InseeCode::parse("2a004").is_some());
        assert!(InseeCode::parse("99100").is_some());
        assert!(InseeCode::parse("7505").is_none());
        assert!(InseeCode::parse("7A056").is_none());
    }

    #[test]
    fn display_name_prefers_used_names() {
        let mut p = PatientIdentity {
            birth_name: "Martin".into(),
            used_name: None,
            first_names: "Claire Anne".into(),
            used_first_name: None,
            sex: Sex::Female,
            birth_date: date!(1984 - 12 - 01),
            birth_place: None,
            phone: None,
            email: None,
            address: None,
            referring_doctor: None,
        };
        assert_eq!(p.display_name(), "MARTIN Claire");
        p.used_name = Some("Durand".into());
        assert_eq!(p.display_name(), "DURAND Claire");
        assert_eq!(format!("{p:?}"), "PatientIdentity(<redacted>)");
    }
}
