//! [`WorkQueue`]: items handled in order on a thread of their own, so
//! request handlers never wait for slow work (the store, an SMTP relay).

use std::sync::mpsc::{channel, Sender};
use std::sync::Mutex;
use std::thread::JoinHandle;

/// A queue drained by one named thread. [`close`](WorkQueue::close)
/// finishes what is queued; afterwards [`push`](WorkQueue::push) gives the
/// item back.
///
/// ```
/// use helpdesk_web::queue::WorkQueue;
/// use std::sync::{Arc, Mutex};
/// let seen = Arc::new(Mutex::new(Vec::new()));
/// let s = seen.clone();
/// let q = WorkQueue::start("example", move |n: u32| s.lock().unwrap().push(n));
/// assert!(q.push(1).is_ok() && q.push(2).is_ok());
/// q.close();
/// assert_eq!(*seen.lock().unwrap(), vec![1, 2]);
/// assert_eq!(q.push(3), Err(3));
/// ```
#[derive(Debug)]
pub struct WorkQueue<T> {
    tx: Mutex<Option<Sender<T>>>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl<T: Send + 'static> WorkQueue<T> {
    /// Starts the thread `helpdesk-<name>` handling each item with `handle`.
    /// If the thread cannot start, it says so in the log and every push is refused.
    pub fn start(name: &str, mut handle: impl FnMut(T) + Send + 'static) -> Self {
        let (tx, rx) = channel::<T>();
        let thread = std::thread::Builder::new()
            .name(format!("helpdesk-{name}"))
            .spawn(move || {
                for item in rx {
                    handle(item);
                }
            })
            .map_err(|e| tracing::error!("cannot start the {name} thread: {e}"))
            .ok();
        WorkQueue { tx: Mutex::new(thread.is_some().then_some(tx)), thread: Mutex::new(thread) }
    }

    /// Queues an item; gives it back when the queue is closed.
    pub fn push(&self, item: T) -> Result<(), T> {
        match self.tx.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
            Some(tx) => tx.send(item).map_err(|e| e.0),
            None => Err(item),
        }
    }

    /// Handles what is queued, then stops the thread.
    pub fn close(&self) {
        drop(self.tx.lock().unwrap_or_else(|e| e.into_inner()).take());
        let thread = self.thread.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(t) = thread {
            let _ = t.join();
        }
    }
}
