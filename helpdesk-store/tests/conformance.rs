//! The `Store` conformance suite (`helpdesk_store::testkit`), run against
//! every backend of this crate: `memory::<check>`, `sled::<check>` and
//! `postgres::<check>`, each with its own raw view of what it stores (the
//! engine's keys, or PostgreSQL's tables). The PostgreSQL checks run on a
//! throwaway cluster (`helpdesk_store::pg::testing`). Here too: the checks
//! of the key-value engine itself (memory and sled), the scenario log
//! against its snapshot, and `cross_backend`, which runs the same commands
//! on several backends and compares what they store.

mod common;

use chrono::Duration;
use common::{check_consistent, dump};
use helpdesk_core::*;
use helpdesk_store::pg::testing::TestDb;
use helpdesk_store::pg::PgStore;
use helpdesk_store::testkit::checks::scenario;
use helpdesk_store::testkit::{Backend, Ctx, Fx, Opened, RawDump};
use helpdesk_store::Error;
use helpdesk_store::{KvStore, MemEngine, SledEngine, SledOptions};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

// ----- backends ------------------------------------------------------------

/// The in-memory backend.
struct Memory;

impl Backend for Memory {
    fn open(&self) -> Opened {
        Opened::kv(Arc::new(KvStore::new(MemEngine::default())))
    }
}

/// The sled backend, its stores in a temporary directory.
struct Sled {
    dir: tempfile::TempDir,
    opened: AtomicUsize,
}

impl Sled {
    fn new() -> Sled {
        Sled { dir: tempfile::tempdir().expect("tempdir"), opened: AtomicUsize::new(0) }
    }
}

impl Backend for Sled {
    fn open(&self) -> Opened {
        let n = self.opened.fetch_add(1, Ordering::SeqCst);
        let opts = SledOptions { cache_capacity: 16 * 1024 * 1024, ..SledOptions::default() };
        let engine = SledEngine::open(self.dir.path().join(format!("db{n}")), &opts).expect("open sled");
        Opened::kv(Arc::new(KvStore::new(engine)))
    }
}

/// PostgreSQL: a fresh database per store.
struct Postgres {
    /// The first database, made with the backend (so a missing PostgreSQL
    /// skips the check before it starts).
    first: Mutex<Option<TestDb>>,
}

impl Postgres {
    /// `None` (the check skips) when there is no PostgreSQL here and `CI` is unset.
    fn new() -> Option<Postgres> {
        Some(Postgres { first: Mutex::new(Some(helpdesk_store::pg::testing::database()?)) })
    }
}

impl Backend for Postgres {
    fn open(&self) -> Opened {
        let db = match self.first.lock().unwrap().take() {
            Some(db) => db,
            None => helpdesk_store::pg::testing::database().expect("PostgreSQL was there a moment ago"),
        };
        let store = Arc::new(PgStore::open(db.url()).expect("open PostgreSQL"));
        let url = db.url().to_string();
        let (u1, u2) = (url.clone(), url);
        Opened::new(store)
            .with_raw(move |ids| pg_rows(&u1, ids))
            .with_ticket_raw(move |id| pg_ticket_rows(&u2, id))
            .keeping(db)
    }
}

fn postgres() -> Option<Ctx> {
    Postgres::new().map(Ctx::new)
}

/// PostgreSQL's tables (see `helpdesk_store::pg`), each with its primary key.
const PG_TABLES: [(&str, &str); 13] = [
    ("tickets", "id"),
    ("ticket_events", "ticket, version"),
    ("index_entries", "key"),
    ("index_any_department", "key"),
    ("counters", "key"),
    ("records", "kind, id"),
    ("unique_keys", "key"),
    ("outbox", "ticket, version, seq"),
    ("blobs", "id"),
    ("configs", "namespace, name"),
    ("rate_hits", "bucket, window_start"),
    ("helpdesk_epochs", "name"),
    ("helpdesk_schema", "version"),
];

/// Every row of every table of a PostgreSQL store, as (table, row text), in
/// order; with `ids`, the id sequences' positions too.
fn pg_rows(url: &str, ids: bool) -> RawDump {
    let mut c = ::postgres::Client::connect(url, ::postgres::NoTls).expect("connect");
    let mut out = Vec::new();
    for (table, key) in PG_TABLES {
        let sql = if table == "helpdesk_schema" {
            // When the migration ran is no part of what is stored.
            format!("SELECT (version, name)::text FROM {table} ORDER BY {key}")
        } else {
            format!("SELECT t::text FROM {table} t ORDER BY {key}")
        };
        for row in c.query(&sql, &[]).expect("select") {
            out.push((table.as_bytes().to_vec(), row.get::<_, String>(0).into_bytes()));
        }
    }
    if ids {
        for kind in IdKind::ALL {
            let sql = format!("SELECT last_value, is_called FROM ids_{}", kind.as_str());
            let row = c.query_one(&sql, &[]).expect("sequence");
            let v = format!("{} {}", row.get::<_, i64>(0), row.get::<_, bool>(1));
            out.push((format!("ids_{}", kind.as_str()).into_bytes(), v.into_bytes()));
        }
    }
    out
}

/// What is stored under ticket `id` (state, log, outbox): rows as text.
fn pg_ticket_rows(url: &str, id: TicketId) -> Vec<String> {
    let mut c = ::postgres::Client::connect(url, ::postgres::NoTls).expect("connect");
    let mut out = Vec::new();
    for (table, column) in [("tickets", "id"), ("ticket_events", "ticket"), ("outbox", "ticket")] {
        let sql = format!("SELECT t::text FROM {table} t WHERE {column} = $1");
        for row in c.query(&sql, &[&(id.0 as i64)]).expect("select") {
            out.push(format!("{table}: {}", row.get::<_, String>(0)));
        }
    }
    out
}

// ----- the kit's checks on each backend ---------------------------------------

mod memory {
    helpdesk_store::store_conformance!(Some(super::Memory));

    #[test]
    fn aborted_engine_transaction_writes_nothing() {
        super::aborted_engine_transaction_writes_nothing(&helpdesk_store::testkit::Ctx::new(super::Memory));
    }

    #[test]
    fn scenario_log_snapshot() {
        super::scenario_log_snapshot(&helpdesk_store::testkit::Ctx::new(super::Memory));
    }
}

mod sled {
    helpdesk_store::store_conformance!(Some(super::Sled::new()));

    #[test]
    fn aborted_engine_transaction_writes_nothing() {
        super::aborted_engine_transaction_writes_nothing(&helpdesk_store::testkit::Ctx::new(
            super::Sled::new(),
        ));
    }

    #[test]
    fn scenario_log_snapshot() {
        super::scenario_log_snapshot(&helpdesk_store::testkit::Ctx::new(super::Sled::new()));
    }
}

mod postgres {
    helpdesk_store::store_conformance!(super::Postgres::new());

    #[test]
    fn scenario_log_snapshot() {
        if let Some(ctx) = super::postgres() {
            super::scenario_log_snapshot(&ctx);
        }
    }
}

// ----- checks of the key-value engine -------------------------------------------

fn aborted_engine_transaction_writes_nothing(ctx: &Ctx) {
    let db = ctx.open();
    let e = db.engine().expect("a key-value backend");
    e.transact(&mut |tx| tx.put(b"k0", b"v0")).unwrap();
    let before = db.raw_with_ids();
    let r = e.transact(&mut |tx| {
        tx.put(b"k1", b"v1")?;
        tx.delete(b"k0")?;
        assert_eq!(tx.get(b"k1")?, Some(b"v1".to_vec()), "a transaction sees its own writes");
        assert_eq!(tx.get(b"k0")?, None, "a transaction sees its own deletes");
        Err(StoreError::Backend("abort".into()))
    });
    assert_eq!(r, Err(StoreError::Backend("abort".into())));
    assert_eq!(db.raw_with_ids(), before);
    assert_eq!(e.get(b"k0").unwrap(), Some(b"v0".to_vec()));
    assert_eq!(e.get(b"k1").unwrap(), None);
}

// ----- the scenario log -----------------------------------------------------------

/// Both backends assert against the same snapshot, so they must store the
/// very same log.
fn scenario_log_snapshot(ctx: &Ctx) {
    let (log, spam) = scenario(ctx);
    insta::assert_yaml_snapshot!("scenario_log", log);
    insta::assert_yaml_snapshot!("scenario_log_second_ticket", spam);
}

// ----- both backends at once ---------------------------------------------------------

mod cross_backend {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn scenario_logs_identical() {
        let mem = scenario(&Ctx::new(Memory));
        let sled = scenario(&Ctx::new(Sled::new()));
        assert_eq!(mem, sled);
        assert_eq!(serde_json::to_string(&mem).unwrap(), serde_json::to_string(&sled).unwrap());
        if let Some(ctx) = postgres() {
            let pg = scenario(&ctx);
            assert_eq!(mem, pg);
            assert_eq!(serde_json::to_string(&mem).unwrap(), serde_json::to_string(&pg).unwrap());
        }
    }

    #[derive(Debug, Clone)]
    enum Op {
        Create { user: usize, cc: Option<usize>, by_agent: bool },
        UserReply { t: usize, user: usize },
        AgentReply { t: usize, agent: usize, status: Option<usize> },
        Note { t: usize },
        SetStatus { t: usize, status: usize },
        AddCc { t: usize, user: usize },
        RemoveCc { t: usize, user: usize },
        SetOwner { t: usize, user: usize },
        Delete { t: usize },
        Spam { t: usize },
        Restore { t: usize },
        Purge { t: usize, agent: usize },
        Wait { minutes: i64 },
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            3 => (0..3usize, proptest::option::of(0..3usize), any::<bool>())
                .prop_map(|(user, cc, by_agent)| Op::Create { user, cc, by_agent }),
            2 => (any::<usize>(), 0..3usize).prop_map(|(t, user)| Op::UserReply { t, user }),
            2 => (any::<usize>(), 0..2usize, proptest::option::of(0..7usize))
                .prop_map(|(t, agent, status)| Op::AgentReply { t, agent, status }),
            1 => any::<usize>().prop_map(|t| Op::Note { t }),
            2 => (any::<usize>(), 0..7usize).prop_map(|(t, status)| Op::SetStatus { t, status }),
            1 => (any::<usize>(), 0..3usize).prop_map(|(t, user)| Op::AddCc { t, user }),
            1 => (any::<usize>(), 0..3usize).prop_map(|(t, user)| Op::RemoveCc { t, user }),
            1 => (any::<usize>(), 0..3usize).prop_map(|(t, user)| Op::SetOwner { t, user }),
            1 => any::<usize>().prop_map(|t| Op::Delete { t }),
            1 => any::<usize>().prop_map(|t| Op::Spam { t }),
            1 => any::<usize>().prop_map(|t| Op::Restore { t }),
            1 => (any::<usize>(), 0..2usize).prop_map(|(t, agent)| Op::Purge { t, agent }),
            1 => (1..600i64).prop_map(|minutes| Op::Wait { minutes }),
        ]
    }

    fn run(fx: &Fx, ops: &[Op]) -> Vec<Result<Option<Ticket>, Error>> {
        let users = [fx.ann, fx.ben, fx.eve];
        let agents = [fx.alice, fx.bob];
        let mut tickets: Vec<TicketId> = Vec::new();
        let mut out = Vec::new();
        let pick = |tickets: &Vec<TicketId>, t: usize| {
            tickets.get(t % tickets.len().max(1)).copied().unwrap_or(TicketId(1))
        };
        for op in ops {
            let hd = &fx.hd;
            let a = fx.alice();
            let r = match op.clone() {
                Op::Create { user, cc, by_agent } => {
                    let u = users[user];
                    let mut n = NewTicket::new("Subject", "Body.", fx.support, u, Channel::Portal);
                    n.ccs.extend(cc.map(|c| users[c]));
                    let r = if by_agent {
                        n.channel = Channel::Agent;
                        hd.create_ticket(&a, n)
                    } else {
                        hd.create_ticket(&Actor::User(u), n)
                    };
                    if let Ok(t) = &r {
                        tickets.push(t.id);
                    }
                    r.map(Some)
                }
                Op::UserReply { t, user } => {
                    hd.user_reply(pick(&tickets, t), users[user], "Reply.").map(Some)
                }
                Op::AgentReply { t, agent, status } => hd
                    .agent_reply(pick(&tickets, t), agents[agent], "Answer.", status.map(|s| Status::ALL[s]))
                    .map(Some),
                Op::Note { t } => hd.add_note(pick(&tickets, t), fx.bob, "Note.").map(Some),
                Op::SetStatus { t, status } => hd
                    .execute(pick(&tickets, t), &a, Command::SetStatus { status: Status::ALL[status] })
                    .map(Some),
                Op::AddCc { t, user } => {
                    hd.execute(pick(&tickets, t), &a, Command::AddCc { user: users[user] }).map(Some)
                }
                Op::RemoveCc { t, user } => {
                    hd.execute(pick(&tickets, t), &a, Command::RemoveCc { user: users[user] }).map(Some)
                }
                Op::SetOwner { t, user } => {
                    hd.execute(pick(&tickets, t), &a, Command::SetOwner { user: users[user] }).map(Some)
                }
                Op::Delete { t } => hd.execute(pick(&tickets, t), &a, Command::Delete).map(Some),
                Op::Spam { t } => hd.execute(pick(&tickets, t), &a, Command::MarkSpam).map(Some),
                Op::Restore { t } => hd.execute(pick(&tickets, t), &a, Command::Restore).map(Some),
                Op::Purge { t, agent } => {
                    hd.purge(pick(&tickets, t), &Actor::Agent(agents[agent])).map(|_| None)
                }
                Op::Wait { minutes } => {
                    fx.clock.advance(Duration::minutes(minutes));
                    Ok(None)
                }
            };
            out.push(r);
        }
        out
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 24, failure_persistence: None, ..ProptestConfig::default() })]

        /// The same commands give the same results and the same stored bytes
        /// on both backends, and indexes and counters always match a
        /// recomputation.
        #[test]
        fn random_commands_agree(ops in proptest::collection::vec(op(), 1..60)) {
            let mem_ctx = Ctx::new(Memory);
            let sled_ctx = Ctx::new(Sled::new());
            let mem = mem_ctx.fixture();
            let sled = sled_ctx.fixture();
            let a = run(&mem, &ops);
            let b = run(&sled, &ops);
            prop_assert_eq!(&a, &b);
            check_consistent(mem.db.store());
            check_consistent(sled.db.store());
            prop_assert_eq!(mem.db.raw_with_ids(), sled.db.raw_with_ids());
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 8, failure_persistence: None, ..ProptestConfig::default() })]

        /// The same commands give the same results on PostgreSQL as in
        /// memory, and both stores hold the same (everything the `Store`
        /// trait shows: tickets, logs, index, counters, records, outbox).
        #[test]
        fn random_commands_agree_on_postgres(ops in proptest::collection::vec(op(), 1..60)) {
            let Some(pg_ctx) = postgres() else { return Ok(()) };
            let mem_ctx = Ctx::new(Memory);
            let mem = mem_ctx.fixture();
            let pg = pg_ctx.fixture();
            let a = run(&mem, &ops);
            let b = run(&pg, &ops);
            prop_assert_eq!(&a, &b);
            check_consistent(pg.db.store());
            prop_assert_eq!(dump(mem.db.store()), dump(pg.db.store()));
        }
    }
}
