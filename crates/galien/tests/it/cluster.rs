//! Scale-out (OPS-1): two Galien nodes on one PostgreSQL database see each other's events.

use galien_store::Backend;
use galien_store::testing::TestDatabase;
use galien_testkit::{Options, TestServer};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ops_1_two_nodes_on_one_postgres_database_deliver_events_to_each_other() {
    let db = TestDatabase::postgres().await;
    let options = || Options {
        database: Some(db.url().clone()),
        ..Options::default()
    };
    let a = TestServer::start_with(Backend::Postgres, options()).await;
    let b = TestServer::start_with(Backend::Postgres, options()).await;
    assert_ne!(a.node, b.node);
    // Both nodes serve the same installation.
    assert_eq!(
        a.store.instance_id().await.unwrap(),
        b.store.instance_id().await.unwrap()
    );
    assert_eq!(a.get("/readyz").await.status(), 200);
    assert_eq!(b.get("/readyz").await.status(), 200);

    let mut on_b = b.store.bus().subscribe();
    let mut on_a = a.store.bus().subscribe();
    a.store
        .bus()
        .publish("waiting-room.updated", serde_json::json!({ "room": "r-1" }))
        .await
        .unwrap();
    let got = tokio::time::timeout(Duration::from_secs(5), on_b.recv())
        .await
        .expect("node B heard nothing")
        .unwrap();
    assert_eq!(got.topic, "waiting-room.updated");
    assert_eq!(got.payload["room"], "r-1");
    assert_eq!(got.origin, a.node);

    b.store
        .bus()
        .publish("alert.raised", serde_json::json!({ "alert": 7 }))
        .await
        .unwrap();
    loop {
        let got = tokio::time::timeout(Duration::from_secs(5), on_a.recv())
            .await
            .expect("node A heard nothing")
            .unwrap();
        if got.topic == "alert.raised" {
            assert_eq!(got.origin, b.node);
            break;
        }
    }
    a.stop().await;
    b.stop().await;
    db.drop_database().await;
}
