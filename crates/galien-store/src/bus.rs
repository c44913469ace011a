//! The event bus: signaling, alerts and queue updates between nodes. In-process for SQLite; PostgreSQL
//! LISTEN/NOTIFY for PostgreSQL, so that several stateless nodes behind a load balancer see each other's
//! events. Payloads carry ids only, never health data.

use std::sync::Arc;
use std::time::Duration;

use galien_core::ids::NodeId;
use serde::{Deserialize, Serialize};
use sqlx::postgres::PgListener;
use sqlx::{PgConnection, PgPool};
use tokio::sync::{broadcast, watch};
use tokio::task::JoinHandle;

use crate::StoreError;
use crate::pool::Pool;

/// Largest serialized event accepted (PostgreSQL's NOTIFY limit is 8000 bytes).
pub const MAX_EVENT_BYTES: usize = 7000;
/// The PostgreSQL NOTIFY channel.
pub const PG_CHANNEL: &str = "galien_events";
const LOCAL_CAPACITY: usize = 1024;

/// One event, as every node's subscribers receive it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// What happened, e.g. `queue.updated`.
    pub topic: String,
    /// Ids only: never health data.
    pub payload: serde_json::Value,
    /// The node that published it.
    pub origin: NodeId,
}

/// Publish and subscribe; cheap to clone.
#[derive(Clone)]
pub struct EventBus {
    inner: Arc<BusInner>,
}

struct BusInner {
    local: broadcast::Sender<Event>,
    node: NodeId,
    transport: Transport,
}

enum Transport {
    Local,
    Postgres(Pool<PgConnection>),
}

impl std::fmt::Debug for EventBus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let transport = match self.inner.transport {
            Transport::Local => "local",
            Transport::Postgres(_) => "postgres",
        };
        f.debug_struct("EventBus")
            .field("node", &self.inner.node)
            .field("transport", &transport)
            .finish()
    }
}

impl EventBus {
    /// An in-process bus (SQLite: one node).
    pub(crate) fn local(node: NodeId) -> Self {
        Self::new(node, Transport::Local)
    }

    /// A bus that publishes through `pg_notify` on `pool`; a listener task feeds [`EventBus::sender`].
    pub(crate) fn postgres(node: NodeId, pool: Pool<PgConnection>) -> Self {
        Self::new(node, Transport::Postgres(pool))
    }

    fn new(node: NodeId, transport: Transport) -> Self {
        let (local, _) = broadcast::channel(LOCAL_CAPACITY);
        Self {
            inner: Arc::new(BusInner {
                local,
                node,
                transport,
            }),
        }
    }

    /// The local fan-out, for the PostgreSQL listener task.
    pub(crate) fn sender(&self) -> broadcast::Sender<Event> {
        self.inner.local.clone()
    }

    /// This node: the [`Event::origin`] of what it publishes.
    pub fn node(&self) -> NodeId {
        self.inner.node
    }

    /// Publishes `payload` under `topic` to every subscriber on every node (this one included).
    /// Refuses payloads over [`MAX_EVENT_BYTES`] serialized with [`StoreError::Other`].
    pub async fn publish(&self, topic: &str, payload: serde_json::Value) -> Result<(), StoreError> {
        let event = Event {
            topic: topic.to_owned(),
            payload,
            origin: self.inner.node,
        };
        let json = serde_json::to_string(&event)
            .map_err(|_| StoreError::Other("cannot serialize event".into()))?;
        if json.len() > MAX_EVENT_BYTES {
            return Err(StoreError::Other(format!(
                "event too large ({} bytes, at most {MAX_EVENT_BYTES}): publish ids, not data",
                json.len()
            )));
        }
        match &self.inner.transport {
            Transport::Local => {
                // No subscriber is not an error.
                let _ = self.inner.local.send(event);
                Ok(())
            }
            Transport::Postgres(pool) => {
                if pool.is_closed() {
                    return Err(StoreError::Closed);
                }
                pool.run(|conn| {
                    Box::pin(async move {
                        sqlx::query("SELECT pg_notify($1, $2)")
                            .bind(PG_CHANNEL)
                            .bind(json)
                            .execute(&mut *conn)
                            .await?;
                        Ok(())
                    })
                })
                .await
            }
        }
    }

    /// Receives every event published from now on (lagging receivers lose the oldest events).
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.inner.local.subscribe()
    }
}

/// Starts listening on [`PG_CHANNEL`] using `pool` (a dedicated pool of one connection) and spawns the task
/// that re-broadcasts notifications locally until `shutdown` turns true. Returns once LISTEN is in place,
/// so events published after `Store::open` returns are never missed.
pub(crate) async fn start_pg_listener(
    pool: PgPool,
    local: broadcast::Sender<Event>,
    mut shutdown: watch::Receiver<bool>,
) -> Result<JoinHandle<()>, StoreError> {
    let mut listener = PgListener::connect_with(&pool).await?;
    listener.listen(PG_CHANNEL).await?;
    Ok(tokio::spawn(async move {
        let mut backoff = Duration::from_millis(100);
        loop {
            let received = tokio::select! {
                biased;
                _ = shutdown.wait_for(|stop| *stop) => break,
                r = listener.try_recv() => r,
            };
            match received {
                Ok(Some(notification)) => {
                    backoff = Duration::from_millis(100);
                    match serde_json::from_str::<Event>(notification.payload()) {
                        Ok(event) => {
                            let _ = local.send(event);
                        }
                        Err(_) => tracing::warn!(
                            channel = PG_CHANNEL,
                            "ignoring a malformed event notification"
                        ),
                    }
                }
                // The connection dropped; the next try_recv reconnects and LISTENs again.
                Ok(None) => tracing::warn!(
                    "event listener lost its connection; reconnecting (events may be lost)"
                ),
                Err(e) => {
                    let e = StoreError::from(e);
                    tracing::warn!(error = %e, retry_in_ms = backoff.as_millis(), "event listener cannot reconnect");
                    tokio::select! {
                        biased;
                        _ = shutdown.wait_for(|stop| *stop) => break,
                        () = tokio::time::sleep(backoff) => {}
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
            }
        }
        drop(listener);
        pool.close().await;
    }))
}
