//! Texts of the teleconsultation pages around the call (ACT-1, GDPR-3): booking, the day's
//! appointments, one appointment (consent, guests, cancelling), closing with a report and a
//! prescription, the patient's appointments and documents, the documents received. Same shape as
//! `texts.rs`: (key, French, English). A `{}` in a text is replaced by the page, in order. Keys
//! named in Rust code are checked by the test below.

/// (key, French, English)
pub const TEXTS: &[(&str, &str, &str)] = &[
    ("nav.appointments", "Rendez-vous", "Appointments"),
    ("nav.my_appointments", "Mes rendez-vous", "My appointments"),
    ("nav.my_documents", "Mes documents", "My documents"),
    // Booking.
    (
        "apt.new.title",
        "Prendre un rendez-vous de téléconsultation",
        "Book a teleconsultation",
    ),
    (
        "apt.new.lead",
        "Le patient voit le rendez-vous dans Galien et, si son adresse e-mail est connue, reçoit un message qui ne contient qu'un lien : aucune information médicale.",
        "The patient sees the appointment in Galien and, if their e-mail address is known, receives a message with a link only: no medical information.",
    ),
    ("apt.new.patient", "Patient", "Patient"),
    (
        "apt.new.patient_change",
        "Choisir un autre patient",
        "Choose another patient",
    ),
    ("apt.new.search", "Trouver le patient", "Find the patient"),
    (
        "apt.new.search_lead",
        "Cherchez le patient par son NIR, ou par son nom et sa date de naissance, puis choisissez-le. Un patient qui n'est pas encore enregistré doit l'être d'abord.",
        "Search for the patient by NIR, or by name and birth date, then choose them. A patient not yet registered must be registered first.",
    ),
    ("apt.new.results", "Patients trouvés", "Patients found"),
    (
        "apt.new.no_results",
        "Aucun patient trouvé. Vérifiez la saisie, ou enregistrez le patient d'abord.",
        "No patient found. Check what you typed, or register the patient first.",
    ),
    ("apt.new.choose", "Choisir", "Choose"),
    (
        "apt.new.choose_patient_first",
        "Choisissez d'abord le patient (recherche ci-dessus).",
        "Choose the patient first (search above).",
    ),
    ("apt.new.details", "Le rendez-vous", "The appointment"),
    (
        "apt.new.submit",
        "Prendre le rendez-vous",
        "Book the appointment",
    ),
    ("apt.field.practitioner", "Médecin", "Doctor"),
    (
        "apt.field.at",
        "Date et heure ({zone})",
        "Date and time ({zone})",
    ),
    (
        "apt.field.at_hint",
        "À l'{zone} : celle des horloges de l'établissement, heure d'été comprise s'il y en a une.",
        "In {zone}: the time the organisation's clocks show, summer time included where there is one.",
    ),
    (
        "apt.field.duration",
        "Durée (minutes)",
        "Duration (minutes)",
    ),
    (
        "apt.field.duration_hint",
        "De 5 à 240 minutes.",
        "5 to 240 minutes.",
    ),
    ("apt.field.reason", "Motif", "Reason"),
    (
        "apt.field.reason_hint",
        "Lu par le médecin et le patient seulement, jamais envoyé par e-mail.",
        "Read by the doctor and the patient only, never sent by e-mail.",
    ),
    (
        "apt.field.referring",
        "Médecin destinataire du compte rendu (facultatif)",
        "Doctor who receives the report (optional)",
    ),
    (
        "apt.field.referring_hint",
        "Le médecin traitant ou l'adresseur : il recevra le compte rendu et l'ordonnance dans Galien.",
        "The patient's regular or referring doctor: they will receive the report and the prescription in Galien.",
    ),
    ("apt.field.none", "— Aucun —", "— None —"),
    ("apt.field.patient", "Patient", "Patient"),
    ("apt.field.when", "Date et heure", "Date and time"),
    ("apt.field.duration_short", "Durée", "Duration"),
    ("apt.field.minutes", "min", "min"),
    ("apt.field.status", "Statut", "Status"),
    (
        "apt.field.consent",
        "Accord du patient",
        "Patient's consent",
    ),
    ("apt.consent.given", "Donné", "Given"),
    ("apt.consent.missing", "Pas encore donné", "Not given yet"),
    // Notices.
    (
        "apt.done.booked",
        "Le rendez-vous est pris. Le patient le voit dans « Mes rendez-vous ».",
        "The appointment is booked. The patient sees it under \"My appointments\".",
    ),
    (
        "apt.done.booked_mailed",
        "Le rendez-vous est pris. Le patient a été prévenu par e-mail (un lien, sans information médicale).",
        "The appointment is booked. The patient was told by e-mail (a link, no medical information).",
    ),
    (
        "apt.done.consent",
        "Merci : votre accord est enregistré. Vous pourrez rejoindre la salle d'attente à l'heure du rendez-vous.",
        "Thank you: your consent is recorded. You can join the waiting room at the time of the appointment.",
    ),
    (
        "apt.done.cancelled",
        "Le rendez-vous est annulé. Personne ne peut plus rejoindre la salle.",
        "The appointment is cancelled. Nobody can join the room any more.",
    ),
    (
        "apt.done.no_show",
        "L'absence du patient est enregistrée ; la salle est fermée.",
        "The patient's absence is recorded; the room is closed.",
    ),
    (
        "apt.done.closed",
        "La téléconsultation est close. Le compte rendu (et l'ordonnance) sont dans les documents du patient et ont été envoyés au médecin destinataire.",
        "The teleconsultation is closed. The report (and the prescription) are in the patient's documents and were sent to the receiving doctor.",
    ),
    (
        "apt.invitation.title",
        "Compte patient créé",
        "Patient account created",
    ),
    (
        "apt.invitation.lead",
        "Le patient n'avait pas de compte : un compte lui a été créé. S'il ne reçoit pas l'e-mail, remettez-lui ce lien d'activation (il y choisira un mot de passe et un second facteur). Le lien ne sera plus affiché.",
        "The patient had no account: one was created. If they do not receive the e-mail, hand them this activation link (they will choose a password and a second factor). The link will not be shown again.",
    ),
    ("apt.copy", "Copier le lien", "Copy the link"),
    ("apt.copied", "Lien copié.", "Link copied."),
    // One appointment.
    ("apt.detail.title", "Téléconsultation", "Teleconsultation"),
    (
        "apt.patient.unknown",
        "Patient (identité non visible)",
        "Patient (identity not visible)",
    ),
    (
        "apt.back.day",
        "Retour aux rendez-vous",
        "Back to the appointments",
    ),
    (
        "apt.back.mine",
        "Retour à mes rendez-vous",
        "Back to my appointments",
    ),
    (
        "apt.final",
        "Cette téléconsultation est terminée : on ne peut plus la rejoindre.",
        "This teleconsultation is over: it can no longer be joined.",
    ),
    (
        "apt.consent.title",
        "Votre accord pour la téléconsultation",
        "Your consent to the teleconsultation",
    ),
    (
        "apt.consent.intro",
        "Avant l'appel, nous avons besoin de votre accord. Voici ce que la téléconsultation implique :",
        "Before the call, we need your consent. This is what the teleconsultation means:",
    ),
    (
        "apt.consent.video",
        "Vous parlez avec le médecin par vidéo, depuis votre téléphone ou votre ordinateur, comme lors d'une consultation au cabinet. Installez-vous dans un endroit calme où personne ne vous entend sans que vous le vouliez.",
        "You talk with the doctor by video, from your phone or computer, as in a consultation at the practice. Settle somewhere quiet where nobody hears you unless you want them to.",
    ),
    (
        "apt.consent.recording",
        "L'appel n'est pas enregistré : ni l'image ni le son ne sont conservés. La vidéo passe directement, chiffrée, entre vous et le médecin.",
        "The call is not recorded: neither image nor sound is kept. The video goes directly, encrypted, between you and the doctor.",
    ),
    (
        "apt.consent.record",
        "Le compte rendu, l'éventuelle ordonnance et les documents échangés sont conservés, chiffrés, dans votre dossier médical, et envoyés au médecin qui vous suit s'il est indiqué.",
        "The report, any prescription and the documents exchanged are kept, encrypted, in your medical record, and sent to the doctor who follows you if one is named.",
    ),
    (
        "apt.consent.refuse",
        "Vous pouvez refuser : ne donnez pas votre accord, annulez le rendez-vous et demandez une consultation en personne. Refuser ne change rien à vos soins.",
        "You may refuse: do not give your consent, cancel the appointment and ask for an in-person consultation. Refusing changes nothing about your care.",
    ),
    (
        "apt.consent.required",
        "Avant de rejoindre la salle d'attente, lisez ce que la téléconsultation implique et donnez votre accord :",
        "Before joining the waiting room, read what the teleconsultation means and give your consent:",
    ),
    (
        "apt.consent.submit",
        "Je consens à la téléconsultation",
        "I consent to the teleconsultation",
    ),
    (
        "apt.join.patient",
        "Rejoindre la salle d'attente",
        "Join the waiting room",
    ),
    (
        "apt.join.patient_hint",
        "Vous pourrez tester votre caméra et votre micro ; le médecin vous fera entrer.",
        "You can test your camera and microphone; the doctor will let you in.",
    ),
    (
        "apt.join.practitioner",
        "Rejoindre l'appel",
        "Join the call",
    ),
    ("apt.actions", "Actions", "Actions"),
    (
        "apt.guest.title",
        "Inviter une personne à cet appel",
        "Invite someone to this call",
    ),
    (
        "apt.guest.lead",
        "Interprète, proche, autre professionnel : la personne rejoint cet appel seulement, par un lien à usage unique qui ne contient aucune donnée de santé.",
        "Interpreter, relative, another professional: they join this call only, through a single-use link that carries no health data.",
    ),
    ("apt.guest.label", "Qui est-ce ?", "Who is it?"),
    (
        "apt.guest.label_hint",
        "Par exemple « Interprète — M. Dupont ». Affiché aux autres participants.",
        "For example \"Interpreter — Mr Dupont\". Shown to the other participants.",
    ),
    (
        "apt.guest.label_needed",
        "Indiquez qui est la personne invitée (80 caractères au plus).",
        "Say who the guest is (80 characters at most).",
    ),
    (
        "apt.guest.submit",
        "Créer le lien d'invitation",
        "Create the invitation link",
    ),
    (
        "apt.guest.link_title",
        "Lien d'invitation",
        "Invitation link",
    ),
    (
        "apt.guest.link_lead",
        "Transmettez ce lien à la personne invitée. Il ne sert qu'une fois, jusqu'au {}. Il ne sera plus affiché.",
        "Give this link to the guest. It works once, until {}. It will not be shown again.",
    ),
    (
        "apt.close.link",
        "Clore avec un compte rendu",
        "Close with a report",
    ),
    (
        "apt.no_show.title",
        "Patient absent",
        "Patient did not come",
    ),
    (
        "apt.no_show.lead",
        "Enregistre que le patient ne s'est pas présenté ; la salle est fermée.",
        "Records that the patient did not come; the room is closed.",
    ),
    (
        "apt.no_show.submit",
        "Enregistrer l'absence",
        "Record the absence",
    ),
    (
        "apt.cancel.title",
        "Annuler le rendez-vous",
        "Cancel the appointment",
    ),
    (
        "apt.cancel.lead",
        "La salle d'attente sera fermée et personne ne pourra plus la rejoindre.",
        "The waiting room will be closed and nobody will be able to join it.",
    ),
    (
        "apt.cancel.confirm",
        "Oui, je veux annuler ce rendez-vous",
        "Yes, I want to cancel this appointment",
    ),
    (
        "apt.cancel.confirm_needed",
        "Cochez la case pour confirmer l'annulation.",
        "Tick the box to confirm the cancellation.",
    ),
    (
        "apt.cancel.submit",
        "Annuler le rendez-vous",
        "Cancel the appointment",
    ),
    (
        "apt.documents.title",
        "Documents de cette téléconsultation",
        "Documents of this teleconsultation",
    ),
    (
        "apt.documents.none",
        "Aucun document pour l'instant.",
        "No document yet.",
    ),
    // The day.
    ("apt.day.title", "Rendez-vous", "Appointments"),
    (
        "apt.day.own_lead",
        "Vos téléconsultations du jour, à l'{zone}.",
        "Your teleconsultations of the day, in {zone}.",
    ),
    (
        "apt.day.all_lead",
        "Les téléconsultations de tous les médecins, à l'{zone}.",
        "The teleconsultations of every doctor, in {zone}.",
    ),
    ("apt.day.caption", "Rendez-vous du {}", "Appointments of {}"),
    (
        "apt.day.none",
        "Aucun rendez-vous ce jour-là.",
        "No appointment that day.",
    ),
    ("apt.day.days", "Changer de jour", "Change day"),
    ("apt.day.prev", "Jour précédent", "Previous day"),
    ("apt.day.next", "Jour suivant", "Next day"),
    ("apt.day.today", "Aujourd'hui", "Today"),
    ("apt.day.pick", "Jour", "Day"),
    ("apt.day.go", "Afficher", "Show"),
    ("apt.new", "Nouveau rendez-vous", "New appointment"),
    ("apt.received.link", "Documents reçus", "Documents received"),
    ("apt.col.time", "Heure", "Time"),
    ("apt.col.when", "Date", "Date"),
    ("apt.col.patient", "Patient", "Patient"),
    ("apt.col.practitioner", "Médecin", "Doctor"),
    ("apt.col.status", "Statut", "Status"),
    ("apt.col.actions", "Actions", "Actions"),
    ("apt.open", "Ouvrir", "Open"),
    // Closing.
    (
        "apt.close.title",
        "Clore la téléconsultation",
        "Close the teleconsultation",
    ),
    (
        "apt.close.lead",
        "Le compte rendu et l'ordonnance sont produits en PDF, rangés dans les documents du patient et envoyés au médecin destinataire. La salle est fermée : personne ne pourra plus la rejoindre.",
        "The report and the prescription are produced as PDF, filed in the patient's documents and sent to the receiving doctor. The room is closed: nobody will be able to join it again.",
    ),
    ("apt.close.report", "Compte rendu", "Report"),
    (
        "apt.close.report_hint",
        "Ce que le patient a dit, ce que vous avez constaté, ce que vous proposez.",
        "What the patient said, what you found, what you propose.",
    ),
    ("apt.close.conclusion", "Conclusion", "Conclusion"),
    (
        "apt.close.prescription",
        "Ordonnance (facultative)",
        "Prescription (optional)",
    ),
    (
        "apt.close.prescription_hint",
        "Laissez les lignes vides s'il n'y a pas d'ordonnance. Chaque ligne remplie nomme un médicament et sa posologie.",
        "Leave the lines empty if there is no prescription. Each line filled in names a medication and its dosage.",
    ),
    ("apt.close.line", "Ligne {}", "Line {}"),
    ("apt.close.medication", "Médicament", "Medication"),
    ("apt.close.dosage", "Posologie", "Dosage"),
    ("apt.close.duration", "Durée", "Duration"),
    ("apt.close.add_line", "Ajouter une ligne", "Add a line"),
    (
        "apt.close.notes",
        "Notes de l'ordonnance",
        "Notes on the prescription",
    ),
    (
        "apt.close.weight",
        "Poids du patient en kg (facultatif)",
        "Patient's weight in kg (optional)",
    ),
    (
        "apt.close.submit",
        "Clore et produire les documents",
        "Close and produce the documents",
    ),
    (
        "apt.close.cancel",
        "Revenir sans clore",
        "Go back without closing",
    ),
    // The patient's appointments.
    ("apt.mine.title", "Mes rendez-vous", "My appointments"),
    (
        "apt.mine.lead",
        "Vos téléconsultations. Avant l'appel, ouvrez le rendez-vous pour donner votre accord ; à l'heure dite, rejoignez la salle d'attente.",
        "Your teleconsultations. Before the call, open the appointment to give your consent; at the time, join the waiting room.",
    ),
    ("apt.mine.upcoming", "À venir", "Upcoming"),
    ("apt.mine.past", "Passés", "Past"),
    (
        "apt.mine.none_upcoming",
        "Aucun rendez-vous à venir.",
        "No upcoming appointment.",
    ),
    (
        "apt.mine.none_past",
        "Aucun rendez-vous passé.",
        "No past appointment.",
    ),
    (
        "apt.mine.not_linked",
        "Votre compte n'est pas encore relié à votre dossier. Demandez au secrétariat ou à votre médecin de le faire.",
        "Your account is not linked to your record yet. Ask the secretariat or your doctor to do it.",
    ),
    ("apt.mine.consent", "Donner mon accord", "Give my consent"),
    // Documents.
    ("docs.mine.title", "Mes documents", "My documents"),
    (
        "docs.mine.lead",
        "Comptes rendus, ordonnances et documents échangés pendant vos téléconsultations, conservés chiffrés dans votre dossier.",
        "Reports, prescriptions and documents exchanged during your teleconsultations, kept encrypted in your record.",
    ),
    (
        "docs.mine.caption",
        "Mes documents, les plus récents d'abord",
        "My documents, newest first",
    ),
    ("docs.none", "Aucun document.", "No document."),
    ("docs.col.name", "Document", "Document"),
    ("docs.col.kind", "Type", "Type"),
    ("docs.col.date", "Date", "Date"),
    ("docs.col.author", "Auteur", "Author"),
    ("docs.col.size", "Taille", "Size"),
    ("docs.col.patient", "Patient", "Patient"),
    ("docs.download", "Télécharger", "Download"),
    (
        "docs.received.title",
        "Documents reçus",
        "Documents received",
    ),
    (
        "docs.received.lead",
        "Comptes rendus et ordonnances de téléconsultation qui vous ont été adressés. Le dossier du patient vous reste ouvert 30 jours.",
        "Teleconsultation reports and prescriptions sent to you. The patient's record stays open to you for 30 days.",
    ),
    (
        "docs.received.caption",
        "Documents reçus, les plus récents d'abord",
        "Documents received, newest first",
    ),
    // The record's summary.
    (
        "apt.section.title",
        "Rendez-vous et documents",
        "Appointments and documents",
    ),
    (
        "apt.section.book",
        "Prendre un rendez-vous de téléconsultation",
        "Book a teleconsultation",
    ),
    (
        "apt.section.none",
        "Aucune téléconsultation pour ce patient.",
        "No teleconsultation for this patient.",
    ),
    (
        "apt.section.caption",
        "Téléconsultations de ce patient, les plus récentes d'abord",
        "This patient's teleconsultations, newest first",
    ),
    (
        "apt.section.more",
        "Seules les 10 dernières sont listées.",
        "Only the last 10 are listed.",
    ),
    (
        "apt.section.documents",
        "Les documents d'une téléconsultation (compte rendu, ordonnance) sont sur sa page.",
        "A teleconsultation's documents (report, prescription) are on its page.",
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn act1_keys_named_in_code_exist_with_the_same_placeholders() {
        let has = |key: &str| TEXTS.iter().any(|(k, _, _)| *k == key);
        for key in [
            "apt.new.choose_patient_first",
            "apt.field.none",
            "apt.patient.unknown",
            "apt.done.booked",
            "apt.done.booked_mailed",
            "apt.done.consent",
            "apt.done.cancelled",
            "apt.done.no_show",
            "apt.done.closed",
            "apt.cancel.confirm_needed",
            "apt.guest.label_needed",
            "apt.back.day",
            "apt.back.mine",
            "apt.day.caption",
            "patients.search.name_needed",
        ] {
            assert!(
                has(key) || crate::texts::all().any(|(k, _, _)| *k == key),
                "{key}"
            );
        }
        for (key, fr, en) in TEXTS {
            assert_eq!(
                fr.matches("{}").count(),
                en.matches("{}").count(),
                "{key}: same placeholders in both languages"
            );
        }
    }
}
