//! The signaling hub of one node (ACT-1): the call pages connected to this node, and the relay of
//! their messages through the event bus, so that a médecin on one node and a patient on another
//! meet in the same call (PostgreSQL LISTEN/NOTIFY between nodes; in-process for SQLite).
//!
//! Pages never talk to each other directly through Galien: each message is addressed to a peer
//! (one page connection) and published on the bus; the node holding that peer delivers it. SDP
//! and ICE candidates carry no health data and travel as they are (an SDP too large for a NOTIFY
//! is kept a minute in `call_signals` and sent by reference). Chat messages and documents never
//! travel on the bus: only their ids do, and each page reads them under its own permit, so every
//! reader is traced.
//!
//! A waiting page is not in the mesh: it receives nothing of the call until the médecin admits it.
//! Mesh: when a page enters, every page already in the call offers to it (so offers never cross).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use galien_core::consultation::{ParticipantKind, ParticipantState};
use galien_core::ids::{AppointmentId, DocumentId, MessageId, ParticipantId, PeerId};
use galien_core::signal::{ClientSignal, MediaPath};
use galien_store::Event;
use serde_json::{Value, json};
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::mpsc;
use uuid::Uuid;

use super::call::{self, Ticket};
use super::{
    CLOSED_TOPIC, CONTENT_TOPIC, Joiner, LOBBY_TOPIC, PEER_TOPIC, SIGNAL_TOPIC, documents,
};
use crate::{App, AppError, RequestContext};

/// Messages queued for one page before it counts as too slow and is disconnected.
pub const QUEUE: usize = 256;
/// Signaling payloads larger than this go through `call_signals` instead of the bus.
pub const INLINE_MAX: usize = 6000;
/// Close code: the consultation is over.
pub const CLOSED: u16 = 4002;
/// Close code: the page could not keep up.
pub const TOO_SLOW: u16 = 4003;

/// What the socket task sends to its page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outgoing {
    /// A JSON text frame.
    Text(String),
    /// Close with a code and reason.
    Close(u16, &'static str),
}

struct LocalPeer {
    room: AppointmentId,
    participant: ParticipantId,
    kind: ParticipantKind,
    name: String,
    joiner: Joiner,
    ctx: RequestContext,
    in_mesh: bool,
    tx: mpsc::Sender<Outgoing>,
}

/// This node's call pages; cheap to clone.
#[derive(Clone)]
pub struct Hub {
    inner: Arc<Inner>,
}

struct Inner {
    app: App,
    peers: Mutex<Peers>,
}

/// The pages of this node, by peer id and by room: relaying a message looks at the few pages of
/// its room, never at every page of the node (10,000 sockets, one message each per second).
#[derive(Default)]
struct Peers {
    by_id: HashMap<PeerId, LocalPeer>,
    by_room: HashMap<AppointmentId, Vec<PeerId>>,
}

impl Peers {
    fn len(&self) -> usize {
        self.by_id.len()
    }

    fn get(&self, peer: &PeerId) -> Option<&LocalPeer> {
        self.by_id.get(peer)
    }

    fn get_mut(&mut self, peer: &PeerId) -> Option<&mut LocalPeer> {
        self.by_id.get_mut(peer)
    }

    fn insert(&mut self, peer: PeerId, p: LocalPeer) {
        // Peer ids are fresh per socket; should one come back, it is indexed once.
        self.remove(&peer);
        self.by_room.entry(p.room).or_default().push(peer);
        self.by_id.insert(peer, p);
    }

    fn remove(&mut self, peer: &PeerId) -> Option<LocalPeer> {
        let p = self.by_id.remove(peer)?;
        self.unindex(*peer, p.room);
        Some(p)
    }

    fn unindex(&mut self, peer: PeerId, room: AppointmentId) {
        if let Some(list) = self.by_room.get_mut(&room) {
            list.retain(|id| *id != peer);
            if list.is_empty() {
                self.by_room.remove(&room);
            }
        }
    }

    /// The pages of `room`, with their ids.
    fn in_room(&self, room: AppointmentId) -> impl Iterator<Item = (PeerId, &LocalPeer)> {
        self.by_room
            .get(&room)
            .into_iter()
            .flatten()
            .filter_map(|id| self.by_id.get(id).map(|p| (*id, p)))
    }
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hub")
            .field("peers", &self.peer_count())
            .finish()
    }
}

fn text(v: Value) -> Outgoing {
    Outgoing::Text(v.to_string())
}

impl Hub {
    /// A hub for `app`'s node, with its dispatcher task. The task holds the hub weakly: it ends
    /// within a few seconds once the last handle on the hub (the web state) is dropped.
    pub fn start(app: App) -> Hub {
        let hub = Hub {
            inner: Arc::new(Inner {
                app,
                peers: Mutex::default(),
            }),
        };
        let mut events = hub.inner.app.store.bus().subscribe();
        let weak = Arc::downgrade(&hub.inner);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(std::time::Duration::from_secs(5));
            loop {
                let event = tokio::select! {
                    e = events.recv() => e,
                    _ = tick.tick() => {
                        if weak.strong_count() == 0 {
                            break;
                        }
                        continue;
                    }
                };
                let Some(inner) = weak.upgrade() else {
                    break;
                };
                let hub = Hub { inner };
                match event {
                    Ok(e) => hub.dispatch(e).await,
                    Err(RecvError::Lagged(n)) => {
                        tracing::warn!(missed = n, "signaling hub lagged behind the bus");
                    }
                    Err(RecvError::Closed) => break,
                }
            }
        });
        hub
    }

    /// Pages connected to this node.
    pub fn peer_count(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Peers> {
        self.inner.peers.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Registers a page that passed [`call::join`]: it gets its welcome (its peer id, whether it is
    /// admitted, the ICE servers `ice`), then the call's chat and documents if admitted, the
    /// waiting room if it is the médecin's.
    pub async fn attach(
        &self,
        ticket: &Ticket,
        joiner: Joiner,
        ctx: RequestContext,
        ice: Value,
    ) -> (PeerId, mpsc::Receiver<Outgoing>) {
        let now = self.inner.app.clock.now();
        let peer = PeerId::generate(now, self.inner.app.entropy.as_ref());
        let (tx, rx) = mpsc::channel(QUEUE);
        let _ = tx.try_send(text(json!({
            "type": "welcome",
            "you": peer,
            "participant": ticket.participant,
            "kind": ticket.kind.as_str(),
            "name": ticket.name,
            "admitted": ticket.admitted,
            "ice": ice,
        })));
        let room = ticket.appointment.id;
        self.lock().insert(
            peer,
            LocalPeer {
                room,
                participant: ticket.participant,
                kind: ticket.kind,
                name: ticket.name.clone(),
                joiner,
                ctx,
                in_mesh: false,
                tx,
            },
        );
        if ticket.admitted {
            self.enter_mesh(peer).await;
        }
        // The médecin's pages (on every node) refresh their waiting room.
        self.publish(LOBBY_TOPIC, json!({ "room": room })).await;
        (peer, rx)
    }

    /// Puts a page into the mesh: it gets the call's content, and everyone else is told to offer.
    async fn enter_mesh(&self, peer: PeerId) {
        let info = {
            let mut peers = self.lock();
            let Some(p) = peers.get_mut(&peer) else {
                return;
            };
            if p.in_mesh {
                return;
            }
            p.in_mesh = true;
            (
                p.room,
                p.participant,
                p.kind,
                p.name.clone(),
                p.joiner.clone(),
                p.ctx.clone(),
                p.tx.clone(),
            )
        };
        let (room, participant, kind, name, joiner, ctx, tx) = info;
        let _ = tx.try_send(text(json!({ "type": "admitted" })));
        if let Ok(appointment) = self.inner.app.store.appointment(room).await {
            match call::chat_history(&self.inner.app, &joiner, &ctx, &appointment).await {
                Ok(lines) => {
                    let _ = tx.try_send(text(json!({ "type": "chat-history", "lines": lines })));
                }
                Err(e) => tracing::warn!(error = %e, "cannot read a call's chat"),
            }
            if let Ok(docs) = documents::of_call(&self.inner.app, &joiner, &ctx, &appointment).await
            {
                for d in docs {
                    let _ = tx.try_send(text(document_message(room, &d)));
                }
            }
        }
        self.publish(
            PEER_TOPIC,
            json!({
                "room": room, "peer": peer, "participant": participant,
                "kind": kind.as_str(), "name": name, "joined": true,
            }),
        )
        .await;
    }

    /// A page left (socket closed).
    pub async fn detach(&self, peer: PeerId) {
        let gone = self.lock().remove(&peer);
        if let Some(p) = gone {
            if p.in_mesh {
                self.publish(
                    PEER_TOPIC,
                    json!({ "room": p.room, "peer": peer, "participant": p.participant, "joined": false }),
                )
                .await;
            }
            if !p.in_mesh {
                // Left the waiting room: back to "expected".
                let _ = self
                    .inner
                    .app
                    .store
                    .set_participant_state(
                        p.participant,
                        ParticipantState::Invited,
                        None,
                        self.inner.app.clock.now(),
                    )
                    .await;
            }
            self.publish(LOBBY_TOPIC, json!({ "room": p.room })).await;
        }
    }

    /// Handles one parsed message of `peer`'s page. Errors are for that page only.
    pub async fn handle(&self, peer: PeerId, signal: ClientSignal) -> Result<(), AppError> {
        let (room, participant, kind, name, joiner, ctx, in_mesh, tx) = {
            let peers = self.lock();
            let Some(p) = peers.get(&peer) else {
                return Ok(());
            };
            (
                p.room,
                p.participant,
                p.kind,
                p.name.clone(),
                p.joiner.clone(),
                p.ctx.clone(),
                p.in_mesh,
                p.tx.clone(),
            )
        };
        match signal {
            ClientSignal::Ping => {
                let _ = tx.try_send(text(json!({ "type": "pong" })));
                Ok(())
            }
            ClientSignal::Offer { to, sdp } => {
                self.relay(
                    room,
                    peer,
                    in_mesh,
                    Some(to),
                    json!({
                        "type": "offer", "from": peer, "sdp": sdp,
                        "participant": participant, "name": name, "kind": kind.as_str(),
                    }),
                )
                .await
            }
            ClientSignal::Answer { to, sdp } => {
                self.relay(
                    room,
                    peer,
                    in_mesh,
                    Some(to),
                    json!({ "type": "answer", "from": peer, "sdp": sdp }),
                )
                .await
            }
            ClientSignal::Candidate { to, candidate } => {
                self.relay(
                    room,
                    peer,
                    in_mesh,
                    Some(to),
                    json!({ "type": "candidate", "from": peer, "candidate": candidate }),
                )
                .await
            }
            ClientSignal::Media { with, path } => {
                self.relay(
                    room,
                    peer,
                    in_mesh,
                    None,
                    json!({ "type": "media", "from": peer, "with": with, "path": path }),
                )
                .await?;
                if path == MediaPath::Relayed {
                    tracing::debug!(%room, "media relayed through TURN");
                }
                Ok(())
            }
            ClientSignal::Chat { text: t } => {
                if !in_mesh {
                    return Err(AppError::Refused(galien_core::ErrorCode::AccessDenied));
                }
                let appointment = self.inner.app.store.appointment(room).await?;
                call::chat(
                    &self.inner.app,
                    &joiner,
                    &ctx,
                    &appointment,
                    participant,
                    &t,
                )
                .await?;
                Ok(())
            }
            ClientSignal::Admit { participant: who } => {
                // Only the médecin of the call admits; anyone else's attempt is refused and traced.
                let Joiner::Person(actor) = &joiner else {
                    call::trace_refusal(
                        &self.inner.app,
                        Some(&joiner),
                        &ctx,
                        room,
                        None,
                        "ACCESS-DENIED:consultation.admit",
                    )
                    .await?;
                    return Err(AppError::Refused(galien_core::ErrorCode::AccessDenied));
                };
                let _ = kind;
                call::admit(&self.inner.app, actor, &ctx, room, who).await
            }
        }
    }

    async fn relay(
        &self,
        room: AppointmentId,
        from: PeerId,
        in_mesh: bool,
        to: Option<PeerId>,
        body: Value,
    ) -> Result<(), AppError> {
        if !in_mesh {
            // A waiting page signals nobody.
            return Err(AppError::Refused(galien_core::ErrorCode::AccessDenied));
        }
        let body = body.to_string();
        // The pages of this node get it at once; the bus carries it only to other nodes' pages
        // (each node skips the signals it published itself): no NOTIFY round trip, and no load on
        // PostgreSQL, when both ends of a call are on the same node.
        let local = self.signal_targets(room, Some(from), to);
        for t in &local {
            self.send(*t, Outgoing::Text(body.clone()));
        }
        if to.is_some_and(|to| local.contains(&to)) {
            return Ok(());
        }
        let payload = if body.len() > INLINE_MAX {
            let id = Uuid::new_v4();
            let now = self.inner.app.clock.now();
            self.inner
                .app
                .store
                .put_call_signal(id, body, now, now - time::Duration::minutes(1))
                .await?;
            json!({ "room": room, "from": from, "to": to, "ref": id })
        } else {
            json!({ "room": room, "from": from, "to": to, "body": body })
        };
        self.inner
            .app
            .store
            .bus()
            .publish(SIGNAL_TOPIC, payload)
            .await?;
        Ok(())
    }

    async fn publish(&self, topic: &str, payload: Value) {
        if let Err(e) = self.inner.app.store.bus().publish(topic, payload).await {
            tracing::warn!(error = %e, topic, "cannot publish a call event");
        }
    }

    /// Local pages of `room` (in the mesh only, if `mesh`), but `except`.
    fn targets(&self, room: AppointmentId, mesh: bool, except: Option<PeerId>) -> Vec<PeerId> {
        self.lock()
            .in_room(room)
            .filter(|(id, p)| (!mesh || p.in_mesh) && Some(*id) != except)
            .map(|(id, _)| id)
            .collect()
    }

    /// This node's pages a signal of `from` goes to: `to` if it is here and in the mesh, else
    /// (no `to`) every page of the room's mesh but the sender.
    fn signal_targets(
        &self,
        room: AppointmentId,
        from: Option<PeerId>,
        to: Option<PeerId>,
    ) -> Vec<PeerId> {
        self.targets(room, true, from)
            .into_iter()
            .filter(|p| to.is_none_or(|to| *p == to))
            .collect()
    }

    fn send(&self, peer: PeerId, out: Outgoing) {
        let slow = {
            let peers = self.lock();
            match peers.get(&peer) {
                Some(p) => p.tx.try_send(out).is_err(),
                None => false,
            }
        };
        if slow {
            // The page cannot keep up: it is closed and will reconnect.
            if let Some(p) = self.lock().get(&peer) {
                let _ = p.tx.try_send(Outgoing::Close(TOO_SLOW, "slow"));
            }
        }
    }

    async fn dispatch(&self, e: Event) {
        let room = e
            .payload
            .get("room")
            .and_then(|r| serde_json::from_value::<AppointmentId>(r.clone()).ok());
        let Some(room) = room else {
            return;
        };
        match e.topic.as_str() {
            // This node delivered its own signals to its pages when relaying them.
            SIGNAL_TOPIC if e.origin == self.inner.app.store.bus().node() => {}
            SIGNAL_TOPIC => self.on_signal(room, &e.payload).await,
            PEER_TOPIC => {
                let Some(peer) = e
                    .payload
                    .get("peer")
                    .and_then(|p| serde_json::from_value::<PeerId>(p.clone()).ok())
                else {
                    return;
                };
                let joined = e.payload.get("joined").and_then(Value::as_bool) == Some(true);
                let msg = if joined {
                    json!({
                        "type": "peer-joined", "peer": peer,
                        "participant": e.payload.get("participant"),
                        "kind": e.payload.get("kind"), "name": e.payload.get("name"),
                    })
                } else {
                    json!({ "type": "peer-left", "peer": peer, "participant": e.payload.get("participant") })
                };
                for target in self.targets(room, true, Some(peer)) {
                    self.send(target, text(msg.clone()));
                }
            }
            LOBBY_TOPIC => self.on_lobby(room).await,
            CONTENT_TOPIC => self.on_content(room, &e.payload).await,
            CLOSED_TOPIC => {
                let gone: Vec<LocalPeer> = {
                    let mut peers = self.lock();
                    let ids: Vec<PeerId> = peers.in_room(room).map(|(id, _)| id).collect();
                    ids.iter().filter_map(|id| peers.remove(id)).collect()
                };
                for p in gone {
                    let _ = p.tx.try_send(text(json!({ "type": "closed" })));
                    let _ = p.tx.try_send(Outgoing::Close(CLOSED, "closed"));
                }
            }
            _ => {}
        }
    }

    async fn on_signal(&self, room: AppointmentId, payload: &Value) {
        let from = payload
            .get("from")
            .and_then(|p| serde_json::from_value::<PeerId>(p.clone()).ok());
        let to = payload
            .get("to")
            .and_then(|p| serde_json::from_value::<PeerId>(p.clone()).ok());
        let targets = self.signal_targets(room, from, to);
        if targets.is_empty() {
            return;
        }
        let body = match (
            payload.get("body").and_then(Value::as_str),
            payload.get("ref"),
        ) {
            (Some(b), _) => b.to_owned(),
            (None, Some(r)) => {
                let Ok(id) = serde_json::from_value::<Uuid>(r.clone()) else {
                    return;
                };
                match self.inner.app.store.take_call_signal(id).await {
                    Ok(Some(b)) => b,
                    Ok(None) => return,
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot read a kept signaling message");
                        return;
                    }
                }
            }
            (None, None) => return,
        };
        for t in targets {
            self.send(t, Outgoing::Text(body.clone()));
        }
    }

    async fn on_lobby(&self, room: AppointmentId) {
        let local = self.targets(room, false, None);
        if local.is_empty() {
            return;
        }
        let Ok(participants) = self.inner.app.store.participants(room).await else {
            return;
        };
        // Waiting pages whose participant was admitted (on any node) enter the mesh.
        let to_enter: Vec<PeerId> = {
            let peers = self.lock();
            local
                .iter()
                .filter(|id| {
                    peers.get(id).is_some_and(|p| {
                        !p.in_mesh
                            && participants.iter().any(|q| {
                                q.id == p.participant && q.state == ParticipantState::Admitted
                            })
                    })
                })
                .copied()
                .collect()
        };
        for peer in to_enter {
            self.enter_mesh(peer).await;
        }
        // The médecin's pages get the waiting room.
        let doctors: Vec<(PeerId, Joiner, RequestContext)> = {
            let peers = self.lock();
            local
                .iter()
                .filter_map(|id| {
                    peers
                        .get(id)
                        .filter(|p| p.kind == ParticipantKind::Practitioner)
                        .map(|p| (*id, p.joiner.clone(), p.ctx.clone()))
                })
                .collect()
        };
        for (peer, joiner, ctx) in doctors {
            let Joiner::Person(actor) = &joiner else {
                continue;
            };
            match call::waiting_room(&self.inner.app, actor, &ctx, room).await {
                Ok(list) => self.send(peer, text(json!({ "type": "lobby", "waiting": list }))),
                Err(e) => tracing::warn!(error = %e, "cannot read a waiting room"),
            }
        }
    }

    async fn on_content(&self, room: AppointmentId, payload: &Value) {
        let chat = payload
            .get("chat")
            .and_then(|c| serde_json::from_value::<MessageId>(c.clone()).ok());
        let doc = payload
            .get("document")
            .and_then(|d| serde_json::from_value::<DocumentId>(d.clone()).ok());
        let readers: Vec<(PeerId, Joiner, RequestContext)> = {
            let peers = self.lock();
            peers
                .in_room(room)
                .filter(|(_, p)| p.in_mesh)
                .map(|(id, p)| (id, p.joiner.clone(), p.ctx.clone()))
                .collect()
        };
        if readers.is_empty() {
            return;
        }
        let Ok(appointment) = self.inner.app.store.appointment(room).await else {
            return;
        };
        for (peer, joiner, ctx) in readers {
            if let Some(id) = chat {
                match call::chat_line(&self.inner.app, &joiner, &ctx, &appointment, id).await {
                    Ok(line) => self.send(peer, text(json!({ "type": "chat", "line": line }))),
                    Err(e) => tracing::warn!(error = %e, "cannot read a chat message"),
                }
            }
            if let Some(id) = doc {
                match documents::of_call(&self.inner.app, &joiner, &ctx, &appointment).await {
                    Ok(list) => {
                        if let Some(d) = list.iter().find(|d| d.id == id) {
                            self.send(peer, text(document_message(room, d)));
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "cannot read a call's documents"),
                }
            }
        }
    }
}

fn document_message(room: AppointmentId, d: &documents::DocumentLine) -> Value {
    json!({
        "type": "document",
        "id": d.id,
        "name": d.name,
        "mediaType": d.media_type,
        "size": d.size_bytes,
        "author": d.author,
        "url": format!("/consultations/{room}/documents/{}", d.id),
    })
}
