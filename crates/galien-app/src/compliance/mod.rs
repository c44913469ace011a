//! Compliance use cases: the DPO's view of the audit trail (TRACE-3) and its FHIR rendering.

pub mod audit;
pub mod fhir;
