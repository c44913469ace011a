//! Typed identifiers: a `UserId` can never be passed where a `PatientId` is expected.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! uuid_id {
    ($( $(#[$doc:meta])* $name:ident ),* $(,)?) => {$(
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// A fresh, time-ordered id (UUID v7) drawn from `entropy` at `at`.
            pub fn generate(at: time::OffsetDateTime, entropy: &dyn crate::Entropy) -> Self {
                let mut rand = [0u8; 10];
                entropy.fill(&mut rand);
                let millis = u64::try_from(at.unix_timestamp_nanos() / 1_000_000).unwrap_or(0);
                Self(uuid::Builder::from_unix_timestamp_millis(millis, &rand).into_uuid())
            }

            /// Wraps an existing UUID (from storage).
            pub fn from_uuid(id: Uuid) -> Self {
                Self(id)
            }

            /// The underlying UUID.
            pub fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }

        impl std::str::FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }
    )*};
}

uuid_id! {
    /// This Galien installation (one per database), so nodes and exports can say where they come from.
    InstanceId,
    /// One running Galien process; several nodes share one PostgreSQL database.
    NodeId,
    /// A person's account.
    UserId,
    /// A request, carried through logs and traces.
    RequestId,
    /// A patient's record.
    PatientId,
    /// One record of the audit trail.
    AuditEventId,
    /// A care relationship (care team membership, act, monitoring, regulation case).
    CareRelationshipId,
    /// An emergency access ("bris de glace").
    EmergencyAccessId,
    /// A recorded consent.
    ConsentId,
    /// A clinical note.
    NoteId,
    /// An appointment, and the teleconsultation held at it (one room per appointment).
    AppointmentId,
    /// One person's place in a teleconsultation (the patient, the médecin, a guest).
    ParticipantId,
    /// One connection of a participant to a call's signaling channel (a new one at each reconnection).
    PeerId,
    /// A document of a patient's record (shared file, report, prescription).
    DocumentId,
    /// A chat message of a call.
    MessageId,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SeededEntropy;
    use time::macros::datetime;

    #[test]
    fn ids_are_time_ordered_and_round_trip() {
        let e = SeededEntropy::new(1);
        let a = UserId::generate(datetime!(2026-01-01 0:00 UTC), &e);
        let b = UserId::generate(datetime!(2026-01-01 0:01 UTC), &e);
        assert!(a < b);
        let parsed: UserId = a.to_string().parse().unwrap();
        assert_eq!(parsed, a);
    }
}
