//! The agent JSON API through warp::test, with insta snapshots of the bodies.

mod common;
use common::*;
use helpdesk_web::demo;
use serde_json::json;

#[tokio::test]
async fn login_refuses_wrong_password_with_json_error() {
    let f = fixture();
    let r = warp::test::request()
        .method("POST")
        .path("/api/agent/login")
        .json(&json!({"email": demo::ADMIN.0, "password": "wrong password"}))
        .reply(&f.routes)
        .await;
    assert_eq!(r.status(), 401);
    assert!(r.headers().get("set-cookie").is_none());
    insta::assert_json_snapshot!(body_json(&r), @r###"
    {
      "error": "unauthorized",
      "message": "wrong email or password"
    }
    "###);
}

#[tokio::test]
async fn session_cookie_is_httponly_samesite_and_random() {
    let f = fixture();
    let r = warp::test::request()
        .method("POST")
        .path("/api/agent/login")
        .json(&json!({"email": demo::ADMIN.0, "password": demo::ADMIN.1}))
        .reply(&f.routes)
        .await;
    let c = r.headers().get("set-cookie").unwrap().to_str().unwrap();
    assert!(c.contains("HttpOnly") && c.contains("SameSite=Strict"), "{c}");
    let token = c.split(';').next().unwrap().trim_start_matches("hd_agent=");
    assert_eq!(token.len(), 64, "256-bit hex token");
}

#[tokio::test]
async fn unauthenticated_calls_get_401() {
    let f = fixture();
    for path in ["/api/agent/me", "/api/agent/filters", "/api/agent/tickets/1", "/api/agent/events"] {
        let r = warp::test::request().path(path).reply(&f.routes).await;
        assert_eq!(r.status(), 401, "{path}");
        assert_eq!(body_json(&r)["error"], "unauthorized");
    }
}

#[tokio::test]
async fn filters_have_counts_and_lists_sort_by_urgency() {
    let f = fixture();
    let s = f.login_agent(demo::ADMIN.0, demo::ADMIN.1).await;
    let r = f.get(&s, "/api/agent/filters").await;
    assert_eq!(r.status(), 200);
    insta::assert_json_snapshot!("admin_filters", body_json(&r));

    let r = f.get(&s, "/api/agent/filters/all/tickets").await;
    let v = body_json(&r);
    let urgencies: Vec<u64> =
        v["tickets"].as_array().unwrap().iter().map(|t| t["urgency"].as_u64().unwrap()).collect();
    let mut sorted = urgencies.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(urgencies, sorted);
    insta::assert_json_snapshot!("admin_all_tickets", v);

    // Sam only has access to Support: Sales tickets are neither counted nor listed.
    let sam = f.login_agent(demo::AGENT.0, demo::AGENT.1).await;
    let v = body_json(&f.get(&sam, "/api/agent/filters/all/tickets").await);
    assert!(v["tickets"].as_array().unwrap().iter().all(|t| t["department"] == 1));
    let v = body_json(&f.get(&sam, "/api/agent/filters/my_teams/tickets").await);
    assert_eq!(v["total"], 1);

    let r = f.get(&s, "/api/agent/filters/nope/tickets").await;
    assert_eq!(r.status(), 404);
}

#[tokio::test]
async fn open_ticket_shows_messages_notes_and_log() {
    let f = fixture();
    let s = f.login_agent(demo::ADMIN.0, demo::ADMIN.1).await;
    let r = f.get(&s, "/api/agent/tickets/1").await;
    assert_eq!(r.status(), 200);
    insta::assert_json_snapshot!("ticket_1_detail", body_json(&r));
}

#[tokio::test]
async fn reply_with_status_then_more_at_the_same_version_goes_in() {
    let f = fixture();
    let s = f.login_agent(demo::ADMIN.0, demo::ADMIN.1).await;
    let v = body_json(&f.get(&s, "/api/agent/tickets/1").await);
    let version = v["ticket"]["version"].as_u64().unwrap();
    let r = f
        .post(
            &s,
            "/api/agent/tickets/1/reply",
            json!({"body": "Fixed.", "status": "resolved", "version": version}),
        )
        .await;
    assert_eq!(r.status(), 200, "{}", body_text(&r));
    let after = body_json(&r);
    assert_eq!(after["ticket"]["status"], "resolved");
    assert_eq!(after["missed"], json!([]));

    // The same (now old) version again: a reply is an append, and the
    // agent's own changes never block them: both go in.
    let r = f.post(&s, "/api/agent/tickets/1/reply", json!({"body": "Again", "version": version})).await;
    assert_eq!(r.status(), 200, "{}", body_text(&r));
    assert_eq!(body_json(&r)["missed"], json!([]), "nothing by others");
    let r = f
        .post(
            &s,
            "/api/agent/tickets/1/commands",
            json!({"command": "set_status", "status": "pending", "version": version}),
        )
        .await;
    assert_eq!(r.status(), 200, "{}", body_text(&r));
    assert_eq!(body_json(&r)["ticket"]["status"], "pending");
    assert!(body_json(&r).get("missed").is_none(), "commands answer the ticket detail");

    // A version the ticket never had is a bad request, not a conflict.
    let now = f.hd.ticket(helpdesk_core::TicketId(1)).unwrap().version;
    let r = f
        .post(&s, "/api/agent/tickets/1/notes", json!({"body": "From the future", "version": now + 5}))
        .await;
    assert_eq!(r.status(), 400);
    insta::assert_json_snapshot!(body_json(&r), @r#"
    {
      "current_version": 9,
      "error": "bad_request",
      "message": "ticket #1 is at version 9; version 14 was never seen"
    }
    "#);
    assert_eq!(f.hd.ticket(helpdesk_core::TicketId(1)).unwrap().version, now);
}

/// Two agents open ticket 1 at one version. Changing the same field: the
/// second gets 409 with what changed (who, field, before -> after, the
/// current version) and nothing is written. Changing different fields: both
/// go in.
#[tokio::test]
async fn two_agents_same_field_conflicts_different_fields_do_not() {
    let f = fixture();
    let admin = f.login_agent(demo::ADMIN.0, demo::ADMIN.1).await;
    let sam = f.login_agent(demo::AGENT.0, demo::AGENT.1).await;
    let version =
        body_json(&f.get(&sam, "/api/agent/tickets/1").await)["ticket"]["version"].as_u64().unwrap();

    let cmd = |body: serde_json::Value| {
        let mut body = body;
        body["version"] = json!(version);
        body
    };
    // Different fields: the urgency and a label.
    let r = f
        .post(&admin, "/api/agent/tickets/1/commands", cmd(json!({"command": "set_urgency", "urgency": 7})))
        .await;
    assert_eq!(r.status(), 200, "{}", body_text(&r));
    let r = f
        .post(&sam, "/api/agent/tickets/1/commands", cmd(json!({"command": "add_label", "label": "printer"})))
        .await;
    assert_eq!(r.status(), 200, "{}", body_text(&r));

    // The same field: Sam's urgency change is refused.
    let before = f.hd.log(helpdesk_core::TicketId(1)).unwrap();
    let r = f
        .post(&sam, "/api/agent/tickets/1/commands", cmd(json!({"command": "adjust_urgency", "by": 1})))
        .await;
    assert_eq!(r.status(), 409, "{}", body_text(&r));
    let body = body_json(&r);
    assert_eq!(body["current_version"], json!(f.hd.ticket(helpdesk_core::TicketId(1)).unwrap().version));
    insta::assert_json_snapshot!("conflict_409_body", body);
    assert_eq!(f.hd.log(helpdesk_core::TicketId(1)).unwrap(), before, "nothing written");

    // At the current version it goes through.
    let current = body["current_version"].as_u64().unwrap();
    let r = f
        .post(
            &sam,
            "/api/agent/tickets/1/commands",
            json!({"command": "adjust_urgency", "by": 1, "version": current}),
        )
        .await;
    assert_eq!(r.status(), 200, "{}", body_text(&r));
    assert_eq!(body_json(&r)["ticket"]["urgency"], 8);
}

/// An agent replies at the version they loaded after the delivery worker
/// logged deliveries and a colleague wrote a note: 200, with the note in
/// `missed`; the deliveries are bookkeeping.
#[tokio::test]
async fn reply_after_deliveries_and_a_colleagues_note_at_an_old_version() {
    let f = fixture();
    let admin = f.login_agent(demo::ADMIN.0, demo::ADMIN.1).await;
    let sam = f.login_agent(demo::AGENT.0, demo::AGENT.1).await;
    let id = helpdesk_core::TicketId(1);
    let version =
        body_json(&f.get(&admin, "/api/agent/tickets/1").await)["ticket"]["version"].as_u64().unwrap();

    let r = f
        .post(
            &sam,
            "/api/agent/tickets/1/notes",
            json!({"body": "Ann called: it smokes now.", "version": version}),
        )
        .await;
    assert_eq!(r.status(), 200, "{}", body_text(&r));
    let deliver = || {
        let items = f.hd.due_outbox(helpdesk_core::Clock::now(&*f.clock), 100).unwrap();
        for item in &items {
            f.hd.complete_delivery(item, helpdesk_core::DeliveryOutcome::Sent).unwrap();
        }
        items.len()
    };
    assert!(deliver() > 0, "the note queued notifications");
    let r = f
        .post(
            &admin,
            "/api/agent/tickets/1/reply",
            json!({"body": "Please unplug it.", "status": "pending", "version": version}),
        )
        .await;
    assert_eq!(r.status(), 200, "{}", body_text(&r));
    let body = body_json(&r);
    assert_eq!(body["ticket"]["status"], "pending");
    insta::assert_json_snapshot!("reply_missed", body["missed"]);
    deliver();
    // A status change at the old version: only bookkeeping and Sam's note
    // (which touches no status) came in between, and the admin's own reply.
    let r = f
        .post(
            &admin,
            "/api/agent/tickets/1/commands",
            json!({"command": "set_status", "status": "resolved", "version": version}),
        )
        .await;
    assert_eq!(r.status(), 200, "{}", body_text(&r));
    // But Sam, at that version, now conflicts on the status: the admin changed it.
    let r = f
        .post(
            &sam,
            "/api/agent/tickets/1/commands",
            json!({"command": "set_status", "status": "awaiting_user", "version": version}),
        )
        .await;
    assert_eq!(r.status(), 409, "{}", body_text(&r));
    let changes = &body_json(&r)["conflict"]["changes"];
    let who: Vec<_> =
        changes.as_array().unwrap().iter().map(|c| (c["actor_name"].clone(), c["to"].clone())).collect();
    assert_eq!(
        who,
        vec![(json!("Alice Admin"), json!("pending")), (json!("Alice Admin"), json!("resolved"))]
    );
    assert!(f
        .hd
        .log(id)
        .unwrap()
        .iter()
        .any(|e| matches!(e.change, helpdesk_core::Change::Delivered { .. })));
}

#[tokio::test]
async fn note_assign_follow_cc_urgency_labels_fields_status() {
    let f = fixture();
    let s = f.login_agent(demo::ADMIN.0, demo::ADMIN.1).await;
    let steps = [
        ("/notes", json!({"body": "internal"})),
        ("/commands", json!({"command": "assign_agent", "agent": 2})),
        ("/commands", json!({"command": "assign_team", "team": 1})),
        ("/commands", json!({"command": "follow", "agent": 1})),
        ("/cc", json!({"email": "carol@example.org", "name": "Carol"})),
        ("/commands", json!({"command": "set_urgency", "urgency": 9})),
        ("/commands", json!({"command": "add_label", "label": "vip"})),
        (
            "/commands",
            json!({"command": "set_field", "key": "internal_ref", "value": {"type": "text", "value": "R-1"}}),
        ),
        ("/commands", json!({"command": "set_status", "status": "pending"})),
    ];
    for (path, body) in steps {
        let r = f.post(&s, &format!("/api/agent/tickets/4{path}"), body.clone()).await;
        assert_eq!(r.status(), 200, "{path} {body}: {}", body_text(&r));
    }
    let t = f.hd.ticket(helpdesk_core::TicketId(4)).unwrap();
    assert_eq!(t.notes.len(), 1);
    assert_eq!(t.agent, Some(helpdesk_core::AgentId(2)));
    assert_eq!(t.urgency.get(), 9);
    assert!(t.labels.contains("vip") && t.followers.contains(&helpdesk_core::AgentId(1)));
    assert_eq!(t.ccs.len(), 1);
    assert_eq!(t.status, helpdesk_core::Status::Pending);
    assert!(t.fields.contains_key("internal_ref"));
}

#[tokio::test]
async fn bad_requests_get_status_codes_and_json_errors() {
    let f = fixture();
    let s = f.login_agent(demo::ADMIN.0, demo::ADMIN.1).await;
    let version_before = f.hd.ticket(helpdesk_core::TicketId(1)).unwrap().version;
    // Malformed JSON.
    let r = warp::test::request()
        .method("POST")
        .path("/api/agent/tickets/1/notes")
        .header("cookie", &s.cookie)
        .header("x-csrf-token", &s.csrf)
        .header("content-type", "application/json")
        .body("{not json")
        .reply(&f.routes)
        .await;
    assert_eq!(r.status(), 400);
    assert_eq!(body_json(&r)["error"], "bad_request");
    // Out-of-range urgency is refused while parsing.
    let r =
        f.post(&s, "/api/agent/tickets/1/commands", json!({"command": "set_urgency", "urgency": 11})).await;
    assert_eq!(r.status(), 400);
    // Empty note: the domain refuses it.
    let r = f.post(&s, "/api/agent/tickets/1/notes", json!({"body": "   "})).await;
    assert_eq!(r.status(), 422);
    insta::assert_json_snapshot!(body_json(&r), @r###"
    {
      "error": "invalid",
      "message": "the message must not be empty"
    }
    "###);
    // Unknown agent.
    let r =
        f.post(&s, "/api/agent/tickets/1/commands", json!({"command": "assign_agent", "agent": 99})).await;
    assert_eq!(r.status(), 422);
    assert_eq!(body_json(&r)["error"], "unknown_reference");
    // Missing ticket, unknown route, wrong method.
    assert_eq!(f.get(&s, "/api/agent/tickets/999").await.status(), 404);
    let r = f.get(&s, "/api/agent/nothing-here").await;
    assert_eq!(r.status(), 404);
    assert_eq!(body_json(&r)["error"], "not_found");
    // Nothing was half-written.
    assert_eq!(f.hd.ticket(helpdesk_core::TicketId(1)).unwrap().version, version_before);
}

#[tokio::test]
async fn department_access_and_delete_permission() {
    let f = fixture();
    let sam = f.login_agent(demo::AGENT.0, demo::AGENT.1).await;
    // Ticket 3 is in Sales, which Sam may not see: 404 like a missing ticket.
    let r = f.get(&sam, "/api/agent/tickets/3").await;
    assert_eq!(r.status(), 404);
    let r2 = f.get(&sam, "/api/agent/tickets/999").await;
    assert_eq!(body_json(&r)["error"], body_json(&r2)["error"]);
    assert_eq!(f.get(&sam, "/api/agent/search?q=3").await.status(), 404);
    let r = f.post(&sam, "/api/agent/tickets/3/notes", json!({"body": "sneaky"})).await;
    assert_eq!(r.status(), 404);
    // Sam may not delete.
    let r = f.post(&sam, "/api/agent/tickets/4/commands", json!({"command": "delete"})).await;
    assert_eq!(r.status(), 403);
    assert_eq!(body_json(&r)["error"], "forbidden");
}

#[tokio::test]
async fn search_jumps_to_a_ticket_id() {
    let f = fixture();
    let s = f.login_agent(demo::ADMIN.0, demo::ADMIN.1).await;
    let v = body_json(&f.get(&s, "/api/agent/search?q=%232").await);
    assert_eq!(v["tickets"][0]["id"], 2);
    let v = body_json(&f.get(&s, "/api/agent/search?q=bob%40builder.example").await);
    assert_eq!(v["tickets"].as_array().unwrap().len(), 2);
    assert_eq!(f.get(&s, "/api/agent/search?q=hello").await.status(), 422);
}

#[tokio::test]
async fn csrf_header_is_required_with_a_session_cookie() {
    let f = fixture();
    let s = f.login_agent(demo::ADMIN.0, demo::ADMIN.1).await;
    let before = f.hd.ticket(helpdesk_core::TicketId(1)).unwrap().version;
    for csrf in [None, Some("0".repeat(64))] {
        let mut req = warp::test::request()
            .method("POST")
            .path("/api/agent/tickets/1/notes")
            .header("cookie", &s.cookie)
            .json(&json!({"body": "forged"}));
        if let Some(c) = &csrf {
            req = req.header("x-csrf-token", c);
        }
        let r = req.reply(&f.routes).await;
        assert_eq!(r.status(), 403);
        assert_eq!(body_json(&r)["error"], "csrf");
    }
    assert_eq!(f.hd.ticket(helpdesk_core::TicketId(1)).unwrap().version, before);
}

#[tokio::test]
async fn api_keys_authenticate_without_csrf_and_can_be_revoked() {
    let f = fixture();
    let s = f.login_agent(demo::ADMIN.0, demo::ADMIN.1).await;
    let r = f.post(&s, "/api/agent/api-keys", json!({"label": "ci"})).await;
    assert_eq!(r.status(), 201);
    let v = body_json(&r);
    let key = v["key"].as_str().unwrap().to_string();
    let id = v["id"].as_u64().unwrap();
    let call = |key: String| {
        warp::test::request()
            .method("POST")
            .path("/api/agent/tickets/2/notes")
            .header("authorization", format!("Bearer {key}"))
            .json(&json!({"body": "from a script"}))
    };
    let r = call(key.clone()).reply(&f.routes).await;
    assert_eq!(r.status(), 200, "{}", body_text(&r));
    let listed = body_json(&f.get(&s, "/api/agent/api-keys").await);
    assert!(listed[0].get("key").is_none() && !listed.to_string().contains(&key));
    let r = warp::test::request()
        .method("DELETE")
        .path(&format!("/api/agent/api-keys/{id}"))
        .header("cookie", &s.cookie)
        .header("x-csrf-token", &s.csrf)
        .reply(&f.routes)
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(call(key).reply(&f.routes).await.status(), 401);
}

#[tokio::test]
async fn create_ticket_on_behalf_of_a_user() {
    let f = fixture();
    let s = f.login_agent(demo::ADMIN.0, demo::ADMIN.1).await;
    let r = f
        .post(&s, "/api/agent/tickets", json!({"subject": "Phoned in", "body": "Caller says hi", "department": 1, "user_email": "dora@example.net", "user_name": "Dora"}))
        .await;
    assert_eq!(r.status(), 201, "{}", body_text(&r));
    let v = body_json(&r);
    assert_eq!(v["ticket"]["channel"], "agent");
    assert_eq!(v["user"]["name"], "Dora");
}

#[tokio::test]
async fn login_is_rate_limited() {
    let f = fixture_with(helpdesk_web::Config { login_per_minute: 3, ..Default::default() });
    let mut statuses = vec![];
    for _ in 0..5 {
        let r = warp::test::request()
            .method("POST")
            .path("/api/agent/login")
            .json(&json!({"email": demo::ADMIN.0, "password": "wrong password"}))
            .reply(&f.routes)
            .await;
        statuses.push(r.status().as_u16());
    }
    assert_eq!(statuses, vec![401, 401, 401, 429, 429]);
}

#[tokio::test]
async fn agent_ui_page_has_csp_and_layout() {
    // The workspace (tests/workspace.rs has the rest): login first, then the panes.
    let f = fixture();
    let r = warp::test::request().path("/agent").reply(&f.routes).await;
    assert_eq!(r.status(), 303);
    let r = warp::test::request().path("/agent/login").reply(&f.routes).await;
    assert_eq!(r.status(), 200);
    let csp = r.headers().get("content-security-policy").unwrap().to_str().unwrap();
    assert!(csp.contains("script-src 'self'"));
    let s = f.login_agent(demo::ADMIN.0, demo::ADMIN.1).await;
    let r = f.get(&s, "/agent/filters/all").await;
    assert!(r.headers().get("content-security-policy").is_some());
    let html = body_text(&r);
    for id in ["filter-list", "ticket-list", "content", "search", "bay-list"] {
        assert!(html.contains(&format!("id=\"{id}\"")), "{id}");
    }
}

#[tokio::test]
async fn an_agent_reads_and_replaces_their_subscriptions() {
    let f = fixture();
    let s = f.login_agent(demo::AGENT.0, demo::AGENT.1).await;
    let r = f.get(&s, "/api/agent/subscriptions").await;
    assert_eq!(r.status(), 200);
    insta::assert_json_snapshot!("sam_default_subscriptions", body_json(&r));

    let put = |body: serde_json::Value| {
        warp::test::request()
            .method("PUT")
            .path("/api/agent/subscriptions")
            .header("cookie", &s.cookie)
            .header("x-csrf-token", &s.csrf)
            .json(&body)
    };
    // The agent field cannot be smuggled in: one may only set one's own.
    let r = put(json!({"agent": 1, "rules": []})).reply(&f.routes).await;
    assert_eq!(r.status(), 400, "{}", body_text(&r));
    let r = put(json!({"rules": [{"event": "shouting", "scope": "mine", "channel": "email"}]}))
        .reply(&f.routes)
        .await;
    assert_eq!(r.status(), 400, "{}", body_text(&r));
    let r = f.get(&s, "/api/agent/subscriptions").await;
    insta::assert_json_snapshot!("sam_default_subscriptions", body_json(&r));

    let r = put(json!({"rules": [
        {"event": "note", "scope": "my_teams", "channel": "in_app"},
        {"event": "user_reply", "scope": "mine", "channel": "email"}
    ]}))
    .reply(&f.routes)
    .await;
    assert_eq!(r.status(), 200, "{}", body_text(&r));
    let r = f.get(&s, "/api/agent/subscriptions").await;
    insta::assert_json_snapshot!(body_json(&r), @r#"
    {
      "agent": 2,
      "rules": [
        {
          "channel": "email",
          "event": "user_reply",
          "scope": "mine"
        },
        {
          "channel": "in_app",
          "event": "note",
          "scope": "my_teams"
        }
      ]
    }
    "#);

    // Without the CSRF header a session cannot change them.
    let r = warp::test::request()
        .method("PUT")
        .path("/api/agent/subscriptions")
        .header("cookie", &s.cookie)
        .json(&json!({"rules": []}))
        .reply(&f.routes)
        .await;
    assert_eq!(r.status(), 403);
}

#[tokio::test]
async fn the_bay_lists_in_app_notifications_from_the_delivery_worker() {
    let f = fixture();
    let s = f.login_agent(demo::ADMIN.0, demo::ADMIN.1).await;
    let r = f.get(&s, "/api/agent/notifications").await;
    assert_eq!(body_json(&r), json!([]), "nothing delivered before the worker runs");
    f.app.start_delivery(Vec::new(), std::time::Duration::from_millis(50));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let list = loop {
        let v = body_json(&f.get(&s, "/api/agent/notifications").await);
        if v.as_array().unwrap().len() >= 5 {
            break v;
        }
        assert!(std::time::Instant::now() < deadline, "{v}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    f.app.stop_delivery();
    // The demo's changes by others, newest first; the admin's own are not there.
    let lines: Vec<String> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            format!("#{} {} ({})", n["ticket"], n["subject"].as_str().unwrap(), n["reason"].as_str().unwrap())
        })
        .collect();
    insta::assert_json_snapshot!(lines, @r##"
    [
      "#4 Cannot log in (new_ticket)",
      "#3 Quote for 20 printers (new_ticket)",
      "#2 Scanner makes blurry scans (agent_reply)",
      "#2 Scanner makes blurry scans (new_ticket)",
      "#1 Printer on fire (new_ticket)"
    ]
    "##);
    // Another agent sees only their own.
    let sam = f.login_agent(demo::AGENT.0, demo::AGENT.1).await;
    let theirs = body_json(&f.get(&sam, "/api/agent/notifications").await);
    assert!(theirs.as_array().unwrap().iter().all(|n| n["agent"] == 2), "{theirs}");
}
