//! Passwords: the CNIL policy a new password must meet (AUTH-3) and Argon2id storage (AUTH-4).
//!
//! # Policy (CNIL délibération n° 2022-100, "mot de passe seul")
//!
//! A password used alone must carry at least 80 bits of entropy. The CNIL computes entropy as
//! `log2(N^L)`: `L` the length, `N` the size of the alphabet the characters are drawn from, the sum
//! of the classes present — 26 lower-case letters, 26 upper-case letters, 10 digits and 37 special
//! characters (the CNIL asks that at least 37 be allowed). Its examples, all accepted here:
//!
//! - 12 characters mixing the four classes (`12 × log2 99 = 79.6`, which the CNIL rounds to 80;
//!   we compare entropy rounded to the nearest bit for that reason);
//! - 14 characters of upper case, lower case and digits (83 bits);
//! - a passphrase of at least 7 words.
//!
//! The same rule gives 16 characters for lower case and digits, 17 for lower case alone, 24 for
//! digits alone. Every rule that refuses says which, with a stable code and a message telling the
//! person what to change. We also refuse the 10,000 most common passwords (`data/`), passwords that
//! contain the person's own identifiers, and passwords made mostly of repeats or sequences
//! (`aaaa`, `abcd`, `4321`, `azerty`). Up to 256 characters are accepted (the CNIL asks for ≥ 64).
//!
//! Passwords are normalised to Unicode NFKC before any check and before hashing (NIST SP 800-63B
//! § 5.1.1.2), so `é` typed on one keyboard and `e` + combining accent on another are the same.
//!
//! # Storage
//!
//! [`PasswordHasher`] hashes with Argon2id (RustCrypto `argon2`), OWASP parameters by default, a
//! 128-bit salt drawn from the injected [`Entropy`], and an optional server-side pepper passed to
//! Argon2 as its secret input. Verifying for an unknown account runs Argon2 against a dummy hash
//! with the same parameters, so "no such user" and "wrong password" take the same time.

use std::collections::HashSet;
use std::fmt;
use std::sync::{LazyLock, OnceLock};

use argon2::password_hash::phc;
use argon2::{Algorithm, Argon2, PasswordHasher as _, PasswordVerifier as _, Version};
use galien_core::{Entropy, Lang};
use secrecy::{ExposeSecret, SecretString};
use unicode_normalization::UnicodeNormalization;
use zeroize::Zeroizing;

/// Entropy a password alone must reach, in bits (CNIL 2022-100).
pub const MIN_BITS: f64 = 80.0;
/// Fewest characters any password may have (12 characters of four classes).
pub const MIN_LENGTH: usize = 12;
/// Most characters a password may have; the CNIL asks that at least 64 be accepted.
pub const MAX_LENGTH: usize = 256;
/// Distinct words (of two characters or more) that make a passphrase acceptable (CNIL 2022-100).
pub const PASSPHRASE_MIN_WORDS: usize = 7;
/// Identifiers shorter than this are not looked for inside passwords (too many false alarms).
pub const MIN_IDENTIFIER_LENGTH: usize = 4;

/// The 10,000 most common passwords, lower-case, one per line, most common first (see
/// `data/README.md` for source and licence).
const COMMON_PASSWORDS_TXT: &str = include_str!("../data/common-passwords.txt");

static COMMON_PASSWORDS: LazyLock<HashSet<&'static str>> = LazyLock::new(|| {
    COMMON_PASSWORDS_TXT
        .lines()
        .filter(|l| !l.is_empty())
        .collect()
});

/// A kind of character, as the CNIL counts them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CharClass {
    /// Lower-case letters (26 counted, accented ones included in the class).
    Lower,
    /// Upper-case letters (26 counted).
    Upper,
    /// Digits (10).
    Digit,
    /// Everything else: punctuation, symbols, spaces (37 counted, the CNIL's minimum list).
    Special,
}

impl CharClass {
    /// All four classes, in the order messages list them.
    pub const ALL: [CharClass; 4] = [
        CharClass::Upper,
        CharClass::Lower,
        CharClass::Digit,
        CharClass::Special,
    ];

    /// How many characters the CNIL counts in this class.
    pub fn size(self) -> u32 {
        match self {
            CharClass::Lower | CharClass::Upper => 26,
            CharClass::Digit => 10,
            CharClass::Special => 37,
        }
    }

    /// The class of one character.
    pub fn of(c: char) -> Self {
        if c.is_ascii_digit() {
            CharClass::Digit
        } else if c.is_lowercase() {
            CharClass::Lower
        } else if c.is_uppercase() {
            CharClass::Upper
        } else {
            CharClass::Special
        }
    }

    fn noun(self, lang: Lang) -> &'static str {
        match (self, lang) {
            (CharClass::Upper, Lang::Fr) => "une majuscule",
            (CharClass::Lower, Lang::Fr) => "une minuscule",
            (CharClass::Digit, Lang::Fr) => "un chiffre",
            (CharClass::Special, Lang::Fr) => "un caractère spécial (!, ?, #, espace…)",
            (CharClass::Upper, Lang::En) => "an upper-case letter",
            (CharClass::Lower, Lang::En) => "a lower-case letter",
            (CharClass::Digit, Lang::En) => "a digit",
            (CharClass::Special, Lang::En) => "a special character (!, ?, #, space…)",
        }
    }
}

/// Which of the person's identifiers a password contains.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdentifierKind {
    /// The email address or a part of it.
    Email,
    /// A first name, last name or full name.
    Name,
    /// Another identifier (login, RPPS/ADELI number, phone number…).
    Other,
}

/// What the person is known by, so a password cannot contain it.
#[derive(Debug, Clone, Default)]
pub struct PasswordContext {
    /// The account's email address.
    pub email: Option<String>,
    /// First names, last names, full names.
    pub names: Vec<String>,
    /// Other identifiers: login, RPPS/ADELI number, phone number, date of birth as typed…
    pub other: Vec<String>,
}

impl PasswordContext {
    /// Identifiers of at least [`MIN_IDENTIFIER_LENGTH`] characters, lower-cased, with the kind.
    fn identifiers(&self) -> Vec<(String, IdentifierKind)> {
        let mut out = Vec::new();
        let mut push = |s: &str, kind: IdentifierKind| {
            let s = normalise(s.trim()).to_lowercase();
            if s.chars().count() >= MIN_IDENTIFIER_LENGTH {
                out.push((s.clone(), kind));
            }
        };
        if let Some(email) = &self.email {
            push(email, IdentifierKind::Email);
            let local = email.split('@').next().unwrap_or_default();
            push(local, IdentifierKind::Email);
            for part in local.split(['.', '-', '_', '+']) {
                push(part, IdentifierKind::Email);
            }
        }
        for name in &self.names {
            push(name, IdentifierKind::Name);
            for part in name.split(|c: char| c.is_whitespace() || c == '-' || c == '\'' || c == '’')
            {
                push(part, IdentifierKind::Name);
            }
        }
        for other in &self.other {
            push(other, IdentifierKind::Other);
        }
        out
    }
}

/// Why a new password is refused. Each reason has a stable [`code`](Self::code) and a message
/// that tells the person what to change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PasswordRejection {
    /// Fewer than [`MIN_LENGTH`] characters, and not a passphrase.
    TooShort {
        /// Characters given.
        length: usize,
    },
    /// More than [`MAX_LENGTH`] characters.
    TooLong {
        /// Characters given.
        length: usize,
    },
    /// Long enough in absolute terms, but too short for the kinds of characters it mixes to
    /// reach 80 bits.
    NotEnoughVariety {
        /// Characters given.
        length: usize,
        /// Characters needed with the classes present.
        needed_length: usize,
        /// Classes absent; adding one lowers `needed_length`.
        missing: Vec<CharClass>,
    },
    /// Among the 10,000 most common passwords (compared case-insensitively).
    Common,
    /// Contains the person's email, name or another of their identifiers.
    ContainsIdentifier {
        /// Which kind of identifier.
        kind: IdentifierKind,
    },
    /// Made mostly of repeated characters or words, a repeated pattern, or an alphabet or
    /// keyboard sequence.
    Sequence,
}

impl PasswordRejection {
    /// The stable code, e.g. `PWD-COMMON`.
    pub fn code(&self) -> &'static str {
        match self {
            PasswordRejection::TooShort { .. } => "PWD-TOO-SHORT",
            PasswordRejection::TooLong { .. } => "PWD-TOO-LONG",
            PasswordRejection::NotEnoughVariety { .. } => "PWD-CLASSES",
            PasswordRejection::Common => "PWD-COMMON",
            PasswordRejection::ContainsIdentifier { .. } => "PWD-CONTAINS-IDENTIFIER",
            PasswordRejection::Sequence => "PWD-SEQUENCE",
        }
    }

    /// The message in the person's language.
    pub fn message(&self, lang: Lang) -> String {
        match lang {
            Lang::Fr => self.message_fr(),
            Lang::En => self.message_en(),
        }
    }

    /// The message in French.
    pub fn message_fr(&self) -> String {
        match self {
            PasswordRejection::TooShort { length } => format!(
                "Ce mot de passe compte {length} caractère(s) ; il en faut au moins {MIN_LENGTH} \
                 mêlant majuscules, minuscules, chiffres et caractères spéciaux (ou 14 sans \
                 caractère spécial), ou bien une phrase de passe d'au moins \
                 {PASSPHRASE_MIN_WORDS} mots."
            ),
            PasswordRejection::TooLong { length } => format!(
                "Ce mot de passe compte {length} caractères ; {MAX_LENGTH} au plus sont \
                 acceptés. Raccourcissez-le."
            ),
            PasswordRejection::NotEnoughVariety {
                length,
                needed_length,
                missing,
            } => {
                let add = if missing.is_empty() {
                    String::new()
                } else {
                    format!(", ou ajoutez {}", join(missing, Lang::Fr))
                };
                format!(
                    "Avec les types de caractères qu'il mélange, ce mot de passe doit compter au \
                     moins {needed_length} caractères (il en a {length}). Allongez-le{add} ; une \
                     phrase de passe d'au moins {PASSPHRASE_MIN_WORDS} mots différents convient \
                     aussi."
                )
            }
            PasswordRejection::Common => "Ce mot de passe fait partie des 10 000 mots de passe \
                 les plus courants, que les attaquants essaient en premier. Choisissez-en un autre, \
                 par exemple une phrase de passe de 7 mots ou plus."
                .to_owned(),
            PasswordRejection::ContainsIdentifier { kind } => {
                let what = match kind {
                    IdentifierKind::Email => "votre adresse électronique (ou une partie)",
                    IdentifierKind::Name => "votre nom ou votre prénom",
                    IdentifierKind::Other => "l'un de vos identifiants",
                };
                format!(
                    "Ce mot de passe contient {what}, que d'autres peuvent connaître. Retirez-le \
                     du mot de passe."
                )
            }
            PasswordRejection::Sequence => "Ce mot de passe est fait surtout de caractères \
                 ou de mots répétés, d'un motif répété ou d'une suite (abcd, 1234, azerty). \
                 Remplacez ces répétitions et ces suites par des caractères moins prévisibles."
                .to_owned(),
        }
    }

    /// The message in English.
    pub fn message_en(&self) -> String {
        match self {
            PasswordRejection::TooShort { length } => format!(
                "This password has {length} character(s); it needs at least {MIN_LENGTH} mixing \
                 upper case, lower case, digits and special characters (or 14 without a special \
                 character), or else a passphrase of at least {PASSPHRASE_MIN_WORDS} words."
            ),
            PasswordRejection::TooLong { length } => format!(
                "This password has {length} characters; at most {MAX_LENGTH} are accepted. \
                 Shorten it."
            ),
            PasswordRejection::NotEnoughVariety {
                length,
                needed_length,
                missing,
            } => {
                let add = if missing.is_empty() {
                    String::new()
                } else {
                    format!(", or add {}", join(missing, Lang::En))
                };
                format!(
                    "With the kinds of characters it mixes, this password needs at least \
                     {needed_length} characters (it has {length}). Make it longer{add}; a \
                     passphrase of at least {PASSPHRASE_MIN_WORDS} different words also works."
                )
            }
            PasswordRejection::Common => "This password is one of the 10,000 most common \
                 passwords, which attackers try first. Choose another one, for instance a \
                 passphrase of 7 words or more."
                .to_owned(),
            PasswordRejection::ContainsIdentifier { kind } => {
                let what = match kind {
                    IdentifierKind::Email => "your email address (or part of it)",
                    IdentifierKind::Name => "your name",
                    IdentifierKind::Other => "one of your identifiers",
                };
                format!(
                    "This password contains {what}, which others may know. Remove it from the \
                     password."
                )
            }
            PasswordRejection::Sequence => "This password is made mostly of repeated \
                 characters or words, a repeated pattern or a sequence (abcd, 1234, qwerty). \
                 Replace those repeats and sequences with less predictable characters."
                .to_owned(),
        }
    }
}

impl fmt::Display for PasswordRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code(), self.message_en())
    }
}

impl std::error::Error for PasswordRejection {}

fn join(classes: &[CharClass], lang: Lang) -> String {
    let or = match lang {
        Lang::Fr => " ou ",
        Lang::En => " or ",
    };
    let nouns: Vec<&str> = classes.iter().map(|c| c.noun(lang)).collect();
    match nouns.split_last() {
        None => String::new(),
        Some((last, [])) => (*last).to_owned(),
        Some((last, rest)) => format!("{}{or}{last}", rest.join(", ")),
    }
}

/// A password that meets the policy. Only [`Password::parse`] makes one; `Debug` is redacted.
pub struct Password(SecretString);

impl Password {
    /// Checks a new password against the policy; the first reason for refusal if any
    /// ([`Password::rejections`] gives them all).
    pub fn parse(s: &str, context: &PasswordContext) -> Result<Password, PasswordRejection> {
        match Self::rejections(s, context).into_iter().next() {
            Some(reason) => Err(reason),
            None => Ok(Password(SecretString::from(normalise(s).to_string()))),
        }
    }

    /// Every reason the policy refuses `s`, most fundamental first; empty when it is accepted.
    /// Lets a form show all that must change at once.
    pub fn rejections(s: &str, context: &PasswordContext) -> Vec<PasswordRejection> {
        // Bound the work before normalising (and reject megabytes of input quickly).
        if s.chars().count() > MAX_LENGTH * 4 {
            return vec![PasswordRejection::TooLong {
                length: s.chars().count(),
            }];
        }
        let s = normalise(s);
        let chars: Vec<char> = s.chars().collect();
        let length = chars.len();
        if length > MAX_LENGTH {
            return vec![PasswordRejection::TooLong { length }];
        }
        let lower = s.to_lowercase();
        let mut reasons = Vec::new();

        if !is_passphrase(&s) {
            if length < MIN_LENGTH {
                reasons.push(PasswordRejection::TooShort { length });
            } else {
                let present = classes(&chars);
                let needed_length = needed_length(&present);
                if length < needed_length {
                    let missing = CharClass::ALL
                        .into_iter()
                        .filter(|c| !present.contains(c))
                        .collect();
                    reasons.push(PasswordRejection::NotEnoughVariety {
                        length,
                        needed_length,
                        missing,
                    });
                }
            }
        }
        if COMMON_PASSWORDS.contains(lower.as_str()) {
            reasons.push(PasswordRejection::Common);
        }
        if let Some((_, kind)) = context
            .identifiers()
            .into_iter()
            .find(|(ident, _)| lower.contains(ident.as_str()))
        {
            reasons.push(PasswordRejection::ContainsIdentifier { kind });
        }
        if is_mostly_sequence(&lower) {
            reasons.push(PasswordRejection::Sequence);
        }
        reasons
    }

    /// The password, for hashing. Keep the borrow short.
    fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

fn normalise(s: &str) -> Zeroizing<String> {
    Zeroizing::new(s.nfkc().collect())
}

/// The classes present in `chars`, in [`CharClass::ALL`] order.
fn classes(chars: &[char]) -> Vec<CharClass> {
    CharClass::ALL
        .into_iter()
        .filter(|class| chars.iter().any(|c| CharClass::of(*c) == *class))
        .collect()
}

fn alphabet_size(classes: &[CharClass]) -> u32 {
    classes.iter().map(|c| c.size()).sum()
}

/// Whether `bits` reaches [`MIN_BITS`] once rounded to the nearest bit, as the CNIL rounds.
fn meets_threshold(bits: f64) -> bool {
    bits.round() >= MIN_BITS
}

fn bits_for(length: usize, alphabet: u32) -> f64 {
    if length == 0 || alphabet < 2 {
        return 0.0;
    }
    length as f64 * f64::from(alphabet).log2()
}

/// The fewest characters that reach 80 bits with these classes.
fn needed_length(classes: &[CharClass]) -> usize {
    let alphabet = alphabet_size(classes);
    (MIN_LENGTH..=MAX_LENGTH)
        .find(|l| meets_threshold(bits_for(*l, alphabet)))
        .unwrap_or(MAX_LENGTH)
}

/// The password's entropy in bits as the CNIL computes it: `length × log2(alphabet)`, the
/// alphabet being the sum of the sizes of the classes present (26 + 26 + 10 + 37). For a
/// strength meter; the policy itself is [`Password::parse`].
pub fn estimate_bits(s: &str) -> f64 {
    let chars: Vec<char> = s.nfkc().collect();
    bits_for(chars.len(), alphabet_size(&classes(&chars)))
}

/// At least [`PASSPHRASE_MIN_WORDS`] distinct words of two characters or more, separated by
/// spaces or other non-alphanumeric characters.
fn is_passphrase(s: &str) -> bool {
    let words: HashSet<String> = s
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.chars().count() >= 2)
        .map(str::to_lowercase)
        .collect();
    words.len() >= PASSPHRASE_MIN_WORDS
}

const KEYBOARD_ROWS: [&str; 9] = [
    "1234567890",
    "qwertyuiop",
    "asdfghjkl",
    "zxcvbnm",
    "azertyuiop",
    "qsdfghjklm",
    "wxcvbn",
    "qwertzuiop",
    "yxcvbnm",
];

const REPEAT: u8 = 1;
const ALPHA_UP: u8 = 2;
const ALPHA_DOWN: u8 = 4;
const KEYS_RIGHT: u8 = 8;
const KEYS_LEFT: u8 = 16;

/// How `b` follows `a`: a set of the relations above (empty when it does not predictably).
fn relation(a: char, b: char) -> u8 {
    let mut rel = 0;
    if a == b {
        rel |= REPEAT;
    }
    let same_kind = (a.is_ascii_lowercase() && b.is_ascii_lowercase())
        || (a.is_ascii_digit() && b.is_ascii_digit());
    if same_kind {
        if u32::from(b) == u32::from(a) + 1 {
            rel |= ALPHA_UP;
        }
        if u32::from(a) == u32::from(b) + 1 {
            rel |= ALPHA_DOWN;
        }
    }
    for row in KEYBOARD_ROWS {
        if let (Some(i), Some(j)) = (row.find(a), row.find(b)) {
            if j == i + 1 {
                rel |= KEYS_RIGHT;
            }
            if i == j + 1 {
                rel |= KEYS_LEFT;
            }
        }
    }
    rel
}

/// Runs of at least this many characters that follow one relation count as a sequence.
const MIN_RUN: usize = 4;

/// Fewer distinct characters than this is a pattern, whatever the length (`ab1!ab1!ab1!`).
const MIN_DISTINCT_CHARS: usize = 6;

/// True when half the characters or more sit in repeats or sequences of [`MIN_RUN`] or more
/// (`aaaa`, `abcd`, `9876`, `azerty`); when the whole is one short pattern repeated
/// (`Ab1!Ab1!Ab1!`) or uses fewer than [`MIN_DISTINCT_CHARS`] characters; or when at least half
/// its words are repeats (`vent vent vent vent`). `lower` is the lower-cased password.
fn is_mostly_sequence(lower: &str) -> bool {
    let chars: Vec<char> = lower.chars().collect();
    let n = chars.len();
    if n == 0 {
        return false;
    }
    if chars.iter().collect::<HashSet<_>>().len() < MIN_DISTINCT_CHARS {
        return true;
    }
    let words: Vec<&str> = lower
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    if words.len() >= 3 && words.iter().collect::<HashSet<_>>().len() * 2 <= words.len() {
        return true;
    }
    for period in 1..=n / 2 {
        if n.is_multiple_of(period) {
            let mut chunks = chars.chunks(period);
            let first = chunks.next();
            if chunks.all(|c| Some(c) == first) {
                return true;
            }
        }
    }

    let mut covered = 0;
    let mut run_len = 1; // characters in the current run
    let mut run_rel = 0u8;
    for pair in chars.windows(2) {
        let [a, b] = pair else { continue };
        let rel = relation(*a, *b);
        if run_rel & rel != 0 {
            run_rel &= rel;
            run_len += 1;
        } else {
            if run_len >= MIN_RUN {
                covered += run_len;
            }
            run_rel = rel;
            run_len = if rel == 0 { 1 } else { 2 };
        }
    }
    if run_len >= MIN_RUN {
        covered += run_len;
    }
    covered * 2 >= n
}

/// Argon2id cost parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashParams {
    /// Memory, in KiB.
    pub memory_kib: u32,
    /// Passes over memory.
    pub iterations: u32,
    /// Lanes.
    pub parallelism: u32,
}

impl HashParams {
    /// OWASP Password Storage Cheat Sheet: Argon2id, m = 19 MiB, t = 2, p = 1.
    pub const OWASP: HashParams = HashParams {
        memory_kib: 19 * 1024,
        iterations: 2,
        parallelism: 1,
    };

    /// Deliberately weak, so tests run fast. Never in production.
    pub const FAST_FOR_TESTS: HashParams = HashParams {
        memory_kib: 64,
        iterations: 1,
        parallelism: 1,
    };

    fn to_argon2(self) -> Result<argon2::Params, PasswordHashError> {
        argon2::Params::new(
            self.memory_kib,
            self.iterations,
            self.parallelism,
            Some(OUTPUT_LEN),
        )
        .map_err(|_| PasswordHashError::InvalidParams)
    }
}

impl Default for HashParams {
    fn default() -> Self {
        Self::OWASP
    }
}

const OUTPUT_LEN: usize = 32;
const SALT_LEN: usize = 16;
/// Salt of the dummy hash. Fixed: the dummy never verifies anything, it only costs the same.
const DUMMY_SALT: [u8; SALT_LEN] = *b"galien-dummy-slt";
const DUMMY_PASSWORD: &[u8] = b"galien: no account has this password hash";

/// Why hashing failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PasswordHashError {
    /// The Argon2 parameters are out of range.
    #[error("invalid Argon2 parameters")]
    InvalidParams,
    /// The Argon2 computation failed.
    #[error("password hashing failed")]
    Hashing,
    /// A stored hash is not a PHC string.
    #[error("not a PHC password hash string")]
    Malformed,
}

/// A stored password hash: an Argon2id PHC string (`$argon2id$v=19$m=…,t=…,p=…$salt$hash`).
/// `Debug` does not show it.
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordHash(String);

impl PasswordHash {
    /// Rebuilds a hash read from storage; refuses text that is not a PHC string.
    pub fn from_phc(s: impl Into<String>) -> Result<Self, PasswordHashError> {
        let s = s.into();
        phc::PasswordHash::new(&s).map_err(|_| PasswordHashError::Malformed)?;
        Ok(Self(s))
    }

    /// The PHC string, to store.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PasswordHash(<redacted>)")
    }
}

/// Hashes and verifies passwords with Argon2id. Build one at start and share it.
pub struct PasswordHasher {
    pepper: Option<Zeroizing<[u8; 32]>>,
    params: HashParams,
    argon2_params: argon2::Params,
    /// The hash unknown accounts are verified against; made once, with `params`.
    dummy: OnceLock<phc::PasswordHash>,
}

impl PasswordHasher {
    /// A hasher with these parameters and, optionally, a pepper: a server key given to Argon2 as
    /// its secret input, so a stolen database alone does not allow offline guessing. Changing or
    /// removing the pepper makes every stored hash fail to verify. Computes the dummy hash for
    /// unknown accounts now, so a failure shows at start.
    pub fn new(pepper: Option<[u8; 32]>, params: HashParams) -> Result<Self, PasswordHashError> {
        let hasher = Self {
            pepper: pepper.map(Zeroizing::new),
            params,
            argon2_params: params.to_argon2()?,
            dummy: OnceLock::new(),
        };
        let dummy = hasher.make_dummy()?;
        // Just built, so the cell is empty.
        let _ = hasher.dummy.set(dummy);
        Ok(hasher)
    }

    /// OWASP parameters, no pepper.
    pub fn owasp() -> Result<Self, PasswordHashError> {
        Self::new(None, HashParams::OWASP)
    }

    /// A hasher with [`HashParams::FAST_FOR_TESTS`] and no pepper. Never in production.
    pub fn fast_for_tests() -> Self {
        let argon2_params = match HashParams::FAST_FOR_TESTS.to_argon2() {
            Ok(p) => p,
            // Unreachable (the constants are valid); falling back to stronger defaults is safe.
            Err(_) => argon2::Params::DEFAULT,
        };
        Self {
            pepper: None,
            params: HashParams::FAST_FOR_TESTS,
            argon2_params,
            dummy: OnceLock::new(),
        }
    }

    fn make_dummy(&self) -> Result<phc::PasswordHash, PasswordHashError> {
        self.argon2()?
            .hash_password_with_salt(DUMMY_PASSWORD, &DUMMY_SALT)
            .map_err(|_| PasswordHashError::Hashing)
    }

    fn dummy(&self) -> Option<&phc::PasswordHash> {
        if let Some(dummy) = self.dummy.get() {
            return Some(dummy);
        }
        let dummy = self.make_dummy().ok()?;
        Some(self.dummy.get_or_init(|| dummy))
    }

    /// The parameters new hashes are made with.
    pub fn params(&self) -> HashParams {
        self.params
    }

    fn argon2(&self) -> Result<Argon2<'_>, PasswordHashError> {
        match &self.pepper {
            Some(pepper) => Argon2::new_with_secret(
                pepper.as_slice(),
                Algorithm::Argon2id,
                Version::V0x13,
                self.argon2_params.clone(),
            )
            .map_err(|_| PasswordHashError::InvalidParams),
            None => Ok(Argon2::new(
                Algorithm::Argon2id,
                Version::V0x13,
                self.argon2_params.clone(),
            )),
        }
    }

    /// Hashes a password that met the policy, with a fresh 128-bit salt.
    pub fn hash(
        &self,
        password: &Password,
        entropy: &dyn Entropy,
    ) -> Result<PasswordHash, PasswordHashError> {
        let mut salt = [0u8; SALT_LEN];
        entropy.fill(&mut salt);
        let hash = self
            .argon2()?
            .hash_password_with_salt(password.expose().as_bytes(), &salt)
            .map_err(|_| PasswordHashError::Hashing)?;
        Ok(PasswordHash(hash.to_string()))
    }

    /// Whether `candidate` matches `stored`. With `stored` = `None` (no such account) or a hash
    /// Argon2 cannot use, Argon2 still runs, against a dummy hash with the current parameters,
    /// and the answer is `false`: an unknown account costs the same time as a wrong password.
    pub fn verify(&self, candidate: &str, stored: Option<&PasswordHash>) -> bool {
        let Ok(argon2) = self.argon2() else {
            return false;
        };
        let candidate = normalise(candidate);
        let parsed = stored.and_then(|h| phc::PasswordHash::new(h.as_str()).ok());
        if let Some(parsed) = parsed {
            match argon2.verify_password(candidate.as_bytes(), &parsed) {
                Ok(()) => return true,
                Err(argon2::password_hash::Error::PasswordInvalid) => return false,
                // A stored hash Argon2 cannot use (bad salt, unknown variant): refuse, but only
                // after the same work as any other refusal.
                Err(_) => {}
            }
        }
        if let Some(dummy) = self.dummy() {
            let outcome = argon2.verify_password(candidate.as_bytes(), dummy);
            // Keep the work observable so it is never optimised away; the answer is no.
            std::hint::black_box(outcome.is_ok());
        }
        false
    }

    /// Whether `stored` was made with other parameters (or another algorithm) than this hasher
    /// uses now; if so, hash the password again after a successful login. It cannot tell a
    /// change of pepper.
    pub fn needs_rehash(&self, stored: &PasswordHash) -> bool {
        let Ok(parsed) = phc::PasswordHash::new(stored.as_str()) else {
            return true;
        };
        if parsed.algorithm != argon2::ARGON2ID_IDENT
            || parsed.version != Some(u32::from(Version::V0x13))
        {
            return true;
        }
        if parsed.salt.as_ref().is_none_or(|s| s.len() < SALT_LEN) {
            return true;
        }
        match argon2::Params::try_from(&parsed) {
            Ok(p) => {
                p.m_cost() != self.params.memory_kib
                    || p.t_cost() != self.params.iterations
                    || p.p_cost() != self.params.parallelism
                    || p.output_len() != Some(OUTPUT_LEN)
            }
            Err(_) => true,
        }
    }
}

impl fmt::Debug for PasswordHasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PasswordHasher")
            .field("algorithm", &"argon2id")
            .field("params", &self.params)
            .field(
                "pepper",
                &if self.pepper.is_some() {
                    "<redacted>"
                } else {
                    "none"
                },
            )
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_list_has_ten_thousand_lower_case_entries() {
        assert_eq!(COMMON_PASSWORDS.len(), 10_000);
        assert!(COMMON_PASSWORDS.iter().all(|p| p.to_lowercase() == *p));
    }

    #[test]
    fn needed_lengths_follow_the_cnil_examples() {
        use CharClass::*;
        assert_eq!(needed_length(&[Upper, Lower, Digit, Special]), 12);
        assert_eq!(needed_length(&[Upper, Lower, Digit]), 14);
        assert_eq!(needed_length(&[Lower, Digit]), 16);
        assert_eq!(needed_length(&[Lower]), 17);
        assert_eq!(needed_length(&[Digit]), 24);
    }

    #[test]
    fn sequences_are_seen() {
        for s in [
            "aaaaaaaaaaaa",
            "abcdefghijkl",
            "azertyuiop12",
            "0987654321ab",
            "ab1!ab1!ab1!",
        ] {
            assert!(is_mostly_sequence(s), "{s}");
        }
        for s in ["cheval-lune-42-brique", "t7#kp2!wq9zm", "le chat dort"] {
            assert!(!is_mostly_sequence(s), "{s}");
        }
    }

    #[test]
    fn salt_and_output_match_the_documented_sizes() {
        let hasher = PasswordHasher::fast_for_tests();
        let pw = Password::parse("Tr0ub4dour&3-horse", &PasswordContext::default()).unwrap();
        let h = hasher
            .hash(&pw, &galien_core::SeededEntropy::new(1))
            .unwrap();
        let parsed = phc::PasswordHash::new(h.as_str()).unwrap();
        assert_eq!(parsed.salt.unwrap().len(), SALT_LEN);
        assert_eq!(parsed.hash.unwrap().len(), OUTPUT_LEN);
        assert!(h.as_str().starts_with("$argon2id$v=19$m=64,t=1,p=1$"));
    }
}
