//! The servers under test run as separate processes, so that their resident memory (read from
//! `/proc/<pid>/status`) is theirs alone and the load generator does not share their file
//! descriptors:
//!
//! - Galien is the real `galien` binary (`target/release/galien`, next to `galien-bench`), started
//!   with `galien serve` on a [`Lab`]'s data directory and database, with its default
//!   configuration (log level `info`, log lines going to a file in the lab).
//! - Baselines are this binary re-executed with `--serve-baseline <kind>` (see `baseline.rs`).
//!
//! Setting up (people, patients, appointments, devices) is done first on an in-process node
//! (`galien_testkit::TestServer`) on the lab's database, with use cases called directly where HTTP
//! would be slow; that node is then stopped and its keys copied into the lab's data directory, and
//! the binary starts on the same data — the way an operator would restart a node.

use anyhow::{Context, bail};
use galien_core::Clock;
use galien_store::testing::TestDatabase;
use galien_store::{Backend, DatabaseUrl};
use galien_testkit::{Options, TestServer};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// A temporary data directory and a fresh database for one scenario run.
pub(crate) struct Lab {
    /// The backend.
    pub backend: Backend,
    dir: tempfile::TempDir,
    db: Option<TestDatabase>,
}

fn make_private_dir(path: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(path)
        .with_context(|| format!("create {}", path.display()))
}

fn copy_tree(from: &Path, to: &Path) -> anyhow::Result<()> {
    make_private_dir(to)?;
    for entry in std::fs::read_dir(from).with_context(|| format!("read {}", from.display()))? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_tree(&entry.path(), &target)?;
        } else {
            // Keeps the permissions (key files are 0600).
            std::fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}

impl Lab {
    /// A fresh lab: for SQLite the database file goes in the lab's data directory; for
    /// PostgreSQL a new database (`GALIEN_TEST_POSTGRES_URL`, default the local server).
    pub(crate) async fn new(backend: Backend) -> anyhow::Result<Lab> {
        let dir = tempfile::Builder::new().prefix("galien-bench").tempdir()?;
        make_private_dir(&dir.path().join("data"))?;
        let db = match backend {
            Backend::Sqlite => TestDatabase::sqlite(&dir.path().join("data")),
            Backend::Postgres => TestDatabase::postgres().await,
        };
        Ok(Lab {
            backend,
            dir,
            db: Some(db),
        })
    }

    /// The lab's directory (for baseline files).
    pub(crate) fn path(&self) -> &Path {
        self.dir.path()
    }

    fn url(&self) -> anyhow::Result<&DatabaseUrl> {
        Ok(self.db.as_ref().context("lab closed")?.url())
    }

    /// An in-process node on the lab's database, for setting up.
    pub(crate) async fn setup_node(
        &self,
        clock: Option<Arc<dyn Clock>>,
    ) -> anyhow::Result<TestServer> {
        Ok(TestServer::start_with(
            self.backend,
            Options {
                clock,
                database: Some(self.url()?.clone()),
                ..Options::default()
            },
        )
        .await)
    }

    /// Stops the setup node and starts the `galien` binary on the same keys and database.
    pub(crate) async fn serve(&self, setup: TestServer) -> anyhow::Result<Server> {
        let data = self.dir.path().join("data");
        copy_tree(&setup.data_dir.join("keys"), &data.join("keys"))?;
        setup.stop().await;
        let url = match self.url()? {
            DatabaseUrl::Sqlite { path } => format!("sqlite://{}", path.display()),
            DatabaseUrl::Postgres { url } => url.clone(),
        };
        let mut cmd = Command::new(galien_binary()?);
        cmd.arg("serve")
            .arg("--listen")
            .arg("127.0.0.1:0")
            .arg("--data-dir")
            .arg(&data)
            .arg("--database-url")
            .arg(url);
        for (k, _) in std::env::vars() {
            if k.starts_with("GALIEN_") && k != "GALIEN_TEST_POSTGRES_URL" {
                cmd.env_remove(k);
            }
        }
        Server::spawn(
            cmd,
            "galien: listening on ",
            &self.dir.path().join("galien.log"),
        )
        .await
    }

    /// A baseline server: this binary with `--serve-baseline kind` (and `--body file`).
    pub(crate) async fn baseline(&self, kind: &str, body: Option<&Path>) -> anyhow::Result<Server> {
        let mut cmd = Command::new(std::env::current_exe()?);
        cmd.arg("--serve-baseline").arg(kind);
        if let Some(b) = body {
            cmd.arg("--body").arg(b);
        }
        Server::spawn(
            cmd,
            crate::baseline::LISTENING,
            &self.dir.path().join(format!("baseline-{kind}.log")),
        )
        .await
    }

    /// The newest audit record's seq, read directly from the database (the server keeps running).
    pub(crate) async fn audit_seq(&self) -> anyhow::Result<i64> {
        const SQL: &str = "SELECT COALESCE(MAX(seq), 0) FROM audit_events";
        Ok(match self.url()? {
            DatabaseUrl::Sqlite { path } => {
                use sqlx::ConnectOptions;
                let mut conn = sqlx::sqlite::SqliteConnectOptions::new()
                    .filename(path)
                    .read_only(true)
                    .connect()
                    .await?;
                sqlx::query_scalar(SQL).fetch_one(&mut conn).await?
            }
            DatabaseUrl::Postgres { url } => {
                use sqlx::Connection;
                let mut conn = sqlx::PgConnection::connect(url).await?;
                sqlx::query_scalar(SQL).fetch_one(&mut conn).await?
            }
        })
    }

    /// `galien audit verify` on the lab's data (after the server stopped): the hash chain and the
    /// signed checkpoints written under load hold. `Ok` with its first line, `Err` with its output.
    pub(crate) async fn verify_audit(&self) -> anyhow::Result<String> {
        let mut cmd = Command::new(galien_binary()?);
        cmd.args(["audit", "verify", "--data-dir"])
            .arg(self.dir.path().join("data"));
        if let DatabaseUrl::Postgres { url } = self.url()? {
            cmd.arg("--database-url").arg(url);
        }
        for (k, _) in std::env::vars() {
            if k.starts_with("GALIEN_") && k != "GALIEN_TEST_POSTGRES_URL" {
                cmd.env_remove(k);
            }
        }
        let out = cmd.output().await?;
        let said = String::from_utf8_lossy(&out.stdout).into_owned();
        if !out.status.success() {
            bail!(
                "galien audit verify failed: {said}{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        // "audit trail OK: 565 records, 3 checkpoints, head …": the hash is for people who look.
        let first = said.lines().next().unwrap_or_default();
        Ok(first.split(", head").next().unwrap_or(first).to_owned())
    }

    /// Drops the PostgreSQL database (the directory goes with the lab).
    pub(crate) async fn close(mut self) {
        if let Some(db) = self.db.take() {
            db.drop_database().await;
        }
    }
}

/// `target/<profile>/galien`, next to this binary (or `GALIEN_BENCH_GALIEN`).
fn galien_binary() -> anyhow::Result<PathBuf> {
    if let Ok(p) = std::env::var("GALIEN_BENCH_GALIEN") {
        return Ok(PathBuf::from(p));
    }
    let exe = std::env::current_exe()?;
    let bin = exe
        .parent()
        .context("the bench binary has no directory")?
        .join("galien");
    if !bin.exists() {
        bail!(
            "the galien binary is not at {}: build it with `cargo build --release -p galien --bin galien` \
             (or set GALIEN_BENCH_GALIEN)",
            bin.display()
        );
    }
    Ok(bin)
}

/// A server process; killed when dropped.
pub(crate) struct Server {
    child: Child,
    pid: u32,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    log: PathBuf,
}

impl Server {
    async fn spawn(mut cmd: Command, prefix: &str, log: &Path) -> anyhow::Result<Server> {
        let log_file = std::fs::File::create(log)?;
        cmd.stdout(Stdio::piped())
            .stderr(Stdio::from(log_file))
            .stdin(Stdio::null())
            .kill_on_drop(true);
        let mut child = cmd.spawn().context("start a server process")?;
        let pid = child.id().context("server pid")?;
        let stdout = child.stdout.take().context("server stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let found = tokio::time::timeout(Duration::from_secs(60), async {
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(rest) = line.strip_prefix(prefix) {
                    return Some(rest.trim().to_owned());
                }
            }
            None
        })
        .await
        .ok()
        .flatten();
        let Some(base) = found else {
            let tail = std::fs::read_to_string(log).unwrap_or_default();
            let tail: Vec<&str> = tail.lines().rev().take(20).collect();
            bail!(
                "the server did not start; its log ends with:\n{}",
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            );
        };
        // Keep draining stdout so that the server never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Ok(Server {
            child,
            pid,
            base,
            log: log.to_owned(),
        })
    }

    /// The absolute URL of `path`.
    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// `127.0.0.1:PORT`.
    pub(crate) fn host(&self) -> &str {
        self.base.trim_start_matches("http://")
    }

    /// Its process id.
    pub(crate) fn pid(&self) -> u32 {
        self.pid
    }

    /// Resident memory now (KiB), from `/proc/<pid>/status`.
    pub(crate) fn rss_kib(&self) -> Option<u64> {
        status_field(self.pid, "VmRSS:")
    }

    /// Peak resident memory (KiB).
    pub(crate) fn peak_rss_kib(&self) -> Option<u64> {
        status_field(self.pid, "VmHWM:")
    }

    /// Stops it: SIGTERM (graceful, as an operator would), then SIGKILL after 30 s.
    pub(crate) async fn stop(mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.pid.to_string()])
            .status()
            .await;
        if tokio::time::timeout(Duration::from_secs(30), self.child.wait())
            .await
            .is_err()
        {
            eprintln!(
                "galien-bench: server {} did not stop within 30 s; killed (log: {})",
                self.pid,
                self.log.display()
            );
            let _ = self.child.kill().await;
        }
    }
}

fn status_field(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// This process's open-file limit (soft, hard), from `/proc/self/limits`.
pub(crate) fn open_file_limit() -> Option<(u64, u64)> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    let mut numbers = line
        .trim_start_matches("Max open files")
        .split_whitespace()
        .map(|n| n.parse::<u64>().unwrap_or(u64::MAX));
    Some((numbers.next()?, numbers.next()?))
}

/// An `App` on `node`'s store and data directory (system clock), to set up through use cases.
pub(crate) fn app_for(node: &TestServer) -> anyhow::Result<galien_app::App> {
    use galien::config::Flags;
    let config = galien_testkit::valid_config(&Flags(vec![(
        "--data-dir",
        "data_dir",
        toml::Value::String(node.data_dir.display().to_string()),
    )]));
    let master = galien_crypto::keyfile::load(&node.data_dir.join("keys").join("master.key"))?;
    let caps = galien::Capabilities {
        clock: Arc::new(galien_core::SystemClock),
        entropy: Arc::new(galien_core::OsEntropy),
    };
    galien::startup::make_app(
        &config,
        &caps,
        node.store.clone(),
        &master,
        node.base_url.clone(),
    )
    .map_err(|e| anyhow::anyhow!("{e}"))
}

/// A médecin account created in the lab's store (the bench signs nobody in over HTTP: Argon2 and
/// TOTP would dominate the set-up), as the actor the use cases take.
pub(crate) async fn medecin(
    app: &galien_app::App,
    email: &str,
    name: &str,
) -> anyhow::Result<galien_core::identity::Actor> {
    use galien_core::identity::{AccountStatus, Actor, Assurance, AuthMethod, Email, Role};
    let now = galien_core::SystemClock.now();
    let id = galien_core::ids::UserId::generate(now, &galien_core::OsEntropy);
    app.store
        .create_user(galien_store::NewUser {
            id,
            email: Email::parse(email).context("email")?,
            display_name: name.into(),
            role: Role::Medecin,
            professional_id: None,
            organisation: None,
            status: AccountStatus::Active,
            created_at: now,
            created_by: None,
        })
        .await?;
    Ok(Actor {
        user: id,
        role: Role::Medecin,
        method: AuthMethod::PasswordTotp,
        assurance: Assurance::TwoFactors,
    })
}

/// [`medecin`] with a two-factor session opened by the use case sign-in ends with: the actor and
/// the session cookie's value.
pub(crate) async fn medecin_with_session(
    app: &galien_app::App,
    email: &str,
    name: &str,
) -> anyhow::Result<(galien_core::identity::Actor, String)> {
    use galien_app::identity::{NextStep, session};
    let doctor = medecin(app, email, name).await?;
    let user = app.store.user(doctor.user).await?;
    let grant = session::open(
        app,
        &galien_app::RequestContext::default(),
        &user,
        doctor.method,
        doctor.assurance,
        NextStep::Done,
    )
    .await?;
    Ok((doctor, grant.token.expose().to_owned()))
}
