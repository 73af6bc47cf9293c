//! Throwaway PostgreSQL for tests (feature `test-kit`): a fresh database
//! per test, on the server `DATABASE_URL` names or, when it is unset, on a
//! cluster this process starts in a temporary directory.
//!
//! The cluster is Debian's PostgreSQL (`/usr/lib/postgresql/*/bin`, or
//! `initdb` on the `PATH`; `scripts/test-deps.sh` installs it), run as an
//! unprivileged user when the tests run as root (`postgres`, else `nobody`,
//! through `runuser`: `initdb` refuses root), listening on a free loopback
//! port and a unix socket in its directory. One cluster serves the whole
//! test binary; a watchdog process stops it and removes its directory when
//! the test process exits, however it exits.
//!
//! Without PostgreSQL, [`database`] returns `None` after saying why (the
//! test skips); when `CI` is set it panics instead, so CI cannot pass by
//! skipping.
//!
//! ```no_run
//! let Some(db) = helpdesk_store::pg::testing::database() else { return };
//! let store = helpdesk_store::pg::PgStore::open(db.url()).unwrap();
//! # let _ = store;
//! ```

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

/// A database made for one test; dropped (with its connections) when this is.
#[derive(Debug)]
pub struct TestDb {
    url: String,
    admin_url: String,
    name: String,
}

impl TestDb {
    /// Its connection string.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        // On a thread of its own: the blocking client panics on an async
        // runtime's thread, where a test may drop this.
        let (url, name) = (self.admin_url.clone(), self.name.clone());
        let dropped = std::thread::spawn(move || {
            if let Ok(mut c) = postgres::Client::connect(&url, postgres::NoTls) {
                let _ = c.batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"));
            }
        });
        let _ = dropped.join();
    }
}

/// Where test databases are made: `DATABASE_URL`'s server or our cluster.
#[derive(Debug)]
struct Server {
    /// A URL whose database part [`with_database`] replaces.
    base: String,
    /// Kept until the process exits (the watchdog removes the directory).
    _cluster: Option<Cluster>,
}

static SERVER: OnceLock<Result<Server, String>> = OnceLock::new();
static NEXT: AtomicUsize = AtomicUsize::new(0);

/// A new, empty database (see the module docs), or `None` when there is no
/// PostgreSQL here and `CI` is unset.
pub fn database() -> Option<TestDb> {
    let server = SERVER.get_or_init(|| match std::env::var("DATABASE_URL") {
        Ok(url) if !url.is_empty() => Ok(Server { base: url, _cluster: None }),
        _ => Cluster::start().map(|c| Server { base: c.url("postgres"), _cluster: Some(c) }),
    });
    let server = match server {
        Ok(s) => s,
        Err(why) => {
            if std::env::var_os("CI").is_some() {
                panic!("PostgreSQL tests cannot run (CI is set, so this fails rather than skips): {why}");
            }
            eprintln!("skipping a PostgreSQL test: {why} (run scripts/test-deps.sh, or set DATABASE_URL)");
            return None;
        }
    };
    let name = format!("helpdesk_test_{}_{}", std::process::id(), NEXT.fetch_add(1, Ordering::SeqCst));
    let admin_url = server.base.clone();
    let mut admin = postgres::Client::connect(&admin_url, postgres::NoTls)
        .unwrap_or_else(|e| panic!("cannot connect to the test server {admin_url}: {}", why(&e)));
    admin
        .batch_execute(&format!("CREATE DATABASE \"{name}\" TEMPLATE template0 ENCODING 'UTF8'"))
        .unwrap_or_else(|e| panic!("cannot create test database {name}: {}", why(&e)));
    Some(TestDb { url: with_database(&server.base, &name), admin_url, name })
}

/// PostgreSQL's message for an error, or the client's.
fn why(e: &postgres::Error) -> String {
    e.as_db_error().map_or_else(|| e.to_string(), |d| format!("{} ({})", d.message(), d.code().code()))
}

/// `url` (a `postgres://` URL) naming database `name` instead.
fn with_database(url: &str, name: &str) -> String {
    let (scheme, rest) = url.split_once("://").expect("DATABASE_URL must be a postgres:// URL");
    let (before_query, query) = match rest.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (rest, None),
    };
    let authority = before_query.split('/').next().unwrap_or(before_query);
    let mut out = format!("{scheme}://{authority}/{name}");
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}

/// A PostgreSQL cluster in a temporary directory, stopped and removed on drop
/// (or by its watchdog when the process exits first).
#[derive(Debug)]
pub struct Cluster {
    dir: PathBuf,
    bin: PathBuf,
    port: u16,
    /// Who runs the server (`None`: this process's user).
    user: Option<String>,
    watchdog: Option<std::process::Child>,
}

impl Cluster {
    /// Initialises and starts a cluster; `Err` says why it could not. It
    /// runs with `fsync` and full-page writes off: fast, and nothing
    /// survives a crash of the machine (tests do not need it to).
    pub fn start() -> Result<Cluster, String> {
        Self::start_with("-c fsync=off -c full_page_writes=off")
    }

    /// [`start`](Self::start), but with PostgreSQL's own durability settings
    /// (`fsync` and full-page writes on): a commit with
    /// `synchronous_commit = on` is on disk when acknowledged. For
    /// benchmarks that time durable commits (the HD-1M workload).
    pub fn start_durable() -> Result<Cluster, String> {
        Self::start_with("")
    }

    /// Starts a cluster with `settings` (`-c name=value ...`) added to the
    /// server's command line.
    fn start_with(settings: &str) -> Result<Cluster, String> {
        let bin = find_bin().ok_or("PostgreSQL's initdb was not found (no /usr/lib/postgresql/*/bin)")?;
        let root = run_output(Command::new("id").arg("-u"))?.trim() == "0";
        let user = if root {
            let user = ["postgres", "nobody"]
                .into_iter()
                .find(|u| {
                    Command::new("id")
                        .arg("-u")
                        .arg(u)
                        .stdout(Stdio::null())
                        .status()
                        .is_ok_and(|s| s.success())
                })
                .ok_or("running as root and there is no postgres or nobody user to run PostgreSQL as")?;
            Some(user.to_string())
        } else {
            None
        };
        let dir =
            tempfile::Builder::new().prefix("helpdesk-pg-").tempdir().map_err(|e| e.to_string())?.keep();
        let mut cluster = Cluster { dir, bin, port: 0, user, watchdog: None };
        if let Some(user) = &cluster.user {
            let uid = run_output(Command::new("id").args(["-u", user]))?
                .trim()
                .parse::<u32>()
                .map_err(|e| e.to_string())?;
            let gid = run_output(Command::new("id").args(["-g", user]))?
                .trim()
                .parse::<u32>()
                .map_err(|e| e.to_string())?;
            std::os::unix::fs::chown(&cluster.dir, Some(uid), Some(gid))
                .map_err(|e| format!("chown: {e}"))?;
        }
        cluster.watch()?;
        let data = cluster.dir.join("data");
        cluster.run(
            "initdb",
            &["-D", path(&data), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync"],
        )?;
        cluster.port = free_port()?;
        let opts = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c max_connections=300 {settings}",
            cluster.port,
            path(&cluster.dir)
        );
        let log = cluster.dir.join("log");
        cluster
            .run("pg_ctl", &["-D", path(&data), "-l", path(&log), "-o", &opts, "-w", "-t", "60", "start"])?;
        Ok(cluster)
    }

    /// The connection string of database `name` on this cluster.
    pub fn url(&self, name: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{name}?sslmode=disable", self.port)
    }

    /// A process that stops the cluster and removes its directory once this
    /// process is gone.
    fn watch(&mut self) -> Result<(), String> {
        let stop =
            self.command_line("pg_ctl", &["-D", path(&self.dir.join("data")), "-m", "immediate", "stop"]);
        let script = format!(
            "while kill -0 {pid} 2>/dev/null; do sleep 0.5; done; {stop} >/dev/null 2>&1; rm -rf '{dir}'",
            pid = std::process::id(),
            dir = path(&self.dir),
        );
        let child = Command::new("sh")
            .args(["-c", &script])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start the cluster's watchdog: {e}"))?;
        self.watchdog = Some(child);
        Ok(())
    }

    fn command_line(&self, tool: &str, args: &[&str]) -> String {
        let mut words: Vec<String> = Vec::new();
        if let Some(user) = &self.user {
            words.extend(["runuser".into(), "-u".into(), user.clone(), "--".into()]);
        }
        words.push(path(&self.bin.join(tool)).to_string());
        words.extend(args.iter().map(|a| a.to_string()));
        words.iter().map(|w| format!("'{}'", w.replace('\'', "'\\''"))).collect::<Vec<_>>().join(" ")
    }

    fn run(&self, tool: &str, args: &[&str]) -> Result<(), String> {
        let mut cmd = match &self.user {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.args(["-u", user, "--"]).arg(self.bin.join(tool));
                c
            }
            None => Command::new(self.bin.join(tool)),
        };
        cmd.args(args).current_dir(&self.dir).stdin(Stdio::null());
        let out = cmd.output().map_err(|e| format!("cannot run {tool}: {e}"))?;
        if !out.status.success() {
            let log = std::fs::read_to_string(self.dir.join("log")).unwrap_or_default();
            return Err(format!(
                "{tool} failed: {}{}\n{log}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        Ok(())
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if self.port != 0 {
            let _ = self.run("pg_ctl", &["-D", path(&self.dir.join("data")), "-m", "immediate", "stop"]);
        }
        if let Some(mut w) = self.watchdog.take() {
            let _ = w.kill();
            let _ = w.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn path(p: &Path) -> &str {
    p.to_str().expect("temporary paths are UTF-8")
}

fn run_output(cmd: &mut Command) -> Result<String, String> {
    let out = cmd.stdin(Stdio::null()).output().map_err(|e| format!("{cmd:?}: {e}"))?;
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The newest `/usr/lib/postgresql/<version>/bin` with `initdb`, else the
/// directory of an `initdb` on the `PATH`.
fn find_bin() -> Option<PathBuf> {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| Some((e.file_name().to_str()?.parse().ok()?, e.path().join("bin"))))
        .filter(|(_, bin)| bin.join("initdb").is_file())
        .collect();
    versions.sort();
    if let Some((_, bin)) = versions.pop() {
        return Some(bin);
    }
    std::env::split_paths(&std::env::var_os("PATH")?)
        .find(|d| d.join("initdb").is_file() && d.join("pg_ctl").is_file())
        .and_then(|d| std::fs::canonicalize(d.join("initdb")).ok()?.parent().map(Path::to_path_buf))
}

fn free_port() -> Result<u16, String> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| format!("no free port: {e}"))?;
    Ok(l.local_addr().map_err(|e| e.to_string())?.port())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn with_database_replaces_only_the_database() {
        assert_eq!(
            with_database("postgres://u:p@h:5/db?sslmode=require", "t1"),
            "postgres://u:p@h:5/t1?sslmode=require"
        );
        assert_eq!(with_database("postgresql://h", "t1"), "postgresql://h/t1");
    }
}
