//! The workload at 1,000 tickets with ours on PostgreSQL: every operation,
//! the agreement check against SQLite, and one node against two. Skips
//! without PostgreSQL unless `CI` is set (see `helpdesk_store::pg::testing`).

use helpdesk_benches::{run, Backend, Options};
use std::time::Duration;

#[test]
fn the_workload_runs_on_postgres_and_sqlite_and_they_agree() {
    let Some(db) = helpdesk_store::pg::testing::database() else { return };
    let dir = tempfile::tempdir().unwrap();
    let mut opts = Options::new(1_000, dir.path().to_path_buf());
    opts.backend = Backend::Postgres(db.url().to_string());
    opts.load_threads = 3;
    opts.reads = 20;
    opts.writes = 16;
    opts.threads = 2;
    opts.op_time = Duration::from_secs(5);
    let report = run(&opts).expect("benchmark runs");
    assert_eq!(report.backend, "postgres");
    let names: Vec<&str> = report.ops.iter().map(|o| o.op.as_str()).collect();
    for expected in [
        "ticket create (durable)",
        "user reply (durable)",
        "agent reply (durable)",
        "open a ticket with its log",
        "counts of the 11 built-in filters of an agent",
    ] {
        assert!(names.contains(&expected), "{names:?}");
    }
    assert!(names.iter().filter(|n| n.starts_with("filter page of 25")).count() >= 4);
    for op in &report.ops {
        assert!(!op.ours.samples.is_empty() && !op.baseline.samples.is_empty(), "{}", op.op);
    }
    let nodes = report.nodes.as_ref().expect("one node against two");
    assert_eq!(nodes.writers, 16);
    assert!(!nodes.one.samples.is_empty() && !nodes.two.samples.is_empty());
    assert!(nodes.speedup() > 0.0);
    let line: serde_json::Value = serde_json::from_str(&nodes.json()).unwrap();
    assert!(line.get("speedup").is_some(), "{line}");
    assert!(report.ours_bytes > 0 && report.baseline_bytes > 0);
    assert!(report.table().contains("one node"));
}
