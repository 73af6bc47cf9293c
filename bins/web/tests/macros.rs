//! Macros over the API and in the workspace, and the adversarial cases: a
//! macro of a department the agent may not see, a ticket the agent may not
//! see, an action refused on the ticket (nothing changes), a change made by
//! someone else since the version the agent saw, someone else's macro.

mod common;
use common::*;
use helpdesk_core::*;
use helpdesk_web::demo;
use serde_json::json;
use warp::http::Response;
use warp::hyper::body::Bytes;

fn new_macro(name: &str, scope: serde_json::Value, actions: serde_json::Value) -> serde_json::Value {
    json!({ "name": name, "description": "For double charges", "scope": scope, "actions": actions })
}

fn sales_ticket(f: &Fixture) -> u64 {
    (1..=12).find(|id| f.hd.ticket(TicketId(*id)).is_ok_and(|t| t.department == DepartmentId(2))).unwrap()
}

#[tokio::test]
async fn macros_are_made_previewed_applied_and_kept_to_their_scope() {
    let f = fixture();
    let admin = f.login_agent(demo::ADMIN.0, demo::ADMIN.1).await;
    let sam = f.login_agent(demo::AGENT.0, demo::AGENT.1).await;
    let r = f
        .post(&sam, "/api/agent/snippets", json!({ "name": "refund", "title": "Refund sent", "body": "Hi {{user.first_name}}, the refund is on its way.", "scope": { "kind": "personal" } }))
        .await;
    let snippet = body_json(&r)["id"].as_u64().unwrap();
    let actions = json!([
        { "action": "set_agent", "agent": "me" },
        { "action": "add_label", "label": "Refund" },
        { "action": "reply", "snippet": snippet },
        { "action": "set_status", "status": "resolved" },
        { "action": "set_urgency", "urgency": 3 }
    ]);
    let r = f
        .post(
            &sam,
            "/api/agent/macros",
            new_macro("Refund sent", json!({ "kind": "personal" }), actions.clone()),
        )
        .await;
    assert_eq!(r.status(), 201, "{}", body_text(&r));
    let refund = body_json(&r)["id"].as_u64().unwrap();
    assert_eq!(body_json(&r)["actions"][0]["agent"], "me");

    // Refused when saved: a bad action (named by position), a name taken,
    // a department Sam does not see, a snippet that is not his to use.
    let bad = json!([{ "action": "set_urgency", "urgency": 11 }]);
    let r = f.post(&sam, "/api/agent/macros", new_macro("Bad", json!({ "kind": "personal" }), bad)).await;
    assert_eq!(r.status(), 422);
    assert_eq!(body_json(&r)["message"], "action 1 (set_urgency): urgency must be between 1 and 10, got 11");
    let r = f
        .post(
            &sam,
            "/api/agent/macros",
            new_macro("refund SENT", json!({ "kind": "personal" }), actions.clone()),
        )
        .await;
    assert_eq!(r.status(), 409);
    let r = f
        .post(
            &sam,
            "/api/agent/macros",
            new_macro("Quote", json!({ "kind": "department", "department": 2 }), actions.clone()),
        )
        .await;
    assert_eq!(r.status(), 403, "{}", body_text(&r));
    let r = f
        .post(
            &admin,
            "/api/agent/macros",
            new_macro("Mine too", json!({ "kind": "personal" }), actions.clone()),
        )
        .await;
    assert_eq!(r.status(), 422, "Sam's personal snippet is not the admin's to use");
    assert_eq!(
        body_json(&r)["message"],
        format!("action 3 (reply): no snippet snippet:{snippet} you may use")
    );
    let sales_only = json!([{ "action": "add_label", "label": "quote" }]);
    let r = f
        .post(
            &admin,
            "/api/agent/macros",
            new_macro("Quote", json!({ "kind": "department", "department": 2 }), sales_only),
        )
        .await;
    assert_eq!(r.status(), 201);
    let quote = body_json(&r)["id"].as_u64().unwrap();
    let names = |r: &Response<Bytes>| -> Vec<String> {
        body_json(r).as_array().unwrap().iter().map(|m| m["name"].as_str().unwrap().to_string()).collect()
    };
    assert_eq!(names(&f.get(&sam, "/api/agent/macros").await), ["Refund sent"]);
    assert_eq!(names(&f.get(&admin, "/api/agent/macros?q=quo").await), ["Quote"]);
    assert_eq!(f.get(&sam, &format!("/api/agent/macros/{quote}")).await.status(), 404);
    assert_eq!(f.post(&sam, &format!("/api/agent/tickets/1/macros/{quote}"), json!({})).await.status(), 404);
    let hidden = sales_ticket(&f);
    assert_eq!(f.get(&sam, &format!("/api/agent/tickets/{hidden}/macros/{refund}")).await.status(), 404);

    // The preview says what would change and writes nothing.
    let before = f.hd.ticket(TicketId(1)).unwrap();
    let r = f.get(&sam, &format!("/api/agent/tickets/1/macros/{refund}")).await;
    assert_eq!(r.status(), 200, "{}", body_text(&r));
    let p = body_json(&r);
    let kinds: Vec<Vec<String>> = p["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            s["changes"].as_array().unwrap().iter().map(|c| c["type"].as_str().unwrap().to_string()).collect()
        })
        .collect();
    assert_eq!(
        kinds,
        [vec!["agent"], vec!["label_added"], vec!["message_added", "status"], vec![], vec!["urgency"]]
    );
    assert_eq!(p["after"]["status"], "resolved");
    assert_eq!(f.hd.ticket(TicketId(1)).unwrap(), before);

    // Someone else changed the urgency since Sam looked: refused, nothing written.
    f.hd.execute(
        TicketId(1),
        &Actor::System(SystemActor::Helpdesk),
        Command::SetUrgency { urgency: Urgency::new(6).unwrap() },
    )
    .unwrap();
    let r = f
        .post(&sam, &format!("/api/agent/tickets/1/macros/{refund}"), json!({ "version": before.version }))
        .await;
    assert_eq!(r.status(), 409, "{}", body_text(&r));
    assert!(f.hd.ticket(TicketId(1)).unwrap().messages.len() == before.messages.len());
    let seen = f.hd.ticket(TicketId(1)).unwrap().version;
    let r = f.post(&sam, &format!("/api/agent/tickets/1/macros/{refund}"), json!({ "version": seen })).await;
    assert_eq!(r.status(), 200, "{}", body_text(&r));
    let done = body_json(&r);
    assert_eq!(done["ticket"]["status"], "resolved");
    assert_eq!(done["ticket"]["urgency"], 3);
    let last = done["ticket"]["messages"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["body"], "Hi Ann, the refund is on its way.");
    let log = done["log"].as_array().unwrap();
    let group: Vec<&str> = log
        .iter()
        .filter(|e| e["version"].as_u64().unwrap() > seen)
        .map(|e| e["change"]["type"].as_str().unwrap())
        .collect();
    assert_eq!(group[..6], ["macro", "agent", "label_added", "message_added", "status", "urgency"]);

    let r = f.post(&sam, &format!("/api/agent/tickets/1/macros/{refund}"), json!({ "versio": 1 })).await;
    assert_eq!(r.status(), 400, "an unknown field is refused");

    // Only its maker or an admin changes or deletes it.
    let r = agent_request(
        &sam,
        "PUT",
        &format!("/api/agent/macros/{quote}"),
        Some(new_macro("Quote", json!({ "kind": "everyone" }), actions.clone())),
    )
    .reply(&f.routes)
    .await;
    assert_eq!(r.status(), 404, "not one Sam may use");
    let r =
        agent_request(&sam, "DELETE", &format!("/api/agent/macros/{refund}"), None).reply(&f.routes).await;
    assert_eq!(r.status(), 200);
    assert!(names(&f.get(&sam, "/api/agent/macros").await).is_empty());
}

#[tokio::test]
async fn the_workspace_makes_previews_and_applies_a_macro() {
    let f = fixture();
    let p = login_workspace(&f, demo::AGENT).await;
    let r = post_form(
        &f,
        &p,
        "/agent/profile/macros",
        &[
            ("op", "save"),
            ("name", "Escalate"),
            ("scope", "personal"),
            ("agent", "me"),
            ("add_labels", "urgent, vip"),
            ("urgency", "11"),
            ("note", "Escalated by {{agent.name}}"),
        ],
    )
    .await;
    assert_eq!(r.status(), 422);
    let html = body_text(&r);
    assert!(
        html.contains("urgency must be between 1 and 10, got 11") && html.contains("urgent, vip"),
        "the error and what was typed"
    );
    let r = post_form(
        &f,
        &p,
        "/agent/profile/macros",
        &[
            ("op", "save"),
            ("name", "Escalate"),
            ("scope", "personal"),
            ("reply_snippet", ""),
            ("reply_body", ""),
        ],
    )
    .await;
    assert_eq!(r.status(), 422);
    assert!(body_text(&r).contains("Choose at least one thing for the macro to do."));
    let r = post_form(
        &f,
        &p,
        "/agent/profile/macros",
        &[
            ("op", "save"),
            ("name", "Escalate"),
            ("scope", "personal"),
            ("agent", "me"),
            ("add_labels", "urgent, vip"),
            ("urgency", "9"),
            ("note", "Escalated by {{agent.name}}"),
            ("follow", "1"),
        ],
    )
    .await;
    assert_eq!(r.status(), 200, "{}", body_text(&r));
    assert!(body_text(&r).contains("Saved “Escalate”"));
    let sam = f.hd.agent_by_email(demo::AGENT.0).unwrap().unwrap();
    let m = f.hd.macros(sam.id).list("").unwrap().remove(0);
    assert_eq!(m.r#macro.actions.len(), 6);

    // The ticket's header offers it; the preview lists the changes.
    let t = f.hd.ticket(TicketId(1)).unwrap();
    let r = get_pane(&f, &p, "/agent/tickets/1", None).await;
    assert!(body_text(&r).contains(">Escalate</option>"));
    let v = t.version.to_string();
    let id = m.id.0.to_string();
    let r = post_form(
        &f,
        &p,
        "/agent/tickets/1/actions",
        &[("version", &v), ("action", "macro_preview"), ("value", &id)],
    )
    .await;
    assert_eq!(r.status(), 200);
    let html = body_text(&r);
    assert!(html.contains("Preview of “Escalate”"), "{html}");
    assert!(
        html.contains("changed urgency:")
            && html.contains("added label “vip”")
            && html.contains("adds a note: “Escalated by Sam Support”"),
        "{html}"
    );
    assert_eq!(f.hd.ticket(TicketId(1)).unwrap(), t, "a preview writes nothing");
    let r = post_form(
        &f,
        &p,
        "/agent/tickets/1/actions",
        &[("version", &v), ("action", "macro_apply"), ("value", &id)],
    )
    .await;
    assert_eq!(r.status(), 200);
    assert!(body_text(&r).contains("Applied “Escalate”: 6 changes."), "{}", body_text(&r));
    let after = f.hd.ticket(TicketId(1)).unwrap();
    assert_eq!((after.agent, after.urgency.get()), (Some(sam.id), 9));
    assert!(after.followers.contains(&sam.id) && after.labels.contains("vip"));
    // The full log shows the group under the macro's row.
    let r = get_pane(&f, &p, "/agent/tickets/1?view=log", None).await;
    let html = body_text(&r);
    assert!(
        html.contains(r#"<tr class="group-head">"#) && html.matches(r#"<tr class="in-group">"#).count() == 6,
        "{html}"
    );

    // A ticket of a department Sam does not see: as if it did not exist.
    let hidden = sales_ticket(&f).to_string();
    let r = post_form(
        &f,
        &p,
        &format!("/agent/tickets/{hidden}/actions"),
        &[("version", "1"), ("action", "macro_apply"), ("value", &id)],
    )
    .await;
    assert_eq!(r.status(), 404);
}
