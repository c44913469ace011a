//! Texts of the DPO's incident and breach register (TRACE-6), of the patient's own pages ("Mon
//! dossier", "Qui a consulté mon dossier ?", TRACE-4) and of the form that links a patient's account
//! to their record. Same shape as `texts.rs`: (key, French, English). A `{}` in a text is replaced
//! by the page (a duration, a date). Keys named in Rust code are checked by the test below.

/// (key, French, English)
pub const TEXTS: &[(&str, &str, &str)] = &[
    ("nav.incidents", "Incidents", "Incidents"),
    ("nav.incidents.open", "ouverts", "open"),
    ("nav.my_record", "Mon dossier", "My record"),
    // The register.
    (
        "incidents.title",
        "Registre des incidents et violations",
        "Incident and breach register",
    ),
    (
        "incidents.lead",
        "Les incidents ouverts par les règles de détection et ceux que vous déclarez. Une violation de données personnelles se notifie à la CNIL dans les 72 heures après en avoir pris connaissance (RGPD, art. 33).",
        "Incidents opened by the detection rules and those you register. A personal data breach must be notified to the CNIL within 72 hours of becoming aware of it (GDPR, art. 33).",
    ),
    (
        "incidents.caption",
        "Incidents, du plus urgent au moins urgent",
        "Incidents, most urgent first",
    ),
    (
        "incidents.none",
        "Aucun incident n'est enregistré.",
        "No incident is recorded.",
    ),
    ("incidents.col.finding", "Constat", "Finding"),
    ("incidents.col.rule", "Origine", "Origin"),
    ("incidents.col.opened", "Ouvert le", "Opened"),
    ("incidents.col.severity", "Gravité", "Severity"),
    ("incidents.col.status", "État", "Status"),
    ("incidents.col.cnil", "Violation et CNIL", "Breach and CNIL"),
    (
        "incidents.rule.many_patients",
        "Nombreux dossiers consultés",
        "Many records opened",
    ),
    (
        "incidents.rule.emergency_access",
        "Accès d'urgence",
        "Emergency access",
    ),
    (
        "incidents.rule.off_hours",
        "Accès hors des heures ouvrées",
        "Access outside working hours",
    ),
    (
        "incidents.rule.failed_logins",
        "Échecs de connexion répétés",
        "Repeated failed sign-ins",
    ),
    ("incidents.rule.exports", "Exports nombreux", "Many exports"),
    (
        "incidents.rule.manual",
        "Déclaré par le DPO",
        "Registered by the DPO",
    ),
    ("incidents.severity.low", "Faible", "Low"),
    ("incidents.severity.medium", "Moyenne", "Medium"),
    ("incidents.severity.high", "Élevée", "High"),
    ("incidents.status.open", "Ouvert", "Open"),
    (
        "incidents.status.investigating",
        "En cours d'analyse",
        "Under investigation",
    ),
    ("incidents.status.closed", "Clos", "Closed"),
    ("incidents.breach", "Violation de données", "Data breach"),
    ("incidents.cnil.na", "Sans objet", "Not applicable"),
    (
        "incidents.cnil.left",
        "Notification CNIL : reste {}",
        "CNIL notification: {} left",
    ),
    (
        "incidents.cnil.late",
        "Notification CNIL : en retard de {}",
        "CNIL notification: {} overdue",
    ),
    ("incidents.cnil.deadline", "échéance le {}", "deadline {}"),
    (
        "incidents.cnil.notified",
        "CNIL notifiée le {}",
        "CNIL notified on {}",
    ),
    (
        "incidents.cnil.no_date",
        "Notification CNIL : indiquez depuis quand la violation est connue",
        "CNIL notification: say since when the breach is known",
    ),
    // Registering by hand.
    (
        "incidents.register",
        "Déclarer un incident",
        "Register an incident",
    ),
    (
        "incidents.register.lead",
        "Un incident constaté hors des règles de détection : poste perdu, envoi au mauvais destinataire, signalement… Les textes sont chiffrés.",
        "An incident found outside the detection rules: a lost computer, a message sent to the wrong person, a report… The texts are encrypted.",
    ),
    ("incidents.field.summary", "Résumé", "Summary"),
    (
        "incidents.field.summary_hint",
        "Une phrase, sans donnée de santé (500 caractères au plus).",
        "One sentence, without health data (500 characters at most).",
    ),
    ("incidents.field.severity", "Gravité", "Severity"),
    ("incidents.field.status", "État", "Status"),
    ("incidents.field.facts", "Faits", "Facts"),
    (
        "incidents.field.facts_hint",
        "Ce qui s'est passé, quand, comment cela a été découvert.",
        "What happened, when, how it was found.",
    ),
    (
        "incidents.field.affected_people",
        "Personnes concernées",
        "People affected",
    ),
    (
        "incidents.field.affected_people_hint",
        "Catégories et nombre approximatif de personnes.",
        "Categories and approximate number of people.",
    ),
    (
        "incidents.field.data_categories",
        "Catégories de données",
        "Data categories",
    ),
    (
        "incidents.field.data_categories_hint",
        "Identité, NIR, données de santé, coordonnées…",
        "Identity, NIR, health data, contact details…",
    ),
    (
        "incidents.field.effects",
        "Conséquences probables",
        "Likely consequences",
    ),
    (
        "incidents.field.measures",
        "Mesures prises ou envisagées",
        "Measures taken or proposed",
    ),
    (
        "incidents.register.submit",
        "Enregistrer l'incident",
        "Register the incident",
    ),
    (
        "incidents.summary_required",
        "Indiquez un résumé de 500 caractères au plus.",
        "Give a summary of 500 characters at most.",
    ),
    (
        "incidents.done.registered",
        "L'incident a été enregistré. Qualifiez-le ci-dessous.",
        "The incident was registered. Qualify it below.",
    ),
    (
        "incidents.done.qualified",
        "La qualification a été enregistrée.",
        "The qualification was saved.",
    ),
    // One incident.
    ("incidents.detail", "Incident", "Incident"),
    (
        "incidents.back",
        "Retour au registre des incidents",
        "Back to the incident register",
    ),
    ("incidents.subject", "Élément surveillé", "Subject"),
    ("incidents.updated", "Dernière mise à jour", "Last updated"),
    ("incidents.qualify", "Qualification", "Qualification"),
    (
        "incidents.qualify.lead",
        "Complétez ce que vous savez : chaque enregistrement est tracé, les textes sont chiffrés.",
        "Fill in what you know: every change is traced, the texts are encrypted.",
    ),
    (
        "incidents.breach.legend",
        "Violation de données personnelles (RGPD, art. 33 et 34)",
        "Personal data breach (GDPR, art. 33 and 34)",
    ),
    (
        "incidents.field.is_breach",
        "Violation de données personnelles",
        "Personal data breach",
    ),
    ("incidents.field.aware_at", "Connue depuis", "Known since"),
    (
        "incidents.field.aware_at_hint",
        "Le délai de 72 heures pour notifier la CNIL court à partir de ce moment.",
        "The 72 hours to notify the CNIL run from this moment.",
    ),
    ("incidents.local", "{zone}", "{zone}"),
    (
        "incidents.local_hint",
        "Les dates sont à l'{zone}, heure d'été comprise s'il y en a une.",
        "Dates are in {zone}, summer time included where there is one.",
    ),
    (
        "incidents.field.cnil_notified_at",
        "CNIL notifiée le",
        "CNIL notified on",
    ),
    (
        "incidents.field.inform_patients",
        "Information des patients nécessaire (art. 34)",
        "Patients must be informed (art. 34)",
    ),
    ("incidents.inform.yes", "Oui", "Yes"),
    ("incidents.inform.no", "Non", "No"),
    (
        "incidents.inform.undecided",
        "Pas encore décidé",
        "Not decided yet",
    ),
    (
        "incidents.field.patients_informed_at",
        "Patients informés le",
        "Patients informed on",
    ),
    (
        "incidents.qualify.submit",
        "Enregistrer la qualification",
        "Save the qualification",
    ),
    (
        "incidents.error.date",
        "Date illisible dans « {} » : utilisez le sélecteur, ou le format AAAA-MM-JJTHH:MM.",
        "Unreadable date in \u{201c}{}\u{201d}: use the picker, or the format YYYY-MM-DDTHH:MM.",
    ),
    (
        "incidents.error.future",
        "« {} » ne peut pas être dans le futur.",
        "\u{201c}{}\u{201d} cannot be in the future.",
    ),
    (
        "incidents.error.aware_needed",
        "Indiquez depuis quand la violation est connue.",
        "Say since when the breach is known.",
    ),
    (
        "incidents.error.not_breach",
        "Une notification à la CNIL ou une information des patients suppose une violation de données : cochez « Violation de données personnelles ».",
        "A CNIL notification or informing patients means a data breach: tick \u{201c}Personal data breach\u{201d}.",
    ),
    (
        "incidents.error.cnil_before",
        "La CNIL ne peut pas avoir été notifiée avant que la violation soit connue.",
        "The CNIL cannot have been notified before the breach was known.",
    ),
    (
        "incidents.error.informed_not_needed",
        "Les patients ne peuvent pas avoir été informés si leur information n'est pas nécessaire.",
        "Patients cannot have been informed if informing them is not needed.",
    ),
    // The patient's own pages (TRACE-4).
    ("me.record.title", "Mon dossier", "My record"),
    (
        "me.record.lead",
        "Ce que l'établissement enregistre sur vous, en lecture seule. Pour corriger une erreur, adressez-vous au secrétariat ou à votre médecin.",
        "What the organisation records about you, read-only. To correct a mistake, ask the secretariat or your doctor.",
    ),
    (
        "me.record.unlinked",
        "Votre compte n'est pas encore associé à votre dossier : demandez-le au secrétariat ou à votre médecin.",
        "Your account is not linked to your record yet: ask the secretariat or your doctor.",
    ),
    (
        "me.log.link",
        "Qui a consulté mon dossier ?",
        "Who accessed my record?",
    ),
    (
        "me.log.title",
        "Qui a consulté mon dossier ?",
        "Who accessed my record?",
    ),
    (
        "me.log.lead",
        "Chaque accès à votre dossier est enregistré : qui, quand, pourquoi, et s'il a été accordé ou refusé. Si un accès vous semble anormal, signalez-le au délégué à la protection des données.",
        "Every access to your record is recorded: who, when, why, and whether it was granted or refused. If an access looks wrong to you, report it to the data protection officer.",
    ),
    (
        "me.log.caption",
        "Accès à votre dossier, du plus récent au plus ancien",
        "Accesses to your record, newest first",
    ),
    (
        "me.log.none",
        "Aucun accès n'est enregistré pour l'instant.",
        "No access is recorded yet.",
    ),
    (
        "me.log.limit",
        "Seuls les 200 accès les plus récents sont affichés.",
        "Only the 200 most recent accesses are shown.",
    ),
    ("me.log.col.when", "Date ({zone})", "Date ({zone})"),
    ("me.log.col.who", "Qui", "Who"),
    ("me.log.col.role", "Rôle", "Role"),
    ("me.log.col.what", "Action", "Action"),
    ("me.log.col.data", "Données", "Data"),
    ("me.log.col.why", "Motif", "Purpose"),
    ("me.log.col.outcome", "Résultat", "Outcome"),
    ("me.log.emergency", "Accès d'urgence", "Emergency access"),
    ("me.back", "Retour à mon dossier", "Back to my record"),
    (
        "me.data.clinical_record",
        "Contenu clinique",
        "Clinical content",
    ),
    ("me.data.clinical_note", "Note clinique", "Clinical note"),
    (
        "me.data.patient_identity",
        "Identité et coordonnées",
        "Identity and contact details",
    ),
    (
        "me.data.patient_nir",
        "Numéro de sécurité sociale (NIR)",
        "Social security number (NIR)",
    ),
    ("me.data.care_team", "Équipe de soins", "Care team"),
    ("me.data.consent", "Consentements", "Consents"),
    ("me.data.access_log", "Journal des accès", "Access log"),
    (
        "me.data.emergency_access",
        "Accès d'urgence",
        "Emergency access",
    ),
    ("me.data.other", "Autres données", "Other data"),
    ("me.purpose.care_team", "équipe de soins", "care team"),
    ("me.purpose.act", "acte en cours", "ongoing act"),
    (
        "me.purpose.monitoring",
        "télésurveillance",
        "telemonitoring",
    ),
    (
        "me.purpose.regulation",
        "régulation médicale",
        "medical regulation",
    ),
    (
        "me.purpose.emergency_access",
        "accès d'urgence",
        "emergency access",
    ),
    ("me.purpose.self", "vous-même", "yourself"),
    ("me.purpose.none", "non précisé", "not stated"),
    ("me.outcome.success", "Accordé", "Granted"),
    ("me.outcome.denied", "Refusé", "Refused"),
    ("me.outcome.failure", "Échec", "Failed"),
    // Linking a patient's account to their record (on the record's summary).
    ("patients.account", "Compte du patient", "Patient's account"),
    (
        "patients.account.lead",
        "Associez à ce dossier le compte Galien du patient (rôle patient) : il pourra consulter son dossier et voir qui y a accédé.",
        "Link the patient's Galien account (patient role) to this record: they will be able to read it and see who accessed it.",
    ),
    (
        "patients.account.email",
        "Adresse e-mail du compte du patient",
        "E-mail address of the patient's account",
    ),
    (
        "patients.account.submit",
        "Associer le compte du patient",
        "Link the patient's account",
    ),
    (
        "patients.done.account",
        "Le compte du patient est associé à ce dossier.",
        "The patient's account is linked to this record.",
    ),
];

#[cfg(test)]
mod tests {
    /// Every `"incidents.…"`, `"me.…"` or `"patients.account…"` key the Rust code of these pages
    /// names exists, and so does every key they build from a stored value.
    #[test]
    fn keys_named_in_code_exist() {
        let has = |key: &str| crate::texts::all().any(|(k, _, _)| *k == key);
        let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/pages");
        let mut named = 0;
        for path in [
            src.join("incidents.rs"),
            src.join("my_record.rs"),
            src.join("patients/record.rs"),
        ] {
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            for piece in text.split('"').skip(1).step_by(2) {
                if (piece.starts_with("incidents.")
                    || piece.starts_with("me.")
                    || piece.starts_with("patients.account"))
                    && !piece.contains([' ', '{'])
                    && !piece.ends_with('.')
                {
                    named += 1;
                    assert!(has(piece), "{}: missing text key {piece:?}", path.display());
                }
            }
        }
        assert!(named > 10, "the pages name their texts");
        for rule in crate::pages::incidents::RULES {
            assert!(has(&format!("incidents.rule.{rule}")), "{rule}");
        }
        for kind in crate::pages::my_record::DATA_KINDS {
            assert!(has(&format!("me.data.{kind}")), "{kind}");
        }
        for purpose in crate::pages::my_record::PURPOSES {
            assert!(has(&format!("me.purpose.{purpose}")), "{purpose}");
        }
        for s in galien_store::Severity::ALL {
            assert!(has(&format!("incidents.severity.{}", s.as_str())), "{s:?}");
        }
        for s in galien_store::IncidentStatus::ALL {
            assert!(has(&format!("incidents.status.{}", s.as_str())), "{s:?}");
        }
        for o in galien_core::audit::Outcome::ALL {
            assert!(has(&format!("me.outcome.{o}")), "{o}");
        }
        for key in crate::texts::all()
            .map(|(k, _, _)| *k)
            .filter(|k| k.starts_with("incidents.") || k.starts_with("me."))
        {
            let (fr, en) = crate::texts::all()
                .find(|(k, _, _)| *k == key)
                .map(|(_, fr, en)| (*fr, *en))
                .unwrap_or_default();
            assert_eq!(
                fr.matches("{}").count(),
                en.matches("{}").count(),
                "{key}: same placeholders in both languages"
            );
        }
    }
}
