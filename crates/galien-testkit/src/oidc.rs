//! A real, independent OpenID Connect provider for tests: panva's certified `oidc-provider` (Node),
//! run from `testkit/oidc-provider/provider.mjs` on a free port of 127.0.0.1.
//!
//! ```ignore
//! let idp = OidcProvider::start(ProviderConfig {
//!     clients: vec![ClientConfig::new("galien", "s3cret", &format!("{}/auth/oidc/callback", server.base_url))],
//!     accounts: vec![Account::doctor("810000000001", "10000000001")],
//!     ..ProviderConfig::default()
//! }).await;
//! // idp.issuer() → "http://127.0.0.1:PORT"
//! ```
//!
//! Authorization code + PKCE (S256, required), `acr_values_supported` `eidas1`–`eidas3`, scopes
//! `openid profile email rpps`, ID tokens signed RS256 (or ES256 per client) with `acr`, `amr` and
//! `auth_time`. The login page (`GET /interaction/:uid`) is a plain form whose `login` field takes
//! an account's `sub`; hidden `acr` and `amr` fields override what the account asserts. Posting it
//! logs in and grants the requested scopes at once: no consent page. See the provider's README.

use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// A client (relying party) registered at the provider.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ClientConfig {
    /// `client_id`.
    pub client_id: String,
    /// `client_secret`.
    pub client_secret: String,
    /// Allowed `redirect_uri`s (exact match).
    pub redirect_uris: Vec<String>,
    /// `client_secret_basic` (default) or `client_secret_post`.
    pub token_endpoint_auth_method: String,
    /// Allowed `post_logout_redirect_uri`s.
    #[serde(default)]
    pub post_logout_redirect_uris: Vec<String>,
    /// `RS256` (default) or `ES256`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token_signed_response_alg: Option<String>,
}

impl ClientConfig {
    /// A confidential client using `client_secret_basic`, with one redirect URI.
    pub fn new(client_id: &str, client_secret: &str, redirect_uri: &str) -> ClientConfig {
        ClientConfig {
            client_id: client_id.to_owned(),
            client_secret: client_secret.to_owned(),
            redirect_uris: vec![redirect_uri.to_owned()],
            token_endpoint_auth_method: "client_secret_basic".to_owned(),
            post_logout_redirect_uris: Vec::new(),
            id_token_signed_response_alg: None,
        }
    }
}

/// A person who can log in at the provider.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Account {
    /// The subject, also what is typed in the login field.
    pub sub: String,
    /// `given_name` (scope `profile`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub given_name: Option<String>,
    /// `family_name` (scope `profile`); `name` is derived from both.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family_name: Option<String>,
    /// `email`, released as verified (scope `email`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// The RPPS number (scope `rpps`, claim `rpps`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rpps: Option<String>,
    /// The `acr` a login asserts (default: the first of `acr_values`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acr: Option<String>,
    /// The `amr` a login asserts (default `["pwd"]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amr: Option<Vec<String>>,
}

impl Account {
    /// A health professional with an RPPS number, logging in at `eidas1` with two factors.
    pub fn doctor(sub: &str, rpps: &str) -> Account {
        Account {
            sub: sub.to_owned(),
            given_name: Some("Claire".to_owned()),
            family_name: Some("Martin".to_owned()),
            email: Some(format!("{sub}@medecins.example.test")),
            rpps: Some(rpps.to_owned()),
            acr: Some("eidas1".to_owned()),
            amr: Some(vec!["pwd".to_owned(), "otp".to_owned()]),
        }
    }
}

/// What the provider knows.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProviderConfig {
    /// The port to listen on (always on 127.0.0.1); `0` lets the system pick a free one.
    pub port: u16,
    /// The issuer's host name: `127.0.0.1` (default) or `localhost`.
    pub host: String,
    /// The issuer, when it must differ from `http://<host>:<port>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    /// `acr_values_supported`.
    pub acr_values: Vec<String>,
    /// Registered clients.
    pub clients: Vec<ClientConfig>,
    /// Accounts.
    pub accounts: Vec<Account>,
}

impl Default for ProviderConfig {
    fn default() -> Self {
        ProviderConfig {
            port: 0,
            host: "127.0.0.1".to_owned(),
            issuer: None,
            acr_values: vec!["eidas1".into(), "eidas2".into(), "eidas3".into()],
            clients: Vec::new(),
            accounts: Vec::new(),
        }
    }
}

/// The line the provider prints when it listens.
#[derive(Debug, Deserialize)]
struct Ready {
    issuer: String,
    port: u16,
}

/// A running provider; the Node process is killed when this is dropped.
#[derive(Debug)]
pub struct OidcProvider {
    issuer: String,
    port: u16,
    config: ProviderConfig,
    child: Child,
    log: Arc<Mutex<String>>,
}

/// `<workspace>/testkit/oidc-provider`.
pub fn provider_dir() -> PathBuf {
    crate::browser::workspace_root().join("testkit/oidc-provider")
}

const NPM_HINT: &str = "the test OpenID provider needs Node.js 20+ and npm \
(apt-get install nodejs npm) and its packages: cd testkit/oidc-provider && npm ci --no-audit --no-fund \
(scripts/test does it)";

/// Runs `npm ci` in the provider directory when `node_modules` is missing (once per process).
async fn ensure_node_modules() {
    static INSTALL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    let _guard = INSTALL.lock().await;
    let dir = provider_dir();
    if dir.join("node_modules/oidc-provider/package.json").exists() {
        return;
    }
    let output = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund"])
        .current_dir(&dir)
        .output()
        .await
        .unwrap_or_else(|e| panic!("cannot run npm in {}: {e}; {NPM_HINT}", dir.display()));
    assert!(
        output.status.success(),
        "npm ci failed in {} ({}):\n{}\n{}\n{NPM_HINT}",
        dir.display(),
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

impl OidcProvider {
    /// Installs the provider's packages if needed, starts it, and waits until its discovery
    /// document answers.
    pub async fn start(config: ProviderConfig) -> OidcProvider {
        ensure_node_modules().await;
        let dir = provider_dir();
        let json = serde_json::to_string(&config).unwrap();
        let mut child = Command::new("node")
            .arg("provider.mjs")
            .env("GALIEN_OIDC_PROVIDER_CONFIG", &json)
            .current_dir(&dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run node in {}: {e}; {NPM_HINT}", dir.display()));

        // Whatever the provider prints is kept for failure messages and echoed to the test's stderr.
        let log = Arc::new(Mutex::new(String::new()));
        let stderr = child.stderr.take().unwrap();
        let stderr_log = log.clone();
        tokio::spawn(async move {
            let mut lines = BufReader::new(stderr).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                eprintln!("[oidc-provider] {line}");
                if let Ok(mut log) = stderr_log.lock() {
                    log.push_str(&line);
                    log.push('\n');
                }
            }
        });
        let stdout = child.stdout.take().unwrap();
        let (ready_tx, ready_rx) = tokio::sync::oneshot::channel::<Ready>();
        let stdout_log = log.clone();
        tokio::spawn(async move {
            let mut ready_tx = Some(ready_tx);
            let mut lines = BufReader::new(stdout).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(json) = line.strip_prefix("oidc-provider ready ")
                    && let Ok(ready) = serde_json::from_str::<Ready>(json)
                    && let Some(tx) = ready_tx.take()
                {
                    let _ = tx.send(ready);
                    continue;
                }
                eprintln!("[oidc-provider] {line}");
                if let Ok(mut log) = stdout_log.lock() {
                    log.push_str(&line);
                    log.push('\n');
                }
            }
        });

        let ready = match tokio::time::timeout(Duration::from_secs(90), ready_rx).await {
            Ok(Ok(ready)) => ready,
            outcome => {
                // Let the readers catch the last lines.
                tokio::time::sleep(Duration::from_millis(200)).await;
                let status = child.try_wait().ok().flatten();
                let log = log.lock().map(|l| l.clone()).unwrap_or_default();
                let why = match (outcome, status) {
                    (_, Some(status)) => format!("exited with {status}"),
                    (Err(_), None) => "not ready within 90 s".to_owned(),
                    (Ok(_), None) => "closed its output".to_owned(),
                };
                panic!("the test OpenID provider {why}:\n{log}\n{NPM_HINT}");
            }
        };

        let provider = OidcProvider {
            issuer: ready.issuer,
            port: ready.port,
            config,
            child,
            log,
        };
        provider.wait_discovery().await;
        provider
    }

    async fn wait_discovery(&self) {
        crate::browser::install_crypto_provider();
        let client = reqwest::Client::builder().no_proxy().build().unwrap();
        let url = self.discovery_url();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            let last = match client.get(&url).send().await {
                Ok(r) if r.status().is_success() => return,
                Ok(r) => format!("HTTP {}", r.status()),
                Err(e) => e.to_string(),
            };
            if tokio::time::Instant::now() > deadline {
                panic!("{url} did not answer: {last}\n{}", self.log());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The issuer, e.g. `http://127.0.0.1:PORT` (no trailing slash).
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The port it listens on (127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `<issuer>/.well-known/openid-configuration`.
    pub fn discovery_url(&self) -> String {
        format!("{}/.well-known/openid-configuration", self.issuer)
    }

    /// The configuration it runs with.
    pub fn config(&self) -> &ProviderConfig {
        &self.config
    }

    /// What it has printed so far (warnings, errors).
    pub fn log(&self) -> String {
        self.log.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// Stops it now (it is also stopped on drop).
    pub async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}
