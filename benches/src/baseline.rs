//! The baseline: the same helpdesk operations on SQLite (rusqlite, bundled),
//! the way a careful team would build them on a relational store.
//!
//! Same data as ours: every directory record and ticket state as the same
//! JSON, every log event, the same binary summary per ticket, plus the columns
//! and side tables (labels, followers) that filters query. The same domain
//! rules (`create`/`decide`) decide every change; only storage differs.
//!
//! Durability: WAL with `synchronous=FULL` (every commit fsyncs the WAL), like
//! our durable commits (acknowledged after sled's flush). Lists are read with
//! covering indexes in list order; counts are `COUNT(*)` over those indexes.

use chrono::{DateTime, Utc};
use helpdesk_core::filter::*;
use helpdesk_core::*;
use rusqlite::{params, Connection, OptionalExtension};
use std::path::{Path, PathBuf};

type R<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// A SQLite helpdesk.
pub struct Sqlite {
    conn: Connection,
    path: PathBuf,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS records (kind TEXT NOT NULL, id INTEGER NOT NULL, json TEXT NOT NULL, PRIMARY KEY (kind, id)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS seq (name TEXT PRIMARY KEY, v INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS tickets (
    id INTEGER PRIMARY KEY,
    version INTEGER NOT NULL,
    status INTEGER NOT NULL,
    dept INTEGER NOT NULL,
    agent INTEGER NOT NULL,     -- 0: none
    team INTEGER NOT NULL,      -- 0: none
    user INTEGER NOT NULL,
    urgency INTEGER NOT NULL,
    created INTEGER NOT NULL,   -- micros
    summary BLOB NOT NULL,      -- TicketSummary::encode, as ours
    state TEXT NOT NULL         -- the full ticket, JSON, as ours
);
CREATE TABLE IF NOT EXISTS events (ticket INTEGER NOT NULL, version INTEGER NOT NULL, json TEXT NOT NULL, PRIMARY KEY (ticket, version)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS labels (ticket INTEGER NOT NULL, label TEXT NOT NULL, PRIMARY KEY (ticket, label)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS followers (agent INTEGER NOT NULL, ticket INTEGER NOT NULL, PRIMARY KEY (agent, ticket)) WITHOUT ROWID;
";

/// Created after the bulk load (faster than maintaining them row by row).
const INDEXES: &str = "
CREATE INDEX IF NOT EXISTS t_status ON tickets (status, urgency DESC, created, id, dept);
CREATE INDEX IF NOT EXISTS t_agent ON tickets (agent, status, urgency DESC, created, id, dept);
CREATE INDEX IF NOT EXISTS t_team ON tickets (team, status, urgency DESC, created, id, dept);
CREATE INDEX IF NOT EXISTS t_unassigned ON tickets (status, urgency DESC, created, id, dept) WHERE agent = 0 AND team = 0;
CREATE INDEX IF NOT EXISTS t_user ON tickets (user, id);
CREATE INDEX IF NOT EXISTS l_label ON labels (label, ticket);
CREATE INDEX IF NOT EXISTS f_ticket ON followers (ticket);
ANALYZE;
";

fn micros(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

fn kind_name(k: RecordKind) -> &'static str {
    k.as_str()
}

impl Sqlite {
    /// Creates the database at `path` (tables only; see [`Sqlite::finish_load`]).
    pub fn create(path: &Path) -> R<Sqlite> {
        let conn = Self::connect(path)?;
        conn.execute_batch(SCHEMA)?;
        Ok(Sqlite { conn, path: path.to_path_buf() })
    }

    /// A connection with the durable settings.
    pub fn connect(path: &Path) -> R<Connection> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(std::time::Duration::from_secs(30))?;
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA cache_size = -65536; PRAGMA temp_store = MEMORY;",
        )?;
        conn.set_prepared_statement_cache_capacity(1024);
        Ok(conn)
    }

    /// Another handle on an existing database (for concurrent writers).
    pub fn open(path: &Path) -> R<Sqlite> {
        Ok(Sqlite { conn: Self::connect(path)?, path: path.to_path_buf() })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Bulk loading: no fsync, one transaction per batch.
    pub fn begin_load(&self) -> R<()> {
        self.conn.execute_batch("PRAGMA synchronous = OFF; BEGIN;")?;
        Ok(())
    }

    /// Commits the current load batch and starts the next.
    pub fn load_batch(&self) -> R<()> {
        self.conn.execute_batch("COMMIT; BEGIN;")?;
        Ok(())
    }

    /// Ends the load: indexes, statistics, checkpoint, durable settings.
    pub fn finish_load(&self, last_ticket: u64) -> R<()> {
        self.conn
            .execute("INSERT OR REPLACE INTO seq (name, v) VALUES ('ticket', ?1)", params![last_ticket])?;
        self.conn.execute_batch("COMMIT;")?;
        self.conn.execute_batch(INDEXES)?;
        self.conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE); PRAGMA synchronous = FULL;")?;
        Ok(())
    }

    /// Writes a directory record.
    pub fn put_record(&self, r: &Record) -> R<()> {
        let (kind, id) = r.key();
        self.conn
            .prepare_cached("INSERT OR REPLACE INTO records (kind, id, json) VALUES (?1, ?2, ?3)")?
            .execute(params![kind_name(kind), id as i64, serde_json::to_string(r)?])?;
        Ok(())
    }

    fn record(&self, kind: RecordKind, id: u64) -> R<Option<Record>> {
        let json: Option<String> = self
            .conn
            .prepare_cached("SELECT json FROM records WHERE kind = ?1 AND id = ?2")?
            .query_row(params![kind_name(kind), id as i64], |r| r.get(0))
            .optional()?;
        Ok(match json {
            Some(j) => Some(serde_json::from_str(&j)?),
            None => None,
        })
    }

    fn snapshot(&self, refs: &References) -> R<DirectorySnapshot> {
        let mut s = DirectorySnapshot::default();
        for d in &refs.departments {
            if let Some(Record::Department(x)) = self.record(RecordKind::Department, d.0)? {
                s.departments.insert(*d, x);
            }
        }
        for a in &refs.agents {
            if let Some(Record::Agent(x)) = self.record(RecordKind::Agent, a.0)? {
                s.agents.insert(*a, x);
            }
        }
        for t in &refs.teams {
            if let Some(Record::Team(x)) = self.record(RecordKind::Team, t.0)? {
                s.teams.insert(*t, x);
            }
        }
        for u in &refs.users {
            if let Some(Record::User(x)) = self.record(RecordKind::User, u.0)? {
                s.users.insert(*u, x);
            }
        }
        Ok(s)
    }

    /// The viewer an agent is (their record, read like ours reads it).
    pub fn viewer(&self, agent: AgentId) -> R<Viewer> {
        match self.record(RecordKind::Agent, agent.0)? {
            Some(Record::Agent(a)) => Ok(Viewer::of(&a)),
            _ => Err(format!("no agent {agent}").into()),
        }
    }

    /// Inserts or updates a ticket's row, side tables and new events.
    /// `expected` is the version the writer started from (0: new).
    fn write(&self, t: &Ticket, events: &[TicketEvent], expected: u64) -> R<()> {
        let state = serde_json::to_string(t)?;
        let summary = TicketSummary::from(t).encode();
        let cols = params![
            t.id.0 as i64,
            t.version as i64,
            t.status.code(),
            t.department.0 as i64,
            t.agent.map_or(0, |a| a.0) as i64,
            t.team.map_or(0, |a| a.0) as i64,
            t.user.0 as i64,
            t.urgency.get(),
            micros(t.created_at),
            summary,
            state,
            expected as i64,
        ];
        let n = if expected == 0 {
            self.conn
                .prepare_cached(
                    "INSERT INTO tickets (id, version, status, dept, agent, team, user, urgency, created, summary, state)
                     SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11 WHERE ?12 = 0",
                )?
                .execute(cols)?
        } else {
            self.conn
                .prepare_cached(
                    "UPDATE tickets SET version = ?2, status = ?3, dept = ?4, agent = ?5, team = ?6, user = ?7,
                     urgency = ?8, created = ?9, summary = ?10, state = ?11 WHERE id = ?1 AND version = ?12",
                )?
                .execute(cols)?
        };
        if n != 1 {
            return Err(format!("conflict on ticket {}", t.id).into());
        }
        if expected != 0 {
            self.conn
                .prepare_cached("DELETE FROM labels WHERE ticket = ?1")?
                .execute(params![t.id.0 as i64])?;
            self.conn
                .prepare_cached("DELETE FROM followers WHERE ticket = ?1")?
                .execute(params![t.id.0 as i64])?;
        }
        for l in &t.labels {
            self.conn
                .prepare_cached("INSERT INTO labels (ticket, label) VALUES (?1, ?2)")?
                .execute(params![t.id.0 as i64, l])?;
        }
        for a in &t.followers {
            self.conn
                .prepare_cached("INSERT INTO followers (agent, ticket) VALUES (?1, ?2)")?
                .execute(params![a.0 as i64, t.id.0 as i64])?;
        }
        for e in events {
            self.conn
                .prepare_cached("INSERT INTO events (ticket, version, json) VALUES (?1, ?2, ?3)")?
                .execute(params![e.ticket.0 as i64, e.version as i64, serde_json::to_string(e)?])?;
        }
        Ok(())
    }

    /// Loads a generated ticket (inside a load batch).
    pub fn load_ticket(&self, t: &Ticket, events: &[TicketEvent]) -> R<()> {
        self.write(t, events, 0)
    }

    /// Creates a ticket durably, like `Helpdesk::create_ticket`.
    pub fn create_ticket(&self, actor: &Actor, new: NewTicket, now: DateTime<Utc>) -> R<Ticket> {
        let dir = self.snapshot(&new.references(actor))?;
        let policy = Policy::default();
        create(TicketId(0), new.clone(), actor, now, &dir, &policy)?;
        self.conn.execute_batch("BEGIN IMMEDIATE")?;
        let r = (|| {
            let id: i64 = self
                .conn
                .prepare_cached("UPDATE seq SET v = v + 1 WHERE name = 'ticket' RETURNING v")?
                .query_row([], |r| r.get(0))?;
            let events = create(TicketId(id as u64), new, actor, now, &dir, &policy)?;
            let t = Ticket::from_events(&events)?;
            self.write(&t, &events, 0)?;
            Ok(t)
        })();
        self.finish(r)
    }

    fn finish<T>(&self, r: R<T>) -> R<T> {
        match r {
            Ok(v) => {
                self.conn.execute_batch("COMMIT")?;
                Ok(v)
            }
            Err(e) => {
                let _ = self.conn.execute_batch("ROLLBACK");
                Err(e)
            }
        }
    }

    /// A ticket's state.
    pub fn ticket(&self, id: TicketId) -> R<Ticket> {
        let json: String = self
            .conn
            .prepare_cached("SELECT state FROM tickets WHERE id = ?1")?
            .query_row(params![id.0 as i64], |r| r.get(0))?;
        Ok(serde_json::from_str(&json)?)
    }

    /// A ticket's log.
    pub fn log(&self, id: TicketId) -> R<Vec<TicketEvent>> {
        let mut st =
            self.conn.prepare_cached("SELECT json FROM events WHERE ticket = ?1 ORDER BY version")?;
        let rows = st.query_map(params![id.0 as i64], |r| r.get::<_, String>(0))?;
        let mut out = Vec::new();
        for j in rows {
            out.push(serde_json::from_str(&j?)?);
        }
        Ok(out)
    }

    /// Runs a command durably, like `Helpdesk::execute`.
    pub fn execute(&self, id: TicketId, actor: &Actor, cmd: Command, now: DateTime<Utc>) -> R<Ticket> {
        let t = self.ticket(id)?;
        let dir = self.snapshot(&cmd.references(&t, actor))?;
        let events = decide(&t, &cmd, actor, now, &dir, &Policy::default())?;
        if events.is_empty() {
            return Ok(t);
        }
        let mut after = t.clone();
        for e in &events {
            after.apply(e)?;
        }
        self.conn.execute_batch("BEGIN IMMEDIATE")?;
        let r = self.write(&after, &events, t.version).map(|_| after);
        self.finish(r)
    }

    /// The `WHERE` clause of a filter for a viewer (the shapes the benchmark
    /// uses: built-ins, and custom filters on status, department, agent,
    /// team, urgency and labels).
    fn conditions(viewer: &Viewer, f: &Query) -> String {
        let list = |v: &[u64]| v.iter().map(u64::to_string).collect::<Vec<_>>().join(",");
        let mut c: Vec<String> = Vec::new();
        let statuses: Vec<u64> = match f {
            Query::BuiltIn(b) => vec![b.status().code() as u64],
            Query::Custom(cf) => cf.criteria.statuses().iter().map(|s| s.code() as u64).collect(),
        };
        c.push(if statuses.len() == 1 {
            format!("status = {}", statuses[0])
        } else {
            format!("status IN ({})", list(&statuses))
        });
        if let Some(ds) = &viewer.departments {
            c.push(format!("dept IN ({})", list(&ds.iter().map(|d| d.0).collect::<Vec<_>>())));
        }
        let teams: Vec<u64> = viewer.teams.iter().map(|t| t.0).collect();
        match f {
            Query::BuiltIn(BuiltIn::MyTickets) => c.push(format!("agent = {}", viewer.agent.0)),
            Query::BuiltIn(BuiltIn::Following) => {
                c.push(format!("id IN (SELECT ticket FROM followers WHERE agent = {})", viewer.agent.0))
            }
            Query::BuiltIn(BuiltIn::MyTeams) => c.push(format!("team IN ({})", list(&teams))),
            Query::BuiltIn(BuiltIn::Unassigned) => c.push("agent = 0 AND team = 0".into()),
            Query::BuiltIn(_) => {}
            Query::Custom(cf) => {
                let k = &cf.criteria;
                assert!(
                    k.followed_by.is_empty()
                        && k.user.is_empty()
                        && k.organisation.is_empty()
                        && k.fields.is_empty()
                        && k.created.is_none()
                        && k.last_reply.is_none()
                        && k.labels.all.is_empty()
                        && k.labels.none.is_empty(),
                    "the baseline implements the criteria the benchmark uses"
                );
                if !k.department.is_empty() {
                    c.push(format!(
                        "dept IN ({})",
                        list(&k.department.iter().map(|d| d.0).collect::<Vec<_>>())
                    ));
                }
                if !k.agent.is_empty() {
                    let ids: Vec<u64> = k
                        .agent
                        .iter()
                        .map(|r| match r {
                            AgentRef::Me => viewer.agent.0,
                            AgentRef::None => 0,
                            AgentRef::Id(a) => a.0,
                        })
                        .collect();
                    c.push(format!("agent IN ({})", list(&ids)));
                }
                if !k.team.is_empty() {
                    let ids: Vec<u64> = k
                        .team
                        .iter()
                        .flat_map(|r| match r {
                            TeamRef::Mine => teams.clone(),
                            TeamRef::None => vec![0],
                            TeamRef::Id(t) => vec![t.0],
                        })
                        .collect();
                    c.push(format!("team IN ({})", list(&ids)));
                }
                if let Some(u) = k.urgency {
                    c.push(format!("urgency BETWEEN {} AND {}", u.min, u.max));
                }
                if !k.labels.any.is_empty() {
                    let ls: Vec<String> =
                        k.labels.any.iter().map(|l| format!("'{}'", l.replace('\'', "''"))).collect();
                    c.push(format!(
                        "EXISTS (SELECT 1 FROM labels l WHERE l.ticket = tickets.id AND l.label IN ({}))",
                        ls.join(",")
                    ));
                }
            }
        }
        c.join(" AND ")
    }

    /// The first page of a filter (urgency order).
    pub fn page(&self, viewer: &Viewer, f: &Query, limit: usize) -> R<Vec<TicketSummary>> {
        if let Query::Custom(cf) = f {
            assert_eq!(cf.sort, SortOrder::Urgency, "the baseline lists in the default order");
        }
        let sql = format!(
            "SELECT summary FROM tickets WHERE {} ORDER BY urgency DESC, created ASC, id ASC LIMIT {limit}",
            Self::conditions(viewer, f)
        );
        let mut st = self.conn.prepare_cached(&sql)?;
        let rows = st.query_map([], |r| r.get::<_, Vec<u8>>(0))?;
        let mut out = Vec::with_capacity(limit);
        for b in rows {
            out.push(TicketSummary::decode(&b?)?);
        }
        Ok(out)
    }

    /// `COUNT(*)` of a filter.
    pub fn count(&self, viewer: &Viewer, f: &Query) -> R<u64> {
        let sql = format!("SELECT COUNT(*) FROM tickets WHERE {}", Self::conditions(viewer, f));
        let n: i64 = self.conn.prepare_cached(&sql)?.query_row([], |r| r.get(0))?;
        Ok(n as u64)
    }

    /// The counts of every built-in filter for an agent.
    pub fn builtin_counts(&self, agent: AgentId) -> R<Vec<(BuiltIn, u64)>> {
        let v = self.viewer(agent)?;
        BuiltIn::ALL.iter().map(|b| Ok((*b, self.count(&v, &Query::BuiltIn(*b))?))).collect()
    }

    /// The query plan SQLite picks (for the report).
    pub fn explain(&self, viewer: &Viewer, f: &Query) -> R<String> {
        let sql = format!(
            "EXPLAIN QUERY PLAN SELECT summary FROM tickets WHERE {} ORDER BY urgency DESC, created ASC, id ASC LIMIT 25",
            Self::conditions(viewer, f)
        );
        let mut st = self.conn.prepare(&sql)?;
        let rows = st.query_map([], |r| r.get::<_, String>(3))?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?.join("; "))
    }
}

/// A filter the benchmark runs on both stores.
#[derive(Debug, Clone)]
pub enum Query {
    /// A built-in filter.
    BuiltIn(BuiltIn),
    /// A custom filter.
    Custom(Box<CustomFilter>),
}

impl Query {
    /// As a [`Filter`] for our store.
    pub fn filter(&self) -> &dyn Filter {
        match self {
            Query::BuiltIn(b) => b,
            Query::Custom(c) => c.as_ref(),
        }
    }
}
