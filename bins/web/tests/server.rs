//! The `helpdesk` server as run from the command line (`serve::start` over a
//! sled store in a temporary directory), with a real SMTP relay (aiosmtpd,
//! installed by scripts/test-deps.sh) and its own SMTP listener: mail in by
//! SMTP and by HTTP, notifications out by email and to the agents' bay,
//! account emails through the relay, sessions that outlive a restart.

#[path = "../../../helpdesk-mail/tests/common/smtp_server.rs"]
mod smtp_server;
#[path = "common/wire.rs"]
mod wire;
use wire::{blocking, cookie, http, json_of};

use helpdesk_core::*;
use helpdesk_web::demo;
use helpdesk_web::serve::{self, Args, Interfaces, RelaySecurity, Running};
use lettre::address::Envelope;
use lettre::{SmtpTransport, Transport};
use smtp_server::SmtpServer;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// Logs an agent in over HTTP: (cookie header value, CSRF token).
fn login(addr: SocketAddr, (email, password): (&str, &str)) -> (String, String) {
    let body = serde_json::json!({"email": email, "password": password}).to_string();
    let (status, head, body) =
        http(addr, "POST", "/api/agent/login", &[("content-type", "application/json")], body.as_bytes());
    assert_eq!(status, 200, "{body}");
    (cookie(&head, "hd_agent"), json_of(&body)["csrf_token"].as_str().unwrap().to_string())
}

fn args(dir: &std::path::Path, relay: Option<&SmtpServer>) -> Args {
    let mut a = Args::new(dir.join("data"));
    a.listen = "127.0.0.1:0".parse().unwrap();
    a.demo = true;
    a.smtp_listen = Some("127.0.0.1:0".parse().unwrap());
    if let Some(r) = relay {
        a.smtp_relay = Some(format!("127.0.0.1:{}", r.port));
        a.smtp_security = RelaySecurity::None;
    }
    a
}

async fn wait_for<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn mails_to(relay: &SmtpServer, to: &str) -> Vec<String> {
    relay
        .messages()
        .into_iter()
        .map(|m| String::from_utf8_lossy(&m).into_owned())
        .filter(|m| m.lines().any(|l| l.starts_with("To:") && l.contains(to)))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_in_by_smtp_and_http_notifications_out_by_email_and_bay() {
    let Some(relay) = SmtpServer::start() else { return };
    let dir = tempfile::tempdir().unwrap();
    let server: Running = serve::start(&args(dir.path(), Some(&relay)), Interfaces::All).await.unwrap();
    let hd = server.app.helpdesk().clone();
    let admin = hd.agent_by_email(demo::ADMIN.0).unwrap().unwrap();
    let smtp_port = server.smtp_addr.unwrap().port();

    // Mail in over SMTP: a new ticket for a new user.
    blocking(move || {
        let raw = b"From: Carl <carl@newco.example>\r\nTo: support@example.com\r\nSubject: Bulk order\r\nMessage-ID: <bulk-1@newco.example>\r\n\r\nWe need 40 scanners.\r\n";
        let env = Envelope::new(Some("carl@newco.example".parse().unwrap()), vec!["support@example.com".parse().unwrap()]).unwrap();
        SmtpTransport::builder_dangerous("127.0.0.1").port(smtp_port).build().send_raw(&env, raw).unwrap();
    })
    .await;
    let carl = hd.user_by_email("carl@newco.example").unwrap().expect("the sender became a user");
    let page = hd.tickets_of_user(carl.id, None, 10).unwrap();
    let ticket = page[0].id;
    assert_eq!(hd.ticket(ticket).unwrap().subject, "Bulk order");

    // Carl is told by email through the relay, from the department's address...
    let mail =
        wait_for("the ticket-created mail to Carl", || mails_to(&relay, "carl@newco.example").pop()).await;
    assert!(mail.contains(&format!("[#{}]", ticket.0)), "{mail}");
    assert!(
        mail.contains("From: \"Example Support\" <support@example.com>")
            || mail.contains("From: Example Support <support@example.com>"),
        "{mail}"
    );
    // ...and the admin (subscribed to everything) gets it in the bay.
    let app = server.app.clone();
    let n = wait_for("the admin's in-app notification", || {
        app.recent_notifications(admin.id).into_iter().find(|n| n.ticket == ticket)
    })
    .await;
    assert_eq!(n.reason, "new_ticket");
    // Every delivery is recorded in the ticket log (right after it is made).
    let hd2 = hd.clone();
    wait_for("both deliveries in the ticket log", || {
        let log = hd2.log(ticket).unwrap();
        (log.iter().filter(|e| matches!(e.change, Change::Delivered { .. })).count() >= 2).then_some(())
    })
    .await;

    // Mail in over HTTP, with an admin's API key.
    let addr = server.addr;
    let (_, key) = hd.create_api_key(admin.id, "mail pipe").unwrap();
    let sam = hd.agent_by_email(demo::AGENT.0).unwrap().unwrap();
    let (_, sam_key) = hd.create_api_key(sam.id, "not an admin").unwrap();
    let reply = format!(
        "From: carl@newco.example\r\nTo: support@example.com\r\nSubject: Re: Bulk order [#{}]\r\nMessage-ID: <bulk-2@newco.example>\r\n\r\nMake it 50.\r\n",
        ticket.0
    );
    let (status, _, body) = blocking({
        let (key, sam_key, reply) = (key.clone(), sam_key.clone(), reply.clone());
        move || {
            let auth = format!("Bearer {sam_key}");
            let denied =
                http(addr, "POST", "/api/mail/inbound", &[("authorization", &auth)], reply.as_bytes());
            assert_eq!(denied.0, 403, "{}", denied.2);
            let unauthenticated = http(addr, "POST", "/api/mail/inbound", &[], reply.as_bytes());
            assert_eq!(unauthenticated.0, 401, "{}", unauthenticated.2);
            let auth = format!("Bearer {key}");
            let malformed =
                http(addr, "POST", "/api/mail/inbound", &[("authorization", &auth)], b"no headers at all");
            assert_eq!(malformed.0, 422, "{}", malformed.2);
            assert_eq!(json_of(&malformed.2)["error"], "malformed_mail");
            http(
                addr,
                "POST",
                "/api/mail/inbound",
                &[("authorization", &auth), ("content-type", "message/rfc822")],
                reply.as_bytes(),
            )
        }
    })
    .await;
    assert_eq!(status, 200, "{body}");
    let outcome = json_of(&body);
    assert_eq!((outcome["outcome"].as_str(), outcome["ticket"].as_u64()), (Some("reply"), Some(ticket.0)));
    let t = hd.ticket(ticket).unwrap();
    assert_eq!(t.messages.last().unwrap().body, "Make it 50.");
    assert_eq!(t.messages.len(), 2, "the refused and malformed calls changed nothing");
    // The same mail again is a duplicate, not a second message.
    let again = blocking(move || {
        let auth = format!("Bearer {key}");
        http(addr, "POST", "/api/mail/inbound", &[("authorization", &auth)], reply.as_bytes())
    })
    .await;
    assert_eq!(json_of(&again.2)["outcome"], "duplicate", "{}", again.2);
    assert_eq!(hd.ticket(ticket).unwrap().messages.len(), 2);

    // The bay's first paint over HTTP.
    let (c, _) = blocking(move || login(addr, demo::ADMIN)).await;
    // (The worker was woken by the commit; delivery is asynchronous.)
    let recent = blocking(move || {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let (_, _, body) = http(addr, "GET", "/api/agent/notifications", &[("cookie", &c)], b"");
            let v = json_of(&body);
            if v.as_array().unwrap().iter().any(|n| n["ticket"] == ticket.0 && n["reason"] == "user_reply") {
                return v;
            }
            assert!(Instant::now() < deadline, "no user_reply notification for the admin: {v}");
            std::thread::sleep(Duration::from_millis(100));
        }
    })
    .await;
    assert_eq!(recent[0]["ticket"], ticket.0, "newest first: {recent}");

    // Account mail (address validation) goes out through the relay too.
    let reg = blocking(move || {
        let (_, head, page) = http(addr, "GET", "/portal/register", &[], b"");
        let c = cookie(&head, "hd_portal");
        let i = page.find("name=\"csrf\" value=\"").unwrap() + 19;
        let csrf = page[i..].split('"').next().unwrap().to_string();
        let form = format!("name=Dora&email=dora%40d.example&password=a-long-password&csrf={csrf}");
        http(
            addr,
            "POST",
            "/portal/register",
            &[("cookie", &c), ("content-type", "application/x-www-form-urlencoded")],
            form.as_bytes(),
        )
    })
    .await;
    assert_eq!(reg.0, 200, "{}", reg.2);
    let mail = wait_for("the validation mail to Dora", || mails_to(&relay, "dora@d.example").pop()).await;
    assert!(mail.contains("Auto-Submitted: auto-generated"), "{mail}");
    let parsed = mail_parser::MessageParser::default().parse(mail.as_bytes()).unwrap();
    let text = parsed.body_text(0).unwrap().into_owned();
    let i = text.find("/portal/validate?token=").expect("a validation link");
    let link: String = text[i..].chars().take_while(|c| !c.is_whitespace()).collect();
    let v = blocking(move || http(addr, "GET", &link, &[], b"")).await;
    assert!(v.0 == 200 || v.0 == 303, "{} {}", v.0, v.2);
    assert!(hd.user_by_email("dora@d.example").unwrap().unwrap().validated);

    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_outlive_a_restart_and_logout_ends_them() {
    let dir = tempfile::tempdir().unwrap();
    let mut a = args(dir.path(), None);
    a.smtp_listen = None;
    let server = serve::start(&a, Interfaces::All).await.unwrap();
    let addr = server.addr;
    let (cookie_v, csrf) = blocking(move || login(addr, demo::AGENT)).await;
    server.stop().await.unwrap();

    let server = serve::start(&a, Interfaces::All).await.unwrap();
    let addr = server.addr;
    let c = cookie_v.clone();
    let me = blocking(move || http(addr, "GET", "/api/agent/me", &[("cookie", &c)], b"")).await;
    assert_eq!(me.0, 200, "{}", me.2);
    assert_eq!(json_of(&me.2)["agent"]["email"], demo::AGENT.0);
    assert_eq!(json_of(&me.2)["csrf_token"], csrf.as_str(), "the CSRF token is the session's own");
    let c = cookie_v.clone();
    let out = blocking(move || {
        http(addr, "POST", "/api/agent/logout", &[("cookie", &c), ("x-csrf-token", &csrf)], b"")
    })
    .await;
    assert_eq!(out.0, 200, "{}", out.2);
    server.stop().await.unwrap();

    let server = serve::start(&a, Interfaces::All).await.unwrap();
    let addr = server.addr;
    let me = blocking(move || http(addr, "GET", "/api/agent/me", &[("cookie", &cookie_v)], b"")).await;
    assert_eq!(me.0, 401, "{}", me.2);
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_options_stop_the_start_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let mut a = args(dir.path(), None);
    a.smtp_listen = None;
    std::fs::write(dir.path().join("rules.toml"), "[[triggers]]\nname = \"x\"\non = [\"no_such_event\"]\n")
        .unwrap();
    a.rules = Some(dir.path().join("rules.toml"));
    let e = serve::start(&a, Interfaces::All).await.unwrap_err().to_string();
    assert!(e.contains("rules.toml"), "{e}");

    let mut a = args(dir.path(), None);
    a.smtp_listen = None;
    a.smtp_relay = Some("no-port".into());
    let e = serve::start(&a, Interfaces::All).await.unwrap_err().to_string();
    assert!(e.contains("--smtp-relay") && e.contains("HOST:PORT"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopping_ends_open_event_streams_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut a = args(dir.path(), None);
    a.smtp_listen = None;
    let server = serve::start(&a, Interfaces::All).await.unwrap();
    let addr = server.addr;
    // An agent UI is open: its event stream never ends by itself.
    let stream = blocking(move || {
        let (c, _) = login(addr, demo::ADMIN);
        let mut s = TcpStream::connect(addr).unwrap();
        write!(s, "GET /api/agent/events HTTP/1.1\r\nHost: {addr}\r\nCookie: {c}\r\n\r\n").unwrap();
        let mut first = [0u8; 12];
        s.read_exact(&mut first).unwrap();
        assert_eq!(&first, b"HTTP/1.1 200");
        s
    })
    .await;
    let started = Instant::now();
    tokio::time::timeout(Duration::from_secs(5), server.stop())
        .await
        .expect("stop() waited for the event stream")
        .unwrap();
    assert!(started.elapsed() < serve::SHUTDOWN_GRACE);
    // The stream was ended, and the store is closed: it opens again.
    blocking(move || {
        let mut s = stream;
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut rest = Vec::new();
        let _ = s.read_to_end(&mut rest);
    })
    .await;
    let again = serve::start(&a, Interfaces::All).await.unwrap();
    again.stop().await.unwrap();
}
