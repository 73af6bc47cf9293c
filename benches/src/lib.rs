//! # helpdesk-benches: HD-1M
//!
//! A workload generator ([`gen`]) and a benchmark that loads the same
//! helpdesk into helpdesk-rs ("ours", on sled or on PostgreSQL: [`Backend`])
//! and into a SQLite baseline ([`baseline`]), then times the same operations
//! on both in one run: durable ticket create (one writer, and many), user
//! reply, agent reply, filter pages of 25 (a built-in and two custom
//! filters), the counts of all built-in filters of an agent, and opening a
//! ticket with its log. On PostgreSQL it also times creates from 16 writers
//! on one node against two nodes (two `PgStore`s, 8 writers each).
//!
//! `cargo run --release -p helpdesk-benches --bin workload -- --tickets N [--backend postgres] [--json]`
#![warn(missing_docs)]

pub mod baseline;
pub mod gen;

use baseline::{Query, Sqlite};
use chrono::Utc;
use gen::{Generated, Generator, Rng, Shape, World};
use helpdesk_core::filter::*;
use helpdesk_core::*;
use helpdesk_store::pg::{PgOptions, PgStore};
use helpdesk_store::{Helpdesk, NewAgent};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Errors of a benchmark run.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
type R<T> = Result<T, BoxError>;

/// Where "ours" keeps its data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backend {
    /// sled, in `ours.sled` in the run's directory.
    Sled,
    /// PostgreSQL ([`PgStore`]): the (empty) database at this URL.
    Postgres(String),
}

impl Backend {
    /// Its name in tables and JSON.
    pub fn name(&self) -> &'static str {
        match self {
            Backend::Sled => "sled",
            Backend::Postgres(_) => "postgres",
        }
    }
}

/// What to run.
#[derive(Debug, Clone)]
pub struct Options {
    /// Tickets to load.
    pub tickets: u64,
    /// Where the databases go (a fresh directory; SQLite's, and sled's).
    pub dir: PathBuf,
    /// Where ours keeps its data.
    pub backend: Backend,
    /// PostgreSQL only: threads that commit the generated tickets while
    /// loading (sled loads on one).
    pub load_threads: usize,
    /// Generator seed.
    pub seed: u64,
    /// Iterations of each read operation (stopped early after `op_time`).
    pub reads: usize,
    /// Iterations of each durable write operation.
    pub writes: usize,
    /// Writer threads for the concurrent create.
    pub threads: usize,
    /// Time limit of one operation on one store.
    pub op_time: Duration,
    /// Print progress to stderr.
    pub progress: bool,
}

impl Options {
    /// Defaults for `tickets` tickets in `dir`.
    pub fn new(tickets: u64, dir: PathBuf) -> Options {
        Options {
            tickets,
            dir,
            backend: Backend::Sled,
            load_threads: 4,
            seed: 42,
            reads: 2000,
            writes: 300,
            threads: 8,
            op_time: Duration::from_secs(30),
            progress: false,
        }
    }
}

/// Latencies of one operation on one store.
#[derive(Debug, Clone, Default)]
pub struct Stats {
    /// Samples, ns, sorted.
    pub samples: Vec<u64>,
}

impl Stats {
    fn from(mut samples: Vec<u64>) -> Stats {
        samples.sort_unstable();
        Stats { samples }
    }
    /// A percentile (0-100), ns.
    pub fn pct(&self, p: f64) -> u64 {
        if self.samples.is_empty() {
            return 0;
        }
        let i = ((self.samples.len() - 1) as f64 * p / 100.0).round() as usize;
        self.samples[i]
    }
    /// The median, ns.
    pub fn p50(&self) -> u64 {
        self.pct(50.0)
    }
    /// The 99th percentile, ns.
    pub fn p99(&self) -> u64 {
        self.pct(99.0)
    }
}

/// One operation's result on both stores.
#[derive(Debug, Clone)]
pub struct OpResult {
    /// Name.
    pub op: String,
    /// Ours (helpdesk-rs on sled).
    pub ours: Stats,
    /// SQLite.
    pub baseline: Stats,
    /// For throughput rows: ns per op from wall time (ours, baseline).
    pub per_op_wall: Option<(u64, u64)>,
}

impl OpResult {
    /// Ours, median ns (for throughput rows: wall ns per op).
    pub fn ours_ns(&self) -> u64 {
        self.per_op_wall.map_or(self.ours.p50(), |w| w.0)
    }
    /// Baseline, median ns (for throughput rows: wall ns per op).
    pub fn baseline_ns(&self) -> u64 {
        self.per_op_wall.map_or(self.baseline.p50(), |w| w.1)
    }
    /// ours / baseline: below 1 means we are faster.
    pub fn ratio(&self) -> f64 {
        self.ours_ns() as f64 / self.baseline_ns().max(1) as f64
    }
    /// The JSON line for `--json`.
    pub fn json(&self) -> String {
        serde_json::json!({
            "op": self.op,
            "ours_ns": self.ours_ns(),
            "baseline_ns": self.baseline_ns(),
            "ours_p99_ns": self.ours.p99(),
            "baseline_p99_ns": self.baseline.p99(),
            "ratio": (self.ratio() * 10_000.0).round() / 10_000.0,
            "samples": self.ours.samples.len().min(self.baseline.samples.len()),
        })
        .to_string()
    }
}

/// Durable creates from the same number of writers on one node and on
/// two (PostgreSQL only): two nodes are two [`PgStore`]s, each with its own
/// connection pool, as two processes would have, on the same database.
#[derive(Debug, Clone)]
pub struct Nodes {
    /// Writers in all (half on each node when there are two).
    pub writers: usize,
    /// Each node's connection pool size.
    pub pool_size: u32,
    /// Latencies, one node.
    pub one: Stats,
    /// Latencies, two nodes.
    pub two: Stats,
    /// Wall ns per create, one node.
    pub one_wall_ns: u64,
    /// Wall ns per create, two nodes.
    pub two_wall_ns: u64,
}

impl Nodes {
    /// Two nodes' create throughput over one node's.
    pub fn speedup(&self) -> f64 {
        self.one_wall_ns as f64 / self.two_wall_ns.max(1) as f64
    }

    /// The JSON line for `--json`.
    pub fn json(&self) -> String {
        serde_json::json!({
            "op": format!("ticket create (durable), {} writers: one node vs two nodes", self.writers),
            "one_node_wall_ns": self.one_wall_ns,
            "two_nodes_wall_ns": self.two_wall_ns,
            "one_node_p50_ns": self.one.p50(),
            "two_nodes_p50_ns": self.two.p50(),
            "one_node_p99_ns": self.one.p99(),
            "two_nodes_p99_ns": self.two.p99(),
            "speedup": (self.speedup() * 1000.0).round() / 1000.0,
            "pool_size": self.pool_size,
            "samples": self.one.samples.len().min(self.two.samples.len()),
        })
        .to_string()
    }
}

/// Everything a run measured.
#[derive(Debug, Clone)]
pub struct Report {
    /// Ours: "sled" or "postgres".
    pub backend: &'static str,
    /// The workload.
    pub shape: Shape,
    /// Per operation.
    pub ops: Vec<OpResult>,
    /// One node against two (PostgreSQL only).
    pub nodes: Option<Nodes>,
    /// Seconds to generate and load both stores (in parallel).
    pub load_secs: f64,
    /// Seconds SQLite took to build its indexes after the load.
    pub sqlite_index_secs: f64,
    /// PostgreSQL only: seconds of the `VACUUM (ANALYZE)` after the load.
    pub ours_vacuum_secs: f64,
    /// Resident memory at the end, bytes (the whole process: both stores).
    pub rss: u64,
    /// Peak resident memory, bytes.
    pub rss_peak: u64,
    /// Peak resident memory of the loading process, bytes.
    pub load_rss_peak: u64,
    /// Our database on disk, bytes.
    pub ours_bytes: u64,
    /// SQLite's database on disk (with WAL), bytes.
    pub baseline_bytes: u64,
    /// SQLite's query plans for the lists.
    pub plans: Vec<(String, String)>,
}

impl Report {
    /// The table for people.
    pub fn table(&self) -> String {
        let mut s = String::new();
        let us = |ns: u64| {
            if ns >= 10_000_000 {
                format!("{:.1} ms", ns as f64 / 1e6)
            } else {
                format!("{:.1} µs", ns as f64 / 1e3)
            }
        };
        s.push_str(&format!("ours: helpdesk-rs on {}\n", self.backend));
        s.push_str(&format!(
            "| {:<44} | {:>11} | {:>11} | {:>11} | {:>11} | {:>9} |\n",
            "operation", "ours p50", "ours p99", "SQLite p50", "SQLite p99", "ours/SQL"
        ));
        s.push_str(&format!("|{:-<46}|{:->13}|{:->13}|{:->13}|{:->13}|{:->11}|\n", "", "", "", "", "", ""));
        for o in &self.ops {
            s.push_str(&format!(
                "| {:<44} | {:>11} | {:>11} | {:>11} | {:>11} | {:>9.3} |\n",
                o.op,
                us(o.ours_ns()),
                us(o.ours.p99()),
                us(o.baseline_ns()),
                us(o.baseline.p99()),
                o.ratio()
            ));
        }
        if let Some(n) = &self.nodes {
            s.push_str(&format!(
                "\nticket create (durable), {} writers, wall/op: one node {} (p50 {}, p99 {}); two nodes of {} writers {} (p50 {}, p99 {}); two nodes / one node throughput: {:.2}x (pool {} connections a node)\n",
                n.writers,
                us(n.one_wall_ns),
                us(n.one.p50()),
                us(n.one.p99()),
                n.writers / 2,
                us(n.two_wall_ns),
                us(n.two.p50()),
                us(n.two.p99()),
                n.speedup(),
                n.pool_size
            ));
        }
        let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
        s.push_str(&format!(
            "\n{} tickets, {} users, {} agents, {} teams, {} departments, {} organisations\n",
            self.shape.tickets,
            self.shape.users,
            self.shape.agents,
            self.shape.teams,
            self.shape.departments,
            self.shape.organisations
        ));
        s.push_str(&format!(
            "load (generate + both stores in parallel): {:.1} s; SQLite index build: {:.1} s\n",
            self.load_secs, self.sqlite_index_secs
        ));
        if self.backend == "postgres" {
            s.push_str(&format!(
                "PostgreSQL VACUUM (ANALYZE) after the load: {:.1} s\n",
                self.ours_vacuum_secs
            ));
            s.push_str(&format!(
                "RSS at end: {:.0} MiB (peak {:.0} MiB) in the measuring process (SQLite cache_size 64 MiB; the PostgreSQL server's memory is not in it); the loading process peaked at {:.0} MiB\n",
                mib(self.rss),
                mib(self.rss_peak),
                mib(self.load_rss_peak)
            ));
        } else {
            s.push_str(&format!(
                "RSS at end: {:.0} MiB (peak {:.0} MiB) in the measuring process, which opened both loaded stores (SQLite cache_size 64 MiB, sled cache 256 MiB); the loading process peaked at {:.0} MiB\n",
                mib(self.rss),
                mib(self.rss_peak),
                mib(self.load_rss_peak)
            ));
        }
        s.push_str(&format!(
            "store size: ours {:.0} MiB, SQLite {:.0} MiB\n",
            mib(self.ours_bytes),
            mib(self.baseline_bytes)
        ));
        if self.backend == "postgres" {
            s.push_str("durable = ours: PostgreSQL commit with synchronous_commit=on (WAL flushed; concurrent commits may share a flush); SQLite: WAL, synchronous=FULL (fdatasync per commit)\n");
        } else {
            s.push_str("durable = ours: commit acknowledged after sled's flush and an fdatasync of its log, both shared by concurrent commits; SQLite: WAL, synchronous=FULL (fdatasync per commit)\n");
        }
        for (q, p) in &self.plans {
            s.push_str(&format!("SQLite plan, {q}: {p}\n"));
        }
        s
    }

    /// The closing JSON object for `--json` (after the per-operation lines).
    pub fn summary_json(&self) -> String {
        serde_json::json!({ "summary": {
            "backend": self.backend,
            "tickets": self.shape.tickets,
            "load_secs": self.load_secs,
            "ours_vacuum_secs": self.ours_vacuum_secs,
            "rss_bytes": self.rss,
            "rss_peak_bytes": self.rss_peak,
            "load_rss_peak_bytes": self.load_rss_peak,
            "ours_store_bytes": self.ours_bytes,
            "baseline_store_bytes": self.baseline_bytes,
        }})
        .to_string()
    }
}

/// Resident and peak memory of this process, bytes (Linux; 0 elsewhere).
pub fn rss() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<u64>().ok())
            .map_or(0, |kib| kib * 1024)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// Bytes under a path.
pub fn disk_usage(p: &Path) -> u64 {
    match std::fs::metadata(p) {
        Ok(m) if m.is_dir() => {
            std::fs::read_dir(p).map(|rd| rd.flatten().map(|e| disk_usage(&e.path())).sum()).unwrap_or(0)
        }
        Ok(m) => m.len(),
        Err(_) => 0,
    }
}

/// The custom filters the benchmark lists.
pub fn custom_filters() -> Vec<(&'static str, CustomFilter)> {
    let exact: CustomFilter = serde_json::from_str(
        r#"{"name": "my teams, awaiting agent or pending, urgency >= 4",
            "criteria": {"team": ["mine"], "status": ["awaiting_agent", "pending"], "urgency": {"min": 4}}}"#,
    )
    .expect("valid");
    let post: CustomFilter = serde_json::from_str(
        r#"{"name": "vip, awaiting agent", "criteria": {"status": ["awaiting_agent"], "labels": {"any": ["vip"]}}}"#,
    )
    .expect("valid");
    vec![("custom (team, status, urgency: index-exact)", exact), ("custom (label vip: label streams)", post)]
}

fn log(opts: &Options, msg: impl AsRef<str>) {
    if opts.progress {
        eprintln!("[{}] {}", Utc::now().format("%H:%M:%S"), msg.as_ref());
    }
}

/// The directory both stores hold: created in ours, copied to SQLite.
fn load_directory(hd: &Helpdesk, sql: &Sqlite, shape: &Shape) -> R<World> {
    let plan = FieldDef {
        key: "plan".into(),
        label: "Plan".into(),
        kind: FieldKind::Choice { options: vec!["basic".into(), "pro".into(), "enterprise".into()] },
        required: false,
        agent_only: false,
        retired: false,
    };
    let mut departments = Vec::new();
    for i in 1..=shape.departments {
        let d = hd.create_department(&format!("Department {i}"), vec![plan.clone()])?;
        sql.put_record(&Record::Department(d.clone()))?;
        departments.push(d);
    }
    let mut teams = Vec::new();
    for i in 1..=shape.teams {
        let t = hd.create_team(&format!("Team {i}"))?;
        sql.put_record(&Record::Team(t.clone()))?;
        teams.push(t);
    }
    let dept_ids: Vec<_> = departments.iter().map(|d| d.id).collect();
    let team_ids: Vec<_> = teams.iter().map(|t| t.id).collect();
    let mut agents = Vec::new();
    for (name, email, ts, perms) in World::agents_to_create(shape, &dept_ids, &team_ids) {
        let a = hd.create_agent(NewAgent::new(name, email).teams(ts).permissions(perms))?;
        sql.put_record(&Record::Agent(a.clone()))?;
        agents.push(a);
    }
    for i in 1..=shape.organisations {
        let o = hd.create_organisation(&format!("Org {i}"), &[&format!("org{i}.test")])?;
        sql.put_record(&Record::Organisation(o))?;
    }
    for i in 1..=shape.users {
        let u = hd.create_user(NewUser::new(format!("User {i}"), World::user_email(shape, i)))?;
        if u.id.0 != i {
            return Err(format!("user {i} got id {}", u.id).into());
        }
        sql.put_record(&Record::User(u))?;
    }
    Ok(World::new(departments, teams, agents, shape.users))
}

/// Ids to run writes on, sampled while loading.
#[derive(Default)]
struct Pools {
    awaiting_agent: Vec<TicketId>,
    awaiting_user: Vec<(TicketId, UserId)>,
}

/// What loading left for measuring (saved as `load.json` in the directory).
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct Loaded {
    /// Seconds to generate and load both stores.
    pub load_secs: f64,
    /// Seconds SQLite took to build its indexes.
    pub sqlite_index_secs: f64,
    /// Peak RSS of the loading process, bytes.
    pub load_rss_peak: u64,
    /// Sampled tickets awaiting agent (agent replies go there).
    pub awaiting_agent: Vec<u64>,
    /// Sampled tickets awaiting user, with their owner (user replies go there).
    pub awaiting_user: Vec<(u64, u64)>,
    /// The random state after loading.
    pub rng: u64,
    /// PostgreSQL only: seconds of the `VACUUM (ANALYZE)` after the load.
    #[serde(default)]
    pub ours_vacuum_secs: f64,
}

/// Opens ours: sled in `dir`, or a [`PgStore`] with a pool of `pool_size`.
fn open_ours(opts: &Options, durability: Durability, pool_size: u32) -> R<Helpdesk> {
    let builder = Helpdesk::builder().durability(durability);
    Ok(match &opts.backend {
        Backend::Sled => builder.open(opts.dir.join("ours.sled"))?,
        Backend::Postgres(url) => {
            let store = PgStore::open_with(url, &PgOptions { pool_size, ..PgOptions::default() })?;
            builder.store(Arc::new(store))
        }
    })
}

/// A plain client on the PostgreSQL database (sizes, `VACUUM`).
fn pg_client(url: &str) -> R<postgres::Client> {
    Ok(postgres::Client::connect(url, postgres::NoTls)?)
}

/// Runs the whole benchmark in this process: [`load`], then [`measure`].
pub fn run(opts: &Options) -> R<Report> {
    load(opts)?;
    measure(opts)
}

/// Generates the workload and loads both stores into `opts.dir`, in
/// parallel (ours on this thread, SQLite on another), then closes them.
pub fn load(opts: &Options) -> R<Loaded> {
    let shape = Shape::hd(opts.tickets);
    std::fs::create_dir_all(&opts.dir)?;
    let sql_path = opts.dir.join("baseline.sqlite");
    let pg = matches!(opts.backend, Backend::Postgres(_));
    let load_threads = if pg { opts.load_threads.max(1) } else { 0 };
    let loader = open_ours(opts, Durability::Buffered, load_threads as u32 + 2)?;
    if pg && loader.store().last_ticket_id()?.is_some() {
        return Err("the PostgreSQL database already holds tickets: give the benchmark an empty one".into());
    }
    let sql = Sqlite::create(&sql_path)?;
    let started = Instant::now();
    sql.begin_load()?;
    log(opts, format!("directory: {} users", shape.users));
    let world = load_directory(&loader, &sql, &shape)?;
    log(opts, "tickets");
    // SQLite loads on a second thread while this one generates and loads ours.
    let (tx, rx) = std::sync::mpsc::sync_channel::<Generated>(4096);
    let sql_thread = std::thread::spawn(move || -> R<(Sqlite, f64)> {
        let mut n = 0u64;
        let mut last = 0;
        for g in rx {
            sql.load_ticket(&g.ticket, &g.events)?;
            n += 1;
            last = g.ticket.id.0;
            if n.is_multiple_of(20_000) {
                sql.load_batch()?;
            }
        }
        let t = Instant::now();
        sql.finish_load(last)?;
        Ok((sql, t.elapsed().as_secs_f64()))
    });
    // PostgreSQL: commits from several threads (one at a time over loopback
    // is round-trip bound); the ids are 1..=N, as a fresh sequence would
    // hand out, and each creating commit raises the sequence past its id.
    let (pg_tx, pg_rx) = std::sync::mpsc::sync_channel::<Commit>(1024);
    let pg_rx = Arc::new(std::sync::Mutex::new(pg_rx));
    let committers: Vec<std::thread::JoinHandle<R<()>>> = (0..load_threads)
        .map(|_| {
            let (rx, store) = (pg_rx.clone(), loader.store().clone());
            std::thread::spawn(move || -> R<()> {
                loop {
                    let next = rx.lock().map_err(|_| "loader lock poisoned")?.recv();
                    let Ok(commit) = next else { return Ok(()) };
                    store.commit(&commit)?;
                }
            })
        })
        .collect();
    let mut generator = Generator::new(&world, shape, opts.seed, Utc::now());
    let mut pools = Pools::default();
    let mut rng = Rng::new(opts.seed ^ 0xabc);
    for i in 0..shape.tickets {
        let id = if pg { TicketId(i + 1) } else { TicketId(loader.store().next_id(IdKind::Ticket)?) };
        let g = generator.ticket(i, id);
        let keep = |len: usize, rng: &mut Rng| len < 50_000 || rng.chance(0.05);
        match g.ticket.status {
            Status::AwaitingAgent if keep(pools.awaiting_agent.len(), &mut rng) => {
                pools.awaiting_agent.push(id)
            }
            Status::AwaitingUser if keep(pools.awaiting_user.len(), &mut rng) => {
                pools.awaiting_user.push((id, g.ticket.user))
            }
            _ => {}
        }
        let commit =
            Commit::new(None, Some(g.ticket.clone()), g.events.clone()).with_durability(Durability::Buffered);
        if pg {
            if pg_tx.send(commit).is_err() {
                break;
            }
        } else {
            loader.store().commit(&commit)?;
        }
        if tx.send(g).is_err() {
            break;
        }
        if opts.progress && (i + 1) % 100_000 == 0 {
            log(opts, format!("{} tickets, {:.0} s", i + 1, started.elapsed().as_secs_f64()));
        }
    }
    drop(tx);
    drop(pg_tx);
    for c in committers {
        c.join().map_err(|_| "a PostgreSQL loader thread panicked")??;
    }
    loader.flush()?;
    let (sql, sqlite_index_secs) = sql_thread.join().map_err(|_| "SQLite loader panicked")??;
    let load_secs = started.elapsed().as_secs_f64();
    log(opts, format!("loaded in {load_secs:.0} s"));
    let mut ours_vacuum_secs = 0.0;
    if let Backend::Postgres(url) = &opts.backend {
        // What an operator runs after a bulk import (autovacuum would get
        // there later): planner statistics and the visibility map, so that
        // the measured queries see a settled database.
        let t = Instant::now();
        pg_client(url)?.batch_execute("VACUUM (ANALYZE)")?;
        ours_vacuum_secs = t.elapsed().as_secs_f64();
        log(opts, format!("PostgreSQL VACUUM (ANALYZE) in {ours_vacuum_secs:.0} s"));
    }
    drop(generator);
    drop(loader);
    drop(sql);
    let loaded = Loaded {
        load_secs,
        sqlite_index_secs,
        load_rss_peak: rss().1,
        awaiting_agent: pools.awaiting_agent.iter().map(|t| t.0).collect(),
        awaiting_user: pools.awaiting_user.iter().map(|(t, u)| (t.0, u.0)).collect(),
        rng: rng.next_u64(),
        ours_vacuum_secs,
    };
    std::fs::write(opts.dir.join("load.json"), serde_json::to_vec(&loaded)?)?;
    Ok(loaded)
}

/// Opens the stores [`load`] left in `opts.dir` (as a server would after an
/// import: the measured state is the loaded database, not the loader's
/// caches), checks they agree, and times every operation on both.
pub fn measure(opts: &Options) -> R<Report> {
    let shape = Shape::hd(opts.tickets);
    let sql_path = opts.dir.join("baseline.sqlite");
    let loaded: Loaded = serde_json::from_slice(&std::fs::read(opts.dir.join("load.json"))?)?;
    let mut rng = Rng::new(loaded.rng);
    let mut pools = Pools {
        awaiting_agent: loaded.awaiting_agent.iter().map(|t| TicketId(*t)).collect(),
        awaiting_user: loaded.awaiting_user.iter().map(|(t, u)| (TicketId(*t), UserId(*u))).collect(),
    };
    let (load_secs, sqlite_index_secs) = (loaded.load_secs, loaded.sqlite_index_secs);
    let hd = open_ours(opts, Durability::Durable, PgOptions::default().pool_size)?;
    let sql = Sqlite::open(&sql_path)?;
    let ctx = Ctx { hd, sql, shape, opts: opts.clone() };
    let mut ops = Vec::new();
    ctx.check_agreement(&mut rng)?;
    log(opts, "measuring");
    ops.push(ctx.create(&mut rng)?);
    ops.push(ctx.user_reply(&mut pools, &mut rng)?);
    ops.push(ctx.agent_reply(&mut pools, &mut rng)?);
    ops.push(ctx.page("filter page of 25: All (built-in)", &Query::BuiltIn(BuiltIn::All), &mut rng)?);
    ops.push(ctx.page(
        "filter page of 25: My Teams (built-in)",
        &Query::BuiltIn(BuiltIn::MyTeams),
        &mut rng,
    )?);
    for (name, f) in custom_filters() {
        ops.push(ctx.page(&format!("filter page of 25: {name}"), &Query::Custom(Box::new(f)), &mut rng)?);
    }
    ops.push(ctx.counts(&mut rng)?);
    ops.push(ctx.open(&mut rng)?);
    ops.push(ctx.create_concurrent(&mut rng)?);
    let nodes = match &opts.backend {
        Backend::Postgres(_) => Some(ctx.nodes(16, &mut rng)?),
        Backend::Sled => None,
    };
    let viewer = ctx.sql.viewer(AgentId(1))?;
    let mut plans = vec![];
    for (name, q) in [("All", Query::BuiltIn(BuiltIn::All)), ("My Teams", Query::BuiltIn(BuiltIn::MyTeams))]
        .into_iter()
        .chain(custom_filters().into_iter().map(|(n, f)| (n, Query::Custom(Box::new(f)))))
    {
        plans.push((name.to_string(), ctx.sql.explain(&viewer, &q)?));
    }
    ctx.hd.flush()?;
    let (rss, rss_peak) = rss();
    let ours_bytes = match &opts.backend {
        Backend::Sled => disk_usage(&opts.dir.join("ours.sled")),
        Backend::Postgres(url) => {
            let row = pg_client(url)?.query_one("SELECT pg_database_size(current_database())", &[])?;
            row.get::<_, i64>(0) as u64
        }
    };
    Ok(Report {
        backend: opts.backend.name(),
        shape,
        ops,
        nodes,
        load_secs,
        sqlite_index_secs,
        ours_vacuum_secs: loaded.ours_vacuum_secs,
        rss,
        rss_peak,
        load_rss_peak: loaded.load_rss_peak,
        ours_bytes,
        baseline_bytes: disk_usage(&sql_path)
            + disk_usage(&PathBuf::from(format!("{}-wal", sql_path.display())))
            + disk_usage(&PathBuf::from(format!("{}-shm", sql_path.display()))),
        plans,
    })
}

struct Ctx {
    hd: Helpdesk,
    sql: Sqlite,
    shape: Shape,
    opts: Options,
}

fn time<T>(f: impl FnOnce() -> R<T>) -> R<(u64, T)> {
    let t = Instant::now();
    let v = f()?;
    Ok((t.elapsed().as_nanos() as u64, v))
}

fn ids<T: std::borrow::Borrow<TicketSummary>>(ts: &[T]) -> Vec<TicketId> {
    ts.iter().map(|t| t.borrow().id).collect()
}

impl Ctx {
    fn agent(&self, rng: &mut Rng) -> AgentId {
        AgentId(1 + rng.below(self.shape.agents))
    }

    fn new_ticket(&self, rng: &mut Rng) -> (Actor, NewTicket) {
        let user = UserId(1 + rng.below(self.shape.users));
        let dept = DepartmentId(1 + rng.below(self.shape.departments));
        let new =
            NewTicket::new("Printer on fire", "It is on fire. Please help.", dept, user, Channel::Portal);
        (Actor::User(user), new)
    }

    /// Both stores give the same lists and counts (the benchmark compares like with like).
    fn check_agreement(&self, rng: &mut Rng) -> R<()> {
        let mut queries = vec![
            Query::BuiltIn(BuiltIn::All),
            Query::BuiltIn(BuiltIn::MyTeams),
            Query::BuiltIn(BuiltIn::MyTickets),
        ];
        queries.extend(custom_filters().into_iter().map(|(_, f)| Query::Custom(Box::new(f))));
        for _ in 0..20 {
            let a = self.agent(rng);
            let v = self.sql.viewer(a)?;
            for q in &queries {
                let ours = self.hd.filter_page(a, q.filter(), None, 25)?;
                let base = self.sql.page(&v, q, 25)?;
                if ids(&ours.tickets) != ids(&base) {
                    return Err(format!(
                        "{a} {q:?}: ours {:?} != SQLite {:?}",
                        ids(&ours.tickets),
                        ids(&base)
                    )
                    .into());
                }
            }
            let ours = self.hd.filter_counts(a)?;
            let base = self.sql.builtin_counts(a)?;
            if ours != base {
                return Err(format!("{a}: counts ours {ours:?} != SQLite {base:?}").into());
            }
        }
        Ok(())
    }

    /// Runs `ours` and `base` on the same inputs, alternating, up to `n`
    /// times or until either has used `op_time`.
    fn measure<I>(
        &self,
        name: &str,
        n: usize,
        rng: &mut Rng,
        mut input: impl FnMut(&mut Rng) -> Option<I>,
        mut ours: impl FnMut(&I) -> R<()>,
        mut base: impl FnMut(&I) -> R<()>,
    ) -> R<OpResult> {
        log(&self.opts, format!("  {name}"));
        let (mut a, mut b) = (Vec::with_capacity(n), Vec::with_capacity(n));
        let (mut ta, mut tb) = (Duration::ZERO, Duration::ZERO);
        for i in 0..n {
            let Some(x) = input(rng) else { break };
            // Alternate which store goes first.
            if i % 2 == 0 {
                a.push(time(|| ours(&x))?.0);
                b.push(time(|| base(&x))?.0);
            } else {
                b.push(time(|| base(&x))?.0);
                a.push(time(|| ours(&x))?.0);
            }
            ta += Duration::from_nanos(*a.last().unwrap_or(&0));
            tb += Duration::from_nanos(*b.last().unwrap_or(&0));
            if i >= 20 && (ta > self.opts.op_time || tb > self.opts.op_time) {
                break;
            }
        }
        Ok(OpResult { op: name.into(), ours: Stats::from(a), baseline: Stats::from(b), per_op_wall: None })
    }

    fn create(&self, rng: &mut Rng) -> R<OpResult> {
        self.measure(
            "ticket create (durable)",
            self.opts.writes,
            rng,
            |r| Some(self.new_ticket(r)),
            |(actor, new)| Ok(self.hd.create_ticket(actor, new.clone()).map(|_| ())?),
            |(actor, new)| self.sql.create_ticket(actor, new.clone(), Utc::now()).map(|_| ()),
        )
    }

    fn user_reply(&self, pools: &mut Pools, rng: &mut Rng) -> R<OpResult> {
        let pool = std::cell::RefCell::new(std::mem::take(&mut pools.awaiting_user));
        self.measure(
            "user reply (durable)",
            self.opts.writes,
            rng,
            |r| {
                let mut p = pool.borrow_mut();
                (!p.is_empty()).then(|| {
                    let i = r.below(p.len() as u64) as usize;
                    p.swap_remove(i)
                })
            },
            |(t, u)| Ok(self.hd.user_reply(*t, *u, "Here is more detail.").map(|_| ())?),
            |(t, u)| {
                let cmd = Command::UserReply {
                    body: "Here is more detail.".into(),
                    attachments: vec![],
                    channel: Channel::Portal,
                };
                self.sql.execute(*t, &Actor::User(*u), cmd, Utc::now()).map(|_| ())
            },
        )
    }

    fn agent_reply(&self, pools: &mut Pools, rng: &mut Rng) -> R<OpResult> {
        let pool = std::cell::RefCell::new(std::mem::take(&mut pools.awaiting_agent));
        self.measure(
            "agent reply (durable)",
            self.opts.writes,
            rng,
            |r| {
                let mut p = pool.borrow_mut();
                (!p.is_empty()).then(|| {
                    let i = r.below(p.len() as u64) as usize;
                    p.swap_remove(i)
                })
            },
            |t| Ok(self.hd.agent_reply(*t, AgentId(1), "We fixed it.", None).map(|_| ())?),
            |t| {
                let cmd =
                    Command::AgentReply { body: "We fixed it.".into(), attachments: vec![], status: None };
                self.sql.execute(*t, &Actor::Agent(AgentId(1)), cmd, Utc::now()).map(|_| ())
            },
        )
    }

    fn page(&self, name: &str, q: &Query, rng: &mut Rng) -> R<OpResult> {
        // Warm both statement caches and page caches for every agent first.
        for a in 1..=self.shape.agents {
            self.hd.filter_page(AgentId(a), q.filter(), None, 25)?;
            self.sql.page(&self.sql.viewer(AgentId(a))?, q, 25)?;
        }
        self.measure(
            name,
            self.opts.reads,
            rng,
            |r| Some(self.agent(r)),
            |a| Ok(self.hd.filter_page(*a, q.filter(), None, 25).map(|_| ())?),
            |a| self.sql.page(&self.sql.viewer(*a)?, q, 25).map(|_| ()),
        )
    }

    fn counts(&self, rng: &mut Rng) -> R<OpResult> {
        self.measure(
            "counts of the 11 built-in filters of an agent",
            self.opts.reads,
            rng,
            |r| Some(self.agent(r)),
            |a| Ok(self.hd.filter_counts(*a).map(|_| ())?),
            |a| self.sql.builtin_counts(*a).map(|_| ()),
        )
    }

    fn open(&self, rng: &mut Rng) -> R<OpResult> {
        let n = self.shape.tickets;
        self.measure(
            "open a ticket with its log",
            self.opts.reads,
            rng,
            |r| Some(TicketId(1 + r.below(n))),
            |t| {
                self.hd.ticket(*t)?;
                self.hd.log(*t)?;
                Ok(())
            },
            |t| {
                self.sql.ticket(*t)?;
                self.sql.log(*t)?;
                Ok(())
            },
        )
    }

    /// Throughput of durable creates from `threads` writers: ours shares
    /// flushes between concurrent commits; SQLite serialises writers.
    fn create_concurrent(&self, rng: &mut Rng) -> R<OpResult> {
        let threads = self.opts.threads.max(1);
        let per = (self.opts.writes / threads).max(10);
        let name = format!("ticket create (durable), {threads} writers: wall/op");
        log(&self.opts, format!("  {name}"));
        let inputs: Vec<Vec<(Actor, NewTicket)>> =
            (0..threads).map(|_| (0..per).map(|_| self.new_ticket(rng)).collect()).collect();
        let hd = &self.hd;
        let path = self.sql.path().to_path_buf();
        let run = |ours: bool| -> R<(Vec<u64>, u64)> {
            let start = Instant::now();
            let results: R<Vec<u64>> = std::thread::scope(|s| {
                let handles: Vec<_> = inputs
                    .iter()
                    .map(|batch| {
                        let path = path.clone();
                        s.spawn(move || -> R<Vec<u64>> {
                            let sql = if ours { None } else { Some(Sqlite::open(&path)?) };
                            let mut lat = Vec::with_capacity(batch.len());
                            for (actor, new) in batch {
                                let t = Instant::now();
                                match &sql {
                                    None => {
                                        hd.create_ticket(actor, new.clone())?;
                                    }
                                    Some(c) => {
                                        c.create_ticket(actor, new.clone(), Utc::now())?;
                                    }
                                }
                                lat.push(t.elapsed().as_nanos() as u64);
                            }
                            Ok(lat)
                        })
                    })
                    .collect();
                joined(handles)
            });
            let wall = start.elapsed().as_nanos() as u64;
            let all = results?;
            let n = all.len().max(1) as u64;
            Ok((all, wall / n))
        };
        let (a, wa) = run(true)?;
        let (b, wb) = run(false)?;
        Ok(OpResult { op: name, ours: Stats::from(a), baseline: Stats::from(b), per_op_wall: Some((wa, wb)) })
    }

    /// Durable creates from `writers` threads on one node (this helpdesk)
    /// against two nodes (this one and a second helpdesk on its own
    /// [`PgStore`], `writers / 2` threads each), on the same database. Two
    /// rounds of each, in the order one, two, two, one.
    fn nodes(&self, writers: usize, rng: &mut Rng) -> R<Nodes> {
        let pool_size = PgOptions::default().pool_size;
        log(&self.opts, format!("  ticket create (durable), {writers} writers: one node vs two nodes"));
        let second = open_ours(&self.opts, Durability::Durable, pool_size)?;
        let per = (self.opts.writes / 8).max(10);
        // Warm the second node as the first is (records, rules, notify cache).
        for _ in 0..3 {
            let (actor, new) = self.new_ticket(rng);
            second.create_ticket(&actor, new)?;
        }
        let run = |two: bool, rng: &mut Rng| -> R<(Vec<u64>, u64, u64)> {
            let inputs: Vec<Vec<(Actor, NewTicket)>> =
                (0..writers).map(|_| (0..per).map(|_| self.new_ticket(rng)).collect()).collect();
            let start = Instant::now();
            let results: R<Vec<u64>> = std::thread::scope(|s| {
                let handles: Vec<_> = inputs
                    .iter()
                    .enumerate()
                    .map(|(i, batch)| {
                        let hd = if two && i % 2 == 1 { &second } else { &self.hd };
                        s.spawn(move || -> R<Vec<u64>> {
                            let mut lat = Vec::with_capacity(batch.len());
                            for (actor, new) in batch {
                                let t = Instant::now();
                                hd.create_ticket(actor, new.clone())?;
                                lat.push(t.elapsed().as_nanos() as u64);
                            }
                            Ok(lat)
                        })
                    })
                    .collect();
                joined(handles)
            });
            let wall = start.elapsed().as_nanos() as u64;
            let all = results?;
            let n = all.len() as u64;
            Ok((all, wall, n))
        };
        let (mut one, mut two) = (Vec::new(), Vec::new());
        let (mut one_wall, mut one_n, mut two_wall, mut two_n) = (0u64, 0u64, 0u64, 0u64);
        for two_nodes in [false, true, true, false] {
            let (lat, wall, n) = run(two_nodes, rng)?;
            if two_nodes {
                two.extend(lat);
                two_wall += wall;
                two_n += n;
            } else {
                one.extend(lat);
                one_wall += wall;
                one_n += n;
            }
        }
        Ok(Nodes {
            writers,
            pool_size,
            one: Stats::from(one),
            two: Stats::from(two),
            one_wall_ns: one_wall / one_n.max(1),
            two_wall_ns: two_wall / two_n.max(1),
        })
    }
}

/// Joins writer threads: every writer's latencies, together, or the first
/// writer's error.
fn joined(handles: Vec<std::thread::ScopedJoinHandle<'_, R<Vec<u64>>>>) -> R<Vec<u64>> {
    let mut all = Vec::new();
    for h in handles {
        all.extend(h.join().unwrap_or_else(|_| Err("writer panicked".into()))?);
    }
    Ok(all)
}
