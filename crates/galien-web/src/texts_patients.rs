//! Texts of the patients' pages (DATA-2, ACC-3, ACC-4, GDPR-3) and of the DPO's review of emergency
//! accesses, kept apart from `texts.rs` so parallel work on the catalogue does not collide. Same
//! shape: (key, French, English). Keys named in Rust code (facts, notices) are checked by the test
//! below, as the templates' keys are by the test in `texts.rs`.

/// (key, French, English)
pub const TEXTS: &[(&str, &str, &str)] = &[
    ("nav.patients", "Patients", "Patients"),
    ("nav.emergency", "Accès d'urgence", "Emergency access"),
    // The list and the search.
    ("patients.title", "Patients", "Patients"),
    ("patients.new", "Nouveau patient", "New patient"),
    ("patients.search", "Rechercher un patient", "Find a patient"),
    (
        "patients.search.lead",
        "Par le matricule INS (NIR), ou par le nom et la date de naissance. La recherche est tracée et ne montre que l'identité.",
        "By INS number (NIR), or by name and birth date. The search is recorded and shows the identity only.",
    ),
    ("patients.search.by_nir", "Par NIR", "By NIR"),
    (
        "patients.search.by_name",
        "Par nom et date de naissance",
        "By name and birth date",
    ),
    ("patients.search.name", "Nom", "Name"),
    (
        "patients.search.name_hint",
        "Nom de naissance ou nom utilisé.",
        "Birth name or used name.",
    ),
    ("patients.search.submit", "Rechercher", "Search"),
    (
        "patients.search.name_needed",
        "Indiquez un nom et une date de naissance valide (JJ/MM/AAAA).",
        "Give a name and a valid birth date.",
    ),
    (
        "patients.results",
        "Résultats de la recherche",
        "Search results",
    ),
    (
        "patients.results.none",
        "Aucun patient ne correspond. Vérifiez la saisie avant de créer un nouveau dossier : un doublon est un risque d'identitovigilance.",
        "No patient matches. Check what you typed before creating a new record: a duplicate is an identity-safety risk.",
    ),
    ("patients.mine", "Mes patients", "My patients"),
    (
        "patients.mine.none",
        "Vous n'avez aucune relation de soin en cours.",
        "You have no current care relationship.",
    ),
    ("patients.col.name", "Patient", "Patient"),
    (
        "patients.col.ins",
        "Statut de l'identité",
        "Identity status",
    ),
    // Registration and correction.
    ("patients.new_title", "Nouveau patient", "New patient"),
    (
        "patients.identity.edit_title",
        "Corriger l'identité",
        "Correct the identity",
    ),
    (
        "patients.identity.lead",
        "Saisissez les traits d'identité tels qu'ils figurent sur la pièce d'identité (identitovigilance).",
        "Enter the identity traits as they appear on the identity document (identity safety).",
    ),
    (
        "patients.identity.traits",
        "Traits d'identité",
        "Identity traits",
    ),
    (
        "patients.identity.ins",
        "Identifiant national de santé (INS)",
        "National health identifier (INS)",
    ),
    (
        "patients.identity.contacts",
        "Coordonnées",
        "Contact details",
    ),
    ("patients.identity.save", "Enregistrer", "Save"),
    ("patients.register", "Créer le dossier", "Create the record"),
    ("patients.cancel", "Annuler", "Cancel"),
    ("patients.choose", "— Choisir —", "— Choose —"),
    (
        "patients.field.birth_name",
        "Nom de naissance",
        "Birth name",
    ),
    ("patients.field.used_name", "Nom utilisé", "Used name"),
    (
        "patients.field.first_names",
        "Prénoms de naissance",
        "Birth first names",
    ),
    (
        "patients.field.first_names_hint",
        "Tous les prénoms, dans l'ordre de l'état civil.",
        "Every first name, in the order of the civil register.",
    ),
    (
        "patients.field.used_first_name",
        "Prénom utilisé",
        "Used first name",
    ),
    ("patients.field.sex", "Sexe", "Sex"),
    (
        "patients.field.birth_date",
        "Date de naissance",
        "Birth date",
    ),
    (
        "patients.field.birth_place",
        "Lieu de naissance",
        "Birth place",
    ),
    (
        "patients.field.birth_place_hint",
        "Code INSEE à 5 caractères de la commune (99xxx pour un pays étranger).",
        "5-character INSEE code of the town (99xxx for a foreign country).",
    ),
    (
        "patients.field.nir",
        "NIR (matricule INS)",
        "NIR (INS number)",
    ),
    (
        "patients.field.nir_hint",
        "15 caractères, clé comprise ; 2A ou 2B pour la Corse. Les espaces sont ignorés.",
        "15 characters, key included; 2A or 2B for Corsica. Spaces are ignored.",
    ),
    (
        "patients.field.nir_keep",
        "Laissez vide pour garder le NIR enregistré.",
        "Leave empty to keep the recorded NIR.",
    ),
    (
        "patients.field.ins_status",
        "Statut de l'identité",
        "Identity status",
    ),
    (
        "patients.field.ins_status_hint",
        "Récupérée ou qualifiée : seulement après interrogation du téléservice INSi, et avec le NIR.",
        "Retrieved or qualified: only after querying the INSi teleservice, and with the NIR.",
    ),
    ("patients.field.phone", "Téléphone", "Phone"),
    ("patients.field.email", "Adresse e-mail", "E-mail address"),
    (
        "patients.field.address",
        "Adresse postale",
        "Postal address",
    ),
    (
        "patients.field.referring_doctor",
        "Médecin traitant",
        "Referring doctor",
    ),
    // The summary.
    ("patients.summary", "Dossier patient", "Patient record"),
    (
        "patients.back",
        "← Retour aux patients",
        "← Back to patients",
    ),
    (
        "patients.relation",
        "Votre relation :",
        "Your relationship:",
    ),
    ("patients.identity", "Identité", "Identity"),
    (
        "patients.identity.edit",
        "Corriger l'identité",
        "Correct the identity",
    ),
    ("patients.nir.recorded", "NIR enregistré", "NIR recorded"),
    (
        "patients.nir.none",
        "Aucun NIR enregistré",
        "No NIR recorded",
    ),
    ("patients.nir.reveal", "Afficher le NIR", "Show the NIR"),
    (
        "patients.nir.reveal_hint",
        "L'affichage du NIR est tracé.",
        "Showing the NIR is recorded.",
    ),
    ("patients.notes", "Notes cliniques", "Clinical notes"),
    ("patients.notes.none", "Aucune note.", "No notes."),
    (
        "patients.notes.emergency",
        "écrite sous accès d'urgence",
        "written under emergency access",
    ),
    ("patients.notes.new", "Nouvelle note", "New note"),
    ("patients.notes.add", "Ajouter la note", "Add the note"),
    ("patients.team", "Équipe de soins", "Care team"),
    (
        "patients.team.none",
        "Aucun professionnel n'est rattaché.",
        "No professional is attached.",
    ),
    ("patients.team.active", "En cours", "Current"),
    ("patients.team.ended", "Terminée", "Ended"),
    ("patients.team.end", "Retirer", "Remove"),
    (
        "patients.team.add",
        "Ajouter un professionnel",
        "Add a professional",
    ),
    (
        "patients.team.email",
        "Adresse e-mail du professionnel",
        "The professional's e-mail address",
    ),
    (
        "patients.team.email_hint",
        "Un professionnel de santé ayant un compte actif dans Galien.",
        "A health professional with an active Galien account.",
    ),
    (
        "patients.team.until",
        "Jusqu'au (inclus)",
        "Until (included)",
    ),
    (
        "patients.team.until_hint",
        "Facultatif : sans date, jusqu'à ce qu'il soit retiré.",
        "Optional: without a date, until removed.",
    ),
    (
        "patients.team.until_invalid",
        "La date de fin doit être aujourd'hui ou plus tard (AAAA-MM-JJ).",
        "The end date must be today or later (YYYY-MM-DD).",
    ),
    (
        "patients.team.add_submit",
        "Ajouter à l'équipe",
        "Add to the team",
    ),
    ("patients.consents", "Consentements", "Consents"),
    (
        "patients.consents.none",
        "Aucun consentement enregistré.",
        "No consent recorded.",
    ),
    (
        "patients.consents.given",
        "Consentement donné",
        "Consent given",
    ),
    ("patients.consents.refused", "Refus", "Refused"),
    ("patients.consents.withdrawn", "Retiré le", "Withdrawn on"),
    ("patients.consents.current", "En vigueur", "In force"),
    ("patients.consents.withdraw", "Retirer", "Withdraw"),
    (
        "patients.consents.record",
        "Enregistrer un consentement",
        "Record a consent",
    ),
    ("patients.consents.record_submit", "Enregistrer", "Record"),
    ("patients.col.member", "Professionnel", "Professional"),
    ("patients.col.role", "Profession", "Profession"),
    ("patients.col.kind", "Relation", "Relationship"),
    ("patients.col.since", "Depuis", "Since"),
    ("patients.col.until", "Jusqu'au", "Until"),
    ("patients.col.state", "État", "State"),
    ("patients.col.actions", "Actions", "Actions"),
    ("patients.col.subject", "Objet", "Subject"),
    ("patients.col.decision", "Décision", "Decision"),
    ("patients.col.means", "Recueil", "How given"),
    ("patients.col.recorded", "Enregistré par", "Recorded by"),
    // Notices after a change.
    (
        "patients.done.registered",
        "Le dossier a été créé.",
        "The record was created.",
    ),
    (
        "patients.done.identity",
        "L'identité a été corrigée.",
        "The identity was corrected.",
    ),
    (
        "patients.done.note",
        "La note a été ajoutée.",
        "The note was added.",
    ),
    (
        "patients.done.consent",
        "Le consentement a été enregistré.",
        "The consent was recorded.",
    ),
    (
        "patients.done.consent_withdrawn",
        "Le consentement a été retiré.",
        "The consent was withdrawn.",
    ),
    (
        "patients.done.member",
        "Le professionnel a rejoint l'équipe de soins.",
        "The professional joined the care team.",
    ),
    (
        "patients.done.member_ended",
        "Le professionnel a été retiré de l'équipe de soins.",
        "The professional was removed from the care team.",
    ),
    (
        "patients.done.emergency",
        "L'accès d'urgence est ouvert.",
        "The emergency access is open.",
    ),
    // Refusal and emergency access (ACC-4).
    ("patients.denied.title", "Accès refusé", "Access denied"),
    (
        "patients.denied.lead",
        "Les dossiers ne sont ouverts qu'aux professionnels qui prennent en charge le patient. Ce refus a été tracé.",
        "Records are open only to the professionals who care for the patient. This refusal was recorded.",
    ),
    ("patients.denied.code", "Code :", "Code:"),
    (
        "patients.emergency.title",
        "Accès d'urgence (bris de glace)",
        "Emergency access (break the glass)",
    ),
    (
        "patients.emergency.lead",
        "En cas d'urgence, vous pouvez ouvrir ce dossier sans relation de soin, en donnant le motif.",
        "In an emergency you may open this record without a care relationship, giving the reason.",
    ),
    (
        "patients.emergency.duration",
        "L'accès est limité dans le temps : il dure",
        "The access is limited in time: it lasts",
    ),
    (
        "patients.emergency.flagged",
        "Il est signalé dans les traces, comme tout ce que vous ferez dans le dossier.",
        "It is flagged in the audit trail, as is everything you do in the record.",
    ),
    (
        "patients.emergency.reviewed",
        "Le délégué à la protection des données revoit chaque accès d'urgence et son motif.",
        "The data protection officer reviews every emergency access and its reason.",
    ),
    (
        "patients.emergency.reason",
        "Motif de l'urgence",
        "Reason for the emergency",
    ),
    (
        "patients.emergency.reason_hint",
        "Au moins 10 caractères : la situation clinique qui justifie l'accès.",
        "At least 10 characters: the clinical situation that justifies the access.",
    ),
    (
        "patients.emergency.submit",
        "Ouvrir l'accès d'urgence",
        "Open the emergency access",
    ),
    (
        "patients.emergency.banner",
        "Accès d'urgence en cours",
        "Emergency access in progress",
    ),
    (
        "patients.emergency.banner_lead",
        "Vous consultez ce dossier au titre d'un accès d'urgence : il est limité dans le temps, signalé dans les traces et sera revu par le délégué à la protection des données.",
        "You are reading this record under an emergency access: it is limited in time, flagged in the audit trail and will be reviewed by the data protection officer.",
    ),
    // The DPO's review.
    (
        "emergency.title",
        "Accès d'urgence à revoir",
        "Emergency accesses to review",
    ),
    (
        "emergency.lead",
        "Chaque accès d'urgence (bris de glace) est revu : qui, quel patient, quand, pourquoi. Le contenu du dossier n'apparaît pas ici.",
        "Every emergency access (break the glass) is reviewed: who, which patient, when, why. The record's content does not appear here.",
    ),
    (
        "emergency.pending",
        "En attente de revue",
        "Awaiting review",
    ),
    (
        "emergency.pending.none",
        "Aucun accès d'urgence n'attend de revue.",
        "No emergency access awaits review.",
    ),
    ("emergency.done", "Accès revus", "Reviewed accesses"),
    (
        "emergency.done.none",
        "Aucun accès revu pour l'instant.",
        "No access reviewed yet.",
    ),
    ("emergency.who", "Médecin", "Doctor"),
    ("emergency.patient", "Patient (identifiant)", "Patient (id)"),
    ("emergency.opened", "Ouvert le", "Opened"),
    ("emergency.expires", "Fin de l'accès", "Access ends"),
    ("emergency.reason", "Motif", "Reason"),
    ("emergency.reviewed_at", "Revu le", "Reviewed"),
    ("emergency.note", "Note de revue", "Review note"),
    ("emergency.mark", "Marquer comme revu", "Mark as reviewed"),
    (
        "emergency.traces",
        "Voir les traces de ce patient",
        "See this patient's audit trail",
    ),
    (
        "emergency.note_required",
        "Écrivez une note de revue (votre conclusion sur cet accès).",
        "Write a review note (your conclusion about this access).",
    ),
    (
        "emergency.done.reviewed",
        "L'accès a été marqué comme revu.",
        "The access was marked as reviewed.",
    ),
    (
        "emergency.done.already",
        "Cet accès avait déjà été revu.",
        "This access had already been reviewed.",
    ),
];

#[cfg(test)]
mod tests {
    /// Every `"patients.…"` or `"emergency.…"` key the Rust code of these pages names exists.
    #[test]
    fn keys_named_in_code_exist() {
        let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/pages");
        let files = [
            src.join("patients/mod.rs"),
            src.join("patients/record.rs"),
            src.join("emergency_review.rs"),
        ];
        let mut named = 0;
        for path in files {
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            for piece in text.split('"').skip(1).step_by(2) {
                if (piece.starts_with("patients.") || piece.starts_with("emergency."))
                    && !piece.contains(' ')
                {
                    named += 1;
                    assert!(
                        crate::texts::all().any(|(k, _, _)| *k == piece),
                        "{}: missing text key {piece:?}",
                        path.display()
                    );
                }
            }
        }
        assert!(named > 10, "the pages name their texts");
    }
}
