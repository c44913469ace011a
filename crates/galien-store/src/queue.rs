//! A task fed through a bounded channel, as the SQLite writer and the PostgreSQL audit appender are:
//! callers submit items and count as pending until the task answers them; closing stops new items,
//! lets the task drain the queue, and waits for it. The task is a future on the runtime
//! ([`Queue::start`]) or a thread of its own ([`Queue::start_thread`]).

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::StoreError;

/// Counts one item as answered, just before its caller gets the answer: a caller that has its
/// answer never finds itself among the task's pending items. Tasks call it once per item.
pub(crate) fn answering(pending: &AtomicUsize) {
    pending.fetch_sub(1, Ordering::SeqCst);
}

pub(crate) struct Queue<T> {
    sender: std::sync::Mutex<Option<mpsc::Sender<T>>>,
    task: tokio::sync::Mutex<Option<JoinHandle<()>>>,
    /// Items submitted and not yet answered; the task subtracts those it has answered.
    pending: Arc<AtomicUsize>,
    name: &'static str,
}

impl<T: Send + 'static> Queue<T> {
    /// Spawns `run` with the receiving end of a channel of `capacity` items and the pending counter.
    /// `run` should end once the channel is closed and empty (`recv()` returns `None`).
    pub fn start<F, Fut>(name: &'static str, capacity: usize, run: F) -> Queue<T>
    where
        F: FnOnce(mpsc::Receiver<T>, Arc<AtomicUsize>) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        let pending = Arc::new(AtomicUsize::new(0));
        let task = tokio::spawn(run(rx, Arc::clone(&pending)));
        Queue {
            sender: std::sync::Mutex::new(Some(tx)),
            task: tokio::sync::Mutex::new(Some(task)),
            pending,
            name,
        }
    }

    /// Runs `run` on a thread of its own named `name`, with the receiving end of a channel of
    /// `capacity` items and the pending counter: for a task that blocks (the SQLite writer waits for
    /// its disk), and whose every step should not wait for a turn among the runtime's tasks.
    pub fn start_thread<F>(
        name: &'static str,
        capacity: usize,
        run: F,
    ) -> Result<Queue<T>, StoreError>
    where
        F: FnOnce(mpsc::Receiver<T>, Arc<AtomicUsize>) + Send + 'static,
    {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        let pending = Arc::new(AtomicUsize::new(0));
        let (done, finished) = tokio::sync::oneshot::channel::<()>();
        let thread_pending = Arc::clone(&pending);
        std::thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || {
                run(rx, thread_pending);
                let _ = done.send(());
            })
            .map_err(|e| StoreError::Other(format!("cannot start the {name} thread: {e}")))?;
        // Ends when the thread does (or, had it panicked, when its `done` is dropped).
        let task = tokio::spawn(async move {
            let _ = finished.await;
        });
        Ok(Queue {
            sender: std::sync::Mutex::new(Some(tx)),
            task: tokio::sync::Mutex::new(Some(task)),
            pending,
            name,
        })
    }

    /// Queues `item`; [`StoreError::Closed`] once [`Queue::close`] has begun.
    pub async fn submit(&self, item: T) -> Result<(), StoreError> {
        let sender = match self.sender.lock() {
            Ok(guard) => guard.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
        .ok_or(StoreError::Closed)?;
        self.pending.fetch_add(1, Ordering::SeqCst);
        if sender.send(item).await.is_err() {
            self.pending.fetch_sub(1, Ordering::SeqCst);
            return Err(StoreError::Closed);
        }
        Ok(())
    }

    /// Items in the channel: sent, not yet taken by the task.
    #[cfg(test)]
    pub fn queued(&self) -> usize {
        match self.sender.lock() {
            Ok(guard) => guard
                .as_ref()
                .map_or(0, |s| s.max_capacity() - s.capacity()),
            Err(_) => 0,
        }
    }

    /// Items submitted and not yet answered.
    pub fn pending(&self) -> usize {
        self.pending.load(Ordering::SeqCst)
    }

    /// Stops accepting items, lets the task answer every queued one, and waits for it. Idempotent; a
    /// concurrent second call waits for the first.
    pub async fn close(&self) {
        let mut task = self.task.lock().await;
        match self.sender.lock() {
            Ok(mut guard) => drop(guard.take()),
            Err(poisoned) => drop(poisoned.into_inner().take()),
        }
        if let Some(handle) = task.take()
            && let Err(e) = handle.await
        {
            tracing::error!(error = %e, task = self.name, "queue task failed");
        }
    }
}
