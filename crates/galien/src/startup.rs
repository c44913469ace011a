//! Assembling and running one Galien node. The order matters: everything that can be refused
//! without touching the disk (configuration, the port, TLS files) is checked before the data
//! directory is created, so a bad start leaves nothing behind.

use crate::config::{TlsMode, ValidConfig};
use crate::datadir::{DataDir, DataDirError};
use crate::tls::{self, TlsError};
use galien_app::{App, AppSettings};
use galien_core::ids::NodeId;
use galien_core::{Clock, Entropy};
use galien_crypto::keyfile::{self, KeyFileError, KeyOrigin};
use galien_store::{Backend, Store, StoreError, StoreOptions};
use galien_web::{HttpSettings, WebParts, WebState};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// The capabilities injected into a node: production passes the system clock and the OS CSPRNG.
#[derive(Debug, Clone)]
pub struct Capabilities {
    /// Time.
    pub clock: Arc<dyn Clock>,
    /// Randomness.
    pub entropy: Arc<dyn Entropy>,
}

impl Capabilities {
    /// The real clock and randomness.
    pub fn system() -> Self {
        Self {
            clock: Arc::new(galien_core::SystemClock),
            entropy: Arc::new(galien_core::OsEntropy),
        }
    }
}

/// Why a node could not start. Each message is one line that says what to do.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The listen address is taken or not ours.
    #[error(
        "cannot listen on {addr}: {source}; stop the other process or choose another address with --listen"
    )]
    Listen {
        /// The address.
        addr: SocketAddr,
        /// The reason.
        source: std::io::Error,
    },
    /// TLS files.
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// The data directory.
    #[error(transparent)]
    DataDir(#[from] DataDirError),
    /// The master key file.
    #[error(transparent)]
    Key(#[from] KeyFileError),
    /// The database.
    #[error("database {url}: {source}")]
    Store {
        /// The URL, password redacted.
        url: String,
        /// The reason.
        source: StoreError,
    },
    /// Bootstrap.
    #[error("first start: {0}")]
    Bootstrap(String),
    /// Password hashing parameters refused.
    #[error("auth.argon2_*: {0}")]
    Hasher(String),
    /// The access policies in the data directory are unusable.
    #[error(
        "access policies: {0}; fix the files or remove the policies directory to use the built-in ones"
    )]
    Policies(#[from] galien_access::PolicyError),
    /// The telemonitoring programmes file.
    #[error("{0}")]
    Programmes(String),
    /// The SMTP relay settings.
    #[error("smtp: {0}")]
    Smtp(String),
    /// The health-data key ring.
    #[error("health-data keys: {0}")]
    HealthKeys(String),
    /// SIEM forwarding (TRACE-3).
    #[error(transparent)]
    Siem(#[from] crate::siem::SiemError),
    /// The server failed while running.
    #[error("server: {0}")]
    Serve(std::io::Error),
}

/// The use-case context: storage, capabilities, keys derived from the master key, settings.
pub fn make_app(
    config: &ValidConfig,
    caps: &Capabilities,
    store: Store,
    master: &galien_crypto::keyfile::MasterKey,
    public_url: String,
) -> Result<App, StartError> {
    let data_dir = &config.config.data_dir;
    let gate = galien_access::Gate::new(galien_access::Policies::for_directory(
        &data_dir.join("policies"),
    )?);
    let health = galien_app::patients::HealthKeys::load_or_create(
        &data_dir.join("keys"),
        master,
        caps.entropy.as_ref(),
    )
    .map_err(|e| StartError::HealthKeys(e.to_string()))?;
    let mailer = config
        .smtp_settings()
        .map(|s| galien_app::notify::Mailer::new(&s).map(Arc::new))
        .transpose()
        .map_err(StartError::Smtp)?;
    let programmes = match std::fs::read_to_string(data_dir.join("programmes.toml")) {
        Ok(text) => galien_app::telemonitoring::ProgrammeBook::with_changes(&text)
            .map_err(|e| StartError::Programmes(format!("programmes.toml: {e}")))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            galien_app::telemonitoring::ProgrammeBook::default()
        }
        Err(e) => return Err(StartError::Programmes(format!("programmes.toml: {e}"))),
    };
    let keys = galien_app::keys::AppKeys::derive(master);
    let params = galien_crypto::password::HashParams {
        memory_kib: config.config.auth.argon2_memory_kib,
        iterations: config.config.auth.argon2_iterations,
        parallelism: 1,
    };
    let hasher = galien_crypto::password::PasswordHasher::new(Some(*keys.pepper), params)
        .map_err(|e| StartError::Hasher(e.to_string()))?;
    Ok(App {
        store,
        clock: caps.clock.clone(),
        entropy: caps.entropy.clone(),
        keys: Arc::new(keys),
        hasher: Arc::new(hasher),
        settings: Arc::new(AppSettings {
            public_url,
            enrolment_link_ttl: time::Duration::hours(i64::from(
                config.config.enrolment.link_ttl_hours,
            )),
            auth: config.auth_settings(),
            oidc: config.oidc_settings(),
            emergency_access: time::Duration::minutes(i64::from(
                config.config.access.emergency_minutes,
            )),
            anomaly: config.config.anomaly.settings(config.time_zone),
            programmes,
            ice: config.ice_settings(),
            time_zone: config.time_zone,
            installation: config.installation_facts(),
        }),
        oidc: Arc::default(),
        gate: Arc::new(gate),
        health: Arc::new(health),
        mailer,
    })
}

/// A node ready to serve.
#[derive(Debug)]
pub struct Server {
    listener: std::net::TcpListener,
    local_addr: SocketAddr,
    tls: Option<Arc<rustls::ServerConfig>>,
    client_certs: bool,
    store: Store,
    app: App,
    router: axum::Router,
    grace: Duration,
    first_admin_link: Option<galien_app::bootstrap::EnrolmentLink>,
    data_dir: DataDir,
    key_created: bool,
    audit_key: Arc<galien_crypto::audit::AuditSigningKey>,
    checkpoint_every: Duration,
    scan_every: Duration,
    node: NodeId,
    siem: Option<crate::siem::Forwarder>,
}

impl Server {
    /// Checks and prepares everything; on error nothing is left running.
    pub async fn build(config: ValidConfig, caps: Capabilities) -> Result<Server, StartError> {
        Self::build_with_routes(config, caps, axum::Router::new()).await
    }

    /// As [`Server::build`], with extra routes served behind the same middleware.
    pub async fn build_with_routes(
        config: ValidConfig,
        caps: Capabilities,
        extra: axum::Router,
    ) -> Result<Server, StartError> {
        tls::install_crypto_provider();
        let addr = config.config.listen;
        let listener = std::net::TcpListener::bind(addr)
            .map_err(|source| StartError::Listen { addr, source })?;
        listener
            .set_nonblocking(true)
            .map_err(|source| StartError::Listen { addr, source })?;
        let local_addr = listener
            .local_addr()
            .map_err(|source| StartError::Listen { addr, source })?;

        let file_pair = match &config.tls {
            TlsMode::Files { cert, key } => Some(tls::load_pair(cert, key)?),
            TlsMode::Off | TlsMode::SelfSigned => None,
        };
        let client_certs = match &config.config.tls.client_ca {
            Some(ca) => Some(tls::client_verifier(
                ca,
                config.config.tls.client_crl.as_deref(),
            )?),
            None => None,
        };
        // The collector's authority is read before the disk is touched, like the TLS files.
        let siem = config
            .siem_settings()
            .map(crate::siem::Forwarder::prepare)
            .transpose()?;

        let node = NodeId::generate(caps.clock.now(), caps.entropy.as_ref());
        let options = StoreOptions {
            max_connections: config.config.database.max_connections,
            group_commit_max_batch: config.config.database.group_commit_max_batch,
            ..StoreOptions::default()
        };
        let open_store = || async {
            Store::open(&config.database, &options, node)
                .await
                .map_err(|source| StartError::Store {
                    url: config.database.redacted(),
                    source,
                })
        };
        // PostgreSQL is reached before the disk is touched, so an unreachable server leaves
        // nothing behind; SQLite lives in the data directory, so it opens after it.
        let early_store = match config.database.backend() {
            Backend::Postgres => Some(open_store().await?),
            Backend::Sqlite => None,
        };

        let data_dir = DataDir::open(&config.config.data_dir)?;
        // Unusable policies stop the start before any key is written.
        galien_access::Policies::for_directory(&data_dir.path().join("policies"))?;
        let keys = data_dir.subdir("keys")?;
        let (master, origin) =
            keyfile::load_or_create(&keys.join("master.key"), caps.entropy.as_ref())?;
        let (audit_key, _) = galien_crypto::audit::AuditSigningKey::load_or_create(
            &keys.join(galien_crypto::audit::SIGNING_KEY_FILE),
            caps.entropy.as_ref(),
        )?;
        let audit_key = Arc::new(audit_key);
        let siem = siem
            .map(|f| f.with_cursor_in(data_dir.path()))
            .transpose()?;

        let tls = match (&config.tls, file_pair) {
            (_, Some((certs, key))) => Some(tls::server_config_with_clients(
                certs,
                key,
                client_certs.clone(),
            )?),
            (TlsMode::SelfSigned, None) => {
                let (cert, key) = tls::self_signed_in(&data_dir.subdir("tls")?)?;
                let (certs, key) = tls::load_pair(&cert, &key)?;
                Some(tls::server_config_with_clients(
                    certs,
                    key,
                    client_certs.clone(),
                )?)
            }
            (TlsMode::Off | TlsMode::Files { .. }, None) => None,
        };

        let store = match early_store {
            Some(store) => store,
            None => open_store().await?,
        };

        // Derived from the bound address, so that port 0 (tests) gives working links.
        let public_url = config
            .public_url
            .clone()
            .unwrap_or_else(|| crate::config::derived_public_url(tls.is_some(), local_addr));
        // Sign a checkpoint at once, so the trail is covered from the first start (TRACE-2).
        if let Err(source) = store.audit_checkpoint(&audit_key, caps.clock.now()).await {
            store.close().await;
            return Err(StartError::Store {
                url: config.database.redacted(),
                source,
            });
        }
        let app = make_app(&config, &caps, store.clone(), &master, public_url)?;
        let first_admin_link = match galien_app::bootstrap::system_first_admin_link(&app).await {
            Ok(link) => link,
            Err(e) => {
                store.close().await;
                return Err(StartError::Bootstrap(e.to_string()));
            }
        };

        let state = WebState::new(WebParts {
            app: app.clone(),
            metrics: Arc::new(galien_web::metrics::Metrics::new(store.clone())),
            tls: tls.is_some(),
            hub: galien_app::teleconsultation::hub::Hub::start(app.clone()),
            sessions: galien_app::identity::watch::SessionWatch::start(
                app.clone(),
                galien_web::pages::call::ws::CHECK_EVERY,
            ),
        });
        let router = galien_web::router(
            state,
            HttpSettings {
                request_timeout: config.request_timeout(),
                max_body_bytes: usize::try_from(config.config.http.max_body_bytes)
                    .unwrap_or(usize::MAX),
            },
            extra,
        );
        Ok(Server {
            listener,
            local_addr,
            tls,
            client_certs: client_certs.is_some(),
            store,
            app,
            router,
            grace: config.shutdown_grace(),
            first_admin_link,
            data_dir,
            key_created: origin == KeyOrigin::Created,
            audit_key,
            checkpoint_every: Duration::from_secs(config.config.audit.checkpoint_interval_secs),
            scan_every: Duration::from_secs(config.config.anomaly.scan_interval_secs),
            node,
            siem,
        })
    }

    /// The address actually bound (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// `http://…` or `https://…` of the bound address.
    pub fn base_url(&self) -> String {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        format!("{scheme}://{}", self.local_addr)
    }

    /// The enrolment link issued by this start, if the first administrator has not enrolled.
    pub fn first_admin_link(&self) -> Option<&galien_app::bootstrap::EnrolmentLink> {
        self.first_admin_link.as_ref()
    }

    /// Whether this start created the data directory and the master key.
    pub fn first_start(&self) -> bool {
        self.data_dir.created() || self.key_created
    }

    /// The storage (tests reach the event bus through it).
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The use-case context.
    pub fn app(&self) -> &App {
        &self.app
    }

    /// This node's id.
    pub fn node(&self) -> NodeId {
        self.node
    }

    /// Serves until `shutdown` resolves; then stops accepting, lets in-flight requests finish
    /// (up to the grace period), flushes pending writes and closes the database.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), StartError> {
        let handle = axum_server::Handle::new();
        let watcher = {
            let handle = handle.clone();
            let grace = self.grace;
            tokio::spawn(async move {
                shutdown.await;
                tracing::info!(
                    grace_secs = grace.as_secs(),
                    "shutting down: no new connections, finishing requests"
                );
                handle.graceful_shutdown(Some(grace));
            })
        };
        let checkpointer = {
            let store = self.store.clone();
            let key = self.audit_key.clone();
            let clock = self.app.clock.clone();
            let every = self.checkpoint_every;
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(every);
                tick.tick().await;
                loop {
                    tick.tick().await;
                    if let Err(e) = store.audit_checkpoint(&key, clock.now()).await {
                        tracing::error!(error = %e, "audit checkpoint failed; `galien audit verify` will say why");
                    }
                }
            })
        };
        // Anomaly rules read the trail and open incidents for the DPO (TRACE-5).
        let scanner = {
            let app = self.app.clone();
            let every = self.scan_every;
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(every);
                let mut scanner = galien_app::compliance::anomaly::Scanner::new();
                loop {
                    tick.tick().await;
                    // Catch up in batches, then wait for the next tick.
                    loop {
                        match scanner.scan(&app, 500).await {
                            Ok(opened) => {
                                if opened > 0 {
                                    tracing::warn!(
                                        opened,
                                        "anomaly rules opened security incidents"
                                    );
                                }
                            }
                            Err(e) => {
                                tracing::error!(error = %e, "anomaly scan failed");
                                break;
                            }
                        }
                        match (
                            app.store.anomaly_cursor().await,
                            app.store.audit_head().await,
                        ) {
                            (Ok(cursor), Ok(Some((head, _)))) if cursor < head => continue,
                            _ => break,
                        }
                    }
                }
            })
        };
        // Telemonitoring: measures gone silent open alerts (checked hourly).
        let gaps = {
            let app = self.app.clone();
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(Duration::from_secs(3600));
                loop {
                    tick.tick().await;
                    match galien_app::telemonitoring::missing::scan(&app).await {
                        Ok(0) => {}
                        Ok(opened) => tracing::info!(opened, "missing-data alerts opened"),
                        Err(e) => tracing::error!(error = %e, "missing-data scan failed"),
                    }
                }
            })
        };
        // Forwarding to the SIEM only reads the trail, in its own task (TRACE-3).
        let forwarder = self.siem.map(|f| f.spawn(self.store.clone()));
        let service = self
            .router
            .into_make_service_with_connect_info::<SocketAddr>();
        let served = match self.tls {
            Some(config) => {
                let rustls = axum_server::tls_rustls::RustlsConfig::from_config(config);
                // The connection's verified client certificate reaches handlers (AUTH-2).
                let acceptor = crate::client_cert::ClientCertAcceptor::new(
                    axum_server::tls_rustls::RustlsAcceptor::new(rustls),
                    self.client_certs,
                );
                match axum_server::from_tcp(self.listener) {
                    Ok(server) => {
                        server
                            .acceptor(acceptor)
                            .handle(handle)
                            .serve(service)
                            .await
                    }
                    Err(e) => Err(e),
                }
            }
            None => match axum_server::from_tcp(self.listener) {
                Ok(server) => server.handle(handle).serve(service).await,
                Err(e) => Err(e),
            },
        };
        watcher.abort();
        checkpointer.abort();
        scanner.abort();
        gaps.abort();
        if let Some(forwarder) = forwarder {
            // Records written but not yet confirmed are sent again at the next start.
            forwarder.abort();
        }
        // A last signed checkpoint covers everything recorded up to the stop.
        if let Err(e) = self
            .store
            .audit_checkpoint(&self.audit_key, self.app.clock.now())
            .await
        {
            tracing::error!(error = %e, "final audit checkpoint failed");
        }
        self.store.close().await;
        tracing::info!("stopped; pending writes flushed");
        drop(self.data_dir);
        served.map_err(StartError::Serve)
    }
}
