//! Patients' records behind the access gate: registration and search (INS/NIR, name + birth date),
//! the summary, identity correction, the NIR shown on purpose, clinical notes, consents (GDPR-3), the
//! care team (ACC-3), emergency access (ACC-4) and its review by the DPO, key rotation (DATA-1).
//!
//! Every function asks the gate ([`access`]) for a permit naming the actor, the action and the
//! patient; the store commits the permit's trace with the access. A refusal is traced, then reported as
//! `ACC-DENIED` with nothing of the record in it.

pub mod access;
pub mod access_log;
pub mod care;
pub mod clinical;
pub mod health_keys;
pub mod records;

pub use health_keys::{HealthKeys, RotationReport, rotate};

use galien_core::ErrorCode;
use galien_core::ids::PatientId;
use galien_crypto::envelope::{DataKey, Place};
use galien_store::SealedPatient;

use crate::{App, AppError};

/// The patient's data key, from their row.
pub(crate) fn data_key_of(app: &App, p: &SealedPatient) -> Result<DataKey, AppError> {
    let wrapped = p
        .key
        .as_ref()
        .ok_or(AppError::Refused(ErrorCode::DataUnreadable))?;
    app.health
        .data_key(p.id, wrapped)
        .map_err(|_| AppError::Refused(ErrorCode::DataUnreadable))
}

/// The place (associated data) of a sealed column.
pub(crate) fn place<'a>(table: &'a str, row: &'a str, column: &'a str) -> Place<'a> {
    Place { table, row, column }
}

/// Opens a sealed value as UTF-8 text.
pub(crate) fn open_text(key: &DataKey, sealed: &[u8], at: &Place<'_>) -> Result<String, AppError> {
    let clear = key
        .open(sealed, at)
        .map_err(|_| AppError::Refused(ErrorCode::DataUnreadable))?;
    String::from_utf8(clear.to_vec()).map_err(|_| AppError::Refused(ErrorCode::DataUnreadable))
}

/// The patient id as the row text of a place.
pub(crate) fn row_of(id: PatientId) -> String {
    id.to_string()
}
