//! Saved custom filters over the agent JSON API (`/api/agent/custom-filters`),
//! through warp::test, with insta snapshots of the bodies.

mod common;
use common::*;
use helpdesk_web::demo;
use serde_json::{json, Value};

async fn send(f: &Fixture, s: &AgentSession, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let req = agent_request(s, method, path, body);
    let r = req.reply(&f.routes).await;
    let v = if r.body().is_empty() { Value::Null } else { body_json(&r) };
    (r.status().as_u16(), v)
}

fn team_of(f: &Fixture, email: &str) -> u64 {
    let a = f.hd.agent_by_email(email).unwrap().unwrap();
    a.teams.iter().next().expect("the demo agent is in a team").0
}

#[tokio::test]
async fn agents_save_share_count_and_list_filters() {
    let f = fixture();
    let sam = f.login_agent(demo::AGENT.0, demo::AGENT.1).await;
    let admin = f.login_agent(demo::ADMIN.0, demo::ADMIN.1).await;
    let team = team_of(&f, demo::AGENT.0);

    let urgent = json!({
        "filter": {"name": "Urgent in my teams", "criteria": {"team": ["mine"], "urgency": {"min": 5, "max": 10}}},
        "sharing": {"with": "team", "team": team}
    });
    let (status, created) = send(&f, &sam, "POST", "/api/agent/custom-filters", Some(urgent)).await;
    assert_eq!(status, 201, "{created}");
    insta::assert_json_snapshot!("created", created);
    let id = created["id"].as_u64().unwrap();

    let private =
        json!({"filter": {"name": "Mine, oldest first", "criteria": {"agent": ["me"]}, "sort": "oldest"}});
    let (status, _) = send(&f, &sam, "POST", "/api/agent/custom-filters", Some(private)).await;
    assert_eq!(status, 201);

    // Sam's pane: both, with counts; the admin (not in the team) sees neither.
    let (status, list) = send(&f, &sam, "GET", "/api/agent/custom-filters", None).await;
    assert_eq!(status, 200);
    insta::assert_json_snapshot!("sam_list", list);
    let (_, admin_list) = send(&f, &admin, "GET", "/api/agent/custom-filters", None).await;
    assert_eq!(admin_list, json!([]));

    // The list of tickets agrees with the count.
    let (status, page) =
        send(&f, &sam, "GET", &format!("/api/agent/custom-filters/{id}/tickets"), None).await;
    assert_eq!(status, 200);
    assert_eq!(page["total"].as_u64().unwrap() as usize, page["tickets"].as_array().unwrap().len());
    assert!(page["tickets"].as_array().unwrap().iter().all(|t| t["urgency"].as_u64().unwrap() >= 5));
    insta::assert_json_snapshot!("sam_tickets", page);

    // Rename, then delete: gone for good.
    let renamed = json!({"filter": {"name": "Hot", "criteria": {"urgency": {"min": 8, "max": 10}}}});
    let (status, v) = send(&f, &sam, "PUT", &format!("/api/agent/custom-filters/{id}"), Some(renamed)).await;
    assert_eq!((status, v["name"].as_str()), (200, Some("Hot")));
    assert_eq!(v["sharing"], json!({"with": "private"}));
    let (status, v) = send(&f, &sam, "DELETE", &format!("/api/agent/custom-filters/{id}"), None).await;
    assert_eq!((status, v), (204, Value::Null));
    let (status, _) = send(&f, &sam, "GET", &format!("/api/agent/custom-filters/{id}"), None).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn refused_filters_say_why_and_change_nothing() {
    let f = fixture();
    let sam = f.login_agent(demo::AGENT.0, demo::AGENT.1).await;
    let admin = f.login_agent(demo::ADMIN.0, demo::ADMIN.1).await;
    let (_, everyone) = send(
        &f,
        &admin,
        "POST",
        "/api/agent/custom-filters",
        Some(json!({"filter": {"name": "Everything open"}, "sharing": {"with": "everyone"}})),
    )
    .await;
    let everyone = everyone["id"].as_u64().unwrap();

    let mut out = Vec::new();
    let cases: Vec<(&str, &str, String, Option<Value>)> = vec![
        (
            "sam shares with everyone",
            "POST",
            "/api/agent/custom-filters".into(),
            Some(json!({"filter": {"name": "All"}, "sharing": {"with": "everyone"}})),
        ),
        ("blank name", "POST", "/api/agent/custom-filters".into(), Some(json!({"filter": {"name": " "}}))),
        (
            "unknown criterion",
            "POST",
            "/api/agent/custom-filters".into(),
            Some(json!({"filter": {"name": "x", "criteria": {"colour": ["red"]}}})),
        ),
        (
            "unknown department",
            "POST",
            "/api/agent/custom-filters".into(),
            Some(json!({"filter": {"name": "x", "criteria": {"department": [99]}}})),
        ),
        (
            "urgency out of range",
            "POST",
            "/api/agent/custom-filters".into(),
            Some(json!({"filter": {"name": "x", "criteria": {"urgency": {"min": 0, "max": 3}}}})),
        ),
        ("sam deletes the admin's", "DELETE", format!("/api/agent/custom-filters/{everyone}"), None),
        (
            "sam renames the admin's",
            "PUT",
            format!("/api/agent/custom-filters/{everyone}"),
            Some(json!({"filter": {"name": "mine now"}})),
        ),
        ("no such filter", "GET", "/api/agent/custom-filters/999".into(), None),
    ];
    let before = f.hd.saved_filters(f.hd.agent_by_email(demo::ADMIN.0).unwrap().unwrap().id).list().unwrap();
    for (what, method, path, body) in cases {
        let (status, v) = send(&f, &sam, method, &path, body).await;
        out.push(json!({"case": what, "status": status, "body": v}));
    }
    // The same name twice for one agent.
    let dup = json!({"filter": {"name": "Everything OPEN"}});
    let (status, v) = send(&f, &admin, "POST", "/api/agent/custom-filters", Some(dup)).await;
    out.push(json!({"case": "admin reuses a name", "status": status, "body": v}));
    // No CSRF token with a session: refused before anything is read.
    let r = warp::test::request()
        .method("POST")
        .path("/api/agent/custom-filters")
        .header("cookie", &sam.cookie)
        .json(&json!({"filter": {"name": "x"}}))
        .reply(&f.routes)
        .await;
    out.push(json!({"case": "no csrf token", "status": r.status().as_u16(), "body": body_json(&r)}));
    insta::assert_json_snapshot!("refusals", out);

    let after = f.hd.saved_filters(f.hd.agent_by_email(demo::ADMIN.0).unwrap().unwrap().id).list().unwrap();
    assert_eq!(before, after, "refused requests changed nothing");
    let sams = f.hd.saved_filters(f.hd.agent_by_email(demo::AGENT.0).unwrap().unwrap().id).list().unwrap();
    assert_eq!(sams.len(), 1, "sam sees only the admin's shared filter: {sams:?}");
}
