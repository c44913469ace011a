//! The words of the pages, French first. Templates say `{{ t.s("login.title") }}`; a test reads
//! every template and fails if a key is missing here, so no page ever shows a raw key.

use galien_core::Lang;

/// The catalogue for one language, as templates see it.
#[derive(Debug, Clone, Copy)]
pub struct T {
    /// The language.
    pub lang: Lang,
}

impl T {
    /// The text of `key` (the key itself if unknown — the catalogue test prevents that).
    pub fn s(&self, key: &str) -> &'static str {
        match CATALOGUE.get(key) {
            Some((fr, en)) => match self.lang {
                Lang::Fr => fr,
                Lang::En => en,
            },
            None => "⟦missing text⟧",
        }
    }

    /// The text of `key` with `{zone}` replaced by the name of the organisation's time zone
    /// (`heure de Paris`, `heure de La Réunion`): the texts that say in which time a page's times
    /// are. A test checks that such texts are only read this way.
    pub fn z(&self, key: &str) -> String {
        self.s(key)
            .replace("{zone}", crate::local_time::zone().label(self.lang))
    }
}

/// The catalogue by key, built on first use (a page looks up dozens of keys: a scan of the
/// thousand-odd entries each time showed in the read path's profile).
static CATALOGUE: std::sync::LazyLock<
    std::collections::HashMap<&'static str, (&'static str, &'static str)>,
> = std::sync::LazyLock::new(|| all().map(|(k, fr, en)| (*k, (*fr, *en))).collect());

/// Every catalogue entry, this file's and the others'.
pub fn all() -> impl Iterator<Item = &'static (&'static str, &'static str, &'static str)> {
    TEXTS
        .iter()
        .chain(crate::texts_lead::TEXTS.iter())
        .chain(crate::texts_dpo::TEXTS.iter())
        .chain(crate::texts_patients::TEXTS.iter())
        .chain(crate::texts_incidents::TEXTS.iter())
        .chain(crate::texts_monitoring::TEXTS.iter())
        .chain(crate::texts_appointments::TEXTS.iter())
        .chain(crate::texts_call::TEXTS.iter())
}

/// (key, French, English)
pub const TEXTS: &[(&str, &str, &str)] = &[
    ("nav.account", "Mon compte", "My account"),
    ("nav.admin", "Utilisateurs", "Users"),
    ("nav.login", "Se connecter", "Sign in"),
    ("nav.logout", "Se déconnecter", "Sign out"),
    ("nav.main", "Navigation principale", "Main navigation"),
    (
        "form.errors",
        "Veuillez corriger ce qui suit :",
        "Please correct the following:",
    ),
    ("form.required", "obligatoire", "required"),
    ("login.title", "Connexion", "Sign in"),
    (
        "login.lead",
        "Identifiez-vous avec votre adresse e-mail et votre mot de passe, puis votre second facteur.",
        "Sign in with your e-mail address and password, then your second factor.",
    ),
    (
        "login.expired",
        "Votre session a pris fin. Identifiez-vous à nouveau.",
        "Your session has ended. Please sign in again.",
    ),
    ("login.email", "Adresse e-mail", "E-mail address"),
    ("login.password", "Mot de passe", "Password"),
    ("login.submit", "Continuer", "Continue"),
    (
        "login.lost",
        "Second facteur perdu ? Utilisez un code de secours à l'étape suivante, ou contactez votre administrateur.",
        "Lost your second factor? Use a recovery code at the next step, or contact your administrator.",
    ),
    (
        "factor.title",
        "Vérification en deux étapes",
        "Two-step verification",
    ),
    (
        "factor.lead",
        "Saisissez le code à 6 chiffres affiché par votre application d'authentification.",
        "Enter the 6-digit code shown by your authenticator app.",
    ),
    ("factor.code", "Code de vérification", "Verification code"),
    (
        "factor.code_hint",
        "6 chiffres, renouvelés toutes les 30 secondes.",
        "6 digits, renewed every 30 seconds.",
    ),
    ("factor.submit", "Vérifier", "Verify"),
    (
        "factor.recovery_title",
        "Utiliser un code de secours",
        "Use a recovery code",
    ),
    ("factor.recovery", "Code de secours", "Recovery code"),
    (
        "factor.recovery_hint",
        "Chaque code ne sert qu'une fois (format XXXX-XXXX-XXXX).",
        "Each code works once (format XXXX-XXXX-XXXX).",
    ),
    (
        "factor.recovery_submit",
        "Utiliser ce code",
        "Use this code",
    ),
    (
        "enrol.admin_title",
        "Enrôlement du premier administrateur",
        "First administrator enrolment",
    ),
    (
        "enrol.invite_title",
        "Activation de votre compte",
        "Activate your account",
    ),
    (
        "enrol.valid",
        "Ce lien d'enrôlement est valide.",
        "This enrolment link is valid.",
    ),
    (
        "enrol.expires",
        "Il fonctionne une seule fois et expire le",
        "It works once and expires on",
    ),
    (
        "enrol.keep_private",
        "Ne transmettez ce lien à personne : il ouvre un compte personnel.",
        "Do not share this link: it opens a personal account.",
    ),
    ("enrol.hello", "Bonjour", "Hello"),
    (
        "enrol.invited_as",
        "Vous êtes invité·e en tant que",
        "You are invited as",
    ),
    (
        "enrol.steps",
        "Deux étapes : choisir un mot de passe, puis enregistrer un second facteur (application d'authentification).",
        "Two steps: choose a password, then register a second factor (authenticator app).",
    ),
    ("enrol.name", "Nom et prénom", "Full name"),
    (
        "enrol.email",
        "Adresse e-mail (votre identifiant)",
        "E-mail address (your sign-in name)",
    ),
    ("enrol.password", "Mot de passe", "Password"),
    (
        "enrol.password_hint",
        "Au moins 12 caractères mêlant majuscules, minuscules, chiffres et caractères spéciaux, ou 14 caractères de 3 types, ou une phrase de passe d'au moins 7 mots. Jusqu'à 256 caractères.",
        "At least 12 characters mixing upper case, lower case, digits and special characters, or 14 characters of 3 kinds, or a passphrase of at least 7 words. Up to 256 characters.",
    ),
    (
        "enrol.submit",
        "Enregistrer le mot de passe",
        "Save the password",
    ),
    (
        "totp.title",
        "Enregistrer votre application d'authentification",
        "Register your authenticator app",
    ),
    (
        "totp.lead",
        "Scannez ce QR code avec une application d'authentification (par exemple FreeOTP, Aegis, Google Authenticator), puis saisissez le code qu'elle affiche.",
        "Scan this QR code with an authenticator app (for example FreeOTP, Aegis, Google Authenticator), then enter the code it shows.",
    ),
    (
        "totp.qr_alt",
        "QR code à scanner avec votre application d'authentification",
        "QR code to scan with your authenticator app",
    ),
    (
        "totp.manual",
        "Impossible de scanner ? Saisissez cette clé dans l'application :",
        "Cannot scan? Type this key into the app:",
    ),
    ("totp.submit", "Activer", "Activate"),
    (
        "recovery.title",
        "Vos codes de secours",
        "Your recovery codes",
    ),
    (
        "recovery.lead",
        "Votre second facteur est enregistré. Conservez ces codes en lieu sûr (imprimés ou dans un gestionnaire de mots de passe) : chacun permet une connexion si vous perdez votre téléphone. Ils ne seront plus affichés.",
        "Your second factor is registered. Keep these codes somewhere safe (printed, or in a password manager): each allows one sign-in if you lose your phone. They will not be shown again.",
    ),
    (
        "recovery.continue",
        "J'ai conservé mes codes, continuer",
        "I have kept my codes, continue",
    ),
    ("account.title", "Mon compte", "My account"),
    ("account.identity", "Identité", "Identity"),
    ("account.name", "Nom", "Name"),
    ("account.email", "E-mail", "E-mail"),
    ("account.role", "Rôle", "Role"),
    ("account.professional_id", "RPPS / ADELI", "RPPS / ADELI"),
    ("account.factors", "Seconds facteurs", "Second factors"),
    (
        "account.totp_on",
        "Application d'authentification (TOTP) enregistrée le",
        "Authenticator app (TOTP) registered on",
    ),
    (
        "account.totp_off",
        "Aucune application d'authentification enregistrée.",
        "No authenticator app registered.",
    ),
    (
        "account.totp_replace",
        "Remplacer l'application d'authentification",
        "Replace the authenticator app",
    ),
    (
        "account.recovery_left",
        "Codes de secours restants :",
        "Recovery codes left:",
    ),
    ("account.sessions", "Mes sessions", "My sessions"),
    (
        "account.sessions_lead",
        "Les appareils connectés à votre compte. Mettez fin à toute session que vous ne reconnaissez pas.",
        "Devices signed in to your account. End any session you do not recognise.",
    ),
    ("account.session_started", "Ouverte le", "Started"),
    ("account.session_seen", "Dernière activité", "Last activity"),
    ("account.session_from", "Depuis", "From"),
    ("account.session_device", "Navigateur", "Browser"),
    ("account.session_current", "Cette session", "This session"),
    ("account.session_end", "Mettre fin", "End"),
    (
        "account.session_end_others",
        "Mettre fin à toutes les autres sessions",
        "End all other sessions",
    ),
    (
        "account.session_ended",
        "Session terminée.",
        "Session ended.",
    ),
    (
        "account.others_ended",
        "Les autres sessions ont été terminées.",
        "The other sessions have been ended.",
    ),
    ("account.unknown", "inconnu", "unknown"),
    (
        "stepup.title",
        "Confirmez votre identité",
        "Confirm your identity",
    ),
    (
        "stepup.lead",
        "Cette action est sensible : saisissez un code de votre application d'authentification.",
        "This action is sensitive: enter a code from your authenticator app.",
    ),
    ("admin.title", "Utilisateurs", "Users"),
    ("admin.invite", "Inviter une personne", "Invite someone"),
    (
        "admin.invite_lead",
        "La personne reçoit un lien à usage unique pour choisir son mot de passe et enregistrer son second facteur. Un compte est strictement personnel.",
        "The person receives a single-use link to choose a password and register a second factor. Accounts are strictly personal.",
    ),
    ("admin.role", "Rôle", "Role"),
    ("admin.name", "Nom et prénom", "Full name"),
    ("admin.email", "Adresse e-mail", "E-mail address"),
    (
        "admin.professional_id",
        "Numéro RPPS (11 chiffres) ou ADELI (9 chiffres)",
        "RPPS (11 digits) or ADELI (9 digits) number",
    ),
    (
        "admin.professional_id_hint",
        "Obligatoire pour les professionnels de santé.",
        "Required for health professionals.",
    ),
    (
        "admin.organisation",
        "Structure ou service (facultatif)",
        "Organisation or department (optional)",
    ),
    (
        "admin.invite_submit",
        "Créer l'invitation",
        "Create the invitation",
    ),
    ("admin.invited", "Invitation créée", "Invitation created"),
    (
        "admin.invited_lead",
        "Transmettez ce lien à la personne par un canal sûr (messagerie sécurisée, remise en main propre). Il fonctionne une seule fois et expire le",
        "Give this link to the person through a safe channel (secure messaging, in person). It works once and expires on",
    ),
    ("admin.list", "Comptes", "Accounts"),
    ("admin.status", "État", "Status"),
    ("admin.actions", "Actions", "Actions"),
    ("admin.suspend", "Suspendre", "Suspend"),
    ("admin.reactivate", "Réactiver", "Reactivate"),
    ("admin.deactivate", "Fermer le compte", "Close the account"),
    (
        "admin.reinvite",
        "Nouveau lien d'invitation",
        "New invitation link",
    ),
    ("status.invited", "Invité", "Invited"),
    ("status.active", "Actif", "Active"),
    ("status.suspended", "Suspendu", "Suspended"),
    ("status.deactivated", "Fermé", "Closed"),
    (
        "home.signed_in",
        "Vous êtes connecté·e en tant que",
        "You are signed in as",
    ),
    (
        "cert.submit",
        "Se connecter avec ma carte CPS / certificat",
        "Sign in with my CPS card / certificate",
    ),
    (
        "cert.hint",
        "Carte insérée et code saisi : votre navigateur présente le certificat de la carte, qui vaut authentification forte.",
        "With your card inserted and PIN entered, your browser presents the card's certificate, which counts as strong authentication.",
    ),
    ("oidc.sign_in_with", "Se connecter avec", "Sign in with"),
    (
        "oidc.hint",
        "Avec votre carte CPS ou votre application e-CPS : le fournisseur d'identité vérifie vos deux facteurs, Galien ouvre le compte lié à votre numéro RPPS.",
        "With your CPS card or e-CPS app: the identity provider checks both your factors, and Galien opens the account linked to your RPPS number.",
    ),
    ("oidc.done_title", "Connexion réussie", "Signed in"),
    (
        "oidc.done_lead",
        "Votre identité a été vérifiée par le fournisseur d'identité. Vous allez être redirigé·e vers votre compte.",
        "The identity provider has verified your identity. You are being taken to your account.",
    ),
    ("oidc.continue", "Continuer", "Continue"),
    // Security keys and passkeys (WebAuthn).
    (
        "webauthn.enrol_title",
        "Ou bien : une clé de sécurité",
        "Or: a security key",
    ),
    (
        "webauthn.enrol_lead",
        "Une clé de sécurité (USB, NFC) ou une clé d'accès de cet appareil peut remplacer l'application d'authentification.",
        "A security key (USB, NFC) or a passkey on this device can replace the authenticator app.",
    ),
    (
        "webauthn.enrol_button",
        "Utiliser plutôt une clé de sécurité",
        "Use a security key instead",
    ),
    (
        "webauthn.name",
        "Nom de la clé (facultatif)",
        "Key name (optional)",
    ),
    (
        "webauthn.name_hint",
        "Pour la reconnaître dans « Mon compte », par exemple « Clé bleue du cabinet ».",
        "To recognise it in \u{201c}My account\u{201d}, for example \u{201c}Blue office key\u{201d}.",
    ),
    (
        "webauthn.recovery_lead",
        "Votre clé de sécurité est enregistrée. Conservez ces codes en lieu sûr (imprimés ou dans un gestionnaire de mots de passe) : chacun permet une connexion si vous perdez votre clé. Ils ne seront plus affichés.",
        "Your security key is registered. Keep these codes somewhere safe (printed or in a password manager): each one lets you sign in if you lose your key. They will not be shown again.",
    ),
    ("webauthn.login_title", "Clé de sécurité", "Security key"),
    (
        "webauthn.login_lead",
        "Branchez ou approchez votre clé de sécurité, puis touchez-la quand elle clignote.",
        "Insert or tap your security key, then touch it when it blinks.",
    ),
    (
        "webauthn.login_button",
        "Utiliser ma clé de sécurité",
        "Use my security key",
    ),
    (
        "webauthn.waiting",
        "Suivez les indications de votre navigateur et touchez votre clé.",
        "Follow your browser's prompts and touch your key.",
    ),
    (
        "webauthn.unsupported",
        "Ce navigateur ne prend pas en charge les clés de sécurité. Utilisez un navigateur récent ou votre application d'authentification.",
        "This browser does not support security keys. Use a recent browser or your authenticator app.",
    ),
    (
        "webauthn.cancelled",
        "L'opération a été annulée ou le délai est dépassé. Réessayez.",
        "The operation was cancelled or timed out. Please try again.",
    ),
    (
        "webauthn.failed",
        "La clé de sécurité n'a pas pu être utilisée. Réessayez ou utilisez un autre facteur.",
        "The security key could not be used. Try again or use another factor.",
    ),
    ("webauthn.keys_title", "Clés de sécurité", "Security keys"),
    (
        "webauthn.keys_none",
        "Aucune clé de sécurité n'est enregistrée.",
        "No security key is registered.",
    ),
    ("webauthn.key_name", "Nom", "Name"),
    ("webauthn.key_created", "Enregistrée le", "Registered"),
    ("webauthn.key_used", "Dernière utilisation", "Last used"),
    ("webauthn.key_never", "jamais", "never"),
    ("webauthn.key_remove", "Retirer", "Remove"),
    ("webauthn.add_button", "Ajouter une clé", "Add a key"),
    (
        "webauthn.add_fresh",
        "Pour ajouter une clé, confirmez d'abord votre identité.",
        "To add a key, first confirm your identity.",
    ),
    (
        "webauthn.add_fresh_link",
        "Confirmer mon identité",
        "Confirm my identity",
    ),
    (
        "webauthn.key_added",
        "La clé de sécurité a été ajoutée ; vos autres sessions ont été fermées.",
        "The security key was added; your other sessions were ended.",
    ),
    (
        "webauthn.key_removed",
        "La clé de sécurité a été retirée ; vos autres sessions ont été fermées.",
        "The security key was removed; your other sessions were ended.",
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_used_by_a_template_exists_in_both_languages() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("templates");
        let mut used = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let text = std::fs::read_to_string(&path).unwrap();
            for (how, piece) in text
                .split("t.s(\"")
                .skip(1)
                .map(|p| ("s", p))
                .chain(text.split("t.z(\"").skip(1).map(|p| ("z", p)))
            {
                let key = piece.split('"').next().unwrap();
                used += 1;
                let Some((_, fr, en)) = all().find(|(k, _, _)| *k == key) else {
                    panic!("{}: missing text key {key:?}", path.display());
                };
                // A text naming the time zone is read with `z`, which fills it in; any other
                // with `s`.
                let names_zone = fr.contains("{zone}") || en.contains("{zone}");
                assert_eq!(
                    how == "z",
                    names_zone,
                    "{}: {key:?} read with t.{how}",
                    path.display()
                );
            }
        }
        assert!(used > 50, "templates use the catalogue");
        // `z` fills the zone in; the default is Paris.
        assert_eq!(T { lang: Lang::Fr }.z("dpo.when"), "Quand (heure de Paris)");
        assert_eq!(T { lang: Lang::En }.z("dpo.when"), "When (Paris time)");
        for (k, fr, en) in all() {
            assert!(!fr.is_empty() && !en.is_empty(), "{k}");
            assert_eq!(fr.contains("{zone}"), en.contains("{zone}"), "{k}");
            assert!(
                !fr.contains("Paris") || !en.contains("Paris"),
                "{k}: say {{zone}}"
            );
            assert_eq!(
                all().filter(|(k2, _, _)| k2 == k).count(),
                1,
                "duplicate key {k}"
            );
        }
    }
}
