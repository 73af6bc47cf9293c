//! The `helpdesk` server on PostgreSQL (`--database`): two servers on one
//! database at once, both serving the same tickets; a session made on one
//! is valid on the other at once (and on a server started later), and a
//! logout on one ends it on the other. The database is
//! a throwaway one (`helpdesk_store::pg::testing`: `DATABASE_URL`'s server,
//! or a cluster started for this test binary); without PostgreSQL the test
//! skips, and fails when `CI` is set.

#[path = "common/wire.rs"]
mod wire;
use wire::{blocking, http, json_of};

use helpdesk_web::demo;
use helpdesk_web::serve::{self, Args, Interfaces};
use std::net::SocketAddr;

/// Logs the demo admin in: the session cookie and its CSRF token.
async fn login(addr: SocketAddr) -> (String, String) {
    let body = serde_json::json!({"email": demo::ADMIN.0, "password": demo::ADMIN.1}).to_string();
    let (status, head, body) = blocking(move || {
        http(addr, "POST", "/api/agent/login", &[("content-type", "application/json")], body.as_bytes())
    })
    .await;
    assert_eq!(status, 200, "{body}");
    let cookie = head
        .lines()
        .filter_map(|l| l.strip_prefix("set-cookie: ").or_else(|| l.strip_prefix("Set-Cookie: ")))
        .find(|c| c.starts_with("hd_agent="))
        .map(|c| c.split(';').next().unwrap().to_string())
        .expect("a session cookie");
    (cookie, json_of(&body)["csrf_token"].as_str().expect("a CSRF token").to_string())
}

/// `GET /api/agent/me` with a session cookie: the status.
async fn me(addr: SocketAddr, cookie: &str) -> u16 {
    let c = cookie.to_string();
    blocking(move || http(addr, "GET", "/api/agent/me", &[("cookie", &c)], b"")).await.0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_share_one_postgres_database() {
    let Some(db) = blocking(helpdesk_store::pg::testing::database).await else { return };
    let dir = tempfile::tempdir().unwrap();
    let mut a = Args::new(dir.path().join("unused-sled"));
    a.database = Some(db.url().to_string());
    a.listen = "127.0.0.1:0".parse().unwrap();
    a.demo = true;
    let one = serve::start(&a, Interfaces::All).await.unwrap();
    let two = serve::start(&a, Interfaces::All).await.unwrap();
    assert!(!dir.path().join("unused-sled").exists(), "--database must not open the sled store");
    let (addr1, addr2) = (one.addr, two.addr);

    for path in ["/agent/login", "/", "/portal/login", "/embed/widget.js", "/api/openapi.json"] {
        let (status, _, body) = blocking(move || http(addr2, "GET", path, &[], b"")).await;
        assert_eq!(status, 200, "GET {path}: {body}");
    }

    let (cookie, csrf) = login(addr1).await;
    // Made on one, valid on the other at once.
    assert_eq!(me(addr2, &cookie).await, 200, "a session made on one server is unknown to the other");
    // Both list the same filters with the same counts (the demo's tickets,
    // seeded once), each to its own session.
    let c = cookie.clone();
    let f1 = blocking(move || http(addr1, "GET", "/api/agent/filters", &[("cookie", &c)], b"")).await;
    let (c2, _) = login(addr2).await;
    let f2 = blocking(move || http(addr2, "GET", "/api/agent/filters", &[("cookie", &c2)], b"")).await;
    assert_eq!(f1.0, 200, "{}", f1.2);
    assert_eq!(json_of(&f1.2), json_of(&f2.2));
    let hd = one.app.helpdesk().clone();
    let tickets = blocking(move || hd.store().last_ticket_id().unwrap()).await;
    assert!(tickets.is_some(), "the demo seeded tickets");

    // Sessions are in the database: a server started after the first
    // stopped knows its session.
    one.stop().await.unwrap();
    let three = serve::start(&a, Interfaces::All).await.unwrap();
    let addr3 = three.addr;
    let c = cookie.clone();
    let who = blocking(move || http(addr3, "GET", "/api/agent/me", &[("cookie", &c)], b"")).await;
    assert_eq!(who.0, 200, "{}", who.2);
    assert_eq!(json_of(&who.2)["agent"]["email"], demo::ADMIN.0);

    // A logout on one server ends the session on the others at once.
    let c = cookie.clone();
    let out = blocking(move || {
        http(addr3, "POST", "/api/agent/logout", &[("cookie", &c), ("x-csrf-token", &csrf)], b"")
    })
    .await;
    assert!(out.0 < 300, "logout: {} {}", out.0, out.2);
    assert_eq!(me(addr3, &cookie).await, 401);
    assert_eq!(me(addr2, &cookie).await, 401, "the other server still takes a logged-out session");

    // Login limits count every node's attempts (10 a minute per address
    // and per account): failed logins alternating between two nodes are
    // refused before either node alone has seen 10 (one rollover of the
    // minute may fall in between: at most 20 tries).
    let mut tries = 0;
    loop {
        tries += 1;
        assert!(tries <= 20, "no 429 after {tries} failed logins over two nodes: limits are per node");
        let addr = if tries % 2 == 0 { addr2 } else { addr3 };
        let body = serde_json::json!({"email": demo::ADMIN.0, "password": "wrong"}).to_string();
        let (status, head, body) = blocking(move || {
            http(addr, "POST", "/api/agent/login", &[("content-type", "application/json")], body.as_bytes())
        })
        .await;
        if status == 429 {
            assert!(head.to_ascii_lowercase().contains("retry-after: "), "{head}");
            break;
        }
        assert_eq!(status, 401, "{body}");
    }
    two.stop().await.unwrap();
    three.stop().await.unwrap();
    // Dropping it connects to the server: not on the runtime's threads.
    blocking(move || drop(db)).await;
}
