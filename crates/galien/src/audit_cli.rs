//! `galien audit …`: verify the audit trail, sign a checkpoint and hand its signed tree head to an
//! outside party (TRACE-2).
//!
//! Exit status: 0 the trail verifies; 3 tampering found; 2 configuration error; 1 anything else
//! (database unreachable, key missing…). Both commands run beside a live server: they open the
//! database like any node and do not lock the data directory.

use crate::config::{self, Flags, ValidConfig};
use clap::{Args, Subcommand};
use galien_core::Clock;
use galien_crypto::audit::{AuditSigningKey, SIGNING_KEY_FILE, VerifyingKey};
use galien_store::{Backend, Store, StoreOptions};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Exit status when the trail shows tampering.
pub const EXIT_TAMPERED: u8 = 3;

/// `galien audit …`
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Vérifie le journal d'audit / verify the audit trail (hash chain, columns, signed checkpoints).
    Verify(VerifyArgs),
    /// Signe un point de contrôle / sign a checkpoint of the audit trail now.
    Checkpoint(CheckpointArgs),
    /// Purge les traces échues / remove records older than the retention period (`audit.retention_days`),
    /// leaving a signed marker so the rest still verifies.
    Purge(PurgeArgs),
}

/// `galien audit purge`
#[derive(Debug, Args)]
pub struct PurgeArgs {
    #[command(flatten)]
    pub common: AuditCommonArgs,
    /// Keep this many days instead of `audit.retention_days`.
    #[arg(long, value_name = "DAYS", value_parser = clap::value_parser!(u32).range(1..=36500))]
    pub keep_days: Option<u32>,
}

/// Where the installation is.
#[derive(Debug, Args)]
pub struct AuditCommonArgs {
    /// TOML configuration file.
    #[arg(long, env = "GALIEN_CONFIG")]
    pub config: Option<PathBuf>,
    /// Data directory (database, keys) [default: ./galien-data].
    #[arg(long)]
    pub data_dir: Option<String>,
    /// postgres://user@host:5432/db to run on PostgreSQL [default: SQLite in the data directory].
    #[arg(long)]
    pub database_url: Option<String>,
}

/// `galien audit verify`
#[derive(Debug, Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    pub common: AuditCommonArgs,
    /// Start at the newest checkpoint below this seq instead of the first record.
    #[arg(long = "from", value_name = "SEQ")]
    pub from: Option<u64>,
    /// Verify with this public key (base64, as exported) instead of the data directory's key file.
    #[arg(long, value_name = "BASE64")]
    pub public_key: Option<String>,
}

/// `galien audit checkpoint`
#[derive(Debug, Args)]
pub struct CheckpointArgs {
    #[command(flatten)]
    pub common: AuditCommonArgs,
    /// Print the signed tree head as JSON (size, root, at, signature, public_key, key_id) for an outside
    /// party to keep.
    #[arg(long)]
    pub export: bool,
}

/// `<data_dir>/keys/audit-signing.key`: where the server keeps the checkpoint signing key.
pub fn signing_key_path(data_dir: &Path) -> PathBuf {
    data_dir.join("keys").join(SIGNING_KEY_FILE)
}

/// Runs an audit command to its exit status.
pub async fn run(command: AuditCommand) -> ExitCode {
    let result = match command {
        AuditCommand::Verify(args) => verify(args).await,
        AuditCommand::Checkpoint(args) => checkpoint(args).await,
        AuditCommand::Purge(args) => purge(args).await,
    };
    finish(result)
}

/// The exit status of an operator command; a failure is one line on stderr.
pub(crate) fn finish(result: Result<ExitCode, Failure>) -> ExitCode {
    match result {
        Ok(code) => code,
        Err(Failure { code, message }) => {
            #[allow(clippy::print_stderr)]
            {
                eprintln!("galien: error: {message}");
            }
            ExitCode::from(code)
        }
    }
}

#[derive(Debug)]
pub(crate) struct Failure {
    pub(crate) code: u8,
    pub(crate) message: String,
}

pub(crate) fn fail(code: u8, message: impl Into<String>) -> Failure {
    Failure {
        code,
        message: message.into(),
    }
}

pub(crate) fn load_config(args: &AuditCommonArgs) -> Result<ValidConfig, Failure> {
    let mut flags = Flags::default();
    let s = |v: &String| toml::Value::String(v.clone());
    if let Some(v) = &args.data_dir {
        flags.0.push(("--data-dir", "data_dir", s(v)));
    }
    if let Some(v) = &args.database_url {
        flags.0.push(("--database-url", "database_url", s(v)));
    }
    let env: BTreeMap<String, String> = std::env::vars().collect();
    let (config, origins) =
        config::load(args.config.as_deref(), &env, &flags).map_err(|e| fail(2, e.to_string()))?;
    config
        .validate(&origins)
        .map_err(|e| fail(2, e.to_string()))
}

pub(crate) async fn open_store(config: &ValidConfig) -> Result<Store, Failure> {
    if config.database.backend() == Backend::Sqlite && !config.config.data_dir.is_dir() {
        return Err(fail(
            1,
            format!(
                "no Galien data in {}; start `galien serve` once first, or give --data-dir",
                config.config.data_dir.display()
            ),
        ));
    }
    let clock = galien_core::SystemClock;
    let node = galien_core::ids::NodeId::generate(clock.now(), &galien_core::OsEntropy);
    Store::open(&config.database, &StoreOptions::default(), node)
        .await
        .map_err(|e| fail(1, format!("database {}: {e}", config.database.redacted())))
}

fn signing_key(config: &ValidConfig) -> Result<AuditSigningKey, Failure> {
    let path = signing_key_path(&config.config.data_dir);
    AuditSigningKey::load(&path).map_err(|e| {
        fail(
            1,
            format!("{e} (the audit signing key is created by `galien serve` at first start)"),
        )
    })
}

#[allow(clippy::print_stdout)]
async fn verify(args: VerifyArgs) -> Result<ExitCode, Failure> {
    let config = load_config(&args.common)?;
    let key: VerifyingKey = match &args.public_key {
        Some(b64) => galien_crypto::audit::verifying_key_from_base64(b64)
            .ok_or_else(|| fail(2, "--public-key is not a base64 Ed25519 public key"))?,
        None => signing_key(&config)?.verifying_key(),
    };
    let store = open_store(&config).await?;
    let report = store.verify_audit(&key, args.from).await;
    store.close().await;
    let report = report.map_err(|e| fail(1, format!("verifying the audit trail: {e}")))?;
    match &report.problem {
        None => {
            let head = report
                .head
                .map_or_else(|| "none".to_owned(), |(_, hash)| hex_encode(&hash));
            let tail = if report.uncovered > 0 {
                format!(" ({} after the last checkpoint)", report.uncovered)
            } else {
                String::new()
            };
            println!(
                "audit trail OK: {} records, {} checkpoints, head {head}{tail}",
                report.records, report.checkpoints
            );
            Ok(ExitCode::SUCCESS)
        }
        Some(problem) => {
            println!(
                "audit trail TAMPERED: {problem} ({} records verified before it)",
                report.records
            );
            Ok(ExitCode::from(EXIT_TAMPERED))
        }
    }
}

#[allow(clippy::print_stdout)]
async fn checkpoint(args: CheckpointArgs) -> Result<ExitCode, Failure> {
    let config = load_config(&args.common)?;
    let key = signing_key(&config)?;
    let store = open_store(&config).await?;
    let signed = store
        .audit_checkpoint(&key, galien_core::SystemClock.now())
        .await;
    store.close().await;
    let signed = signed.map_err(|e| fail(1, format!("signing a checkpoint: {e}")))?;
    if args.export {
        println!("{}", signed.to_json(&key.verifying_key()));
    } else {
        let at = signed
            .head
            .at
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        println!(
            "audit checkpoint: size {}, root {}, at {at}, key {}",
            signed.head.size,
            hex_encode(&signed.head.root),
            signed.key_id
        );
    }
    Ok(ExitCode::SUCCESS)
}

#[allow(clippy::print_stdout)]
async fn purge(args: PurgeArgs) -> Result<ExitCode, Failure> {
    use galien_core::audit::{AuditAction, AuditActor, AuditEvent, Outcome, ResourceRef, Source};
    let config = load_config(&args.common)?;
    let key = signing_key(&config)?;
    let days = args.keep_days.unwrap_or(config.config.audit.retention_days);
    let now = galien_core::SystemClock.now();
    let cutoff = now - time::Duration::days(i64::from(days));
    let store = open_store(&config).await?;
    let result = store
        .audit_purge(&key, cutoff, now, |m| AuditEvent {
            id: galien_core::ids::AuditEventId::generate(now, &galien_core::OsEntropy),
            at: now,
            actor: AuditActor {
                client: Some("galien-cli".into()),
                ..AuditActor::default()
            },
            action: AuditAction::AuditPurged,
            outcome: Outcome::Success,
            resource: Some(ResourceRef {
                kind: "audit_trail".into(),
                id: format!("1-{}", m.through),
            }),
            patient: None,
            purpose: Some("retention".into()),
            emergency: false,
            source: Source::default(),
            reason: Some(format!("AUDIT-PURGED:{}:{}", m.through, m.removed)),
        })
        .await;
    store.close().await;
    match result.map_err(|e| fail(1, format!("purging the audit trail: {e}")))? {
        Some(p) => println!(
            "audit purge: {} record(s) removed through seq {} (older than {days} days); signed marker key {}",
            p.marker.removed, p.marker.through, p.key_id
        ),
        None => println!("audit purge: nothing older than {days} days below a signed checkpoint"),
    }
    Ok(ExitCode::SUCCESS)
}

fn hex_encode(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
