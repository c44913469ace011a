//! The call's signaling socket (ACT-1): `GET /consultations/{id}/ws`.
//!
//! The handshake passes the same checks as the pages: a two-factor session or a guest's session,
//! a page of our origin, then [`call::join`] — the gate (`consultation.join`, traced), a call not
//! closed, the patient's consent. Any refusal answers its stable code with no upgrade, and is
//! traced (a socket without any session too).
//!
//! Once open, every text frame goes through [`ClientSignal::parse`]: a malformed, oversized or
//! unknown frame gets an `error` message with its code (the first of each connection is traced),
//! and the socket stays open — the call of the others is unaffected. A person's session is watched
//! with the node's other open sockets ([`galien_app::identity::watch`]: one look every
//! [`CHECK_EVERY`], without touching it); a guest's place is looked at by the socket itself at the
//! same pace. Either way the socket closes with [`SESSION_ENDED`] once it is over, and pings the
//! page every [`CHECK_EVERY`].

use crate::WebState;
use crate::auth::{Ctx, NoSession, SESSION_COOKIE, Strong, cookie};
use crate::errors::ApiError;
use crate::pages::call::{GUEST_COOKIE, Who, who};
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use galien_app::RequestContext;
use galien_app::identity::session;
use galien_app::identity::watch::Watched;
use galien_app::teleconsultation::Joiner;
use galien_app::teleconsultation::call::{self, Ticket};
use galien_app::teleconsultation::hub::Outgoing;
use galien_core::ids::AppointmentId;
use galien_core::signal::{ClientSignal, MAX_FRAME_BYTES};
use galien_core::{ErrorCode, Lang};
use serde_json::json;
use std::time::Duration;

pub(crate) use crate::pages::monitoring::live::same_origin;

/// How often the sessions of open sockets are looked at (and pages pinged).
pub const CHECK_EVERY: Duration = Duration::from_secs(20);
/// The close code telling the page that its session is over.
pub const SESSION_ENDED: u16 = 4001;

fn refuse(code: ErrorCode, lang: Lang) -> Response {
    ApiError { code, lang }.into_response()
}

/// `GET /consultations/{id}/ws`.
pub async fn socket(
    State(state): State<WebState>,
    session: Result<Strong, NoSession>,
    Ctx(ctx): Ctx,
    headers: HeaderMap,
    Path(id): Path<String>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    let lang = ctx.lang;
    let Ok(id) = id.parse::<AppointmentId>() else {
        return refuse(ErrorCode::NotFound, lang);
    };
    let who = match who(&state, session, &headers).await {
        Ok(w) => w,
        Err(code) => {
            let _ = call::trace_refusal(&state.app, None, &ctx, id, None, code.as_str()).await;
            return refuse(code, lang);
        }
    };
    let joiner = who.joiner();
    if !same_origin(&headers, &state.app.settings.public_url) {
        let _ =
            call::trace_refusal(&state.app, Some(&joiner), &ctx, id, None, "CALL-WS-ORIGIN").await;
        return refuse(ErrorCode::AccessDenied, lang);
    }
    let upgrade = match upgrade {
        Ok(u) => u,
        Err(rejection) => return rejection.into_response(),
    };
    let ticket = match call::join(&state.app, &joiner, &ctx, id).await {
        Ok(t) => t,
        Err(e) => return refuse(e.code(), lang),
    };
    let watch = match &who {
        Who::Person(_) => cookie(&headers, SESSION_COOKIE)
            .and_then(session::digest_of)
            .map(Watch::Session),
        Who::Guest(_) => cookie(&headers, GUEST_COOKIE).map(|g| Watch::Guest(g.to_owned())),
    };
    let Some(watch) = watch else {
        return refuse(ErrorCode::AuthRequired, lang);
    };
    upgrade
        .max_message_size(MAX_FRAME_BYTES + 1024)
        // Signaling frames are small and rare: tungstenite's default 128 KiB read and write
        // buffers per socket would be most of a node's memory at 10,000 sockets (issue 8).
        .read_buffer_size(SOCKET_BUFFER)
        .write_buffer_size(0)
        .on_upgrade(move |ws| serve(ws, state, ticket, joiner, ctx, watch))
}

/// Read buffer of a call socket (a frame larger than this is read in several chunks).
pub(crate) const SOCKET_BUFFER: usize = 4 * 1024;

/// What keeps the socket allowed.
enum Watch {
    Session(galien_crypto::token::TokenDigest),
    Guest(String),
}

/// Returns once the watched session is over; never for a guest (whose place the socket looks at).
async fn session_over(watched: &mut Option<Watched>) {
    match watched {
        Some(w) => w.ended().await,
        None => std::future::pending().await,
    }
}

async fn serve(
    mut ws: WebSocket,
    state: WebState,
    ticket: Ticket,
    joiner: Joiner,
    ctx: RequestContext,
    watch: Watch,
) {
    let now = state.app.clock.now();
    // The TURN credentials' label is opaque: coturn's logs never name the person.
    let label = uuid::Uuid::new_v4().simple().to_string();
    let ice = serde_json::to_value(state.app.settings.ice.servers_for(&label, now))
        .unwrap_or(serde_json::Value::Null);
    let hub = state.hub.clone();
    let (peer, mut outgoing) = hub.attach(&ticket, joiner.clone(), ctx.clone(), ice).await;
    let mut watched = match &watch {
        Watch::Session(digest) => Some(state.sessions.watch(*digest)),
        Watch::Guest(_) => None,
    };
    let mut check = tokio::time::interval(CHECK_EVERY);
    check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    check.tick().await;
    let mut traced_bad_frame = false;
    let lang = ctx.lang;
    let close: Option<(u16, &'static str)> = loop {
        tokio::select! {
            out = outgoing.recv() => match out {
                Some(Outgoing::Text(t)) => {
                    if ws.send(Message::Text(t.into())).await.is_err() {
                        break None;
                    }
                }
                Some(Outgoing::Close(code, reason)) => break Some((code, reason)),
                None => break None,
            },
            received = ws.recv() => {
                let frame = match received {
                    Some(Ok(Message::Text(t))) => Ok(t),
                    Some(Ok(Message::Binary(_))) => Err(()),
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                    Some(Ok(Message::Close(_)) | Err(_)) | None => break None,
                };
                let result = match frame {
                    Ok(t) => match ClientSignal::parse(&t) {
                        Ok(signal) => hub
                            .handle(peer, signal)
                            .await
                            .map_err(|e| (e.code().as_str(), e.code().message(lang).to_owned())),
                        Err(e) => Err((e.code(), e.to_string())),
                    },
                    Err(()) => Err(("SIG-MALFORMED", "binary frames are not accepted".to_owned())),
                };
                if let Err((code, message)) = result {
                    if code.starts_with("SIG-") && !traced_bad_frame {
                        traced_bad_frame = true;
                        let _ = call::trace_refusal(
                            &state.app,
                            Some(&joiner),
                            &ctx,
                            ticket.appointment.id,
                            Some(ticket.appointment.patient),
                            code,
                        )
                        .await;
                    }
                    let msg = json!({ "type": "error", "code": code, "message": message });
                    if ws.send(Message::Text(msg.to_string().into())).await.is_err() {
                        break None;
                    }
                }
            }
            () = session_over(&mut watched) => break Some((SESSION_ENDED, "session")),
            _ = check.tick() => {
                if let Watch::Guest(raw) = &watch {
                    match call::guest_of_session(&state.app, raw).await {
                        Ok(Some(_)) => {}
                        Ok(None) => break Some((SESSION_ENDED, "session")),
                        Err(_) => break Some((axum::extract::ws::close_code::AGAIN, "retry")),
                    }
                }
                if ws.send(Message::Ping(Default::default())).await.is_err() {
                    break None;
                }
            }
        }
    };
    hub.detach(peer).await;
    if let Some((code, reason)) = close {
        let _ = ws
            .send(Message::Close(Some(CloseFrame {
                code,
                reason: reason.into(),
            })))
            .await;
    }
}
