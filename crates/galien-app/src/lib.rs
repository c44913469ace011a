//! Galien's use cases. Each module is one capability (bootstrap, and later identity, the acts,
//! compliance); handlers in `galien-web` and the CLI call these functions and nothing below them.

pub mod bootstrap;
pub mod error;

pub use error::AppError;

use galien_core::{Clock, Entropy};
use galien_store::Store;
use std::sync::Arc;
use time::Duration;

/// Settings the use cases need (a subset of the operator's configuration).
#[derive(Debug, Clone)]
pub struct AppSettings {
    /// The address people use to reach this installation, e.g. `https://galien.example.fr`; links
    /// in messages are built from it. No trailing slash.
    pub public_url: String,
    /// How long an enrolment link stays valid.
    pub enrolment_link_ttl: Duration,
}

/// Everything a use case may touch: storage, time, randomness, settings.
#[derive(Debug, Clone)]
pub struct App {
    /// Persistence (health data only through a Permit, once the access gate exists).
    pub store: Store,
    /// The injected clock.
    pub clock: Arc<dyn Clock>,
    /// The injected randomness.
    pub entropy: Arc<dyn Entropy>,
    /// Settings.
    pub settings: AppSettings,
}
