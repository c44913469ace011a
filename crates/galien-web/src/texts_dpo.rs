//! Texts of the DPO's pages (the audit trail, TRACE-3), kept apart from `texts.rs` so parallel work
//! on the catalogue does not collide. Same shape: (key, French, English). Action and outcome labels
//! are keyed `dpo.action.<dotted name>` and `dpo.outcome.<name>`; a test checks every one exists.

/// (key, French, English)
pub const TEXTS: &[(&str, &str, &str)] = &[
    ("nav.dpo", "Traces", "Audit trail"),
    ("nav.register", "Registre", "Register"),
    (
        "register.title",
        "Registre des traitements et AIPD",
        "Processing register and DPIA",
    ),
    (
        "register.lead",
        "La fiche de registre (art. 30 RGPD) et le projet d'analyse d'impact (art. 35) de cette installation, écrits à partir de sa configuration. Complétez ce qu'elle ne dit pas, puis déposez le document dans votre registre.",
        "The register entry (GDPR art. 30) and the draft impact assessment (art. 35) of this installation, written from its configuration. Complete what it does not say, then file the document in your register.",
    ),
    ("register.generated", "Établi le", "Written on"),
    (
        "register.download",
        "Télécharger (Markdown, pour le compléter)",
        "Download (Markdown, to complete it)",
    ),
    ("register.file", "registre-galien", "galien-register"),
    (
        "register.attention",
        "Points d'attention",
        "Attention points",
    ),
    ("register.flag", "À revoir", "To review"),
    (
        "register.entry",
        "Fiche de registre (art. 30 RGPD)",
        "Register entry (GDPR art. 30)",
    ),
    (
        "register.dpia",
        "Projet d'analyse d'impact (AIPD)",
        "Draft data protection impact assessment (DPIA)",
    ),
    (
        "register.dpia.lead",
        "Les trois risques que la CNIL demande d'étudier, avec les mesures en place ; la gravité et la vraisemblance restent à évaluer par le responsable du traitement.",
        "The three risks the CNIL asks to study, with the measures in force; severity and likelihood remain for the controller to assess.",
    ),
    ("dpo.title", "Traces d'accès", "Audit trail"),
    (
        "dpo.lead",
        "Recherchez qui a fait quoi, sur quelles données, quand et d'où. Chaque recherche est elle-même tracée.",
        "Search who did what, to which data, when and from where. Every search is itself recorded.",
    ),
    ("dpo.search", "Rechercher", "Search"),
    ("dpo.user", "Identifiant de l'utilisateur", "User id"),
    ("dpo.patient", "Identifiant du patient", "Patient id"),
    ("dpo.action", "Action", "Action"),
    ("dpo.any_action", "Toutes les actions", "All actions"),
    ("dpo.from", "Du (inclus)", "From (included)"),
    ("dpo.to", "Au (inclus)", "To (included)"),
    ("dpo.limit", "Résultats par page", "Results per page"),
    ("dpo.results", "Résultats", "Results"),
    (
        "dpo.none",
        "Aucune trace ne correspond.",
        "No record matches.",
    ),
    ("dpo.when", "Quand ({zone})", "When ({zone})"),
    ("dpo.who", "Qui", "Who"),
    ("dpo.outcome", "Résultat", "Outcome"),
    ("dpo.source", "Adresse IP", "IP address"),
    ("dpo.reason", "Motif / code", "Reason / code"),
    ("dpo.seq", "N°", "No."),
    ("dpo.next", "Page suivante", "Next page"),
    ("dpo.first", "Première page", "First page"),
    ("dpo.export", "Exporter en FHIR", "Export as FHIR"),
    ("dpo.emergency", "accès d'urgence", "emergency access"),
    ("dpo.nobody", "non identifié", "unidentified"),
    (
        "dpo.bad_param",
        "Paramètre invalide :",
        "Invalid parameter:",
    ),
    ("dpo.outcome.success", "Réussi", "Succeeded"),
    ("dpo.outcome.failure", "Échec", "Failed"),
    ("dpo.outcome.denied", "Refusé", "Denied"),
    (
        "dpo.action.auth.login.succeeded",
        "Connexion réussie",
        "Sign-in succeeded",
    ),
    (
        "dpo.action.auth.login.failed",
        "Connexion échouée",
        "Sign-in failed",
    ),
    ("dpo.action.auth.logout", "Déconnexion", "Sign-out"),
    (
        "dpo.action.auth.session.ended",
        "Session terminée",
        "Session ended",
    ),
    (
        "dpo.action.auth.session.expired",
        "Session expirée",
        "Session expired",
    ),
    (
        "dpo.action.auth.totp.replayed",
        "Code TOTP rejoué",
        "TOTP code replayed",
    ),
    (
        "dpo.action.auth.recovery_code.used",
        "Code de secours utilisé",
        "Recovery code used",
    ),
    (
        "dpo.action.auth.factor.enrolled",
        "Second facteur enregistré",
        "Second factor enrolled",
    ),
    (
        "dpo.action.auth.factor.removed",
        "Second facteur retiré",
        "Second factor removed",
    ),
    (
        "dpo.action.auth.password.changed",
        "Mot de passe changé",
        "Password changed",
    ),
    (
        "dpo.action.auth.step_up",
        "Réauthentification",
        "Step-up authentication",
    ),
    (
        "dpo.action.auth.locked",
        "Compte verrouillé",
        "Account locked",
    ),
    (
        "dpo.action.auth.enrolment.completed",
        "Inscription terminée",
        "Enrolment completed",
    ),
    (
        "dpo.action.account.invited",
        "Personne invitée",
        "Person invited",
    ),
    (
        "dpo.action.account.activated",
        "Compte activé",
        "Account activated",
    ),
    (
        "dpo.action.account.suspended",
        "Compte suspendu",
        "Account suspended",
    ),
    (
        "dpo.action.account.reactivated",
        "Compte réactivé",
        "Account reactivated",
    ),
    (
        "dpo.action.account.deactivated",
        "Compte désactivé",
        "Account deactivated",
    ),
    (
        "dpo.action.machine.client.created",
        "Machine enregistrée",
        "Machine registered",
    ),
    (
        "dpo.action.machine.client.revoked",
        "Machine révoquée",
        "Machine revoked",
    ),
    (
        "dpo.action.machine.token.issued",
        "Jeton machine délivré",
        "Machine token issued",
    ),
    (
        "dpo.action.record.read",
        "Lecture de données de santé",
        "Health data read",
    ),
    (
        "dpo.action.record.write",
        "Écriture de données de santé",
        "Health data written",
    ),
    (
        "dpo.action.record.export",
        "Export de données de santé",
        "Health data exported",
    ),
    (
        "dpo.action.record.print",
        "Impression de données de santé",
        "Health data printed",
    ),
    ("dpo.action.access.denied", "Accès refusé", "Access denied"),
    (
        "dpo.action.consultation.joined",
        "Participation à une téléconsultation",
        "Took part in a teleconsultation",
    ),
    (
        "dpo.action.consultation.closed",
        "Téléconsultation clôturée",
        "Teleconsultation closed",
    ),
    (
        "dpo.action.access.emergency.reviewed",
        "Accès d'urgence revu par le DPO",
        "Emergency access reviewed by the DPO",
    ),
    (
        "dpo.action.incident.opened",
        "Incident de sécurité ouvert",
        "Security incident opened",
    ),
    (
        "dpo.action.incident.updated",
        "Incident de sécurité qualifié ou mis à jour",
        "Security incident qualified or updated",
    ),
    (
        "dpo.action.record.shredded",
        "Clé du dossier détruite (effacement définitif)",
        "Record key destroyed (permanent erasure)",
    ),
    (
        "dpo.action.access.emergency",
        "Accès d'urgence (bris de glace)",
        "Emergency access (break-the-glass)",
    ),
    (
        "dpo.action.audit.exported",
        "Traces consultées ou exportées",
        "Audit trail searched or exported",
    ),
    (
        "dpo.action.audit.purged",
        "Traces purgées",
        "Audit records purged",
    ),
    (
        "dpo.action.backup.created",
        "Sauvegarde chiffrée de l'installation",
        "Encrypted backup of the installation",
    ),
    (
        "dpo.action.backup.restored",
        "Installation restaurée depuis une sauvegarde",
        "Installation restored from a backup",
    ),
];

#[cfg(test)]
mod tests {
    use super::TEXTS;
    use galien_core::audit::{AuditAction, Outcome};

    #[test]
    fn every_action_and_outcome_has_a_label() {
        let has = |key: String| TEXTS.iter().any(|(k, _, _)| *k == key);
        for a in AuditAction::ALL {
            assert!(has(format!("dpo.action.{a}")), "{a}");
        }
        for o in Outcome::ALL {
            assert!(has(format!("dpo.outcome.{o}")), "{o}");
        }
    }
}
