//! One look at the sessions of every open socket of this node (call signaling, monitoring board).
//!
//! A socket registers its session and waits for [`Watched::ended`]. Every `period` the node reads
//! all the sessions watched at once ([`galien_store::Store::sessions_and_users`], one statement per
//! 500) and tells the sockets of those that have ended, expired, or whose account was suspended or
//! deactivated ([`session::still_valid`]) — rather than each socket reading its own session, which
//! at 10,000 sockets and 20 s is 500 queries a second. Sessions are read without being touched: an
//! open socket does not keep a session alive. A look that fails is logged and made again at the
//! next period; the sockets stay open meanwhile.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use galien_crypto::token::TokenDigest;
use tokio::sync::oneshot;

use super::session;
use crate::App;

/// The session watch of one node; cloning shares it.
#[derive(Clone)]
pub struct SessionWatch {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for SessionWatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionWatch")
            .field("watched", &self.inner.lock().len())
            .finish()
    }
}

struct Inner {
    app: App,
    watched: Mutex<HashMap<u64, Entry>>,
    next: AtomicU64,
}

struct Entry {
    digest: TokenDigest,
    ended: oneshot::Sender<()>,
}

/// One socket's registration: dropping it stops the watch.
pub struct Watched {
    id: u64,
    inner: Weak<Inner>,
    ended: oneshot::Receiver<()>,
}

impl Watched {
    /// Returns once the session is over; never, if the node stops watching (shutting down).
    pub async fn ended(&mut self) {
        if (&mut self.ended).await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

impl Drop for Watched {
    fn drop(&mut self) {
        if let Some(inner) = self.inner.upgrade() {
            inner.lock().remove(&self.id);
        }
    }
}

impl Inner {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Entry>> {
        match self.watched.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// Reads every watched session and tells the sockets of those that are over.
    async fn look(&self) {
        let digests: Vec<TokenDigest> = {
            let watched = self.lock();
            let mut seen = HashSet::new();
            watched
                .values()
                .filter(|e| seen.insert(*e.digest.as_bytes()))
                .map(|e| e.digest)
                .collect()
        };
        if digests.is_empty() {
            return;
        }
        let found = match self.app.store.sessions_and_users(&digests).await {
            Ok(found) => found,
            Err(e) => {
                tracing::warn!(error = %e, sessions = digests.len(), "cannot read the sessions of open sockets; next look in one period");
                return;
            }
        };
        let now = self.app.clock.now();
        let live: HashSet<[u8; 32]> = found
            .iter()
            .filter(|(s, u)| session::still_valid(&self.app, s, u, now))
            .map(|(s, _)| *s.digest.as_bytes())
            .collect();
        let mut watched = self.lock();
        let over: Vec<u64> = watched
            .iter()
            .filter(|(_, e)| !live.contains(e.digest.as_bytes()))
            .map(|(id, _)| *id)
            .collect();
        for id in over {
            if let Some(e) = watched.remove(&id) {
                let _ = e.ended.send(());
            }
        }
    }
}

impl SessionWatch {
    /// The watch of `app`'s node, looking every `period`. Its task holds the watch weakly and ends
    /// once the last handle is dropped.
    pub fn start(app: App, period: Duration) -> SessionWatch {
        let inner = Arc::new(Inner {
            app,
            watched: Mutex::default(),
            next: AtomicU64::new(0),
        });
        let weak = Arc::downgrade(&inner);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(period);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            tick.tick().await;
            loop {
                tick.tick().await;
                let Some(inner) = weak.upgrade() else {
                    break;
                };
                inner.look().await;
            }
        });
        SessionWatch { inner }
    }

    /// Watches the session with this digest until the returned registration is dropped.
    pub fn watch(&self, digest: TokenDigest) -> Watched {
        let id = self.inner.next.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        self.inner.lock().insert(id, Entry { digest, ended: tx });
        Watched {
            id,
            inner: Arc::downgrade(&self.inner),
            ended: rx,
        }
    }

    /// Sockets watched on this node.
    pub fn len(&self) -> usize {
        self.inner.lock().len()
    }

    /// Whether no socket is watched.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
