//! HD-1M: `cargo run --release -p helpdesk-benches --bin workload -- --tickets N [--json]`
//!
//! `--backend sled|postgres` (default sled) picks where ours keeps its data.
//! With `postgres`: the empty database `--database URL` names, else
//! `DATABASE_URL`'s, else a database on a throwaway cluster this process
//! starts (`helpdesk_store::pg::testing::Cluster::start_durable`: Debian's
//! PostgreSQL with its default durability settings, in a temporary
//! directory, removed when the run ends even with `--keep`).
//! `--load-threads N` (default 4): threads committing tickets to PostgreSQL
//! while loading.
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

use helpdesk_benches::{load, measure, Backend, Options};
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
    let mut backend = "sled".to_string();
    let mut database: Option<String> = None;
    let mut load_threads = None;
    let usage = "usage: workload [--tickets N] [--backend sled|postgres] [--database URL] [--load-threads N] [--json] [--dir PATH] [--keep] [--reads N] [--writes N] [--threads N] [--seed N] [--quiet] [--load-only | --measure-only]";
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
            "--load-threads" => num("--load-threads").map(|v| load_threads = Some(v as usize)),
            "--backend" => match args.next().as_deref() {
                Some(b @ ("sled" | "postgres")) => {
                    backend = b.to_string();
                    Ok(())
                }
                other => Err(format!("--backend needs sled or postgres, not {other:?}")),
            },
            "--database" => {
                args.next().map(|u| database = Some(u)).ok_or_else(|| "--database needs a URL".into())
            }
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
    // PostgreSQL: the database given, or one on a cluster of our own, which
    // lives as long as this process (the loader child gets its URL).
    let database = database.or_else(|| std::env::var("DATABASE_URL").ok().filter(|u| !u.is_empty()));
    let mut _cluster = None;
    let backend = match (backend.as_str(), database) {
        ("sled", _) => Backend::Sled,
        (_, Some(url)) => Backend::Postgres(url),
        (_, None) if load_only || measure_only => {
            eprintln!(
                "--load-only and --measure-only with --backend postgres need --database (or DATABASE_URL)"
            );
            return ExitCode::from(2);
        }
        (_, None) => match throwaway_database() {
            Ok((cluster, url)) => {
                if !quiet {
                    eprintln!("PostgreSQL: a throwaway cluster, database {url}");
                }
                _cluster = Some(cluster);
                Backend::Postgres(url)
            }
            Err(e) => {
                eprintln!("cannot start a PostgreSQL cluster: {e}");
                return ExitCode::FAILURE;
            }
        },
    };
    let mut opts = Options::new(tickets, path.clone());
    opts.backend = backend;
    opts.load_threads = load_threads.unwrap_or(opts.load_threads);
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
            if let Backend::Postgres(url) = &opts.backend {
                cmd.arg("--backend").arg("postgres").arg("--database").arg(url);
                cmd.arg("--load-threads").arg(opts.load_threads.to_string());
            }
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
        if _cluster.is_some() {
            eprintln!(
                "the throwaway PostgreSQL cluster goes with this process: to keep ours, give --database"
            );
        }
    }
    match result {
        Ok(report) => {
            if json {
                for op in &report.ops {
                    println!("{}", op.json());
                }
                if let Some(n) = &report.nodes {
                    println!("{}", n.json());
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

/// A cluster of our own (PostgreSQL's default durability) and the URL of a
/// fresh database on it.
fn throwaway_database() -> Result<(helpdesk_store::pg::testing::Cluster, String), String> {
    let cluster = helpdesk_store::pg::testing::Cluster::start_durable()?;
    let mut admin =
        postgres::Client::connect(&cluster.url("postgres"), postgres::NoTls).map_err(|e| e.to_string())?;
    admin
        .batch_execute("CREATE DATABASE hd_bench TEMPLATE template0 ENCODING 'UTF8'")
        .map_err(|e| e.to_string())?;
    let url = cluster.url("hd_bench");
    Ok((cluster, url))
}
