//! Baseline servers, run as a separate process (`galien-bench --serve-baseline <kind>`) so that
//! they are measured the way Galien is: own process, own memory, same loopback, same client.
//!
//! - `healthz`: `GET /healthz` answers `ok`.
//! - `bytes`: `GET /summary` answers the bytes of `--body <file>` as HTML, with no work.
//! - `relay`: `GET /ws` upgrades with no authentication; the server greets each socket with
//!   `{"type":"welcome","you":"<id>"}` and relays every text message carrying `"to":"<id>"` to that
//!   socket, with `"from"` set — the same JSON parse and re-serialisation a relay must do, and
//!   nothing else (no session, no gate, no bus).

use axum::Router;
use axum::extract::State;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::response::{Html, IntoResponse};
use axum::routing::get;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;
use uuid::Uuid;

/// What the baseline prints once it listens (followed by its base URL).
pub(crate) const LISTENING: &str = "galien-bench: baseline listening on ";

type Peers = Arc<Mutex<HashMap<Uuid, mpsc::Sender<String>>>>;

/// Serves `kind` on `127.0.0.1:0` until killed.
#[allow(clippy::print_stdout)]
pub(crate) async fn serve(kind: &str, body: Option<&Path>) -> anyhow::Result<()> {
    let router = match kind {
        "healthz" => Router::new().route("/healthz", get(|| async { "ok" })),
        "bytes" => {
            let file = body.ok_or_else(|| anyhow::anyhow!("--body is required"))?;
            let bytes = std::fs::read_to_string(file)?;
            Router::new().route(
                "/summary",
                get(move || {
                    let bytes = bytes.clone();
                    async move { Html(bytes) }
                }),
            )
        }
        "relay" => {
            let peers: Peers = Arc::default();
            Router::new().route("/ws", get(upgrade)).with_state(peers)
        }
        other => anyhow::bail!("unknown baseline {other}"),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    println!("{LISTENING}http://{}", listener.local_addr()?);
    axum::serve(listener, router).await?;
    Ok(())
}

async fn upgrade(State(peers): State<Peers>, ws: WebSocketUpgrade) -> impl IntoResponse {
    // The same socket buffers as Galien's call sockets: the comparison is of the work, not of
    // tungstenite's defaults.
    ws.read_buffer_size(4 * 1024)
        .write_buffer_size(0)
        .on_upgrade(move |socket| relay(socket, peers))
}

async fn relay(mut ws: WebSocket, peers: Peers) {
    let me = Uuid::new_v4();
    let (tx, mut rx) = mpsc::channel::<String>(256);
    if let Ok(mut p) = peers.lock() {
        p.insert(me, tx);
    }
    let welcome = json!({ "type": "welcome", "you": me }).to_string();
    if ws.send(Message::Text(welcome.into())).await.is_ok() {
        loop {
            tokio::select! {
                out = rx.recv() => match out {
                    Some(t) => if ws.send(Message::Text(t.into())).await.is_err() { break },
                    None => break,
                },
                received = ws.recv() => match received {
                    Some(Ok(Message::Text(t))) => forward(&peers, me, &t),
                    Some(Ok(_)) => {}
                    Some(Err(_)) | None => break,
                },
            }
        }
    }
    if let Ok(mut p) = peers.lock() {
        p.remove(&me);
    }
}

fn forward(peers: &Peers, from: Uuid, text: &str) {
    let Ok(mut v) = serde_json::from_str::<Value>(text) else {
        return;
    };
    let Some(to) = v
        .get("to")
        .and_then(Value::as_str)
        .and_then(|t| t.parse::<Uuid>().ok())
    else {
        return;
    };
    if let Some(map) = v.as_object_mut() {
        map.remove("to");
        map.insert("from".into(), json!(from));
    }
    let target = peers.lock().ok().and_then(|p| p.get(&to).cloned());
    if let Some(target) = target {
        let _ = target.try_send(v.to_string());
    }
}
