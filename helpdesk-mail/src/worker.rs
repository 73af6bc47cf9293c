//! The delivery worker: takes due outbox items, hands each to its
//! [`Notifier`], and records how it ended — in the ticket log, removing the
//! item, in one commit ([`Helpdesk::complete_delivery`]) — or, after a
//! transient failure, reschedules it with exponential backoff
//! ([`OutboxItem::failed`]) until `max_attempts`, when it fails for good.
//!
//! Items are claimed with a lease ([`Helpdesk::claim_outbox`]): workers in
//! one process, or on several nodes sharing a PostgreSQL store, never hold
//! one item at once. A worker that dies mid-delivery leaves its items to the
//! others once the lease ends ([`DeliveryWorker::lease`]); an item it sent
//! but did not record is then sent again, with the same idempotency key
//! (the outbox key: the `Idempotency-Key` header of webhooks), and if both
//! record it, the log keeps the first outcome only.

use crate::notifier::{DeliveryError, Notifier};
use helpdesk_core::*;
use helpdesk_store::Helpdesk;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// How long a pass holds its claimed items unless set
/// ([`DeliveryWorker::lease`]): 5 minutes.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(300);

/// What one pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RunReport {
    /// Delivered.
    pub sent: usize,
    /// Deliberately not sent (recorded with the reason).
    pub skipped: usize,
    /// Failed for good (recorded).
    pub failed: usize,
    /// Failed for now; rescheduled with backoff.
    pub retried: usize,
    /// Claimed but not tried: the pass ran past half its lease, and these
    /// are claimed again (by any worker) when the lease ends.
    pub left: usize,
}

impl RunReport {
    /// Items handled in all.
    pub fn total(&self) -> usize {
        self.sent + self.skipped + self.failed + self.retried
    }
}

/// Delivers the outbox. Build it with the notifiers, then call
/// [`run_once`](DeliveryWorker::run_once) (tests, cron) or
/// [`start`](DeliveryWorker::start) (a server).
#[derive(Clone)]
pub struct DeliveryWorker {
    hd: Helpdesk,
    notifiers: Vec<Arc<dyn Notifier>>,
    max_attempts: u32,
    batch: usize,
    lease: Duration,
}

impl std::fmt::Debug for DeliveryWorker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<_> = self.notifiers.iter().map(|n| n.name()).collect();
        f.debug_struct("DeliveryWorker")
            .field("notifiers", &names)
            .field("max_attempts", &self.max_attempts)
            .finish_non_exhaustive()
    }
}

impl DeliveryWorker {
    /// A worker with no notifiers yet; 8 attempts; 100 items a pass; a
    /// [`DEFAULT_LEASE`].
    pub fn new(hd: Helpdesk) -> Self {
        DeliveryWorker { hd, notifiers: Vec::new(), max_attempts: 8, batch: 100, lease: DEFAULT_LEASE }
    }

    /// Adds a notifier (tried in the order added).
    pub fn notifier(mut self, n: Arc<dyn Notifier>) -> Self {
        self.notifiers.push(n);
        self
    }

    /// Attempts before a transiently failing item fails for good (at least 1).
    pub fn max_attempts(mut self, n: u32) -> Self {
        self.max_attempts = n.max(1);
        self
    }

    /// Items per pass.
    pub fn batch(mut self, n: usize) -> Self {
        self.batch = n.max(1);
        self
    }

    /// How long a pass holds the items it claimed (at least 1 s): longer
    /// than a pass takes (a notifier's timeouts times the batch), or another
    /// worker may deliver an item again while this one is still at it.
    pub fn lease(mut self, d: Duration) -> Self {
        self.lease = d.max(Duration::from_secs(1));
        self
    }

    /// Delivers every item due now, once. An item no notifier accepts is
    /// recorded as skipped, saying so.
    pub fn run_once(&self) -> Result<RunReport, helpdesk_store::Error> {
        let mut report = RunReport::default();
        let now = self.hd.clock().now();
        let claimed = std::time::Instant::now();
        for item in self.hd.claim_outbox(now, self.batch, self.lease)? {
            // Past half the lease, what is left goes back to the pool when
            // the lease ends rather than risk a second worker sending it
            // while this one still is.
            if claimed.elapsed() > self.lease / 2 {
                report.left += 1;
                continue;
            }
            let result = match self.notifiers.iter().find(|n| n.accepts(&item.effect)) {
                Some(n) => n.deliver(&item),
                None => Ok(DeliveryOutcome::Skipped(format!("no notifier for {}", describe(&item.effect)))),
            };
            match result {
                Ok(outcome) => {
                    match outcome {
                        DeliveryOutcome::Sent => report.sent += 1,
                        DeliveryOutcome::Skipped(_) => report.skipped += 1,
                        DeliveryOutcome::Failed(_) => report.failed += 1,
                    }
                    self.hd.complete_delivery(&item, outcome)?;
                }
                Err(DeliveryError::Permanent(e)) => {
                    report.failed += 1;
                    self.hd.complete_delivery(&item, DeliveryOutcome::Failed(e))?;
                }
                Err(DeliveryError::Transient(e)) if item.attempts + 1 >= self.max_attempts => {
                    report.failed += 1;
                    let why = format!("gave up after {} attempts: {e}", item.attempts + 1);
                    self.hd.complete_delivery(&item, DeliveryOutcome::Failed(why))?;
                }
                Err(DeliveryError::Transient(e)) => {
                    report.retried += 1;
                    self.hd.store().reschedule(&item.failed(now, &e))?;
                }
            }
        }
        Ok(report)
    }

    /// Runs in a thread of its own: a pass every `poll` (and at once when
    /// [`WorkerHandle::wake`] is called), until [`WorkerHandle::stop`].
    pub fn start(self, poll: Duration) -> WorkerHandle {
        let signal = Arc::new(Signal::default());
        let last_error = Arc::new(Mutex::new(None));
        let (s, errors) = (signal.clone(), last_error.clone());
        let thread = std::thread::Builder::new()
            .name("helpdesk-delivery".into())
            .spawn(move || loop {
                if let Err(e) = self.run_once() {
                    *errors.lock().unwrap_or_else(|p| p.into_inner()) = Some(e.to_string());
                }
                if s.wait(poll) {
                    break;
                }
            })
            .expect("spawn the delivery thread");
        WorkerHandle { signal, thread: Some(thread), last_error }
    }
}

fn describe(effect: &Effect) -> String {
    match effect {
        Effect::Notify(n) => format!("{:?} notifications", n.channel),
        Effect::Webhook(_) => "webhooks".to_string(),
    }
}

#[derive(Default)]
struct Signal {
    state: Mutex<(bool, bool)>, // (stop, wake)
    cv: Condvar,
}

impl Signal {
    /// Waits up to `d` or until woken; true when asked to stop.
    fn wait(&self, d: Duration) -> bool {
        let guard = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let (mut guard, _) = self
            .cv
            .wait_timeout_while(guard, d, |(stop, wake)| !*stop && !*wake)
            .unwrap_or_else(|p| p.into_inner());
        guard.1 = false;
        guard.0
    }

    fn set(&self, stop: bool) {
        let mut g = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if stop {
            g.0 = true;
        } else {
            g.1 = true;
        }
        self.cv.notify_all();
    }
}

/// Controls a started worker. Dropping it stops the worker too.
pub struct WorkerHandle {
    signal: Arc<Signal>,
    thread: Option<JoinHandle<()>>,
    last_error: Arc<Mutex<Option<String>>>,
}

impl std::fmt::Debug for WorkerHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkerHandle").field("running", &self.thread.is_some()).finish()
    }
}

impl WorkerHandle {
    /// Runs a pass now (e.g. right after a change was committed).
    pub fn wake(&self) {
        self.signal.set(false);
    }

    /// The last error a pass ended with (storage trouble), if any.
    pub fn last_error(&self) -> Option<String> {
        self.last_error.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Stops after the current pass and waits for it.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        self.signal.set(true);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for WorkerHandle {
    fn drop(&mut self) {
        self.shutdown();
    }
}
