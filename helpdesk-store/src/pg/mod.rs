//! [`PgStore`]: the [`Store`] on PostgreSQL, for deployments that outgrow one
//! process (sled admits one).
//!
//! Every method is one transaction (or one statement) on a pooled
//! connection (`postgres` + `r2d2_postgres`); nothing mutable is cached in
//! the process, so any number of `PgStore`s, in any number of processes,
//! may share one database. The schema is versioned ([`schema`]) and
//! migrated at [`PgStore::open`].
//!
//! | table | rows | written by |
//! | --- | --- | --- |
//! | `tickets` | id, version, state (MessagePack), summary (compact) | commits: the version is checked in the `UPDATE` (a create is an `INSERT ... ON CONFLICT DO NOTHING`) |
//! | `ticket_events` | ticket, version of the commit's first event, the commit's events | commits |
//! | `index_entries` | index key (`bytea`, B-tree): pages are range reads | commits |
//! | `index_any_department` | the all-department filter streams' keys | commits, with `index_entries` |
//! | `counters` | counter key, n | commits, as `n = n + d` (a row at zero is removed) |
//! | `records` | kind tag, id, JSON | `put_record`, `delete_record` |
//! | `unique_keys` | key (primary key), holder | `put_record` (a taken key is [`StoreError::Unique`]) |
//! | `outbox` | ticket, version, seq, item | commits, `reschedule` |
//! | `blobs`, `configs` | content-addressed bytes; named rule definitions | `put_blob`, `put_config` |
//! | `audit_log` | seq, time, entry (JSON); append-only (a trigger refuses changes) | `admin_commit` |
//! | `ids_<kind>` sequences | one per [`IdKind`] | [`IdSource::next_id`] |
//! | `helpdesk_schema` | the migrations applied | [`PgStore::open`] |
//!
//! A commit is one transaction: the version-checked ticket row, its events,
//! index deletes then inserts, counter upserts and outbox changes; a
//! deadlock or serialization failure retries the whole transaction. A
//! [`Durability::Durable`] commit is acknowledged once PostgreSQL committed
//! it with `synchronous_commit = on` (set on every connection); a
//! [`Durability::Buffered`] one sets it `off` for its own transaction, and
//! [`Store::flush`] commits a transaction with an id, which flushes the
//! write-ahead log past every earlier commit.
//!
//! TLS: the connection string's `sslmode` (`disable`, `prefer`, the
//! default, or `require`) is honoured through rustls; the server's
//! certificate is verified against the Mozilla roots (`webpki-roots`) and,
//! when `PGSSLROOTCERT` names a PEM file, its certificates.
//!
//! ```no_run
//! use helpdesk_store::pg::PgStore;
//! use helpdesk_store::Helpdesk;
//! use std::sync::Arc;
//!
//! let store = PgStore::open("postgres://helpdesk@db.internal/helpdesk?sslmode=require")?;
//! let hd = Helpdesk::builder().store(Arc::new(store));
//! hd.create_department("Support", vec![])?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod feed;
pub mod schema;
#[cfg(feature = "test-kit")]
pub mod testing;

use crate::kvstore::{decode_compact, encode_compact, encode_named, kind_of_tag};
use helpdesk_core::index;
use helpdesk_core::*;
use postgres::error::SqlState;
use postgres::types::{ToSql, Type};
use r2d2_postgres::PostgresConnectionManager;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio_postgres_rustls::MakeRustlsConnect;

type Manager = PostgresConnectionManager<MakeRustlsConnect>;
type Conn = r2d2::PooledConnection<Manager>;

/// Why a [`PgStore`] could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum PgError {
    /// The connection string does not parse.
    #[error("bad PostgreSQL connection string: {0}")]
    BadUrl(String),
    /// The TLS configuration could not be built.
    #[error("PostgreSQL TLS setup failed: {0}")]
    Tls(String),
    /// No connection could be made.
    #[error("cannot connect to PostgreSQL: {0}")]
    Connect(String),
    /// The database was migrated by a newer helpdesk.
    #[error(
        "the database's schema is at version {found}, newer than this helpdesk knows (version {known}): \
         run a helpdesk at least as new as the one that migrated it"
    )]
    SchemaTooNew {
        /// The database's schema version.
        found: i32,
        /// The newest version this code knows.
        known: i32,
    },
    /// A migration failed (nothing of it was applied).
    #[error("schema migration {version} ({name}) failed: {reason}")]
    Migration {
        /// Its version.
        version: i32,
        /// Its name.
        name: &'static str,
        /// PostgreSQL's error.
        reason: String,
    },
    /// A statement failed.
    #[error("{what}: {reason}")]
    Sql {
        /// What was being done.
        what: &'static str,
        /// PostgreSQL's error.
        reason: String,
    },
}

impl PgError {
    fn sql(what: &'static str, e: postgres::Error) -> PgError {
        PgError::Sql { what, reason: describe(&e) }
    }
}

impl From<PgError> for StoreError {
    fn from(e: PgError) -> StoreError {
        StoreError::Backend(e.to_string())
    }
}

/// PostgreSQL's own words for an error (code and message), or the client's.
fn describe(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{} ({}): {}", db.severity(), db.code().code(), db.message()),
        None => e.to_string(),
    }
}

/// How a [`PgStore`] connects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgOptions {
    /// Most connections the pool opens (default 16).
    pub pool_size: u32,
    /// How long getting a connection may take before an operation fails
    /// (default 10 s).
    pub connect_timeout: Duration,
}

impl Default for PgOptions {
    fn default() -> Self {
        PgOptions { pool_size: 16, connect_timeout: Duration::from_secs(10) }
    }
}

/// The [`Store`] on PostgreSQL (see the [module docs](self)).
///
/// Its calls block: from async code, call it through
/// `tokio::task::spawn_blocking` (as the web layer does). Dropping the last
/// clone is safe anywhere: the connections are closed on a thread of their own.
#[derive(Clone)]
pub struct PgStore {
    pool: Arc<Pool>,
    schema_version: i32,
    feed: Arc<feed::Feed>,
}

/// The connection pool; closes its connections off the dropping thread
/// (closing one blocks, which panics on an async runtime's thread).
struct Pool(Option<r2d2::Pool<Manager>>);

impl Drop for Pool {
    fn drop(&mut self) {
        if let Some(pool) = self.0.take() {
            let _ = std::thread::Builder::new().name("pg-pool-close".into()).spawn(move || drop(pool));
        }
    }
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore").field("schema_version", &self.schema_version).finish_non_exhaustive()
    }
}

/// The rustls client configuration: Mozilla's roots, plus `PGSSLROOTCERT`'s.
fn tls() -> Result<MakeRustlsConnect, PgError> {
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
    if let Some(path) = std::env::var_os("PGSSLROOTCERT").filter(|p| !p.is_empty()) {
        let certs = rustls::pki_types::CertificateDer::pem_file_iter(&path)
            .map_err(|e| PgError::Tls(format!("PGSSLROOTCERT {}: {e}", path.to_string_lossy())))?;
        for cert in certs {
            let cert =
                cert.map_err(|e| PgError::Tls(format!("PGSSLROOTCERT {}: {e}", path.to_string_lossy())))?;
            roots
                .add(cert)
                .map_err(|e| PgError::Tls(format!("PGSSLROOTCERT {}: {e}", path.to_string_lossy())))?;
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| PgError::Tls(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(MakeRustlsConnect::new(config))
}

impl PgStore {
    /// Connects to the database at `url` (`postgres://user:password@host:port/db?sslmode=...`,
    /// or libpq's `key=value` form), migrates its schema to this code's
    /// version (refusing a newer one) and returns the store.
    pub fn open(url: &str) -> Result<PgStore, PgError> {
        Self::open_with(url, &PgOptions::default())
    }

    /// [`open`](Self::open) with options.
    pub fn open_with(url: &str, options: &PgOptions) -> Result<PgStore, PgError> {
        Self::open_migrating(url, options, schema::MIGRATIONS)
    }

    #[doc(hidden)]
    pub fn open_migrating(
        url: &str,
        options: &PgOptions,
        migrations: &[schema::Migration],
    ) -> Result<PgStore, PgError> {
        let mut config: postgres::Config = url.parse().map_err(|e| PgError::BadUrl(format!("{e}")))?;
        // Acknowledged means on disk: whatever the server's default.
        let extra = "-c synchronous_commit=on";
        let opts = match config.get_options() {
            Some(o) if !o.is_empty() => format!("{o} {extra}"),
            _ => extra.to_string(),
        };
        config.options(&opts);
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(options.connect_timeout);
        }
        let feed = feed::Feed::start(config.clone(), tls()?);
        let manager = PostgresConnectionManager::new(config, tls()?);
        let pool = r2d2::Pool::builder()
            .max_size(options.pool_size.max(1))
            .min_idle(Some(1))
            .connection_timeout(options.connect_timeout)
            .build(manager)
            .map_err(|e| PgError::Connect(e.to_string()))?;
        let mut conn = pool.get().map_err(|e| PgError::Connect(e.to_string()))?;
        let schema_version = schema::migrate_with(&mut conn, migrations)?;
        drop(conn);
        Ok(PgStore { pool: Arc::new(Pool(Some(pool))), schema_version, feed })
    }

    /// Whether this store's listener is connected: it hears other
    /// processes' changes (see [`Store::subscribe`]). It connects on a
    /// thread of its own after [`open`](Self::open); tests wait for it.
    pub fn is_listening(&self) -> bool {
        self.feed.is_listening()
    }

    /// Writes a directory record inside `tx` (claiming its unique keys,
    /// releasing the ones its previous version held) and notifies the feed.
    fn write_record_in(
        &self,
        tx: &mut postgres::Transaction<'_>,
        record: &Record,
        body: &[u8],
    ) -> Result<(), Fail> {
        let (kind, id) = record.key();
        let tag = i16::from(kind.tag());
        let sid = sql_id(id);
        let keys: Vec<String> = record.unique_keys().into_iter().map(|u| u.0).collect();
        tx.query_typed(
            "INSERT INTO records (kind, id, body) VALUES ($1, $2, $3) \
             ON CONFLICT (kind, id) DO UPDATE SET body = EXCLUDED.body",
            &[(&tag, Type::INT2), (&sid, Type::INT8), (&body, Type::BYTEA)],
        )
        .ctx("writing a record")?;
        if !keys.is_empty() {
            tx.query_typed(
                "INSERT INTO unique_keys (key, kind, id) SELECT unnest($1::text[]), $2, $3 \
                 ON CONFLICT (key) DO NOTHING",
                &[(&keys, Type::TEXT_ARRAY), (&tag, Type::INT2), (&sid, Type::INT8)],
            )
            .ctx("claiming unique keys")?;
            let taken = tx
                .query_typed(
                    "SELECT key, kind, id FROM unique_keys WHERE key = ANY($1) AND (kind, id) <> ($2, $3)",
                    &[(&keys, Type::TEXT_ARRAY), (&tag, Type::INT2), (&sid, Type::INT8)],
                )
                .ctx("checking unique keys")?;
            // The first of the record's keys that another record holds.
            if let Some(key) = keys.iter().find(|k| taken.iter().any(|r| r.get::<_, &str>(0) == k.as_str())) {
                let row = taken.iter().find(|r| r.get::<_, &str>(0) == key.as_str()).expect("found");
                let holder = holder_of(row.get(1), row.get(2))?;
                return Err(Fail::Store(StoreError::Unique {
                    key: key.clone(),
                    holder: format!("{}:{}", holder.0.as_str(), holder.1),
                }));
            }
        }
        tx.query_typed(
            "DELETE FROM unique_keys WHERE kind = $1 AND id = $2 AND NOT (key = ANY($3))",
            &[(&tag, Type::INT2), (&sid, Type::INT8), (&keys, Type::TEXT_ARRAY)],
        )
        .ctx("releasing unique keys")?;
        self.notify_in(tx, Notice::Record { tag: kind.tag(), id })
    }

    /// Removes a directory record inside `tx`; `false` when there was none.
    fn remove_record_in(
        &self,
        tx: &mut postgres::Transaction<'_>,
        kind: RecordKind,
        id: u64,
    ) -> Result<bool, Fail> {
        let tag = i16::from(kind.tag());
        let rows = tx
            .query_typed(
                "DELETE FROM records WHERE kind = $1 AND id = $2 RETURNING 1",
                &[(&tag, Type::INT2), (&sql_id(id), Type::INT8)],
            )
            .ctx("deleting a record")?;
        if !rows.is_empty() {
            // Its unique keys go with it (ON DELETE CASCADE).
            self.notify_in(tx, Notice::Record { tag: kind.tag(), id })?;
        }
        Ok(!rows.is_empty())
    }

    /// Writes (or removes) a configuration value inside `tx`, bumping the
    /// rules epoch for rule namespaces, and notifies the feed.
    fn write_config_in(
        &self,
        tx: &mut postgres::Transaction<'_>,
        namespace: &str,
        name: &str,
        bytes: Option<&[u8]>,
    ) -> Result<(), Fail> {
        match bytes {
            Some(bytes) => tx.query_typed(
                "INSERT INTO configs (namespace, name, value) VALUES ($1, $2, $3) \
                 ON CONFLICT (namespace, name) DO UPDATE SET value = EXCLUDED.value",
                &[(&namespace, Type::TEXT), (&name, Type::TEXT), (&bytes, Type::BYTEA)],
            ),
            None => tx.query_typed(
                "DELETE FROM configs WHERE namespace = $1 AND name = $2",
                &[(&namespace, Type::TEXT), (&name, Type::TEXT)],
            ),
        }
        .ctx("writing a configuration value")?;
        if !namespace.starts_with(crate::app_values::APP) {
            tx.query_typed("UPDATE helpdesk_epochs SET n = n + 1 WHERE name = 'rules'", &[])
                .ctx("bumping the rules epoch")?;
        }
        self.notify_in(tx, Notice::Config { namespace: namespace.to_string(), name: name.to_string() })
    }

    /// Sends `notice` to the other processes, in `tx` (heard only if it commits).
    fn notify_in(&self, tx: &mut postgres::Transaction<'_>, notice: Notice) -> Result<(), Fail> {
        let payload = self.feed.payload(notice)?;
        tx.query_typed("SELECT pg_notify($1, $2)", &[(&feed::CHANNEL, Type::TEXT), (&payload, Type::TEXT)])
            .ctx("notifying the other nodes")?;
        Ok(())
    }

    /// The schema version of the database (what [`open`](Self::open) left it at).
    pub fn schema_version(&self) -> i32 {
        self.schema_version
    }

    fn conn(&self) -> Result<Conn, StoreError> {
        let pool = self.pool.0.as_ref().expect("the pool lives as long as the store");
        pool.get().map_err(|e| StoreError::Backend(format!("no PostgreSQL connection: {e}")))
    }

    /// Runs `f` in a transaction and commits it, again (up to 5 times in
    /// all) when PostgreSQL aborted it for a deadlock or a serialization
    /// failure; an error from `f` rolls it back.
    fn transact<T>(
        &self,
        mut f: impl FnMut(&mut postgres::Transaction<'_>) -> Result<T, Fail>,
    ) -> Result<T, StoreError> {
        let mut conn = self.conn()?;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut run = |conn: &mut Conn| -> Result<T, Fail> {
                let mut tx = conn.transaction().ctx("starting a transaction")?;
                let out = f(&mut tx)?;
                tx.commit().ctx("committing")?;
                Ok(out)
            };
            match run(&mut conn) {
                Ok(v) => return Ok(v),
                Err(Fail::Db(_, e)) if attempt < 5 && retryable(&e) => continue,
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Commits ticket writes (see [`Store::commit`]) inside `tx`.
    fn commit_in(tx: &mut postgres::Transaction<'_>, c: &Commit, w: &CommitWrites) -> Result<(), Fail> {
        let id = w.ticket;
        if c.durability == Durability::Buffered {
            tx.batch_execute("SET LOCAL synchronous_commit = off").ctx("buffered commit")?;
        }
        let applied = match (&w.state, c.expected_version) {
            (Some((version, state, summary)), 0) => tx
                .query_typed(
                    "INSERT INTO tickets (id, version, state, summary) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (id) DO NOTHING RETURNING 1",
                    &[(&id, Type::INT8), (version, Type::INT8), (state, Type::BYTEA), (summary, Type::BYTEA)],
                )
                .ctx("inserting the ticket")?
                .len(),
            (Some((version, state, summary)), expected) => tx
                .query_typed(
                    "UPDATE tickets SET version = $2, state = $3, summary = $4 WHERE id = $1 AND version = $5 \
                     RETURNING 1",
                    &[
                        (&id, Type::INT8),
                        (version, Type::INT8),
                        (state, Type::BYTEA),
                        (summary, Type::BYTEA),
                        (&sql_u64(expected), Type::INT8),
                    ],
                )
                .ctx("updating the ticket")?
                .len(),
            (None, 0) => usize::from(
                tx.query_typed("SELECT 1 FROM tickets WHERE id = $1 FOR UPDATE", &[(&id, Type::INT8)])
                    .ctx("reading the ticket")?
                    .is_empty(),
            ),
            (None, expected) => tx
                .query_typed(
                    "DELETE FROM tickets WHERE id = $1 AND version = $2 RETURNING 1",
                    &[(&id, Type::INT8), (&sql_u64(expected), Type::INT8)],
                )
                .ctx("purging the ticket")?
                .len(),
        };
        if applied != 1 {
            let actual = tx
                .query_typed_opt("SELECT version FROM tickets WHERE id = $1", &[(&id, Type::INT8)])
                .ctx("reading the ticket's version")?
                .map_or(0, |r| r.get::<_, i64>(0) as u64);
            return Err(Fail::Store(StoreError::Conflict {
                ticket: c.ticket,
                expected: c.expected_version,
                actual,
            }));
        }
        if c.state.is_none() {
            // A purge removes the whole log and the ticket's outbox.
            tx.query_typed("DELETE FROM ticket_events WHERE ticket = $1", &[(&id, Type::INT8)])
                .ctx("purging the log")?;
            tx.query_typed("DELETE FROM outbox WHERE ticket = $1", &[(&id, Type::INT8)])
                .ctx("purging the outbox")?;
        }
        if let Some((first, bytes)) = &w.events {
            tx.query_typed(
                "INSERT INTO ticket_events (ticket, version, events) VALUES ($1, $2, $3)",
                &[(&id, Type::INT8), (first, Type::INT8), (bytes, Type::BYTEA)],
            )
            .ctx("appending events")?;
        }
        for (table, remove, add) in [
            ("index_entries", &w.index_remove, &w.index_add),
            ("index_any_department", &w.any_remove, &w.any_add),
        ] {
            if !remove.is_empty() {
                tx.query_typed(
                    &format!("DELETE FROM {table} WHERE key = ANY($1)"),
                    &[(remove, Type::BYTEA_ARRAY)],
                )
                .ctx("removing index entries")?;
            }
            if !add.is_empty() {
                tx.query_typed(
                    &format!("INSERT INTO {table} (key) SELECT unnest($1::bytea[]) ON CONFLICT DO NOTHING"),
                    &[(add, Type::BYTEA_ARRAY)],
                )
                .ctx("adding index entries")?;
            }
        }
        if !w.counter_keys.is_empty() {
            // In key order, so concurrent commits lock shared counters in one order.
            tx.query_typed(
                "INSERT INTO counters (key, n) SELECT * FROM unnest($1::bytea[], $2::int8[]) \
                 ON CONFLICT (key) DO UPDATE SET n = counters.n + EXCLUDED.n",
                &[(&w.counter_keys, Type::BYTEA_ARRAY), (&w.counter_deltas, Type::INT8_ARRAY)],
            )
            .ctx("changing counters")?;
            tx.query_typed(
                "DELETE FROM counters WHERE key = ANY($1) AND n = 0",
                &[(&w.counter_keys, Type::BYTEA_ARRAY)],
            )
            .ctx("removing empty counters")?;
        }
        if c.state.is_some() {
            let (versions, seqs): (Vec<i64>, Vec<i64>) = w.outbox_remove.iter().copied().unzip();
            if !versions.is_empty() {
                let removed = tx
                    .query_typed(
                        "DELETE FROM outbox WHERE ticket = $1 AND (version, seq) IN \
                         (SELECT * FROM unnest($2::int8[], $3::int8[])) RETURNING version, seq",
                        &[(&id, Type::INT8), (&versions, Type::INT8_ARRAY), (&seqs, Type::INT8_ARRAY)],
                    )
                    .ctx("removing outbox items")?;
                if let Some(gone) = c.outbox_remove.iter().find(|k| {
                    !removed.iter().any(|r| {
                        r.get::<_, i64>(0) == sql_u64(k.version) && r.get::<_, i64>(1) == i64::from(k.seq)
                    })
                }) {
                    return Err(Fail::Store(StoreError::OutboxGone(gone.to_string())));
                }
            }
            if !w.outbox_add.is_empty() {
                let versions: Vec<i64> = w.outbox_add.keys().map(|k| k.0).collect();
                let seqs: Vec<i64> = w.outbox_add.keys().map(|k| k.1).collect();
                let items: Vec<&[u8]> = w.outbox_add.values().map(|v| v.0.as_slice()).collect();
                let due: Vec<chrono::DateTime<chrono::Utc>> = w.outbox_add.values().map(|v| v.1).collect();
                tx.query_typed(
                    "INSERT INTO outbox (ticket, version, seq, item, due) \
                     SELECT $1, * FROM unnest($2::int8[], $3::int8[], $4::bytea[], $5::timestamptz[]) \
                     ON CONFLICT (ticket, version, seq) DO UPDATE SET item = EXCLUDED.item, due = EXCLUDED.due",
                    &[
                        (&id, Type::INT8),
                        (&versions, Type::INT8_ARRAY),
                        (&seqs, Type::INT8_ARRAY),
                        (&items, Type::BYTEA_ARRAY),
                        (&due, Type::TIMESTAMPTZ_ARRAY),
                    ],
                )
                .ctx("queueing outbox items")?;
            }
        }
        if c.expected_version == 0 && c.state.is_some() {
            // A ticket created with an id not from the sequence (imports,
            // tests) still keeps the sequence past it.
            tx.query_typed(
                "SELECT setval('ids_ticket', $1) FROM ids_ticket WHERE NOT is_called OR last_value < $1",
                &[(&id, Type::INT8)],
            )
            .ctx("raising the ticket id sequence")?;
        }
        Ok(())
    }
}

/// What a commit writes, encoded once before its transaction (which may run
/// more than once).
struct CommitWrites {
    ticket: i64,
    /// New version, state, summary.
    state: Option<(i64, Vec<u8>, Vec<u8>)>,
    /// Version of the first event, the events.
    events: Option<(i64, Vec<u8>)>,
    index_remove: Vec<Vec<u8>>,
    index_add: Vec<Vec<u8>>,
    any_remove: Vec<Vec<u8>>,
    any_add: Vec<Vec<u8>>,
    /// Summed per key, in key order, zero sums left out.
    counter_keys: Vec<Vec<u8>>,
    counter_deltas: Vec<i64>,
    outbox_remove: Vec<(i64, i64)>,
    /// (version, seq) -> item; a repeated key keeps the later item.
    outbox_add: BTreeMap<(i64, i64), (Vec<u8>, chrono::DateTime<chrono::Utc>)>,
}

impl CommitWrites {
    fn of(c: &Commit) -> Result<CommitWrites, StoreError> {
        c.check()?;
        let state = match &c.state {
            Some(t) => Some((sql_u64(t.version), encode_compact(t)?, TicketSummary::from(t).encode())),
            None => None,
        };
        let events = match c.events.first() {
            Some(first) => Some((sql_u64(first.version), encode_named(&c.events)?)),
            None => None,
        };
        let any = |keys: &[IndexKey]| -> Vec<Vec<u8>> {
            keys.iter().filter_map(|k| index::any_department_key(&k.0)).collect()
        };
        let mut counters: BTreeMap<Vec<u8>, i64> = BTreeMap::new();
        for (k, d) in &c.counters {
            *counters.entry(k.0.clone()).or_default() += d;
        }
        counters.retain(|_, d| *d != 0);
        let mut outbox_add = BTreeMap::new();
        for item in &c.outbox_add {
            let bytes =
                crate::codec::encode_outbox_group(std::slice::from_ref(item)).map_err(StoreError::Backend)?;
            outbox_add.insert((sql_u64(item.key.version), i64::from(item.key.seq)), (bytes, item.not_before));
        }
        Ok(CommitWrites {
            ticket: ticket_id(c.ticket)?,
            state,
            events,
            index_remove: c.index_remove.iter().map(|k| k.0.clone()).collect(),
            index_add: c.index_add.iter().map(|k| k.0.clone()).collect(),
            any_remove: any(&c.index_remove),
            any_add: any(&c.index_add),
            counter_keys: counters.keys().cloned().collect(),
            counter_deltas: counters.values().copied().collect(),
            outbox_remove: c.outbox_remove.iter().map(|k| (sql_u64(k.version), i64::from(k.seq))).collect(),
            outbox_add,
        })
    }
}

/// A failure inside a transaction: the store's own, or PostgreSQL's (which
/// [`PgStore::transact`] may retry).
enum Fail {
    Store(StoreError),
    Db(&'static str, postgres::Error),
}

impl From<StoreError> for Fail {
    fn from(e: StoreError) -> Fail {
        Fail::Store(e)
    }
}

impl From<Fail> for StoreError {
    fn from(f: Fail) -> StoreError {
        match f {
            Fail::Store(e) => e,
            Fail::Db(what, e) => StoreError::Backend(format!("PostgreSQL, {what}: {}", describe(&e))),
        }
    }
}

trait Ctx<T> {
    fn ctx(self, what: &'static str) -> Result<T, Fail>;
}

impl<T> Ctx<T> for Result<T, postgres::Error> {
    fn ctx(self, what: &'static str) -> Result<T, Fail> {
        self.map_err(|e| Fail::Db(what, e))
    }
}

/// Outside a transaction: the error as the store's.
fn db<T>(what: &'static str, r: Result<T, postgres::Error>) -> Result<T, StoreError> {
    r.ctx(what).map_err(StoreError::from)
}

fn retryable(e: &postgres::Error) -> bool {
    matches!(e.code(), Some(c) if *c == SqlState::T_R_DEADLOCK_DETECTED || *c == SqlState::T_R_SERIALIZATION_FAILURE)
}

/// A u64 that is a version or a count (below 2^63) as BIGINT.
fn sql_u64(v: u64) -> i64 {
    v as i64
}

/// A ticket id as stored (ids come from a BIGINT sequence).
fn ticket_id(id: TicketId) -> Result<i64, StoreError> {
    i64::try_from(id.0)
        .map_err(|_| StoreError::Backend(format!("ticket id {id} is past what PostgreSQL stores (2^63 - 1)")))
}

/// A record id as stored: the top bit flipped, so BIGINT order is u64 order.
pub(crate) fn sql_id(id: u64) -> i64 {
    (id ^ (1 << 63)) as i64
}

/// The record id a stored BIGINT holds (see [`sql_id`]).
pub(crate) fn id_of_sql(v: i64) -> u64 {
    (v as u64) ^ (1 << 63)
}

/// The smallest byte string greater than every string starting with
/// `prefix`; `None` when there is none (empty or all `0xff`).
fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

/// A value as the JSON the tables keep.
fn json<T: serde::Serialize + ?Sized>(v: &T) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(v).map_err(|e| StoreError::Backend(format!("encoding: {e}")))
}

fn corrupt(what: String, reason: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt { key: what, reason: reason.to_string() }
}

fn check_config_name(namespace: &str, name: &str) -> Result<(), StoreError> {
    let ok = |s: &str| !s.is_empty() && s.len() <= 200 && !s.contains('\0');
    if !ok(namespace) || !ok(name) {
        return Err(StoreError::Backend(format!("bad configuration name {namespace:?}/{name:?}")));
    }
    Ok(())
}

impl IdSource for PgStore {
    fn next_id(&self, kind: IdKind) -> Result<u64, StoreError> {
        let mut conn = self.conn()?;
        let sql = format!("SELECT nextval('ids_{}')", kind.as_str());
        let row = match conn.query_typed_one(&sql, &[]) {
            Err(e) if e.code() == Some(&SqlState::UNDEFINED_TABLE) => {
                // A kind added after the schema was made: its sequence now.
                db(
                    "creating an id sequence",
                    conn.batch_execute(&format!("CREATE SEQUENCE IF NOT EXISTS ids_{}", kind.as_str())),
                )?;
                db("taking an id", conn.query_typed_one(&sql, &[]))?
            }
            r => db("taking an id", r)?,
        };
        Ok(row.get::<_, i64>(0) as u64)
    }
}

impl Store for PgStore {
    fn ticket(&self, id: TicketId) -> Result<Option<Ticket>, StoreError> {
        let sid = ticket_id(id)?;
        let row = db(
            "reading a ticket",
            self.conn()?.query_typed_opt("SELECT state FROM tickets WHERE id = $1", &[(&sid, Type::INT8)]),
        )?;
        row.map(|r| decode_compact(format!("tickets {id}").as_bytes(), r.get::<_, &[u8]>(0))).transpose()
    }

    fn events(&self, id: TicketId) -> Result<Vec<TicketEvent>, StoreError> {
        let sid = ticket_id(id)?;
        let rows = db(
            "reading a log",
            self.conn()?.query_typed(
                "SELECT events FROM ticket_events WHERE ticket = $1 ORDER BY version",
                &[(&sid, Type::INT8)],
            ),
        )?;
        let mut out = Vec::new();
        for r in rows {
            out.extend(decode_compact::<Vec<TicketEvent>>(
                format!("ticket_events {id}").as_bytes(),
                r.get(0),
            )?);
        }
        Ok(out)
    }

    fn commit(&self, c: &Commit) -> Result<(), StoreError> {
        let writes = CommitWrites::of(c)?;
        let notice = Notice::Ticket {
            ticket: c.ticket,
            before: c.expected_version,
            after: c.state.as_ref().map_or(0, |t| t.version),
        };
        self.transact(|tx| {
            Self::commit_in(tx, c, &writes)?;
            self.notify_in(tx, notice.clone())
        })
    }

    fn commit_all(&self, commits: &[Commit]) -> Result<(), StoreError> {
        Commit::check_all(commits)?;
        // In ticket order, so two groups on the same tickets lock their rows
        // in the same order.
        let mut order: Vec<&Commit> = commits.iter().collect();
        order.sort_by_key(|c| c.ticket);
        let writes = order.iter().map(|c| CommitWrites::of(c)).collect::<Result<Vec<_>, _>>()?;
        self.transact(|tx| {
            for (c, w) in order.iter().zip(&writes) {
                Self::commit_in(tx, c, w)?;
                let notice = Notice::Ticket {
                    ticket: c.ticket,
                    before: c.expected_version,
                    after: c.state.as_ref().map_or(0, |t| t.version),
                };
                self.notify_in(tx, notice)?;
            }
            Ok(())
        })
    }

    fn scan_index(
        &self,
        prefix: &[u8],
        after: Option<&IndexKey>,
        limit: usize,
    ) -> Result<Vec<IndexKey>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let any = prefix.len() >= index::STREAM_PREFIX_LEN
            && prefix[0] == index::prefix::FILTER
            && prefix[index::DEPARTMENT_AT] == index::ANY_DEPARTMENT.0.to_be_bytes();
        let table = if any { "index_any_department" } else { "index_entries" };
        let end = prefix_end(prefix);
        let after = after.map(|a| a.0.as_slice());
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let mut sql = format!("SELECT key FROM {table} WHERE key >= $1");
        let mut params: Vec<(&(dyn ToSql + Sync), Type)> = vec![(&prefix, Type::BYTEA), (&limit, Type::INT8)];
        if let Some(end) = &end {
            params.push((end, Type::BYTEA));
            sql.push_str(&format!(" AND key < ${}", params.len()));
        }
        if let Some(after) = &after {
            params.push((after, Type::BYTEA));
            sql.push_str(&format!(" AND key > ${}", params.len()));
        }
        sql.push_str(" ORDER BY key LIMIT $2");
        let rows = db("scanning the index", self.conn()?.query_typed(&sql, &params))?;
        Ok(rows.into_iter().map(|r| IndexKey(r.get(0))).collect())
    }

    fn counter(&self, key: &CounterKey) -> Result<i64, StoreError> {
        let row = db(
            "reading a counter",
            self.conn()?.query_typed_opt("SELECT n FROM counters WHERE key = $1", &[(&key.0, Type::BYTEA)]),
        )?;
        Ok(row.map_or(0, |r| r.get(0)))
    }

    fn last_ticket_id(&self) -> Result<Option<TicketId>, StoreError> {
        let row = db(
            "reading the highest ticket id",
            self.conn()?.query_typed_one("SELECT max(id) FROM tickets", &[]),
        )?;
        Ok(row.get::<_, Option<i64>>(0).map(|id| TicketId(id as u64)))
    }

    fn put_record(&self, record: &Record) -> Result<(), StoreError> {
        let body = json(record)?;
        self.transact(|tx| self.write_record_in(tx, record, &body))?;
        self.feed.directory_changed();
        Ok(())
    }

    fn delete_record(&self, kind: RecordKind, id: u64) -> Result<bool, StoreError> {
        let deleted = self.transact(|tx| self.remove_record_in(tx, kind, id))?;
        self.feed.directory_changed();
        Ok(deleted)
    }

    fn record(&self, kind: RecordKind, id: u64) -> Result<Option<Record>, StoreError> {
        let tag = i16::from(kind.tag());
        let row = db(
            "reading a record",
            self.conn()?.query_typed_opt(
                "SELECT body FROM records WHERE kind = $1 AND id = $2",
                &[(&tag, Type::INT2), (&sql_id(id), Type::INT8)],
            ),
        )?;
        row.map(|r| decode_record(kind, id, r.get(0))).transpose()
    }

    fn records(&self, kind: RecordKind, after: u64, limit: usize) -> Result<Vec<Record>, StoreError> {
        let tag = i16::from(kind.tag());
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = db(
            "listing records",
            self.conn()?.query_typed(
                "SELECT id, body FROM records WHERE kind = $1 AND id > $2 ORDER BY id LIMIT $3",
                &[(&tag, Type::INT2), (&sql_id(after), Type::INT8), (&limit, Type::INT8)],
            ),
        )?;
        rows.iter().map(|r| decode_record(kind, id_of_sql(r.get(0)), r.get(1))).collect()
    }

    fn lookup(&self, key: &UniqueKey) -> Result<Option<(RecordKind, u64)>, StoreError> {
        let row = db(
            "looking up a unique key",
            self.conn()?
                .query_typed_opt("SELECT kind, id FROM unique_keys WHERE key = $1", &[(&key.0, Type::TEXT)]),
        )?;
        row.map(|r| holder_of(r.get(0), r.get(1))).transpose()
    }

    fn outbox(&self, after: Option<OutboxKey>, limit: usize) -> Result<Vec<OutboxItem>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let mut conn = self.conn()?;
        let rows = match after {
            None => conn.query_typed(
                "SELECT ticket, version, item FROM outbox ORDER BY ticket, version, seq LIMIT $1",
                &[(&limit, Type::INT8)],
            ),
            Some(a) => conn.query_typed(
                "SELECT ticket, version, item FROM outbox WHERE (ticket, version, seq) > ($1, $2, $3) \
                 ORDER BY ticket, version, seq LIMIT $4",
                &[
                    (&sql_u64(a.ticket.0), Type::INT8),
                    (&sql_u64(a.version), Type::INT8),
                    (&i64::from(a.seq), Type::INT8),
                    (&limit, Type::INT8),
                ],
            ),
        };
        let mut out = Vec::new();
        for r in db("reading the outbox", rows)? {
            let (ticket, version): (i64, i64) = (r.get(0), r.get(1));
            let items = crate::codec::decode_outbox_group(TicketId(ticket as u64), version as u64, r.get(2))
                .map_err(|e| corrupt(format!("outbox {ticket}/{version}"), e))?;
            out.extend(items);
        }
        Ok(out)
    }

    fn reschedule(&self, item: &OutboxItem) -> Result<bool, StoreError> {
        let bytes =
            crate::codec::encode_outbox_group(std::slice::from_ref(item)).map_err(StoreError::Backend)?;
        let rows = db(
            "rescheduling an outbox item",
            self.conn()?.query_typed(
                "UPDATE outbox SET item = $4, due = $5, lease_until = NULL \
                 WHERE ticket = $1 AND version = $2 AND seq = $3 RETURNING 1",
                &[
                    (&sql_u64(item.key.ticket.0), Type::INT8),
                    (&sql_u64(item.key.version), Type::INT8),
                    (&i64::from(item.key.seq), Type::INT8),
                    (&bytes, Type::BYTEA),
                    (&item.not_before, Type::TIMESTAMPTZ),
                ],
            ),
        )?;
        Ok(!rows.is_empty())
    }

    fn put_blob(&self, id: &str, bytes: &[u8]) -> Result<(), StoreError> {
        db(
            "writing a blob",
            self.conn()?.query_typed(
                "INSERT INTO blobs (id, bytes) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING",
                &[(&id, Type::TEXT), (&bytes, Type::BYTEA)],
            ),
        )?;
        Ok(())
    }

    fn blob(&self, id: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let row = db(
            "reading a blob",
            self.conn()?.query_typed_opt("SELECT bytes FROM blobs WHERE id = $1", &[(&id, Type::TEXT)]),
        )?;
        Ok(row.map(|r| r.get(0)))
    }

    fn flush(&self) -> Result<(), StoreError> {
        // A transaction with an id commits with a synchronous WAL flush,
        // which covers every buffered commit before it.
        db("flushing", self.conn()?.batch_execute("BEGIN; SELECT txid_current(); COMMIT"))
    }

    fn put_config(
        &self,
        namespace: &str,
        name: &str,
        value: Option<&serde_json::Value>,
    ) -> Result<(), StoreError> {
        check_config_name(namespace, name)?;
        let bytes = value.map(json).transpose()?;
        self.transact(|tx| self.write_config_in(tx, namespace, name, bytes.as_deref()))?;
        Ok(())
    }

    fn config(&self, namespace: &str, name: &str) -> Result<Option<serde_json::Value>, StoreError> {
        let row = db(
            "reading a configuration value",
            self.conn()?.query_typed_opt(
                "SELECT value FROM configs WHERE namespace = $1 AND name = $2",
                &[(&namespace, Type::TEXT), (&name, Type::TEXT)],
            ),
        )?;
        row.map(|r| {
            serde_json::from_slice(r.get(0)).map_err(|e| corrupt(format!("configs {namespace}/{name}"), e))
        })
        .transpose()
    }

    fn shared(&self) -> bool {
        true
    }

    fn subscribe(&self) -> Option<std::sync::mpsc::Receiver<Notice>> {
        Some(self.feed.subscribe())
    }

    fn announce(&self, channel: &str, body: &serde_json::Value) -> Result<(), StoreError> {
        let payload = self.feed.payload(Notice::App { channel: channel.to_string(), body: body.clone() })?;
        db(
            "notifying the other nodes",
            self.conn()?.query_typed(
                "SELECT pg_notify($1, $2)",
                &[(&feed::CHANNEL, Type::TEXT), (&payload, Type::TEXT)],
            ),
        )?;
        Ok(())
    }

    fn config_epoch(&self) -> Result<Option<u64>, StoreError> {
        let row = db(
            "reading the rules epoch",
            self.conn()?.query_typed_one("SELECT n FROM helpdesk_epochs WHERE name = 'rules'", &[]),
        )?;
        Ok(Some(row.get::<_, i64>(0) as u64))
    }

    fn directory_epoch(&self) -> Option<u64> {
        Some(self.feed.directory_epoch())
    }

    fn claim_outbox(
        &self,
        now: chrono::DateTime<chrono::Utc>,
        limit: usize,
        lease: Duration,
    ) -> Result<Vec<OutboxItem>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let lease_ms = i64::try_from(lease.as_millis()).unwrap_or(i64::MAX);
        // Skipping rows another claim holds locked: two nodes claiming at
        // once take different items. The lease is on the database's clock,
        // which every node shares.
        let rows = db(
            "claiming outbox items",
            self.conn()?.query_typed(
                "UPDATE outbox SET lease_until = clock_timestamp() + $3 * interval '1 millisecond' \
                 WHERE (ticket, version, seq) IN ( \
                   SELECT ticket, version, seq FROM outbox \
                   WHERE due <= $1 AND (lease_until IS NULL OR lease_until < clock_timestamp()) \
                   ORDER BY ticket, version, seq LIMIT $2 FOR UPDATE SKIP LOCKED) \
                 RETURNING ticket, version, item",
                &[(&now, Type::TIMESTAMPTZ), (&limit, Type::INT8), (&lease_ms, Type::INT8)],
            ),
        )?;
        let mut out = Vec::new();
        for r in rows {
            let (ticket, version): (i64, i64) = (r.get(0), r.get(1));
            let items = crate::codec::decode_outbox_group(TicketId(ticket as u64), version as u64, r.get(2))
                .map_err(|e| corrupt(format!("outbox {ticket}/{version}"), e))?;
            out.extend(items);
        }
        out.sort_by_key(|i| i.key);
        // Rows queued before schema version 2 have no `due`: put the real
        // one in and leave those not due yet.
        let (due, early): (Vec<OutboxItem>, Vec<OutboxItem>) =
            out.into_iter().partition(|i| i.not_before <= now);
        for item in &early {
            self.reschedule(item)?;
        }
        Ok(due)
    }

    fn count_hit(
        &self,
        bucket: &str,
        window: Duration,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Option<u64>, StoreError> {
        let window_ms = i64::try_from(window.as_millis()).unwrap_or(i64::MAX).max(1);
        let start_ms = now.timestamp_millis().div_euclid(window_ms) * window_ms;
        let start = chrono::DateTime::<chrono::Utc>::from_timestamp_millis(start_ms).unwrap_or(now);
        let mut conn = self.conn()?;
        let rows = db(
            "counting a rate-limited request",
            conn.query_typed(
                "INSERT INTO rate_hits (bucket, window_start, hits) VALUES ($1, $2, 1) \
                 ON CONFLICT (bucket, window_start) DO UPDATE SET hits = rate_hits.hits + 1 \
                 RETURNING hits",
                &[(&bucket, Type::TEXT), (&start, Type::TIMESTAMPTZ)],
            ),
        )?;
        let hits = rows.first().map_or(1, |r| r.get::<_, i64>(0)).max(1) as u64;
        if hits == 1 {
            // A new window: windows an hour past are done with (any bucket's).
            let old = start - chrono::Duration::hours(1);
            db(
                "dropping old rate-limit windows",
                conn.query_typed(
                    "DELETE FROM rate_hits WHERE window_start < $1",
                    &[(&old, Type::TIMESTAMPTZ)],
                ),
            )?;
        }
        Ok(Some(hits))
    }

    fn config_namespaces(&self) -> Result<Vec<String>, StoreError> {
        let rows = db(
            "listing configuration namespaces",
            self.conn()?.query_typed("SELECT DISTINCT namespace COLLATE \"C\" FROM configs ORDER BY 1", &[]),
        )?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    fn blob_ids(&self, after: Option<&str>, limit: usize) -> Result<Vec<String>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let after = after.unwrap_or("");
        let rows = db(
            "listing blobs",
            self.conn()?.query_typed(
                "SELECT id FROM blobs WHERE id COLLATE \"C\" > $1 ORDER BY id COLLATE \"C\" LIMIT $2",
                &[(&after, Type::TEXT), (&limit, Type::INT8)],
            ),
        )?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    fn id_mark(&self, kind: IdKind) -> Result<u64, StoreError> {
        let sql = format!("SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM ids_{}", kind.as_str());
        match self.conn()?.query_typed_one(&sql, &[]) {
            Err(e) if e.code() == Some(&SqlState::UNDEFINED_TABLE) => Ok(0),
            r => Ok(db("reading an id sequence", r)?.get::<_, i64>(0) as u64),
        }
    }

    fn admin_commit(&self, commit: &AdminCommit) -> Result<u64, StoreError> {
        let puts = commit.put.iter().map(|r| Ok((r, json(r)?))).collect::<Result<Vec<_>, StoreError>>()?;
        let mut configs = Vec::new();
        for (ns, name, v) in &commit.config {
            check_config_name(ns, name)?;
            configs.push((ns.as_str(), name.as_str(), v.as_ref().map(json).transpose()?));
        }
        let seq = self.transact(|tx| {
            for (kind, id) in &commit.delete {
                self.remove_record_in(tx, *kind, *id)?;
            }
            for (r, body) in &puts {
                self.write_record_in(tx, r, body)?;
            }
            for (ns, name, bytes) in &configs {
                self.write_config_in(tx, ns, name, bytes.as_deref())?;
            }
            let seq: i64 = tx
                .query_typed("SELECT nextval(pg_get_serial_sequence('audit_log', 'seq'))", &[])
                .ctx("numbering the audit entry")?[0]
                .get(0);
            let mut entry = commit.audit.clone();
            entry.seq = u64::try_from(seq).unwrap_or_default();
            let body = json(&entry)?;
            tx.query_typed(
                "INSERT INTO audit_log (seq, at, body) VALUES ($1, $2, $3)",
                &[(&seq, Type::INT8), (&entry.at, Type::TIMESTAMPTZ), (&body, Type::BYTEA)],
            )
            .ctx("writing the audit entry")?;
            Ok(entry.seq)
        })?;
        if !commit.put.is_empty() || !commit.delete.is_empty() {
            self.feed.directory_changed();
        }
        Ok(seq)
    }

    fn audit_log(&self, before: Option<u64>, limit: usize) -> Result<Vec<AuditEntry>, StoreError> {
        let before = before.map_or(i64::MAX, |b| i64::try_from(b).unwrap_or(i64::MAX));
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = db(
            "reading the audit log",
            self.conn()?.query_typed(
                "SELECT seq, body FROM audit_log WHERE seq < $1 ORDER BY seq DESC LIMIT $2",
                &[(&before, Type::INT8), (&limit, Type::INT8)],
            ),
        )?;
        rows.iter()
            .map(|r| {
                serde_json::from_slice(r.get(1))
                    .map_err(|e| corrupt(format!("audit_log {}", r.get::<_, i64>(0)), e))
            })
            .collect()
    }

    fn raise_id_mark(&self, kind: IdKind, mark: u64) -> Result<(), StoreError> {
        if mark == 0 {
            return Ok(());
        }
        let mark = i64::try_from(mark)
            .map_err(|_| StoreError::Backend(format!("id {mark} is past PostgreSQL's BIGINT")))?;
        let seq = format!("ids_{}", kind.as_str());
        let mut conn = self.conn()?;
        db("creating an id sequence", conn.batch_execute(&format!("CREATE SEQUENCE IF NOT EXISTS {seq}")))?;
        db(
            "raising an id sequence",
            conn.query_typed(
                &format!("SELECT setval('{seq}', GREATEST($1, CASE WHEN is_called THEN last_value ELSE 0 END)) FROM {seq}"),
                &[(&mark, Type::INT8)],
            ),
        )?;
        Ok(())
    }

    fn exclusive(&self, name: &str, work: &mut dyn FnMut()) -> Result<bool, StoreError> {
        // A session-level advisory lock on a connection held for the work:
        // a node that dies loses its connection, and with it the lock.
        let key = advisory_key(name);
        let mut conn = self.conn()?;
        let rows = db(
            "taking an advisory lock",
            conn.query_typed("SELECT pg_try_advisory_lock($1)", &[(&key, Type::INT8)]),
        )?;
        let got = rows.first().is_some_and(|r| r.get::<_, bool>(0));
        if !got {
            return Ok(false);
        }
        work();
        if let Err(e) = conn.query_typed("SELECT pg_advisory_unlock($1)", &[(&key, Type::INT8)]) {
            // Only a broken connection fails here, and the pool drops those
            // (and PostgreSQL their locks).
            tracing::warn!("releasing the advisory lock {name:?} failed: {e}");
        }
        Ok(true)
    }

    fn configs(&self, namespace: &str) -> Result<Vec<(String, serde_json::Value)>, StoreError> {
        let rows = db(
            "reading configuration values",
            self.conn()?.query_typed(
                "SELECT name, value FROM configs WHERE namespace = $1 ORDER BY name COLLATE \"C\"",
                &[(&namespace, Type::TEXT)],
            ),
        )?;
        rows.iter()
            .map(|r| {
                let name: String = r.get(0);
                let value = serde_json::from_slice(r.get(1))
                    .map_err(|e| corrupt(format!("configs {namespace}/{name}"), e))?;
                Ok((name, value))
            })
            .collect()
    }

    fn scan_counters(&self, prefix: &[u8]) -> Result<Vec<(CounterKey, i64)>, StoreError> {
        let mut conn = self.conn()?;
        let rows = match prefix_end(prefix) {
            Some(end) => conn.query_typed(
                "SELECT key, n FROM counters WHERE key >= $1 AND key < $2 AND n <> 0 ORDER BY key",
                &[(&prefix, Type::BYTEA), (&end, Type::BYTEA)],
            ),
            None => conn.query_typed(
                "SELECT key, n FROM counters WHERE key >= $1 AND n <> 0 ORDER BY key",
                &[(&prefix, Type::BYTEA)],
            ),
        };
        Ok(db("scanning counters", rows)?.into_iter().map(|r| (CounterKey(r.get(0)), r.get(1))).collect())
    }

    fn summary(&self, id: TicketId) -> Result<Option<TicketSummary>, StoreError> {
        let sid = ticket_id(id)?;
        let row = db(
            "reading a summary",
            self.conn()?.query_typed_opt("SELECT summary FROM tickets WHERE id = $1", &[(&sid, Type::INT8)]),
        )?;
        row.map(|r| TicketSummary::decode(r.get(0)).map_err(|e| corrupt(format!("tickets {id} summary"), e)))
            .transpose()
    }

    fn summaries(&self, ids: &[TicketId]) -> Result<Vec<Option<Arc<TicketSummary>>>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let sids: Vec<i64> = ids.iter().map(|id| ticket_id(*id)).collect::<Result<_, _>>()?;
        let rows = db(
            "reading summaries",
            self.conn()?.query_typed(
                "SELECT id, summary FROM tickets WHERE id = ANY($1)",
                &[(&sids, Type::INT8_ARRAY)],
            ),
        )?;
        let mut found: std::collections::HashMap<i64, Arc<TicketSummary>> = std::collections::HashMap::new();
        for r in rows {
            let id: i64 = r.get(0);
            let s =
                TicketSummary::decode(r.get(1)).map_err(|e| corrupt(format!("tickets {id} summary"), e))?;
            found.insert(id, Arc::new(s));
        }
        Ok(sids.iter().map(|id| found.get(id).cloned()).collect())
    }
}

/// The advisory lock key of a name: the first 8 bytes of its SHA-256,
/// under a prefix that keeps the helpdesk's locks apart from others'.
fn advisory_key(name: &str) -> i64 {
    use sha2::Digest;
    let d = sha2::Sha256::digest(format!("helpdesk-rs:{name}").as_bytes());
    i64::from_be_bytes(d[..8].try_into().expect("8 bytes"))
}

fn holder_of(tag: i16, id: i64) -> Result<(RecordKind, u64), StoreError> {
    let kind = u8::try_from(tag)
        .ok()
        .and_then(kind_of_tag)
        .ok_or_else(|| corrupt("unique_keys".into(), format!("unknown record kind {tag}")))?;
    Ok((kind, id_of_sql(id)))
}

fn decode_record(kind: RecordKind, id: u64, bytes: &[u8]) -> Result<Record, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| corrupt(format!("records {}:{id}", kind.as_str()), e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_end_is_the_first_key_past_the_prefix() {
        assert_eq!(prefix_end(b""), None);
        assert_eq!(prefix_end(b"ab"), Some(b"ac".to_vec()));
        assert_eq!(prefix_end(&[1, 0xff, 0xff]), Some(vec![2]));
        assert_eq!(prefix_end(&[0xff, 0xff]), None);
    }

    #[test]
    fn record_ids_keep_their_order_as_bigint() {
        let ids = [0u64, 1, 2, i64::MAX as u64, 1 << 63, u64::MAX - 1, u64::MAX];
        for w in ids.windows(2) {
            assert!(sql_id(w[0]) < sql_id(w[1]), "{} and {}", w[0], w[1]);
        }
        for id in ids {
            assert_eq!(id_of_sql(sql_id(id)), id);
        }
    }
}
