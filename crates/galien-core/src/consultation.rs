//! Teleconsultation vocabulary (ACT-1): the statuses of an appointment and the moves allowed between
//! them, the people of a call, the kinds and accepted types of documents.

use serde::{Deserialize, Serialize};

crate::simple_enum! {
    /// Where an appointment stands. scheduled → waiting → in progress → completed, or cancelled /
    /// no-show; the last three are final: the room is closed and nobody can rejoin.
    AppointmentStatus {
        /// Booked, nobody waiting yet.
        Scheduled = "scheduled", "Programmé", "Scheduled",
        /// The patient is in the waiting room.
        Waiting = "waiting", "En salle d'attente", "Waiting",
        /// The médecin admitted the patient: the call is on.
        InProgress = "in_progress", "En cours", "In progress",
        /// Closed by the médecin (report written or not).
        Completed = "completed", "Terminé", "Completed",
        /// Cancelled before it took place.
        Cancelled = "cancelled", "Annulé", "Cancelled",
        /// The patient did not come.
        NoShow = "no_show", "Patient absent", "No-show",
    }
}

impl AppointmentStatus {
    /// Whether the room is closed for good.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            AppointmentStatus::Completed | AppointmentStatus::Cancelled | AppointmentStatus::NoShow
        )
    }

    /// The statuses from which `self` may be reached.
    pub fn reachable_from(self) -> &'static [AppointmentStatus] {
        use AppointmentStatus::*;
        match self {
            Scheduled => &[],
            Waiting => &[Scheduled],
            InProgress => &[Scheduled, Waiting],
            Completed => &[Scheduled, Waiting, InProgress],
            Cancelled => &[Scheduled, Waiting],
            NoShow => &[Scheduled, Waiting],
        }
    }
}

crate::simple_enum! {
    /// Who someone is in a call.
    ParticipantKind {
        /// The patient.
        Patient = "patient", "Patient", "Patient",
        /// The médecin holding the teleconsultation.
        Practitioner = "practitioner", "Médecin", "Doctor",
        /// A guest for this call only.
        Guest = "guest", "Invité", "Guest",
    }
}

crate::simple_enum! {
    /// Where a participant stands.
    ParticipantState {
        /// Expected, not arrived.
        Invited = "invited", "Attendu", "Expected",
        /// In the waiting room.
        Waiting = "waiting", "En salle d'attente", "In the waiting room",
        /// Admitted into the call.
        Admitted = "admitted", "Admis", "Admitted",
        /// Left (the call closed).
        Left = "left", "Parti", "Left",
    }
}

crate::simple_enum! {
    /// What a document of the record is.
    DocumentKind {
        /// Shared during a call (a photo, a previous prescription…).
        Shared = "shared", "Document partagé", "Shared document",
        /// The teleconsultation report (compte rendu).
        Report = "report", "Compte rendu", "Report",
        /// A prescription (ordonnance).
        Prescription = "prescription", "Ordonnance", "Prescription",
    }
}

/// Largest document accepted (10 MiB).
pub const MAX_DOCUMENT_BYTES: usize = 10 * 1024 * 1024;

/// The media types accepted for shared documents, recognised by their first bytes (the name and the
/// browser's declared type are not trusted).
pub const ACCEPTED_TYPES: &[&str] = &["application/pdf", "image/jpeg", "image/png"];

/// The media type of `bytes`, if it is one of [`ACCEPTED_TYPES`].
pub fn sniff_media_type(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(b"%PDF-") {
        Some("application/pdf")
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else if bytes.starts_with(&[0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A]) {
        Some("image/png")
    } else {
        None
    }
}

/// A file name safe to store and to give back in `Content-Disposition`: the last path component,
/// control and quote characters removed, at most 120 characters; `document` when nothing is left.
pub fn clean_file_name(raw: &str) -> String {
    let last = raw.rsplit(['/', '\\']).next().unwrap_or(raw);
    let cleaned: String = last
        .chars()
        .filter(|c| !c.is_control() && !matches!(c, '"' | '\'' | ';' | '<' | '>'))
        .take(120)
        .collect();
    let cleaned = cleaned
        .trim_start_matches(|c: char| c.is_whitespace() || c == '.')
        .trim_end()
        .to_owned();
    if cleaned.is_empty() {
        "document".to_owned()
    } else {
        cleaned
    }
}

/// Why an upload is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum UploadRefusal {
    /// Empty file.
    Empty,
    /// Over [`MAX_DOCUMENT_BYTES`].
    TooLarge,
    /// Not one of [`ACCEPTED_TYPES`].
    WrongType,
}

/// Checks an uploaded file: its size and its real type. Returns the media type to store.
pub fn check_upload(bytes: &[u8]) -> Result<&'static str, UploadRefusal> {
    if bytes.is_empty() {
        return Err(UploadRefusal::Empty);
    }
    if bytes.len() > MAX_DOCUMENT_BYTES {
        return Err(UploadRefusal::TooLarge);
    }
    sniff_media_type(bytes).ok_or(UploadRefusal::WrongType)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn final_statuses_are_reached_and_left_never() {
        for s in AppointmentStatus::ALL {
            for f in AppointmentStatus::ALL.iter().filter(|f| f.is_final()) {
                assert!(!s.reachable_from().contains(f), "{s:?} from {f:?}");
            }
        }
        assert!(AppointmentStatus::Completed.is_final());
        assert!(!AppointmentStatus::Waiting.is_final());
    }

    #[test]
    fn act1_uploads_are_judged_by_their_bytes() {
        assert_eq!(check_upload(b"%PDF-1.7\n..."), Ok("application/pdf"));
        assert_eq!(
            check_upload(&[0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A, 0]),
            Ok("image/png")
        );
        assert_eq!(check_upload(b"MZ\x90\x00"), Err(UploadRefusal::WrongType));
        assert_eq!(check_upload(b"<html>"), Err(UploadRefusal::WrongType));
        assert_eq!(check_upload(b""), Err(UploadRefusal::Empty));
        let big = vec![b'%'; MAX_DOCUMENT_BYTES + 1];
        assert_eq!(check_upload(&big), Err(UploadRefusal::TooLarge));
    }

    #[test]
    fn file_names_are_cleaned() {
        assert_eq!(clean_file_name("../../etc/passwd"), "passwd");
        assert_eq!(clean_file_name("C:\\Users\\x\\ordo.pdf"), "ordo.pdf");
        assert_eq!(clean_file_name("a\"b;c\r\n.pdf"), "abc.pdf");
        assert_eq!(clean_file_name(".."), "document");
        // Cleaning twice changes nothing (the `upload` fuzz target checks it on any name).
        assert_eq!(clean_file_name(". a"), "a");
        assert_eq!(clean_file_name(clean_file_name(". .a").as_str()), "a");
        assert_eq!(
            clean_file_name("Résultats d'analyse.pdf"),
            "Résultats danalyse.pdf"
        );
    }
}
