//! # helpdesk-store
//!
//! Storage backends for [`helpdesk_core`]'s [`Store`](helpdesk_core::Store)
//! trait, and [`Helpdesk`], the entry point embedders use.
//!
//! - [`SledEngine`]: the embedded default (sled 0.34.7), durable, one process
//!   per database, group-committed flushes.
//! - [`MemEngine`]: in memory, for tests and harnesses.
//! - [`pg::PgStore`]: PostgreSQL, for several processes sharing one
//!   database ([`Helpdesk::connect`]).
//!
//! The first two are [`KvEngine`]s under one [`KvStore`], so the rules of
//! the `Store` trait (atomic commits, optimistic concurrency, unique keys)
//! are implemented once for both; PostgreSQL keeps them in SQL. One
//! conformance suite checks all three.
//!
//! ```
//! use helpdesk_store::Helpdesk;
//! let dir = tempfile::tempdir().unwrap();
//! let hd = Helpdesk::open(dir.path().join("db")).unwrap();
//! let support = hd.create_department("Support", vec![]).unwrap();
//! assert_eq!(hd.department(support.id).unwrap().name, "Support");
//! ```
#![warn(missing_docs)]

pub mod admin;
mod app_values;
pub mod auth;
mod automation;
mod codec;
pub mod files;
mod helpdesk;
pub mod kv;
mod kvstore;
pub mod macros;
mod mem;
pub mod migrate;
pub mod password_reset;
pub mod people_access;
pub mod pg;
mod portal;
mod preferences;
mod query;
mod relations;
mod saved_filters;
mod sled_engine;
pub mod snippets;
#[cfg(feature = "test-kit")]
pub mod testkit;
pub mod two_factor;

pub use admin::Admin;
pub use auth::AuthError;
pub use automation::DueReport;
pub use helpdesk::{Error, Executed, Helpdesk, HelpdeskBuilder, NewAgent, Result};
pub use helpdesk_core as core;
pub use kv::{KvEngine, Txn};
pub use kvstore::KvStore;
pub use mem::MemEngine;
pub use saved_filters::SavedFilters;
pub use sled_engine::{SledEngine, SledOptions};

/// The in-memory store.
pub type MemoryStore = KvStore<MemEngine>;
/// The sled store.
pub type SledStore = KvStore<SledEngine>;
