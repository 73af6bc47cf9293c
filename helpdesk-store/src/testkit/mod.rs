//! The `Store` conformance suite as a test kit (feature `test-kit`): what
//! every storage backend must do, written once and run against the
//! in-memory, sled and PostgreSQL backends, and against yours.
//!
//! A backend gives the kit fresh, empty stores ([`Backend::open`]); each
//! check ([`checks`], listed in [`CHECKS`]) opens what it needs, commits
//! through the `Store` trait or a [`Helpdesk`] over it, and asserts: commits
//! are atomic and versioned, refused input changes nothing, ids never
//! repeat, unique keys have one holder, indexes and counters match a
//! recomputation from the tickets, the outbox is part of the commit and its
//! claims hold, concurrent writers lose no update, and so on. A backend can
//! also show what it stores in its own terms ([`Opened::with_raw`]: engine
//! keys, table rows), so "changes nothing" is checked beneath the trait too.
//!
//! In an embedder's crate, with `helpdesk-store = { features = ["test-kit"] }`
//! among the dev-dependencies, one line makes a test per check:
//!
//! ```
//! use helpdesk_store::testkit::{Backend, Opened};
//! use helpdesk_store::{KvStore, MemEngine};
//! use std::sync::Arc;
//!
//! /// The backend under test: here the in-memory one.
//! struct Mine;
//! impl Backend for Mine {
//!     fn open(&self) -> Opened {
//!         Opened::new(Arc::new(KvStore::new(MemEngine::default())))
//!     }
//! }
//!
//! // In a test file: one #[test] per check, named after it.
//! helpdesk_store::store_conformance!(Some(Mine));
//!
//! // Or all checks in one go, failures listed by name:
//! # fn main() {
//! helpdesk_store::testkit::run_all(Mine).unwrap();
//! # }
//! ```
//!
//! `store_conformance!` takes an `Option` so a backend that needs a service
//! (a database server) can skip when it is not there: pass `None` and each
//! test passes without running.

pub mod checks;
pub mod inspect;

use crate::{Helpdesk, KvEngine, KvStore, NewAgent};
use helpdesk_core::*;
use std::collections::BTreeSet;
use std::sync::Arc;

/// Everything a backend stores in its own terms: (key, value) pairs, or
/// (table, row) pairs, in a stable order.
pub type RawDump = Vec<(Vec<u8>, Vec<u8>)>;

/// A backend under test: it opens new, empty stores.
pub trait Backend: Send + Sync {
    /// A new, empty store (a separate one on every call).
    fn open(&self) -> Opened;
}

type RawFn = Box<dyn Fn(bool) -> RawDump + Send + Sync>;
type TicketRawFn = Box<dyn Fn(TicketId) -> Vec<String> + Send + Sync>;

trait EngineOf: Send + Sync {
    fn engine(&self) -> &dyn KvEngine;
}

impl<E: KvEngine + 'static> EngineOf for KvStore<E> {
    fn engine(&self) -> &dyn KvEngine {
        KvStore::<E>::engine(self)
    }
}

/// A store a [`Backend`] opened, with what else the backend shows of it.
pub struct Opened {
    store: Arc<dyn Store>,
    raw: Option<RawFn>,
    ticket_raw: Option<TicketRawFn>,
    engine: Option<Arc<dyn EngineOf>>,
    _keep: Option<Box<dyn std::any::Any + Send + Sync>>,
}

impl Opened {
    /// A store seen through the `Store` trait only.
    pub fn new(store: Arc<dyn Store>) -> Opened {
        Opened { store, raw: None, ticket_raw: None, engine: None, _keep: None }
    }

    /// A store over a key-value engine: its raw view is every key and value
    /// (id sequences, keys starting with `Q`, left out unless asked for),
    /// and the checks of the engine itself can reach it.
    pub fn kv<E: KvEngine + 'static>(store: Arc<KvStore<E>>) -> Opened {
        let s = store.clone();
        let raw = move |ids: bool| -> RawDump {
            let all = s.engine().scan(&[], None, usize::MAX).expect("raw scan");
            all.into_iter().filter(|(k, _)| ids || k.first() != Some(&b'Q')).collect()
        };
        let s = store.clone();
        let ticket_raw = move |id: TicketId| -> Vec<String> {
            let bytes = id.0.to_be_bytes();
            s.engine()
                .scan(&[], None, usize::MAX)
                .expect("raw scan")
                .into_iter()
                .filter(|(key, _)| {
                    matches!(key[0], b'T' | b'H' | b'E' | b'O') && key[1..].starts_with(&bytes)
                })
                .map(|(key, _)| format!("{key:?}"))
                .collect()
        };
        Opened {
            store: store.clone(),
            raw: Some(Box::new(raw)),
            ticket_raw: Some(Box::new(ticket_raw)),
            engine: Some(store),
            _keep: None,
        }
    }

    /// With a raw view: `raw(with_ids)` returns everything stored; id
    /// sequences only when `with_ids`.
    pub fn with_raw(mut self, raw: impl Fn(bool) -> RawDump + Send + Sync + 'static) -> Opened {
        self.raw = Some(Box::new(raw));
        self
    }

    /// With a raw view of one ticket: what is stored under it (state, log,
    /// outbox), empty once it is purged.
    pub fn with_ticket_raw(mut self, f: impl Fn(TicketId) -> Vec<String> + Send + Sync + 'static) -> Opened {
        self.ticket_raw = Some(Box::new(f));
        self
    }

    /// Keeps `guard` (a temporary directory, a database) as long as the store.
    pub fn keeping(mut self, guard: impl std::any::Any + Send + Sync) -> Opened {
        self._keep = Some(Box::new(guard));
        self
    }

    /// The store.
    pub fn store(&self) -> &dyn Store {
        &*self.store
    }

    /// The store, shared.
    pub fn store_arc(&self) -> Arc<dyn Store> {
        self.store.clone()
    }

    /// Everything stored, raw, id sequences excepted (empty without a raw view).
    pub fn raw(&self) -> RawDump {
        self.raw.as_ref().map_or_else(Vec::new, |f| f(false))
    }

    /// [`raw`](Self::raw) with the id sequences.
    pub fn raw_with_ids(&self) -> RawDump {
        self.raw.as_ref().map_or_else(Vec::new, |f| f(true))
    }

    /// What is stored under ticket `id`, raw (empty without a raw view).
    pub fn raw_of_ticket(&self, id: TicketId) -> Vec<String> {
        self.ticket_raw.as_ref().map_or_else(Vec::new, |f| f(id))
    }

    /// The key-value engine, for stores over one ([`Opened::kv`]).
    pub fn engine(&self) -> Option<&dyn KvEngine> {
        self.engine.as_deref().map(|e| e.engine())
    }
}

/// What a check gets: the backend, to open stores with.
pub struct Ctx {
    backend: Box<dyn Backend>,
}

impl Ctx {
    /// A context over `backend`.
    pub fn new(backend: impl Backend + 'static) -> Ctx {
        Ctx { backend: Box::new(backend) }
    }

    /// A new, empty store.
    pub fn open(&self) -> Opened {
        self.backend.open()
    }

    /// A helpdesk over a new store, with a manual clock and a small
    /// directory: departments Support and Billing, agents Alice (admin) and
    /// Bob (Support only, may not delete), users Ann, Ben and Eve.
    pub fn fixture(&self) -> Fx {
        let db = self.open();
        let clock = Arc::new(ManualClock::default_start());
        let hd = Helpdesk::builder().clock(clock.clone()).store(db.store_arc());
        let support = hd.create_department("Support", vec![]).unwrap().id;
        let billing = hd.create_department("Billing", vec![]).unwrap().id;
        let alice = hd.create_agent(NewAgent::new("Alice", "alice@helpdesk.test").admin()).unwrap().id;
        let bob = hd
            .create_agent(NewAgent::new("Bob", "bob@helpdesk.test").permissions(Permissions {
                admin: false,
                may_delete: false,
                may_reassign: false,
                departments: Some(BTreeSet::from([support])),
                people: false,
            }))
            .unwrap()
            .id;
        let ann = hd.create_user(NewUser::new("Ann", "ann@acme.com")).unwrap().id;
        let ben = hd.create_user(NewUser::new("Ben", "ben@acme.com")).unwrap().id;
        let eve = hd.create_user(NewUser::new("Eve", "eve@evil.test")).unwrap().id;
        Fx { hd, clock, db, support, billing, alice, bob, ann, ben, eve }
    }
}

/// A helpdesk from [`Ctx::fixture`].
#[allow(missing_docs)]
pub struct Fx {
    pub hd: Helpdesk,
    pub clock: Arc<ManualClock>,
    pub db: Opened,
    pub support: DepartmentId,
    pub billing: DepartmentId,
    pub alice: AgentId,
    pub bob: AgentId,
    pub ann: UserId,
    pub ben: UserId,
    pub eve: UserId,
}

impl Fx {
    /// A ticket opened by `user` in Support through the portal.
    pub fn ticket_by(&self, user: UserId, subject: &str) -> Ticket {
        self.hd
            .create_ticket(
                &Actor::User(user),
                NewTicket::new(subject, "Please help.", self.support, user, Channel::Portal),
            )
            .unwrap()
    }

    /// Alice, as an actor.
    pub fn alice(&self) -> Actor {
        Actor::Agent(self.alice)
    }

    /// Both views of the whole store: through the trait, and raw (ids excepted).
    pub fn snapshot(&self) -> (inspect::Dump, RawDump) {
        (inspect::dump(self.db.store()), self.db.raw())
    }
}

/// A check: panics when the backend fails it.
pub type Check = fn(&Ctx);

/// Every check of the kit, by name (the tests `store_conformance!` makes).
pub const CHECKS: &[(&str, Check)] = &[
    ("create_load_round_trip", checks::create_load_round_trip),
    ("commit_rejects_stale_version", checks::commit_rejects_stale_version),
    ("create_existing_id_conflicts", checks::create_existing_id_conflicts),
    ("failed_commit_writes_nothing", checks::failed_commit_writes_nothing),
    ("malformed_commit_is_refused", checks::malformed_commit_is_refused),
    ("index_and_counters_match_recomputation", checks::index_and_counters_match_recomputation),
    ("purge_removes_state_log_index_and_counters", checks::purge_removes_state_log_index_and_counters),
    ("scan_index_pagination", checks::scan_index_pagination),
    ("scan_index_cursor_outside_prefix", checks::scan_index_cursor_outside_prefix),
    ("next_id_strictly_increases", checks::next_id_strictly_increases),
    ("next_id_concurrent_never_repeats", checks::next_id_concurrent_never_repeats),
    ("put_record_unique_keys", checks::put_record_unique_keys),
    ("changing_email_releases_old_one", checks::changing_email_releases_old_one),
    ("records_pagination", checks::records_pagination),
    ("lookup_finds_holders", checks::lookup_finds_holders),
    ("concurrent_execute_loses_no_update", checks::concurrent_execute_loses_no_update),
    ("execute_at_stale_version_conflicts", checks::execute_at_stale_version_conflicts),
    ("events_after_is_the_log_tail", checks::events_after_is_the_log_tail),
    ("concurrent_commits_keep_counters_exact", checks::concurrent_commits_keep_counters_exact),
    ("concurrent_unique_claims_one_winner", checks::concurrent_unique_claims_one_winner),
    ("bad_input_changes_nothing", checks::bad_input_changes_nothing),
    ("outbox_is_part_of_the_commit", checks::outbox_is_part_of_the_commit),
    ("outbox_claims_hold_items_for_their_lease", checks::outbox_claims_hold_items_for_their_lease),
    ("exclusive_work_runs_once_at_a_time", checks::exclusive_work_runs_once_at_a_time),
    ("listings_and_id_marks_for_copying", checks::listings_and_id_marks_for_copying),
    ("delete_record_releases_unique_keys", checks::delete_record_releases_unique_keys),
    ("saved_filters_are_per_agent_and_shared", checks::saved_filters_are_per_agent_and_shared),
    ("admin_commit_is_atomic_with_its_audit_entry", checks::admin_commit_is_atomic_with_its_audit_entry),
    ("audit_log_pages_newest_first", checks::audit_log_pages_newest_first),
    (
        "files_are_kept_once_and_handed_out_by_permission",
        checks::files_are_kept_once_and_handed_out_by_permission,
    ),
    ("snippet_names_are_unique_per_scope", checks::snippet_names_are_unique_per_scope),
    ("macros_apply_as_one_group", checks::macros_apply_as_one_group),
    (
        "merges_splits_and_links_commit_both_tickets_at_once",
        checks::merges_splits_and_links_commit_both_tickets_at_once,
    ),
];

/// Runs every check against `backend`, one after the other; the names of
/// the checks that failed, with their panic messages.
pub fn run_all(backend: impl Backend + 'static) -> Result<(), Vec<(&'static str, String)>> {
    let ctx = Ctx::new(backend);
    let mut failed = Vec::new();
    for (name, check) in CHECKS {
        if let Err(e) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check(&ctx))) {
            let why = e
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            failed.push((*name, why));
        }
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(failed)
    }
}

/// One `#[test]` per conformance check ([`testkit::CHECKS`](crate::testkit::CHECKS)),
/// named after it, against the backend the expression gives (an
/// `Option<impl Backend>`, evaluated in each test; `None` skips). Put it in
/// a module of its own per backend.
#[macro_export]
macro_rules! store_conformance {
    ($backend:expr) => {
        $crate::store_conformance!(@each $backend;
            create_load_round_trip,
            commit_rejects_stale_version,
            create_existing_id_conflicts,
            failed_commit_writes_nothing,
            malformed_commit_is_refused,
            index_and_counters_match_recomputation,
            purge_removes_state_log_index_and_counters,
            scan_index_pagination,
            scan_index_cursor_outside_prefix,
            next_id_strictly_increases,
            next_id_concurrent_never_repeats,
            put_record_unique_keys,
            changing_email_releases_old_one,
            records_pagination,
            lookup_finds_holders,
            concurrent_execute_loses_no_update,
            execute_at_stale_version_conflicts,
            events_after_is_the_log_tail,
            concurrent_commits_keep_counters_exact,
            concurrent_unique_claims_one_winner,
            bad_input_changes_nothing,
            outbox_is_part_of_the_commit,
            outbox_claims_hold_items_for_their_lease,
            exclusive_work_runs_once_at_a_time,
            listings_and_id_marks_for_copying,
            delete_record_releases_unique_keys,
            saved_filters_are_per_agent_and_shared,
            admin_commit_is_atomic_with_its_audit_entry,
            audit_log_pages_newest_first,
            files_are_kept_once_and_handed_out_by_permission,
            snippet_names_are_unique_per_scope,
            macros_apply_as_one_group,
            merges_splits_and_links_commit_both_tickets_at_once
        );
    };
    (@each $backend:expr; $($check:ident),*) => {
        $(
            #[test]
            fn $check() {
                if let Some(backend) = $backend {
                    $crate::testkit::checks::$check(&$crate::testkit::Ctx::new(backend));
                }
            }
        )*

        /// The macro runs every check the kit lists.
        #[test]
        fn every_check_of_the_kit_runs() {
            let here: Vec<&str> = vec![$(stringify!($check)),*];
            let kit: Vec<&str> = $crate::testkit::CHECKS.iter().map(|(n, _)| *n).collect();
            assert_eq!(here, kit);
        }
    };
}
