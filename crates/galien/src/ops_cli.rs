//! `galien access …` and `galien keys …`: the access matrix the policies in force produce (ACC-5),
//! and the rotation of the keys that protect health data (DATA-1).
//!
//! Exit status: 0 done; 2 configuration or policy error; 1 anything else. Both run beside a live
//! server: `keys rotate` re-wraps each data key with compare-and-set, and a running node picks up the
//! new key-encryption key from the key directory.

use crate::audit_cli::{AuditCommonArgs, Failure, fail, finish, load_config, open_store};
use clap::{Args, Subcommand};
use galien_core::Clock;
use std::process::ExitCode;

/// `galien access …`
#[derive(Debug, Subcommand)]
pub enum AccessCommand {
    /// Imprime la matrice des habilitations / print who may do what (Markdown), from the policies in
    /// force (the data directory's `policies/*.cedar`, else the built-in ones).
    Matrix(MatrixArgs),
    /// Imprime les politiques en vigueur / print the policies in force.
    Policies(MatrixArgs),
}

/// `galien access matrix`
#[derive(Debug, Args)]
pub struct MatrixArgs {
    #[command(flatten)]
    pub common: AuditCommonArgs,
}

/// `galien keys …`
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Nouvelle clé de chiffrement des clés / write a new key-encryption key and re-wrap every patient
    /// data key under it, without downtime.
    Rotate(RotateArgs),
    /// État des clés / how many data keys each key-encryption key wraps.
    Status(MatrixArgs),
}

/// `galien keys rotate`
#[derive(Debug, Args)]
pub struct RotateArgs {
    #[command(flatten)]
    pub common: AuditCommonArgs,
    /// Delete the old key-encryption keys that no longer wrap any data key.
    #[arg(long)]
    pub retire: bool,
}

/// Runs an access command.
pub async fn run_access(command: AccessCommand) -> ExitCode {
    finish(match command {
        AccessCommand::Matrix(args) => matrix(args, false),
        AccessCommand::Policies(args) => matrix(args, true),
    })
}

/// Runs a keys command.
pub async fn run_keys(command: KeysCommand) -> ExitCode {
    finish(match command {
        KeysCommand::Rotate(args) => rotate(args).await,
        KeysCommand::Status(args) => status(args).await,
    })
}

#[allow(clippy::print_stdout)]
fn matrix(args: MatrixArgs, sources: bool) -> Result<ExitCode, Failure> {
    let config = load_config(&args.common)?;
    let policies = galien_access::Policies::for_directory(&config.config.data_dir.join("policies"))
        .map_err(|e| fail(2, e.to_string()))?;
    if sources {
        for (name, text) in policies.sources() {
            println!("// ===== {name}\n{text}");
        }
    } else {
        let origin = match policies.origin() {
            galien_access::PolicyOrigin::Builtin => {
                "politiques intégrées (galien.cedar)".to_owned()
            }
            galien_access::PolicyOrigin::Files(files) => files
                .iter()
                .map(|f| f.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
        };
        let markdown = galien_access::Gate::new(policies).matrix().to_markdown();
        println!("{markdown}\nSource : {origin}");
    }
    Ok(ExitCode::SUCCESS)
}

fn health_keys(
    config: &crate::config::ValidConfig,
) -> Result<galien_app::patients::HealthKeys, Failure> {
    let keys_dir = config.config.data_dir.join("keys");
    let master = galien_crypto::keyfile::load(&keys_dir.join("master.key"))
        .map_err(|e| fail(1, format!("{e} (created by `galien serve` at first start)")))?;
    galien_app::patients::HealthKeys::load_or_create(&keys_dir, &master, &galien_core::OsEntropy)
        .map_err(|e| fail(1, format!("health-data keys: {e}")))
}

#[allow(clippy::print_stdout)]
async fn rotate(args: RotateArgs) -> Result<ExitCode, Failure> {
    let config = load_config(&args.common)?;
    let keys = health_keys(&config)?;
    let store = open_store(&config).await?;
    let clock = galien_core::SystemClock;
    let result = galien_app::patients::rotate(
        &store,
        &keys,
        &galien_core::OsEntropy,
        || clock.now(),
        args.retire,
    )
    .await;
    store.close().await;
    let report = result.map_err(|e| fail(1, e.to_string()))?;
    println!(
        "nouvelle clé / new key-encryption key: kek-{:05}\nclés de patients re-chiffrées / data keys re-wrapped: {}",
        report.new_kek, report.rewrapped
    );
    for id in &report.retired {
        println!("clé retirée / retired: kek-{id:05}");
    }
    for id in &report.kept {
        println!("clé conservée / kept: kek-{id:05}");
    }
    Ok(ExitCode::SUCCESS)
}

#[allow(clippy::print_stdout)]
async fn status(args: MatrixArgs) -> Result<ExitCode, Failure> {
    let config = load_config(&args.common)?;
    let keys = health_keys(&config)?;
    let store = open_store(&config).await?;
    let counts = store.patient_key_counts().await;
    store.close().await;
    let counts = counts.map_err(|e| fail(1, e.to_string()))?;
    println!("clé courante / current: kek-{:05}", keys.current_kek());
    for (kek, n) in counts {
        println!("kek-{kek:05}: {n}");
    }
    Ok(ExitCode::SUCCESS)
}
