//! HD-1M: `cargo run --release -p helpdesk-benches --bin workload -- --tickets N [--json]`
//!
//! Options: `--tickets N` (default 100000), `--json` (one JSON object per
//! operation, then a summary object, on stdout; the table goes to stderr
//! unless `--quiet`), `--dir PATH` (where the databases go;
//! default a fresh temporary directory, removed at the end unless `--keep`),
//! `--reads N`, `--writes N`, `--threads N`, `--seed N`, `--quiet`, and
//! `--load-only` (what the run does first, in a child process, so that the
//! measuring process starts from the loaded stores like a restarted server),
//! and `--measure-only` (with `--dir`: measure stores an earlier `--load-only`
//! or `--keep` run left there; the measured writes add to them, so for
//! profiling rather than for results).

use helpdesk_benches::{load, measure, Options};
use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let mut tickets = 100_000u64;
    let (mut json, mut keep, mut quiet) = (false, false, false);
    let mut dir: Option<PathBuf> = None;
    let (mut reads, mut writes, mut threads, mut seed) = (None, None, None, None);
    let mut load_only = false;
    let mut measure_only = false;
    let usage = "usage: workload [--tickets N] [--json] [--dir PATH] [--keep] [--reads N] [--writes N] [--threads N] [--seed N] [--quiet] [--load-only | --measure-only]";
    while let Some(a) = args.next() {
        let mut num = |name: &str| -> Result<u64, String> {
            args.next()
                .ok_or_else(|| format!("{name} needs a value"))?
                .replace('_', "")
                .parse::<u64>()
                .map_err(|e| format!("{name}: {e}"))
        };
        let r = match a.as_str() {
            "--tickets" => num("--tickets").map(|v| tickets = v),
            "--reads" => num("--reads").map(|v| reads = Some(v as usize)),
            "--writes" => num("--writes").map(|v| writes = Some(v as usize)),
            "--threads" => num("--threads").map(|v| threads = Some(v as usize)),
            "--seed" => num("--seed").map(|v| seed = Some(v)),
            "--json" => {
                json = true;
                Ok(())
            }
            "--keep" => {
                keep = true;
                Ok(())
            }
            "--quiet" => {
                quiet = true;
                Ok(())
            }
            "--load-only" => {
                load_only = true;
                Ok(())
            }
            "--measure-only" => {
                measure_only = true;
                Ok(())
            }
            "--dir" => {
                args.next().map(|p| dir = Some(PathBuf::from(p))).ok_or_else(|| "--dir needs a path".into())
            }
            "-h" | "--help" => {
                println!("{usage}");
                return ExitCode::SUCCESS;
            }
            other => Err(format!("unknown argument {other:?}")),
        };
        if let Err(e) = r {
            eprintln!("{e}\n{usage}");
            return ExitCode::from(2);
        }
    }
    if tickets == 0 {
        eprintln!("--tickets must be at least 1");
        return ExitCode::from(2);
    }
    let temp = match &dir {
        Some(_) => None,
        None => match tempfile::Builder::new().prefix("hd-bench-").tempdir() {
            Ok(t) => Some(t),
            Err(e) => {
                eprintln!("cannot make a temporary directory: {e}");
                return ExitCode::FAILURE;
            }
        },
    };
    let path =
        dir.clone().unwrap_or_else(|| temp.as_ref().map(|t| t.path().to_path_buf()).unwrap_or_default());
    let mut opts = Options::new(tickets, path.clone());
    opts.progress = !quiet;
    opts.reads = reads.unwrap_or(opts.reads);
    opts.writes = writes.unwrap_or(opts.writes);
    opts.threads = threads.unwrap_or(opts.threads);
    opts.seed = seed.unwrap_or(opts.seed);
    if load_only {
        return match load(&opts) {
            Ok(_) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("loading failed: {e}");
                ExitCode::FAILURE
            }
        };
    }
    if measure_only && dir.is_none() {
        eprintln!("--measure-only needs --dir (where a loaded run left its stores)");
        return ExitCode::from(2);
    }
    // Load in a child process, so that this one measures (memory included)
    // what a server sees after opening the loaded stores.
    let child = if measure_only {
        Ok(std::process::ExitStatus::default())
    } else {
        std::env::current_exe().and_then(|exe| {
            let mut cmd = std::process::Command::new(exe);
            cmd.arg("--load-only").arg("--tickets").arg(tickets.to_string()).arg("--dir").arg(&path);
            cmd.arg("--seed").arg(opts.seed.to_string());
            if quiet {
                cmd.arg("--quiet");
            }
            cmd.status()
        })
    };
    match child {
        Ok(s) if s.success() => {}
        Ok(s) => {
            eprintln!("loading failed ({s})");
            return ExitCode::FAILURE;
        }
        Err(e) => {
            eprintln!("cannot start the loader: {e}");
            return ExitCode::FAILURE;
        }
    }
    let result = measure(&opts);
    if keep {
        if let Some(t) = temp {
            let kept = t.keep();
            eprintln!("databases kept in {}", kept.display());
        }
    }
    match result {
        Ok(report) => {
            if json {
                for op in &report.ops {
                    println!("{}", op.json());
                }
                println!("{}", report.summary_json());
                if !quiet {
                    eprint!("{}", report.table());
                }
            } else {
                print!("{}", report.table());
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("benchmark failed: {e}");
            ExitCode::FAILURE
        }
    }
}
