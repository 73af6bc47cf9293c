//! Two real `helpdesk` processes on one PostgreSQL database, as a team runs
//! them behind a load balancer: an agent on one node sees the other's
//! changes live, conflicting commits from both give one 409, a rule saved
//! anywhere runs on both, a session is good on both, and `kill -9` of one
//! node under load loses nothing it acknowledged while the other delivers
//! its outbox (each webhook once per idempotency key).
//!
//! The database is a throwaway one (`helpdesk_store::pg::testing`); without
//! PostgreSQL the tests skip, and fail when `CI` is set.

use helpdesk_store::Helpdesk;
use helpdesk_web::demo;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One `helpdesk` process; killed (SIGKILL) when dropped.
struct Node {
    child: Child,
    addr: SocketAddr,
}

impl Node {
    /// Starts `helpdesk --database url` on a free port, with a 2 s delivery
    /// lease, and waits until it serves.
    fn start(url: &str, demo: bool, rules: &std::path::Path) -> Node {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_helpdesk"));
        cmd.args(["--database", url, "--listen", "127.0.0.1:0", "--delivery-lease", "2"])
            .arg("--rules")
            .arg(rules)
            .env("RUST_LOG", "warn")
            .env_remove("DATABASE_URL")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        if demo {
            cmd.arg("--demo");
        }
        let mut child = cmd.spawn().expect("start helpdesk");
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut addr = None;
        let mut line = String::new();
        while addr.is_none() {
            line.clear();
            if out.read_line(&mut line).unwrap_or(0) == 0 {
                let status = child.wait().unwrap();
                panic!("helpdesk exited before serving: {status}");
            }
            addr = line
                .split_whitespace()
                .find_map(|w| w.strip_prefix("http://").and_then(|a| a.strip_suffix("/agent")))
                .and_then(|a| a.parse().ok());
        }
        // Keep reading its output so it never blocks on a full pipe.
        std::thread::spawn(move || {
            let mut sink = Vec::new();
            let _ = out.read_to_end(&mut sink);
        });
        Node { child, addr: addr.unwrap() }
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
    }
}

/// One HTTP/1.1 exchange: (status, body), or the connection's error.
fn call(
    addr: SocketAddr,
    method: &str,
    path: &str,
    s: Option<&Session>,
    body: Option<&Value>,
) -> std::io::Result<(u16, String)> {
    let mut conn = TcpStream::connect(addr)?;
    conn.set_read_timeout(Some(Duration::from_secs(30)))?;
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
        body.len()
    );
    if let Some(s) = s {
        req.push_str(&format!("Cookie: {}\r\nX-CSRF-Token: {}\r\n", s.cookie, s.csrf));
    }
    req.push_str("\r\n");
    req.push_str(&body);
    conn.write_all(req.as_bytes())?;
    let mut raw = Vec::new();
    conn.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    Ok((status, body.to_string()))
}

fn json_of(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"))
}

#[derive(Clone)]
struct Session {
    cookie: String,
    csrf: String,
}

fn login(addr: SocketAddr, (email, password): (&str, &str)) -> Session {
    let mut conn = TcpStream::connect(addr).unwrap();
    let body = json!({"email": email, "password": password}).to_string();
    write!(
        conn,
        "POST /api/agent/login HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut text = String::new();
    conn.read_to_string(&mut text).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "login: {text}");
    let cookie = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase().starts_with("set-cookie: hd_agent=").then(|| l[12..].to_string())
        })
        .map(|c| c.split(';').next().unwrap().to_string())
        .expect("a session cookie");
    Session { cookie, csrf: json_of(body)["csrf_token"].as_str().unwrap().to_string() }
}

/// Creates a ticket through a node's agent API: its id, or why not.
fn create(addr: SocketAddr, s: &Session, dept: u64, n: usize) -> Result<u64, String> {
    let body = json!({
        "subject": format!("Load {n}"), "body": "Printer on fire.", "department": dept,
        "user_email": format!("load{n}@acme.example"),
    });
    match call(addr, "POST", "/api/agent/tickets", Some(s), Some(&body)) {
        Ok((201, b)) => Ok(json_of(&b)["ticket"]["id"].as_u64().expect("an id")),
        Ok((st, b)) => Err(format!("{st}: {b}")),
        Err(e) => Err(e.to_string()),
    }
}

/// A webhook receiver: every call's `idempotency-key` and ticket id, in order.
struct Receiver {
    addr: SocketAddr,
    calls: Arc<Mutex<Vec<(String, u64)>>>,
}

impl Receiver {
    fn start() -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let calls = Arc::new(Mutex::new(Vec::new()));
        let c = calls.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let c = c.clone();
                std::thread::spawn(move || serve_hook(conn, &c));
            }
        });
        Receiver { addr, calls }
    }

    fn url(&self) -> String {
        format!("http://{}/hook", self.addr)
    }

    fn calls(&self) -> Vec<(String, u64)> {
        self.calls.lock().unwrap().clone()
    }
}

/// Reads requests off one connection (keep-alive or not), answering 200.
fn serve_hook(conn: TcpStream, calls: &Mutex<Vec<(String, u64)>>) {
    let mut r = BufReader::new(conn.try_clone().unwrap());
    let mut w = conn;
    loop {
        let (mut key, mut len) = (None, 0usize);
        let mut line = String::new();
        if r.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        loop {
            line.clear();
            if r.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            let (name, value) = l.split_once(':').unwrap_or((l, ""));
            match name.to_ascii_lowercase().as_str() {
                "idempotency-key" => key = Some(value.trim().to_string()),
                "content-length" => len = value.trim().parse().unwrap_or(0),
                _ => {}
            }
        }
        let mut body = vec![0; len];
        if r.read_exact(&mut body).is_err() {
            return;
        }
        let ticket = serde_json::from_slice::<Value>(&body).ok().and_then(|v| v["ticket"]["id"].as_u64());
        calls.lock().unwrap().push((key.unwrap_or_default(), ticket.unwrap_or(0)));
        if w.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n").is_err() {
            return;
        }
    }
}

/// A rules file: new tickets call `hook`.
fn rules_file(dir: &std::path::Path, hook: &str, extra: &str) -> std::path::PathBuf {
    let path = dir.join("rules.toml");
    std::fs::write(
        &path,
        format!(
            "[[triggers]]\nname = \"Tell the CRM\"\non = [\"new_ticket\"]\nactions = [{{ action = \"webhook\", url = \"{hook}\" }}]\n{extra}"
        ),
    )
    .unwrap();
    path
}

fn eventually(what: &str, within: Duration, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !f() {
        assert!(Instant::now() < deadline, "timed out: {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn support(hd: &Helpdesk) -> u64 {
    hd.departments().unwrap().into_iter().find(|d| d.name == "Support").unwrap().id.0
}

#[test]
fn two_nodes_serve_one_helpdesk_live() {
    let Some(db) = helpdesk_store::pg::testing::database() else { return };
    let dir = tempfile::tempdir().unwrap();
    let hook = Receiver::start();
    let rules = rules_file(dir.path(), &hook.url(), "");
    let a = Node::start(db.url(), true, &rules);
    let b = Node::start(db.url(), false, &rules);
    let hd = Helpdesk::connect(db.url()).unwrap();
    let dept = support(&hd);

    // One login, good on both nodes.
    let admin = login(b.addr, demo::ADMIN);
    assert_eq!(call(a.addr, "GET", "/api/agent/me", Some(&admin), None).unwrap().0, 200);
    let sam = login(a.addr, demo::AGENT);

    // Sam watches on A; the admin creates a ticket on B: Sam hears it live.
    let mut stream = TcpStream::connect(a.addr).unwrap();
    write!(stream, "GET /api/agent/events HTTP/1.1\r\nHost: {}\r\nCookie: {}\r\n\r\n", a.addr, sam.cookie)
        .unwrap();
    stream.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
    let mut seen = String::new();
    let mut read_stream = |seen: &mut String| {
        let mut buf = [0u8; 4096];
        if let Ok(n) = stream.read(&mut buf) {
            seen.push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    };
    eventually("the event stream answers", Duration::from_secs(5), || {
        read_stream(&mut seen);
        seen.starts_with("HTTP/1.1 200")
    });
    let started = Instant::now();
    let id = create(b.addr, &admin, dept, 1).unwrap();
    eventually("A streams B's new ticket", Duration::from_secs(5), || {
        read_stream(&mut seen);
        seen.contains(&format!("\"ticket\":{id},"))
    });
    eprintln!("B's commit reached an agent on A in {:?}", started.elapsed());
    assert!(seen.contains("event:ticket"), "{seen}");

    // Both nodes set the urgency of one version at once: one 409.
    let (_, t) = call(a.addr, "GET", &format!("/api/agent/tickets/{id}"), Some(&sam), None).unwrap();
    let version = json_of(&t)["ticket"]["version"].as_u64().unwrap();
    let path = format!("/api/agent/tickets/{id}/commands");
    let racers: Vec<_> = [(a.addr, sam.clone(), 3), (b.addr, admin.clone(), 8)]
        .into_iter()
        .map(|(addr, s, urgency)| {
            let (path, body) =
                (path.clone(), json!({"command": "set_urgency", "urgency": urgency, "version": version}));
            std::thread::spawn(move || call(addr, "POST", &path, Some(&s), Some(&body)).unwrap())
        })
        .collect();
    let mut outcomes: Vec<(u16, String)> = racers.into_iter().map(|r| r.join().unwrap()).collect();
    outcomes.sort();
    assert_eq!((outcomes[0].0, outcomes[1].0), (200, 409), "{outcomes:?}");
    assert!(json_of(&outcomes[1].1)["conflict"].is_object(), "{}", outcomes[1].1);

    // A rule saved by a third node runs on both at once: their compiled
    // rules are checked against the database's rules epoch on each command.
    hd.load_rules_toml(&format!(
        "{}\n[[triggers]]\nname = \"Label\"\non = [\"new_ticket\"]\nactions = [{{ action = \"add_label\", label = \"saved-elsewhere\" }}]\n",
        std::fs::read_to_string(&rules).unwrap()
    ))
    .unwrap();
    for (n, node) in [&a, &b].into_iter().enumerate() {
        let id = create(node.addr, &admin, dept, 10 + n).unwrap();
        let labels = hd.ticket(helpdesk_core::TicketId(id)).unwrap().labels;
        assert!(labels.contains("saved-elsewhere"), "node {n} ran the rules it had: {labels:?}");
    }

    // Logging out on A ends the session on B at once.
    assert_eq!(call(a.addr, "POST", "/api/agent/logout", Some(&admin), None).unwrap().0 / 100, 2);
    assert_eq!(call(b.addr, "GET", "/api/agent/me", Some(&admin), None).unwrap().0, 401, "B still takes it");
    drop((a, b));
    drop(db);
}

#[test]
fn a_node_killed_under_load_loses_nothing_and_its_webhooks_go_once() {
    let Some(db) = helpdesk_store::pg::testing::database() else { return };
    let dir = tempfile::tempdir().unwrap();
    let hook = Receiver::start();
    let rules = rules_file(dir.path(), &hook.url(), "");
    let mut a = Node::start(db.url(), true, &rules);
    let b = Node::start(db.url(), false, &rules);
    let hd = Helpdesk::connect(db.url()).unwrap();
    let dept = support(&hd);
    let first_new = hd.store().last_ticket_id().unwrap().map_or(1, |t| t.0 + 1);
    let admin = login(a.addr, demo::ADMIN);

    // Two writers per node; A is killed once 40 creates are acknowledged.
    let acked = Arc::new(Mutex::new(Vec::<u64>::new()));
    let per_writer = 60;
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let (addr, s, acked) = (if w < 2 { a.addr } else { b.addr }, admin.clone(), acked.clone());
            std::thread::spawn(move || {
                let mut errors = 0;
                for n in 0..per_writer {
                    match create(addr, &s, dept, w * 1000 + n) {
                        Ok(id) => acked.lock().unwrap().push(id),
                        // Only A's writers may fail, and only once it is gone.
                        Err(_) if w < 2 => {
                            errors += 1;
                            break;
                        }
                        Err(e) => panic!("B refused a create: {e}"),
                    }
                }
                errors
            })
        })
        .collect();
    let a_addr = a.addr;
    eventually("40 creates acknowledged", Duration::from_secs(60), || acked.lock().unwrap().len() >= 40);
    a.kill();
    let a_errors: i32 = writers.into_iter().map(|w| w.join().unwrap()).sum();
    let acked = acked.lock().unwrap().clone();
    assert!(call(a_addr, "GET", "/", None, None).is_err(), "A still answers");
    eprintln!("{} creates acknowledged, {a_errors} cut off by the kill", acked.len());

    // Nothing acknowledged is lost: B serves every acknowledged ticket.
    for id in &acked {
        let (st, body) =
            call(b.addr, "GET", &format!("/api/agent/tickets/{id}"), Some(&admin), None).unwrap();
        assert_eq!(st, 200, "ticket {id} acknowledged by a node, not found after the kill: {body}");
    }
    // Every ticket committed (acknowledged or cut off after its commit)
    // calls the webhook: B delivers what A had claimed once A's lease ends.
    let last = hd.store().last_ticket_id().unwrap().unwrap().0;
    // (An id A took for a create it never committed stays unused.)
    let committed: BTreeSet<u64> = (first_new..=last)
        .filter(|id| hd.store().ticket(helpdesk_core::TicketId(*id)).unwrap().is_some())
        .collect();
    assert!(committed.len() >= acked.len());
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let called: BTreeSet<u64> = hook.calls().iter().map(|c| c.1).collect();
        if called == committed {
            break;
        }
        if Instant::now() > deadline {
            let missing: Vec<_> = committed.difference(&called).collect();
            let extra: Vec<_> = called.difference(&committed).collect();
            let outbox = hd.store().outbox(None, 20).unwrap();
            panic!("webhooks missing for {missing:?}, unexpected for {extra:?}; outbox: {outbox:#?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    // Once per idempotency key, but for the one call A may have made and
    // not recorded before it died (sent again with the same key).
    let mut per_key: BTreeMap<String, usize> = BTreeMap::new();
    for (key, _) in hook.calls() {
        *per_key.entry(key).or_default() += 1;
    }
    assert_eq!(per_key.len(), committed.len(), "one key per new ticket");
    let repeats: Vec<_> = per_key.iter().filter(|(_, n)| **n > 1).collect();
    assert!(repeats.len() <= 1 && repeats.iter().all(|(_, n)| **n == 2), "sent more than once: {repeats:?}");
    eprintln!("{} webhooks, {} sent again after the kill", per_key.len(), repeats.len());
    // And the outbox is empty: every item recorded as delivered.
    eventually("the outbox drains", Duration::from_secs(30), || {
        hd.store().outbox(None, 10).unwrap().is_empty()
    });
    drop(b);
    drop(db);
}

/// `helpdesk migrate` moves a sled helpdesk into PostgreSQL, where a node
/// then serves it (the same logins and tickets); a second run into the
/// same database, or from a directory with no store, is refused.
#[test]
fn migrate_moves_a_sled_helpdesk_to_postgres() {
    let Some(db) = helpdesk_store::pg::testing::database() else { return };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let tickets = {
        let hd = Helpdesk::open(&data).unwrap();
        demo::seed(&hd).unwrap();
        hd.flush().unwrap();
        hd.store().last_ticket_id().unwrap().unwrap().0
    };
    let run = |from: &str| {
        Command::new(env!("CARGO_BIN_EXE_helpdesk"))
            .args(["migrate", "--from", from, "--to", db.url()])
            .env("RUST_LOG", "warn")
            .output()
            .unwrap()
    };
    let out = run(data.to_str().unwrap());
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains(&format!("copied {tickets} tickets")), "{stdout}");
    assert!(stdout.contains("verified: "), "{stdout}");

    let again = run(data.to_str().unwrap());
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("not empty"), "{again:?}");
    let nowhere = run(dir.path().join("nothing").to_str().unwrap());
    assert!(String::from_utf8_lossy(&nowhere.stderr).contains("there is no sled store at"), "{nowhere:?}");

    // A node on the copy: the demo admin logs in and sees the same tickets.
    let rules = rules_file(dir.path(), "http://127.0.0.1:9/unused", "");
    let node = Node::start(db.url(), false, &rules);
    let admin = login(node.addr, demo::ADMIN);
    for id in 1..=tickets {
        let (status, body) =
            call(node.addr, "GET", &format!("/api/agent/tickets/{id}"), Some(&admin), None).unwrap();
        assert_eq!(status, 200, "ticket {id}: {body}");
    }
    drop(node);
    drop(db);
}
