//! `galien backup create`, `verify` and `restore` as an operator runs them (DATA-7), on SQLite and
//! on PostgreSQL: a backup taken while the server serves is encrypted (nothing of the record or
//! of the database shows in the file), an altered one is refused and changes nothing, it restores
//! only into an empty installation, and the restored installation serves the same record to the
//! same doctor, with its audit trail intact: the backup in the trail it copied, the restore in the
//! restored one.

use galien_core::ManualClock;
use galien_core::audit::AuditAction;
use galien_store::{AuditFilter, Backend, DatabaseUrl};
use galien_testkit::people::{self, Inviter, submit};
use galien_testkit::{Options, TestServer, fresh_database};
use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;
use time::macros::datetime;

const BIN: &str = env!("CARGO_BIN_EXE_galien");
const NOTE: &str = "Suivi post-infarctus, bêtabloquant bien toléré, revoir à 3 mois.";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data7_sqlite_backup_restores_a_working_installation() {
    backup_restores_a_working_installation(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data7_postgres_backup_restores_a_working_installation() {
    backup_restores_a_working_installation(Backend::Postgres).await;
}

/// `galien backup <args> --data-dir <dir> --database-url <url>`.
fn galien(args: &[&str], data_dir: &Path, db: &DatabaseUrl) -> Output {
    let url = match db {
        DatabaseUrl::Sqlite { path } => format!("sqlite://{}", path.display()),
        DatabaseUrl::Postgres { url } => url.clone(),
    };
    let out = Command::new(BIN)
        .arg("backup")
        .args(args)
        .arg("--data-dir")
        .arg(data_dir)
        .arg("--database-url")
        .arg(url)
        .env_remove("GALIEN_CONFIG")
        .output()
        .unwrap();
    eprintln!(
        "galien backup {args:?}: {}\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

async fn backup_restores_a_working_installation(backend: Backend) {
    let clock = Arc::new(ManualClock::new(datetime!(2026-11-28 09:00 UTC)));
    let s = TestServer::start_with(backend, Options::clocked(&clock)).await;
    let admin = people::enrol_first_admin(&s, &clock).await;
    let doc = Inviter::new(&s, &clock, &admin)
        .person(
            "medecin",
            "Dr Bernard Martin",
            "b.martin@galien.test",
            Some("1000000042"),
        )
        .await;
    let r = submit(
        &doc.agent,
        "/patients/new",
        "/patients/new",
        &[
            ("birth_name", "Lefèvre".into()),
            ("used_name", String::new()),
            ("first_names", "Hortense".into()),
            ("used_first_name", String::new()),
            ("sex", "F".into()),
            ("birth_date", "1951-03-14".into()),
            ("birth_place", "69123".into()),
            ("nir", String::new()),
            ("ins_status", "provisional".into()),
            ("phone", String::new()),
            ("email", String::new()),
            ("address", String::new()),
            ("referring_doctor", String::new()),
        ],
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let record = r.location().unwrap().split('?').next().unwrap().to_owned();
    let r = submit(
        &doc.agent,
        &record,
        &format!("{record}/notes"),
        &[("text", NOTE.into())],
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.body);

    // A backup while the server serves.
    let work = tempfile::tempdir().unwrap();
    let file = work.path().join("galien.backup");
    let file_arg = file.to_str().unwrap();
    let out = galien(&["create", "--out", file_arg], &s.data_dir, &s.store_url);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("backup written"), "{}", text(&out));
    let bytes = std::fs::read(&file).unwrap();
    assert_eq!(&bytes[..8], b"GALIENB1");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    for clear in [
        b"SQLite format 3".as_slice(),
        b"PGDMP".as_slice(),
        "Lefèvre".as_bytes(),
        b"b.martin@galien.test".as_slice(),
        b"audit_log".as_slice(),
    ] {
        assert!(
            !bytes.windows(clear.len()).any(|w| w == clear),
            "the backup shows {:?}",
            String::from_utf8_lossy(clear)
        );
    }
    // Never over an existing file.
    let again = galien(&["create", "--out", file_arg], &s.data_dir, &s.store_url);
    assert_eq!(again.status.code(), Some(1), "{}", text(&again));
    assert_eq!(std::fs::read(&file).unwrap(), bytes, "the backup is intact");
    // No scratch copy left in the data directory.
    assert!(!std::fs::read_dir(&s.data_dir).unwrap().any(|e| {
        e.unwrap()
            .file_name()
            .to_string_lossy()
            .starts_with(".backup")
    }),);

    // The trial restore proves it restores; an altered copy is refused.
    let out = galien(&["verify", "--from", file_arg], &s.data_dir, &s.store_url);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("backup OK"), "{}", text(&out));
    if let DatabaseUrl::Postgres { .. } = &s.store_url {
        // On PostgreSQL the trial restore goes into an empty scratch database, once.
        let scratch = fresh_database(backend, work.path()).await;
        let DatabaseUrl::Postgres { url } = scratch.url() else {
            unreachable!("a PostgreSQL scratch database")
        };
        let args = ["verify", "--from", file_arg, "--scratch-database-url", url];
        let out = galien(&args, &s.data_dir, &s.store_url);
        assert!(out.status.success(), "{}", text(&out));
        assert!(
            text(&out).contains("restored aside") && text(&out).contains("records verifies"),
            "{}",
            text(&out)
        );
        let out = galien(&args, &s.data_dir, &s.store_url);
        assert_eq!(out.status.code(), Some(1), "{}", text(&out));
        assert!(text(&out).contains("is not empty"), "{}", text(&out));
    } else {
        assert!(text(&out).contains("restored aside"), "{}", text(&out));
    }
    let altered = work.path().join("altered.backup");
    let mut bad = bytes.clone();
    let middle = bad.len() / 2;
    bad[middle] ^= 0x01;
    std::fs::write(&altered, &bad).unwrap();
    let out = galien(
        &["verify", "--from", altered.to_str().unwrap()],
        &s.data_dir,
        &s.store_url,
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("does not decrypt"), "{}", text(&out));
    // Never into an installation a server runs on.
    let out = galien(&["restore", "--from", file_arg], &s.data_dir, &s.store_url);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("in use by another"), "{}", text(&out));
    let master = s.data_dir.join("keys").join("master.key");
    let master_copy = work.path().join("master.key");
    std::fs::copy(&master, &master_copy).unwrap();
    // The backup is in the trail of the installation it copied (after the copy was taken).
    let trail = s.store.audit_events(&AuditFilter::default()).await.unwrap();
    let created = trail
        .iter()
        .filter(|e| e.event.action == AuditAction::BackupCreated)
        .count();
    assert_eq!(created, 1, "one backup written, one record");
    let doc_email = doc.email.clone();
    let doc_password = doc.password.clone();
    let doc_totp = doc.totp.clone();
    s.stop().await;

    // Restore into a new installation: an altered backup leaves nothing behind; the real one
    // restores with the master key kept apart.
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let db = fresh_database(backend, &data_dir).await;
    let master_arg = master_copy.to_str().unwrap();
    let out = galien(
        &[
            "restore",
            "--from",
            altered.to_str().unwrap(),
            "--master-key",
            master_arg,
        ],
        &data_dir,
        db.url(),
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let left: Vec<String> = std::fs::read_dir(&data_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n != "galien.lock")
        .collect();
    assert!(left.is_empty(), "an altered backup restored {left:?}");
    let out = galien(
        &["restore", "--from", file_arg, "--master-key", master_arg],
        &data_dir,
        db.url(),
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("restored"), "{}", text(&out));
    // Restored once; a second time would overwrite it: refused.
    let out = galien(
        &["restore", "--from", file_arg, "--master-key", master_arg],
        &data_dir,
        db.url(),
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("restore into a new"), "{}", text(&out));
    let out = Command::new(BIN)
        .args(["audit", "verify", "--data-dir"])
        .arg(&data_dir)
        .arg("--database-url")
        .arg(match db.url() {
            DatabaseUrl::Sqlite { path } => format!("sqlite://{}", path.display()),
            DatabaseUrl::Postgres { url } => url.clone(),
        })
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("audit trail OK"), "{}", text(&out));

    // The restored installation serves the same record to the same doctor.
    clock.advance(time::Duration::seconds(60));
    let s = TestServer::start_on(dir, db, Options::clocked(&clock)).await;
    let doc = people::sign_in(&s, &doc_email, &doc_password, &doc_totp, &clock).await;
    let page = doc.get(&record).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.has("LEFÈVRE Hortense") || page.has("LEFEVRE Hortense") || page.has("Lefèvre"));
    assert!(page.has(NOTE), "{}", page.body);
    let trail = s.store.audit_events(&AuditFilter::default()).await.unwrap();
    let actions: Vec<AuditAction> = trail.iter().map(|e| e.event.action).collect();
    assert!(
        !actions.contains(&AuditAction::BackupCreated),
        "{actions:?}"
    );
    assert!(
        actions.contains(&AuditAction::BackupRestored),
        "{actions:?}"
    );
    s.stop().await;
}
