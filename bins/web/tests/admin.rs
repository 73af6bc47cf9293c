//! The Admin app over HTTP: the admin JSON API, the Admin screens, the
//! first-run setup and invitation links; only admins get in, and settings
//! take effect at once.

mod common;
use common::*;
use helpdesk_core::ManualClock;
use helpdesk_store::Helpdesk;
use helpdesk_web::{App, Config, MemoryMailer};
use serde_json::{json, Value};
use std::sync::Arc;
use warp::http::Response;
use warp::hyper::body::Bytes;

const ADMIN: (&str, &str) = helpdesk_web::demo::ADMIN;
const SAM: (&str, &str) = helpdesk_web::demo::AGENT;

async fn send(
    f: &Fixture,
    s: &AgentSession,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> Response<Bytes> {
    let req = agent_request(s, method, path, body);
    req.reply(&f.routes).await
}

async fn form_post(f: &Fixture, p: &Page, path: &str, form: &[(&str, &str)]) -> Response<Bytes> {
    let mut all = vec![("csrf", p.csrf.as_str())];
    all.extend_from_slice(form);
    warp::test::request()
        .method("POST")
        .path(path)
        .header("cookie", &p.cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form_body(&all))
        .reply(&f.routes)
        .await
}

#[tokio::test]
async fn only_admins_get_the_admin_app() {
    let f = fixture();
    let sam = f.login_agent(SAM.0, SAM.1).await;
    for (method, path) in [
        ("GET", "/api/admin/settings"),
        ("PUT", "/api/admin/settings"),
        ("GET", "/api/admin/departments"),
        ("POST", "/api/admin/teams"),
        ("DELETE", "/api/admin/teams/1"),
        ("POST", "/api/admin/agents"),
        ("GET", "/api/admin/audit"),
        ("GET", "/api/admin/audit.jsonl"),
    ] {
        let r = send(&f, &sam, method, path, Some(json!({"name": "x"}))).await;
        assert_eq!(r.status(), 403, "{method} {path}: {}", body_text(&r));
        assert_eq!(body_json(&r)["error"], "not_admin", "{method} {path}");
    }
    let page = login_workspace(&f, SAM).await;
    let r = get_pane(&f, &page, "/agent/admin/teams", None).await;
    assert_eq!(r.status(), 403);
    assert!(body_text(&r).contains("not an admin"), "{}", body_text(&r));
    let r = form_post(&f, &page, "/agent/admin/teams", &[("op", "create"), ("name", "Sneaky")]).await;
    assert_eq!(r.status(), 403);
    assert!(f.hd.teams().unwrap().iter().all(|t| t.name != "Sneaky"));
    // Sam's workspace has no Admin app; the admin's has.
    let r = get_pane(&f, &page, "/agent/filters/all", None).await;
    assert!(!body_text(&r).contains("app-admin"));
    let admin = login_workspace(&f, ADMIN).await;
    let r = get_pane(&f, &admin, "/agent/filters/all", None).await;
    assert!(body_text(&r).contains("id=\"app-admin\""));
    // Without a login: 401 for the API, the login page for screens.
    let r = warp::test::request().path("/api/admin/settings").reply(&f.routes).await;
    assert_eq!(r.status(), 401);
    let r = warp::test::request().path("/agent/admin").reply(&f.routes).await;
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/agent/login?next=/agent/admin");
}

#[tokio::test]
async fn the_admin_api_changes_the_helpdesk_and_audits_it() {
    let f = fixture();
    let s = f.login_agent(ADMIN.0, ADMIN.1).await;
    let r = send(&f, &s, "GET", "/api/admin/settings", None).await;
    insta::assert_json_snapshot!("settings", body_json(&r));

    // Bad input is refused with the reason and changes nothing.
    let mut bad = body_json(&r);
    bad["embed_origins"] = json!(["shop.example/page"]);
    let r = send(&f, &s, "PUT", "/api/admin/settings", Some(bad)).await;
    assert_eq!(r.status(), 422);
    assert_eq!(
        body_json(&r)["message"],
        "setting embed_origins: \"shop.example/page\": must start with https:// or http://"
    );
    let r = send(
        &f,
        &s,
        "PUT",
        "/api/admin/settings",
        Some(json!({"name": "Acme Care", "registration": "open"})),
    )
    .await;
    assert_eq!(r.status(), 200, "{}", body_text(&r));
    assert_eq!(f.hd.settings().unwrap().name, "Acme Care");

    // Departments and fields.
    let r = send(&f, &s, "POST", "/api/admin/departments", Some(json!({"name": "Billing"}))).await;
    assert_eq!(r.status(), 201, "{}", body_text(&r));
    let billing = body_json(&r)["id"].as_u64().unwrap();
    let r = send(&f, &s, "POST", "/api/admin/departments", Some(json!({"name": "billing"}))).await;
    assert_eq!((r.status().as_u16(), body_json(&r)["error"].clone()), (409, json!("taken")));
    let plan = json!({"key": "plan", "label": "Plan", "type": "choice", "options": ["free", "pro"], "required": true});
    let r = send(&f, &s, "POST", &format!("/api/admin/departments/{billing}/fields"), Some(plan)).await;
    assert_eq!(r.status(), 201, "{}", body_text(&r));
    let r = send(
        &f,
        &s,
        "PUT",
        &format!("/api/admin/departments/{billing}/fields/plan"),
        Some(json!({"key": "plan", "label": "Plan", "type": "text"})),
    )
    .await;
    assert_eq!(r.status(), 422);
    assert!(body_json(&r)["message"].as_str().unwrap().contains("type of a field cannot change"));
    let r = send(
        &f,
        &s,
        "POST",
        &format!("/api/admin/departments/{billing}/fields/plan/retire"),
        Some(json!({"retired": true})),
    )
    .await;
    assert_eq!(r.status(), 200);
    assert_eq!(body_json(&r)["fields"][0]["retired"], true);
    let r = send(&f, &s, "GET", "/api/admin/departments", None).await;
    let names: Vec<(String, u64)> = body_json(&r)
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["name"].as_str().unwrap().to_string(), d["tickets"].as_u64().unwrap()))
        .collect();
    insta::assert_debug_snapshot!("departments", names);
    // A department with tickets asks where they go.
    let r = send(&f, &s, "DELETE", "/api/admin/departments/1", None).await;
    assert_eq!(r.status(), 409);
    assert_eq!(body_json(&r)["error"], "in_use");

    // Teams.
    let r = send(&f, &s, "POST", "/api/admin/teams", Some(json!({"name": "Night shift"}))).await;
    let team = body_json(&r)["id"].as_u64().unwrap();
    let r = send(&f, &s, "PUT", &format!("/api/admin/teams/{team}/members"), Some(json!({"agents": [1, 2]})))
        .await;
    assert_eq!(r.status(), 200, "{}", body_text(&r));
    let r = send(&f, &s, "GET", "/api/admin/teams", None).await;
    let night = body_json(&r).as_array().unwrap().iter().find(|t| t["id"] == team).cloned().unwrap();
    assert_eq!(night["members"], json!([1, 2]));

    // An invitation mails a one-time link; following it sets the password and logs in.
    let r = send(
        &f,
        &s,
        "POST",
        "/api/admin/agents",
        Some(json!({"name": "Nia", "email": "nia@example.com", "teams": [team]})),
    )
    .await;
    assert_eq!(r.status(), 201, "{}", body_text(&r));
    let invited = body_json(&r);
    let url = invited["set_password_url"].as_str().unwrap().to_string();
    let mail = f.mailer.sent().into_iter().find(|m| m.to == "nia@example.com").expect("invitation mail");
    assert_eq!(mail.subject, "You are invited to Acme Care");
    assert!(mail.body.contains(&url));
    let path = url.strip_prefix("http://127.0.0.1:8080").unwrap();
    let r = warp::test::request().path(path).reply(&f.routes).await;
    assert_eq!(r.status(), 200);
    assert!(body_text(&r).contains("Welcome, Nia"));
    let token = path.split("token=").nth(1).unwrap();
    let set = |pw: &'static str, repeat: &'static str| {
        warp::test::request()
            .method("POST")
            .path("/agent/set-password")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form_body(&[("token", token), ("password", pw), ("repeat", repeat)]))
    };
    let r = set("nia's long secret", "another").reply(&f.routes).await;
    assert_eq!(r.status(), 422);
    let r = set("short", "short").reply(&f.routes).await;
    assert_eq!(r.status(), 422);
    assert!(body_text(&r).contains("8 to 256 characters"), "{}", body_text(&r));
    let r = set("nia's long secret", "nia's long secret").reply(&f.routes).await;
    assert_eq!(r.status(), 303, "{}", body_text(&r));
    assert!(r.headers().get("set-cookie").is_some());
    let r = set("nia's long secret", "nia's long secret").reply(&f.routes).await;
    assert_eq!(r.status(), 410, "a link works once");
    let nia = f.login_agent("nia@example.com", "nia's long secret").await;

    // Deactivation ends her sessions and hands her tickets on.
    let nia_id = invited["agent"]["id"].as_u64().unwrap();
    let r = send(
        &f,
        &s,
        "POST",
        &format!("/api/admin/agents/{nia_id}/deactivate"),
        Some(json!({"reassign": {"to": "unassign"}})),
    )
    .await;
    assert_eq!(r.status(), 200, "{}", body_text(&r));
    let r = f.get(&nia, "/api/agent/me").await;
    assert_eq!(r.status(), 401, "logged out at once");
    // The last admin stays.
    let r =
        send(&f, &s, "POST", "/api/admin/agents/1/deactivate", Some(json!({"reassign": {"to": "leave"}})))
            .await;
    assert_eq!((r.status().as_u16(), body_json(&r)["error"].clone()), (409, json!("in_use")));

    // Usergroups and organisations.
    let r = send(
        &f,
        &s,
        "POST",
        "/api/admin/usergroups",
        Some(json!({"name": "Partners", "portal": {"organisation_tickets": true}})),
    )
    .await;
    assert_eq!(r.status(), 201, "{}", body_text(&r));
    assert_eq!(
        body_json(&r)["portal"],
        json!({"submit_departments": null, "organisation_tickets": true, "cc_others": true})
    );
    let r = send(
        &f,
        &s,
        "POST",
        "/api/admin/organisations",
        Some(json!({"name": "Globex", "email_domains": ["globex.example"]})),
    )
    .await;
    assert_eq!(r.status(), 201, "{}", body_text(&r));

    // Unknown routes and methods.
    let r = send(&f, &s, "PATCH", "/api/admin/teams", None).await;
    assert_eq!(r.status(), 405);
    let r = send(&f, &s, "GET", "/api/admin/nothing", None).await;
    assert_eq!(r.status(), 404);

    // The audit log: every change, with who and from where.
    let r = send(&f, &s, "GET", "/api/admin/audit?limit=100", None).await;
    let log = body_json(&r);
    let lines: Vec<String> = log
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .map(|e| {
            format!(
                "{} | {} | {}",
                e["action"].as_str().unwrap(),
                e["target"].as_str().unwrap(),
                e["summary"].as_str().unwrap()
            )
        })
        .collect();
    insta::assert_snapshot!("audit", lines.join("\n"));
    let r = send(&f, &s, "GET", "/api/admin/audit?action=department&limit=2", None).await;
    assert_eq!(body_json(&r).as_array().unwrap().len(), 2);
    let r = send(&f, &s, "GET", "/api/admin/audit.jsonl?action=team", None).await;
    assert_eq!(r.headers()["content-type"], "application/x-ndjson; charset=utf-8");
    let text = body_text(&r);
    assert_eq!(text.lines().count(), 2);
    for line in text.lines() {
        let e: Value = serde_json::from_str(line).unwrap();
        assert!(e["action"].as_str().unwrap().starts_with("team."));
    }
}

#[tokio::test]
async fn admin_screens_change_things_by_form_and_keep_what_was_typed() {
    let f = fixture();
    let p = login_workspace(&f, ADMIN).await;
    for path in [
        "/agent/admin",
        "/agent/admin/settings",
        "/agent/admin/departments",
        "/agent/admin/departments/1",
        "/agent/admin/teams",
        "/agent/admin/teams/1",
        "/agent/admin/agents",
        "/agent/admin/agents/2",
        "/agent/admin/usergroups",
        "/agent/admin/organisations",
        "/agent/admin/organisations/1",
        "/agent/admin/audit",
    ] {
        let r = get_pane(&f, &p, path, None).await;
        assert_eq!(r.status(), 200, "{path}: {}", body_text(&r));
        assert!(body_text(&r).contains("aria-label=\"Admin\""), "{path}");
    }
    // The content pane alone, for htmx.
    let r = get_pane(&f, &p, "/agent/admin/teams", Some("content")).await;
    assert!(body_text(&r).starts_with("<main class=\"content\" id=\"content\""), "{}", body_text(&r));

    let r = form_post(&f, &p, "/agent/admin/departments", &[("op", "create"), ("name", "Returns")]).await;
    assert_eq!(r.status(), 303, "{}", body_text(&r));
    let to = r.headers()["location"].to_str().unwrap().to_string();
    assert!(to.starts_with("/agent/admin/departments/") && to.ends_with("?done=created"), "{to}");
    let r = get_pane(&f, &p, &to, None).await;
    assert!(body_text(&r).contains("Created."));
    // A refused change shows why next to its form and keeps what was typed.
    let r = form_post(&f, &p, "/agent/admin/departments", &[("op", "create"), ("name", "returns")]).await;
    assert_eq!(r.status(), 409);
    let html = body_text(&r);
    assert!(html.contains("id=\"err-create\""), "{html}");
    assert!(html.contains("a department named &quot;returns&quot; already exists"), "{html}");
    assert!(html.contains("value=\"returns\""));
    // A field, then a bad one.
    let dept = to.trim_end_matches("?done=created").to_string();
    let r = form_post(
        &f,
        &p,
        &dept,
        &[
            ("op", "add_field"),
            ("label", "Order number"),
            ("key", "order_no"),
            ("kind", "text"),
            ("required", "on"),
        ],
    )
    .await;
    assert_eq!(r.status(), 303, "{}", body_text(&r));
    let r = form_post(
        &f,
        &p,
        &dept,
        &[("op", "add_field"), ("label", "Reason"), ("key", "Bad Key"), ("kind", "text")],
    )
    .await;
    assert_eq!(r.status(), 422);
    assert!(body_text(&r).contains("invalid field key"));
    let id: u64 = dept.rsplit('/').next().unwrap().parse().unwrap();
    let (cookie, _) = f.login_user(helpdesk_web::demo::USER.0, helpdesk_web::demo::USER.1).await;
    let (page, _) = f.portal_visit(&format!("/portal/tickets/new?department={id}"), Some(&cookie)).await;
    assert!(body_text(&page).contains("field_order_no"));
    let r = form_post(&f, &p, &dept, &[("op", "field"), ("key", "order_no"), ("do", "retire")]).await;
    assert_eq!(r.status(), 303);
    assert!(f.hd.department(helpdesk_core::DepartmentId(id)).unwrap().fields[0].retired);
    // A retired field is no longer asked for in the portal.
    let (cookie, _) = f.login_user(helpdesk_web::demo::USER.0, helpdesk_web::demo::USER.1).await;
    let (page, _) = f.portal_visit(&format!("/portal/tickets/new?department={id}"), Some(&cookie)).await;
    assert!(body_text(&page).contains("Department: <strong>Returns</strong>"), "{}", body_text(&page));
    assert!(!body_text(&page).contains("field_order_no"));

    // Settings by form.
    let r = form_post(
        &f,
        &p,
        "/agent/admin/settings",
        &[
            ("op", "settings"),
            ("name", "Acme Care"),
            ("public_url", ""),
            ("portal_enabled", "on"),
            ("registration", "invite_only"),
            ("embed_origins", "https://www.acme.example\r\n"),
            ("session_idle_minutes", "60"),
            ("password_min_length", "10"),
            ("password_min_strength", "3"),
            ("attachment_max_file_mb", "5"),
            ("attachment_max_message_mb", "20"),
        ],
    )
    .await;
    assert_eq!(r.status(), 303, "{}", body_text(&r));
    let s = f.hd.settings().unwrap();
    assert_eq!(
        (s.name.as_str(), s.session_idle_minutes, s.embed_origins.len(), s.password_min_strength),
        ("Acme Care", 60, 1, 3)
    );
    assert_eq!((s.file_limits().max_file_bytes, s.attachment_max_message_mb), (5 << 20, 20));
    // The top bar says the new name.
    let r = get_pane(&f, &p, "/agent/admin/settings?done=saved", None).await;
    assert!(body_text(&r).contains(">Acme Care</a>"));
    assert!(body_text(&r).contains("Saved."));

    // Invite by form: the link is shown in case the mail does not arrive.
    let r = form_post(
        &f,
        &p,
        "/agent/admin/agents",
        &[
            ("op", "invite"),
            ("name", "Omar"),
            ("email", "omar@example.com"),
            ("departments", "some"),
            ("department", "1"),
            ("may_reassign", "on"),
        ],
    )
    .await;
    assert_eq!(r.status(), 201, "{}", body_text(&r));
    assert!(body_text(&r).contains("/agent/set-password?token="));
    let omar = f.hd.agent_by_email("omar@example.com").unwrap().unwrap();
    assert_eq!(omar.permissions.departments, Some([helpdesk_core::DepartmentId(1)].into()));

    // The audit screen lists it all, filterable.
    let r = get_pane(&f, &p, "/agent/admin/audit?action=agent", None).await;
    let html = body_text(&r);
    assert!(html.contains("Invited agent Omar &lt;omar@example.com&gt;"), "{html}");
    assert!(!html.contains("Created department Returns"));
}

/// An app over an empty helpdesk (no demo data).
fn empty_fixture() -> Fixture {
    let clock = Arc::new(ManualClock::default());
    let hd = Helpdesk::builder().clock(clock.clone()).in_memory();
    let mailer = Arc::new(MemoryMailer::default());
    let config = Config { login_per_minute: 1000, ..Config::default() };
    let app = App::with_mailer(hd.clone(), config, mailer.clone());
    let routes = helpdesk_web::routes(app.clone());
    Fixture { app, hd, clock, mailer, routes }
}

#[tokio::test]
async fn first_run_setup_makes_the_first_admin_once() {
    let f = empty_fixture();
    let r = warp::test::request().path("/agent/login").reply(&f.routes).await;
    assert_eq!((r.status().as_u16(), r.headers()["location"].to_str().unwrap()), (303, "/setup"));
    let r = warp::test::request().path("/setup").reply(&f.routes).await;
    assert_eq!(r.status(), 200);
    assert!(body_text(&r).contains("Setup token"));
    let token = f.app.setup_token().to_string();
    let setup = |token: &str, repeat: &str| {
        warp::test::request()
            .method("POST")
            .path("/setup")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form_body(&[
                ("token", token),
                ("helpdesk_name", "Acme Support"),
                ("public_url", "https://help.acme.example/"),
                ("department", "Support"),
                ("admin_name", "Alice"),
                ("admin_email", "alice@acme.example"),
                ("admin_password", "alice's long secret"),
                ("repeat", repeat),
            ]))
    };
    let r = setup("not-the-token", "alice's long secret").reply(&f.routes).await;
    assert_eq!(r.status(), 403);
    assert!(body_text(&r).contains("not the token the server printed"));
    assert!(body_text(&r).contains("value=\"Acme Support\""), "what was typed stays");
    assert!(
        !body_text(&r).contains("alice&#39;s long secret") && !body_text(&r).contains("alice's long secret")
    );
    let r = setup(&token, "different").reply(&f.routes).await;
    assert_eq!(r.status(), 422);
    assert!(f.hd.needs_setup().unwrap(), "nothing was made");
    let r = setup(&token, "alice's long secret").reply(&f.routes).await;
    assert_eq!(r.status(), 303, "{}", body_text(&r));
    assert_eq!(r.headers()["location"], "/agent/admin/settings?done=setup");
    let cookie = r.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_string();
    let r = warp::test::request()
        .path("/agent/admin/settings?done=setup")
        .header("cookie", &cookie)
        .reply(&f.routes)
        .await;
    assert_eq!(r.status(), 200);
    let html = body_text(&r);
    assert!(html.contains("value=\"Acme Support\""));
    // The setup turned the default urgency rise on; Settings shows it.
    assert!(
        html.contains("“Urgency rises while awaiting agent” is <strong>on</strong>: first after 4h"),
        "{html}"
    );
    assert_eq!(f.hd.settings().unwrap().public_url.as_deref(), Some("https://help.acme.example"));
    // Once set up, the page is gone and a second setup is refused.
    let r = warp::test::request().path("/setup").reply(&f.routes).await;
    assert!(body_text(&r).contains("This helpdesk is set up"));
    let r = setup(&token, "alice's long secret").reply(&f.routes).await;
    assert_eq!(r.status(), 409);
    let r = warp::test::request().path("/agent/login").reply(&f.routes).await;
    assert_eq!(r.status(), 200);
    let log = f.hd.audit(&Default::default(), None, 10).unwrap();
    assert_eq!(log.last().unwrap().action, "setup.complete");
    assert!(log.last().unwrap().source.is_some(), "the setup names where it came from");
    // Removed in Rules, the rise can be turned on again from Settings.
    let alice = f.hd.agent_by_email("alice@acme.example").unwrap().unwrap().id;
    let admin = f.hd.admin(alice).unwrap();
    admin
        .delete_rule(helpdesk_core::admin::RuleKind::Escalation, "Urgency rises while awaiting agent")
        .unwrap();
    let r =
        warp::test::request().path("/agent/admin/settings").header("cookie", &cookie).reply(&f.routes).await;
    let html = body_text(&r);
    assert!(html.contains("Off: tickets awaiting an agent keep their urgency"), "{html}");
    let csrf = csrf_of(&html);
    let r = warp::test::request()
        .method("POST")
        .path("/agent/admin/settings")
        .header("cookie", &cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form_body(&[("csrf", &csrf), ("op", "install_rise")]))
        .reply(&f.routes)
        .await;
    assert_eq!(r.status(), 303, "{}", body_text(&r));
    assert_eq!(f.hd.escalations().unwrap().len(), 1);
}

#[tokio::test]
async fn settings_take_effect_at_once() {
    let f = fixture();
    let s = f.login_agent(ADMIN.0, ADMIN.1).await;
    let put = |v: Value| send(&f, &s, "PUT", "/api/admin/settings", Some(v));
    // Registration closed: no register link, and posting is refused.
    let r = put(json!({"registration": "invite_only"})).await;
    assert_eq!(r.status(), 200);
    let (page, cookie) = f.portal_visit("/portal/login", None).await;
    assert!(!body_text(&page).contains("/portal/register"));
    let csrf = csrf_of(&body_text(&page));
    let zed =
        [("name", "Zed"), ("email", "zed@example.com"), ("password", "zed's long secret"), ("csrf", &csrf)];
    let r = f.portal_post(&cookie, "/portal/register", &zed).await;
    assert_eq!(r.status(), 403);
    assert!(f.hd.user_by_email("zed@example.com").unwrap().is_none());
    // Open registration: the account works at once.
    put(json!({"registration": "open"})).await;
    let r = f.portal_post(&cookie, "/portal/register", &zed).await;
    assert_eq!(r.status(), 200, "{}", body_text(&r));
    assert!(f.hd.user_by_email("zed@example.com").unwrap().unwrap().validated);
    f.login_user("zed@example.com", "zed's long secret").await;
    // The portal closed.
    put(json!({"portal_enabled": false})).await;
    let (r, _) = f.portal_visit("/", None).await;
    assert_eq!(r.status(), 404);
    assert!(body_text(&r).contains("The portal is closed"));
    // Embed origins from the settings.
    put(json!({"embed_origins": ["https://www.acme.example"]})).await;
    let embed = |origin: &'static str| {
        warp::test::request().method("POST").path("/api/embed/tickets").header("origin", origin).json(&json!({
            "name": "Visitor", "email": "visitor@shop.example", "subject": "Hello", "message": "Hi there.", "elapsed_ms": 5000
        }))
    };
    let r = embed("http://shop.example").reply(&f.routes).await;
    assert_eq!(r.status(), 403);
    assert!(r.headers().get("access-control-allow-origin").is_none());
    let r = embed("https://www.acme.example").reply(&f.routes).await;
    assert_eq!(r.status(), 201, "{}", body_text(&r));
    assert_eq!(r.headers()["access-control-allow-origin"], "https://www.acme.example");
    // Shorter sessions: the cookie says so.
    put(json!({"session_idle_minutes": 15})).await;
    let r = warp::test::request()
        .method("POST")
        .path("/api/agent/login")
        .json(&json!({"email": SAM.0, "password": SAM.1}))
        .reply(&f.routes)
        .await;
    assert!(r.headers()["set-cookie"].to_str().unwrap().contains("Max-Age=900"));
}

#[tokio::test]
async fn rules_by_api_and_by_screen_with_dry_runs() {
    let f = fixture();
    let s = f.login_agent(ADMIN.0, ADMIN.1).await;
    let before = f.hd.rule_file().unwrap();
    let vip = json!({
        "name": "Urgent subjects",
        "on": ["new_ticket"],
        "all": [{"field": "ticket.subject", "op": "contains", "value": "urgent"}],
        "actions": [{"action": "raise_urgency", "by": 2}]
    });
    // Refused with the engine's words; nothing stored.
    let mut bad = vip.clone();
    bad["all"][0]["field"] = json!("ticket.colour");
    let r = send(&f, &s, "POST", "/api/admin/rules/trigger", Some(bad)).await;
    assert_eq!(r.status(), 422);
    assert_eq!(
        body_json(&r)["message"],
        "trigger \"Urgent subjects\": all condition 1: unknown field \"ticket.colour\" (fields start with ticket., actor., user. or organisation.)"
    );
    assert_eq!(f.hd.rule_file().unwrap(), before);
    // A dry run of the unsaved rule on the newest tickets changes nothing.
    let versions: Vec<u64> =
        (1..=5).filter_map(|i| f.hd.ticket(helpdesk_core::TicketId(i)).ok()).map(|t| t.version).collect();
    let r = send(
        &f,
        &s,
        "POST",
        "/api/admin/dry-run",
        Some(json!({"kind": "trigger", "rule": vip, "on": {"last": 5}})),
    )
    .await;
    assert_eq!(r.status(), 200, "{}", body_text(&r));
    let runs = body_json(&r);
    let runs = runs.as_array().unwrap();
    assert!((1..=5).contains(&runs.len()), "{runs:?}");
    assert!(runs.iter().all(|r| r["trace"]["conditions"].as_array().unwrap().len() == 1));
    let after: Vec<u64> =
        (1..=5).filter_map(|i| f.hd.ticket(helpdesk_core::TicketId(i)).ok()).map(|t| t.version).collect();
    assert_eq!(versions, after, "a dry run changes nothing");
    // Saved, renamed through PUT, turned off, listed, exported, removed.
    let r = send(&f, &s, "POST", "/api/admin/rules/trigger", Some(vip.clone())).await;
    assert_eq!(r.status(), 201, "{}", body_text(&r));
    let r = send(&f, &s, "POST", "/api/admin/rules/trigger", Some(vip.clone())).await;
    assert_eq!((r.status().as_u16(), body_json(&r)["error"].clone()), (409, json!("taken")));
    let mut renamed = vip.clone();
    renamed["name"] = json!("Urgent / hot");
    let r = send(&f, &s, "PUT", "/api/admin/rules/trigger/Urgent%20subjects", Some(renamed)).await;
    assert_eq!(r.status(), 200, "{}", body_text(&r));
    let r = send(
        &f,
        &s,
        "POST",
        "/api/admin/rules/trigger/Urgent%20%2F%20hot/enabled",
        Some(json!({"enabled": false})),
    )
    .await;
    assert_eq!((r.status().as_u16(), body_json(&r)["enabled"].clone()), (200, json!(false)));
    let r = send(&f, &s, "GET", "/api/admin/rules", None).await;
    assert!(body_json(&r)["triggers"].as_array().unwrap().iter().any(|t| t["name"] == "Urgent / hot"));
    let r = send(&f, &s, "GET", "/api/admin/rules.toml", None).await;
    assert!(body_text(&r).contains("[[triggers]]\nname = \"Urgent / hot\""), "{}", body_text(&r));
    let back = helpdesk_core::RuleFile::from_toml(&body_text(&r)).unwrap();
    assert_eq!(back, f.hd.rule_file().unwrap(), "the export reads back as the same rules");
    let r = send(&f, &s, "GET", "/api/admin/rules/trigger/Nope", None).await;
    assert_eq!(r.status(), 404);
    // Import: all or nothing.
    let import = |text: &str, q: &str| {
        warp::test::request()
            .method("POST")
            .path(&format!("/api/admin/rules{q}"))
            .header("cookie", &s.cookie)
            .header("x-csrf-token", &s.csrf)
            .header("content-type", "application/toml")
            .body(text)
    };
    let r = import("[[triggers]]\nname = \"A\"\non = [\"new_ticket\"]\nactions = []\n", "")
        .reply(&f.routes)
        .await;
    assert_eq!(r.status(), 422, "{}", body_text(&r));
    assert!(body_text(&r).contains("has no actions"));
    let r = import("[[triggers]]\nname = \"Tag\"\non = [\"new_ticket\"]\nactions = [{ action = \"add_label\", label = \"new\" }]\n", "").reply(&f.routes).await;
    assert_eq!((r.status().as_u16(), body_json(&r)["added"].clone()), (200, json!(1)), "{}", body_text(&r));
    let r = send(&f, &s, "PUT", "/api/admin/rules/trigger", Some(json!({"names": ["Tag"]}))).await;
    assert_eq!(r.status(), 422, "every trigger must be named: {}", body_text(&r));
    let r = send(&f, &s, "DELETE", "/api/admin/rules/trigger/Tag", None).await;
    assert_eq!(r.status(), 200);
    let log =
        f.hd.audit(
            &helpdesk_core::admin::AuditQuery { action: Some("rule.".into()), ..Default::default() },
            None,
            50,
        )
        .unwrap();
    let actions: Vec<&str> = log.iter().rev().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, ["rule.create", "rule.update", "rule.disable", "rule.import", "rule.delete"]);

    // The screens: the list, the form with a refused row marked and what was
    // typed kept, a dry run from the form, saving, the text editor.
    let page = login_workspace(&f, ADMIN).await;
    let r = get_pane(&f, &page, "/agent/admin/rules", None).await;
    assert_eq!(r.status(), 200);
    let html = body_text(&r);
    assert!(html.contains("Urgent / hot") && html.contains("Turn on"), "{html}");
    let r = get_pane(&f, &page, "/agent/admin/rules/trigger/Urgent%20%2F%20hot", None).await;
    assert_eq!(r.status(), 200);
    assert!(body_text(&r).contains("value=\"ticket.subject\""));
    let form = [
        ("name", "Billing words"),
        ("order", "30"),
        ("enabled", "on"),
        ("on", "new_ticket"),
        ("c0_list", "all"),
        ("c0_field", "ticket.subject"),
        ("c0_op", "contains"),
        ("c0_value", "invoice"),
        ("c1_list", "all"),
        ("c1_field", ""),
        ("c1_op", "is"),
        ("c1_value", ""),
        ("c2_list", "all"),
        ("c2_field", "ticket.department"),
        ("c2_op", "greater_than"),
        ("c2_value", "Support"),
        ("a0_action", "add_label"),
        ("a0_value", "billing"),
        ("a0_extra", ""),
        ("dry_tickets", ""),
        ("dry_last", "3"),
    ];
    let post = |op: &'static str| {
        let mut all: Vec<(&str, &str)> = form.to_vec();
        all.push(("op", op));
        all
    };
    let r = form_post(&f, &page, "/agent/admin/rules/new/trigger", &post("save")).await;
    assert_eq!(r.status(), 422);
    let html = body_text(&r);
    // The engine's "all condition 2" is the third row: the second is empty.
    let marked = html.split("class=\"rule-row bad\"").nth(1).expect("a marked row");
    assert!(marked.split("</div>").next().unwrap().contains("value=\"ticket.department\""), "{html}");
    assert!(html.contains("operator greater_than does not fit ticket.department"), "{html}");
    assert!(html.contains("value=\"invoice\""), "what was typed is kept");
    let mut good: Vec<(&str, &str)> = form.iter().filter(|(k, _)| !k.starts_with("c2_")).copied().collect();
    good.push(("op", "dry_run"));
    let r = form_post(&f, &page, "/agent/admin/rules/new/trigger", &good).await;
    assert_eq!(r.status(), 200, "{}", body_text(&r));
    let html = body_text(&r);
    assert!(html.contains("id=\"dry-run\"") && html.contains(" tickets. Nothing was changed."), "{html}");
    good.pop();
    good.push(("op", "save"));
    let r = form_post(&f, &page, "/agent/admin/rules/new/trigger", &good).await;
    assert_eq!(r.status(), 303, "{}", body_text(&r));
    assert_eq!(r.headers()["location"], "/agent/admin/rules/trigger/Billing%20words?done=created");
    let saved = f.hd.rule(helpdesk_core::admin::RuleKind::Trigger, "Billing words").unwrap();
    assert_eq!(saved.order(), 30);
    let r = get_pane(&f, &page, "/agent/admin/rules/trigger/Billing%20words?as=text", None).await;
    let html = body_text(&r);
    assert!(html.contains("name = &quot;Billing words&quot;"), "{html}");
    let r = form_post(
        &f,
        &page,
        "/agent/admin/rules/trigger/Billing%20words",
        &[
            ("op", "save_text"),
            ("format", "toml"),
            ("text", "name = \"Billing words\"\non = [\"nothing\"]\nactions = [{ action = \"stop\" }]"),
        ],
    )
    .await;
    assert_eq!(r.status(), 422);
    assert!(body_text(&r).contains("unknown event"), "{}", body_text(&r));
    assert_eq!(f.hd.rule(helpdesk_core::admin::RuleKind::Trigger, "Billing words").unwrap(), saved);
    let r = form_post(&f, &page, "/agent/admin/rules/trigger/Billing%20words", &[("op", "remove")]).await;
    assert_eq!(r.status(), 303);
    assert!(f.hd.rule(helpdesk_core::admin::RuleKind::Trigger, "Billing words").is_err());
}

#[tokio::test]
async fn users_and_email_accounts_by_api_and_by_screen() {
    use helpdesk_core::*;
    let f = fixture();
    let s = f.login_agent(ADMIN.0, ADMIN.1).await;
    let sam = f.login_agent(SAM.0, SAM.1).await;
    for path in ["/api/admin/users?q=ann", "/api/admin/email-accounts", "/api/admin/mail-settings"] {
        assert_eq!(send(&f, &sam, "GET", path, None).await.status(), 403, "{path}");
    }
    let ann = f.hd.user_by_email("ann@acme.example").unwrap().unwrap();
    let r = send(&f, &s, "GET", "/api/admin/users?q=ANN", None).await;
    assert_eq!(r.status(), 200);
    assert!(body_json(&r).as_array().unwrap().iter().any(|u| u["id"] == ann.id.0), "{}", body_text(&r));

    // Ann wrote once from home: an admin merges that user into her (API).
    let home = f.hd.create_user(NewUser::new("Ann (home)", "ann@home.example")).unwrap();
    let support = f.hd.departments().unwrap()[0].id;
    let t =
        f.hd.create_ticket(
            &Actor::User(home.id),
            NewTicket::new("From home", "hi", support, home.id, Channel::Email),
        )
        .unwrap();
    let r = send(
        &f,
        &s,
        "POST",
        &format!("/api/admin/users/{}/merge", ann.id.0),
        Some(json!({"merge": home.id})),
    )
    .await;
    assert_eq!(r.status(), 200, "{}", body_text(&r));
    assert_eq!(body_json(&r)["tickets_moved"], 1);
    assert_eq!(f.hd.ticket(t.id).unwrap().user, ann.id);
    let r = send(
        &f,
        &s,
        "POST",
        &format!(
            "/api/admin/users/{}/merge",
            f.hd.user_by_email("bob@builder.example").unwrap().unwrap().id.0
        ),
        Some(json!({"merge": home.id})),
    )
    .await;
    assert_eq!(r.status(), 422, "{}", body_text(&r));
    assert!(body_text(&r).contains("was merged into Ann Acme"), "{}", body_text(&r));

    // The screens: the list, a refused edit keeps what was typed, a saved edit.
    let page = login_workspace(&f, ADMIN).await;
    let r = get_pane(&f, &page, "/agent/admin/users?q=home.example", None).await;
    assert_eq!(r.status(), 200);
    assert!(body_text(&r).contains("Ann Acme"), "{}", body_text(&r));
    let here = format!("/agent/admin/users/{}", ann.id.0);
    let edit = |emails: &'static str| {
        vec![
            ("op", "update"),
            ("name", "Ann Acme-Smith"),
            ("emails", emails),
            ("phone", ""),
            ("organisation", ""),
        ]
    };
    let r = form_post(&f, &page, &here, &edit("ann@acme.example\nbob@builder.example")).await;
    assert_eq!(r.status(), 409, "{}", body_text(&r));
    let html = body_text(&r);
    assert!(
        html.contains("already belongs to user Bob Builder") && html.contains("Ann Acme-Smith"),
        "{html}"
    );
    let r = form_post(&f, &page, &here, &edit("ann@acme.example\nann@home.example\nann@work.example")).await;
    assert_eq!(r.status(), 303, "{}", body_text(&r));
    assert_eq!(f.hd.user_by_email("ann@work.example").unwrap().unwrap().name, "Ann Acme-Smith");

    // Merging from the screen asks first (it cannot be undone), then merges.
    let work = f.hd.create_user(NewUser::new("Ann at work", "ann@office.example")).unwrap();
    let r = form_post(&f, &page, &here, &[("op", "merge"), ("merge_email", "ann@office.example")]).await;
    assert_eq!(r.status(), 200, "{}", body_text(&r));
    let html = body_text(&r);
    assert!(
        html.contains("Merge Ann at work &lt;ann@office.example&gt; into Ann Acme-Smith?")
            && html.contains("This cannot be undone."),
        "{html}"
    );
    assert!(f.hd.user(work.id).unwrap().id == work.id, "nothing merged yet");
    let id = work.id.0.to_string();
    let r = form_post(&f, &page, &here, &[("op", "merge_confirmed"), ("merge_id", &id)]).await;
    assert_eq!(r.status(), 303, "{}", body_text(&r));
    assert_eq!(f.hd.user(work.id).unwrap().id, ann.id);

    // Blocking ends her portal session, and marks her tickets as spam.
    let (cookie, _) = f.login_user("ann@acme.example", "user-password").await;
    let r = form_post(&f, &page, &here, &[("op", "block"), ("spam", "on")]).await;
    assert_eq!(r.status(), 303, "{}", body_text(&r));
    assert_eq!(f.hd.ticket(t.id).unwrap().status, Status::Spam);
    let (r, _) = f.portal_visit("/portal/tickets", Some(&cookie)).await;
    assert_ne!(r.status(), 200, "the blocked user's session ended");
    assert!(f.hd.verify_user_password("ann@acme.example", "user-password").unwrap().is_none());
    let r = get_pane(&f, &page, &here, None).await;
    assert!(body_text(&r).contains("Blocked: their mail is ignored"), "{}", body_text(&r));
    let r = form_post(&f, &page, &here, &[("op", "unblock")]).await;
    assert_eq!(r.status(), 303);
    assert!(!f.hd.user(ann.id).unwrap().blocked);

    // Email accounts: added with a relay of its own (the password is stored,
    // never shown), a test mail shows the relay's answer, settings, removal.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let port = closed.to_string();
    let account = [
        ("op", "create"),
        ("address", "sales@example.com"),
        ("name", "Example Sales"),
        ("department", "1"),
        ("inbound_http", "on"),
        ("own_relay", "on"),
        ("relay_host", "127.0.0.1"),
        ("relay_port", port.as_str()),
        ("security", "none"),
        ("relay_username", "sales"),
        ("relay_password", "hunter2-relay"),
    ];
    let mut bad = account.to_vec();
    bad[1] = ("address", "ann@acme.example");
    let r = form_post(&f, &page, "/agent/admin/email", &bad).await;
    assert_eq!(r.status(), 409, "{}", body_text(&r));
    assert!(body_text(&r).contains("value=\"Example Sales\""), "what was typed is kept");
    let r = form_post(&f, &page, "/agent/admin/email", &account).await;
    assert_eq!(r.status(), 303, "{}", body_text(&r));
    let id = f.hd.email_account_by_address("sales@example.com").unwrap().unwrap().id;
    let screen = format!("/agent/admin/email/{}", id.0);
    let r = get_pane(&f, &page, &screen, None).await;
    let html = body_text(&r);
    assert!(html.contains("stored: leave empty to keep it") && !html.contains("hunter2"), "{html}");
    let r = send(&f, &s, "GET", &format!("/api/admin/email-accounts/{}", id.0), None).await;
    let v = body_json(&r);
    assert_eq!((v["relay_password_set"].clone(), v["inbound"]["smtp"].clone()), (json!(true), json!(false)));
    assert!(!body_text(&r).contains("hunter2"));
    let r = form_post(&f, &page, &screen, &[("op", "test"), ("to", "admin@example.com")]).await;
    assert_eq!(r.status(), 200);
    let html = body_text(&r);
    assert!(
        html.contains("The mail was not sent.")
            && html.contains(&format!("127.0.0.1:{closed} (plain) as sales")),
        "{html}"
    );
    let r = send(
        &f,
        &s,
        "POST",
        &format!("/api/admin/email-accounts/{}/test", id.0),
        Some(json!({"to": "nobody"})),
    )
    .await;
    assert_eq!(r.status(), 422);
    let r = form_post(
        &f,
        &page,
        "/agent/admin/email",
        &[
            ("op", "mail_settings"),
            ("auto_max", "2"),
            ("auto_minutes", "0"),
            ("auto_replies", "take_in"),
            ("message_id_domain", ""),
        ],
    )
    .await;
    assert_eq!(r.status(), 422, "{}", body_text(&r));
    assert!(body_text(&r).contains("between 1 minute and 7 days"));
    let r = send(
        &f,
        &s,
        "PUT",
        "/api/admin/mail-settings",
        Some(json!({"auto_responses": {"max": 2, "per_seconds": 600}, "auto_replies": "take_in", "message_id_domain": "mail.example.com"})),
    )
    .await;
    assert_eq!(r.status(), 200, "{}", body_text(&r));
    assert!(body_json(&r).get("secret").is_none());
    assert_eq!(f.hd.mail_settings().unwrap().auto_responses.per_seconds, 600);
    let r = form_post(&f, &page, &screen, &[("op", "remove")]).await;
    assert_eq!(r.status(), 303);
    assert!(f.hd.email_account_by_address("sales@example.com").unwrap().is_none());

    let log = f.hd.audit(&Default::default(), None, 50).unwrap();
    let actions: Vec<&str> =
        log.iter().rev().map(|e| e.action.as_str()).filter(|a| !a.starts_with("agent.login")).collect();
    assert_eq!(
        actions,
        [
            "user.merge",
            "user.update",
            "user.merge",
            "user.block",
            "user.unblock",
            "email_account.create",
            "email_account.test",
            "mail_settings.update",
            "email_account.remove"
        ]
    );
    assert!(!serde_json::to_string(&log).unwrap().contains("hunter2"));
}

#[tokio::test]
async fn labels_by_api_and_by_screen_and_offered_on_tickets() {
    use helpdesk_core::*;
    let f = fixture();
    let s = f.login_agent(ADMIN.0, ADMIN.1).await;
    let admin_id = f.hd.agent_by_email(ADMIN.0).unwrap().unwrap().id;
    f.hd.execute(TicketId(1), &Actor::Agent(admin_id), Command::AddLabel { label: "printer/hw".into() })
        .unwrap();
    let r = send(
        &f,
        &s,
        "POST",
        "/api/admin/labels",
        Some(json!({"name": "Printer/HW", "description": "Hardware faults"})),
    )
    .await;
    assert_eq!(r.status(), 201, "{}", body_text(&r));
    assert_eq!(
        (body_json(&r)["name"].clone(), body_json(&r)["tickets"].clone()),
        (json!("printer/hw"), json!(1))
    );
    let r = send(&f, &s, "POST", "/api/admin/labels", Some(json!({"name": "printer/hw"}))).await;
    assert_eq!(r.status(), 409);
    let r = send(&f, &s, "GET", "/api/admin/labels/printer%2Fhw", None).await;
    assert_eq!(r.status(), 200, "{}", body_text(&r));

    // Offered on a ticket that does not carry it yet.
    let page = login_workspace(&f, ADMIN).await;
    let r = get_pane(&f, &page, "/agent/tickets/2", None).await;
    let html = body_text(&r);
    assert!(
        html.contains("list=\"known-labels-2\"")
            && html.contains("<option value=\"printer/hw\">Hardware faults</option>"),
        "{html}"
    );

    // Renamed from the screen: the ticket carries the new name.
    let screen = "/agent/admin/labels/printer%2Fhw";
    let r = get_pane(&f, &page, screen, None).await;
    assert_eq!(r.status(), 200);
    assert!(body_text(&r).contains("1 tickets carry it"), "{}", body_text(&r));
    let r = form_post(&f, &page, screen, &[("op", "update"), ("name", " "), ("description", "x")]).await;
    assert_eq!(r.status(), 422, "{}", body_text(&r));
    let r = form_post(
        &f,
        &page,
        screen,
        &[("op", "update"), ("name", "hardware"), ("description", "Hardware faults")],
    )
    .await;
    assert_eq!(r.status(), 303, "{}", body_text(&r));
    assert_eq!(r.headers()["location"], "/agent/admin/labels/hardware?done=saved");
    assert!(f.hd.ticket(TicketId(1)).unwrap().labels.contains("hardware"));
    let r = send(&f, &s, "DELETE", "/api/admin/labels/hardware?from_tickets=true", None).await;
    assert_eq!((r.status().as_u16(), body_json(&r)["tickets_changed"].clone()), (200, json!(1)));
    assert!(f.hd.ticket(TicketId(1)).unwrap().labels.is_empty());
    let r = get_pane(&f, &page, "/agent/admin/labels", None).await;
    assert!(body_text(&r).contains("No labels defined yet."));
}

#[tokio::test]
async fn mail_templates_by_api_and_by_screen_in_each_persons_language() {
    let f = fixture();
    let s = f.login_agent(ADMIN.0, ADMIN.1).await;
    let r = send(&f, &s, "GET", "/api/admin/mail-templates", None).await;
    assert_eq!(r.status(), 200, "{}", body_text(&r));
    let all = body_json(&r);
    assert_eq!(
        (all["default_language"].clone(), all["templates"].as_array().unwrap().len()),
        (json!("en"), 16)
    );

    // Refused on save: an unknown placeholder (named, with what there is),
    // a syntax error (by line), a value used without testing for it.
    let put =
        |text: Value| send(&f, &s, "PUT", "/api/admin/mail-templates/user.email_validation/de", Some(text));
    let r = put(json!({"subject": "Bitte bestätigen", "body": "{{ link }} {{ ticket.subject }}"})).await;
    assert_eq!(r.status(), 422, "{}", body_text(&r));
    assert!(
        body_text(&r).contains("unknown placeholder ticket.subject (this mail has: helpdesk.name"),
        "{}",
        body_text(&r)
    );
    let r = put(json!({"subject": "Bitte bestätigen", "body": "Hallo\n{% if link %}"})).await;
    assert_eq!(r.status(), 422);
    assert!(body_json(&r)["message"].as_str().unwrap().starts_with("body, line 2"), "{}", body_text(&r));
    let r = put(json!({"subject": "Bitte bestätigen", "body": "{{ helpdesk.url.upper() }}"})).await;
    assert_eq!(r.status(), 422, "{}", body_text(&r));
    assert!(f.hd.mail_templates().unwrap().is_empty(), "nothing was written");
    let r = put(json!({
        "subject": "Bitte bestätigen Sie Ihre Adresse",
        "body": "Hallo {{ recipient.first_name }},\nbitte bestätigen Sie Ihre Adresse: {{ link }}\n"
    }))
    .await;
    assert_eq!(r.status(), 200, "{}", body_text(&r));
    assert_eq!(body_json(&r)["text"]["subject"], "Bitte bestätigen Sie Ihre Adresse");
    let audit = f.hd.audit(&Default::default(), None, 1).unwrap();
    assert_eq!(audit[0].action, "template.save");

    // A visitor whose browser prefers German registers: German mail, and
    // the user keeps the language.
    let (page, cookie) = f.portal_visit("/portal/register", None).await;
    let csrf = csrf_of(&body_text(&page));
    let r = warp::test::request()
        .method("POST")
        .path("/portal/register")
        .header("cookie", &cookie)
        .header("accept-language", "fr-FR, de-AT;q=0.8, en;q=0.5")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form_body(&[
            ("name", "Jonas Weber"),
            ("email", "jonas@example.de"),
            ("password", "jonas-password"),
            ("csrf", &csrf),
        ]))
        .reply(&f.routes)
        .await;
    assert_eq!(r.status(), 200, "{}", body_text(&r));
    let mail = f.mailer.sent().pop().expect("validation mail");
    assert_eq!(mail.subject, "Bitte bestätigen Sie Ihre Adresse");
    assert!(
        mail.body.starts_with("Hallo Jonas,\nbitte bestätigen Sie Ihre Adresse: http://"),
        "{}",
        mail.body
    );
    let jonas = f.hd.user_by_email("jonas@example.de").unwrap().unwrap();
    assert_eq!(jonas.language.as_ref().map(|l| l.as_str()), Some("de"));

    // The screens: the list, the editor with its placeholders, a preview
    // on a real ticket (and a refused one), saving, removing.
    let page = login_workspace(&f, ADMIN).await;
    let r = get_pane(&f, &page, "/agent/admin/templates", None).await;
    assert_eq!(r.status(), 200);
    let html = body_text(&r);
    assert!(html.contains("Agent invitation") && html.contains("Deutsch"), "{html}");
    let editor = "/agent/admin/templates/user.agent_reply/de";
    let r = get_pane(&f, &page, editor, None).await;
    let html = body_text(&r);
    assert!(html.contains("No text in Deutsch yet: mail in it uses the built-in English text"), "{html}");
    assert!(html.contains("<code>message.attachments</code>") && !html.contains("note.body"), "{html}");
    let text = [
        ("subject", "AW: {{ ticket.subject }}"),
        ("body", "{{ message.author }} schrieb:\n{{ message.body }}"),
    ];
    let mut form = vec![("op", "preview"), ("ticket", "1")];
    form.extend_from_slice(&text);
    let r = form_post(&f, &page, editor, &form).await;
    assert_eq!(r.status(), 422, "{}", body_text(&r));
    assert!(
        body_text(&r).contains("body, line 1: a value this mail may not have is used without testing for it"),
        "{}",
        body_text(&r)
    );
    let text = [
        ("subject", "AW: {{ ticket.subject }}"),
        ("body", "{% if message %}{{ message.author }} schrieb:\n{{ message.body }}{% endif %}"),
    ];
    let mut form = vec![("op", "preview"), ("ticket", "1")];
    form.extend_from_slice(&text);
    let r = form_post(&f, &page, editor, &form).await;
    assert_eq!(r.status(), 200, "{}", body_text(&r));
    let html = body_text(&r);
    let subject = f.hd.ticket(helpdesk_core::TicketId(1)).unwrap().subject;
    assert!(html.contains(&format!("AW: {subject} [#1]")), "the reference is added: {html}");
    assert!(html.contains("##- Please type your reply above this line -##"), "{html}");
    let mut form = vec![("op", "save")];
    form.extend_from_slice(&text);
    let r = form_post(&f, &page, editor, &form).await;
    assert_eq!(r.status(), 303, "{}", body_text(&r));
    assert_eq!(r.headers()["location"], "/agent/admin/templates/user.agent_reply/de?done=saved");
    let r = get_pane(&f, &page, editor, None).await;
    assert!(body_text(&r).contains("Your text is used for mail in this language."));
    let r = form_post(&f, &page, editor, &[("op", "remove")]).await;
    assert_eq!(r.status(), 303);
    let key = helpdesk_core::templates::TemplateKey::parse("user.agent_reply").unwrap();
    assert_eq!(
        f.hd.mail_template(&key, &helpdesk_core::templates::Language::parse("de").unwrap()).unwrap(),
        None
    );

    // The helpdesk's language decides for people without one: an
    // invitation in German.
    let r = send(&f, &s, "GET", "/api/admin/settings", None).await;
    let mut settings = body_json(&r);
    settings["language"] = json!("de");
    let r = send(&f, &s, "PUT", "/api/admin/settings", Some(settings)).await;
    assert_eq!(r.status(), 200, "{}", body_text(&r));
    let r = send(
        &f,
        &s,
        "PUT",
        "/api/admin/mail-templates/agent.invitation/de",
        Some(json!({"subject": "Einladung zu {{ helpdesk.name }}", "body": "{{ invited_by }} lädt Sie ein: {{ link }} ({{ days }} Tage)"})),
    )
    .await;
    assert_eq!(r.status(), 200, "{}", body_text(&r));
    let r =
        send(&f, &s, "POST", "/api/admin/agents", Some(json!({"name": "Lena", "email": "lena@example.com"})))
            .await;
    assert_eq!(r.status(), 201, "{}", body_text(&r));
    let mail = f.mailer.sent().into_iter().find(|m| m.to == "lena@example.com").expect("invitation");
    assert_eq!(mail.subject, "Einladung zu Helpdesk");
    assert!(mail.body.contains(" lädt Sie ein: http://") && mail.body.ends_with("(7 Tage)"), "{}", mail.body);

    // Custom templates: a rule may only name one that exists, and the last
    // text of one a rule names stays.
    let rule = |template: &str| {
        json!({"name": "VIP welcome", "on": ["new_ticket"],
               "actions": [{"action": "notify", "to": "user", "template": template}]})
    };
    let r = send(
        &f,
        &s,
        "PUT",
        "/api/admin/mail-templates/custom.vip/en",
        Some(json!({"subject": "Welcome, {{ user.first_name }}", "body": "{{ note }}"})),
    )
    .await;
    assert_eq!(r.status(), 422, "users' mail never reaches notes: {}", body_text(&r));
    let r = send(
        &f,
        &s,
        "PUT",
        "/api/admin/mail-templates/custom.vip/en",
        Some(json!({"subject": "Welcome, {{ user.first_name }}", "body": "A VIP line is open for you."})),
    )
    .await;
    assert_eq!(r.status(), 200, "{}", body_text(&r));
    let r = send(&f, &s, "POST", "/api/admin/rules/trigger", Some(rule("viq"))).await;
    assert_eq!(r.status(), 422, "{}", body_text(&r));
    assert!(body_text(&r).contains("template \\\"viq\\\", which does not exist"), "{}", body_text(&r));
    let r = send(&f, &s, "POST", "/api/admin/rules/trigger", Some(rule("vip"))).await;
    assert_eq!(r.status(), 201, "{}", body_text(&r));
    let r = send(&f, &s, "DELETE", "/api/admin/mail-templates/custom.vip/en", None).await;
    assert_eq!(r.status(), 409, "{}", body_text(&r));
    assert!(body_text(&r).contains("trigger \\\"VIP welcome\\\""), "{}", body_text(&r));
    let r = send(&f, &s, "GET", "/api/admin/mail-templates", None).await;
    let vip = body_json(&r)["templates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["key"] == "custom.vip")
        .cloned()
        .unwrap();
    assert_eq!(vip["used_by"], json!(["trigger \"VIP welcome\""]));
}
