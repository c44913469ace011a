//! Configuration: built-in defaults → optional TOML file (`--config`) → `GALIEN_*` environment
//! variables → command-line flags. Each layer is checked on its own so that an error names the
//! key *and where it came from*; unknown keys and invalid values stop the start with the fix.
//! Secrets (a database password) never reach `Debug` or the logs.

use crate::secret::Secret;
use galien_store::DatabaseUrl;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The operator's configuration, as written in the TOML file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Address and port to listen on.
    pub listen: SocketAddr,
    /// Where Galien keeps its database (SQLite), keys, certificates and blobs.
    pub data_dir: PathBuf,
    /// `postgres://…` to run on PostgreSQL; absent means SQLite in `data_dir`.
    pub database_url: Option<Secret>,
    /// The address people use to reach Galien (links in messages); derived from `listen` if absent.
    pub public_url: Option<String>,
    /// The time people read on their clocks where the organisation runs (an IANA name of a zone of
    /// France, `Europe/Paris` by default): pages show and forms read times in it.
    pub time_zone: String,
    /// HTTPS.
    pub tls: TlsConfig,
    /// Logging.
    pub log: LogConfig,
    /// HTTP limits.
    pub http: HttpConfig,
    /// Database tuning.
    pub database: DatabaseConfig,
    /// Enrolment links.
    pub enrolment: EnrolmentConfig,
    /// The access gate.
    pub access: AccessConfig,
    /// Anomaly rules (TRACE-5).
    pub anomaly: AnomalyConfig,
    /// Outgoing mail.
    pub smtp: SmtpConfig,
    /// Sessions and sign-in protection.
    pub auth: AuthConfig,
    /// Sign-in through an OpenID Connect provider (Pro Santé Connect style).
    pub oidc: OidcConfig,
    /// The audit trail.
    pub audit: AuditConfig,
    /// Forwarding the audit trail to a SIEM (syslog over TLS).
    pub siem: SiemConfig,
    /// STUN and TURN servers for calls.
    pub ice: IceConfig,
    /// Who runs this installation, for the processing register (GDPR-1).
    pub organisation: OrganisationConfig,
}

/// `[organisation]` (GDPR-1): what the processing register cannot learn from the rest of the
/// configuration. Each is optional; the register marks what is missing as to complete.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OrganisationConfig {
    /// The data controller (responsable de traitement), e.g. "Centre hospitalier de Lannion".
    pub name: Option<String>,
    /// Its postal address.
    pub address: Option<String>,
    /// The data protection officer's name.
    pub dpo_name: Option<String>,
    /// The DPO's e-mail address.
    pub dpo_email: Option<String>,
    /// The certified health data host (hébergeur HDS) running this installation.
    pub host: Option<String>,
}

/// `[ice]` (ACT-1): the STUN and TURN servers that call pages use. TURN credentials are derived
/// for each connection from `turn_secret`, shared with the TURN server (coturn `use-auth-secret` +
/// `static-auth-secret`), and expire after `credential_ttl_secs`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IceConfig {
    /// `stun:`/`stuns:` URLs: a TOML list, or one string of URLs separated by commas or spaces
    /// (the form of `GALIEN_ICE_STUN_URLS`).
    #[serde(deserialize_with = "url_list")]
    pub stun_urls: Vec<String>,
    /// `turn:`/`turns:` URLs, in the same forms; they need `turn_secret`.
    #[serde(deserialize_with = "url_list")]
    pub turn_urls: Vec<String>,
    /// The secret shared with the TURN server (coturn `static-auth-secret`, at least 16 characters).
    pub turn_secret: Option<Secret>,
    /// Seconds TURN credentials stay valid (60–86400); enough for a call, since coturn refuses
    /// expired credentials when a relay is opened.
    pub credential_ttl_secs: u64,
    /// Media only through the TURN relay (`iceTransportPolicy: "relay"`); needs `turn_urls`.
    pub relay_only: bool,
}

impl Default for IceConfig {
    fn default() -> Self {
        Self {
            stun_urls: Vec::new(),
            turn_urls: Vec::new(),
            turn_secret: None,
            credential_ttl_secs: 4 * 3600,
            relay_only: false,
        }
    }
}

/// A list of URLs: a TOML array of strings, or one string separated by commas or whitespace.
fn url_list<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Urls {
        List(Vec<String>),
        Text(String),
    }
    Ok(match Urls::deserialize(d)? {
        Urls::List(list) => list,
        Urls::Text(text) => text
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|u| !u.is_empty())
            .map(str::to_owned)
            .collect(),
    })
}

/// Shortest `ice.turn_secret` accepted: whoever knows the secret can mint TURN credentials.
const MIN_TURN_SECRET_CHARS: usize = 16;

impl IceConfig {
    /// Checks the section as a whole; the error names the key at fault.
    fn check(&self) -> Result<(), (&'static str, String)> {
        let well_formed = |url: &str, schemes: [&str; 2]| {
            schemes.iter().any(|scheme| {
                url.strip_prefix(scheme)
                    .is_some_and(|rest| !rest.is_empty() && !rest.contains(char::is_whitespace))
            }) && !url.chars().any(char::is_control)
        };
        for url in &self.stun_urls {
            if !well_formed(url, ["stun:", "stuns:"]) {
                return Err((
                    "ice.stun_urls",
                    format!("{url:?} is not a stun: or stuns: URL"),
                ));
            }
        }
        for url in &self.turn_urls {
            if !well_formed(url, ["turn:", "turns:"]) {
                return Err((
                    "ice.turn_urls",
                    format!("{url:?} is not a turn: or turns: URL"),
                ));
            }
        }
        if !(60..=86_400).contains(&self.credential_ttl_secs) {
            return Err((
                "ice.credential_ttl_secs",
                format!("{} is out of range", self.credential_ttl_secs),
            ));
        }
        match &self.turn_secret {
            None if !self.turn_urls.is_empty() => {
                return Err((
                    "ice.turn_secret",
                    "is required with ice.turn_urls (TURN servers refuse requests without credentials)"
                        .into(),
                ));
            }
            Some(secret) if secret.expose().trim().chars().count() < MIN_TURN_SECRET_CHARS => {
                return Err((
                    "ice.turn_secret",
                    format!("is too short: at least {MIN_TURN_SECRET_CHARS} characters"),
                ));
            }
            _ => {}
        }
        if self.relay_only && self.turn_urls.is_empty() {
            return Err((
                "ice.relay_only",
                "needs ice.turn_urls: with no relay, calls could not connect".into(),
            ));
        }
        Ok(())
    }
}

/// `[siem]` (TRACE-3): absent address = no forwarding. See [`crate::siem`].
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SiemConfig {
    /// The collector, `host:port` (RFC 5425 syslog over TLS, usually port 6514).
    pub address: Option<String>,
    /// PEM file of the authorities trusted for the collector's certificate (required with `address`).
    pub ca: Option<PathBuf>,
    /// RFC 5424 APP-NAME.
    pub app_name: String,
    /// RFC 5424 HOSTNAME; the machine's name if absent.
    pub hostname: Option<String>,
}

impl Default for SiemConfig {
    fn default() -> Self {
        Self {
            address: None,
            ca: None,
            app_name: "galien".to_owned(),
            hostname: None,
        }
    }
}

/// `[oidc]`: absent issuer = no OpenID Connect sign-in.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OidcConfig {
    /// The provider's issuer URL (its discovery document is `<issuer>/.well-known/openid-configuration`).
    pub issuer: Option<String>,
    /// Galien's client id at the provider.
    pub client_id: Option<String>,
    /// Galien's client secret at the provider.
    pub client_secret: Option<Secret>,
    /// `acr_values` asked for, and required in the id token (Pro Santé Connect: `eidas1`).
    pub acr_values: String,
    /// The claim that carries the RPPS number.
    pub rpps_claim: String,
    /// The button label on the sign-in page.
    pub label: String,
}

impl Default for OidcConfig {
    fn default() -> Self {
        Self {
            issuer: None,
            client_id: None,
            client_secret: None,
            acr_values: "eidas1".to_owned(),
            rpps_claim: "rpps".to_owned(),
            label: "Pro Santé Connect".to_owned(),
        }
    }
}

/// `[audit]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuditConfig {
    /// Seconds between signed checkpoints of the audit trail (10–86400).
    pub checkpoint_interval_secs: u64,
    /// Days audit records are kept before `galien audit purge` removes them (30–36500).
    pub retention_days: u32,
}

impl Default for AuditConfig {
    fn default() -> Self {
        Self {
            checkpoint_interval_secs: 300,
            retention_days: 365,
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("galien-data"),
            database_url: None,
            public_url: None,
            time_zone: galien_core::Zone::default().name().to_owned(),
            tls: TlsConfig::default(),
            log: LogConfig::default(),
            http: HttpConfig::default(),
            database: DatabaseConfig::default(),
            enrolment: EnrolmentConfig::default(),
            access: AccessConfig::default(),
            anomaly: AnomalyConfig::default(),
            smtp: SmtpConfig::default(),
            auth: AuthConfig::default(),
            oidc: OidcConfig::default(),
            audit: AuditConfig::default(),
            siem: SiemConfig::default(),
            ice: IceConfig::default(),
            organisation: OrganisationConfig::default(),
        }
    }
}

/// `[auth]` (AUTH-5, AUTH-7)
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    /// Minutes of inactivity that end a session (1–120).
    pub idle_timeout_mins: u32,
    /// Hours after which a session ends whatever happens (1–24).
    pub absolute_timeout_hours: u32,
    /// Minutes a freshly entered second factor counts for sensitive actions (1–30).
    pub step_up_mins: u32,
    /// Failures within the lock window that lock an account (3–100; an address: three times as many).
    pub lock_threshold: u32,
    /// Minutes in which failures count, and how long a lock lasts (1–1440).
    pub lock_minutes: u32,
    /// First delay, in milliseconds, added to failed attempts after the third (0–2000; doubles each time, at most 8 s).
    pub failure_delay_ms: u32,
    /// Argon2id memory in KiB (19456 = OWASP minimum; 1024–1048576).
    pub argon2_memory_kib: u32,
    /// Argon2id passes (1–10).
    pub argon2_iterations: u32,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            idle_timeout_mins: 15,
            absolute_timeout_hours: 12,
            step_up_mins: 5,
            lock_threshold: 10,
            lock_minutes: 15,
            failure_delay_ms: 500,
            argon2_memory_kib: 19 * 1024,
            argon2_iterations: 2,
        }
    }
}

/// `[tls]`
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TlsConfig {
    /// PEM certificate chain.
    pub cert: Option<PathBuf>,
    /// PEM private key.
    pub key: Option<PathBuf>,
    /// Generate (once, in the data directory) a self-signed certificate for a local trial.
    pub self_signed: bool,
    /// PEM file of the certificate authorities whose client certificates (CPS-card style) may sign
    /// in (AUTH-2); absent = no certificate sign-in. Needs TLS.
    pub client_ca: Option<PathBuf>,
    /// PEM (or DER) certificate revocation list of that authority; revoked certificates are refused.
    pub client_crl: Option<PathBuf>,
}

/// Log line format.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

/// `[log]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// `text` or `json`.
    pub format: LogFormat,
    /// A tracing filter such as `info` or `info,galien_store=debug`.
    pub level: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            format: LogFormat::Text,
            level: "info".to_owned(),
        }
    }
}

/// `[http]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    /// Seconds before a request is abandoned (1–600).
    pub request_timeout_secs: u64,
    /// Largest request body in bytes (1 KiB – 1 GiB).
    pub max_body_bytes: u64,
    /// Seconds given to in-flight requests at shutdown (0–300).
    pub shutdown_grace_secs: u64,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            request_timeout_secs: 30,
            max_body_bytes: 2 * 1024 * 1024,
            shutdown_grace_secs: 30,
        }
    }
}

/// `[database]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseConfig {
    /// Connection pool size (1–1000); by default twice the cores, from 4 to 64.
    pub max_connections: u32,
    /// Most writes committed together by the SQLite writer, and most audit records in one group of
    /// the PostgreSQL audit appender (1–10000).
    pub group_commit_max_batch: usize,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self {
            max_connections: galien_store::StoreOptions::default_connections(),
            group_commit_max_batch: 256,
        }
    }
}

/// `[enrolment]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EnrolmentConfig {
    /// Hours an enrolment link stays valid (1–168).
    pub link_ttl_hours: u32,
}

impl Default for EnrolmentConfig {
    fn default() -> Self {
        Self { link_ttl_hours: 24 }
    }
}

/// `[access]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AccessConfig {
    /// Minutes an emergency access (break-the-glass) lasts (15–1440).
    pub emergency_minutes: u32,
}

impl Default for AccessConfig {
    fn default() -> Self {
        Self {
            emergency_minutes: 240,
        }
    }
}

/// `[smtp]`: outgoing mail (notifications carry no health data, only a link).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SmtpConfig {
    /// The relay's host name; unset: no mail is sent.
    pub host: Option<String>,
    /// Its port (587 for STARTTLS, 465 for TLS).
    pub port: u16,
    /// `starttls`, `tls`, or `none` (only for a relay on this machine).
    pub security: String,
    /// Login at the relay.
    pub username: Option<String>,
    /// Password at the relay.
    pub password: Option<Secret>,
    /// The sender address.
    pub from: Option<String>,
}

impl Default for SmtpConfig {
    fn default() -> Self {
        Self {
            host: None,
            port: 587,
            security: "starttls".to_owned(),
            username: None,
            password: None,
            from: None,
        }
    }
}

/// `[anomaly]`: thresholds of the anomaly rules that open security incidents (TRACE-5).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AnomalyConfig {
    /// Seconds between scans of the audit trail (5–3600).
    pub scan_interval_secs: u64,
    /// Distinct patients opened by one user… (2–10000)
    pub many_patients: u32,
    /// …within this many minutes (1–1440).
    pub many_patients_minutes: u32,
    /// Failed sign-ins on one account or from one address… (2–10000)
    pub failed_logins: u32,
    /// …within this many minutes (1–1440).
    pub failed_logins_minutes: u32,
    /// Exports by one user… (1–10000)
    pub exports: u32,
    /// …within this many minutes (1–1440).
    pub exports_minutes: u32,
    /// Working hours start, local time (0–23).
    pub working_hours_start: u8,
    /// Working hours end, local time (1–24).
    pub working_hours_end: u8,
    /// A fixed offset from UTC, in hours (-12–14), for the working and reading hours only;
    /// unset (the default): the time of `time_zone`, summer time included where it applies.
    pub utc_offset_hours: Option<i8>,
}

impl Default for AnomalyConfig {
    fn default() -> Self {
        Self {
            scan_interval_secs: 30,
            many_patients: 20,
            many_patients_minutes: 10,
            failed_logins: 10,
            failed_logins_minutes: 15,
            exports: 5,
            exports_minutes: 60,
            working_hours_start: 7,
            working_hours_end: 20,
            utc_offset_hours: None,
        }
    }
}

impl AnomalyConfig {
    /// The thresholds the use cases apply, the hours in `zone` unless a fixed offset is set.
    pub fn settings(
        &self,
        zone: galien_core::Zone,
    ) -> galien_app::compliance::anomaly::AnomalySettings {
        let minutes = |m: u32| time::Duration::minutes(i64::from(m));
        galien_app::compliance::anomaly::AnomalySettings {
            many_patients: self.many_patients,
            many_patients_window: minutes(self.many_patients_minutes),
            failed_logins: self.failed_logins,
            failed_logins_window: minutes(self.failed_logins_minutes),
            exports: self.exports,
            exports_window: minutes(self.exports_minutes),
            working_hours: (self.working_hours_start, self.working_hours_end),
            utc_offset: self
                .utc_offset_hours
                .and_then(|h| time::UtcOffset::from_hms(h, 0, 0).ok()),
            zone,
        }
    }
}

/// Every key, as written in TOML (dotted) — its environment variable is `GALIEN_` + the key in
/// capitals with `.` replaced by `_` (e.g. `tls.self_signed` ↔ `GALIEN_TLS_SELF_SIGNED`).
pub const KEYS: &[&str] = &[
    "listen",
    "data_dir",
    "database_url",
    "public_url",
    "time_zone",
    "tls.cert",
    "tls.key",
    "tls.self_signed",
    "tls.client_ca",
    "tls.client_crl",
    "log.format",
    "log.level",
    "http.request_timeout_secs",
    "http.max_body_bytes",
    "http.shutdown_grace_secs",
    "database.max_connections",
    "database.group_commit_max_batch",
    "enrolment.link_ttl_hours",
    "access.emergency_minutes",
    "anomaly.scan_interval_secs",
    "anomaly.many_patients",
    "anomaly.many_patients_minutes",
    "anomaly.failed_logins",
    "anomaly.failed_logins_minutes",
    "anomaly.exports",
    "anomaly.exports_minutes",
    "anomaly.working_hours_start",
    "anomaly.working_hours_end",
    "anomaly.utc_offset_hours",
    "auth.idle_timeout_mins",
    "auth.absolute_timeout_hours",
    "auth.step_up_mins",
    "auth.lock_threshold",
    "auth.lock_minutes",
    "auth.failure_delay_ms",
    "auth.argon2_memory_kib",
    "auth.argon2_iterations",
    "smtp.host",
    "smtp.port",
    "smtp.security",
    "smtp.username",
    "smtp.password",
    "smtp.from",
    "oidc.issuer",
    "oidc.client_id",
    "oidc.client_secret",
    "oidc.acr_values",
    "oidc.rpps_claim",
    "oidc.label",
    "audit.checkpoint_interval_secs",
    "audit.retention_days",
    "siem.address",
    "siem.ca",
    "siem.app_name",
    "siem.hostname",
    "ice.stun_urls",
    "ice.turn_urls",
    "ice.turn_secret",
    "ice.credential_ttl_secs",
    "ice.relay_only",
    "organisation.name",
    "organisation.address",
    "organisation.dpo_name",
    "organisation.dpo_email",
    "organisation.host",
];

/// Environment variables with the `GALIEN_` prefix that are not configuration keys.
const NON_KEY_VARIABLES: &[&str] = &["GALIEN_CONFIG"];
const IGNORED_PREFIXES: &[&str] = &["GALIEN_TEST_", "GALIEN_BENCH_"];

/// The environment variable of a key.
pub fn env_name(key: &str) -> String {
    format!("GALIEN_{}", key.replace('.', "_").to_ascii_uppercase())
}

/// Where a value came from, for error messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// Built in.
    Default,
    /// The TOML file.
    File(PathBuf),
    /// An environment variable.
    Env(String),
    /// A command-line flag.
    Flag(String),
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Origin::Default => f.write_str("default"),
            Origin::File(p) => write!(f, "file {}", p.display()),
            Origin::Env(v) => write!(f, "environment variable {v}"),
            Origin::Flag(flag) => write!(f, "flag {flag}"),
        }
    }
}

/// A configuration that stops the start.
#[derive(Debug, Clone, thiserror::Error)]
#[error("configuration: {key} ({origin}): {problem}; fix: {fix}")]
pub struct ConfigError {
    /// The key (or variable, or file) at fault.
    pub key: String,
    /// Where the bad value came from.
    pub origin: Origin,
    /// What is wrong.
    pub problem: String,
    /// What to do.
    pub fix: String,
}

/// Values given on the command line (the top layer); each is `(flag, key, value)`.
#[derive(Debug, Default, Clone)]
pub struct Flags(pub Vec<(&'static str, &'static str, toml::Value)>);

/// Reads and merges the layers; the result is checked with [`Config::validate`].
pub fn load(
    file: Option<&Path>,
    env: &BTreeMap<String, String>,
    flags: &Flags,
) -> Result<(Config, BTreeMap<String, Origin>), ConfigError> {
    let mut merged = toml::Table::new();
    let mut origins: BTreeMap<String, Origin> = BTreeMap::new();

    if let Some(path) = file {
        let origin = Origin::File(path.to_owned());
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            key: "--config".into(),
            origin: origin.clone(),
            problem: format!("cannot read the file: {e}"),
            fix: "give the path of a readable TOML file, or omit --config".into(),
        })?;
        let table: toml::Table = toml::from_str(&text).map_err(|e| ConfigError {
            key: "--config".into(),
            origin: origin.clone(),
            problem: format!("not valid TOML: {}", one_line(&e.to_string())),
            fix: "correct the syntax at the position shown (see README, Configuration)".into(),
        })?;
        // Checked alone, so that an unknown key or a bad value is attributed to the file.
        toml::Value::Table(table.clone())
            .try_into::<Config>()
            .map_err(|e| ConfigError {
                key: "--config".into(),
                origin: origin.clone(),
                problem: one_line(&e.to_string()),
                fix: format!("use only these keys: {}", KEYS.join(", ")),
            })?;
        for key in leaf_keys(&table) {
            origins.insert(key, origin.clone());
        }
        merge(&mut merged, table);
    }

    for (name, raw) in env {
        if !name.starts_with("GALIEN_")
            || NON_KEY_VARIABLES.contains(&name.as_str())
            || IGNORED_PREFIXES.iter().any(|p| name.starts_with(p))
        {
            continue;
        }
        let origin = Origin::Env(name.clone());
        let Some(key) = KEYS.iter().find(|k| env_name(k) == *name) else {
            return Err(ConfigError {
                key: name.clone(),
                origin,
                problem: "unknown variable".into(),
                fix: format!(
                    "remove it, or use one of: {}",
                    KEYS.iter()
                        .map(|k| env_name(k))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            });
        };
        let table = single(key, env_value(raw));
        check_alone(&table, key, &origin)?;
        origins.insert((*key).to_owned(), origin);
        merge(&mut merged, table);
    }

    for (flag, key, value) in &flags.0 {
        let origin = Origin::Flag((*flag).to_owned());
        let table = single(key, value.clone());
        check_alone(&table, key, &origin)?;
        origins.insert((*key).to_owned(), origin);
        merge(&mut merged, table);
    }

    let config = toml::Value::Table(merged)
        .try_into::<Config>()
        .map_err(|e| ConfigError {
            key: "configuration".into(),
            origin: Origin::Default,
            problem: one_line(&e.to_string()),
            fix: "see README, Configuration".into(),
        })?;
    Ok((config, origins))
}

/// An environment value: TOML when it parses as a scalar (`true`, `30`), text otherwise.
fn env_value(raw: &str) -> toml::Value {
    match toml::from_str::<toml::Table>(&format!("v = {raw}"))
        .ok()
        .and_then(|mut t| t.remove("v"))
    {
        Some(v @ (toml::Value::Boolean(_) | toml::Value::Integer(_) | toml::Value::Float(_))) => v,
        _ => toml::Value::String(raw.to_owned()),
    }
}

fn single(key: &str, value: toml::Value) -> toml::Table {
    let mut parts: Vec<&str> = key.split('.').collect();
    let last = parts.pop().unwrap_or(key);
    let mut table = toml::Table::new();
    table.insert(last.to_owned(), value);
    for part in parts.into_iter().rev() {
        let mut outer = toml::Table::new();
        outer.insert(part.to_owned(), toml::Value::Table(table));
        table = outer;
    }
    table
}

fn check_alone(table: &toml::Table, key: &str, origin: &Origin) -> Result<(), ConfigError> {
    toml::Value::Table(table.clone())
        .try_into::<Config>()
        .map(|_| ())
        .map_err(|e| ConfigError {
            key: key.to_owned(),
            origin: origin.clone(),
            problem: one_line(&e.to_string()),
            fix: fix_for(key),
        })
}

fn merge(into: &mut toml::Table, from: toml::Table) {
    for (k, v) in from {
        match (into.get_mut(&k), v) {
            (Some(toml::Value::Table(a)), toml::Value::Table(b)) => merge(a, b),
            (_, v) => {
                into.insert(k, v);
            }
        }
    }
}

fn leaf_keys(table: &toml::Table) -> Vec<String> {
    let mut out = Vec::new();
    for (k, v) in table {
        match v {
            toml::Value::Table(t) => {
                out.extend(leaf_keys(t).into_iter().map(|sub| format!("{k}.{sub}")))
            }
            _ => out.push(k.clone()),
        }
    }
    out
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn fix_for(key: &str) -> String {
    match key {
        "listen" => "give an address and port such as 127.0.0.1:8080".into(),
        "data_dir" => "give a directory path".into(),
        "database_url" => {
            "give postgres://user@host:5432/db, or omit it to use SQLite in the data directory"
                .into()
        }
        "public_url" => "give the address people use, such as https://galien.example.fr".into(),
        "time_zone" => format!("give one of {}", galien_core::Zone::names().join(", ")),
        "tls.self_signed" => "give true or false".into(),
        "log.format" => "give text or json".into(),
        "log.level" => "give a level such as info, warn or debug".into(),
        "http.request_timeout_secs" => "give a whole number of seconds between 1 and 600".into(),
        "http.max_body_bytes" => "give a size in bytes between 1024 and 1073741824".into(),
        "http.shutdown_grace_secs" => "give a whole number of seconds between 0 and 300".into(),
        "database.max_connections" => "give a number between 1 and 1000".into(),
        "database.group_commit_max_batch" => "give a number between 1 and 10000".into(),
        "enrolment.link_ttl_hours" => "give a number of hours between 1 and 168".into(),
        "access.emergency_minutes" => "give a number of minutes between 15 and 1440".into(),
        "anomaly.scan_interval_secs" => "give a number of seconds between 5 and 3600".into(),
        "anomaly.many_patients" | "anomaly.failed_logins" => {
            "give a count between 2 and 10000".into()
        }
        "anomaly.exports" => "give a count between 1 and 10000".into(),
        "anomaly.many_patients_minutes"
        | "anomaly.failed_logins_minutes"
        | "anomaly.exports_minutes" => "give a number of minutes between 1 and 1440".into(),
        "anomaly.working_hours_start" | "anomaly.working_hours_end" => {
            "give an hour between 0 and 24, the start before the end".into()
        }
        "anomaly.utc_offset_hours" => "give a whole number of hours between -12 and 14".into(),
        "auth.idle_timeout_mins" => "give a number of minutes between 1 and 120".into(),
        "auth.absolute_timeout_hours" => "give a number of hours between 1 and 24".into(),
        "auth.step_up_mins" => "give a number of minutes between 1 and 30".into(),
        "auth.lock_threshold" => "give a number of failures between 3 and 100".into(),
        "auth.lock_minutes" => "give a number of minutes between 1 and 1440".into(),
        "auth.failure_delay_ms" => "give a number of milliseconds between 0 and 2000".into(),
        "auth.argon2_memory_kib" => {
            "give a memory size in KiB between 1024 and 1048576 (OWASP: at least 19456)".into()
        }
        "auth.argon2_iterations" => "give a number of passes between 1 and 10".into(),
        "tls.client_ca" => {
            "give the PEM file of the certificate authority of client certificates, and enable TLS"
                .into()
        }
        "tls.client_crl" => {
            "give a CRL file (PEM or DER) of that authority, with tls.client_ca".into()
        }
        "smtp.host" | "smtp.from" => {
            "give the relay's host name and the sender address (both, or neither)".into()
        }
        "smtp.port" => "give a port between 1 and 65535 (587 for STARTTLS, 465 for TLS)".into(),
        "smtp.security" => {
            "give starttls, tls, or none (none only for a relay on 127.0.0.1, ::1 or localhost)"
                .into()
        }
        "smtp.username" | "smtp.password" => {
            "give both the SMTP username and password, or neither".into()
        }
        "oidc.issuer" => {
            "give the provider's issuer URL (https://…), with oidc.client_id and oidc.client_secret"
                .into()
        }
        "oidc.client_id" | "oidc.client_secret" => {
            "give the client id and secret registered at the provider, with oidc.issuer".into()
        }
        "oidc.acr_values" => "give the acr value(s) to require, such as eidas1".into(),
        "audit.checkpoint_interval_secs" => "give a number of seconds between 10 and 86400".into(),
        "audit.retention_days" => "give a number of days between 30 and 36500".into(),
        "siem.address" => "give the syslog collector as host:port (TLS, usually port 6514)".into(),
        "siem.ca" => {
            "give the PEM file of the authority that issued the collector's certificate, with siem.address"
                .into()
        }
        "organisation.dpo_email" => "give the DPO's e-mail address, such as dpo@example.fr".into(),
        "organisation.name"
        | "organisation.address"
        | "organisation.dpo_name"
        | "organisation.host" => {
            "give at most 300 characters of text (the address may span lines)".into()
        }
        "siem.app_name" | "siem.hostname" => {
            "give printable ASCII without spaces (app_name: at most 48 characters)".into()
        }
        "ice.stun_urls" => {
            "give stun: or stuns: URLs such as stun:turn.example.fr:3478 (a TOML list, or separated by commas)"
                .into()
        }
        "ice.turn_urls" => {
            "give turn: or turns: URLs such as turn:turn.example.fr:3478?transport=udp, with ice.turn_secret"
                .into()
        }
        "ice.turn_secret" => {
            "give the TURN server's static-auth-secret (coturn use-auth-secret), at least 16 characters, e.g. from openssl rand -hex 32"
                .into()
        }
        "ice.credential_ttl_secs" => "give a number of seconds between 60 and 86400".into(),
        "ice.relay_only" => "give true or false; true needs ice.turn_urls and ice.turn_secret".into(),
        _ => "see README, Configuration".into(),
    }
}

/// A configuration checked as a whole, with its parsed parts.
#[derive(Debug, Clone)]
pub struct ValidConfig {
    /// The raw configuration.
    pub config: Config,
    /// The database to use.
    pub database: DatabaseUrl,
    /// Where people reach Galien, without trailing slash, when the operator said so; otherwise it
    /// is derived from the bound address ([`derived_public_url`]).
    pub public_url: Option<String>,
    /// How Galien serves TLS.
    pub tls: TlsMode,
    /// The organisation's time zone (`time_zone`).
    pub time_zone: galien_core::Zone,
}

/// How Galien serves TLS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TlsMode {
    /// Plain HTTP (behind a TLS-terminating proxy, or on loopback).
    Off,
    /// Certificate and key files.
    Files {
        /// PEM chain.
        cert: PathBuf,
        /// PEM key.
        key: PathBuf,
    },
    /// A certificate generated once in the data directory.
    SelfSigned,
}

impl Config {
    /// Checks the values together; `origins` (from [`load`]) lets errors say where a value came from.
    pub fn validate(self, origins: &BTreeMap<String, Origin>) -> Result<ValidConfig, ConfigError> {
        let err = |key: &str, problem: String| ConfigError {
            key: key.to_owned(),
            origin: origins.get(key).cloned().unwrap_or(Origin::Default),
            problem,
            fix: fix_for(key),
        };
        let in_range = |key: &str, v: u64, lo: u64, hi: u64| {
            if (lo..=hi).contains(&v) {
                Ok(())
            } else {
                Err(err(key, format!("{v} is out of range")))
            }
        };
        in_range(
            "http.request_timeout_secs",
            self.http.request_timeout_secs,
            1,
            600,
        )?;
        in_range(
            "http.max_body_bytes",
            self.http.max_body_bytes,
            1024,
            1 << 30,
        )?;
        in_range(
            "http.shutdown_grace_secs",
            self.http.shutdown_grace_secs,
            0,
            300,
        )?;
        in_range(
            "database.max_connections",
            u64::from(self.database.max_connections),
            1,
            1000,
        )?;
        in_range(
            "database.group_commit_max_batch",
            u64::try_from(self.database.group_commit_max_batch).unwrap_or(u64::MAX),
            1,
            10_000,
        )?;
        in_range(
            "enrolment.link_ttl_hours",
            u64::from(self.enrolment.link_ttl_hours),
            1,
            168,
        )?;
        in_range(
            "audit.checkpoint_interval_secs",
            self.audit.checkpoint_interval_secs,
            10,
            86_400,
        )?;
        in_range(
            "audit.retention_days",
            u64::from(self.audit.retention_days),
            30,
            36_500,
        )?;
        if let Some(host) = &self.smtp.host {
            let Some(from) = &self.smtp.from else {
                return Err(err("smtp.from", "is required with smtp.host".into()));
            };
            if galien_core::identity::Email::parse(from).is_none() {
                return Err(err(
                    "smtp.from",
                    format!("{from:?} is not an e-mail address"),
                ));
            }
            if host.trim().is_empty() || host.contains(char::is_whitespace) {
                return Err(err("smtp.host", format!("{host:?} is not a host name")));
            }
            match self.smtp.security.as_str() {
                "starttls" | "tls" => {}
                "none" if ["127.0.0.1", "::1", "localhost"].contains(&host.as_str()) => {}
                "none" => {
                    return Err(err(
                        "smtp.security",
                        format!("none is refused for {host}: mail would travel in clear"),
                    ));
                }
                other => return Err(err("smtp.security", format!("{other:?} is not known"))),
            }
            if self.smtp.port == 0 {
                return Err(err("smtp.port", "0 is not a port".into()));
            }
            if self.smtp.username.is_some() != self.smtp.password.is_some() {
                return Err(err(
                    "smtp.username",
                    "needs smtp.password (and the reverse)".into(),
                ));
            }
        }
        let a = &self.anomaly;
        in_range("anomaly.scan_interval_secs", a.scan_interval_secs, 5, 3600)?;
        in_range(
            "anomaly.many_patients",
            u64::from(a.many_patients),
            2,
            10_000,
        )?;
        in_range(
            "anomaly.failed_logins",
            u64::from(a.failed_logins),
            2,
            10_000,
        )?;
        in_range("anomaly.exports", u64::from(a.exports), 1, 10_000)?;
        for (key, v) in [
            ("anomaly.many_patients_minutes", a.many_patients_minutes),
            ("anomaly.failed_logins_minutes", a.failed_logins_minutes),
            ("anomaly.exports_minutes", a.exports_minutes),
        ] {
            in_range(key, u64::from(v), 1, 1440)?;
        }
        in_range(
            "anomaly.working_hours_start",
            u64::from(a.working_hours_start),
            0,
            23,
        )?;
        in_range(
            "anomaly.working_hours_end",
            u64::from(a.working_hours_end),
            u64::from(a.working_hours_start) + 1,
            24,
        )?;
        let time_zone = self.time_zone.parse::<galien_core::Zone>().map_err(|e| {
            err(
                "time_zone",
                format!("{:?} is not a time zone of France", e.0),
            )
        })?;
        if let Some(h) = a.utc_offset_hours
            && !(-12..=14).contains(&h)
        {
            return Err(err(
                "anomaly.utc_offset_hours",
                format!("{h} is out of range"),
            ));
        }
        in_range(
            "access.emergency_minutes",
            u64::from(self.access.emergency_minutes),
            15,
            1440,
        )?;
        if tracing_subscriber::EnvFilter::try_new(&self.log.level).is_err() {
            return Err(err(
                "log.level",
                format!("{:?} is not a log filter", self.log.level),
            ));
        }
        if self.data_dir.as_os_str().is_empty() {
            return Err(err("data_dir", "empty path".into()));
        }
        let database = match &self.database_url {
            None => DatabaseUrl::sqlite_in(&self.data_dir),
            Some(url) => {
                DatabaseUrl::parse(url.expose()).map_err(|e| err("database_url", e.to_string()))?
            }
        };
        if self.tls.client_ca.is_some() && self.tls.cert.is_none() && !self.tls.self_signed {
            return Err(err("tls.client_ca", "client certificates need TLS".into()));
        }
        if self.tls.client_crl.is_some() && self.tls.client_ca.is_none() {
            return Err(err(
                "tls.client_crl",
                "a revocation list needs tls.client_ca".into(),
            ));
        }
        crate::siem::check_config(&self.siem).map_err(|(key, problem)| err(key, problem))?;
        self.ice
            .check()
            .map_err(|(key, problem)| err(key, problem))?;
        let tls = match (&self.tls.cert, &self.tls.key, self.tls.self_signed) {
            (None, None, false) => TlsMode::Off,
            (None, None, true) => TlsMode::SelfSigned,
            (Some(cert), Some(key), false) => TlsMode::Files {
                cert: cert.clone(),
                key: key.clone(),
            },
            (Some(_), Some(_), true) => {
                return Err(ConfigError {
                    key: "tls.self_signed".into(),
                    origin: origins
                        .get("tls.self_signed")
                        .cloned()
                        .unwrap_or(Origin::Default),
                    problem: "a certificate file and a self-signed certificate were both asked for"
                        .into(),
                    fix: "give either --tls-cert/--tls-key or --tls-self-signed".into(),
                });
            }
            (Some(_), None, _) => {
                return Err(err(
                    "tls.key",
                    "a certificate was given without its key".into(),
                ));
            }
            (None, Some(_), _) => {
                return Err(err(
                    "tls.cert",
                    "a key was given without its certificate".into(),
                ));
            }
        };
        let public_url = match &self.public_url {
            Some(u) => {
                let u = u.trim_end_matches('/');
                let rest = u
                    .strip_prefix("https://")
                    .or_else(|| u.strip_prefix("http://"));
                if rest.is_none_or(|r| r.is_empty() || r.contains(char::is_whitespace)) {
                    return Err(err(
                        "public_url",
                        format!("{u:?} is not an http(s) address"),
                    ));
                }
                Some(u.to_owned())
            }
            None => None,
        };
        let o = &self.organisation;
        for (key, value) in [
            ("organisation.name", &o.name),
            ("organisation.address", &o.address),
            ("organisation.dpo_name", &o.dpo_name),
            ("organisation.dpo_email", &o.dpo_email),
            ("organisation.host", &o.host),
        ] {
            if let Some(v) = value
                && (v.trim().is_empty()
                    || v.chars().count() > 300
                    || v.chars().any(|c| c.is_control() && c != '\n'))
            {
                return Err(err(
                    key,
                    "is empty, too long or holds control characters".into(),
                ));
            }
        }
        if let Some(email) = &o.dpo_email
            && galien_core::identity::Email::parse(email).is_none()
        {
            return Err(err(
                "organisation.dpo_email",
                format!("{email:?} is not an e-mail address"),
            ));
        }
        Ok(ValidConfig {
            config: self,
            database,
            public_url,
            tls,
            time_zone,
        })
    }
}

/// The address people use when the operator did not give one: the bound address
/// (`localhost` when listening on every interface).
pub fn derived_public_url(tls: bool, bound: SocketAddr) -> String {
    let scheme = if tls { "https" } else { "http" };
    if bound.ip().is_unspecified() {
        format!("{scheme}://localhost:{}", bound.port())
    } else {
        format!("{scheme}://{bound}")
    }
}

impl ValidConfig {
    /// OpenID Connect settings, when configured.
    pub fn oidc_settings(&self) -> Option<galien_app::OidcSettings> {
        let o = &self.config.oidc;
        Some(galien_app::OidcSettings {
            issuer: o.issuer.clone()?,
            client_id: o.client_id.clone()?,
            client_secret: o.client_secret.as_ref()?.expose().to_owned(),
            acr_values: o.acr_values.clone(),
            rpps_claim: o.rpps_claim.clone(),
            label: o.label.clone(),
        })
    }

    /// Outgoing mail settings, when `smtp.host` is set.
    pub fn smtp_settings(&self) -> Option<galien_app::notify::SmtpSettings> {
        let s = &self.config.smtp;
        Some(galien_app::notify::SmtpSettings {
            host: s.host.clone()?,
            port: s.port,
            security: match s.security.as_str() {
                "tls" => galien_app::notify::SmtpSecurity::Tls,
                "none" => galien_app::notify::SmtpSecurity::None,
                _ => galien_app::notify::SmtpSecurity::StartTls,
            },
            username: s.username.clone(),
            password: s.password.as_ref().map(|p| p.expose().to_owned()),
            from: galien_core::identity::Email::parse(s.from.as_deref()?)?,
        })
    }

    /// Session and sign-in settings for the use cases.
    pub fn auth_settings(&self) -> galien_app::AuthSettings {
        let a = &self.config.auth;
        galien_app::AuthSettings {
            idle_timeout: time::Duration::minutes(i64::from(a.idle_timeout_mins)),
            absolute_timeout: time::Duration::hours(i64::from(a.absolute_timeout_hours)),
            step_up_window: time::Duration::minutes(i64::from(a.step_up_mins)),
            lock_threshold: a.lock_threshold,
            lock_window: time::Duration::minutes(i64::from(a.lock_minutes)),
            failure_delay: Duration::from_millis(u64::from(a.failure_delay_ms)),
        }
    }

    /// The request timeout.
    pub fn request_timeout(&self) -> Duration {
        Duration::from_secs(self.config.http.request_timeout_secs)
    }

    /// SIEM forwarding settings, when `siem.address` is set.
    pub fn siem_settings(&self) -> Option<crate::siem::SiemSettings> {
        crate::siem::settings(&self.config.siem)
    }

    /// Grace given to in-flight requests at shutdown.
    pub fn shutdown_grace(&self) -> Duration {
        Duration::from_secs(self.config.http.shutdown_grace_secs)
    }

    /// What the processing register says of the installation (GDPR-1).
    pub fn installation_facts(&self) -> galien_app::compliance::register::InstallationFacts {
        use galien_app::compliance::register::{InstallationFacts, Organisation, Transport};
        let c = &self.config;
        let o = &c.organisation;
        InstallationFacts {
            organisation: Organisation {
                name: o.name.clone(),
                address: o.address.clone(),
                dpo_name: o.dpo_name.clone(),
                dpo_email: o.dpo_email.clone(),
                host: o.host.clone(),
            },
            transport: match self.tls {
                TlsMode::Off => Transport::Plain,
                TlsMode::Files { .. } => Transport::Tls,
                TlsMode::SelfSigned => Transport::SelfSigned,
            },
            client_certificates: c.tls.client_ca.is_some(),
            siem: c.siem.address.clone(),
            smtp: c.smtp.host.clone(),
            audit_retention_days: c.audit.retention_days,
            audit_checkpoint_secs: c.audit.checkpoint_interval_secs,
        }
    }

    /// STUN and TURN servers for calls (ACT-1).
    pub fn ice_settings(&self) -> galien_app::ice::IceSettings {
        let i = &self.config.ice;
        galien_app::ice::IceSettings {
            stun_urls: i.stun_urls.clone(),
            turn_urls: i.turn_urls.clone(),
            turn_secret: i
                .turn_secret
                .as_ref()
                .map(|s| galien_crypto::turn::TurnSecret::new(s.expose().as_bytes())),
            credential_ttl: time::Duration::seconds(
                i64::try_from(i.credential_ttl_secs).unwrap_or(i64::MAX),
            ),
            relay_only: i.relay_only,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn load_env(pairs: &[(&str, &str)]) -> Result<ValidConfig, ConfigError> {
        let (c, o) = load(None, &env(pairs), &Flags::default())?;
        c.validate(&o)
    }

    #[test]
    fn defaults_run_without_configuration() {
        let v = load_env(&[]).unwrap();
        assert_eq!(v.config.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(v.config.data_dir, PathBuf::from("galien-data"));
        assert_eq!(v.database.backend(), galien_store::Backend::Sqlite);
        assert_eq!(v.public_url, None);
        assert_eq!(
            derived_public_url(false, v.config.listen),
            "http://127.0.0.1:8080"
        );
        assert_eq!(
            derived_public_url(true, "[::1]:8443".parse().unwrap()),
            "https://[::1]:8443"
        );
        assert_eq!(
            derived_public_url(false, "0.0.0.0:80".parse().unwrap()),
            "http://localhost:80"
        );
        assert_eq!(v.tls, TlsMode::Off);
    }

    #[test]
    fn keys_list_matches_the_config_struct() {
        let table = toml::Table::try_from(Config::default()).unwrap();
        let mut listed: Vec<String> = KEYS.iter().map(|k| (*k).to_owned()).collect();
        // Optional keys are absent from the serialized defaults.
        let mut present = leaf_keys(&table);
        for k in [
            "database_url",
            "public_url",
            "tls.cert",
            "tls.key",
            "tls.client_ca",
            "tls.client_crl",
            "oidc.issuer",
            "oidc.client_id",
            "oidc.client_secret",
            "smtp.host",
            "smtp.username",
            "smtp.password",
            "smtp.from",
            "siem.address",
            "siem.ca",
            "siem.hostname",
            "ice.turn_secret",
            "anomaly.utc_offset_hours",
            "organisation.name",
            "organisation.address",
            "organisation.dpo_name",
            "organisation.dpo_email",
            "organisation.host",
        ] {
            present.push(k.to_owned());
        }
        listed.sort();
        present.sort();
        assert_eq!(listed, present);
    }

    #[test]
    fn layers_apply_in_order_file_env_flags() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("galien.toml");
        std::fs::write(&file, "listen = \"127.0.0.1:9000\"\n[http]\nrequest_timeout_secs = 10\nshutdown_grace_secs = 5\n").unwrap();
        let flags = Flags(vec![(
            "--listen",
            "listen",
            toml::Value::String("127.0.0.1:9002".into()),
        )]);
        let (c, o) = load(
            Some(&file),
            &env(&[
                ("GALIEN_LISTEN", "127.0.0.1:9001"),
                ("GALIEN_HTTP_REQUEST_TIMEOUT_SECS", "20"),
            ]),
            &flags,
        )
        .unwrap();
        assert_eq!(c.listen.to_string(), "127.0.0.1:9002");
        assert_eq!(c.http.request_timeout_secs, 20);
        assert_eq!(c.http.shutdown_grace_secs, 5);
        assert_eq!(o.get("http.shutdown_grace_secs"), Some(&Origin::File(file)));
        assert_eq!(o.get("listen"), Some(&Origin::Flag("--listen".into())));
    }

    #[test]
    fn unknown_file_key_names_the_key_and_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("galien.toml");
        std::fs::write(&file, "lisen = \"127.0.0.1:9000\"\n").unwrap();
        let e = load(Some(&file), &BTreeMap::new(), &Flags::default())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("lisen") && e.contains("galien.toml") && e.contains("listen"),
            "{e}"
        );
    }

    #[test]
    fn corrupt_file_is_refused_with_position() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("galien.toml");
        std::fs::write(&file, "listen = [unclosed\n").unwrap();
        let e = load(Some(&file), &BTreeMap::new(), &Flags::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("not valid TOML") && e.contains("line"), "{e}");
    }

    #[test]
    fn unknown_variable_is_refused_and_test_variables_ignored() {
        let e = load_env(&[("GALIEN_LISTN", "x")]).unwrap_err();
        assert_eq!(e.key, "GALIEN_LISTN");
        assert!(e.fix.contains("GALIEN_LISTEN"));
        assert!(
            load_env(&[
                ("GALIEN_TEST_POSTGRES_URL", "x"),
                ("GALIEN_CONFIG", "x"),
                ("PATH", "/bin")
            ])
            .is_ok()
        );
    }

    #[test]
    fn local_time_is_the_time_zone_s_unless_a_fixed_offset_is_set() {
        use time::macros::datetime;
        let summer = datetime!(2026-07-14 05:30 UTC);
        let winter = datetime!(2026-11-28 05:30 UTC);
        let v = load_env(&[]).unwrap();
        assert_eq!(v.time_zone, galien_core::Zone::EuropeParis);
        let paris = v.config.anomaly.settings(v.time_zone);
        assert_eq!(paris.utc_offset, None);
        assert_eq!(paris.local(summer).hour(), 7, "UTC+2 in summer");
        assert_eq!(paris.local(winter).hour(), 6, "UTC+1 in winter");
        // An organisation of La Réunion says so once: pages and working hours follow.
        let v = load_env(&[("GALIEN_TIME_ZONE", "Indian/Reunion")]).unwrap();
        assert_eq!(v.time_zone, galien_core::Zone::IndianReunion);
        let reunion = v.config.anomaly.settings(v.time_zone);
        assert_eq!(reunion.local(summer).hour(), 9);
        assert_eq!(reunion.local(winter).hour(), 9);
        // A fixed offset still wins for the working and reading hours.
        let v = load_env(&[("GALIEN_ANOMALY_UTC_OFFSET_HOURS", "4")]).unwrap();
        let fixed = v.config.anomaly.settings(v.time_zone);
        assert_eq!(fixed.local(summer).hour(), 9);
        assert_eq!(fixed.local(winter).hour(), 9);
        let e = load_env(&[("GALIEN_TIME_ZONE", "Europe/London")]).unwrap_err();
        assert_eq!(e.key, "time_zone");
        assert!(e.to_string().contains("Indian/Reunion"), "{e}");
    }

    #[test]
    fn bad_values_name_key_origin_and_fix() {
        let e = load_env(&[("GALIEN_HTTP_REQUEST_TIMEOUT_SECS", "soon")]).unwrap_err();
        assert_eq!(
            e.origin,
            Origin::Env("GALIEN_HTTP_REQUEST_TIMEOUT_SECS".into())
        );
        assert!(e.fix.contains("seconds"));
        let e = load_env(&[("GALIEN_HTTP_REQUEST_TIMEOUT_SECS", "0")]).unwrap_err();
        assert!(e.to_string().contains("out of range"), "{e}");
        let e = load_env(&[("GALIEN_ANOMALY_UTC_OFFSET_HOURS", "15")]).unwrap_err();
        assert_eq!(e.key, "anomaly.utc_offset_hours");
        assert!(e.to_string().contains("out of range"), "{e}");
        let e = load_env(&[("GALIEN_LISTEN", "localhost")]).unwrap_err();
        assert_eq!(e.key, "listen");
        let e = load_env(&[("GALIEN_DATABASE_URL", "mysql://x")]).unwrap_err();
        assert_eq!(e.key, "database_url");
        let e = load_env(&[("GALIEN_TLS_CERT", "/x.pem")]).unwrap_err();
        assert_eq!(e.key, "tls.key");
        let e = load_env(&[("GALIEN_LOG_LEVEL", "galien=loud")]).unwrap_err();
        assert_eq!(e.key, "log.level");
    }

    #[test]
    fn gdpr1_the_organisation_is_read_and_checked() {
        let v = load_env(&[
            ("GALIEN_ORGANISATION_NAME", "Centre hospitalier de Lannion"),
            ("GALIEN_ORGANISATION_DPO_EMAIL", "dpo@ch-lannion.example.fr"),
            ("GALIEN_AUDIT_RETENTION_DAYS", "200"),
        ])
        .unwrap();
        let facts = v.installation_facts();
        assert_eq!(
            facts.organisation.name.as_deref(),
            Some("Centre hospitalier de Lannion")
        );
        assert_eq!(facts.organisation.host, None);
        assert_eq!(facts.audit_retention_days, 200);
        let e = load_env(&[("GALIEN_ORGANISATION_DPO_EMAIL", "dpo-at-ch")]).unwrap_err();
        assert_eq!(e.key, "organisation.dpo_email");
        assert!(e.fix.contains("e-mail"), "{e}");
        let e = load_env(&[("GALIEN_ORGANISATION_NAME", "  ")]).unwrap_err();
        assert_eq!(e.key, "organisation.name");
        let long = "x".repeat(301);
        let e = load_env(&[("GALIEN_ORGANISATION_HOST", long.as_str())]).unwrap_err();
        assert_eq!(e.key, "organisation.host");
    }

    #[test]
    fn secrets_never_appear_in_debug_or_errors() {
        let v = load_env(&[(
            "GALIEN_DATABASE_URL",
            "postgres://galien:hunter2@db:5432/galien",
        )])
        .unwrap();
        assert!(!format!("{v:?}").contains("hunter2"));
        let shown = toml::to_string(&v.config).unwrap();
        assert!(!shown.contains("hunter2"), "{shown}");
    }

    #[test]
    fn act1_ice_settings_are_read_from_file_and_environment() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("galien.toml");
        std::fs::write(
            &file,
            "[ice]\nstun_urls = [\"stun:turn.galien.test:3478\"]\ncredential_ttl_secs = 3600\nrelay_only = true\n",
        )
        .unwrap();
        let (c, o) = load(
            Some(&file),
            &env(&[
                (
                    "GALIEN_ICE_TURN_URLS",
                    "turn:turn.galien.test:3478?transport=udp, turns:turn.galien.test:5349",
                ),
                (
                    "GALIEN_ICE_TURN_SECRET",
                    "a-secret-of-thirty-two-characters",
                ),
            ]),
            &Flags::default(),
        )
        .unwrap();
        let v = c.validate(&o).unwrap();
        let ice = v.ice_settings();
        assert_eq!(ice.stun_urls, ["stun:turn.galien.test:3478"]);
        assert_eq!(
            ice.turn_urls,
            [
                "turn:turn.galien.test:3478?transport=udp",
                "turns:turn.galien.test:5349"
            ]
        );
        assert_eq!(ice.credential_ttl, time::Duration::hours(1));
        assert!(ice.relay_only);
        assert_eq!(
            ice.turn_secret.unwrap().expose(),
            b"a-secret-of-thirty-two-characters"
        );
        assert!(!format!("{v:?}").contains("thirty-two"));
        assert!(!toml::to_string(&v.config).unwrap().contains("thirty-two"));
        // Defaults: no server, credentials for four hours, every candidate allowed.
        let d = load_env(&[]).unwrap().ice_settings();
        assert!(d.stun_urls.is_empty() && d.turn_urls.is_empty() && d.turn_secret.is_none());
        assert_eq!(d.credential_ttl, time::Duration::hours(4));
        assert!(!d.relay_only);
    }

    #[test]
    fn act1_bad_ice_settings_stop_the_start() {
        let secret = (
            "GALIEN_ICE_TURN_SECRET",
            "a-secret-of-thirty-two-characters",
        );
        let turn = ("GALIEN_ICE_TURN_URLS", "turn:127.0.0.1:3478");
        let refused = |pairs: &[(&str, &str)], key: &str, words: &str| {
            let e = load_env(pairs).unwrap_err();
            assert_eq!(e.key, key, "{e}");
            assert!(e.to_string().contains(words), "{e}");
            assert!(!e.to_string().contains("thirty-two"), "{e}");
        };
        refused(&[turn], "ice.turn_secret", "required with ice.turn_urls");
        refused(
            &[turn, ("GALIEN_ICE_TURN_SECRET", "short")],
            "ice.turn_secret",
            "too short",
        );
        refused(
            &[("GALIEN_ICE_TURN_URLS", "https://turn.galien.test"), secret],
            "ice.turn_urls",
            "not a turn: or turns: URL",
        );
        refused(
            &[("GALIEN_ICE_STUN_URLS", "turn:turn.galien.test:3478")],
            "ice.stun_urls",
            "not a stun: or stuns: URL",
        );
        refused(
            &[("GALIEN_ICE_STUN_URLS", "stun:")],
            "ice.stun_urls",
            "not a stun: or stuns: URL",
        );
        refused(
            &[turn, secret, ("GALIEN_ICE_CREDENTIAL_TTL_SECS", "59")],
            "ice.credential_ttl_secs",
            "out of range",
        );
        refused(
            &[turn, secret, ("GALIEN_ICE_CREDENTIAL_TTL_SECS", "86401")],
            "ice.credential_ttl_secs",
            "out of range",
        );
        refused(
            &[("GALIEN_ICE_RELAY_ONLY", "true")],
            "ice.relay_only",
            "needs ice.turn_urls",
        );
        assert!(load_env(&[turn, secret, ("GALIEN_ICE_CREDENTIAL_TTL_SECS", "60")]).is_ok());
        assert!(load_env(&[turn, secret, ("GALIEN_ICE_CREDENTIAL_TTL_SECS", "86400")]).is_ok());
    }
}
