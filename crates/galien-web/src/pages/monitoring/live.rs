//! The board's live channel (ACT-3): `GET /monitoring/ws`, a WebSocket that says `alerts` each time
//! the alerts change on any node (the event bus carries [`ALERTS_TOPIC`] across nodes through
//! PostgreSQL LISTEN/NOTIFY). It never carries health data: the page then fetches
//! `/monitoring/rows`, which goes through the gate like the board itself.
//!
//! The handshake passes the same checks as the pages: a two-factor session ([`Strong`]) of a
//! health professional, else 401/403 and no upgrade; a page of another origin is refused (403)
//! even if a browser sent the cookie. While open, its session is watched with the node's other open
//! sockets ([`galien_app::identity::watch`]: looked at every 20 s without being touched — an open
//! board does not keep a session alive) and the socket closes with code [`SESSION_ENDED`] once the
//! session has ended, expired or the account is disabled. It pings the browser every
//! [`CHECK_EVERY`].

use crate::WebState;
use crate::auth::{NoSession, SESSION_COOKIE, Strong, cookie};
use crate::errors::ApiError;
use axum::extract::State;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use galien_app::identity::session;
use galien_app::telemonitoring::ingest::ALERTS_TOPIC;
use galien_core::{ErrorCode, Lang};
use galien_crypto::token::TokenDigest;
use galien_store::Event;
use std::time::Duration;
use tokio::sync::broadcast::Receiver;
use tokio::sync::broadcast::error::RecvError;

/// How often an open board pings the browser.
pub const CHECK_EVERY: Duration = Duration::from_secs(25);

/// The close code telling the page that the session is over (reload to sign in again).
pub const SESSION_ENDED: u16 = 4001;

/// The one message ever sent: "alerts changed, fetch the rows".
pub const CHANGED: &str = "alerts";

fn refuse(code: ErrorCode) -> Response {
    ApiError {
        code,
        lang: Lang::Fr,
    }
    .into_response()
}

/// Whether the handshake comes from one of our pages: no `Origin` (not a browser), or the
/// configured public address, or the address the request was sent to.
pub(crate) fn same_origin(headers: &HeaderMap, public_url: &str) -> bool {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return true;
    };
    let Ok(origin) = origin.to_str() else {
        return false;
    };
    if origin.eq_ignore_ascii_case(public_url.trim_end_matches('/')) {
        return true;
    }
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    let bare = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"));
    matches!((host, bare), (Some(h), Some(o)) if o.eq_ignore_ascii_case(h))
}

/// `GET /monitoring/ws`.
pub async fn socket(
    State(state): State<WebState>,
    session: Result<Strong, NoSession>,
    headers: HeaderMap,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    let current = match session {
        Ok(Strong(current)) => current,
        Err(NoSession::Pending { .. }) => return refuse(ErrorCode::SecondFactorRequired),
        Err(NoSession::Failed { code, .. }) => return refuse(code),
        Err(NoSession::SignIn { code, .. }) => return refuse(code),
    };
    if !current.user.role.is_health_professional()
        || !same_origin(&headers, &state.app.settings.public_url)
    {
        return refuse(ErrorCode::AccessDenied);
    }
    let Some(digest) = cookie(&headers, SESSION_COOKIE).and_then(session::digest_of) else {
        return refuse(ErrorCode::AuthRequired);
    };
    let upgrade = match upgrade {
        Ok(u) => u,
        Err(rejection) => return rejection.into_response(),
    };
    // Subscribed before answering, so no change between the handshake and the loop is missed.
    let events = state.app.store.bus().subscribe();
    upgrade
        .max_message_size(1024)
        .read_buffer_size(crate::pages::call::ws::SOCKET_BUFFER)
        .write_buffer_size(0)
        .on_upgrade(move |ws| serve(ws, events, state, digest))
}

/// Why the socket stops.
enum End {
    /// The browser left, or the bus closed.
    Gone,
    /// The session is over.
    Session,
}

async fn serve(
    mut ws: WebSocket,
    mut events: Receiver<Event>,
    state: WebState,
    digest: TokenDigest,
) {
    let mut watched = state.sessions.watch(digest);
    let mut check = tokio::time::interval(CHECK_EVERY);
    check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    check.tick().await;
    let end = loop {
        tokio::select! {
            event = events.recv() => {
                let changed = match event {
                    Ok(e) => e.topic == ALERTS_TOPIC,
                    // Missed events: say "changed" once, the page reads the rows anyway.
                    Err(RecvError::Lagged(_)) => true,
                    Err(RecvError::Closed) => break End::Gone,
                };
                if !changed {
                    continue;
                }
                // A burst of changes is one message.
                while let Ok(e) = events.try_recv() {
                    let _ = e;
                }
                if ws.send(Message::Text(CHANGED.into())).await.is_err() {
                    break End::Gone;
                }
            }
            received = ws.recv() => match received {
                // The page says nothing; anything but a close is ignored.
                Some(Ok(Message::Close(_)) | Err(_)) | None => break End::Gone,
                Some(Ok(_)) => {}
            },
            () = watched.ended() => break End::Session,
            _ = check.tick() => {
                if ws.send(Message::Ping(Default::default())).await.is_err() {
                    break End::Gone;
                }
            }
        }
    };
    let frame = match end {
        End::Gone => None,
        End::Session => Some(CloseFrame {
            code: SESSION_ENDED,
            reason: "session".into(),
        }),
    };
    if let Some(frame) = frame {
        let _ = ws.send(Message::Close(Some(frame))).await;
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn only_our_pages_open_the_socket() {
        let mut h = HeaderMap::new();
        assert!(same_origin(&h, "https://galien.example.fr"), "no Origin");
        h.insert(header::HOST, HeaderValue::from_static("127.0.0.1:8443"));
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("http://127.0.0.1:8443"),
        );
        assert!(same_origin(&h, "https://galien.example.fr"));
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("https://galien.example.fr"),
        );
        assert!(same_origin(&h, "https://galien.example.fr/"));
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("https://evil.example"),
        );
        assert!(!same_origin(&h, "https://galien.example.fr"));
        h.insert(header::ORIGIN, HeaderValue::from_static("null"));
        assert!(!same_origin(&h, "https://galien.example.fr"));
    }
}
