//! The change feed between the processes sharing one database: every write
//! that others may have cached (a ticket commit, a directory record, a
//! configuration value) sends a `NOTIFY helpdesk` in its own transaction, so
//! it is heard only if it committed, and one listening connection per
//! [`PgStore`](super::PgStore) hears everyone's.
//!
//! What a store hears from other processes:
//! - bumps its directory epoch ([`Store::directory_epoch`]), so whatever a
//!   [`Helpdesk`](crate::Helpdesk) derived from records (the agents to
//!   notify) is read again on its next use (the rules epoch,
//!   [`Store::config_epoch`], is a row in the database, read per command);
//! - hands the [`Notice`] to every [`Store::subscribe`] receiver (the web
//!   layer shows other nodes' changes live and drops sessions ended elsewhere).
//!
//! Its own notices it ignores (it bumped its epoch when it wrote). When the
//! listening connection breaks it reconnects (every second until it can)
//! and then bumps its epoch and sends [`Notice::Resync`]: notices sent
//! while it was away are lost, so nothing cached before may be trusted.

use helpdesk_core::{Notice, StoreError, MAX_NOTICE_BYTES};
use postgres::fallible_iterator::FallibleIterator;
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;
use tokio_postgres_rustls::MakeRustlsConnect;

/// The `LISTEN` channel.
pub(crate) const CHANNEL: &str = "helpdesk";

/// A notice on the wire: who sent it and what.
#[derive(Serialize, Deserialize)]
struct Wire {
    from: String,
    notice: Notice,
}

/// The feed's state, shared by a store's clones and its listener thread
/// (which holds it weakly and ends when the last store is dropped).
pub(crate) struct Feed {
    /// This store's id on the wire (random).
    node: String,
    directory: AtomicU64,
    subscribers: Mutex<Vec<Sender<Notice>>>,
    /// Whether the listener is connected (tests wait for it).
    listening: AtomicBool,
}

impl Feed {
    /// Starts the listener thread on a connection of its own.
    pub(crate) fn start(config: postgres::Config, tls: MakeRustlsConnect) -> Arc<Feed> {
        let feed = Arc::new(Feed {
            node: crate::auth::random_token()[..16].to_string(),
            directory: AtomicU64::new(0),
            subscribers: Mutex::new(Vec::new()),
            listening: AtomicBool::new(false),
        });
        let weak = Arc::downgrade(&feed);
        let spawned = std::thread::Builder::new()
            .name("helpdesk-pg-listen".into())
            .spawn(move || listen(config, tls, weak));
        if let Err(e) = spawned {
            tracing::error!("cannot start the PostgreSQL listener (other nodes' changes go unseen): {e}");
        }
        feed
    }

    /// The payload announcing `notice` from this store.
    pub(crate) fn payload(&self, notice: Notice) -> Result<String, StoreError> {
        let s = serde_json::to_string(&Wire { from: self.node.clone(), notice })
            .map_err(|e| StoreError::Backend(format!("encoding a notice: {e}")))?;
        if s.len() > MAX_NOTICE_BYTES {
            return Err(StoreError::Backend(format!(
                "a notice of {} bytes is over the {MAX_NOTICE_BYTES}-byte limit",
                s.len()
            )));
        }
        Ok(s)
    }

    pub(crate) fn directory_epoch(&self) -> u64 {
        self.directory.load(Ordering::Acquire)
    }

    /// This store wrote a directory record.
    pub(crate) fn directory_changed(&self) {
        self.directory.fetch_add(1, Ordering::AcqRel);
    }

    pub(crate) fn subscribe(&self) -> Receiver<Notice> {
        let (tx, rx) = channel();
        self.subscribers.lock().unwrap_or_else(|e| e.into_inner()).push(tx);
        rx
    }

    pub(crate) fn is_listening(&self) -> bool {
        self.listening.load(Ordering::Acquire)
    }

    /// Handles a payload heard on the channel.
    fn heard(&self, payload: &str) {
        let Ok(wire) = serde_json::from_str::<Wire>(payload) else {
            tracing::warn!("ignoring an unreadable notice on the {CHANNEL} channel");
            return;
        };
        if wire.from == self.node {
            return;
        }
        self.deliver(wire.notice);
    }

    fn deliver(&self, notice: Notice) {
        match &notice {
            Notice::Record { .. } | Notice::Resync => self.directory_changed(),
            Notice::Ticket { .. } | Notice::Config { .. } | Notice::App { .. } => {}
        }
        self.subscribers.lock().unwrap_or_else(|e| e.into_inner()).retain(|s| s.send(notice.clone()).is_ok());
    }
}

/// The listener: connects, `LISTEN`s, hands on what it hears; reconnects
/// after a failure and resyncs; ends when the store is gone.
fn listen(config: postgres::Config, tls: MakeRustlsConnect, feed: Weak<Feed>) {
    let mut first = true;
    loop {
        if feed.strong_count() == 0 {
            return;
        }
        let mut client = match config.connect(tls.clone()) {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!("the PostgreSQL listener cannot connect (retrying in 1 s): {e}");
                std::thread::sleep(Duration::from_secs(1));
                continue;
            }
        };
        if let Err(e) = client.batch_execute(&format!("LISTEN {CHANNEL}")) {
            tracing::warn!("LISTEN failed (retrying in 1 s): {e}");
            std::thread::sleep(Duration::from_secs(1));
            continue;
        }
        {
            let Some(f) = feed.upgrade() else { return };
            f.listening.store(true, Ordering::Release);
            if !first {
                tracing::info!("the PostgreSQL listener reconnected: dropping what was cached");
                f.deliver(Notice::Resync);
            }
        }
        first = false;
        // Hear until the connection breaks or the store is dropped.
        let broken = loop {
            let failed = {
                let mut notifications = client.notifications();
                let mut it = notifications.timeout_iter(Duration::from_millis(250));
                loop {
                    match it.next() {
                        Ok(Some(n)) => match feed.upgrade() {
                            Some(f) => f.heard(n.payload()),
                            None => return,
                        },
                        Ok(None) => break None,
                        Err(e) => break Some(e),
                    }
                }
            };
            if let Some(e) = failed {
                break e.to_string();
            }
            if feed.strong_count() == 0 {
                return;
            }
            if client.is_closed() {
                break "the connection closed".to_string();
            }
        };
        if let Some(f) = feed.upgrade() {
            f.listening.store(false, Ordering::Release);
        }
        tracing::warn!("the PostgreSQL listener lost its connection ({broken}); reconnecting");
        std::thread::sleep(Duration::from_millis(200));
    }
}
