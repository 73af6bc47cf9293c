//! Snippets over the API and on the profile screen, and the adversarial
//! cases: an unknown placeholder, sharing with or using a department the
//! agent may not see, changing someone else's snippet, filling one in for
//! a ticket the agent may not see.

mod common;
use common::*;
use helpdesk_core::*;
use helpdesk_web::demo;
use serde_json::json;

fn snippet(name: &str, body: &str, scope: serde_json::Value) -> serde_json::Value {
    json!({ "name": name, "title": format!("Title {name}"), "category": "Greetings", "body": body, "scope": scope })
}

async fn put(
    f: &Fixture,
    s: &AgentSession,
    path: &str,
    body: serde_json::Value,
) -> warp::http::Response<warp::hyper::body::Bytes> {
    agent_request(s, "PUT", path, Some(body)).reply(&f.routes).await
}

#[tokio::test]
async fn snippets_are_made_listed_filled_in_and_kept_to_their_scope() {
    let f = fixture();
    let admin = f.login_agent(demo::ADMIN.0, demo::ADMIN.1).await;
    let sam = f.login_agent(demo::AGENT.0, demo::AGENT.1).await;
    let personal = json!({ "kind": "personal" });

    let r = f.post(&sam, "/api/agent/snippets", snippet("hello", "Hello {{user.first_name}}, #{{ ticket.id }} ({{ticket.field.product}}). {{agent.first_name}}", personal.clone())).await;
    assert_eq!(r.status(), 201, "{}", body_text(&r));
    let hello = body_json(&r)["id"].as_u64().unwrap();
    let r =
        f.post(&sam, "/api/agent/snippets", snippet("bad", "Hi {{user.shoe_size}}", personal.clone())).await;
    assert_eq!(r.status(), 422);
    assert!(body_json(&r)["message"].as_str().unwrap().starts_with("unknown placeholder {{user.shoe_size}}"));
    let r = f.post(&sam, "/api/agent/snippets", snippet("hello", "Again", personal.clone())).await;
    assert_eq!(r.status(), 409, "one name per scope");
    // Sam sees Support only: sharing with Sales is refused.
    let r = f
        .post(
            &sam,
            "/api/agent/snippets",
            snippet("sales", "Hi", json!({ "kind": "department", "department": 2 })),
        )
        .await;
    assert_eq!(r.status(), 403, "{}", body_text(&r));
    let r = f
        .post(
            &admin,
            "/api/agent/snippets",
            snippet("quote", "Our quote", json!({ "kind": "department", "department": 2 })),
        )
        .await;
    assert_eq!(r.status(), 201);
    let quote = body_json(&r)["id"].as_u64().unwrap();
    let r = f
        .post(
            &admin,
            "/api/agent/snippets",
            snippet("bye", "Bye {{user.name}}", json!({ "kind": "everyone" })),
        )
        .await;
    assert_eq!(r.status(), 201);

    // Each sees what they may use, names starting with the query first.
    let names = |r: &warp::http::Response<warp::hyper::body::Bytes>| -> Vec<String> {
        body_json(r).as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap().to_string()).collect()
    };
    assert_eq!(names(&f.get(&sam, "/api/agent/snippets").await), ["bye", "hello"]);
    assert_eq!(names(&f.get(&admin, "/api/agent/snippets").await), ["bye", "quote"], "Sam's own is his");
    assert_eq!(names(&f.get(&sam, "/api/agent/snippets?q=he").await), ["hello"]);
    assert_eq!(
        f.get(&sam, &format!("/api/agent/snippets/{quote}")).await.status(),
        404,
        "a Sales snippet is not Sam's to use"
    );
    let r = f.get(&sam, &format!("/api/agent/tickets/1/snippets/{quote}")).await;
    assert_eq!(r.status(), 404);

    // Filled in for a ticket Sam sees.
    let r = f.get(&sam, &format!("/api/agent/tickets/1/snippets/{hello}")).await;
    assert_eq!(r.status(), 200, "{}", body_text(&r));
    insta::assert_snapshot!(body_json(&r)["text"].as_str().unwrap(), @"Hello Ann, #1 (Printer). Sam");
    // Not for a ticket of a department he does not see.
    let hidden = (1..=12)
        .find(|id| f.hd.ticket(TicketId(*id)).is_ok_and(|t| t.department == DepartmentId(2)))
        .unwrap();
    assert_eq!(f.get(&sam, &format!("/api/agent/tickets/{hidden}/snippets/{hello}")).await.status(), 404);

    // Only its maker or an admin changes it.
    let r = put(
        &f,
        &admin,
        &format!("/api/agent/snippets/{hello}"),
        snippet("hello", "Changed by the admin", personal.clone()),
    )
    .await;
    assert_eq!(r.status(), 200, "an admin may change anyone's (a departed agent's, say)");
    let r = f.get(&sam, &format!("/api/agent/tickets/1/snippets/{hello}")).await;
    assert_eq!(body_json(&r)["text"], "Changed by the admin");
    let bye = f.get(&sam, "/api/agent/snippets?q=bye").await;
    let bye = body_json(&bye)[0]["id"].as_u64().unwrap();
    let r = put(
        &f,
        &sam,
        &format!("/api/agent/snippets/{bye}"),
        snippet("bye", "Hijacked", json!({ "kind": "everyone" })),
    )
    .await;
    assert_eq!(r.status(), 403, "{}", body_text(&r));
    let r = agent_request(&sam, "DELETE", &format!("/api/agent/snippets/{bye}"), None).reply(&f.routes).await;
    assert_eq!(r.status(), 403);
    let r =
        put(&f, &sam, &format!("/api/agent/snippets/{hello}"), snippet("hi", "Hi {{user.name}}", personal))
            .await;
    assert_eq!(r.status(), 200, "{}", body_text(&r));
    assert_eq!(body_json(&r)["name"], "hi");
    let r =
        agent_request(&sam, "DELETE", &format!("/api/agent/snippets/{hello}"), None).reply(&f.routes).await;
    assert_eq!(r.status(), 200);
    assert_eq!(names(&f.get(&sam, "/api/agent/snippets").await), ["bye"]);
}

#[tokio::test]
async fn the_profile_screen_makes_changes_and_deletes_snippets() {
    let f = fixture();
    let p = login_workspace(&f, demo::AGENT).await;
    let r = get_pane(&f, &p, "/agent/profile/snippets", None).await;
    assert_eq!(r.status(), 200);
    assert!(body_text(&r).contains("No snippets yet"));
    let post = |pairs: Vec<(&'static str, String)>| {
        let body = pairs
            .iter()
            .map(|(k, v)| format!("{}={}", urlencode(k), urlencode(v)))
            .collect::<Vec<_>>()
            .join("&");
        warp::test::request()
            .method("POST")
            .path("/agent/profile/snippets")
            .header("cookie", &p.cookie)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
    };
    let csrf = p.csrf.clone();
    let r = post(vec![
        ("csrf", csrf.clone()),
        ("op", "save".into()),
        ("title", "Greeting".into()),
        ("name", "greet".into()),
        ("category", "".into()),
        ("scope", "department-1".into()),
        ("body", "Hello {{user.nickname}}".into()),
    ])
    .reply(&f.routes)
    .await;
    assert_eq!(r.status(), 422);
    let html = body_text(&r);
    assert!(
        html.contains("unknown placeholder {{user.nickname}}") && html.contains("Hello {{user.nickname}}"),
        "the error and what was typed"
    );
    let r = post(vec![
        ("csrf", csrf.clone()),
        ("op", "save".into()),
        ("title", "Greeting".into()),
        ("name", "greet".into()),
        ("category", "".into()),
        ("scope", "department-2".into()),
        ("body", "Hello".into()),
    ])
    .reply(&f.routes)
    .await;
    assert_eq!(r.status(), 403, "Sam may not share with Sales");
    let r = post(vec![
        ("csrf", csrf.clone()),
        ("op", "save".into()),
        ("title", "Greeting".into()),
        ("name", "greet".into()),
        ("category", "".into()),
        ("scope", "department-1".into()),
        ("body", "Hello {{user.first_name}}".into()),
    ])
    .reply(&f.routes)
    .await;
    assert_eq!(r.status(), 200, "{}", body_text(&r));
    assert!(body_text(&r).contains("Saved “Greeting”: type ;greet in a reply to insert it."));
    let agent = f.hd.agent_by_email(demo::AGENT.0).unwrap().unwrap();
    let list = f.hd.snippets(agent.id).list("").unwrap();
    assert_eq!(list.len(), 1);
    let id = list[0].id.0;
    let r = post(vec![("csrf", csrf.clone()), ("op", "delete".into()), ("id", id.to_string())])
        .reply(&f.routes)
        .await;
    assert_eq!(r.status(), 200);
    assert!(body_text(&r).contains("Deleted “Greeting”."));
    assert!(f.hd.snippets(agent.id).list("").unwrap().is_empty());
    let r = post(vec![("op", "delete".into()), ("id", id.to_string())]).reply(&f.routes).await;
    assert_eq!(r.status(), 403, "no CSRF token");
}
