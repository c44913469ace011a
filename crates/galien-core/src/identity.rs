//! Who people are to Galien: roles, account states, e-mail addresses, professional identifiers
//! (RPPS, ADELI), assurance levels, and the [`Actor`] every request resolves to.

use crate::ids::UserId;
use serde::{Deserialize, Serialize};

macro_rules! text_enum {
    ($(#[$doc:meta])* $name:ident { $( $(#[$vdoc:meta])* $variant:ident = $text:literal ),* $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $( $(#[$vdoc])* $variant, )* }

        impl $name {
            /// Every value.
            pub const ALL: &'static [$name] = &[ $( $name::$variant, )* ];

            /// The stable text stored and exchanged.
            pub fn as_str(self) -> &'static str {
                match self { $( $name::$variant => $text, )* }
            }

            /// Parses the stable text.
            pub fn parse(s: &str) -> Option<Self> {
                match s { $( $text => Some($name::$variant), )* _ => None }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

text_enum! {
    /// A person's role (ACC-2). Devices are machine identities, not people, and have no role here.
    Role {
        /// Médecin.
        Medecin = "medecin",
        /// Infirmier / infirmière.
        Infirmier = "infirmier",
        /// Pharmacien.
        Pharmacien = "pharmacien",
        /// Sage-femme.
        SageFemme = "sage_femme",
        /// Autre professionnel de santé (kinésithérapeute, …).
        AutreProfessionnel = "autre_professionnel",
        /// Assistant de régulation médicale.
        Arm = "arm",
        /// Secrétaire médicale: schedules, sees no clinical content.
        Secretaire = "secretaire",
        /// Ingénieur biomédical: devices, no clinical content.
        IngenieurBiomedical = "ingenieur_biomedical",
        /// Délégué à la protection des données / security officer: traces, no clinical content.
        Dpo = "dpo",
        /// Administrateur: accounts and configuration, no clinical content.
        Administrateur = "administrateur",
        /// Patient.
        Patient = "patient",
    }
}

impl Role {
    /// Whether the role is a health professional (needs an RPPS or ADELI number).
    pub fn is_health_professional(self) -> bool {
        matches!(
            self,
            Role::Medecin
                | Role::Infirmier
                | Role::Pharmacien
                | Role::SageFemme
                | Role::AutreProfessionnel
        )
    }

    /// French label.
    pub fn label_fr(self) -> &'static str {
        match self {
            Role::Medecin => "Médecin",
            Role::Infirmier => "Infirmier·ère",
            Role::Pharmacien => "Pharmacien·ne",
            Role::SageFemme => "Sage-femme",
            Role::AutreProfessionnel => "Autre professionnel de santé",
            Role::Arm => "Assistant·e de régulation médicale",
            Role::Secretaire => "Secrétaire médical·e",
            Role::IngenieurBiomedical => "Ingénieur·e biomédical·e",
            Role::Dpo => "Délégué·e à la protection des données",
            Role::Administrateur => "Administrateur·rice",
            Role::Patient => "Patient·e",
        }
    }

    /// English label.
    pub fn label_en(self) -> &'static str {
        match self {
            Role::Medecin => "Doctor",
            Role::Infirmier => "Nurse",
            Role::Pharmacien => "Pharmacist",
            Role::SageFemme => "Midwife",
            Role::AutreProfessionnel => "Other health professional",
            Role::Arm => "Emergency call assistant (ARM)",
            Role::Secretaire => "Medical secretary",
            Role::IngenieurBiomedical => "Biomedical engineer",
            Role::Dpo => "Data protection officer",
            Role::Administrateur => "Administrator",
            Role::Patient => "Patient",
        }
    }
}

text_enum! {
    /// An account's life (AUTH-8). Accounts are never deleted: traces name them.
    AccountStatus {
        /// Invited; the person has not yet set a password and a second factor.
        Invited = "invited",
        /// In use.
        Active = "active",
        /// Temporarily barred (can be reactivated).
        Suspended = "suspended",
        /// Closed for good; kept because traces name it.
        Deactivated = "deactivated",
    }
}

text_enum! {
    /// How a session was authenticated.
    AuthMethod {
        /// Password and TOTP code.
        PasswordTotp = "password_totp",
        /// Password and WebAuthn (security key, passkey).
        PasswordWebauthn = "password_webauthn",
        /// Password and a single-use recovery code.
        PasswordRecoveryCode = "password_recovery_code",
        /// TLS client certificate (CPS card style).
        ClientCertificate = "client_certificate",
        /// OpenID Connect provider asserting two factors (Pro Santé Connect style).
        Oidc = "oidc",
        /// Enrolment in progress: the password is set, the second factor not yet.
        Enrolment = "enrolment",
    }
}

/// How strongly the actor was authenticated. Health data needs [`Assurance::TwoFactors`] (AUTH-2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Assurance {
    /// One factor (a password alone, or enrolment in progress).
    OneFactor = 1,
    /// Two factors of different kinds.
    TwoFactors = 2,
}

impl Assurance {
    /// 1 or 2.
    pub fn level(self) -> u8 {
        self as u8
    }

    /// From 1 or 2.
    pub fn from_level(level: i64) -> Option<Self> {
        match level {
            1 => Some(Assurance::OneFactor),
            2 => Some(Assurance::TwoFactors),
            _ => None,
        }
    }
}

/// The authenticated identity behind a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// The account.
    pub user: UserId,
    /// Its role.
    pub role: Role,
    /// How it authenticated.
    pub method: AuthMethod,
    /// Its assurance level.
    pub assurance: Assurance,
}

/// An e-mail address, normalised (trimmed, lower-case): one account per address (AUTH-1).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Email(String);

impl Email {
    /// Parses an address: one `@`, a local part, a domain with a dot, no spaces, at most 254 chars.
    pub fn parse(s: &str) -> Option<Email> {
        let s = s.trim().to_lowercase();
        let (local, domain) = s.split_once('@')?;
        let ok = s.len() <= 254
            && !local.is_empty()
            && local.len() <= 64
            && domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains("..")
            && !s.chars().any(|c| {
                c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | '"' | ',' | ';')
            })
            && !domain.contains('@');
        ok.then_some(Email(s))
    }

    /// The address.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A French health professional's national identifier.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ProfessionalId {
    /// RPPS: 11 digits, the last a Luhn check digit.
    Rpps(String),
    /// ADELI: 9 digits.
    Adeli(String),
}

impl ProfessionalId {
    /// Parses an RPPS number (11 digits, Luhn key checked); spaces are ignored.
    pub fn rpps(s: &str) -> Option<Self> {
        let digits: String = s.chars().filter(|c| !c.is_whitespace()).collect();
        (digits.len() == 11 && digits.chars().all(|c| c.is_ascii_digit()) && luhn_ok(&digits))
            .then_some(ProfessionalId::Rpps(digits))
    }

    /// Parses an ADELI number (9 digits); spaces are ignored.
    pub fn adeli(s: &str) -> Option<Self> {
        let digits: String = s.chars().filter(|c| !c.is_whitespace()).collect();
        (digits.len() == 9 && digits.chars().all(|c| c.is_ascii_digit()))
            .then_some(ProfessionalId::Adeli(digits))
    }

    /// `rpps:…` or `adeli:…`, the stored form (unique per person).
    pub fn stored(&self) -> String {
        match self {
            ProfessionalId::Rpps(d) => format!("rpps:{d}"),
            ProfessionalId::Adeli(d) => format!("adeli:{d}"),
        }
    }

    /// Parses the stored form.
    pub fn from_stored(s: &str) -> Option<Self> {
        if let Some(d) = s.strip_prefix("rpps:") {
            Self::rpps(d)
        } else {
            s.strip_prefix("adeli:").and_then(Self::adeli)
        }
    }

    /// The digits.
    pub fn digits(&self) -> &str {
        match self {
            ProfessionalId::Rpps(d) | ProfessionalId::Adeli(d) => d,
        }
    }
}

fn luhn_ok(digits: &str) -> bool {
    let mut sum = 0u32;
    for (i, c) in digits.chars().rev().enumerate() {
        let Some(mut d) = c.to_digit(10) else {
            return false;
        };
        if i % 2 == 1 {
            d *= 2;
            if d > 9 {
                d -= 9;
            }
        }
        sum += d;
    }
    sum.is_multiple_of(10)
}

/// Computes the Luhn check digit to append to `body` (test fixtures build valid RPPS numbers with it).
pub fn luhn_check_digit(body: &str) -> Option<char> {
    (0..10u32)
        .filter_map(|d| char::from_digit(d, 10))
        .find(|d| luhn_ok(&format!("{body}{d}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_round_trip_and_professionals_are_flagged() {
        for r in Role::ALL {
            assert_eq!(Role::parse(r.as_str()), Some(*r));
            assert!(!r.label_fr().is_empty() && !r.label_en().is_empty());
        }
        assert!(Role::Medecin.is_health_professional());
        assert!(!Role::Secretaire.is_health_professional());
        assert!(!Role::Administrateur.is_health_professional());
    }

    #[test]
    fn auth_01_emails_are_normalised_so_one_address_is_one_account() {
        assert_eq!(
            Email::parse("  Dr.Martin@Hopital.FR ").unwrap().as_str(),
            "dr.martin@hopital.fr"
        );
        for bad in [
            "",
            "martin",
            "@hopital.fr",
            "martin@",
            "martin@hopital",
            "a b@c.fr",
            "a@b..fr",
            "a@@b.fr",
            "a@.b.fr",
        ] {
            assert!(Email::parse(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn auth_01_rpps_numbers_carry_a_luhn_key() {
        let body = "1000000001";
        let key = luhn_check_digit(body).unwrap();
        let good = format!("{body}{key}");
        let id = ProfessionalId::rpps(&good).unwrap();
        assert_eq!(ProfessionalId::from_stored(&id.stored()), Some(id));
        let wrong = format!("{body}{}", (key.to_digit(10).unwrap() + 1) % 10);
        assert!(ProfessionalId::rpps(&wrong).is_none());
        assert!(ProfessionalId::rpps("123").is_none());
        assert!(ProfessionalId::adeli("75 1234567").is_some());
        assert!(ProfessionalId::adeli("75123456X").is_none());
    }
}
