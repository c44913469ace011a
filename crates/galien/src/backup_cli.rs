//! `galien backup …`: encrypted backups of an installation, their restore, and a trial restore
//! that proves a backup can be restored (DATA-7).
//!
//! A backup is one file: the database (a consistent SQLite snapshot taken while the server runs,
//! or PostgreSQL's `pg_dump --format=custom`), the health key ring (`keys/health/`), the audit
//! signing key, local policies and telemonitoring thresholds; all of it encrypted as one
//! authenticated stream under a key derived from the master key ([`galien_crypto::backup`]). The
//! master key itself is never in a backup: keep it apart (offline), as without it a backup is
//! unreadable, and a thief with the file alone learns nothing but its size.
//!
//! Inside the stream: entries `b'F'`, name length (u16 BE), name, size (u64 BE), bytes; then
//! `b'E'`. The first entry is `manifest.toml`. Names come from a fixed list; nothing in a backup
//! can write outside the data directory.
//!
//! Every backup and every restore is a record of the audit trail (`backup.created`,
//! `backup.restored`); a backup whose record cannot be written is deleted.
//!
//! Exit status: 0 done; 2 configuration or usage error; 1 anything else (a backup that does not
//! decrypt, a target that is not empty, a tool missing…).

use crate::audit_cli::{AuditCommonArgs, Failure, fail, load_config, open_store, signing_key_path};
use crate::config::ValidConfig;
use clap::{Args, Subcommand};
use galien_core::audit::{AuditAction, AuditActor, AuditEvent, Outcome, ResourceRef, Source};
use galien_core::{Clock, Entropy, OsEntropy};
use galien_crypto::backup::{SealedReader, SealedWriter};
use galien_crypto::keyfile::{self, MasterKey};
use galien_store::DatabaseUrl;
use serde::{Deserialize, Serialize};
use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};

/// `galien backup …`
#[derive(Debug, Subcommand)]
pub enum BackupCommand {
    /// Crée une sauvegarde chiffrée / write an encrypted backup (while the server runs).
    Create(CreateArgs),
    /// Teste une sauvegarde en la restaurant à part / prove a backup restores: decrypt it whole,
    /// restore it into a scratch directory (SQLite) or the empty database given with
    /// --scratch-database-url (PostgreSQL; else only the dump's table of contents is checked),
    /// then verify its audit trail. Changes nothing of the installation.
    Verify(VerifyArgs),
    /// Restaure une sauvegarde / restore a backup into an empty data directory (and, on
    /// PostgreSQL, an empty database).
    Restore(FromArgs),
}

/// `galien backup create`
#[derive(Debug, Args)]
pub struct CreateArgs {
    #[command(flatten)]
    pub common: AuditCommonArgs,
    /// The backup file to write (it must not exist yet).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
}

/// `galien backup verify` and `galien backup restore`
#[derive(Debug, Args)]
pub struct FromArgs {
    #[command(flatten)]
    pub common: AuditCommonArgs,
    /// The backup file.
    #[arg(long, value_name = "FILE")]
    pub from: PathBuf,
    /// The installation's master key, kept apart from its backups [default: the data
    /// directory's keys/master.key]. A restore copies it into the new data directory.
    #[arg(long, value_name = "FILE")]
    pub master_key: Option<PathBuf>,
}

/// `galien backup verify`
#[derive(Debug, Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    pub backup: FromArgs,
    /// An empty PostgreSQL database to restore a PostgreSQL backup into for the trial (left
    /// restored: drop it afterwards).
    #[arg(long, value_name = "URL")]
    pub scratch_database_url: Option<String>,
}

/// What a backup holds, in its first entry.
#[derive(Debug, Serialize, Deserialize)]
struct Manifest {
    format: u32,
    id: String,
    created_at: String,
    engine: String,
    galien_version: String,
    files: Vec<String>,
}

const MANIFEST: &str = "manifest.toml";
const SQLITE_DB: &str = "galien.db";
const PG_DUMP: &str = "database.pgdump";
const FORMAT: u32 = 1;

/// Runs a backup command to its exit status.
pub async fn run(command: BackupCommand) -> ExitCode {
    crate::audit_cli::finish(match command {
        BackupCommand::Create(args) => create(args).await,
        BackupCommand::Verify(args) => verify(args).await,
        BackupCommand::Restore(args) => restore(args).await,
    })
}

fn io_fail(what: impl std::fmt::Display, e: impl std::fmt::Display) -> Failure {
    fail(1, format!("{what}: {e}"))
}

/// Whether `name` may appear in a backup: a fixed list, so that no entry can land outside the
/// data directory or overwrite something else.
fn allowed_name(name: &str) -> bool {
    let plain = |s: &str| {
        !s.is_empty()
            && !s.starts_with('.')
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
    };
    match name {
        MANIFEST | SQLITE_DB | PG_DUMP | "programmes.toml" => true,
        _ if name == format!("keys/{}", galien_crypto::audit::SIGNING_KEY_FILE) => true,
        _ => {
            if let Some(kek) = name.strip_prefix("keys/health/") {
                plain(kek) && kek.starts_with("kek-") && kek.ends_with(".key")
            } else if let Some(policy) = name.strip_prefix("policies/") {
                plain(policy)
            } else {
                false
            }
        }
    }
}

fn random_hex(bytes: usize) -> String {
    let mut b = vec![0u8; bytes];
    OsEntropy.fill(&mut b);
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn master_key(config: &ValidConfig, given: Option<&Path>) -> Result<MasterKey, Failure> {
    let path = given.map_or_else(
        || config.config.data_dir.join("keys").join("master.key"),
        Path::to_path_buf,
    );
    keyfile::load(&path).map_err(|e| fail(1, format!("{e} (give it with --master-key)")))
}

/// A directory (0700) that is removed, with what it holds, when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(path: PathBuf) -> Result<Scratch, Failure> {
        DirBuilder::new()
            .mode(0o700)
            .recursive(false)
            .create(&path)
            .map_err(|e| io_fail(path.display(), e))?;
        Ok(Scratch(path))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// How old a `.backup-…` scratch directory must be to be taken for the leftover of an
/// interrupted backup rather than one running beside this one.
const STALE_BACKUP: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

/// Removes the scratch directories (`prefix…`) an interrupted backup or restore left in the data
/// directory, once older than `age`: they hold an unsealed copy of the database.
fn remove_stale(data_dir: &Path, prefix: &str, age: std::time::Duration) {
    let Ok(entries) = fs::read_dir(data_dir) else {
        return;
    };
    for entry in entries.flatten() {
        let old_enough = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|elapsed| elapsed >= age);
        if entry.file_name().to_string_lossy().starts_with(prefix)
            && entry.path().is_dir()
            && old_enough
        {
            #[allow(clippy::print_stderr)]
            {
                eprintln!(
                    "galien: removing {}, left by an interrupted backup or restore",
                    entry.path().display()
                );
            }
            let _ = fs::remove_dir_all(entry.path());
        }
    }
}

fn create_private(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
}

// --- create ------------------------------------------------------------------------------------

/// The files of the data directory a backup carries, beside the database: (name in the backup,
/// path).
fn data_dir_files(data_dir: &Path) -> Result<Vec<(String, PathBuf)>, Failure> {
    let mut out = Vec::new();
    let signing = signing_key_path(data_dir);
    if signing.is_file() {
        out.push((
            format!("keys/{}", galien_crypto::audit::SIGNING_KEY_FILE),
            signing,
        ));
    }
    for (dir, prefix) in [
        (data_dir.join("keys").join("health"), "keys/health/"),
        (data_dir.join("policies"), "policies/"),
    ] {
        let entries = match fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(io_fail(dir.display(), e)),
        };
        let mut names = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| io_fail(dir.display(), e))?;
            let name = format!("{prefix}{}", entry.file_name().to_string_lossy());
            if entry.path().is_file() && allowed_name(&name) {
                names.push((name, entry.path()));
            }
        }
        names.sort();
        out.extend(names);
    }
    let programmes = data_dir.join("programmes.toml");
    if programmes.is_file() {
        out.push(("programmes.toml".into(), programmes));
    }
    Ok(out)
}

fn put_entry(out: &mut impl Write, name: &str, size: u64, body: &mut impl Read) -> io::Result<()> {
    let len = u16::try_from(name.len()).map_err(|_| io::Error::other("entry name too long"))?;
    out.write_all(b"F")?;
    out.write_all(&len.to_be_bytes())?;
    out.write_all(name.as_bytes())?;
    out.write_all(&size.to_be_bytes())?;
    let copied = io::copy(&mut body.take(size), out)?;
    if copied != size {
        return Err(io::Error::other(format!(
            "{name} changed while it was read"
        )));
    }
    Ok(())
}

#[allow(clippy::print_stdout)]
async fn create(args: CreateArgs) -> Result<ExitCode, Failure> {
    let config = load_config(&args.common)?;
    let data_dir = config.config.data_dir.clone();
    let master = master_key(&config, None)?;
    let now = galien_core::SystemClock.now();
    let id = uuid::Uuid::new_v4().to_string();
    remove_stale(&data_dir, ".backup-", STALE_BACKUP);
    let scratch = Scratch::new(data_dir.join(format!(".backup-{}", random_hex(8))))?;

    // The database first, to a scratch file: a snapshot on SQLite, a dump on PostgreSQL.
    let store = open_store(&config).await?;
    let (db_name, db_file, engine) = match &config.database {
        DatabaseUrl::Sqlite { .. } => {
            let file = scratch.0.join(SQLITE_DB);
            let taken = store.snapshot_into(&file).await;
            if let Err(e) = taken {
                store.close().await;
                return Err(fail(1, format!("copying the database: {e}")));
            }
            (SQLITE_DB, file, "sqlite")
        }
        DatabaseUrl::Postgres { url } => {
            let file = scratch.0.join(PG_DUMP);
            if let Err(e) = pg_dump(url, &file) {
                store.close().await;
                return Err(e);
            }
            (PG_DUMP, file, "postgres")
        }
    };
    let files = data_dir_files(&data_dir)?;
    let manifest = Manifest {
        format: FORMAT,
        id: id.clone(),
        created_at: now
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default(),
        engine: engine.into(),
        galien_version: env!("CARGO_PKG_VERSION").into(),
        files: std::iter::once(db_name.to_owned())
            .chain(files.iter().map(|(n, _)| n.clone()))
            .collect(),
    };
    let manifest = toml::to_string(&manifest).map_err(|e| io_fail("manifest", e))?;

    let written = (|| -> io::Result<u64> {
        let file = create_private(&args.out)?;
        let mut sealed = SealedWriter::new(&master, BufWriter::new(file), &OsEntropy)?;
        put_entry(
            &mut sealed,
            MANIFEST,
            manifest.len() as u64,
            &mut manifest.as_bytes(),
        )?;
        for (name, path) in std::iter::once((db_name.to_owned(), db_file.clone())).chain(files) {
            let mut f = File::open(&path)?;
            let size = f.metadata()?.len();
            put_entry(&mut sealed, &name, size, &mut f)?;
        }
        sealed.write_all(b"E")?;
        let file = sealed
            .finish()?
            .into_inner()
            .map_err(|e| io::Error::other(e.to_string()))?;
        file.sync_all()?;
        if let Some(dir) = args.out.parent().filter(|p| !p.as_os_str().is_empty()) {
            File::open(dir)?.sync_all()?;
        }
        file.metadata().map(|m| m.len())
    })();
    let size = match written {
        Ok(size) => size,
        Err(e) => {
            store.close().await;
            if e.kind() != io::ErrorKind::AlreadyExists {
                let _ = fs::remove_file(&args.out);
            }
            return Err(io_fail(args.out.display(), e));
        }
    };
    drop(scratch);

    // Nothing leaves untraced: without its record, the backup is deleted.
    let traced = store
        .append_audit(&cli_event(
            now,
            AuditAction::BackupCreated,
            &id,
            format!("BACKUP:{engine}:{size}"),
        ))
        .await;
    store.close().await;
    if let Err(e) = traced {
        let _ = fs::remove_file(&args.out);
        return Err(fail(
            1,
            format!("the backup was deleted: its audit record could not be written: {e}"),
        ));
    }
    println!(
        "backup written: {} ({size} bytes, {engine}, id {id}). Keep the master key \
         (keys/master.key) apart from it: the backup cannot be read without it.",
        args.out.display()
    );
    Ok(ExitCode::SUCCESS)
}

fn cli_event(
    at: time::OffsetDateTime,
    action: AuditAction,
    id: &str,
    reason: String,
) -> AuditEvent {
    AuditEvent {
        id: galien_core::ids::AuditEventId::generate(at, &OsEntropy),
        at,
        actor: AuditActor {
            client: Some("galien-cli".into()),
            ..AuditActor::default()
        },
        action,
        outcome: Outcome::Success,
        resource: Some(ResourceRef {
            kind: "backup".into(),
            id: id.to_owned(),
        }),
        patient: None,
        purpose: Some("operations".into()),
        emergency: false,
        source: Source::default(),
        reason: Some(reason),
    }
}

// --- PostgreSQL tools --------------------------------------------------------------------------

/// `postgres://user:password@host/db` as libpq takes it, with the password moved out of the
/// command line (other users of the machine can read a process's arguments) into `PGPASSWORD`.
fn libpq_target(url: &str) -> Result<(String, Option<String>), Failure> {
    let mut parsed = url::Url::parse(url).map_err(|e| fail(2, format!("database URL: {e}")))?;
    let password = parsed.password().map(|p| {
        percent_encoding::percent_decode_str(p)
            .decode_utf8_lossy()
            .into_owned()
    });
    if password.is_some() {
        parsed
            .set_password(None)
            .map_err(|()| fail(2, "database URL: cannot remove the password"))?;
    }
    Ok((parsed.to_string(), password))
}

fn pg_tool(tool: &str, url: &str) -> Result<Command, Failure> {
    let (target, password) = libpq_target(url)?;
    let mut cmd = Command::new(tool);
    cmd.arg(format!("--dbname={target}"));
    if let Some(p) = password {
        cmd.env("PGPASSWORD", p);
    }
    Ok(cmd)
}

fn run_tool(mut cmd: Command, what: &str) -> Result<Vec<u8>, Failure> {
    let out = cmd.stdin(Stdio::null()).output().map_err(|e| {
        fail(
            1,
            format!("{what}: {e} (install the PostgreSQL client tools of the server's version)"),
        )
    })?;
    if !out.status.success() {
        return Err(fail(
            1,
            format!(
                "{what} failed ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        ));
    }
    Ok(out.stdout)
}

fn pg_dump(url: &str, to: &Path) -> Result<(), Failure> {
    let mut cmd = pg_tool("pg_dump", url)?;
    cmd.args(["--format=custom", "--no-owner", "--no-privileges", "--file"])
        .arg(to);
    run_tool(cmd, "pg_dump").map(|_| ())
}

/// The number of tables in the target database outside PostgreSQL's own schemas.
fn pg_tables(url: &str) -> Result<u64, Failure> {
    let mut cmd = pg_tool("psql", url)?;
    cmd.args([
        "-Atqc",
        "select count(*) from pg_catalog.pg_tables \
         where schemaname not in ('pg_catalog', 'information_schema')",
    ]);
    let out = run_tool(cmd, "psql")?;
    String::from_utf8_lossy(&out)
        .trim()
        .parse()
        .map_err(|e| io_fail("psql", e))
}

// --- reading a backup --------------------------------------------------------------------------

/// Decrypts `from` whole into `into` (each entry a file, 0600, directories 0700), checking every
/// name; the manifest. Any damage fails before the caller uses a byte of it.
fn unpack(master: &MasterKey, from: &Path, into: &Path) -> Result<Manifest, Failure> {
    let file = File::open(from).map_err(|e| io_fail(from.display(), e))?;
    let bad = |e: io::Error| io_fail(from.display(), e);
    let mut r = SealedReader::new(master, BufReader::new(file)).map_err(bad)?;
    let mut names = Vec::new();
    loop {
        let mut tag = [0u8; 1];
        r.read_exact(&mut tag).map_err(bad)?;
        match &tag {
            b"E" => break,
            b"F" => {}
            _ => return Err(fail(1, "the backup's contents are not in a known format")),
        }
        let mut len = [0u8; 2];
        r.read_exact(&mut len).map_err(bad)?;
        let mut name = vec![0u8; usize::from(u16::from_be_bytes(len))];
        r.read_exact(&mut name).map_err(bad)?;
        let name = String::from_utf8(name).unwrap_or_default();
        if !allowed_name(&name) || names.contains(&name) {
            return Err(fail(
                1,
                format!("the backup holds an unexpected entry {name:?}"),
            ));
        }
        let mut size = [0u8; 8];
        r.read_exact(&mut size).map_err(bad)?;
        let size = u64::from_be_bytes(size);
        let path = into.join(&name);
        if let Some(parent) = path.parent() {
            DirBuilder::new()
                .mode(0o700)
                .recursive(true)
                .create(parent)
                .map_err(|e| io_fail(parent.display(), e))?;
        }
        let mut out = create_private(&path).map_err(|e| io_fail(path.display(), e))?;
        let copied = io::copy(&mut (&mut r).take(size), &mut out).map_err(bad)?;
        if copied != size {
            return Err(fail(
                1,
                format!("{}: the backup is cut short", from.display()),
            ));
        }
        out.sync_all().map_err(|e| io_fail(path.display(), e))?;
        names.push(name);
    }
    // The last segment is authenticated only once it has been read to its end.
    let mut rest = Vec::new();
    r.read_to_end(&mut rest).map_err(bad)?;
    if !rest.is_empty() {
        return Err(fail(1, "the backup has bytes after its end"));
    }
    let text =
        fs::read_to_string(into.join(MANIFEST)).map_err(|e| io_fail("the backup's manifest", e))?;
    let manifest: Manifest =
        toml::from_str(&text).map_err(|e| io_fail("the backup's manifest", e))?;
    if manifest.format != FORMAT {
        return Err(fail(
            1,
            format!(
                "backup format {} is not known to this Galien",
                manifest.format
            ),
        ));
    }
    let mut listed = manifest.files.clone();
    listed.push(MANIFEST.into());
    listed.sort();
    names.sort();
    if listed != names {
        return Err(fail(1, "the backup's files do not match its manifest"));
    }
    Ok(manifest)
}

fn engine_of(url: &DatabaseUrl) -> &'static str {
    match url {
        DatabaseUrl::Sqlite { .. } => "sqlite",
        DatabaseUrl::Postgres { .. } => "postgres",
    }
}

// --- verify ------------------------------------------------------------------------------------

/// A trial restore: the restored database opened as a node opens it, its trail verified with the
/// signing key from the backup; the number of records verified.
async fn trial(url: &DatabaseUrl, staged: &Path) -> Result<u64, Failure> {
    let key = galien_crypto::audit::AuditSigningKey::load(&signing_key_path(staged))
        .map_err(|e| fail(1, format!("the backup's audit signing key: {e}")))?;
    let node = galien_core::ids::NodeId::generate(galien_core::SystemClock.now(), &OsEntropy);
    let store = galien_store::Store::open(url, &galien_store::StoreOptions::default(), node)
        .await
        .map_err(|e| fail(1, format!("the backup's database does not open: {e}")))?;
    let report = store.verify_audit(&key.verifying_key(), None).await;
    store.close().await;
    let report = report.map_err(|e| fail(1, format!("verifying the trail: {e}")))?;
    match report.problem {
        Some(problem) => Err(fail(
            crate::audit_cli::EXIT_TAMPERED,
            format!("the backup's audit trail does not verify: {problem}"),
        )),
        None => Ok(report.records),
    }
}

#[allow(clippy::print_stdout)]
async fn verify(args: VerifyArgs) -> Result<ExitCode, Failure> {
    let VerifyArgs {
        backup: args,
        scratch_database_url,
    } = args;
    let config = load_config(&args.common)?;
    let master = master_key(&config, args.master_key.as_deref())?;
    let scratch =
        Scratch::new(std::env::temp_dir().join(format!("galien-verify-{}", random_hex(8))))?;
    let staged = scratch.0.join("backup");
    let manifest = unpack(&master, &args.from, &staged)?;
    let restored_aside = |records: u64| {
        println!(
            "backup OK: {} (id {}, {}), restored aside: database opens, audit trail of \
             {records} records verifies",
            args.from.display(),
            manifest.id,
            manifest.created_at,
        );
    };
    match (manifest.engine.as_str(), scratch_database_url) {
        ("sqlite", _) => {
            let url = DatabaseUrl::Sqlite {
                path: staged.join(SQLITE_DB),
            };
            restored_aside(trial(&url, &staged).await?);
        }
        ("postgres", Some(scratch_url)) => {
            let url = DatabaseUrl::parse(&scratch_url)
                .ok()
                .filter(|u| matches!(u, DatabaseUrl::Postgres { .. }))
                .ok_or_else(|| fail(2, "--scratch-database-url is not a postgres:// URL"))?;
            if pg_tables(&scratch_url)? > 0 {
                return Err(fail(
                    1,
                    format!("the scratch database {} is not empty", url.redacted()),
                ));
            }
            let mut cmd = pg_tool("pg_restore", &scratch_url)?;
            cmd.args([
                "--no-owner",
                "--no-privileges",
                "--exit-on-error",
                "--single-transaction",
            ])
            .arg(staged.join(PG_DUMP));
            run_tool(cmd, "pg_restore")?;
            restored_aside(trial(&url, &staged).await?);
        }
        ("postgres", None) => {
            let mut cmd = Command::new("pg_restore");
            cmd.arg("--list").arg(staged.join(PG_DUMP));
            let toc = run_tool(cmd, "pg_restore --list")?;
            let tables = String::from_utf8_lossy(&toc)
                .lines()
                .filter(|l| l.contains(" TABLE DATA "))
                .count();
            println!(
                "backup OK: {} (id {}, {}), decrypted whole: PostgreSQL dump of {tables} tables \
                 (give --scratch-database-url to restore it aside and verify its audit trail)",
                args.from.display(),
                manifest.id,
                manifest.created_at
            );
        }
        (other, _) => {
            return Err(fail(
                1,
                format!("unknown database engine {other:?} in the backup"),
            ));
        }
    }
    Ok(ExitCode::SUCCESS)
}

// --- restore -----------------------------------------------------------------------------------

#[allow(clippy::print_stdout)]
async fn restore(args: FromArgs) -> Result<ExitCode, Failure> {
    let config = load_config(&args.common)?;
    let master = master_key(&config, args.master_key.as_deref())?;
    let data = crate::datadir::DataDir::open(&config.config.data_dir)
        .map_err(|e| fail(1, e.to_string()))?;
    let data_dir = data.path().to_path_buf();
    // The target must be empty of what a backup brings: nothing is ever overwritten.
    if let Some((name, _)) = data_dir_files(&data_dir)?.first() {
        return Err(fail(
            1,
            format!(
                "{} already holds {name}: restore into a new data directory",
                data_dir.display()
            ),
        ));
    }
    match &config.database {
        DatabaseUrl::Sqlite { path } if path.exists() => {
            return Err(fail(
                1,
                format!(
                    "{} exists: restore into a new data directory",
                    path.display()
                ),
            ));
        }
        DatabaseUrl::Postgres { url } => {
            if pg_tables(url)? > 0 {
                return Err(fail(
                    1,
                    format!(
                        "the database {} is not empty: restore into a new database",
                        config.database.redacted()
                    ),
                ));
            }
        }
        DatabaseUrl::Sqlite { .. } => {}
    }
    // Under the data directory's lock, no other restore runs: any earlier one was interrupted.
    remove_stale(&data_dir, ".restore-", std::time::Duration::ZERO);
    let scratch = Scratch::new(data_dir.join(format!(".restore-{}", random_hex(8))))?;
    let manifest = unpack(&master, &args.from, &scratch.0)?;
    let target = engine_of(&config.database);
    if manifest.engine != target {
        return Err(fail(
            1,
            format!(
                "this backup is of a {} installation; restore it with a {} database",
                manifest.engine, manifest.engine
            ),
        ));
    }

    // Everything decrypted and checked: now put it in place.
    match &config.database {
        DatabaseUrl::Sqlite { path } => move_file(&scratch.0.join(SQLITE_DB), path)?,
        DatabaseUrl::Postgres { url } => {
            let mut cmd = pg_tool("pg_restore", url)?;
            cmd.args([
                "--no-owner",
                "--no-privileges",
                "--exit-on-error",
                "--single-transaction",
            ])
            .arg(scratch.0.join(PG_DUMP));
            run_tool(cmd, "pg_restore")?;
        }
    }
    for name in manifest
        .files
        .iter()
        .filter(|n| *n != SQLITE_DB && *n != PG_DUMP)
    {
        let to = data_dir.join(name);
        if let Some(parent) = to.parent() {
            DirBuilder::new()
                .mode(0o700)
                .recursive(true)
                .create(parent)
                .map_err(|e| io_fail(parent.display(), e))?;
        }
        move_file(&scratch.0.join(name), &to)?;
    }
    let master_path = data_dir.join("keys").join("master.key");
    if let Some(given) = &args.master_key
        && !master_path.exists()
    {
        DirBuilder::new()
            .mode(0o700)
            .recursive(true)
            .create(data_dir.join("keys"))
            .map_err(|e| io_fail(data_dir.display(), e))?;
        let bytes = fs::read(given).map_err(|e| io_fail(given.display(), e))?;
        let mut f = create_private(&master_path).map_err(|e| io_fail(master_path.display(), e))?;
        f.write_all(&bytes)
            .and_then(|()| f.sync_all())
            .map_err(|e| io_fail(master_path.display(), e))?;
    }
    drop(scratch);
    drop(data);

    let store = open_store(&config).await?;
    let traced = store
        .append_audit(&cli_event(
            galien_core::SystemClock.now(),
            AuditAction::BackupRestored,
            &manifest.id,
            format!("BACKUP-RESTORED:{}", manifest.created_at),
        ))
        .await;
    store.close().await;
    traced.map_err(|e| fail(1, format!("recording the restore in the audit trail: {e}")))?;
    println!(
        "restored: backup {} of {} into {} ({} files). Check it with `galien audit verify`, \
         then start `galien serve`.",
        manifest.id,
        manifest.created_at,
        data_dir.display(),
        manifest.files.len()
    );
    Ok(ExitCode::SUCCESS)
}

/// Moves a decrypted file into place, never over an existing one (copy then remove across file
/// systems).
fn move_file(from: &Path, to: &Path) -> Result<(), Failure> {
    if to.exists() {
        return Err(fail(
            1,
            format!("{} exists; nothing was overwritten", to.display()),
        ));
    }
    if fs::rename(from, to).is_err() {
        let mut src = File::open(from).map_err(|e| io_fail(from.display(), e))?;
        let mut dst = create_private(to).map_err(|e| io_fail(to.display(), e))?;
        io::copy(&mut src, &mut dst)
            .and_then(|_| dst.sync_all())
            .map_err(|e| io_fail(to.display(), e))?;
    }
    if let Some(dir) = to.parent() {
        let _ = File::open(dir).and_then(|d| d.sync_all());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data7_only_known_names_can_come_out_of_a_backup() {
        for ok in [
            "manifest.toml",
            "galien.db",
            "database.pgdump",
            "keys/audit-signing.key",
            "keys/health/kek-00001.key",
            "policies/local.cedar",
            "programmes.toml",
        ] {
            assert!(allowed_name(ok), "{ok}");
        }
        for bad in [
            "keys/master.key",
            "../galien.db",
            "policies/../../etc/passwd",
            "policies/.hidden",
            "keys/health/kek-1.key/../../x",
            "keys/health/other.key",
            "/etc/passwd",
            "tls/key.pem",
            "",
        ] {
            assert!(!allowed_name(bad), "{bad}");
        }
    }

    #[test]
    fn data7_leftovers_of_interrupted_backups_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        for name in [".backup-1", ".restore-2", "keys"] {
            fs::create_dir(dir.path().join(name)).unwrap();
            fs::write(dir.path().join(name).join("galien.db"), b"x").unwrap();
        }
        // A backup running beside this one is left alone until it is a day old.
        remove_stale(dir.path(), ".backup-", STALE_BACKUP);
        assert!(dir.path().join(".backup-1").is_dir());
        remove_stale(dir.path(), ".backup-", std::time::Duration::ZERO);
        assert!(!dir.path().join(".backup-1").exists());
        remove_stale(dir.path(), ".restore-", std::time::Duration::ZERO);
        assert!(!dir.path().join(".restore-2").exists());
        assert!(dir.path().join("keys").join("galien.db").is_file());
    }

    #[test]
    fn data7_the_password_leaves_the_command_line() {
        let (target, password) = libpq_target("postgres://galien:s%40cret@db:5432/galien").unwrap();
        assert_eq!(target, "postgres://galien@db:5432/galien");
        assert_eq!(password.as_deref(), Some("s@cret"));
        let (target, password) = libpq_target("postgres://postgres@127.0.0.1/x").unwrap();
        assert_eq!(target, "postgres://postgres@127.0.0.1/x");
        assert_eq!(password, None);
    }
}
