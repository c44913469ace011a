//! What a principal asks to do. The text of each action is its Cedar id (`Action::"record.read"`) and
//! is stable: policies written by data controllers name it.

use galien_core::audit::AuditAction;

macro_rules! actions {
    ($( $(#[$doc:meta])* $variant:ident = $text:literal, $kind:literal, $on_patient:literal, $audit:ident, $fr:literal, $en:literal; )*) => {
        /// An action the gate decides on.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Action { $( $(#[$doc])* $variant, )* }

        impl Action {
            /// Every action, in the order of the access matrix.
            pub const ALL: &'static [Action] = &[ $( Action::$variant, )* ];

            /// The Cedar action id.
            pub fn as_str(self) -> &'static str {
                match self { $( Action::$variant => $text, )* }
            }

            /// Parses a Cedar action id.
            pub fn parse(s: &str) -> Option<Action> {
                match s { $( $text => Some(Action::$variant), )* _ => None }
            }

            /// The kind of resource named in the audit record.
            pub fn resource_kind(self) -> &'static str {
                match self { $( Action::$variant => $kind, )* }
            }

            /// Whether the action is on one patient's record (else on the patient registry).
            pub fn on_patient(self) -> bool {
                match self { $( Action::$variant => $on_patient, )* }
            }

            /// The audit action recorded when it is granted.
            pub fn audit_action(self) -> AuditAction {
                match self { $( Action::$variant => AuditAction::$audit, )* }
            }

            /// A French label for people.
            pub fn label_fr(self) -> &'static str {
                match self { $( Action::$variant => $fr, )* }
            }

            /// An English label for people.
            pub fn label_en(self) -> &'static str {
                match self { $( Action::$variant => $en, )* }
            }
        }

        impl std::fmt::Display for Action {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

actions! {
    /// Find a patient by INS or by name and birth date (minimal identity in the result).
    PatientSearch = "patient.search", "patient_search", false, RecordRead,
        "Rechercher un patient", "Search for a patient";
    /// Register a new patient.
    PatientRegister = "patient.register", "patient_identity", false, RecordWrite,
        "Enregistrer un patient", "Register a patient";
    /// Read identity traits, INS status and contacts.
    IdentityRead = "patient.identity.read", "patient_identity", true, RecordRead,
        "Lire l'identité et les coordonnées", "Read identity and contacts";
    /// Correct identity traits, INS status, contacts.
    IdentityWrite = "patient.identity.write", "patient_identity", true, RecordWrite,
        "Corriger l'identité", "Correct identity";
    /// See the full NIR (matricule INS).
    NirRead = "patient.nir.read", "patient_nir", true, RecordRead,
        "Voir le NIR", "See the NIR";
    /// Read clinical content.
    RecordRead = "record.read", "clinical_record", true, RecordRead,
        "Lire le contenu clinique", "Read clinical content";
    /// Write clinical content.
    RecordWrite = "record.write", "clinical_record", true, RecordWrite,
        "Écrire dans le dossier clinique", "Write clinical content";
    /// See who is in the care team.
    CareTeamRead = "careteam.read", "care_team", true, RecordRead,
        "Voir l'équipe de soins", "See the care team";
    /// Add or remove care team members.
    CareTeamManage = "careteam.manage", "care_team", true, RecordWrite,
        "Gérer l'équipe de soins", "Manage the care team";
    /// Read recorded consents.
    ConsentRead = "consent.read", "consent", true, RecordRead,
        "Voir les consentements", "See consents";
    /// Record a consent or its withdrawal.
    ConsentRecord = "consent.record", "consent", true, RecordWrite,
        "Recueillir un consentement", "Record a consent";
    /// Open an emergency access (break-the-glass).
    EmergencyOpen = "emergency.open", "emergency_access", true, AccessEmergency,
        "Ouvrir un accès d'urgence", "Open an emergency access";
    /// Read who accessed the record.
    AccessLogRead = "access_log.read", "access_log", true, RecordRead,
        "Voir qui a consulté le dossier", "See who accessed the record";
    /// Post monitoring measurements.
    ObservationWrite = "observation.write", "observation", true, RecordWrite,
        "Déposer des mesures", "Post measurements";
    /// Schedule, move, cancel an appointment (teleconsultation) for the patient.
    AppointmentManage = "appointment.manage", "appointment", true, RecordWrite,
        "Gérer les rendez-vous", "Manage appointments";
    /// Take part in a teleconsultation: the call, its chat and its shared documents.
    ConsultationJoin = "consultation.join", "consultation", true, ConsultationJoined,
        "Participer à une téléconsultation", "Take part in a teleconsultation";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_round_trip() {
        for a in Action::ALL {
            assert_eq!(Action::parse(a.as_str()), Some(*a));
        }
        assert_eq!(Action::parse("record.delete"), None);
    }
}
