//! Galien's use cases. Each module is one capability (bootstrap, identity, and later the acts and
//! compliance); handlers in `galien-web` and the CLI call these functions and nothing below them.

pub mod bootstrap;
pub mod compliance;
pub mod context;
pub mod error;
pub mod ice;
pub mod identity;
pub mod keys;
pub mod notify;
pub mod patients;
pub mod teleconsultation;
pub mod telemonitoring;
pub mod trace;

pub use context::RequestContext;
pub use error::AppError;

use galien_core::{Clock, Entropy};
use galien_crypto::password::PasswordHasher;
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
    /// Sessions and sign-in protection.
    pub auth: AuthSettings,
    /// OpenID Connect sign-in, when configured.
    pub oidc: Option<OidcSettings>,
    /// How long an emergency access (break-the-glass) lasts (ACC-4).
    pub emergency_access: Duration,
    /// Thresholds of the anomaly rules (TRACE-5).
    pub anomaly: compliance::anomaly::AnomalySettings,
    /// Telemonitoring programmes in force (templates changed by `galien-data/programmes.toml`).
    pub programmes: telemonitoring::ProgrammeBook,
    /// ICE servers for calls (STUN, TURN with time-limited credentials).
    pub ice: ice::IceSettings,
    /// The organisation's time zone: the time people read on their clocks, in which pages show and
    /// forms read times, and documents are dated (storage, traces and the API stay in UTC).
    pub time_zone: galien_core::Zone,
    /// What the processing register says of the installation beyond these settings (GDPR-1).
    pub installation: compliance::register::InstallationFacts,
}

/// An OpenID Connect provider asserting two factors (Pro Santé Connect style, AUTH-2).
#[derive(Clone)]
pub struct OidcSettings {
    /// Issuer URL.
    pub issuer: String,
    /// Our client id.
    pub client_id: String,
    /// Our client secret.
    pub client_secret: String,
    /// Required `acr` value(s), space-separated.
    pub acr_values: String,
    /// The claim carrying the RPPS number.
    pub rpps_claim: String,
    /// Button label.
    pub label: String,
}

impl std::fmt::Debug for OidcSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcSettings")
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .field("acr_values", &self.acr_values)
            .finish_non_exhaustive()
    }
}

/// Sessions (AUTH-7) and brute-force protection (AUTH-5).
#[derive(Debug, Clone)]
pub struct AuthSettings {
    /// A session unused this long ends.
    pub idle_timeout: Duration,
    /// A session ends this long after sign-in, whatever happens.
    pub absolute_timeout: Duration,
    /// A second factor entered within this window counts as fresh for sensitive actions.
    pub step_up_window: Duration,
    /// Failures within `lock_window` that lock an account (or an address, times 3).
    pub lock_threshold: u32,
    /// The window in which failures count, and how long a lock lasts.
    pub lock_window: Duration,
    /// First delay added to a failed attempt after 3 failures; doubles each time, at most 8 s.
    pub failure_delay: std::time::Duration,
}

impl Default for AuthSettings {
    fn default() -> Self {
        Self {
            idle_timeout: Duration::minutes(15),
            absolute_timeout: Duration::hours(12),
            step_up_window: Duration::minutes(5),
            lock_threshold: 10,
            lock_window: Duration::minutes(15),
            failure_delay: std::time::Duration::from_millis(500),
        }
    }
}

/// Everything a use case may touch: storage, time, randomness, keys, settings.
#[derive(Debug, Clone)]
pub struct App {
    /// Persistence (health data only through a Permit, once the access gate exists).
    pub store: Store,
    /// The injected clock.
    pub clock: Arc<dyn Clock>,
    /// The injected randomness.
    pub entropy: Arc<dyn Entropy>,
    /// Purpose-bound keys derived from the master key.
    pub keys: Arc<keys::AppKeys>,
    /// Argon2id with the installation's pepper.
    pub hasher: Arc<PasswordHasher>,
    /// Settings.
    pub settings: Arc<AppSettings>,
    /// The OpenID Connect provider's metadata, fetched on first use (see `identity::oidc`).
    pub oidc: Arc<identity::oidc::ProviderCache>,
    /// The access gate (Cedar policies in force).
    pub gate: Arc<galien_access::Gate>,
    /// Keys of health data (key ring, blind indexes).
    pub health: Arc<patients::HealthKeys>,
    /// Mail through SMTP, when configured.
    pub mailer: Option<Arc<notify::Mailer>>,
}
