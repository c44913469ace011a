//! Starts a real Galien node for tests: bound to `127.0.0.1:0`, with a fresh SQLite data directory
//! or a fresh PostgreSQL database, and a client for it. Also finds and runs the `galien` binary
//! for tests of the command line.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod browser;
pub mod coturn;
pub mod oidc;
pub mod pages;
pub mod people;
pub mod smtp;
pub mod ws;

use galien::config::{self, Flags, ValidConfig};
use galien::{Capabilities, Server};
use galien_core::Clock;
use galien_store::testing::TestDatabase;
use galien_store::{Backend, DatabaseUrl, Store};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tempfile::TempDir;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// How to start a test node.
#[derive(Debug, Default)]
pub struct Options {
    /// A clock the test controls; the system clock otherwise.
    pub clock: Option<Arc<dyn Clock>>,
    /// Run on this database (e.g. shared by two nodes) instead of a fresh one.
    pub database: Option<DatabaseUrl>,
    /// Extra configuration, as `(key, value)` pairs of the TOML layer.
    pub settings: Vec<(&'static str, toml::Value)>,
    /// Extra routes (e.g. a deliberately slow one to test graceful shutdown).
    pub extra_routes: Option<axum::Router>,
    /// Start with a copy of this node data directory's `keys/` (a second node of one installation:
    /// nodes share the master key and the health key ring, as operators deploy them).
    pub keys_from: Option<PathBuf>,
}

impl Options {
    /// A node on the clock the test controls.
    pub fn clocked(clock: &Arc<galien_core::ManualClock>) -> Options {
        Options {
            clock: Some(clock.clone()),
            ..Options::default()
        }
    }
}

/// A running node.
#[derive(Debug)]
pub struct TestServer {
    /// `http://127.0.0.1:PORT`.
    pub base_url: String,
    /// A client without cookies or redirects followed.
    pub client: reqwest::Client,
    /// The link printed at first start, if any.
    pub first_admin_link: Option<String>,
    /// The node's storage (for the event bus and assertions on stored state).
    pub store: Store,
    /// The node's data directory.
    pub data_dir: PathBuf,
    /// The node's id.
    pub node: galien_core::ids::NodeId,
    /// The database it runs on.
    pub store_url: DatabaseUrl,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<(), galien::StartError>>>,
    owned_db: Option<TestDatabase>,
    _dir: TempDir,
}

/// A fresh database of the given backend, in `dir` for SQLite.
pub async fn fresh_database(backend: Backend, dir: &Path) -> TestDatabase {
    match backend {
        Backend::Sqlite => TestDatabase::sqlite(dir),
        Backend::Postgres => TestDatabase::postgres().await,
    }
}

impl TestServer {
    /// A node on a fresh database of `backend`.
    pub async fn start(backend: Backend) -> TestServer {
        Self::start_with(backend, Options::default()).await
    }

    /// A node with options.
    pub async fn start_with(backend: Backend, options: Options) -> TestServer {
        let dir = tempfile::tempdir().unwrap();
        let data_dir = dir.path().join("data");
        let (database, owned_db) = match options.database.clone() {
            Some(url) => (url, None),
            None => {
                let db = fresh_database(backend, &data_dir).await;
                (db.url().clone(), Some(db))
            }
        };
        Self::start_in(dir, database, owned_db, options).await
    }

    /// Stops this node and starts a new one on the same data directory and database (a restart).
    pub async fn restart(mut self, options: Options) -> TestServer {
        self.stop_node().await;
        let database = self.store_url.clone();
        let owned_db = self.owned_db.take();
        Self::start_in(self._dir, database, owned_db, options).await
    }

    /// A node on an installation already in `dir`'s `data/` directory and in `db` (a restored
    /// backup, say).
    pub async fn start_on(dir: TempDir, db: TestDatabase, options: Options) -> TestServer {
        let database = db.url().clone();
        Self::start_in(dir, database, Some(db), options).await
    }

    async fn start_in(
        dir: TempDir,
        database: DatabaseUrl,
        owned_db: Option<TestDatabase>,
        options: Options,
    ) -> TestServer {
        let data_dir = dir.path().join("data");
        if let Some(from) = &options.keys_from {
            use std::os::unix::fs::PermissionsExt;
            copy_dir(&from.join("keys"), &data_dir.join("keys"));
            std::fs::set_permissions(&data_dir, std::fs::Permissions::from_mode(0o700)).unwrap();
        }
        let mut flags = Flags::default();
        flags.0.push((
            "--listen",
            "listen",
            toml::Value::String("127.0.0.1:0".into()),
        ));
        flags.0.push((
            "--data-dir",
            "data_dir",
            toml::Value::String(data_dir.display().to_string()),
        ));
        match &database {
            DatabaseUrl::Postgres { url } => {
                flags.0.push((
                    "--database-url",
                    "database_url",
                    toml::Value::String(url.clone()),
                ));
            }
            DatabaseUrl::Sqlite { path } => {
                flags.0.push((
                    "--database-url",
                    "database_url",
                    toml::Value::String(format!("sqlite://{}", path.display())),
                ));
            }
        }
        // Fast, still real, Argon2id and no artificial delay: tests run many sign-ins. Locks
        // still apply; tests may override any of these.
        for (key, value) in [
            ("auth.argon2_memory_kib", toml::Value::Integer(1024)),
            ("auth.argon2_iterations", toml::Value::Integer(1)),
            ("auth.failure_delay_ms", toml::Value::Integer(0)),
        ] {
            if !options.settings.iter().any(|(k, _)| *k == key) {
                flags.0.push(("(test)", key, value));
            }
        }
        for (key, value) in options.settings {
            flags.0.push(("(test)", key, value));
        }
        let config = valid_config(&flags);
        let caps = Capabilities {
            clock: options
                .clock
                .unwrap_or_else(|| Arc::new(galien_core::SystemClock)),
            entropy: Arc::new(galien_core::OsEntropy),
        };
        let extra = options.extra_routes.unwrap_or_default();
        let server = Server::build_with_routes(config, caps, extra)
            .await
            .unwrap_or_else(|e| panic!("test server failed to start: {e}"));
        let base_url = server.base_url();
        let first_admin_link = server.first_admin_link().map(|l| l.url.clone());
        let store = server.store().clone();
        let node = server.node();
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(server.run(async move {
            let _ = rx.await;
        }));
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            // Self-signed in TLS tests; certificate validation itself is tested with a real CA.
            .tls_danger_accept_invalid_certs(true)
            .build()
            .unwrap();
        TestServer {
            base_url,
            client,
            first_admin_link,
            store,
            store_url: database,
            data_dir,
            node,
            shutdown: Some(tx),
            task: Some(task),
            owned_db,
            _dir: dir,
        }
    }

    /// The absolute URL of `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// `GET path`.
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.unwrap()
    }

    /// Asks the node to shut down gracefully and waits until it has (database flushed).
    pub async fn stop(mut self) {
        self.stop_node().await;
        if let Some(db) = self.owned_db.take() {
            db.drop_database().await;
        }
    }

    /// Starts the shutdown without waiting (to test in-flight requests).
    pub fn begin_shutdown(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }

    /// Waits for the node's serving loop to end.
    pub async fn stopped(&mut self) -> Result<(), galien::StartError> {
        match self.task.take() {
            Some(task) => task.await.unwrap(),
            None => Ok(()),
        }
    }

    async fn stop_node(&mut self) {
        self.begin_shutdown();
        self.stopped().await.unwrap();
    }
}

/// Builds a valid configuration from flags only (environment ignored, for reproducible tests).
pub fn valid_config(flags: &Flags) -> ValidConfig {
    let (config, origins) = config::load(None, &BTreeMap::new(), flags).unwrap();
    config.validate(&origins).unwrap()
}

/// The `galien` binary built by cargo for this test run.
pub fn galien_binary() -> PathBuf {
    // Integration tests live in target/<profile>/deps; the binary is one level up.
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().and_then(Path::parent).unwrap();
    let bin = dir.join("galien");
    assert!(
        bin.exists(),
        "galien binary not found at {}; build it first (cargo build -p galien)",
        bin.display()
    );
    bin
}

/// Copies a directory tree (keys of a node), keeping file permissions.
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}
