//! Galien's integration tests, in one binary: each module was its own test binary, and each of
//! those linked the whole node again (about 8 s apiece on 2 cores). nextest still runs every test
//! in a process of its own; `.config/nextest.toml` names the modules that drive Chromium or spawn
//! the OpenID provider (`test(/^pages::/)` and so on).

// Tests may unwrap, panic and index: a failure is the test's answer.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

mod api_schema;
mod appointment_pages;
mod audit_cli;
mod backup;
mod call;
mod certificate;
mod cli;
mod cluster;
mod crash_safety;
mod dpo_audit;
mod identity;
mod incident_pages;
mod incidents;
mod machines;
mod monitoring_pages;
mod oidc;
mod pages;
mod patient_pages;
mod patients;
mod register;
mod server;
mod siem;
mod teleconsultation;
mod telemonitoring;
mod trace_completeness;
mod turn;
mod webauthn;
