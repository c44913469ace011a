//! The NIR (numéro d'inscription au répertoire, « numéro de sécurité sociale »), which is also the
//! matricule of the INS (identifiant national de santé), as a parsed and validated type (DATA-2).
//!
//! A NIR is 13 characters of matricule followed by a 2-digit key:
//!
//! | positions (1-indexed) | field                                               |
//! |-----------------------|-----------------------------------------------------|
//! | 1                     | sex digit: 1, 2, 3, 4, or 7, 8 (numéro provisoire)  |
//! | 2–3                   | year of birth                                       |
//! | 4–5                   | month of birth (01–12, or INSEE special values)     |
//! | 6–7                   | department of birth: 01–99, or 2A / 2B (Corse)      |
//! | 8–10                  | commune of birth                                    |
//! | 11–13                 | order number in the birth register                  |
//! | 14–15                 | key: `97 − (n mod 97)`, with 2A read as 19, 2B as 18 |
//!
//! [`Nir`]'s `Debug` masks everything after the month, so a NIR logged by mistake through `{:?}`
//! does not leak; `Display` shows the whole number, for the screens that must show it.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

/// Length of the matricule (the NIR without its key).
const MATRICULE_LEN: usize = 13;
/// Length of a NIR, key included.
const NIR_LEN: usize = 15;
/// Index (0-based) of the department's second character, the only place a letter may appear.
const CORSICA_LETTER_AT: usize = 6;

/// Why a text is not a valid NIR.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NirError {
    /// Not 15 characters once spaces are removed.
    #[error("a NIR has 15 characters (13 for the number, 2 for the key)")]
    Length,
    /// A character other than a digit, or a letter other than the A/B of a Corsican department.
    #[error("a NIR contains only digits, except 2A or 2B as the department")]
    Character,
    /// The first digit (sexe) is not 1, 2, 3, 4, 7 or 8.
    #[error("the first digit of a NIR must be 1, 2, 3, 4, 7 or 8")]
    Sex,
    /// The month of birth is not 01–12, 20, 30–42 or 50–99.
    #[error("the month of birth in a NIR must be 01-12, 20, 30-42 or 50-99")]
    Month,
    /// The department is 00, or a letter follows something other than 2.
    #[error("the department of birth in a NIR must be 01-99, 2A or 2B")]
    Department,
    /// The key is not `97 − (n mod 97)`.
    #[error("the key of the NIR does not match its number")]
    Key,
}

/// A validated NIR, normalised to 15 characters without spaces: the 13-character matricule (digits,
/// with "2A" or "2B" at positions 6–7 for Corsica) followed by the 2-digit key.
///
/// `Debug` prints only the masked form ([`Nir::masked`]); `Display` prints [`Nir::formatted`].
/// Serialised as the 15-character string; deserialised through [`Nir::parse`].
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Nir(String);

impl Nir {
    /// Parses a NIR. Surrounding whitespace and spaces anywhere inside are ignored, and the Corsican
    /// department may be written "2a" / "2b"; anything else (dots, dashes, tabs inside, …) is
    /// refused. Checks, in order: length, characters, sex digit, month, department, key.
    pub fn parse(s: &str) -> Result<Nir, NirError> {
        let compact: String = s.trim().chars().filter(|&c| c != ' ').collect();
        if compact.chars().count() != NIR_LEN {
            return Err(NirError::Length);
        }
        let mut normalised = String::with_capacity(NIR_LEN);
        for (i, c) in compact.chars().enumerate() {
            let c = match c {
                '0'..='9' => c,
                'a' | 'A' if i == CORSICA_LETTER_AT => 'A',
                'b' | 'B' if i == CORSICA_LETTER_AT => 'B',
                _ => return Err(NirError::Character),
            };
            normalised.push(c);
        }
        let b = normalised.as_bytes();

        let sex = digit(b, 0).ok_or(NirError::Character)?;
        if !matches!(sex, 1 | 2 | 3 | 4 | 7 | 8) {
            return Err(NirError::Sex);
        }

        let month = two_digits(b, 3).ok_or(NirError::Character)?;
        if !matches!(month, 1..=12 | 20 | 30..=42 | 50..=99) {
            return Err(NirError::Month);
        }

        match (b.get(5), b.get(CORSICA_LETTER_AT)) {
            (Some(b'2'), Some(b'A' | b'B')) => {}
            (_, Some(b'A' | b'B')) => return Err(NirError::Department),
            _ => {
                if two_digits(b, 5).ok_or(NirError::Character)? == 0 {
                    return Err(NirError::Department);
                }
            }
        }

        let key = two_digits(b, MATRICULE_LEN).ok_or(NirError::Character)?;
        let expected = normalised
            .get(..MATRICULE_LEN)
            .and_then(compute_key)
            .ok_or(NirError::Key)?;
        if key != expected {
            return Err(NirError::Key);
        }
        Ok(Nir(normalised))
    }

    /// The normalised NIR: 15 characters, no spaces, Corsican letters in upper case.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The matricule: the first 13 characters, without the key.
    pub fn matricule(&self) -> &str {
        self.0.get(..MATRICULE_LEN).unwrap_or_default()
    }

    /// The 2-digit key (01–97).
    pub fn key(&self) -> u8 {
        two_digits(self.0.as_bytes(), MATRICULE_LEN).unwrap_or_default()
    }

    /// The usual grouped form, e.g. "1 84 12 2A 123 456 78".
    pub fn formatted(&self) -> String {
        self.groups().join(" ")
    }

    /// The grouped form with everything after the month hidden, e.g. "1 84 12 •• ••• ••• ••":
    /// only the sex digit, the year and the month of birth are shown.
    pub fn masked(&self) -> String {
        self.groups()
            .iter()
            .enumerate()
            .map(|(i, g)| {
                if i < 3 {
                    (*g).to_owned()
                } else {
                    "•".repeat(g.chars().count())
                }
            })
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// The first digit (sexe): 1 or 3 for men, 2 or 4 for women, 7 or 8 for provisional numbers.
    pub fn sex_digit(&self) -> u8 {
        digit(self.0.as_bytes(), 0).unwrap_or_default()
    }

    /// Whether this is a provisional number (sex digit 7 or 8: numéro provisoire, NIA-like),
    /// not yet a definitive registration.
    pub fn is_provisional(&self) -> bool {
        matches!(self.sex_digit(), 7 | 8)
    }

    /// The seven display groups: sex, year, month, department, commune, order, key.
    fn groups(&self) -> [&str; 7] {
        let part = |from: usize, to: usize| self.0.get(from..to).unwrap_or_default();
        [
            part(0, 1),
            part(1, 3),
            part(3, 5),
            part(5, 7),
            part(7, 10),
            part(10, 13),
            part(13, 15),
        ]
    }
}

/// Computes the key of a 13-character matricule: `97 − (n mod 97)`, where `n` is the matricule read
/// as a number after replacing a Corsican "2A" by "19" and "2B" by "18". The result is in 1–97.
///
/// Checks only the shape (13 digits, or "2A"/"2B" — either case — at positions 6–7), not whether
/// the sex, month or department are valid; returns `None` if the shape is wrong.
pub fn compute_key(matricule13: &str) -> Option<u8> {
    let b = matricule13.as_bytes();
    if b.len() != MATRICULE_LEN {
        return None;
    }
    // Corsica: "2A" is read as "19" and "2B" as "18".
    let corsica = match (b.get(5), b.get(CORSICA_LETTER_AT)) {
        (Some(b'2'), Some(b'A' | b'a')) => Some((1, 9)),
        (Some(b'2'), Some(b'B' | b'b')) => Some((1, 8)),
        _ => None,
    };
    let mut n: u64 = 0;
    for (i, &c) in b.iter().enumerate() {
        let d = match (corsica, i) {
            (Some((tens, _)), 5) => tens,
            (Some((_, units)), CORSICA_LETTER_AT) => units,
            _ if c.is_ascii_digit() => c - b'0',
            _ => return None,
        };
        n = n * 10 + u64::from(d);
    }
    u8::try_from(97 - n % 97).ok()
}

/// The digit at `at`, if it is one.
fn digit(b: &[u8], at: usize) -> Option<u8> {
    b.get(at).filter(|c| c.is_ascii_digit()).map(|c| c - b'0')
}

/// The two-digit number at `at..at + 2`, if both are digits.
fn two_digits(b: &[u8], at: usize) -> Option<u8> {
    Some(digit(b, at)? * 10 + digit(b, at + 1)?)
}

impl fmt::Debug for Nir {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Nir({})", self.masked())
    }
}

/// Shows only the masked form, so a NIR formatted into a log line or a message never leaks; call
/// [`Nir::formatted`] where the full number is meant to be shown.
impl fmt::Display for Nir {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

impl FromStr for Nir {
    type Err = NirError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Nir::parse(s)
    }
}

impl Serialize for Nir {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Nir {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        // The error names the rule broken, never the input (a NIR is personal data).
        Nir::parse(&s).map_err(serde::de::Error::custom)
    }
}
