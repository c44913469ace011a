//! The Galien node as a library: configuration, start-up and the serving loop. `main.rs` is the
//! command line around it; `galien-testkit` starts the same node in tests.

pub mod audit_cli;
pub mod backup_cli;
pub mod client_cert;
pub mod config;
pub mod datadir;
pub mod ops_cli;
pub mod secret;
pub mod siem;
pub mod startup;
pub mod telemetry;
pub mod tls;

pub use startup::{Capabilities, Server, StartError};
