//! Compliance use cases: the DPO's view of the audit trail (TRACE-3) and its FHIR rendering,
//! incidents, and the processing register with its draft DPIA (GDPR-1).

pub mod anomaly;
pub mod audit;
pub mod fhir;
pub mod incidents;
pub mod register;
