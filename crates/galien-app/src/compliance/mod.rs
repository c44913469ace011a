//! Compliance use cases: the DPO's view of the audit trail (TRACE-3) and its FHIR rendering.

pub mod anomaly;
pub mod audit;
pub mod fhir;
pub mod incidents;
