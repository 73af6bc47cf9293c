//! The workload at 2,000 tickets: generator, both stores, every operation,
//! and the agreement check between them (lists and counts equal).

use helpdesk_benches::{run, Options};
use std::time::Duration;

#[test]
fn the_workload_runs_on_both_stores_and_they_agree() {
    let dir = tempfile::tempdir().unwrap();
    let mut opts = Options::new(2_000, dir.path().to_path_buf());
    opts.reads = 20;
    opts.writes = 6;
    opts.threads = 2;
    opts.op_time = Duration::from_secs(5);
    let report = run(&opts).expect("benchmark runs");
    let names: Vec<&str> = report.ops.iter().map(|o| o.op.as_str()).collect();
    for expected in [
        "ticket create (durable)",
        "user reply (durable)",
        "agent reply (durable)",
        "open a ticket with its log",
    ] {
        assert!(names.contains(&expected), "{names:?}");
    }
    assert!(names.iter().filter(|n| n.starts_with("filter page of 25")).count() >= 3);
    for op in &report.ops {
        assert!(!op.ours.samples.is_empty() && !op.baseline.samples.is_empty(), "{}", op.op);
        let line: serde_json::Value = serde_json::from_str(&op.json()).unwrap();
        for field in ["op", "ours_ns", "baseline_ns", "ours_p99_ns", "ratio"] {
            assert!(line.get(field).is_some(), "{field} in {line}");
        }
    }
    assert!(report.ours_bytes > 0 && report.baseline_bytes > 0);
    assert!(report.table().contains("ticket create (durable)"));
}
