//! The agent's profile menu over JSON: preferences (signature, time zone),
//! password change (ends the agent's other sessions), and sessions that
//! stay put when their token is sent to the other interface.

mod common;
use common::*;
use helpdesk_web::demo;
use serde_json::{json, Value};

async fn send(f: &Fixture, s: &AgentSession, method: &str, path: &str, body: Value) -> (u16, Value) {
    let r = warp::test::request()
        .method(method)
        .path(path)
        .header("cookie", &s.cookie)
        .header("x-csrf-token", &s.csrf)
        .json(&body)
        .reply(&f.routes)
        .await;
    (r.status().as_u16(), body_json(&r))
}

#[tokio::test]
async fn preferences_are_the_agents_own_and_validated() {
    let f = fixture();
    let sam = f.login_agent(demo::AGENT.0, demo::AGENT.1).await;
    let r = f.get(&sam, "/api/agent/preferences").await;
    assert_eq!(r.status(), 200);
    let before = body_json(&r);
    insta::assert_json_snapshot!("defaults", before);

    let mut out = Vec::new();
    for (what, body) in [
        (
            "signature and zone",
            json!({"signature": "Sam\r\nSupport, Acme  \n\n", "time_zone": " america/new_york "}),
        ),
        ("unknown zone", json!({"signature": "x", "time_zone": "Mars/Olympus"})),
        ("signature too long", json!({"signature": "s".repeat(2001)})),
        ("another agent's", json!({"agent": 1, "signature": "hijack"})),
    ] {
        let (status, v) = send(&f, &sam, "PUT", "/api/agent/preferences", body).await;
        out.push(json!({"case": what, "status": status, "body": v}));
    }
    insta::assert_json_snapshot!("puts", out);
    // What was refused changed nothing; the admin's are untouched.
    let r = f.get(&sam, "/api/agent/preferences").await;
    assert_eq!(body_json(&r)["time_zone"], "America/New_York");
    let admin = f.login_agent(demo::ADMIN.0, demo::ADMIN.1).await;
    assert_eq!(body_json(&f.get(&admin, "/api/agent/preferences").await)["signature"], "");
}

#[tokio::test]
async fn password_change_checks_the_current_one_and_ends_other_sessions() {
    let f = fixture();
    let here = f.login_agent(demo::AGENT.0, demo::AGENT.1).await;
    let elsewhere = f.login_agent(demo::AGENT.0, demo::AGENT.1).await;
    let admin = f.login_agent(demo::ADMIN.0, demo::ADMIN.1).await;

    let mut out = Vec::new();
    for (what, body) in [
        ("wrong current", json!({"current": "not it at all", "new": "a much better secret"})),
        ("too short", json!({"current": demo::AGENT.1, "new": "short"})),
        ("unchanged", json!({"current": demo::AGENT.1, "new": demo::AGENT.1})),
        ("missing field", json!({"current": demo::AGENT.1})),
    ] {
        let (status, v) = send(&f, &here, "POST", "/api/agent/password", body).await;
        out.push(json!({"case": what, "status": status, "body": v}));
    }
    insta::assert_json_snapshot!("refused", out);
    // Refusals changed nothing: the other session still works.
    assert_eq!(f.get(&elsewhere, "/api/agent/me").await.status(), 200);

    let (status, v) = send(
        &f,
        &here,
        "POST",
        "/api/agent/password",
        json!({"current": demo::AGENT.1, "new": "a much better secret"}),
    )
    .await;
    assert_eq!((status, v), (200, json!({"changed": true, "other_sessions_ended": 1})));
    assert_eq!(f.get(&here, "/api/agent/me").await.status(), 200, "this session stays");
    assert_eq!(f.get(&elsewhere, "/api/agent/me").await.status(), 401, "the other one ended");
    assert_eq!(f.get(&admin, "/api/agent/me").await.status(), 200, "other agents are not touched");
    let old = warp::test::request()
        .method("POST")
        .path("/api/agent/login")
        .json(&json!({"email": demo::AGENT.0, "password": demo::AGENT.1}))
        .reply(&f.routes)
        .await;
    assert_eq!(old.status(), 401);
    f.login_agent(demo::AGENT.0, "a much better secret").await;
}

#[tokio::test]
async fn a_token_sent_to_the_other_interface_is_refused_not_logged_out() {
    let f = fixture();
    let sam = f.login_agent(demo::AGENT.0, demo::AGENT.1).await;
    let token = sam.cookie.trim_start_matches("hd_agent=");
    // The agent's token as the portal's cookie: not a portal login...
    let (r, _) = f.portal_visit("/portal/tickets", Some(&format!("hd_portal={token}"))).await;
    assert!(r.status().is_redirection() || r.status() == 200, "{}", r.status());
    assert!(!body_text(&r).contains("Sam"), "the portal must not treat an agent token as its own");
    // ...and the agent is still logged in.
    assert_eq!(f.get(&sam, "/api/agent/me").await.status(), 200);

    // The same the other way round.
    let (cookie, _) = f.login_user(demo::USER.0, demo::USER.1).await;
    let portal_token = cookie.trim_start_matches("hd_portal=").to_string();
    let r = warp::test::request()
        .path("/api/agent/me")
        .header("cookie", format!("hd_agent={portal_token}"))
        .reply(&f.routes)
        .await;
    assert_eq!(r.status(), 401);
    let (r, _) = f.portal_visit("/portal/tickets", Some(&cookie)).await;
    assert_eq!(r.status(), 200, "the user's session survives");
}
