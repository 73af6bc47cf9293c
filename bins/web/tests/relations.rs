//! Merge, split and link over the API and in the workspace, and the
//! adversarial cases: tickets of two users, a ticket of a department the
//! agent does not see, a merged ticket taking a reply, a user's view of a
//! merged ticket.

mod common;
use common::*;
use helpdesk_core::*;
use helpdesk_web::demo;
use serde_json::json;

fn open(f: &Fixture, user: &str, subject: &str, department: u64) -> Ticket {
    let u = f.hd.user_by_email(user).unwrap().unwrap();
    let mut new =
        NewTicket::new(subject, format!("About {subject}."), DepartmentId(department), u.id, Channel::Portal);
    if department == 1 {
        new.fields.insert("product".into(), FieldValue::Choice("Printer".into()));
    }
    f.hd.create_ticket(&Actor::User(u.id), new).unwrap()
}

#[tokio::test]
async fn tickets_are_merged_split_and_linked_over_the_api() {
    let f = fixture();
    let sam = f.login_agent(demo::AGENT.0, demo::AGENT.1).await;
    let a = open(&f, "ann@acme.example", "Toner", 1);
    let b = open(&f, "ann@acme.example", "Toner, again", 1);
    let sales = (1..=20)
        .find(|id| f.hd.ticket(TicketId(*id)).is_ok_and(|t| t.department == DepartmentId(2)))
        .unwrap();
    let other_user = (1..=20)
        .find(|id| {
            f.hd.ticket(TicketId(*id)).is_ok_and(|t| t.department == DepartmentId(1) && t.user != a.user)
        })
        .unwrap();

    // Refused: another user's ticket, a department Sam does not see, itself.
    let r =
        f.post(&sam, &format!("/api/agent/tickets/{}/merge", b.id.0), json!({ "into": other_user })).await;
    assert_eq!(r.status(), 422, "{}", body_text(&r));
    assert!(body_json(&r)["message"].as_str().unwrap().contains("only tickets of the same user are merged"));
    let r = f.post(&sam, &format!("/api/agent/tickets/{}/merge", b.id.0), json!({ "into": sales })).await;
    assert_eq!(r.status(), 404, "a ticket Sam does not see is not there for him");
    let r = f.post(&sam, &format!("/api/agent/tickets/{sales}/links"), json!({ "ticket": a.id.0 })).await;
    assert_eq!(r.status(), 404);
    let r = f.post(&sam, &format!("/api/agent/tickets/{}/merge", a.id.0), json!({ "into": a.id.0 })).await;
    assert_eq!(r.status(), 422);
    assert_eq!(f.hd.ticket(b.id).unwrap(), b, "nothing changed");

    // Merge b into a.
    let r = f.post(&sam, &format!("/api/agent/tickets/{}/merge", b.id.0), json!({ "into": a.id.0 })).await;
    assert_eq!(r.status(), 200, "{}", body_text(&r));
    let kept = body_json(&r);
    assert_eq!(kept["ticket"]["id"], a.id.0);
    assert_eq!(kept["other"], b.id.0);
    assert_eq!(kept["ticket"]["messages"].as_array().unwrap().len(), 2);
    let merged = f.get(&sam, &format!("/api/agent/tickets/{}", b.id.0)).await;
    assert_eq!(body_json(&merged)["ticket"]["relations"]["merged_into"], a.id.0);
    assert_eq!(body_json(&merged)["ticket"]["status"], "deleted");
    let r = f.post(&sam, &format!("/api/agent/tickets/{}/reply", b.id.0), json!({ "body": "Hello?" })).await;
    assert_eq!(r.status(), 409);
    assert_eq!(body_json(&r)["error"], "merged");
    assert_eq!(
        body_json(&r)["message"],
        format!("ticket #{} was merged into #{}; work on #{}", b.id.0, a.id.0, a.id.0)
    );

    // Ann's portal: the merged ticket leads to the one kept.
    let (cookie, _) = f.login_user("ann@acme.example", "user-password").await;
    let r = warp::test::request()
        .path(&format!("/portal/tickets/{}", b.id.0))
        .header("cookie", &cookie)
        .reply(&f.routes)
        .await;
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], format!("/portal/tickets/{}", a.id.0));

    // Split the second message off; it becomes a linked ticket.
    let post = f.hd.ticket(a.id).unwrap().messages[1].id.0;
    let r = f
        .post(
            &sam,
            &format!("/api/agent/tickets/{}/split", a.id.0),
            json!({ "post": post, "subject": "Toner smell" }),
        )
        .await;
    assert_eq!(r.status(), 201, "{}", body_text(&r));
    let new = body_json(&r);
    let new_id = new["ticket"]["id"].as_u64().unwrap();
    assert_eq!(new["ticket"]["subject"], "Toner smell");
    assert_eq!(new["ticket"]["relations"]["linked"], json!([a.id.0]));
    assert_eq!(new["other"], a.id.0);
    let r = f.post(&sam, &format!("/api/agent/tickets/{}/split", a.id.0), json!({ "post": 1 })).await;
    assert_eq!(r.status(), 422, "the only message left stays");

    // Unlink, link again.
    let r = agent_request(&sam, "DELETE", &format!("/api/agent/tickets/{}/links/{new_id}", a.id.0), None)
        .reply(&f.routes)
        .await;
    assert_eq!(r.status(), 200, "{}", body_text(&r));
    assert!(body_json(&r)["ticket"].get("relations").is_none(), "no relations left: {}", body_text(&r));
    let r = f.post(&sam, &format!("/api/agent/tickets/{new_id}/links"), json!({ "ticket": a.id.0 })).await;
    assert_eq!(r.status(), 200);
    assert!(f.hd.ticket(a.id).unwrap().relations.linked.contains(&TicketId(new_id)), "shown both ways");
}

#[tokio::test]
async fn the_workspace_merges_splits_and_links() {
    let f = fixture();
    let p = login_workspace(&f, demo::AGENT).await;
    let a = open(&f, "ann@acme.example", "Toner", 1);
    let b = open(&f, "ann@acme.example", "Toner, again", 1);
    let v = b.version.to_string();
    let path = format!("/agent/tickets/{}/actions", b.id.0);
    let r = post_form(&f, &p, &path, &[("version", &v), ("action", "merge_ask"), ("value", "#9999")]).await;
    assert_eq!(r.status(), 404, "{}", body_text(&r));
    let a_id = a.id.0.to_string();
    let r = post_form(&f, &p, &path, &[("version", &v), ("action", "merge_ask"), ("value", &a_id)]).await;
    assert_eq!(r.status(), 200);
    let html = body_text(&r);
    assert!(html.contains(&format!("Merge tickets #{} and #{}?", b.id.0, a.id.0)), "{html}");
    assert!(html.contains(&format!(r#"value="{}" checked"#, a.id.0)), "the older is kept by default: {html}");
    let r =
        post_form(&f, &p, &path, &[("version", &v), ("action", "merge"), ("value", &a_id), ("keep", &a_id)])
            .await;
    assert_eq!(r.headers()["hx-redirect"], format!("/agent/tickets/{}", a.id.0), "on to the one kept");
    let r = get_pane(&f, &p, &format!("/agent/tickets/{}", b.id.0), None).await;
    assert!(body_text(&r).contains("This ticket was merged into"));

    // Split the merged-in message off from the kept ticket.
    let t = f.hd.ticket(a.id).unwrap();
    let path = format!("/agent/tickets/{}/actions", a.id.0);
    let r = get_pane(&f, &p, &format!("/agent/tickets/{}", a.id.0), None).await;
    assert!(body_text(&r).contains(">Split off</button>"));
    let post = t.messages[1].id.0.to_string();
    let v = t.version.to_string();
    let r = post_form(&f, &p, &path, &[("version", &v), ("action", "split_ask"), ("value", &post)]).await;
    assert!(body_text(&r).contains("Subject of the new ticket"));
    let r = post_form(
        &f,
        &p,
        &path,
        &[("version", &v), ("action", "split"), ("value", &post), ("subject", "Toner, part two")],
    )
    .await;
    assert_eq!(r.status(), 200);
    let html = body_text(&r);
    let new = f.hd.ticket(a.id).unwrap().relations.linked.iter().next().copied().unwrap();
    assert!(html.contains(&format!("The message is now ticket #{}, linked to this one.", new.0)), "{html}");
    assert!(html.contains("Toner, part two"), "listed under Linked tickets: {html}");
    let r = post_form(&f, &p, &path, &[("version", &v), ("action", "unlink"), ("value", &new.0.to_string())])
        .await;
    assert!(body_text(&r).contains(&format!("Unlinked ticket #{}.", new.0)));
    assert!(f.hd.ticket(new).unwrap().relations.linked.is_empty());
}
