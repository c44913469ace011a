//! Patients' records behind the access gate (ACC-1 … ACC-6, DATA-1, DATA-2, GDPR-3).
//!
//! Every function here that reads or writes health data takes a [`Permit`] by value: it refuses a
//! permit for another action ([`StoreError::Permit`]), works only on the permit's patient, and appends
//! the permit's audit record in the same transaction as the read or write (the record is durable
//! before the caller sees any data). Values arrive and leave sealed: the application encrypts with the
//! patient's data key; this module never sees clear identity, NIR or clinical text.

mod care;
mod consents;
mod keys;
mod records;
mod summary;

use galien_access::{Action, Permit};
use galien_core::audit::AuditEvent;
use galien_core::ids::PatientId;

use crate::StoreError;

pub use care::{
    CareKind, CareRelationship, EmergencyAccess, NewCareRelationship, NewEmergencyAccess,
};
pub use consents::{Consent, NewConsent, NewNote, Note};
pub use records::{NewPatient, PatientUpdate, SealedPatient};
pub use summary::{SummaryPermits, SummaryRows};

/// A patient data key wrapped by a key-encryption key of the ring.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrappedDataKey {
    /// Which key-encryption key wrapped it.
    pub kek: u32,
    /// The wrapped bytes.
    pub bytes: Vec<u8>,
}

/// Runs `$body` in one write transaction on the backend's connection, then appends `$trace` (an
/// [`AuditEvent`]) in the same transaction: both commit, or neither does.
macro_rules! traced_tx {
    ($store:expr, $trace:expr, |$conn:ident| $body:block) => {{
        let trace: Vec<galien_core::audit::AuditEvent> = $trace;
        match &*$store.inner {
            $crate::Imp::Sqlite(s) => {
                s.write(move |$conn| {
                    Box::pin(async move {
                        let out = { $body }?;
                        $crate::audit::sqlite::append_all_in(&mut *$conn, &trace).await?;
                        Ok(out)
                    })
                })
                .await
            }
            $crate::Imp::Postgres(s) => {
                s.write(move |$conn| {
                    Box::pin(async move {
                        let out = { $body }?;
                        $crate::audit::postgres::append_all_in(&mut *$conn, &trace).await?;
                        Ok(out)
                    })
                })
                .await
            }
        }
    }};
}
pub(crate) use care::{add_relationship, insert_relationship, relationships_of};
pub(crate) use traced_tx;

/// Runs a read-only `$body` on the backend's read pool (metadata only: relationships, key rows).
macro_rules! read_only {
    ($store:expr, |$conn:ident| $body:block) => {
        match &*$store.inner {
            $crate::Imp::Sqlite(s) => s.read(move |$conn| Box::pin(async move $body)).await,
            $crate::Imp::Postgres(s) => s.read(move |$conn| Box::pin(async move $body)).await,
        }
    };
}
pub(crate) use read_only;

/// The permit's patient, when it was granted for one of `actions`.
pub(crate) fn require(permit: &Permit, actions: &[Action]) -> Result<PatientId, StoreError> {
    if !actions.contains(&permit.action()) {
        return Err(StoreError::Permit(format!(
            "a permit for {} cannot be used here",
            permit.action()
        )));
    }
    permit
        .patient()
        .ok_or_else(|| StoreError::Permit("the permit names no patient".into()))
}

/// The permit's action, when it is one of `actions` (registry actions have no patient).
pub(crate) fn require_registry(permit: &Permit, action: Action) -> Result<(), StoreError> {
    if permit.action() == action {
        Ok(())
    } else {
        Err(StoreError::Permit(format!(
            "a permit for {} cannot be used here",
            permit.action()
        )))
    }
}

/// The permit's audit record, to commit with the access.
pub(crate) fn trace_of(permit: &Permit) -> Vec<AuditEvent> {
    vec![permit.trace().clone()]
}
