//! Helpers shared by the storage test suites: the test kit's views of a
//! store (a dump through the `Store` trait, a brute-force recomputation of
//! indexes and counters), and the re-exec trick the multi-process tests use.
#![allow(dead_code, unused_imports)]

pub use helpdesk_store::testkit::inspect::*;
use std::process::{Command as Process, Stdio};

/// Runs this test binary again with only `test` selected and `env` set;
/// returns the command, for the caller to add pipes and spawn.
pub fn reexec(test: &str, env: &[(&str, &str)]) -> Process {
    let exe = std::env::current_exe().expect("current_exe");
    let mut cmd = Process::new(exe);
    cmd.args(["--exact", test, "--nocapture", "--include-ignored", "--test-threads", "1"]);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.stdin(Stdio::null());
    cmd
}
