//! Stable error codes. A code never changes meaning once shipped: clients, runbooks and the DPO's
//! reports depend on it. Each code carries its class (which HTTP status the web layer gives it)
//! and a human message in every language Galien speaks; no code ever carries a secret, SQL text
//! or a stack trace.

use crate::Lang;

/// What kind of failure a code is; the web layer maps each class to exactly one HTTP status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// The request itself is wrong (400 / 422).
    BadInput,
    /// Authentication is missing or insufficient (401).
    Unauthenticated,
    /// The actor is known but not allowed (403).
    Forbidden,
    /// The thing does not exist, or the actor may not know it exists (404).
    NotFound,
    /// The thing existed but is gone for good: used or expired (410).
    Gone,
    /// The request conflicts with the current state (409).
    Conflict,
    /// Too many attempts (429).
    TooMany,
    /// The request body is too large (413).
    TooLarge,
    /// A dependency (the database) does not answer (503).
    Unavailable,
    /// A fault of ours (500).
    Internal,
}

macro_rules! error_codes {
    ($( $(#[$doc:meta])* $variant:ident = $code:literal, $class:ident, fr: $fr:literal, en: $en:literal; )*) => {
        /// Every error Galien reports, with a stable textual code.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum ErrorCode {
            $( $(#[$doc])* $variant, )*
        }

        impl ErrorCode {
            /// All codes, for documentation and exhaustive tests.
            pub const ALL: &'static [ErrorCode] = &[ $( ErrorCode::$variant, )* ];

            /// The stable code, e.g. `REQ-INVALID`.
            pub fn as_str(self) -> &'static str {
                match self { $( ErrorCode::$variant => $code, )* }
            }

            /// The class that decides the HTTP status.
            pub fn class(self) -> ErrorClass {
                match self { $( ErrorCode::$variant => ErrorClass::$class, )* }
            }

            /// A message for a person, in their language.
            pub fn message(self, lang: Lang) -> &'static str {
                match (self, lang) {
                    $( (ErrorCode::$variant, Lang::Fr) => $fr,
                       (ErrorCode::$variant, Lang::En) => $en, )*
                }
            }
        }
    };
}

error_codes! {
    /// A parameter or body could not be understood.
    RequestInvalid = "REQ-INVALID", BadInput,
        fr: "La requête est invalide.",
        en: "The request is invalid.";
    /// No such page or resource.
    NotFound = "REQ-NOT-FOUND", NotFound,
        fr: "Cette page n'existe pas.",
        en: "This page does not exist.";
    /// The body is larger than allowed.
    RequestTooLarge = "REQ-TOO-LARGE", TooLarge,
        fr: "La requête est trop volumineuse.",
        en: "The request is too large.";
    /// The method is not allowed on this resource.
    MethodNotAllowed = "REQ-METHOD", BadInput,
        fr: "Cette méthode n'est pas permise ici.",
        en: "This method is not allowed here.";
    /// The request took too long and was abandoned (nothing was changed).
    Timeout = "REQ-TIMEOUT", Unavailable,
        fr: "Le serveur a mis trop de temps à répondre ; rien n'a été modifié. Réessayez.",
        en: "The server took too long to answer; nothing was changed. Please retry.";
    /// Sign-in is required.
    AuthRequired = "AUTH-REQUIRED", Unauthenticated,
        fr: "Veuillez vous identifier.",
        en: "Please sign in.";
    /// The action is not allowed for this actor.
    AccessDenied = "ACC-DENIED", Forbidden,
        fr: "Vous n'êtes pas autorisé à effectuer cette action.",
        en: "You are not allowed to do this.";
    /// An enrolment link that never existed or was revoked.
    EnrolmentLinkInvalid = "ENROL-LINK-INVALID", NotFound,
        fr: "Ce lien d'enrôlement n'est pas valide. Demandez un nouveau lien à l'exploitant.",
        en: "This enrolment link is not valid. Ask the operator for a new one.";
    /// An enrolment link past its expiry time.
    EnrolmentLinkExpired = "ENROL-LINK-EXPIRED", Gone,
        fr: "Ce lien d'enrôlement a expiré. Demandez un nouveau lien à l'exploitant.",
        en: "This enrolment link has expired. Ask the operator for a new one.";
    /// An enrolment link that was already used.
    EnrolmentLinkUsed = "ENROL-LINK-USED", Gone,
        fr: "Ce lien d'enrôlement a déjà été utilisé.",
        en: "This enrolment link has already been used.";
    /// The database does not answer.
    Unavailable = "SRV-UNAVAILABLE", Unavailable,
        fr: "Le service est momentanément indisponible ; rien n'a été modifié. Réessayez dans un instant.",
        en: "The service is temporarily unavailable; nothing was changed. Please retry shortly.";
    /// A fault of ours; details are in the server log under the request id.
    Internal = "SRV-INTERNAL", Internal,
        fr: "Une erreur interne est survenue ; elle a été consignée. Communiquez l'identifiant de requête au support.",
        en: "An internal error occurred and was logged. Give the request id to support.";
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn codes_are_unique_and_well_formed() {
        let mut seen = HashSet::new();
        for code in ErrorCode::ALL {
            let s = code.as_str();
            assert!(seen.insert(s), "duplicate code {s}");
            assert!(
                s.chars().all(|c| c.is_ascii_uppercase() || c == '-'),
                "code {s} must be UPPER-KEBAB"
            );
            for lang in [Lang::Fr, Lang::En] {
                assert!(!code.message(lang).is_empty());
            }
            assert_ne!(
                code.message(Lang::Fr),
                code.message(Lang::En),
                "{s} is not translated"
            );
        }
    }
}
