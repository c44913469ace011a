//! More page texts (account security, machines), kept apart from `texts.rs` so parallel work on
//! the catalogue does not collide. Same shape: (key, French, English).

/// (key, French, English)
pub const TEXTS: &[(&str, &str, &str)] = &[
    ("nav.machines", "Machines", "Machines"),
    (
        "machines.title",
        "Appareils et systèmes",
        "Devices and systems",
    ),
    (
        "machines.new",
        "Enregistrer un appareil ou un système",
        "Register a device or system",
    ),
    ("machines.name", "Nom", "Name"),
    ("machines.kind", "Type", "Kind"),
    (
        "machines.device",
        "Appareil ou passerelle de télésurveillance",
        "Telemonitoring device or gateway",
    ),
    (
        "machines.system",
        "Autre système (client FHIR, SIEM)",
        "Other system (FHIR client, SIEM)",
    ),
    ("machines.scopes", "Autorisations", "Permissions"),
    ("machines.create", "Enregistrer", "Register"),
    (
        "machines.created",
        "Identifiants créés",
        "Credentials created",
    ),
    ("machines.client_id", "Identifiant client :", "Client id:"),
    ("machines.secret", "Secret :", "Secret:"),
    (
        "machines.secret_once",
        "Copiez ce secret maintenant dans la configuration de la machine : il ne sera plus affiché.",
        "Copy this secret into the machine's configuration now: it will not be shown again.",
    ),
    (
        "machines.list",
        "Machines enregistrées",
        "Registered machines",
    ),
    ("machines.registered", "Enregistrée le", "Registered"),
    ("machines.revoke", "Révoquer", "Revoke"),
    ("machines.revoked", "Révoquée", "Revoked"),
    ("account.security", "Sécurité du compte", "Account security"),
    (
        "account.password_change",
        "Changer de mot de passe",
        "Change password",
    ),
    (
        "account.password_current",
        "Mot de passe actuel",
        "Current password",
    ),
    (
        "account.password_new",
        "Nouveau mot de passe",
        "New password",
    ),
    (
        "account.password_submit",
        "Changer le mot de passe",
        "Change the password",
    ),
    (
        "account.password_changed",
        "Mot de passe changé. Vos autres sessions ont été terminées.",
        "Password changed. Your other sessions have been ended.",
    ),
    (
        "account.recovery_new",
        "Générer de nouveaux codes de secours",
        "Generate new recovery codes",
    ),
    (
        "account.fresh_needed",
        "Pour changer votre mot de passe ou vos codes de secours, confirmez d'abord votre identité.",
        "To change your password or recovery codes, first confirm your identity.",
    ),
    (
        "account.fresh_link",
        "Confirmer mon identité",
        "Confirm my identity",
    ),
    (
        "account.events",
        "Activité de sécurité récente",
        "Recent security activity",
    ),
    ("account.events_none", "Aucun évènement.", "No events."),
    ("account.event_when", "Date", "When"),
    ("account.event_what", "Évènement", "Event"),
    (
        "event.auth.login.succeeded",
        "Connexion réussie",
        "Successful sign-in",
    ),
    (
        "event.auth.login.failed",
        "Tentative de connexion échouée",
        "Failed sign-in attempt",
    ),
    ("event.auth.logout", "Déconnexion", "Sign-out"),
    (
        "event.auth.session.ended",
        "Session terminée",
        "Session ended",
    ),
    (
        "event.auth.session.expired",
        "Session expirée",
        "Session expired",
    ),
    (
        "event.auth.totp.replayed",
        "Code déjà utilisé présenté à nouveau",
        "Already-used code presented again",
    ),
    (
        "event.auth.recovery_code.used",
        "Code de secours utilisé",
        "Recovery code used",
    ),
    (
        "event.auth.factor.enrolled",
        "Second facteur ou codes de secours enregistrés",
        "Second factor or recovery codes registered",
    ),
    (
        "event.auth.factor.removed",
        "Second facteur retiré",
        "Second factor removed",
    ),
    (
        "event.auth.password.changed",
        "Mot de passe défini ou changé",
        "Password set or changed",
    ),
    (
        "event.auth.step_up",
        "Identité confirmée",
        "Identity confirmed",
    ),
    (
        "event.auth.locked",
        "Compte bloqué temporairement",
        "Account temporarily locked",
    ),
    (
        "event.auth.enrolment.completed",
        "Enrôlement terminé",
        "Enrolment completed",
    ),
    ("event.other", "Autre évènement", "Other event"),
];
