//! The agent workspace over HTTP (warp::test): login and redirects, one
//! handler for page and fragment, tabs kept per agent, replies and actions
//! with their conflicts, permissions, CSRF, forms without JavaScript, and
//! snapshots of the fragments (manual clock, sequential ids; only the CSRF
//! token is redacted).

mod common;
use common::*;
use helpdesk_core::*;
use helpdesk_web::demo;
use helpdesk_web::workspace::{assets, WorkspaceState};
use warp::http::Response;
use warp::hyper::body::Bytes;

async fn post(f: &Fixture, p: &Page, path: &str, form: &[(&str, &str)], htmx: bool) -> Response<Bytes> {
    let body = form_body(form);
    let mut req = warp::test::request()
        .method("POST")
        .path(path)
        .header("cookie", &p.cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body);
    if htmx {
        req = req.header("hx-request", "true").header("x-csrf-token", &p.csrf);
    }
    req.reply(&f.routes).await
}

#[tokio::test]
async fn not_logged_in_goes_to_login_and_back() {
    let f = fixture();
    let r = warp::test::request().path("/agent").reply(&f.routes).await;
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/agent/login?next=/agent");
    let r = warp::test::request().path("/agent/tickets/1?view=log").reply(&f.routes).await;
    assert_eq!(r.headers()["location"], "/agent/login?next=/agent/tickets/1%3Fview%3Dlog");
    // htmx requests are sent to the login page as a whole.
    let r =
        warp::test::request().path("/agent/filters/all").header("hx-request", "true").reply(&f.routes).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["hx-redirect"], "/agent/login?next=/agent/filters/all");
    let page = warp::test::request().path("/agent/login?next=/agent/tickets/1").reply(&f.routes).await;
    assert_eq!(page.status(), 200);
    let text = body_text(&page);
    assert!(text.contains(r#"name="next" value="/agent/tickets/1""#), "{text}");
    // A wrong password: the form again, the email kept, the error next to it.
    let r = warp::test::request()
        .method("POST")
        .path("/agent/login")
        .header("content-type", "application/x-www-form-urlencoded")
        .body("email=admin%40example.com&password=nope&next=%2Fagent")
        .reply(&f.routes)
        .await;
    assert_eq!(r.status(), 401);
    let text = body_text(&r);
    assert!(
        text.contains("Wrong email or password.") && text.contains(r#"value="admin@example.com""#),
        "{text}"
    );
    // `next` only leads into the workspace.
    let r = warp::test::request()
        .method("POST")
        .path("/agent/login")
        .header("content-type", "application/x-www-form-urlencoded")
        .body("email=admin%40example.com&password=admin-password&next=https%3A%2F%2Fevil.example")
        .reply(&f.routes)
        .await;
    assert_eq!(r.headers()["location"], "/agent");
    let p = login_workspace(&f, demo::ADMIN).await;
    let r = get_pane(&f, &p, "/agent", None).await;
    assert_eq!(r.headers()["location"], "/agent/filters/all", "the last filter");
}

#[tokio::test]
async fn one_handler_serves_the_page_and_the_pane() {
    let f = fixture();
    let p = login_workspace(&f, demo::ADMIN).await;
    let page = body_text(&get_pane(&f, &p, "/agent/filters/all", None).await);
    assert!(page.starts_with("<!DOCTYPE html>"));
    for part in
        ["id=\"filter-pane\"", "id=\"list-pane\"", "id=\"content\"", "sse-connect=\"/api/agent/events\""]
    {
        assert!(page.contains(part), "{part} missing");
    }
    assert!(page.contains(assets::css_path()) && page.contains(assets::HTMX_PATH));
    let r = get_pane(&f, &p, "/agent/filters/all", Some("list-pane")).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["vary"], "HX-Request, HX-Target");
    let pane = body_text(&r);
    assert!(!pane.contains("<!DOCTYPE"));
    assert!(pane.starts_with("<section"));
    // Unassigned rows name their team; the counts come along out of band.
    insta::assert_snapshot!("list_all", redact(&p, &pane));
    let r = get_pane(&f, &p, "/agent/filters/nope", None).await;
    assert_eq!(r.status(), 404);
    assert!(body_text(&r).contains("There is no filter"));
}

#[tokio::test]
async fn the_list_sorts_and_remembers_the_filter() {
    let f = fixture();
    let p = login_workspace(&f, demo::ADMIN).await;
    f.clock.advance(chrono::Duration::hours(1));
    let ann = f.hd.user_by_email(demo::USER.0).unwrap().unwrap();
    let new = NewTicket::new("Later one", "?", DepartmentId(1), ann.id, Channel::Portal);
    let t5 = f.hd.create_ticket(&Actor::User(ann.id), new).unwrap();
    let pos = |pane: &str, id: u64| pane.find(&format!("id=\"row-{id}\"")).unwrap();
    let pane = body_text(&get_pane(&f, &p, "/agent/filters/all?sort=newest", Some("list-pane")).await);
    assert!(pos(&pane, t5.id.0) < pos(&pane, 1), "newest first");
    assert!(pane.contains("<option value=\"newest\" selected>"));
    let pane = body_text(&get_pane(&f, &p, "/agent/filters/all?sort=oldest", Some("list-pane")).await);
    assert!(pos(&pane, 1) < pos(&pane, t5.id.0), "oldest first");
    let pane = body_text(&get_pane(&f, &p, "/agent/filters/all", Some("list-pane")).await);
    assert!(pos(&pane, 1) < pos(&pane, 4) && pos(&pane, 4) < pos(&pane, 3), "urgency first: 8, 5, 1");
    let admin = f.hd.agent_by_email(demo::ADMIN.0).unwrap().unwrap();
    let state = WorkspaceState::load(&f.hd, admin.id).unwrap();
    assert_eq!((state.filter.as_deref(), state.sort.as_deref()), (Some("all"), Some("urgency")));
}

#[tokio::test]
async fn tabs_are_kept_per_agent_and_closing_is_a_request() {
    let f = fixture();
    let p = login_workspace(&f, demo::ADMIN).await;
    for id in [1, 4, 2] {
        assert_eq!(get_pane(&f, &p, &format!("/agent/tickets/{id}"), Some("content")).await.status(), 200);
    }
    let admin = f.hd.agent_by_email(demo::ADMIN.0).unwrap().unwrap();
    assert_eq!(WorkspaceState::load(&f.hd, admin.id).unwrap().tabs, vec![1, 4, 2]);
    // A reload (a whole page anywhere) shows them.
    let page = body_text(&get_pane(&f, &p, "/agent/filters/all", None).await);
    assert_eq!(page.matches("class=\"tab-close\"").count(), 3);
    // Closing the tab shown opens its neighbour.
    let r = post(&f, &p, "/agent/tickets/4/close", &[("active", "4")], true).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["hx-push-url"], "/agent/tickets/2");
    assert_eq!(WorkspaceState::load(&f.hd, admin.id).unwrap().tabs, vec![1, 2]);
    // Sam has his own tabs.
    let sam = login_workspace(&f, demo::AGENT).await;
    let page = body_text(&get_pane(&f, &sam, "/agent/filters/all", None).await);
    assert!(!page.contains("class=\"tab-close\""));
}

#[tokio::test]
async fn ticket_fragments() {
    let f = fixture();
    let p = login_workspace(&f, demo::ADMIN).await;
    let live = body_text(&get_pane(&f, &p, "/agent/tickets/1", Some("ticket-live-1")).await);
    assert!(live.starts_with("<div") && live[..80].contains("id=\"ticket-live-1\""));
    assert!(!live.contains("composer-body"), "a live refresh never replaces the composer");
    insta::assert_snapshot!("ticket_1_live", redact(&p, &live));
    let log = body_text(&get_pane(&f, &p, "/agent/tickets/1?view=log", Some("ticket-live-1")).await);
    assert!(log.contains("Alice Admin") && !log.contains("user 1") && !log.contains("agent 1"));
    insta::assert_snapshot!("ticket_1_log", redact(&p, &log));
    let r = get_pane(&f, &p, "/agent/tickets/999", None).await;
    assert_eq!(r.status(), 404);
    let text = body_text(&r);
    assert!(text.contains("There is no ticket #999") && text.contains("id=\"filter-pane\""));
}

#[tokio::test]
async fn reply_note_and_actions() {
    let f = fixture();
    let p = login_workspace(&f, demo::ADMIN).await;
    let v = f.hd.ticket(TicketId(4)).unwrap().version.to_string();
    let r = post(
        &f,
        &p,
        "/agent/tickets/4/reply",
        &[("version", &v), ("mode", "reply"), ("body", "Try again"), ("status", "pending")],
        true,
    )
    .await;
    assert_eq!(r.status(), 200, "{}", body_text(&r));
    let text = body_text(&r);
    assert!(text.contains("hx-swap-oob=\"true\"") && text.contains("Try again"));
    let t = f.hd.ticket(TicketId(4)).unwrap();
    assert_eq!(t.status, Status::Pending);
    let v = t.version.to_string();
    let r = post(
        &f,
        &p,
        "/agent/tickets/4/reply",
        &[("version", &v), ("mode", "note"), ("body", "internal")],
        true,
    )
    .await;
    assert_eq!(r.status(), 200);
    let v = f.hd.ticket(TicketId(4)).unwrap().version.to_string();
    let r = post(
        &f,
        &p,
        "/agent/tickets/4/actions",
        &[("version", &v), ("action", "urgency"), ("value", "9")],
        true,
    )
    .await;
    assert_eq!(r.status(), 200);
    // An action at an older version whose only news is the agent's own goes through.
    let r = post(&f, &p, "/agent/tickets/4/actions", &[("version", &v), ("action", "assign_me")], true).await;
    assert_eq!(r.status(), 200, "{}", body_text(&r));
    let t = f.hd.ticket(TicketId(4)).unwrap();
    assert_eq!(
        (t.urgency.get(), t.agent.map(|a| a.0), t.notes.last().unwrap().body.as_str()),
        (9, Some(1), "internal")
    );
    // Bad input: the error next to the field, nothing changed.
    let v = t.version.to_string();
    let r = post(
        &f,
        &p,
        "/agent/tickets/4/actions",
        &[("version", &v), ("action", "urgency"), ("value", "11")],
        true,
    )
    .await;
    assert_eq!(r.status(), 422);
    assert!(body_text(&r).contains("class=\"notice error\""));
    let r =
        post(&f, &p, "/agent/tickets/4/reply", &[("version", &v), ("mode", "reply"), ("body", "  ")], true)
            .await;
    assert_eq!(r.status(), 422);
    assert!(body_text(&r).contains("Write something first."));
    assert_eq!(f.hd.ticket(TicketId(4)).unwrap().version, t.version);
}

#[tokio::test]
async fn a_reply_after_someone_elses_goes_in_with_a_collision_notice() {
    let f = fixture();
    let p = login_workspace(&f, demo::ADMIN).await;
    let seen = f.hd.ticket(TicketId(1)).unwrap().version.to_string();
    let sam = f.hd.agent_by_email(demo::AGENT.0).unwrap().unwrap();
    f.hd.agent_reply(TicketId(1), sam.id, "Sam got there first", None).unwrap();
    let r = post(
        &f,
        &p,
        "/agent/tickets/1/reply",
        &[("version", &seen), ("mode", "reply"), ("body", "My careful answer")],
        true,
    )
    .await;
    // Replies are appends: never refused for a version, but the agent is told.
    assert_eq!(r.status(), 200);
    let text = body_text(&r);
    assert!(text.contains("Sent. 1 new post arrived while you wrote: it is above yours."), "{text}");
    assert!(text.contains("Sam got there first") && text.contains("My careful answer"), "both are shown");
    let t = f.hd.ticket(TicketId(1)).unwrap();
    assert_eq!(t.messages.len(), 3);
    assert_eq!(t.messages[2].body, "My careful answer");
}

#[tokio::test]
async fn a_refused_change_keeps_the_draft_and_says_what_changed() {
    let f = fixture();
    let p = login_workspace(&f, demo::ADMIN).await;
    let seen = f.hd.ticket(TicketId(1)).unwrap().version.to_string();
    let sam = f.hd.agent_by_email(demo::AGENT.0).unwrap().unwrap();
    // Sam changes the urgency; the admin, who saw the old one, sets it too.
    f.hd.execute(
        TicketId(1),
        &Actor::Agent(sam.id),
        Command::SetUrgency { urgency: Urgency::new(3).unwrap() },
    )
    .unwrap();
    let r = post(
        &f,
        &p,
        "/agent/tickets/1/actions",
        &[("version", &seen), ("action", "urgency"), ("value", "9"), ("body", "half-typed reply")],
        true,
    )
    .await;
    assert_eq!(r.status(), 409);
    let text = body_text(&r);
    assert!(text.contains("Not changed: meanwhile Sam Support changed urgency"), "{text}");
    assert_eq!(f.hd.ticket(TicketId(1)).unwrap().urgency.get(), 3, "nothing was overwritten");
    // A change to something else goes in over Sam's.
    let r = post(
        &f,
        &p,
        "/agent/tickets/1/actions",
        &[("version", &seen), ("action", "status"), ("value", "pending")],
        true,
    )
    .await;
    assert_eq!(r.status(), 200, "{}", body_text(&r));
    assert_eq!(f.hd.ticket(TicketId(1)).unwrap().status, Status::Pending);
}

#[tokio::test]
async fn agents_are_offered_only_what_they_may_do() {
    let f = fixture();
    let sam = login_workspace(&f, demo::AGENT).await;
    let live = body_text(&get_pane(&f, &sam, "/agent/tickets/1", Some("ticket-live-1")).await);
    assert!(!live.contains("delete_ask") && !live.contains("value=\"spam\""));
    let r = post(&f, &sam, "/agent/tickets/1/actions", &[("action", "delete")], true).await;
    assert_eq!(r.status(), 403);
    assert!(body_text(&r).contains("You may not delete"));
    assert_eq!(f.hd.ticket(TicketId(1)).unwrap().status, Status::AwaitingAgent);
    // Sam cannot see Sales (ticket 3): the same 404 as a missing ticket.
    assert_eq!(get_pane(&f, &sam, "/agent/tickets/3", None).await.status(), 404);

    let admin = login_workspace(&f, demo::ADMIN).await;
    let live = body_text(&get_pane(&f, &admin, "/agent/tickets/1", Some("ticket-live-1")).await);
    assert!(live.contains("delete_ask"));
    // Delete asks first, then offers to undo.
    let r = post(&f, &admin, "/agent/tickets/1/actions", &[("action", "delete_ask")], true).await;
    assert!(body_text(&r).contains("Delete ticket #1?"));
    assert_eq!(f.hd.ticket(TicketId(1)).unwrap().status, Status::AwaitingAgent);
    let v = f.hd.ticket(TicketId(1)).unwrap().version.to_string();
    let r =
        post(&f, &admin, "/agent/tickets/1/actions", &[("version", &v), ("action", "delete")], true).await;
    let text = body_text(&r);
    assert!(text.contains("Ticket deleted.") && text.contains("Undo"), "{text}");
    assert_eq!(f.hd.ticket(TicketId(1)).unwrap().status, Status::Deleted);
    let v = f.hd.ticket(TicketId(1)).unwrap().version.to_string();
    post(&f, &admin, "/agent/tickets/1/actions", &[("version", &v), ("action", "restore")], true).await;
    assert_eq!(f.hd.ticket(TicketId(1)).unwrap().status, Status::AwaitingAgent);
}

#[tokio::test]
async fn forms_need_the_csrf_token_and_work_without_javascript() {
    let f = fixture();
    let p = login_workspace(&f, demo::ADMIN).await;
    let before = f.hd.ticket(TicketId(4)).unwrap();
    let r = post(&f, &p, "/agent/tickets/4/reply", &[("mode", "reply"), ("body", "no token")], false).await;
    assert_eq!(r.status(), 403);
    assert_eq!(f.hd.ticket(TicketId(4)).unwrap(), before);
    let v = before.version.to_string();
    let r = post(
        &f,
        &p,
        "/agent/tickets/4/reply",
        &[("csrf", &p.csrf), ("version", &v), ("mode", "note"), ("body", "plain form")],
        false,
    )
    .await;
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/agent/tickets/4");
    assert_eq!(f.hd.ticket(TicketId(4)).unwrap().notes.last().unwrap().body, "plain form");
    let r = post(&f, &p, "/agent/logout", &[("csrf", &p.csrf)], false).await;
    assert_eq!(r.status(), 303);
    assert_eq!(get_pane(&f, &p, "/agent/filters/all", None).await.status(), 303, "logged out");
}

#[tokio::test]
async fn search_profiles_bay_and_assets() {
    let f = fixture();
    let p = login_workspace(&f, demo::ADMIN).await;
    let r = get_pane(&f, &p, "/agent/search?q=%232", None).await;
    assert_eq!(r.headers()["location"], "/agent/tickets/2");
    let ann = f.hd.user_by_email(demo::USER.0).unwrap().unwrap();
    let r = get_pane(&f, &p, "/agent/search?q=ann%40acme.example", None).await;
    assert_eq!(r.headers()["location"], format!("/agent/users/{}", ann.id.0).as_str());
    let r = get_pane(&f, &p, "/agent/search?q=printer", None).await;
    assert_eq!(r.status(), 422);
    let user = body_text(&get_pane(&f, &p, &format!("/agent/users/{}", ann.id.0), Some("content")).await);
    assert!(
        user.contains("Ann Acme")
            && user.contains("Printer on fire")
            && user.contains("Quote for 20 printers")
    );
    let org = ann.organisation.unwrap();
    let page = body_text(&get_pane(&f, &p, &format!("/agent/organisations/{}", org.0), None).await);
    assert!(page.contains("acme.example") && page.contains("Scanner makes blurry scans"));
    let bay = body_text(&get_pane(&f, &p, "/agent/bay", Some("bay-count")).await);
    assert!(bay.starts_with("<span") && bay.contains("id=\"bay-count\"") && bay.contains("id=\"bay-list\""));
    for path in [assets::css_path(), assets::js_path(), assets::HTMX_PATH, assets::SSE_PATH] {
        let r = warp::test::request().path(path).reply(&f.routes).await;
        assert_eq!(r.status(), 200, "{path}");
        assert_eq!(r.headers()["cache-control"], "public, max-age=31536000, immutable");
    }
    let r = warp::test::request().path("/favicon.ico").reply(&f.routes).await;
    assert_eq!((r.status().as_u16(), r.headers()["content-type"].to_str().unwrap()), (200, "image/svg+xml"));
    assert_eq!(warp::test::request().path("/agent/assets/htmx-1.0.js").reply(&f.routes).await.status(), 404);
}
