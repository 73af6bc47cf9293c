//! Findings of the black-box security audit (issue 20), each a test: CORS
//! preflights answered only for the embed's route, and personal pages and
//! JSON never cached. (A token sent to the other interface being refused
//! without a logout is in tests/profile.rs.)

mod common;
use common::*;
use helpdesk_web::demo;

async fn preflight(f: &Fixture, path: &str) -> warp::http::Response<bytes::Bytes> {
    warp::test::request()
        .method("OPTIONS")
        .path(path)
        .header("origin", "https://evil.example")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "content-type")
        .reply(&f.routes)
        .await
}

#[tokio::test]
async fn cors_preflights_are_answered_only_for_the_embed_route() {
    let f = fixture();
    let r = preflight(&f, "/api/embed/tickets").await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["access-control-allow-origin"], "https://evil.example");
    for path in ["/api/agent/tickets/1", "/api/agent/login", "/portal/tickets", "/api/agent/custom-filters"] {
        let r = preflight(&f, path).await;
        assert!(
            r.headers().get("access-control-allow-origin").is_none(),
            "{path} answered a cross-origin preflight: {:?}",
            r.headers()
        );
    }
}

#[tokio::test]
async fn personal_pages_and_json_are_not_cached() {
    let f = fixture();
    let agent = f.login_agent(demo::ADMIN.0, demo::ADMIN.1).await;
    for path in ["/api/agent/me", "/api/agent/tickets/1", "/api/agent/filters", "/api/agent/preferences"] {
        let r = f.get(&agent, path).await;
        assert_eq!(r.status(), 200, "{path}");
        assert_eq!(r.headers()["cache-control"], "no-store", "{path}");
    }
    let (cookie, _) = f.login_user(demo::USER.0, demo::USER.1).await;
    let (r, _) = f.portal_visit("/portal/tickets", Some(&cookie)).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "no-store");
    // Errors too (they may echo what was asked).
    let r = warp::test::request().path("/api/agent/me").reply(&f.routes).await;
    assert_eq!((r.status().as_u16(), r.headers()["cache-control"].to_str().unwrap()), (401, "no-store"));
}

/// Opens `GET /api/agent/events` on a real socket; returns the stream once
/// the response headers are in.
async fn open_events(addr: std::net::SocketAddr, header: &str) -> tokio::net::TcpStream {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let req = format!("GET /api/agent/events HTTP/1.1\r\nHost: x\r\n{header}\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        assert_eq!(s.read(&mut byte).await.unwrap(), 1, "closed before the headers");
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head);
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    s
}

/// Reads until the server closes the stream; fails after `within`.
async fn closes_within(s: &mut tokio::net::TcpStream, within: std::time::Duration) -> bool {
    use tokio::io::AsyncReadExt;
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, s.read(&mut buf)).await {
            Err(_) => return false,
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(n)) if buf[..n].ends_with(b"0\r\n\r\n") => return true, // the chunked body's end
            Ok(Ok(_)) => {}
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn event_streams_end_when_their_credential_dies() {
    let f = fixture();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(warp::serve(f.routes.clone()).incoming(listener).run());
    let limit = helpdesk_web::auth::CREDENTIAL_CHECK * 3;

    // A session: logging out ends its stream; another agent's stays open.
    let sam = f.login_agent(demo::AGENT.0, demo::AGENT.1).await;
    let admin = f.login_agent(demo::ADMIN.0, demo::ADMIN.1).await;
    let mut sams = open_events(addr, &format!("Cookie: {}", sam.cookie)).await;
    let mut admins = open_events(addr, &format!("Cookie: {}", admin.cookie)).await;
    let r = f.post(&sam, "/api/agent/logout", serde_json::json!({})).await;
    assert_eq!(r.status(), 200);
    assert!(closes_within(&mut sams, limit).await, "the logged-out stream kept delivering");
    assert!(
        !closes_within(&mut admins, helpdesk_web::auth::CREDENTIAL_CHECK * 2).await,
        "a live stream ended"
    );

    // An API key: revoking it ends its stream.
    let r = f.post(&admin, "/api/agent/api-keys", serde_json::json!({"label": "stream"})).await;
    assert_eq!(r.status(), 201, "{}", body_text(&r));
    let key = body_json(&r);
    let mut keyed =
        open_events(addr, &format!("Authorization: Bearer {}", key["key"].as_str().unwrap())).await;
    let r = warp::test::request()
        .method("DELETE")
        .path(&format!("/api/agent/api-keys/{}", key["id"]))
        .header("cookie", &admin.cookie)
        .header("x-csrf-token", &admin.csrf)
        .reply(&f.routes)
        .await;
    assert_eq!(r.status(), 200, "{}", body_text(&r));
    assert!(closes_within(&mut keyed, limit).await, "the revoked key's stream kept delivering");
}
