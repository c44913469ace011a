//! The harness shared by store suites that run every test on SQLite and on PostgreSQL: a fresh
//! database per test (dropped afterwards, even when the test panics), and `both_backends!` to generate
//! `sqlite::<name>` and `postgres::<name>`.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;

use futures::FutureExt;
use galien_core::ids::NodeId;
use galien_store::testing::{TestDatabase, backends_under_test};
use galien_store::{Backend, DatabaseUrl, Store, StoreOptions};
use uuid::Uuid;

pub struct Ctx {
    pub url: DatabaseUrl,
    pub db: TestDatabase,
    _dir: tempfile::TempDir,
}

impl Ctx {
    pub async fn open(&self) -> Store {
        Store::open(
            &self.url,
            &StoreOptions::default(),
            NodeId::from_uuid(Uuid::new_v4()),
        )
        .await
        .expect("store opens")
    }
}

pub type TestFn = fn(&Ctx) -> Pin<Box<dyn Future<Output = ()> + Send + '_>>;

pub async fn run(backend: Backend, test: TestFn) {
    assert!(backends_under_test().contains(&backend));
    let dir = tempfile::tempdir().unwrap();
    let db = TestDatabase::new(backend, dir.path()).await;
    let ctx = Ctx {
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

macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::common::run(galien_store::Backend::Sqlite, |ctx| Box::pin(super::$name(ctx))).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::common::run(galien_store::Backend::Postgres, |ctx| Box::pin(super::$name(ctx))).await;
                }
            )*
        }
    };
}
