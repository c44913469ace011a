//! `galien`: the command line. `galien serve` runs a node; `galien admin …` and `galien config …`
//! are operator tasks. Errors end the process with one line on stderr and a non-zero status
//! (2: configuration, 1: anything else).

use clap::{Args, Parser, Subcommand};
use galien::config::{self, Flags, ValidConfig};
use galien::{Capabilities, Server};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Parser)]
#[command(
    name = "galien",
    version,
    about = "Galien — plateforme de télémédecine / telemedicine platform"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Démarre le serveur / start the server.
    Serve(ServeArgs),
    /// Tâches d'exploitation / operator tasks.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Journal d'audit / audit trail: verify, checkpoint.
    #[command(subcommand)]
    Audit(galien::audit_cli::AuditCommand),
    /// Habilitations / access policies: matrix, policies in force.
    #[command(subcommand)]
    Access(galien::ops_cli::AccessCommand),
    /// Clés des données de santé / health-data keys: rotate, status.
    #[command(subcommand)]
    Keys(galien::ops_cli::KeysCommand),
    /// Sauvegardes chiffrées / encrypted backups: create, verify, restore.
    #[command(subcommand)]
    Backup(galien::backup_cli::BackupCommand),
}

#[derive(Debug, Subcommand)]
enum AdminCommand {
    /// Issue a new single-use enrolment link for the first administrator (revokes the previous one).
    EnrolLink(CommonArgs),
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Check the configuration and print the effective values (secrets redacted).
    Check(ServeArgs),
}

#[derive(Debug, Args)]
struct CommonArgs {
    /// TOML configuration file.
    #[arg(long, env = "GALIEN_CONFIG")]
    config: Option<PathBuf>,
    /// Data directory (database, keys, certificates) [default: ./galien-data].
    #[arg(long)]
    data_dir: Option<String>,
    /// postgres://user@host:5432/db to run on PostgreSQL [default: SQLite in the data directory].
    #[arg(long)]
    database_url: Option<String>,
}

#[derive(Debug, Args)]
struct ServeArgs {
    #[command(flatten)]
    common: CommonArgs,
    /// Address and port [default: 127.0.0.1:8080].
    #[arg(long)]
    listen: Option<String>,
    /// Address people use to reach Galien, e.g. https://galien.example.fr.
    #[arg(long)]
    public_url: Option<String>,
    /// PEM certificate chain (with --tls-key).
    #[arg(long)]
    tls_cert: Option<String>,
    /// PEM private key (with --tls-cert).
    #[arg(long)]
    tls_key: Option<String>,
    /// Generate a self-signed certificate for a local trial.
    #[arg(long)]
    tls_self_signed: bool,
}

impl CommonArgs {
    fn flags(&self, flags: &mut Flags) {
        let s = |v: &String| toml::Value::String(v.clone());
        if let Some(v) = &self.data_dir {
            flags.0.push(("--data-dir", "data_dir", s(v)));
        }
        if let Some(v) = &self.database_url {
            flags.0.push(("--database-url", "database_url", s(v)));
        }
    }
}

impl ServeArgs {
    fn flags(&self) -> Flags {
        let mut flags = Flags::default();
        self.common.flags(&mut flags);
        let s = |v: &String| toml::Value::String(v.clone());
        for (flag, key, value) in [
            ("--listen", "listen", &self.listen),
            ("--public-url", "public_url", &self.public_url),
            ("--tls-cert", "tls.cert", &self.tls_cert),
            ("--tls-key", "tls.key", &self.tls_key),
        ] {
            if let Some(v) = value {
                flags.0.push((flag, key, s(v)));
            }
        }
        if self.tls_self_signed {
            flags.0.push((
                "--tls-self-signed",
                "tls.self_signed",
                toml::Value::Boolean(true),
            ));
        }
        flags
    }
}

fn load_config(file: Option<&PathBuf>, flags: &Flags) -> Result<ValidConfig, config::ConfigError> {
    let env: BTreeMap<String, String> = std::env::vars().collect();
    let (config, origins) = config::load(file.map(PathBuf::as_path), &env, flags)?;
    config.validate(&origins)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return fail(1, &format!("cannot start the runtime: {e}")),
    };
    runtime.block_on(async {
        match cli.command {
            Command::Serve(args) => serve(args).await,
            Command::Admin(AdminCommand::EnrolLink(args)) => enrol_link(args).await,
            Command::Config(ConfigCommand::Check(args)) => check(args),
            Command::Audit(command) => galien::audit_cli::run(command).await,
            Command::Access(command) => galien::ops_cli::run_access(command).await,
            Command::Keys(command) => galien::ops_cli::run_keys(command).await,
            Command::Backup(command) => galien::backup_cli::run(command).await,
        }
    })
}

#[allow(clippy::print_stderr)]
fn fail(code: u8, message: &str) -> ExitCode {
    eprintln!("galien: error: {message}");
    ExitCode::from(code)
}

#[allow(clippy::print_stdout)]
async fn serve(args: ServeArgs) -> ExitCode {
    let config = match load_config(args.common.config.as_ref(), &args.flags()) {
        Ok(c) => c,
        Err(e) => return fail(2, &e.to_string()),
    };
    galien::telemetry::init(config.config.log.format, &config.config.log.level);
    let database = config.database.redacted();
    let server = match Server::build(config, Capabilities::system()).await {
        Ok(s) => s,
        Err(e) => return fail(1, &e.to_string()),
    };
    tracing::info!(address = %server.local_addr(), database, first_start = server.first_start(), "Galien started");
    let shutdown = shutdown_signal();
    println!("galien: listening on {}", server.base_url());
    if let Some(link) = server.first_admin_link() {
        print_link(link);
    }
    match server.run(shutdown).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(1, &e.to_string()),
    }
}

#[allow(clippy::print_stdout)]
fn print_link(link: &galien_app::bootstrap::EnrolmentLink) {
    let until = link
        .expires_at
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    println!();
    println!("  Premier administrateur : ouvrez ce lien à usage unique, valable jusqu'au {until}.");
    println!("  First administrator: open this single-use link, valid until {until}.");
    println!("galien: enrolment link: {}", link.url);
    println!();
}

#[allow(clippy::print_stdout)]
async fn enrol_link(args: CommonArgs) -> ExitCode {
    let mut flags = Flags::default();
    args.flags(&mut flags);
    let config = match load_config(args.config.as_ref(), &flags) {
        Ok(c) => c,
        Err(e) => return fail(2, &e.to_string()),
    };
    if config.database.backend() == galien_store::Backend::Sqlite
        && !config.config.data_dir.is_dir()
    {
        return fail(
            1,
            &format!(
                "no Galien data in {}; start `galien serve` once first, or give --data-dir",
                config.config.data_dir.display()
            ),
        );
    }
    let caps = Capabilities::system();
    let node = galien_core::ids::NodeId::generate(caps.clock.now(), caps.entropy.as_ref());
    let store = match galien_store::Store::open(
        &config.database,
        &galien_store::StoreOptions::default(),
        node,
    )
    .await
    {
        Ok(s) => s,
        Err(e) => return fail(1, &format!("database {}: {e}", config.database.redacted())),
    };
    let public_url = config.public_url.clone().unwrap_or_else(|| {
        config::derived_public_url(config.tls != config::TlsMode::Off, config.config.listen)
    });
    let master_path = config.config.data_dir.join("keys/master.key");
    let master = match galien_crypto::keyfile::load(&master_path) {
        Ok(m) => m,
        Err(e) => return fail(1, &e.to_string()),
    };
    let app = match galien::startup::make_app(&config, &caps, store.clone(), &master, public_url) {
        Ok(app) => app,
        Err(e) => return fail(1, &e.to_string()),
    };
    let result = galien_app::bootstrap::system_first_admin_link(&app).await;
    store.close().await;
    match result {
        Ok(Some(link)) => {
            print_link(&link);
            ExitCode::SUCCESS
        }
        Ok(None) => fail(
            1,
            "the first administrator has already enrolled; administrators invite the other users",
        ),
        Err(e) => fail(1, &e.to_string()),
    }
}

#[allow(clippy::print_stdout)]
fn check(args: ServeArgs) -> ExitCode {
    match load_config(args.common.config.as_ref(), &args.flags()) {
        Ok(c) => match toml::to_string_pretty(&c.config) {
            Ok(text) => {
                println!("# configuration is valid; effective values (secrets redacted):\n{text}");
                ExitCode::SUCCESS
            }
            Err(e) => fail(1, &e.to_string()),
        },
        Err(e) => fail(2, &e.to_string()),
    }
}

/// Registers SIGTERM and SIGINT handlers *now* (before the address and link are printed, so a
/// supervisor that signals at once is heard) and returns the future that resolves on either.
fn shutdown_signal() -> impl std::future::Future<Output = ()> + Send + 'static {
    use tokio::signal::unix::{SignalKind, signal};
    let term = signal(SignalKind::terminate());
    let int = signal(SignalKind::interrupt());
    async move {
        let (Ok(mut term), Ok(mut int)) = (term, int) else {
            tracing::error!("cannot listen for SIGTERM/SIGINT; stop Galien with SIGKILL");
            return std::future::pending::<()>().await;
        };
        tokio::select! {
            _ = term.recv() => tracing::info!("SIGTERM received"),
            _ = int.recv() => tracing::info!("SIGINT received"),
        }
    }
}
