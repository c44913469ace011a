//! The audit trail on both backends (TRACE-1, TRACE-2): every test runs as `sqlite::<name>` and
//! `postgres::<name>` on a fresh database. Tampering goes through `TestDatabase::execute_raw`, as an
//! attacker with database access would (dropping the append-only triggers first).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;

use futures::FutureExt;
use galien_core::SeededEntropy;
use galien_core::audit::{
    AuditAction, AuditActor, AuditEvent, Outcome, ResourceRef, Source, canonical_bytes,
};
use galien_core::identity::{Assurance, Role};
use galien_core::ids::{AuditEventId, NodeId, PatientId, RequestId, UserId};
use galien_crypto::audit::{AuditSigningKey, TreeHead, merkle_root, record_hash};
use galien_store::testing::TestDatabase;
use galien_store::{
    AuditFilter, Backend, DatabaseUrl, ProblemKind, Store, StoreOptions, VerifyReport,
};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

const T0: OffsetDateTime = datetime!(2026-01-05 08:00 UTC);

struct Ctx {
    backend: Backend,
    url: DatabaseUrl,
    db: TestDatabase,
    key: AuditSigningKey,
    _dir: tempfile::TempDir,
}

impl Ctx {
    async fn open(&self) -> Store {
        let node = NodeId::from_uuid(Uuid::new_v4());
        Store::open(&self.url, &StoreOptions::default(), node)
            .await
            .expect("store opens")
    }

    async fn raw(&self, sql: &str) {
        self.db
            .execute_raw(sql)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    /// What an attacker does first: remove the append-only triggers.
    async fn drop_guards(&self) {
        match self.backend {
            Backend::Sqlite => {
                self.raw(
                    "DROP TRIGGER audit_events_no_update; DROP TRIGGER audit_events_no_delete; \
                     DROP TRIGGER audit_checkpoints_no_update; DROP TRIGGER audit_checkpoints_no_delete;",
                )
                .await
            }
            Backend::Postgres => {
                self.raw(
                    "DROP TRIGGER audit_events_append_only ON audit_events; \
                     DROP TRIGGER audit_checkpoints_append_only ON audit_checkpoints;",
                )
                .await
            }
        }
    }

    /// A bytes literal in this dialect.
    fn lit(&self, bytes: &[u8]) -> String {
        match self.backend {
            Backend::Sqlite => format!("X'{}'", hex::encode(bytes)),
            Backend::Postgres => format!("'\\x{}'::bytea", hex::encode(bytes)),
        }
    }

    async fn verify(&self, store: &Store) -> VerifyReport {
        store
            .verify_audit(&self.key.verifying_key(), None)
            .await
            .unwrap()
    }
}

type TestFn = fn(&Ctx) -> Pin<Box<dyn Future<Output = ()> + Send + '_>>;

async fn run(backend: Backend, test: TestFn) {
    let dir = tempfile::tempdir().unwrap();
    let db = TestDatabase::new(backend, dir.path()).await;
    let ctx = Ctx {
        backend,
        url: db.url().clone(),
        db,
        key: AuditSigningKey::generate(&SeededEntropy::new(42)),
        _dir: dir,
    };
    let outcome = AssertUnwindSafe(test(&ctx)).catch_unwind().await;
    ctx.db.drop_database().await;
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::run(galien_store::Backend::Sqlite, |ctx| Box::pin(super::$name(ctx))).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::run(galien_store::Backend::Postgres, |ctx| Box::pin(super::$name(ctx))).await;
                }
            )*
        }
    };
}

both_backends!(
    trace_02_untouched_trail_verifies,
    trace_02_records_without_any_checkpoint_are_reported,
    trace_02_modified_record_is_detected,
    trace_02_deleted_record_is_detected,
    trace_02_inserted_record_is_detected,
    trace_02_reordered_records_are_detected,
    trace_02_forged_checkpoint_signature_is_detected,
    trace_02_checkpoint_root_mismatch_is_detected,
    trace_02_append_only_triggers_refuse_update_and_delete,
    trace_02_concurrent_appends_keep_one_chain,
    trace_02_an_appender_whose_known_head_is_stale_appends_after_the_real_head,
    trace_02_grouped_appends_keep_each_callers_records_together_and_a_bad_one_fails_alone,
    trace_02_checkpoints_extend_incrementally_and_match_the_merkle_root,
    trace_01_events_are_searchable_by_user_patient_action_period,
    trace_05_patients_reached_by_a_user_before_a_record_since_a_time,
    trace_07_purge_removes_old_records_and_the_rest_still_verifies,
    trace_07_purge_marker_cannot_be_forged_or_bypassed,
);

fn uuid(n: u128) -> Uuid {
    Uuid::from_u128(n)
}

fn user(n: u128) -> UserId {
    UserId::from_uuid(uuid(0x1000 + n))
}

fn patient(n: u128) -> PatientId {
    PatientId::from_uuid(uuid(0x2000 + n))
}

fn event(i: u32, who: Option<UserId>, whose: Option<PatientId>, action: AuditAction) -> AuditEvent {
    AuditEvent {
        id: AuditEventId::from_uuid(Uuid::new_v4()),
        at: T0 + Duration::minutes(i64::from(i)),
        actor: AuditActor {
            user: who,
            role: who.map(|_| Role::Medecin),
            assurance: who.map(|_| Assurance::TwoFactors),
            client: None,
        },
        action,
        outcome: Outcome::Success,
        resource: whose.map(|p| ResourceRef {
            kind: "patient_record".into(),
            id: p.to_string(),
        }),
        patient: whose,
        purpose: Some("care".into()),
        emergency: false,
        source: Source {
            ip: Some("192.0.2.1".into()),
            user_agent: Some("test".into()),
            request_id: Some(RequestId::from_uuid(Uuid::new_v4())),
        },
        reason: None,
    }
}

/// Appends `n` read events (seq 1..=n) and returns them.
async fn fill(store: &Store, n: u32) -> Vec<AuditEvent> {
    let mut out = Vec::new();
    for i in 0..n {
        let e = event(
            i,
            Some(user(u128::from(i % 3))),
            Some(patient(u128::from(i % 4))),
            AuditAction::RecordRead,
        );
        let seq = store.append_audit(&e).await.unwrap();
        assert_eq!(seq, u64::from(i) + 1);
        out.push(e);
    }
    out
}

async fn stored_hash(store: &Store, seq: u64) -> [u8; 32] {
    let found = store
        .audit_events(&AuditFilter {
            after_seq: Some(seq - 1),
            limit: Some(1),
            ..AuditFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(found[0].seq, seq);
    found[0].hash
}

fn assert_problem(report: &VerifyReport, seq: u64, kind: ProblemKind) {
    let p = report
        .problem
        .as_ref()
        .unwrap_or_else(|| panic!("expected {kind} at {seq}, got OK: {report:?}"));
    assert_eq!((p.seq, p.kind), (seq, kind), "{p}");
}

async fn trace_02_untouched_trail_verifies(ctx: &Ctx) {
    let store = ctx.open().await;
    let empty = ctx.verify(&store).await;
    assert!(empty.is_ok(), "{empty:?}");
    assert_eq!((empty.records, empty.head), (0, None));

    let genesis = store.audit_checkpoint(&ctx.key, T0).await.unwrap();
    assert_eq!(genesis.head.size, 0);
    fill(&store, 10).await;
    let c10 = store
        .audit_checkpoint(&ctx.key, T0 + Duration::hours(1))
        .await
        .unwrap();
    assert_eq!(c10.head.size, 10);
    assert!(c10.verify(&ctx.key.verifying_key()));
    // Nothing new: the same checkpoint comes back.
    let again = store
        .audit_checkpoint(&ctx.key, T0 + Duration::hours(2))
        .await
        .unwrap();
    assert_eq!(again, c10);
    for i in 10..15 {
        store
            .append_audit(&event(i, None, None, AuditAction::AuthLoginFailed))
            .await
            .unwrap();
    }
    store
        .audit_checkpoint(&ctx.key, T0 + Duration::hours(3))
        .await
        .unwrap();
    for i in 15..18 {
        store
            .append_audit(&event(i, Some(user(1)), None, AuditAction::AuthLogout))
            .await
            .unwrap();
    }
    assert_eq!(
        store.latest_checkpoint().await.unwrap().unwrap().head.size,
        15
    );

    let report = ctx.verify(&store).await;
    assert!(report.is_ok(), "{report:?}");
    assert_eq!(report.records, 18);
    assert_eq!(report.checkpoints, 3);
    assert_eq!(report.uncovered, 3);
    assert_eq!(report.head.unwrap().0, 18);
    assert_eq!(report.head, store.audit_head().await.unwrap());

    let partial = store
        .verify_audit(&ctx.key.verifying_key(), Some(13))
        .await
        .unwrap();
    assert!(partial.is_ok(), "{partial:?}");
    assert_eq!(partial.first_seq, 11);
    assert_eq!(partial.records, 8);

    // Another key did not sign these checkpoints.
    let stranger = AuditSigningKey::generate(&SeededEntropy::new(7));
    let other = store
        .verify_audit(&stranger.verifying_key(), None)
        .await
        .unwrap();
    assert_problem(&other, 0, ProblemKind::BadCheckpointSignature);
    store.close().await;

    // Reopened (another node, same database): still intact, and the chain goes on.
    let store = ctx.open().await;
    assert_eq!(
        store
            .append_audit(&event(99, None, None, AuditAction::AuthLogout))
            .await
            .unwrap(),
        19
    );
    assert!(ctx.verify(&store).await.is_ok());
    store.close().await;
}

async fn trace_02_records_without_any_checkpoint_are_reported(ctx: &Ctx) {
    let store = ctx.open().await;
    fill(&store, 3).await;
    let report = ctx.verify(&store).await;
    assert_eq!(report.records, 3);
    assert_problem(&report, 1, ProblemKind::MissingCheckpoint);
    store.audit_checkpoint(&ctx.key, T0).await.unwrap();
    assert!(ctx.verify(&store).await.is_ok());
    // An attacker who removes the checkpoints is seen.
    ctx.drop_guards().await;
    ctx.raw("DELETE FROM audit_checkpoints").await;
    assert_problem(&ctx.verify(&store).await, 1, ProblemKind::MissingCheckpoint);
    store.close().await;
}

async fn trace_02_modified_record_is_detected(ctx: &Ctx) {
    let store = ctx.open().await;
    let events = fill(&store, 10).await;
    store.audit_checkpoint(&ctx.key, T0).await.unwrap();
    ctx.drop_guards().await;

    // A search column changed: caught against the hashed bytes.
    ctx.raw("UPDATE audit_events SET action = 'record.write' WHERE seq = 4")
        .await;
    let report = ctx.verify(&store).await;
    assert_problem(&report, 4, ProblemKind::Modified);
    assert_eq!(report.records, 3);
    ctx.raw("UPDATE audit_events SET action = 'record.read' WHERE seq = 4")
        .await;
    assert!(ctx.verify(&store).await.is_ok());

    // The hashed bytes changed (purpose rewritten), columns left consistent.
    let mut forged = events[5].clone();
    forged.purpose = Some("curiosity".into());
    ctx.raw(&format!(
        "UPDATE audit_events SET canonical = {} WHERE seq = 6",
        ctx.lit(&canonical_bytes(&forged))
    ))
    .await;
    assert_problem(&ctx.verify(&store).await, 6, ProblemKind::Modified);

    // ... and its hash recomputed too: the next record no longer links to it.
    let prev = stored_hash(&store, 5).await;
    let h = record_hash(&prev, 6, &canonical_bytes(&forged));
    ctx.raw(&format!(
        "UPDATE audit_events SET hash = {} WHERE seq = 6",
        ctx.lit(&h)
    ))
    .await;
    assert_problem(&ctx.verify(&store).await, 6, ProblemKind::Modified);
    store.close().await;
}

async fn trace_02_deleted_record_is_detected(ctx: &Ctx) {
    let store = ctx.open().await;
    fill(&store, 10).await;
    store.audit_checkpoint(&ctx.key, T0).await.unwrap();
    ctx.drop_guards().await;

    // The newest record removed: the checkpoint covered it.
    ctx.raw("DELETE FROM audit_events WHERE seq = 10").await;
    let report = ctx.verify(&store).await;
    assert_problem(&report, 10, ProblemKind::Deleted);
    assert_eq!(report.records, 9);

    // A record in the middle removed: a gap.
    ctx.raw("DELETE FROM audit_events WHERE seq = 5").await;
    assert_problem(&ctx.verify(&store).await, 5, ProblemKind::Deleted);

    // The gap closed by renumbering: the records still say where they were chained.
    ctx.raw("UPDATE audit_events SET seq = seq + 1000 WHERE seq > 5")
        .await;
    ctx.raw("UPDATE audit_events SET seq = seq - 1001 WHERE seq > 1000")
        .await;
    assert_problem(&ctx.verify(&store).await, 5, ProblemKind::Deleted);
    store.close().await;
}

async fn trace_02_inserted_record_is_detected(ctx: &Ctx) {
    let store = ctx.open().await;
    fill(&store, 10).await;
    store.audit_checkpoint(&ctx.key, T0).await.unwrap();
    ctx.drop_guards().await;

    // Make room at seq 4 and slip in a forged record, correctly chained to record 3.
    ctx.raw("UPDATE audit_events SET seq = seq + 1000 WHERE seq >= 4")
        .await;
    ctx.raw("UPDATE audit_events SET seq = seq - 999 WHERE seq > 1000")
        .await;
    let forged = event(
        3,
        Some(user(9)),
        Some(patient(9)),
        AuditAction::RecordExport,
    );
    let canonical = canonical_bytes(&forged);
    let prev = stored_hash(&store, 3).await;
    let hash = record_hash(&prev, 4, &canonical);
    let (user_lit, patient_lit) = match ctx.backend {
        Backend::Sqlite => (
            ctx.lit(user(9).as_uuid().as_bytes()),
            ctx.lit(patient(9).as_uuid().as_bytes()),
        ),
        Backend::Postgres => (format!("'{}'", user(9)), format!("'{}'", patient(9))),
    };
    let id_lit = match ctx.backend {
        Backend::Sqlite => ctx.lit(forged.id.as_uuid().as_bytes()),
        Backend::Postgres => format!("'{}'", forged.id),
    };
    ctx.raw(&format!(
        "INSERT INTO audit_events (seq, id, at, actor_user, action, outcome, patient, canonical, prev_hash, hash) \
         VALUES (4, {id_lit}, {}, {user_lit}, 'record.export', 'success', {patient_lit}, {}, {}, {})",
        galien_core::audit::to_micros(forged.at),
        ctx.lit(&canonical),
        ctx.lit(&prev),
        ctx.lit(&hash),
    ))
    .await;
    let report = ctx.verify(&store).await;
    assert_problem(&report, 4, ProblemKind::Inserted);
    assert_eq!(
        report.records, 4,
        "the forged record itself chains; the next one shows it"
    );
    store.close().await;
}

async fn trace_02_reordered_records_are_detected(ctx: &Ctx) {
    let store = ctx.open().await;
    fill(&store, 10).await;
    store.audit_checkpoint(&ctx.key, T0).await.unwrap();
    ctx.drop_guards().await;
    ctx.raw("UPDATE audit_events SET seq = 1004 WHERE seq = 4")
        .await;
    ctx.raw("UPDATE audit_events SET seq = 4 WHERE seq = 5")
        .await;
    ctx.raw("UPDATE audit_events SET seq = 5 WHERE seq = 1004")
        .await;
    assert_problem(&ctx.verify(&store).await, 4, ProblemKind::Reordered);
    store.close().await;
}

async fn trace_02_forged_checkpoint_signature_is_detected(ctx: &Ctx) {
    let store = ctx.open().await;
    fill(&store, 10).await;
    let real = store.audit_checkpoint(&ctx.key, T0).await.unwrap();
    ctx.drop_guards().await;
    // Someone without the key signs a head of their own and leaves the key id as it was.
    let stranger = AuditSigningKey::generate(&SeededEntropy::new(666));
    let head = TreeHead {
        root: [7; 32],
        ..real.head
    };
    let sig = stranger.sign(&head);
    ctx.raw(&format!(
        "UPDATE audit_checkpoints SET root = {}, signature = {} WHERE size = 10",
        ctx.lit(&head.root),
        ctx.lit(&sig)
    ))
    .await;
    let report = ctx.verify(&store).await;
    assert_problem(&report, 10, ProblemKind::BadCheckpointSignature);
    assert_eq!(report.checkpoints, 0);

    // A signature byte flipped on an otherwise genuine checkpoint.
    let mut flipped = real.signature;
    flipped[0] ^= 1;
    ctx.raw(&format!(
        "UPDATE audit_checkpoints SET root = {}, signature = {} WHERE size = 10",
        ctx.lit(&real.head.root),
        ctx.lit(&flipped)
    ))
    .await;
    assert_problem(
        &ctx.verify(&store).await,
        10,
        ProblemKind::BadCheckpointSignature,
    );
    store.close().await;
}

async fn trace_02_checkpoint_root_mismatch_is_detected(ctx: &Ctx) {
    let store = ctx.open().await;
    let events = fill(&store, 10).await;
    store.audit_checkpoint(&ctx.key, T0).await.unwrap();
    ctx.drop_guards().await;
    // Record 3 rewritten and the whole chain after it recomputed: the chain is consistent again, only
    // the signed root can tell.
    let mut prev = stored_hash(&store, 2).await;
    for seq in 3..=10u64 {
        let mut e = events[usize::try_from(seq).unwrap() - 1].clone();
        if seq == 3 {
            e.purpose = Some("rewritten".into());
        }
        let canonical = canonical_bytes(&e);
        let hash = record_hash(&prev, seq, &canonical);
        ctx.raw(&format!(
            "UPDATE audit_events SET canonical = {}, prev_hash = {}, hash = {} WHERE seq = {seq}",
            ctx.lit(&canonical),
            ctx.lit(&prev),
            ctx.lit(&hash)
        ))
        .await;
        prev = hash;
    }
    let report = ctx.verify(&store).await;
    assert_problem(&report, 10, ProblemKind::CheckpointRootMismatch);
    assert_eq!(report.records, 10);
    // Checkpointing refuses nothing here (the chain is consistent) but the new head differs from the
    // signed one; the old checkpoint keeps flagging the rewrite.
    store.close().await;
}

async fn trace_02_append_only_triggers_refuse_update_and_delete(ctx: &Ctx) {
    let store = ctx.open().await;
    fill(&store, 3).await;
    store.audit_checkpoint(&ctx.key, T0).await.unwrap();
    for sql in [
        "UPDATE audit_events SET action = 'record.write' WHERE seq = 2",
        "DELETE FROM audit_events WHERE seq = 3",
        "DELETE FROM audit_events",
        "UPDATE audit_checkpoints SET size = 1",
        "DELETE FROM audit_checkpoints",
    ] {
        let err = ctx.db.execute_raw(sql).await;
        assert!(err.is_err(), "{sql} was accepted");
    }
    if ctx.backend == Backend::Postgres {
        assert!(ctx.db.execute_raw("TRUNCATE audit_events").await.is_err());
    }
    let report = ctx.verify(&store).await;
    assert!(report.is_ok(), "{report:?}");
    assert_eq!(report.records, 3);
    store.close().await;
}

async fn trace_02_concurrent_appends_keep_one_chain(ctx: &Ctx) {
    // SQLite: one store, its single writer. PostgreSQL: two stores (two nodes) on one database.
    let stores = match ctx.backend {
        Backend::Sqlite => vec![ctx.open().await],
        Backend::Postgres => vec![ctx.open().await, ctx.open().await],
    };
    let per_store = match ctx.backend {
        Backend::Sqlite => 100,
        Backend::Postgres => 100,
    };
    let mut tasks = Vec::new();
    for (n, store) in stores.iter().enumerate() {
        for i in 0..per_store {
            let store = store.clone();
            let e = event(
                i,
                Some(user(u128::try_from(n).unwrap())),
                Some(patient(u128::from(i))),
                AuditAction::RecordRead,
            );
            tasks.push(tokio::spawn(async move { store.append_audit(&e).await }));
        }
    }
    let mut seqs = Vec::new();
    for t in tasks {
        seqs.push(t.await.unwrap().unwrap());
    }
    seqs.sort_unstable();
    let total = u64::try_from(stores.len()).unwrap() * u64::from(per_store);
    assert_eq!(seqs, (1..=total).collect::<Vec<_>>());
    stores[0].audit_checkpoint(&ctx.key, T0).await.unwrap();
    let report = ctx.verify(&stores[0]).await;
    assert!(report.is_ok(), "{report:?}");
    assert_eq!(report.records, total);
    for s in &stores {
        s.close().await;
    }
}

/// On PostgreSQL each node's appender writes a group after the head it last wrote, in one statement.
/// Another node extending the chain in between, or a record removed behind the node's back, makes
/// that head stale: the statement then writes nothing and the group goes again under the chain lock,
/// after the real head. Every record lands once, at the seq its caller was told, and the chain stays
/// one, gapless and verifiable. (SQLite: one node, whose writer reads the head in each transaction.)
async fn trace_02_an_appender_whose_known_head_is_stale_appends_after_the_real_head(ctx: &Ctx) {
    let pg = ctx.backend == Backend::Postgres;
    let a = ctx.open().await;
    let b = if pg { ctx.open().await } else { a.clone() };
    let mut expected: Vec<(u64, AuditEvent)> = Vec::new();
    async fn append(store: &Store, i: u32, expected: &mut Vec<(u64, AuditEvent)>) {
        let e = event(
            i,
            Some(user(1)),
            Some(patient(u128::from(i))),
            AuditAction::RecordRead,
        );
        let seq = store.append_audit(&e).await.unwrap();
        expected.push((seq, e));
    }
    // a learns the head with its first append, then appends after it.
    for i in 0..3 {
        append(&a, i, &mut expected).await;
    }
    // b (another node) extends the chain: a's head is now stale.
    append(&b, 3, &mut expected).await;
    append(&a, 4, &mut expected).await;
    append(&a, 5, &mut expected).await;
    if pg {
        let s = a.stats();
        assert_eq!(s.audit_stale_heads, 1, "{s:?}");
        assert_eq!(s.audit_appends_after_known_head, 3, "{s:?}");
    }
    // The newest record removed behind a's back (a restored database): a's head names a record
    // that is gone, so a must not chain after it.
    ctx.drop_guards().await;
    let (gone, _) = expected.pop().unwrap();
    ctx.raw(&format!("DELETE FROM audit_events WHERE seq = {gone}"))
        .await;
    append(&a, 6, &mut expected).await;
    assert_eq!(
        expected.last().unwrap().0,
        gone,
        "written at the real head's next seq"
    );
    if pg {
        assert_eq!(a.stats().audit_stale_heads, 2);
    }
    // Both nodes at once.
    let mut tasks = Vec::new();
    for i in 10..60 {
        for store in [&a, &b] {
            let store = store.clone();
            let e = event(
                i,
                Some(user(2)),
                Some(patient(u128::from(i))),
                AuditAction::RecordRead,
            );
            tasks.push(tokio::spawn(async move {
                (store.append_audit(&e).await.unwrap(), e)
            }));
        }
    }
    for t in tasks {
        expected.push(t.await.unwrap());
    }
    expected.sort_by_key(|(seq, _)| *seq);
    let all = every_record(&a).await;
    let stored: Vec<(u64, &AuditEvent)> = all.iter().map(|r| (r.seq, &r.event)).collect();
    let told: Vec<(u64, &AuditEvent)> = expected.iter().map(|(s, e)| (*s, e)).collect();
    assert_eq!(
        stored, told,
        "each record at the seq its caller was told, none else"
    );
    let n = u64::try_from(all.len()).unwrap();
    assert_eq!(
        all.iter().map(|r| r.seq).collect::<Vec<_>>(),
        (1..=n).collect::<Vec<_>>()
    );
    a.audit_checkpoint(&ctx.key, T0).await.unwrap();
    let report = ctx.verify(&a).await;
    assert!(report.is_ok(), "{report:?}");
    assert_eq!(report.records, n);
    a.close().await;
    b.close().await;
}

/// Plain appends made at the same moment share a transaction (group commit): each caller's records
/// still come in its own order, one after another, its answer is the seq of its last one, a caller
/// of more records than one `INSERT` carries (64) is written whole, and a caller whose record cannot
/// be written (a duplicate id) fails alone while its neighbours commit.
async fn trace_02_grouped_appends_keep_each_callers_records_together_and_a_bad_one_fails_alone(
    ctx: &Ctx,
) {
    let store = ctx.open().await;
    let already = event(0, None, None, AuditAction::AuthLogout);
    store.append_audit(&already).await.unwrap();
    let sizes: Vec<u32> = (1..=30).chain([150, 65]).collect();
    let mut tasks = Vec::new();
    for (n, size) in sizes.iter().enumerate() {
        let who = Some(user(u128::try_from(n).unwrap()));
        let events: Vec<AuditEvent> = (0..*size)
            .map(|i| {
                event(
                    i,
                    who,
                    Some(patient(u128::from(i))),
                    AuditAction::RecordRead,
                )
            })
            .collect();
        let s = store.clone();
        tasks.push(tokio::spawn(async move {
            let last = s.append_audit_all(events.clone()).await;
            (events, last)
        }));
        if n == 10 {
            // The same record again: refused by the trail's unique id, and only this caller fails.
            let s = store.clone();
            let dup = already.clone();
            tasks.push(tokio::spawn(async move {
                let last = s.append_audit_all(vec![dup.clone()]).await;
                (vec![dup], last)
            }));
        }
    }
    let mut answered = Vec::new();
    for t in tasks {
        answered.push(t.await.unwrap());
    }
    let all = every_record(&store).await;
    let by_seq: std::collections::HashMap<u64, &AuditEvent> =
        all.iter().map(|s| (s.seq, &s.event)).collect();
    let mut failed = 0;
    let mut written = 1;
    for (events, last) in &answered {
        match last {
            Err(_) => {
                failed += 1;
                assert_eq!(events, &vec![already.clone()], "only the duplicate fails");
            }
            Ok(last) => {
                let last = last.expect("records were appended");
                let first = last + 1 - u64::try_from(events.len()).unwrap();
                for (k, e) in events.iter().enumerate() {
                    let seq = first + u64::try_from(k).unwrap();
                    assert_eq!(
                        by_seq.get(&seq),
                        Some(&e),
                        "record {k} of a caller at seq {seq}"
                    );
                }
                written += events.len();
            }
        }
    }
    assert_eq!(failed, 1);
    assert_eq!(all.len(), written, "nothing else was written");
    let stats = store.stats();
    assert!(
        stats.write_batches < stats.writes_committed,
        "appends shared transactions: {stats:?}"
    );
    store.audit_checkpoint(&ctx.key, T0).await.unwrap();
    let report = ctx.verify(&store).await;
    assert!(report.is_ok(), "{report:?}");
    store.close().await;
}

async fn trace_02_checkpoints_extend_incrementally_and_match_the_merkle_root(ctx: &Ctx) {
    let store = ctx.open().await;
    let mut hashes = Vec::new();
    for (round, n) in [1u32, 2, 5, 0, 9, 1].into_iter().enumerate() {
        for i in 0..n {
            store
                .append_audit(&event(i, None, None, AuditAction::RecordPrint))
                .await
                .unwrap();
        }
        let at = T0 + Duration::minutes(i64::try_from(round).unwrap());
        let c = store.audit_checkpoint(&ctx.key, at).await.unwrap();
        let all = every_record(&store).await;
        hashes = all.iter().map(|s| s.hash).collect::<Vec<_>>();
        assert_eq!(c.head.size, u64::try_from(hashes.len()).unwrap());
        assert_eq!(c.head.root, merkle_root(&hashes), "round {round}");
    }
    assert_eq!(hashes.len(), 18);
    assert!(ctx.verify(&store).await.is_ok());
    store.close().await;
}

async fn trace_01_events_are_searchable_by_user_patient_action_period(ctx: &Ctx) {
    let store = ctx.open().await;
    let (alice, bob) = (user(1), user(2));
    let (p1, p2) = (patient(1), patient(2));
    let plan = [
        (Some(alice), Some(p1), AuditAction::RecordRead),
        (Some(alice), Some(p2), AuditAction::RecordWrite),
        (Some(bob), Some(p1), AuditAction::RecordRead),
        (Some(bob), None, AuditAction::AuthLoginSucceeded),
        (None, None, AuditAction::AuthLoginFailed),
        (Some(alice), Some(p1), AuditAction::RecordExport),
        (Some(bob), Some(p2), AuditAction::AccessDenied),
    ];
    let mut written = Vec::new();
    for (i, (who, whose, action)) in plan.iter().enumerate() {
        let e = event(u32::try_from(i).unwrap() * 10, *who, *whose, *action);
        store.append_audit(&e).await.unwrap();
        written.push(e);
    }
    let seqs = |found: Vec<galien_store::StoredAuditEvent>| {
        found.iter().map(|s| s.seq).collect::<Vec<_>>()
    };

    let all = search(&store, AuditFilter::default()).await;
    assert_eq!(all.len(), 7);
    // Round trip: what comes back is what was written (times kept to the microsecond).
    for (s, e) in all.iter().zip(&written) {
        assert_eq!(&s.event, e);
    }
    assert_eq!(
        seqs(
            search(
                &store,
                AuditFilter {
                    user: Some(alice),
                    ..Default::default()
                }
            )
            .await
        ),
        [1, 2, 6]
    );
    assert_eq!(
        seqs(
            search(
                &store,
                AuditFilter {
                    patient: Some(p1),
                    ..Default::default()
                }
            )
            .await
        ),
        [1, 3, 6]
    );
    assert_eq!(
        seqs(
            search(
                &store,
                AuditFilter {
                    action: Some(AuditAction::RecordRead),
                    ..Default::default()
                }
            )
            .await
        ),
        [1, 3]
    );
    assert_eq!(
        seqs(
            search(
                &store,
                AuditFilter {
                    user: Some(bob),
                    patient: Some(p2),
                    ..Default::default()
                }
            )
            .await
        ),
        [7]
    );
    // Period: [T0+20min, T0+50min) holds records 3, 4, 5.
    assert_eq!(
        seqs(
            search(
                &store,
                AuditFilter {
                    from: Some(T0 + Duration::minutes(20)),
                    to: Some(T0 + Duration::minutes(50)),
                    ..Default::default()
                }
            )
            .await
        ),
        [3, 4, 5]
    );
    // Paging.
    let page1 = seqs(
        search(
            &store,
            AuditFilter {
                limit: Some(3),
                ..Default::default()
            },
        )
        .await,
    );
    assert_eq!(page1, [1, 2, 3]);
    let page2 = seqs(
        search(
            &store,
            AuditFilter {
                limit: Some(3),
                after_seq: Some(3),
                ..Default::default()
            },
        )
        .await,
    );
    assert_eq!(page2, [4, 5, 6]);
    assert!(
        search(
            &store,
            AuditFilter {
                user: Some(user(77)),
                ..Default::default()
            }
        )
        .await
        .is_empty()
    );
    store.close().await;
}

async fn search(store: &Store, f: AuditFilter) -> Vec<galien_store::StoredAuditEvent> {
    store.audit_events(&f).await.unwrap()
}

/// The whole trail (up to a thousand records), oldest first.
async fn every_record(store: &Store) -> Vec<galien_store::StoredAuditEvent> {
    search(
        store,
        AuditFilter {
            limit: Some(1000),
            ..AuditFilter::default()
        },
    )
    .await
}

fn purge_event(m: &galien_crypto::audit::PurgeMarker) -> AuditEvent {
    let mut e = event(1000, None, None, AuditAction::AuditPurged);
    e.at = m.at;
    e.reason = Some(format!("AUDIT-PURGED:{}:{}", m.through, m.removed));
    e
}

async fn trace_07_purge_removes_old_records_and_the_rest_still_verifies(ctx: &Ctx) {
    let store = ctx.open().await;
    store.audit_checkpoint(&ctx.key, T0).await.unwrap();
    // Records at T0+0 … T0+29 min; checkpoints after 10 and 20.
    for i in 0..30u32 {
        store
            .append_audit(&event(
                i,
                Some(user(1)),
                Some(patient(1)),
                AuditAction::RecordRead,
            ))
            .await
            .unwrap();
        if i == 9 || i == 19 {
            store
                .audit_checkpoint(&ctx.key, T0 + Duration::minutes(i64::from(i)))
                .await
                .unwrap();
        }
    }
    // Nothing older than the cutoff: nothing to purge.
    assert!(
        store
            .audit_purge(&ctx.key, T0, T0 + Duration::days(400), purge_event)
            .await
            .unwrap()
            .is_none()
    );
    // Records before T0+25 min are due; the purge stops at the newest checkpoint below (20).
    let now = T0 + Duration::days(400);
    let purged = store
        .audit_purge(&ctx.key, T0 + Duration::minutes(25), now, purge_event)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((purged.marker.through, purged.marker.removed), (20, 20));
    assert!(purged.verify(&ctx.key.verifying_key()));
    assert_eq!(
        store.audit_purge_marker().await.unwrap(),
        Some(purged.clone())
    );
    let left = every_record(&store).await;
    assert_eq!(left.first().unwrap().seq, 21);
    // The purge itself is the newest record.
    assert_eq!(left.last().unwrap().event.action, AuditAction::AuditPurged);
    let report = ctx.verify(&store).await;
    assert!(report.is_ok(), "{report:?}");
    assert_eq!((report.purged_through, report.first_seq), (20, 21));
    // New records and checkpoints keep working after the purge, and a second purge continues.
    fill_from(&store, 40, 5).await;
    store.audit_checkpoint(&ctx.key, now).await.unwrap();
    let again = store
        .audit_purge(&ctx.key, T0 + Duration::days(1), now, purge_event)
        .await
        .unwrap()
        .unwrap();
    assert!(again.marker.through > 20);
    let report = ctx.verify(&store).await;
    assert!(report.is_ok(), "{report:?}");
    assert_eq!(report.purged_through, again.marker.through);
    store.close().await;
}

async fn fill_from(store: &Store, first: u32, n: u32) {
    for i in first..first + n {
        store
            .append_audit(&event(i, Some(user(2)), None, AuditAction::RecordRead))
            .await
            .unwrap();
    }
}

async fn trace_07_purge_marker_cannot_be_forged_or_bypassed(ctx: &Ctx) {
    let store = ctx.open().await;
    store.audit_checkpoint(&ctx.key, T0).await.unwrap();
    fill(&store, 10).await;
    store
        .audit_checkpoint(&ctx.key, T0 + Duration::hours(1))
        .await
        .unwrap();
    fill_from(&store, 10, 5).await;
    // Deleting without a marker is still refused by the database.
    assert!(
        ctx.db
            .execute_raw("DELETE FROM audit_events WHERE seq <= 5")
            .await
            .is_err()
    );
    // A marker not signed by the audit key: inserted by hand, it lets the rows go, but verify
    // reports the forgery.
    ctx.db
        .execute_raw(&format!(
            "INSERT INTO audit_purges (through, removed, last_hash, cutoff, at, signature, key_id) \
             VALUES (10, 10, {h}, 0, 0, {h}, 'forged')",
            h = if ctx.backend == Backend::Postgres {
                format!("'\\x{}'", "00".repeat(32))
            } else {
                format!("X'{}'", "00".repeat(32))
            }
        ))
        .await
        .unwrap();
    ctx.db
        .execute_raw("DELETE FROM audit_events WHERE seq <= 10")
        .await
        .unwrap();
    let report = ctx.verify(&store).await;
    assert_problem(&report, 10, ProblemKind::BadCheckpointSignature);
    store.close().await;
}

/// What the anomaly scanner reads of a user it knows nothing of yet (TRACE-5): the distinct patients
/// they reached successfully with the given actions, since a time, before a record, each with the
/// latest such access.
async fn trace_05_patients_reached_by_a_user_before_a_record_since_a_time(ctx: &Ctx) {
    let store = ctx.open().await;
    let (alice, bob) = (user(1), user(2));
    let (p1, p2, p3, p4) = (patient(1), patient(2), patient(3), patient(4));
    let mut denied = event(25, Some(alice), Some(p4), AuditAction::RecordRead);
    denied.outcome = Outcome::Denied;
    let plan = [
        event(0, Some(alice), Some(p1), AuditAction::RecordRead), // 1: before `since`
        event(10, Some(alice), Some(p2), AuditAction::RecordWrite), // 2
        event(20, Some(alice), Some(p2), AuditAction::RecordRead), // 3: p2's latest
        event(21, Some(bob), Some(p3), AuditAction::RecordRead),  // 4: another user
        event(22, Some(alice), Some(p3), AuditAction::AccessDenied), // 5: not an access
        denied,                                                   // 6: refused
        event(30, Some(alice), Some(p1), AuditAction::RecordExport), // 7: p1 again
        event(40, Some(alice), Some(p4), AuditAction::RecordRead), // 8: at the cut
    ];
    for e in &plan {
        store.append_audit(e).await.unwrap();
    }
    let actions = [
        AuditAction::RecordRead,
        AuditAction::RecordWrite,
        AuditAction::RecordExport,
    ];
    let since = T0 + Duration::minutes(5);
    // The store's answer and the expected one, each in one order.
    let sorted = |mut v: Vec<(PatientId, OffsetDateTime)>| {
        v.sort();
        v
    };
    let reached = store
        .audit_patients_reached(alice, &actions, since, 8)
        .await
        .unwrap();
    assert_eq!(
        sorted(reached),
        sorted(vec![
            (p2, T0 + Duration::minutes(20)),
            (p1, T0 + Duration::minutes(30)),
        ])
    );
    // One record later, the patient of record 8 counts; exports not asked for, p1's last access is
    // the one before `since`, which does not count.
    let reached = store
        .audit_patients_reached(alice, &actions[..2], since, 9)
        .await
        .unwrap();
    assert_eq!(
        sorted(reached),
        sorted(vec![
            (p2, T0 + Duration::minutes(20)),
            (p4, T0 + Duration::minutes(40)),
        ])
    );
    assert!(
        store
            .audit_patients_reached(bob, &actions, since, 4)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .audit_patients_reached(alice, &[], since, 9)
            .await
            .unwrap()
            .is_empty()
    );
}
