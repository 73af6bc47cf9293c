//! The crash test: a child process writes tickets to a sled database from
//! several threads and reports every acknowledged (durable) write; the parent
//! kills it with SIGKILL at some point, reopens the database and checks that
//! every acknowledged write is there, and that the store is consistent. Three
//! rounds on the same database, so recovery of a killed database is itself
//! recovered from. The same rounds run against PostgreSQL (a killed client
//! mid-commit: every acknowledged commit is there, none half-written), on a
//! throwaway database (`helpdesk_store::pg::testing`).

mod common;

use common::{check_consistent, reexec};
use helpdesk_core::*;
use helpdesk_store::{Error, Helpdesk, NewAgent};
use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::Stdio;
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Set in the child: the database to write to (a sled directory or a
/// `postgres://` URL).
const CHILD_DB: &str = "HELPDESK_TEST_CRASH_CHILD_DB";
/// Set in the child: the round, to tell its tickets apart.
const CHILD_ROUND: &str = "HELPDESK_TEST_CRASH_CHILD_ROUND";
/// Writer threads in the child.
const THREADS: usize = 4;

/// One acknowledged write, as the child reports it:
/// `ACK op=<create|update> thread=<i> seq=<n> ticket=<id> version=<v>`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Ack {
    create: bool,
    thread: usize,
    seq: usize,
    ticket: TicketId,
    version: u64,
}

fn parse_ack(line: &str) -> Option<Ack> {
    let rest = line.strip_suffix('\n')?;
    let rest = &rest[rest.find("ACK ")? + 4..];
    let mut fields = BTreeMap::new();
    for part in rest.split(' ') {
        let (k, v) = part.split_once('=')?;
        fields.insert(k, v);
    }
    Some(Ack {
        create: match *fields.get("op")? {
            "create" => true,
            "update" => false,
            _ => return None,
        },
        thread: fields.get("thread")?.parse().ok()?,
        seq: fields.get("seq")?.parse().ok()?,
        ticket: TicketId(fields.get("ticket")?.parse().ok()?),
        version: fields.get("version")?.parse().ok()?,
    })
}

/// Opens the database (sled, or PostgreSQL for a `postgres://` URL),
/// waiting a little for a killed process's lock to go.
fn open_retrying(path: &Path) -> Helpdesk {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let opened = match path.to_str().filter(|p| p.starts_with("postgres://")) {
            Some(url) => Helpdesk::connect(url),
            None => Helpdesk::open(path),
        };
        match opened {
            Ok(hd) => return hd,
            Err(Error::Store(StoreError::Locked { .. })) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(20))
            }
            Err(e) => panic!("open {}: {e}", path.display()),
        }
    }
}

fn subject(round: &str, thread: usize, seq: usize) -> String {
    format!("crash round {round} thread {thread} seq {seq}")
}

// ----- the child ---------------------------------------------------------------

/// The child side: a no-op unless run by `acknowledged_writes_survive_sigkill`.
#[test]
fn crash_child() {
    let Ok(path) = std::env::var(CHILD_DB) else { return };
    let round = std::env::var(CHILD_ROUND).unwrap_or_default();
    // Never outlive a parent that died without killing us.
    std::thread::spawn(|| {
        std::thread::sleep(Duration::from_secs(60));
        std::process::exit(3);
    });
    let hd = open_retrying(Path::new(&path));
    let support = hd.departments().unwrap_or_else(|e| fail("departments", e))[0].id;
    let alice =
        hd.agent_by_email("alice@helpdesk.test").unwrap_or_else(|e| fail("agent", e)).expect("alice").id;
    let ann = hd.user_by_email("ann@acme.com").unwrap_or_else(|e| fail("user", e)).expect("ann").id;
    let ack = |create: bool, thread: usize, seq: usize, t: &Ticket| {
        let op = if create { "create" } else { "update" };
        let mut out = std::io::stdout().lock();
        // One write per line (the pipe keeps short writes whole).
        let line = format!("ACK op={op} thread={thread} seq={seq} ticket={} version={}\n", t.id.0, t.version);
        out.write_all(line.as_bytes()).and_then(|_| out.flush()).expect("stdout");
    };
    std::thread::scope(|s| {
        for thread in 0..THREADS {
            let (hd, round, ack) = (&hd, &round, &ack);
            s.spawn(move || {
                for seq in 0.. {
                    let new = NewTicket::new(
                        subject(round, thread, seq),
                        "It broke.",
                        support,
                        ann,
                        Channel::Portal,
                    );
                    let t = hd.create_ticket(&Actor::User(ann), new).unwrap_or_else(|e| fail("create", e));
                    ack(true, thread, seq, &t);
                    let t =
                        hd.user_reply(t.id, ann, "More details.").unwrap_or_else(|e| fail("user reply", e));
                    ack(false, thread, seq, &t);
                    let t = hd
                        .agent_reply(t.id, alice, "Fixed?", None)
                        .unwrap_or_else(|e| fail("agent reply", e));
                    ack(false, thread, seq, &t);
                    if seq % 3 == 2 {
                        let t = hd
                            .execute(t.id, &Actor::Agent(alice), Command::Delete)
                            .unwrap_or_else(|e| fail("delete", e));
                        ack(false, thread, seq, &t);
                    }
                }
            });
        }
    });
}

/// The child gives up on an unexpected error (the parent reports its stderr).
fn fail(what: &str, e: Error) -> ! {
    eprintln!("child: {what}: {e}");
    std::process::exit(2)
}

// ----- the parent --------------------------------------------------------------

/// Runs one child until it has acknowledged `target` writes (or 10 s have
/// passed), waits `delay` more, kills it, and returns every write it acknowledged.
fn run_child_and_kill(dir: &Path, path: &Path, round: usize, target: usize, delay: Duration) -> Vec<Ack> {
    let stderr_path = dir.join(format!("child-{round}.stderr"));
    let mut child =
        reexec("crash_child", &[(CHILD_DB, path.to_str().unwrap()), (CHILD_ROUND, &round.to_string())])
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&stderr_path).unwrap())
            .spawn()
            .expect("spawn child");
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut r = BufReader::new(stdout);
        let mut line = String::new();
        // Only whole lines: the last one may be cut by the kill.
        while r.read_line(&mut line).map(|n| n > 0).unwrap_or(false) {
            if let Some(a) = parse_ack(&line) {
                if tx.send(a).is_err() {
                    break;
                }
            }
            line.clear();
        }
    });
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut acks = Vec::new();
    while acks.len() < target {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(a) => acks.push(a),
            Err(_) => break,
        }
    }
    if let Some(status) = child.try_wait().unwrap() {
        panic!(
            "child {round} exited by itself ({status}) after {} acks:\n{}",
            acks.len(),
            std::fs::read_to_string(&stderr_path).unwrap_or_default()
        );
    }
    std::thread::sleep(delay);
    child.kill().expect("SIGKILL");
    let status = child.wait().unwrap();
    assert!(!status.success(), "the child was killed: {status}");
    reader.join().unwrap();
    acks.extend(rx.try_iter());
    assert!(acks.len() >= 20, "child {round} acknowledged only {} writes", acks.len());
    acks
}

#[test]
fn acknowledged_writes_survive_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    crash_rounds(dir.path(), &path);
}

#[test]
fn acknowledged_writes_survive_sigkill_postgres() {
    let Some(db) = helpdesk_store::pg::testing::database() else { return };
    let dir = tempfile::tempdir().unwrap();
    crash_rounds(dir.path(), Path::new(db.url()));
}

/// The rounds of kills and checks on the database at `path` (a sled
/// directory or a `postgres://` URL); `dir` keeps the children's stderr.
fn crash_rounds(dir: &Path, path: &Path) {
    let started = Instant::now();
    {
        let hd = open_retrying(path);
        hd.create_department("Support", vec![]).unwrap();
        hd.create_agent(NewAgent::new("Alice", "alice@helpdesk.test").admin()).unwrap();
        hd.create_user(NewUser::new("Ann", "ann@acme.com")).unwrap();
        // Directory writes are not flushed by themselves.
        hd.flush().unwrap();
    }
    // Highest acknowledged version of every ticket, over all rounds.
    let mut acked: BTreeMap<TicketId, u64> = BTreeMap::new();
    let mut created: BTreeSet<TicketId> = BTreeSet::new();
    let mut highest_before = 0;
    // (acks to wait for, extra delay before the kill): kills land early and
    // late, between writes and in the middle of flushes.
    let rounds = [
        (150, Duration::ZERO),
        (40, Duration::from_millis(3)),
        (600, Duration::from_millis(11)),
        (300, Duration::from_micros(500)),
    ];
    for (round, (target, delay)) in rounds.into_iter().enumerate() {
        let acks = run_child_and_kill(dir, path, round, target, delay);

        // Ids: every created ticket is new, above everything that survived
        // the previous rounds, and each thread's ids increase.
        let mut per_thread: BTreeMap<usize, TicketId> = BTreeMap::new();
        let mut subjects: BTreeMap<TicketId, String> = BTreeMap::new();
        for a in acks.iter().filter(|a| a.create) {
            assert!(created.insert(a.ticket), "ticket id {} acknowledged as created twice", a.ticket);
            assert!(
                a.ticket.0 > highest_before,
                "round {round} reused id {} (had up to #{highest_before})",
                a.ticket
            );
            if let Some(prev) = per_thread.insert(a.thread, a.ticket) {
                assert!(a.ticket > prev, "thread {} got {} after {prev}", a.thread, a.ticket);
            }
            subjects.insert(a.ticket, subject(&round.to_string(), a.thread, a.seq));
        }
        for a in &acks {
            let v = acked.entry(a.ticket).or_default();
            *v = (*v).max(a.version);
        }

        let hd = open_retrying(path);
        let store = &**hd.store();
        // Every acknowledged write survived.
        for (id, version) in &acked {
            let t = store
                .ticket(*id)
                .unwrap()
                .unwrap_or_else(|| panic!("acknowledged ticket {id} lost in round {round}"));
            assert!(t.version >= *version, "{id} is at v{} but v{version} was acknowledged", t.version);
            if let Some(s) = subjects.get(id) {
                assert_eq!(&t.subject, s, "ticket {id} holds another ticket's data");
            }
        }
        // States fold from logs; index and counters match a recomputation.
        let c = check_consistent(store);
        for a in &acks {
            let t = &c.tickets[&a.ticket];
            let log = store.events(a.ticket).unwrap();
            assert_eq!(log.len() as u64, t.version);
        }
        let last = store.last_ticket_id().unwrap().expect("tickets");
        assert_eq!(c.tickets.keys().next_back(), Some(&last));
        assert!(store.next_id(IdKind::Ticket).unwrap() > last.0, "the ticket sequence fell behind");
        highest_before = last.0;
        eprintln!(
            "round {round}: {} acks, {} tickets acknowledged in all, {} stored, {:?} so far",
            acks.len(),
            acked.len(),
            c.tickets.len(),
            started.elapsed()
        );
        drop(hd);
    }

    // The recovered database takes new writes as usual.
    let hd = open_retrying(path);
    let ann = hd.user_by_email("ann@acme.com").unwrap().unwrap().id;
    let support = hd.departments().unwrap()[0].id;
    let t = hd
        .create_ticket(
            &Actor::User(ann),
            NewTicket::new("After the crashes", "Hi.", support, ann, Channel::Portal),
        )
        .unwrap();
    assert!(t.id.0 > highest_before);
    hd.agent_reply(t.id, AgentId(1), "Hello.", None).unwrap();
    check_consistent(&**hd.store());
}
