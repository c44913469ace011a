//! Telemonitoring (ACT-3): programmes with their usual measurements and thresholds, enrolment of a
//! patient by a médecin (consent recorded, monitoring professionals named, devices attached),
//! ingestion of measurements from devices through the gate (sealed with the patient's data key,
//! duplicates stored once), and the threshold rules that open alerts.

pub mod alerts;
pub mod enrol;
pub mod fhir;
pub mod ingest;
pub mod missing;
pub mod programmes;

pub use programmes::{Programme, ProgrammeBook, Threshold, Thresholds};
