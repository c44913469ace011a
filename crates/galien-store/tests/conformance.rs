//! One conformance suite, run against SQLite and PostgreSQL (CONVENTIONS 13): every test below is
//! generated twice, as `sqlite::<behaviour>` and `postgres::<behaviour>`, each on a fresh database.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::HashSet;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::time::Duration;

use futures::FutureExt;
use galien_core::ids::NodeId;
use galien_crypto::token::TokenDigest;
use galien_store::testing::{TestDatabase, backends_under_test};
use galien_store::{
    Backend, ConsumeError, DatabaseUrl, EnrolmentToken, Event, NewEnrolmentToken, Store,
    StoreError, StoreOptions, TokenPurpose,
};
use serde_json::json;
use time::OffsetDateTime;
use time::macros::datetime;
use uuid::Uuid;

const WAIT: Duration = Duration::from_secs(20);
const T0: OffsetDateTime = datetime!(2026-01-01 08:00 UTC);

/// What each conformance test gets.
struct Ctx {
    backend: Backend,
    url: DatabaseUrl,
    db: TestDatabase,
    _dir: tempfile::TempDir,
}

impl Ctx {
    async fn open(&self) -> Store {
        self.open_as(node()).await
    }

    async fn open_as(&self, node: NodeId) -> Store {
        Store::open(&self.url, &StoreOptions::default(), node)
            .await
            .expect("store opens")
    }
}

type TestFn = fn(&Ctx) -> Pin<Box<dyn Future<Output = ()> + Send + '_>>;

async fn run(backend: Backend, test: TestFn) {
    assert!(backends_under_test().contains(&backend));
    let dir = tempfile::tempdir().unwrap();
    let db = TestDatabase::new(backend, dir.path()).await;
    let ctx = Ctx {
        backend,
        url: db.url().clone(),
        db,
        _dir: dir,
    };
    let outcome = AssertUnwindSafe(test(&ctx)).catch_unwind().await;
    ctx.db.drop_database().await;
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

macro_rules! conformance {
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

conformance! {
    migrations_apply_on_an_empty_database_and_reopen_is_a_no_op,
    instance_id_is_stable_across_reopen,
    issuing_a_token_revokes_the_previous_unused_one_of_the_same_purpose,
    enrolment_token_is_single_use_and_completes_bootstrap,
    expired_token_is_refused,
    revoked_token_is_refused,
    twenty_concurrent_consumers_exactly_one_wins,
    unknown_token_is_not_found_but_a_closed_store_is_not,
    duplicate_digest_is_a_conflict,
    tampered_migration_checksum_refuses_to_open,
    database_migrated_by_a_newer_galien_refuses_to_open,
    close_flushes_queued_writes_and_refuses_later_ones,
    two_hundred_concurrent_writes_are_all_durable,
    a_failing_write_does_not_roll_back_its_neighbours,
    subscriber_receives_a_published_event,
    oversized_event_is_refused,
    ping_answers_and_stats_count_writes,
}

fn node() -> NodeId {
    NodeId::from_uuid(Uuid::new_v4())
}

fn digest() -> TokenDigest {
    let mut bytes = [0u8; 32];
    bytes[..16].copy_from_slice(Uuid::new_v4().as_bytes());
    bytes[16..].copy_from_slice(Uuid::new_v4().as_bytes());
    TokenDigest::from_bytes(bytes)
}

fn new_token(purpose: TokenPurpose, created_at: OffsetDateTime) -> NewEnrolmentToken {
    NewEnrolmentToken {
        id: Uuid::new_v4(),
        digest: digest(),
        purpose,
        user: None,
        created_at,
        expires_at: created_at + Duration::from_secs(3600),
    }
}

fn open_state(t: &EnrolmentToken) -> bool {
    t.used_at.is_none() && t.revoked_at.is_none()
}

async fn migrations_apply_on_an_empty_database_and_reopen_is_a_no_op(ctx: &Ctx) {
    let store = ctx.open().await;
    assert_eq!(store.backend(), ctx.backend);
    assert!(!store.bootstrap_completed().await.unwrap());
    let t = new_token(TokenPurpose::FirstAdministrator, T0);
    store.system_issue_enrolment_token(t.clone()).await.unwrap();
    store.close().await;

    // Re-opening applies nothing (a second application of 0001 would fail: its tables exist) and keeps data.
    let store = ctx.open().await;
    let stored = store.enrolment_token(&t.digest).await.unwrap();
    assert_eq!(stored.id, t.id);
    store.close().await;
    let store = ctx.open().await;
    assert_eq!(store.enrolment_token(&t.digest).await.unwrap().id, t.id);
    store.close().await;
}

async fn instance_id_is_stable_across_reopen(ctx: &Ctx) {
    let a = ctx.open().await;
    let first = a.instance_id().await.unwrap();
    // A second node opening concurrently sees the same installation.
    let b = ctx.open().await;
    assert_eq!(b.instance_id().await.unwrap(), first);
    a.close().await;
    b.close().await;
    let c = ctx.open().await;
    assert_eq!(c.instance_id().await.unwrap(), first);
    c.close().await;
}

async fn issuing_a_token_revokes_the_previous_unused_one_of_the_same_purpose(ctx: &Ctx) {
    let store = ctx.open().await;
    let a = new_token(TokenPurpose::FirstAdministrator, T0);
    let invitation = new_token(TokenPurpose::Invitation, T0 + Duration::from_secs(1));
    let b = new_token(
        TokenPurpose::FirstAdministrator,
        T0 + Duration::from_secs(60),
    );
    store.system_issue_enrolment_token(a.clone()).await.unwrap();
    store
        .system_issue_enrolment_token(invitation.clone())
        .await
        .unwrap();
    store.system_issue_enrolment_token(b.clone()).await.unwrap();

    let sa = store.enrolment_token(&a.digest).await.unwrap();
    assert_eq!(
        sa.revoked_at,
        Some(b.created_at),
        "revoked at the new token's creation"
    );
    assert_eq!(sa.used_at, None);
    let sb = store.enrolment_token(&b.digest).await.unwrap();
    assert!(open_state(&sb));
    assert_eq!(
        sb,
        EnrolmentToken {
            id: b.id,
            purpose: TokenPurpose::FirstAdministrator,
            user: None,
            created_at: b.created_at,
            expires_at: b.expires_at,
            used_at: None,
            revoked_at: None,
        }
    );
    assert!(
        open_state(&store.enrolment_token(&invitation.digest).await.unwrap()),
        "other purpose untouched"
    );

    // A used token is not revoked by a later issue.
    store
        .consume_enrolment_token(&b.digest, T0 + Duration::from_secs(61))
        .await
        .unwrap();
    let c = new_token(
        TokenPurpose::FirstAdministrator,
        T0 + Duration::from_secs(120),
    );
    store.system_issue_enrolment_token(c).await.unwrap();
    let sb = store.enrolment_token(&b.digest).await.unwrap();
    assert_eq!(sb.revoked_at, None);
    assert!(sb.used_at.is_some());
    store.close().await;
}

async fn enrolment_token_is_single_use_and_completes_bootstrap(ctx: &Ctx) {
    let store = ctx.open().await;
    let t = new_token(TokenPurpose::FirstAdministrator, T0);
    store.system_issue_enrolment_token(t.clone()).await.unwrap();
    assert!(!store.bootstrap_completed().await.unwrap());

    let now = T0 + Duration::from_millis(1500);
    let used = store.consume_enrolment_token(&t.digest, now).await.unwrap();
    assert_eq!(used.id, t.id);
    assert_eq!(used.used_at, Some(now));
    assert!(store.bootstrap_completed().await.unwrap());

    let again = store
        .consume_enrolment_token(&t.digest, now + Duration::from_secs(1))
        .await;
    assert_eq!(again, Err(ConsumeError::AlreadyUsed));
    assert_eq!(
        store.enrolment_token(&t.digest).await.unwrap().used_at,
        Some(now),
        "first use kept"
    );
    store.close().await;

    // Durable.
    let store = ctx.open().await;
    assert!(store.bootstrap_completed().await.unwrap());
    store.close().await;
}

async fn expired_token_is_refused(ctx: &Ctx) {
    let store = ctx.open().await;
    let t = new_token(TokenPurpose::Invitation, T0);
    store.system_issue_enrolment_token(t.clone()).await.unwrap();
    assert_eq!(
        store.consume_enrolment_token(&t.digest, t.expires_at).await,
        Err(ConsumeError::Expired)
    );
    let later = t.expires_at + Duration::from_secs(86_400);
    assert_eq!(
        store.consume_enrolment_token(&t.digest, later).await,
        Err(ConsumeError::Expired)
    );
    assert!(
        open_state(&store.enrolment_token(&t.digest).await.unwrap()),
        "refusal changes nothing"
    );
    // A microsecond before expiry it still works.
    let just_before = t.expires_at - Duration::from_micros(1);
    assert!(
        store
            .consume_enrolment_token(&t.digest, just_before)
            .await
            .is_ok()
    );
    // An invitation does not complete bootstrap.
    assert!(!store.bootstrap_completed().await.unwrap());
    store.close().await;
}

async fn revoked_token_is_refused(ctx: &Ctx) {
    let store = ctx.open().await;
    let old = new_token(TokenPurpose::FirstAdministrator, T0);
    let new = new_token(
        TokenPurpose::FirstAdministrator,
        T0 + Duration::from_secs(5),
    );
    store
        .system_issue_enrolment_token(old.clone())
        .await
        .unwrap();
    store
        .system_issue_enrolment_token(new.clone())
        .await
        .unwrap();
    let now = T0 + Duration::from_secs(10);
    assert_eq!(
        store.consume_enrolment_token(&old.digest, now).await,
        Err(ConsumeError::Revoked)
    );
    assert!(!store.bootstrap_completed().await.unwrap());
    assert!(
        store
            .consume_enrolment_token(&new.digest, now)
            .await
            .is_ok()
    );
    store.close().await;
}

async fn twenty_concurrent_consumers_exactly_one_wins(ctx: &Ctx) {
    let store = ctx.open().await;
    let t = new_token(TokenPurpose::FirstAdministrator, T0);
    store.system_issue_enrolment_token(t.clone()).await.unwrap();
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(20));
    let tasks: Vec<_> = (0..20_u64)
        .map(|i| {
            let (store, barrier, digest) = (store.clone(), barrier.clone(), t.digest);
            tokio::spawn(async move {
                barrier.wait().await;
                store
                    .consume_enrolment_token(&digest, T0 + Duration::from_secs(i + 1))
                    .await
            })
        })
        .collect();
    let mut wins = Vec::new();
    for task in tasks {
        match task.await.unwrap() {
            Ok(token) => wins.push(token),
            Err(ConsumeError::AlreadyUsed) => {}
            Err(other) => panic!("unexpected refusal: {other:?}"),
        }
    }
    assert_eq!(wins.len(), 1, "exactly one consumer wins");
    assert_eq!(
        store.enrolment_token(&t.digest).await.unwrap().used_at,
        wins[0].used_at
    );
    store.close().await;
}

async fn unknown_token_is_not_found_but_a_closed_store_is_not(ctx: &Ctx) {
    let store = ctx.open().await;
    let d = digest();
    assert_eq!(store.enrolment_token(&d).await, Err(StoreError::NotFound));
    assert_eq!(
        store.consume_enrolment_token(&d, T0).await,
        Err(ConsumeError::NotFound)
    );
    store.close().await;
    store.close().await; // idempotent
    // A storage failure is never reported as "not found".
    let read = store.enrolment_token(&d).await;
    assert!(matches!(read, Err(StoreError::Closed)), "{read:?}");
    let consume = store.consume_enrolment_token(&d, T0).await;
    assert_eq!(consume, Err(ConsumeError::Store(StoreError::Closed)));
    assert!(store.ping().await.is_err());
}

async fn duplicate_digest_is_a_conflict(ctx: &Ctx) {
    let store = ctx.open().await;
    let a = new_token(TokenPurpose::Invitation, T0);
    store.system_issue_enrolment_token(a.clone()).await.unwrap();
    let mut dup = new_token(TokenPurpose::Invitation, T0 + Duration::from_secs(1));
    dup.digest = a.digest;
    let e = store.system_issue_enrolment_token(dup).await.unwrap_err();
    assert!(matches!(e, StoreError::Conflict(_)), "{e:?}");
    // The failed issue rolled back its revocation too: `a` is still open.
    assert!(open_state(&store.enrolment_token(&a.digest).await.unwrap()));
    store.close().await;
}

async fn tampered_migration_checksum_refuses_to_open(ctx: &Ctx) {
    ctx.open().await.close().await;
    ctx.db
        .execute_raw("UPDATE galien_migrations SET checksum = 'tampered' WHERE version = 1")
        .await
        .unwrap();
    let e = Store::open(&ctx.url, &StoreOptions::default(), node())
        .await
        .unwrap_err();
    assert!(
        matches!(&e, StoreError::Migration(m) if m.contains("checksum")),
        "{e:?}"
    );
}

async fn database_migrated_by_a_newer_galien_refuses_to_open(ctx: &Ctx) {
    ctx.open().await.close().await;
    ctx.db
        .execute_raw(
            "INSERT INTO galien_migrations (version, name, checksum) VALUES (9999, 'future', 'x')",
        )
        .await
        .unwrap();
    let e = Store::open(&ctx.url, &StoreOptions::default(), node())
        .await
        .unwrap_err();
    assert!(
        matches!(&e, StoreError::Migration(m) if m.contains("newer Galien")),
        "{e:?}"
    );
}

/// Waits (without sleeping) until `n` writes have been submitted: each is either answered-and-committed or
/// still pending.
async fn wait_submitted(store: &Store, n: u64) {
    tokio::time::timeout(WAIT, async {
        loop {
            let s = store.stats();
            if s.writes_committed + s.write_queue_depth as u64 >= n {
                return;
            }
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("writes submitted");
}

async fn close_flushes_queued_writes_and_refuses_later_ones(ctx: &Ctx) {
    let store = ctx.open().await;
    let tokens: Vec<_> = (0..100)
        .map(|i| new_token(TokenPurpose::Invitation, T0 + Duration::from_secs(i)))
        .collect();
    let tasks: Vec<_> = tokens
        .iter()
        .cloned()
        .map(|t| {
            let store = store.clone();
            tokio::spawn(async move { store.system_issue_enrolment_token(t).await })
        })
        .collect();
    wait_submitted(&store, 100).await;
    store.close().await;
    for task in tasks {
        assert_eq!(
            task.await.unwrap(),
            Ok(()),
            "every queued write answered Ok"
        );
    }
    let late = store
        .system_issue_enrolment_token(new_token(TokenPurpose::Invitation, T0))
        .await;
    assert_eq!(late, Err(StoreError::Closed));

    let store = ctx.open().await;
    for t in &tokens {
        assert_eq!(
            store.enrolment_token(&t.digest).await.unwrap().id,
            t.id,
            "durable after reopen"
        );
    }
    store.close().await;
}

async fn two_hundred_concurrent_writes_are_all_durable(ctx: &Ctx) {
    let store = ctx.open().await;
    let tokens: Vec<_> = (0..200)
        .map(|_| new_token(TokenPurpose::Invitation, T0))
        .collect();
    let tasks: Vec<_> = tokens
        .iter()
        .cloned()
        .map(|t| {
            let store = store.clone();
            tokio::spawn(async move { store.system_issue_enrolment_token(t).await })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.unwrap(), Ok(()));
    }
    let stats = store.stats();
    assert_eq!(stats.writes_committed, 200);
    assert_eq!(stats.write_queue_depth, 0);
    if ctx.backend == Backend::Sqlite {
        assert!(
            stats.write_batches < stats.writes_committed,
            "group commit shared transactions: {stats:?}"
        );
    }
    store.close().await;

    let store = ctx.open().await;
    let mut still_open = 0;
    for t in &tokens {
        if open_state(&store.enrolment_token(&t.digest).await.unwrap()) {
            still_open += 1;
        }
    }
    assert_eq!(
        still_open, 1,
        "each issue revoked the earlier ones, even concurrently"
    );
    store.close().await;
}

async fn a_failing_write_does_not_roll_back_its_neighbours(ctx: &Ctx) {
    let store = ctx.open().await;
    let taken = new_token(TokenPurpose::Invitation, T0);
    store
        .system_issue_enrolment_token(taken.clone())
        .await
        .unwrap();
    // 60 concurrent issues (another purpose, so they do not revoke `taken`); every third reuses a digest.
    let tokens: Vec<_> = (0..60)
        .map(|i| {
            let mut t = new_token(
                TokenPurpose::FirstAdministrator,
                T0 + Duration::from_secs(i),
            );
            if i % 3 == 0 {
                t.digest = taken.digest;
            }
            (i % 3 == 0, t)
        })
        .collect();
    let tasks: Vec<_> = tokens
        .iter()
        .cloned()
        .map(|(dup, t)| {
            let store = store.clone();
            tokio::spawn(async move { (dup, t.id, store.system_issue_enrolment_token(t).await) })
        })
        .collect();
    let mut ok_ids = HashSet::new();
    for task in tasks {
        let (dup, id, result) = task.await.unwrap();
        if dup {
            assert!(matches!(result, Err(StoreError::Conflict(_))), "{result:?}");
        } else {
            assert_eq!(result, Ok(()));
            ok_ids.insert(id);
        }
    }
    store.close().await;
    let store = ctx.open().await;
    for (dup, t) in &tokens {
        if !dup {
            assert_eq!(store.enrolment_token(&t.digest).await.unwrap().id, t.id);
        }
    }
    assert_eq!(ok_ids.len(), 40);
    assert_eq!(
        store.enrolment_token(&taken.digest).await.unwrap().id,
        taken.id
    );
    store.close().await;
}

async fn recv(rx: &mut tokio::sync::broadcast::Receiver<Event>) -> Event {
    tokio::time::timeout(WAIT, rx.recv())
        .await
        .expect("event arrives in time")
        .expect("bus open")
}

async fn subscriber_receives_a_published_event(ctx: &Ctx) {
    let me = node();
    let store = ctx.open_as(me).await;
    let mut rx = store.bus().subscribe();
    let room = Uuid::new_v4();
    store
        .bus()
        .publish("room.joined", json!({ "room": room }))
        .await
        .unwrap();
    let event = recv(&mut rx).await;
    assert_eq!(
        event,
        Event {
            topic: "room.joined".into(),
            payload: json!({ "room": room }),
            origin: me
        }
    );
    store.close().await;
}

async fn oversized_event_is_refused(ctx: &Ctx) {
    let store = ctx.open().await;
    let big = "x".repeat(7001);
    let e = store
        .bus()
        .publish("too.big", json!({ "blob": big }))
        .await
        .unwrap_err();
    assert!(matches!(e, StoreError::Other(_)), "{e:?}");
    store.close().await;
}

async fn ping_answers_and_stats_count_writes(ctx: &Ctx) {
    let store = ctx.open().await;
    store.ping().await.unwrap();
    store
        .system_issue_enrolment_token(new_token(TokenPurpose::Invitation, T0))
        .await
        .unwrap();
    let stats = store.stats();
    assert_eq!(stats.writes_committed, 1);
    assert_eq!(stats.write_batches, 1);
    assert!(stats.pool_size >= stats.pool_idle);
    store.close().await;
}

// ---- PostgreSQL only: several nodes on one database ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_event_published_on_one_node_reaches_the_other() {
    run(Backend::Postgres, |ctx| {
        Box::pin(async move {
            let (a_node, b_node) = (node(), node());
            let a = ctx.open_as(a_node).await;
            let b = ctx.open_as(b_node).await;
            let mut on_a = a.bus().subscribe();
            let mut on_b = b.bus().subscribe();
            let id = Uuid::new_v4();
            a.bus()
                .publish("queue.updated", json!({ "queue": id }))
                .await
                .unwrap();
            let got = recv(&mut on_b).await;
            assert_eq!(got.topic, "queue.updated");
            assert_eq!(got.payload, json!({ "queue": id }));
            assert_eq!(got.origin, a_node, "origin is the publisher's node");
            // The publisher hears its own event through the same path.
            assert_eq!(recv(&mut on_a).await.origin, a_node);
            // And the other way round.
            b.bus()
                .publish("queue.updated", json!({ "queue": id }))
                .await
                .unwrap();
            assert_eq!(recv(&mut on_a).await.origin, b_node);
            a.close().await;
            b.close().await;
        })
    })
    .await;
}

#[tokio::test]
async fn postgres_two_nodes_migrating_together_do_not_race() {
    run(Backend::Postgres, |ctx| {
        Box::pin(async move {
            let opts = StoreOptions::default();
            let (a, b) = tokio::join!(
                Store::open(&ctx.url, &opts, node()),
                Store::open(&ctx.url, &opts, node())
            );
            let (a, b) = (a.unwrap(), b.unwrap());
            assert_eq!(
                a.instance_id().await.unwrap(),
                b.instance_id().await.unwrap()
            );
            a.close().await;
            b.close().await;
        })
    })
    .await;
}

#[test]
fn both_backends_are_always_under_test() {
    assert_eq!(
        backends_under_test(),
        vec![Backend::Sqlite, Backend::Postgres]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_event_listener_reconnects_after_its_connection_drops() {
    run(Backend::Postgres, |ctx| {
        Box::pin(async move {
            let store = ctx.open().await;
            let mut rx = store.bus().subscribe();
            store.bus().publish("before", json!({})).await.unwrap();
            assert_eq!(recv(&mut rx).await.topic, "before");
            // Kill the listener's backend, as a server restart or network cut would.
            ctx.db
                .execute_raw(
                    "DO $$ BEGIN IF (SELECT count(*) FROM (SELECT pg_terminate_backend(pid) \
                     FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'LISTEN%') k) <> 1 \
                     THEN RAISE EXCEPTION 'expected exactly one listener'; END IF; END $$",
                )
                .await
                .unwrap();
            // Events published while it was down may be lost; keep publishing until one arrives.
            let arrived = tokio::time::timeout(WAIT, async {
                loop {
                    store.bus().publish("after", json!({})).await.unwrap();
                    if let Ok(Ok(event)) =
                        tokio::time::timeout(Duration::from_millis(200), rx.recv()).await
                        && event.topic == "after"
                    {
                        return event;
                    }
                }
            })
            .await
            .expect("the listener reconnects");
            assert_eq!(arrived.topic, "after");
            store.close().await;
        })
    })
    .await;
}
