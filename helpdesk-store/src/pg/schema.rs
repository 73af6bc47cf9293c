//! The versioned schema: migrations embedded as SQL files, applied in order
//! at open, each recorded in `helpdesk_schema` with its version.
//!
//! [`migrate`] runs in one transaction holding a transaction-scoped advisory
//! lock ([`MIGRATION_LOCK`]), so nodes starting together apply each
//! migration once: the second waits, then finds it applied. A database whose
//! schema is newer than every migration this code knows is refused
//! ([`PgError::SchemaTooNew`]): an older node must not write to it.

use super::PgError;

/// One schema version: its number (1, 2, ...) and its SQL.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    /// The version the database is at once this has run.
    pub version: i32,
    /// A short name, recorded with it.
    pub name: &'static str,
    /// The statements.
    pub sql: &'static str,
}

/// Every migration, in version order (versions 1, 2, ... without gaps).
pub const MIGRATIONS: &[Migration] = &[
    Migration { version: 1, name: "initial", sql: include_str!("migrations/0001_initial.sql") },
    Migration { version: 2, name: "several nodes", sql: include_str!("migrations/0002_several_nodes.sql") },
    Migration { version: 3, name: "audit log", sql: include_str!("migrations/0003_audit_log.sql") },
];

/// The schema version this code writes.
pub fn latest() -> i32 {
    MIGRATIONS.last().map_or(0, |m| m.version)
}

/// The advisory lock key migrations hold (`pg_advisory_xact_lock`): "hdsk"
/// in ASCII.
pub const MIGRATION_LOCK: i64 = 0x6864_736b;

/// Brings the schema of the database `client` is connected to up to
/// [`latest`] (or refuses a newer one); returns the version it is at.
pub fn migrate(client: &mut postgres::Client) -> Result<i32, PgError> {
    migrate_with(client, MIGRATIONS)
}

/// [`migrate`] with a given list of migrations (tests use a longer list to
/// make a database newer than the code).
#[doc(hidden)]
pub fn migrate_with(client: &mut postgres::Client, migrations: &[Migration]) -> Result<i32, PgError> {
    let mut tx = client.transaction().map_err(|e| PgError::sql("starting the migration", e))?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .map_err(|e| PgError::sql("taking the migration lock", e))?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS helpdesk_schema (
            version    INTEGER     PRIMARY KEY,
            name       TEXT        NOT NULL,
            applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
        )",
    )
    .map_err(|e| PgError::sql("creating helpdesk_schema", e))?;
    let current: i32 = tx
        .query_one("SELECT COALESCE(max(version), 0) FROM helpdesk_schema", &[])
        .map_err(|e| PgError::sql("reading the schema version", e))?
        .get(0);
    let known = migrations.last().map_or(0, |m| m.version);
    if current > known {
        return Err(PgError::SchemaTooNew { found: current, known });
    }
    for m in migrations.iter().filter(|m| m.version > current) {
        tx.batch_execute(m.sql).map_err(|e| PgError::Migration {
            version: m.version,
            name: m.name,
            reason: super::describe(&e),
        })?;
        tx.execute("INSERT INTO helpdesk_schema (version, name) VALUES ($1, $2)", &[&m.version, &m.name])
            .map_err(|e| PgError::sql("recording a migration", e))?;
    }
    tx.commit().map_err(|e| PgError::sql("committing the migration", e))?;
    Ok(current.max(known))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_consecutive_from_one() {
        for (i, m) in MIGRATIONS.iter().enumerate() {
            assert_eq!(m.version, i as i32 + 1, "migration {} out of sequence", m.name);
            assert!(!m.sql.trim().is_empty());
        }
        assert_eq!(latest(), MIGRATIONS.len() as i32);
    }
}
