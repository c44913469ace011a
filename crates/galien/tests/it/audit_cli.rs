//! `galien audit verify` and `galien audit checkpoint` as an operator runs them (TRACE-2): the real
//! binary against a data directory whose trail is written through the store, on SQLite and on
//! PostgreSQL.

use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use galien::audit_cli::signing_key_path;
use galien_core::OsEntropy;
use galien_core::audit::{AuditAction, AuditActor, AuditEvent, Outcome, Source};
use galien_core::ids::{AuditEventId, NodeId, PatientId, UserId};
use galien_crypto::audit::{
    AuditSigningKey, TreeHead, signature_from_base64, verify, verifying_key_from_base64,
};
use galien_store::testing::TestDatabase;
use galien_store::{Backend, DatabaseUrl, Store, StoreOptions};
use time::OffsetDateTime;
use time::macros::datetime;
use uuid::Uuid;

const BIN: &str = env!("CARGO_BIN_EXE_galien");
const T0: OffsetDateTime = datetime!(2026-02-01 09:00 UTC);

/// A data directory (0700) with the audit signing key, and a database with `n` records.
struct Install {
    dir: tempfile::TempDir,
    db: TestDatabase,
    key: AuditSigningKey,
}

impl Install {
    async fn new(backend: Backend, records: u32, checkpoint: bool) -> Install {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&data)
            .unwrap();
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(data.join("keys"))
            .unwrap();
        let (key, _) =
            AuditSigningKey::load_or_create(&signing_key_path(&data), &OsEntropy).unwrap();
        let db = match backend {
            Backend::Sqlite => TestDatabase::sqlite(&data),
            Backend::Postgres => TestDatabase::postgres().await,
        };
        let install = Install { dir, db, key };
        let store = install.store().await;
        for i in 0..records {
            store.append_audit(&event(i)).await.unwrap();
        }
        if checkpoint {
            store.audit_checkpoint(&install.key, T0).await.unwrap();
        }
        store.close().await;
        install
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    async fn store(&self) -> Store {
        Store::open(
            self.db.url(),
            &StoreOptions::default(),
            NodeId::from_uuid(Uuid::new_v4()),
        )
        .await
        .unwrap()
    }

    /// Runs `galien audit <args> --data-dir … [--database-url …]`.
    fn galien(&self, args: &[&str]) -> Output {
        let mut cmd = Command::new(BIN);
        cmd.arg("audit")
            .args(args)
            .arg("--data-dir")
            .arg(self.data_dir())
            .current_dir(self.dir.path())
            .env_remove("GALIEN_CONFIG")
            .env_remove("GALIEN_DATABASE_URL")
            .env_remove("GALIEN_DATA_DIR");
        if let DatabaseUrl::Postgres { url } = self.db.url() {
            cmd.arg("--database-url").arg(url);
        }
        cmd.output().unwrap()
    }

    async fn tamper(&self, backend: Backend) {
        let drop = match backend {
            Backend::Sqlite => "DROP TRIGGER audit_events_no_update",
            Backend::Postgres => "DROP TRIGGER audit_events_append_only ON audit_events",
        };
        self.db.execute_raw(drop).await.unwrap();
        self.db
            .execute_raw("UPDATE audit_events SET outcome = 'failure' WHERE seq = 3")
            .await
            .unwrap();
    }
}

fn event(i: u32) -> AuditEvent {
    AuditEvent {
        id: AuditEventId::from_uuid(Uuid::new_v4()),
        at: T0 + time::Duration::seconds(i64::from(i)),
        actor: AuditActor {
            user: Some(UserId::from_uuid(Uuid::from_u128(1))),
            ..AuditActor::default()
        },
        action: AuditAction::RecordRead,
        outcome: Outcome::Success,
        resource: None,
        patient: Some(PatientId::from_uuid(Uuid::from_u128(2))),
        purpose: Some("care".into()),
        emergency: false,
        source: Source::default(),
        reason: None,
    }
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn describe(o: &Output) -> String {
    format!(
        "status {:?}\nstdout: {}\nstderr: {}",
        o.status.code(),
        stdout(o),
        String::from_utf8_lossy(&o.stderr)
    )
}

async fn verify_exits_0_when_intact_and_3_after_tampering(backend: Backend) {
    let install = Install::new(backend, 5, true).await;
    let ok = install.galien(&["verify"]);
    assert_eq!(ok.status.code(), Some(0), "{}", describe(&ok));
    assert!(
        stdout(&ok).starts_with("audit trail OK: 5 records, 1 checkpoints, head "),
        "{}",
        describe(&ok)
    );
    install.tamper(backend).await;
    let bad = install.galien(&["verify"]);
    assert_eq!(bad.status.code(), Some(3), "{}", describe(&bad));
    assert!(
        stdout(&bad).contains("modified at seq 3"),
        "{}",
        describe(&bad)
    );
    install.db.drop_database().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trace_02_cli_verify_exits_0_when_intact_and_3_after_tampering_sqlite() {
    verify_exits_0_when_intact_and_3_after_tampering(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trace_02_cli_verify_exits_0_when_intact_and_3_after_tampering_postgres() {
    verify_exits_0_when_intact_and_3_after_tampering(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trace_02_cli_checkpoint_export_prints_a_verifiable_signed_tree_head() {
    let install = Install::new(Backend::Sqlite, 7, false).await;
    // No checkpoint yet: the trail is reported, not passed.
    let missing = install.galien(&["verify"]);
    assert_eq!(missing.status.code(), Some(3), "{}", describe(&missing));
    assert!(stdout(&missing).contains("missing-checkpoint"));

    let out = install.galien(&["checkpoint", "--export"]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let json: serde_json::Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    let public_key = verifying_key_from_base64(json["public_key"].as_str().unwrap()).unwrap();
    assert_eq!(public_key, install.key.verifying_key());
    let root: [u8; 32] = hex_decode(json["root"].as_str().unwrap())
        .try_into()
        .unwrap();
    let at = OffsetDateTime::parse(
        json["at"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    let head = TreeHead {
        size: json["size"].as_u64().unwrap(),
        root,
        at,
    };
    assert_eq!(head.size, 7);
    let sig = signature_from_base64(json["signature"].as_str().unwrap()).unwrap();
    assert!(verify(&public_key, &head, &sig), "{json}");
    let mut forged = head;
    forged.size = 6;
    assert!(!verify(&public_key, &forged, &sig));

    // The root is the trail's: the store's checkpoint is the one exported.
    let store = install.store().await;
    assert_eq!(store.latest_checkpoint().await.unwrap().unwrap().head, head);
    store.close().await;

    // Verifying with the exported public key, as an outside party would.
    let ok = install.galien(&[
        "verify",
        "--public-key",
        json["public_key"].as_str().unwrap(),
    ]);
    assert_eq!(ok.status.code(), Some(0), "{}", describe(&ok));
    let plain = install.galien(&["checkpoint"]);
    assert_eq!(plain.status.code(), Some(0), "{}", describe(&plain));
    assert!(stdout(&plain).starts_with("audit checkpoint: size 7, root "));
}

#[test]
fn trace_02_cli_without_a_signing_key_fails_with_status_1() {
    let dir = tempfile::tempdir().unwrap();
    let data: &Path = &dir.path().join("nothing-here");
    let out = Command::new(BIN)
        .args(["audit", "verify", "--data-dir"])
        .arg(data)
        .env_remove("GALIEN_CONFIG")
        .env_remove("GALIEN_DATABASE_URL")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("audit-signing.key"));
}

fn hex_decode(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trace_07_purge_removes_expired_records_and_verify_still_passes() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        // 20 records of 2026-02-01, covered by a checkpoint.
        let install = Install::new(backend, 20, true).await;
        // Within the default year: nothing goes.
        let out = install.galien(&["purge"]);
        assert!(out.status.success(), "{}", describe(&out));
        assert!(
            stdout(&out).contains("nothing older than 365 days"),
            "{}",
            describe(&out)
        );
        // Keeping 30 days removes them, behind a signed marker.
        let out = install.galien(&["purge", "--keep-days", "30"]);
        assert!(out.status.success(), "{}", describe(&out));
        assert!(
            stdout(&out).contains("20 record(s) removed through seq 20"),
            "{}",
            describe(&out)
        );
        let out = install.galien(&["verify"]);
        assert!(out.status.success(), "{}", describe(&out));
        let store = install.store().await;
        let left = store
            .audit_events(&galien_store::AuditFilter::default())
            .await
            .unwrap();
        assert_eq!(left.len(), 1, "only the purge's own record remains");
        assert_eq!(left[0].event.action, AuditAction::AuditPurged);
        assert_eq!(left[0].event.reason.as_deref(), Some("AUDIT-PURGED:20:20"));
        store.close().await;
        install.db.drop_database().await;
    }
}
