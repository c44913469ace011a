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
    /// A form field is missing or malformed (the page says which).
    FormInvalid = "REQ-FORM-INVALID", BadInput,
        fr: "Certains champs du formulaire sont à corriger.",
        en: "Some fields of the form need correcting.";
    /// The e-mail address is malformed.
    EmailInvalid = "REQ-EMAIL-INVALID", BadInput,
        fr: "Cette adresse e-mail n'est pas valide (exemple : prenom.nom@hopital.fr).",
        en: "This e-mail address is not valid (example: first.last@hospital.fr).";
    /// A name is required.
    NameRequired = "REQ-NAME-REQUIRED", BadInput,
        fr: "Indiquez le nom et le prénom (200 caractères au plus).",
        en: "Enter the full name (at most 200 characters).";
    /// The RPPS or ADELI number is malformed or missing for a health professional.
    ProfessionalIdInvalid = "REQ-RPPS-INVALID", BadInput,
        fr: "Numéro RPPS (11 chiffres) ou ADELI (9 chiffres) invalide ; il est obligatoire pour un professionnel de santé.",
        en: "Invalid RPPS (11 digits) or ADELI (9 digits) number; it is required for a health professional.";
    /// The form did not come from a Galien page of this session (CSRF).
    CsrfInvalid = "CSRF-INVALID", Forbidden,
        fr: "Ce formulaire a expiré ou ne provient pas de Galien. Rechargez la page et recommencez.",
        en: "This form has expired or did not come from Galien. Reload the page and try again.";
    /// Wrong e-mail or password (the same answer whether the account exists or not).
    BadCredentials = "AUTH-BAD-CREDENTIALS", Unauthenticated,
        fr: "Adresse e-mail ou mot de passe incorrect.",
        en: "Wrong e-mail address or password.";
    /// Too many failures: temporarily locked.
    Locked = "AUTH-LOCKED", TooMany,
        fr: "Trop de tentatives échouées : l'accès est temporairement bloqué. Réessayez plus tard ; l'équipe sécurité a été informée.",
        en: "Too many failed attempts: access is temporarily blocked. Try again later; the security team has been told.";
    /// The TOTP code is wrong.
    TotpInvalid = "AUTH-TOTP-INVALID", Unauthenticated,
        fr: "Ce code n'est pas valide. Vérifiez l'heure de votre téléphone et saisissez le code affiché.",
        en: "This code is not valid. Check your phone's clock and enter the code shown.";
    /// The TOTP code was already used (AUTH-6).
    TotpReplayed = "AUTH-TOTP-REPLAYED", Unauthenticated,
        fr: "Ce code a déjà été utilisé. Attendez le code suivant de votre application. Si vous ne l'avez pas saisi vous-même, prévenez votre administrateur.",
        en: "This code has already been used. Wait for the next code. If you did not enter it yourself, tell your administrator.";
    /// The recovery code is wrong or already used.
    RecoveryCodeInvalid = "AUTH-RECOVERY-INVALID", Unauthenticated,
        fr: "Ce code de secours n'est pas valide ou a déjà servi.",
        en: "This recovery code is not valid or has already been used.";
    /// The security key's answer was refused (unknown key, wrong site, bad signature, cloned key).
    WebauthnInvalid = "AUTH-WEBAUTHN-INVALID", Unauthenticated,
        fr: "Cette clé de sécurité n'a pas été acceptée. Utilisez une clé enregistrée sur votre compte, depuis l'adresse habituelle de Galien.",
        en: "This security key was not accepted. Use a key registered to your account, from Galien's usual address.";
    /// WebAuthn needs an HTTPS address with a domain name (or localhost).
    WebauthnUnavailable = "AUTH-WEBAUTHN-UNAVAILABLE", Conflict,
        fr: "Les clés de sécurité ne sont pas disponibles à cette adresse. Utilisez votre application d'authentification.",
        en: "Security keys are not available at this address. Use your authenticator app.";
    /// This key is already registered.
    WebauthnKeyKnown = "AUTH-WEBAUTHN-KNOWN", Conflict,
        fr: "Cette clé de sécurité est déjà enregistrée.",
        en: "This security key is already registered.";
    /// Removing this factor would leave the account without a second factor.
    LastFactor = "AUTH-LAST-FACTOR", Conflict,
        fr: "Impossible de retirer votre dernier second facteur : ajoutez-en d'abord un autre.",
        en: "You cannot remove your last second factor: add another one first.";
    /// The session ended (idle, absolute limit, logout, ended elsewhere).
    SessionExpired = "AUTH-SESSION-EXPIRED", Unauthenticated,
        fr: "Votre session a expiré. Identifiez-vous à nouveau.",
        en: "Your session has expired. Please sign in again.";
    /// The action needs a second factor entered just now (step-up).
    StepUpRequired = "AUTH-STEP-UP", Forbidden,
        fr: "Pour cette action, confirmez votre identité avec votre second facteur.",
        en: "For this action, confirm your identity with your second factor.";
    /// Two factors are needed first (AUTH-2).
    SecondFactorRequired = "AUTH-FACTOR-REQUIRED", Forbidden,
        fr: "Cette page demande une authentification forte : terminez d'abord la vérification en deux étapes.",
        en: "This page needs strong authentication: finish two-step verification first.";
    /// The account is suspended or deactivated.
    AccountDisabled = "AUTH-ACCOUNT-DISABLED", Forbidden,
        fr: "Ce compte est suspendu ou fermé. Contactez votre administrateur.",
        en: "This account is suspended or closed. Contact your administrator.";
    /// The e-mail address already belongs to an account (AUTH-1).
    EmailTaken = "AUTH-EMAIL-TAKEN", Conflict,
        fr: "Un compte existe déjà avec cette adresse e-mail : un compte est strictement personnel.",
        en: "An account already uses this e-mail address: accounts are strictly personal.";
    /// The RPPS/ADELI number already belongs to an account (AUTH-1).
    ProfessionalIdTaken = "AUTH-RPPS-TAKEN", Conflict,
        fr: "Un compte existe déjà pour ce numéro RPPS ou ADELI : un compte est strictement personnel.",
        en: "An account already exists for this RPPS or ADELI number: accounts are strictly personal.";
    /// The password does not meet the policy (the page lists why).
    WeakPassword = "AUTH-WEAK-PASSWORD", BadInput,
        fr: "Ce mot de passe ne convient pas.",
        en: "This password cannot be used.";
    /// Certificate sign-in was asked on a connection that presented no client certificate.
    CertificateMissing = "AUTH-CERT-MISSING", Unauthenticated,
        fr: "Aucune carte CPS ni certificat n'a été présenté. Insérez votre carte, saisissez votre code et rechargez la page.",
        en: "No CPS card or certificate was presented. Insert your card, enter your PIN and reload the page.";
    /// The client certificate cannot be read.
    CertificateInvalid = "AUTH-CERT-INVALID", Unauthenticated,
        fr: "Ce certificat ne peut pas être lu. Contactez votre administrateur.",
        en: "This certificate cannot be read. Contact your administrator.";
    /// The client certificate is outside its validity period.
    CertificateExpired = "AUTH-CERT-EXPIRED", Unauthenticated,
        fr: "Ce certificat n'est pas (ou plus) valide à cette date. Utilisez une carte en cours de validité.",
        en: "This certificate is not valid at this date. Use a card that is in date.";
    /// No active account matches the certificate's RPPS number or e-mail address.
    CertificateNoAccount = "AUTH-CERT-NO-ACCOUNT", Unauthenticated,
        fr: "Aucun compte actif ne correspond à cette carte. Demandez à votre administrateur de vous inviter avec votre numéro RPPS.",
        en: "No active account matches this card. Ask your administrator to invite you with your RPPS number.";
    /// The certificate names more than one person (several RPPS numbers or accounts).
    CertificateAmbiguous = "AUTH-CERT-AMBIGUOUS", Unauthenticated,
        fr: "Ce certificat désigne plusieurs identités ; il ne peut pas servir à se connecter. Contactez votre administrateur.",
        en: "This certificate names more than one identity; it cannot be used to sign in. Contact your administrator.";
    /// OpenID Connect sign-in failed: a tampered or stale request, a refused code, an ID token that
    /// does not verify (signature, issuer, audience, nonce, expiry). Details are in the trace.
    OidcFailed = "AUTH-OIDC-FAILED", Unauthenticated,
        fr: "La connexion par le fournisseur d'identité a échoué ou a expiré. Recommencez depuis la page de connexion.",
        en: "Sign-in through the identity provider failed or expired. Start again from the sign-in page.";
    /// The provider did not assert a recent two-factor authentication at the required level (AUTH-2).
    OidcWeak = "AUTH-OIDC-WEAK", Unauthenticated,
        fr: "Le fournisseur d'identité n'atteste pas une authentification forte et récente (deux facteurs de natures différentes, au niveau requis). Reconnectez-vous avec votre carte ou votre application e-CPS.",
        en: "The identity provider does not vouch for a strong, recent sign-in (two factors of different kinds, at the required level). Sign in again with your card or e-CPS app.";
    /// The provider's identity maps to no active Galien account (accounts are never created this way).
    OidcNoAccount = "AUTH-OIDC-NO-ACCOUNT", Forbidden,
        fr: "Aucun compte Galien actif ne correspond à ce numéro RPPS. Demandez une invitation à votre administrateur.",
        en: "No active Galien account matches this RPPS number. Ask your administrator for an invitation.";
    /// The identity provider does not answer.
    OidcUnavailable = "AUTH-OIDC-UNAVAILABLE", Unavailable,
        fr: "Le fournisseur d'identité ne répond pas. Réessayez dans un instant ou connectez-vous avec votre mot de passe et votre second facteur.",
        en: "The identity provider does not answer. Retry shortly, or sign in with your password and second factor.";
    /// A NIR whose form or key is wrong.
    NirInvalid = "PAT-NIR-INVALID", BadInput,
        fr: "Le NIR saisi n'est pas valide : vérifiez les 13 chiffres et la clé (2A/2B pour la Corse).",
        en: "The NIR entered is not valid: check the 13 digits and the key (2A/2B for Corsica).";
    /// Another patient already has this NIR.
    NirTaken = "PAT-NIR-TAKEN", Conflict,
        fr: "Un patient portant ce NIR existe déjà : recherchez-le plutôt que de créer un doublon.",
        en: "A patient with this NIR already exists: search for them rather than create a duplicate.";
    /// Identity traits missing or malformed.
    PatientIdentityInvalid = "PAT-IDENTITY-INVALID", BadInput,
        fr: "L'identité est incomplète : nom de naissance, prénoms, sexe et date de naissance sont obligatoires, le lieu de naissance est un code INSEE à 5 caractères.",
        en: "The identity is incomplete: birth name, first names, sex and birth date are required; the birth place is a 5-character INSEE code.";
    /// A qualified INS needs a NIR.
    InsNeedsNir = "PAT-INS-NEEDS-NIR", BadInput,
        fr: "Une identité récupérée ou qualifiée exige le matricule INS (NIR).",
        en: "A retrieved or qualified identity requires the INS number (NIR).";
    /// An emergency access without a reason.
    EmergencyReasonRequired = "ACC-EMERGENCY-REASON", BadInput,
        fr: "Indiquez le motif de l'accès d'urgence (au moins 10 caractères) : il sera revu par le délégué à la protection des données.",
        en: "Give the reason for the emergency access (at least 10 characters): the data protection officer will review it.";
    /// The person is already in the care team.
    AlreadyInCareTeam = "ACC-CARE-TEAM-MEMBER", Conflict,
        fr: "Cette personne fait déjà partie de l'équipe de soins.",
        en: "This person is already in the care team.";
    /// The account cannot join a care team (not a health professional, or not active).
    NotACareProfessional = "ACC-NOT-PROFESSIONAL", BadInput,
        fr: "Seul un professionnel de santé au compte actif peut rejoindre l'équipe de soins.",
        en: "Only a health professional with an active account can join the care team.";
    /// The account to link is not an active patient account, or is linked to another record.
    NotAPatientAccount = "PAT-ACCOUNT-INVALID", BadInput,
        fr: "Ce compte n'est pas un compte patient actif, ou il est déjà associé à un autre dossier.",
        en: "This account is not an active patient account, or it is already linked to another record.";
    /// A measurement that is not a valid FHIR Observation for Galien.
    ObservationInvalid = "OBS-INVALID", BadInput,
        fr: "La mesure n'est pas une Observation FHIR valide : statut, code LOINC, patient, date et valeur numérique sont obligatoires.",
        en: "The measurement is not a valid FHIR Observation: status, LOINC code, patient, time and a numeric value are required.";
    /// A LOINC code Galien does not monitor.
    ObservationCodeUnknown = "OBS-CODE-UNKNOWN", BadInput,
        fr: "Ce code LOINC n'est pas une mesure suivie en télésurveillance.",
        en: "This LOINC code is not a monitored measurement.";
    /// A unit not accepted for the measure.
    ObservationUnitInvalid = "OBS-UNIT-INVALID", BadInput,
        fr: "Cette unité n'est pas acceptée pour cette mesure (unités UCUM).",
        en: "This unit is not accepted for this measurement (UCUM units).";
    /// A value no living person can have.
    ObservationImplausible = "OBS-IMPLAUSIBLE", BadInput,
        fr: "Cette valeur est hors de toute plage plausible : vérifiez la saisie ou l'appareil.",
        en: "This value is outside any plausible range: check the entry or the device.";
    /// A measurement dated in the future.
    ObservationInFuture = "OBS-IN-FUTURE", BadInput,
        fr: "La date de la mesure est dans le futur : vérifiez l'horloge de l'appareil.",
        en: "The measurement is dated in the future: check the device's clock.";
    /// The patient is already enrolled in this programme.
    AlreadyEnrolled = "MON-ALREADY-ENROLLED", Conflict,
        fr: "Ce patient est déjà inscrit dans ce programme de télésurveillance.",
        en: "This patient is already enrolled in this telemonitoring programme.";
    /// An appointment form missing or contradicting something.
    AppointmentInvalid = "APT-INVALID", BadInput,
        fr: "Le rendez-vous est incomplet ou incohérent : patient, médecin, date à venir, durée de 5 à 240 minutes et motif sont requis.",
        en: "The appointment is incomplete or inconsistent: patient, doctor, a future time, a duration of 5 to 240 minutes and a reason are required.";
    /// A status change the appointment's current status does not allow.
    AppointmentState = "APT-STATE", Conflict,
        fr: "Ce rendez-vous ne peut pas passer dans cet état : il est peut-être déjà terminé, annulé ou en cours.",
        en: "This appointment cannot move to that status: it may already be completed, cancelled or in progress.";
    /// The call is over.
    CallClosed = "CALL-CLOSED", Gone,
        fr: "Cette téléconsultation est terminée : on ne peut plus la rejoindre.",
        en: "This teleconsultation is over: it can no longer be joined.";
    /// The call already has as many people as it can hold.
    CallFull = "CALL-FULL", Conflict,
        fr: "L'appel réunit déjà 4 personnes, le maximum.",
        en: "The call already has 4 people, the most it can hold.";
    /// A guest link already used, or expired.
    GuestLinkUsed = "CALL-LINK-USED", Gone,
        fr: "Ce lien d'invitation a déjà servi ou a expiré. Demandez un nouveau lien au médecin.",
        en: "This invitation link was already used or has expired. Ask the doctor for a new link.";
    /// The patient's consent is needed before the call.
    ConsentRequired = "CALL-CONSENT-REQUIRED", Conflict,
        fr: "Le consentement du patient à la téléconsultation doit être recueilli avant l'appel.",
        en: "The patient's consent to the teleconsultation must be recorded before the call.";
    /// An empty file.
    DocumentEmpty = "DOC-EMPTY", BadInput,
        fr: "Le fichier est vide.",
        en: "The file is empty.";
    /// A file over the size limit.
    DocumentTooLarge = "DOC-TOO-LARGE", TooLarge,
        fr: "Le fichier dépasse 10 Mio : réduisez-le (photo moins lourde, PDF compressé).",
        en: "The file is over 10 MiB: make it smaller (lighter photo, compressed PDF).";
    /// A file of a type not accepted.
    DocumentType = "DOC-TYPE", BadInput,
        fr: "Seuls les fichiers PDF, JPEG et PNG sont acceptés.",
        en: "Only PDF, JPEG and PNG files are accepted.";
    /// A report or prescription form missing something.
    ReportInvalid = "DOC-REPORT-INVALID", BadInput,
        fr: "Le compte rendu doit avoir un contenu ; chaque ligne d'ordonnance doit nommer un médicament et sa posologie.",
        en: "The report needs content; each prescription line must name a medication and its dosage.";
    /// Data sealed with a destroyed or unknown key.
    DataUnreadable = "DATA-UNREADABLE", Gone,
        fr: "Ces données ne sont plus lisibles : leur clé a été détruite (fin de conservation) ou est introuvable.",
        en: "This data can no longer be read: its key was destroyed (end of retention) or cannot be found.";
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
