//! Group commit of plain audit appends: a trace with no change beside it (a read, a sign-in, a
//! refusal). Callers that append at the same moment share one transaction, one read of the chain
//! head and one `INSERT` per 64 records, and each gets the seq of its own last record once the
//! transaction has committed. On SQLite the writer gathers them ([`crate::sqlite::writer`]); on
//! PostgreSQL the [`Appender`] below, one per node, with one transaction in flight at a time: appends
//! arriving while it commits form the next group.
//!
//! Should a group's append fail, each caller's records are appended again on their own, so one bad
//! record fails only its caller.
//!
//! On PostgreSQL the appender remembers the head it last wrote: the next group is appended after it
//! in one statement ([`crate::audit::postgres::append_after`], one round trip instead of five).
//! When another appender (another node, or a change committed with its trace) has extended the
//! chain since, that statement writes nothing and the group is appended again under the chain lock
//! after the real head.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use galien_core::audit::AuditEvent;
use sqlx::{Connection, PgConnection};
use tokio::sync::{mpsc, oneshot};

use crate::StoreError;
use crate::audit::Hash;
use crate::pool::Pool;
use crate::queue::Queue;

/// Records to append, in order, and who waits for the seq of the last one.
pub(crate) struct Append {
    pub events: Vec<AuditEvent>,
    pub answer: oneshot::Sender<Result<u64, StoreError>>,
}

impl Append {
    /// An append of `events` (at least one) and the receiver of its answer.
    pub fn new(
        events: Vec<AuditEvent>,
    ) -> Result<(Append, oneshot::Receiver<Result<u64, StoreError>>), StoreError> {
        if events.is_empty() {
            return Err(StoreError::Other("an audit append needs a record".into()));
        }
        let (answer, rx) = oneshot::channel();
        Ok((Append { events, answer }, rx))
    }
}

/// Every record of `group`, in order: what one shared append writes.
pub(crate) fn all_events(group: &[Append]) -> Vec<AuditEvent> {
    group
        .iter()
        .flat_map(|a| a.events.iter().cloned())
        .collect()
}

/// Each caller's last seq, given `last`, the seq of the last record of `group` appended in order
/// (seqs run without gaps: counted back from the end).
pub(crate) fn seqs_of(group: &[Append], last: u64) -> Vec<Result<u64, StoreError>> {
    let mut seqs = Vec::with_capacity(group.len());
    let mut after = last;
    for a in group.iter().rev() {
        seqs.push(Ok(after));
        after = after.saturating_sub(a.events.len() as u64);
    }
    seqs.reverse();
    seqs
}

/// Counters shared with [`crate::StoreStats`].
#[derive(Debug, Default)]
pub(crate) struct AppenderStats {
    /// Appends answered `Ok`.
    pub committed: AtomicU64,
    /// Transactions that carried them.
    pub groups: AtomicU64,
    /// Of those, the ones written in one statement after the head this appender knew.
    pub after_known_head: AtomicU64,
    /// Appends after a known head that found it stale (the chain extended by another appender)
    /// and were written again under the chain lock.
    pub stale_heads: AtomicU64,
}

/// The PostgreSQL appender of one node: a task owning the queue, at most `max_records` records a group.
pub(crate) struct Appender {
    queue: Queue<Append>,
    pub stats: Arc<AppenderStats>,
}

impl Appender {
    pub fn start(pool: Pool<PgConnection>, max_records: usize) -> Appender {
        let max_records = max_records.max(1);
        let stats = Arc::new(AppenderStats::default());
        let task_stats = Arc::clone(&stats);
        let queue = Queue::start("audit appender", max_records.max(64), move |rx, pending| {
            run(pool, rx, max_records, task_stats, pending)
        });
        Appender { queue, stats }
    }

    /// Appends `events` (at least one) with the appends queued beside them; the last record's seq,
    /// once committed.
    pub async fn append(&self, events: Vec<AuditEvent>) -> Result<u64, StoreError> {
        let (append, answer) = Append::new(events)?;
        self.queue.submit(append).await?;
        answer.await.unwrap_or(Err(StoreError::Closed))
    }

    /// Appends submitted and not yet answered.
    pub fn pending(&self) -> usize {
        self.queue.pending()
    }

    /// Stops accepting appends and waits until every queued one is answered. Idempotent.
    pub async fn close(&self) {
        self.queue.close().await;
    }
}

async fn run(
    pool: Pool<PgConnection>,
    mut rx: mpsc::Receiver<Append>,
    max_records: usize,
    stats: Arc<AppenderStats>,
    pending: Arc<AtomicUsize>,
) {
    let mut group = Vec::new();
    // The chain's head as this appender last wrote it; `None` until then, and after any failure.
    let mut head = None;
    // recv() returns None only once every sender is dropped AND the queue is empty: close() flushes.
    while let Some(first) = rx.recv().await {
        let mut records = first.events.len();
        group.push(first);
        while records < max_records {
            match rx.try_recv() {
                Ok(a) => {
                    records += a.events.len();
                    group.push(a);
                }
                Err(_) => break,
            }
        }
        let answers = flush(&pool, &group, &stats, &mut head).await;
        for (a, answer) in group.drain(..).zip(answers) {
            if answer.is_ok() {
                stats.committed.fetch_add(1, Ordering::Relaxed);
            }
            crate::queue::answering(&pending);
            let _ = a.answer.send(answer);
        }
    }
}

async fn flush(
    pool: &Pool<PgConnection>,
    group: &[Append],
    stats: &AppenderStats,
    head: &mut Option<(i64, Hash)>,
) -> Vec<Result<u64, StoreError>> {
    if group.len() > 1 {
        stats.groups.fetch_add(1, Ordering::Relaxed);
        match append_tx(pool, &all_events(group), head, stats).await {
            Ok(last) => return seqs_of(group, last),
            Err(e) => {
                tracing::warn!(error = %e, appends = group.len(), "grouped audit append failed; each again alone");
            }
        }
    }
    let mut answers = Vec::with_capacity(group.len());
    for a in group {
        stats.groups.fetch_add(1, Ordering::Relaxed);
        answers.push(append_tx(pool, &a.events, head, stats).await);
    }
    answers
}

/// Appends `events`: in one statement after `head` when it is known, else (or when `head` proves
/// stale) in one transaction under the chain lock, after the head it reads. `head` is the new head
/// on success, `None` after a failure.
async fn append_tx(
    pool: &Pool<PgConnection>,
    events: &[AuditEvent],
    head: &mut Option<(i64, Hash)>,
    stats: &AppenderStats,
) -> Result<u64, StoreError> {
    let known = head.take();
    let mut lease = pool.lease().await?;
    let appended: Result<(i64, Hash), StoreError> = async {
        if let Some(known) = known.as_ref() {
            match crate::audit::postgres::append_after(lease.conn(), known, events).await? {
                Some(new) => {
                    stats.after_known_head.fetch_add(1, Ordering::Relaxed);
                    return Ok(new);
                }
                None => {
                    stats.stale_heads.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        let mut tx = lease.conn().begin().await?;
        let new = crate::audit::postgres::append_chain_in(&mut tx, events)
            .await?
            .ok_or_else(|| StoreError::Other("an audit append needs a record".into()))?;
        tx.commit().await?;
        Ok(new)
    }
    .await;
    lease.settle(appended.is_ok());
    let (last, hash) = appended?;
    *head = Some((last, hash));
    u64::try_from(last).map_err(|_| StoreError::Other("audit seq out of range".into()))
}

/// A plain record with id `id` (a sign-out at the epoch), for tests of appends.
#[cfg(test)]
pub(crate) fn event(id: u128) -> AuditEvent {
    use galien_core::audit::{AuditAction, AuditActor, Outcome, Source};
    AuditEvent {
        id: galien_core::ids::AuditEventId::from_uuid(uuid::Uuid::from_u128(id)),
        at: time::OffsetDateTime::UNIX_EPOCH,
        actor: AuditActor::default(),
        action: AuditAction::AuthLogout,
        outcome: Outcome::Success,
        resource: None,
        patient: None,
        purpose: None,
        emergency: false,
        source: Source::default(),
        reason: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn append_of(n: usize) -> Append {
        let event = event(0);
        let (a, _) = Append::new(vec![event; n]).unwrap();
        a
    }

    #[test]
    fn each_caller_gets_the_seq_of_its_own_last_record() {
        let group = [append_of(1), append_of(3), append_of(2)];
        let seqs: Vec<u64> = seqs_of(&group, 106)
            .into_iter()
            .map(Result::unwrap)
            .collect();
        // Records 101 | 102 103 104 | 105 106.
        assert_eq!(seqs, vec![101, 104, 106]);
        assert_eq!(all_events(&group).len(), 6);
    }

    #[test]
    fn an_empty_append_is_refused() {
        assert!(matches!(Append::new(Vec::new()), Err(StoreError::Other(_))));
    }
}
