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

/// People data (finding 5): an agent without the people permission sees
/// only the users and organisations of tickets in their departments; every
/// view is in the audit log, once per agent and person every 10 minutes.
#[tokio::test]
async fn people_data_follows_the_people_permission_and_views_are_logged() {
    use helpdesk_core::admin::AuditQuery;
    use helpdesk_core::*;
    let f = fixture();
    let hd = &f.hd;
    let sales = hd.departments().unwrap().into_iter().find(|d| d.name == "Sales").unwrap().id;
    let globex = hd.create_organisation("Globex", &["globex.example"]).unwrap();
    let mut cid = NewUser::new("Cid Globex", "cid@globex.example");
    cid.organisation = Some(globex.id);
    let cid = hd.create_user(cid).unwrap();
    hd.create_ticket(&Actor::User(cid.id), NewTicket::new("Quote", "?", sales, cid.id, Channel::Portal))
        .unwrap();
    let dee = hd.create_user(NewUser::new("Dee", "dee@example.net")).unwrap();
    let ann = hd.user_by_email(demo::USER.0).unwrap().unwrap();
    let sam = hd.agent_by_email(demo::AGENT.0).unwrap().unwrap();

    // Sam (Support only) sees Ann through her tickets, not Cid (Sales) or Dee (none).
    let s = f.login_agent(demo::AGENT.0, demo::AGENT.1).await;
    let r = f.get(&s, &format!("/api/agent/users/{}", ann.id.0)).await;
    assert_eq!((r.status().as_u16(), body_json(&r)["name"].as_str()), (200, Some("Ann Acme")));
    for u in [cid.id, dee.id] {
        let r = f.get(&s, &format!("/api/agent/users/{}", u.0)).await;
        assert_eq!(r.status(), 403, "{}", body_text(&r));
        let msg = body_json(&r)["message"].as_str().unwrap().to_string();
        assert!(msg.contains(&format!("user {}", u.0)) && msg.contains("people permission"), "{msg}");
        assert!(!body_text(&r).contains("globex.example") && !body_text(&r).contains("Dee"));
    }
    assert_eq!(f.get(&s, "/api/agent/users/999999").await.status(), 404);
    // Nor by putting them on one of his tickets by id (which would show
    // their record with the ticket); by email, which he knows, he may.
    for (command, who) in [("add_cc", dee.id.0), ("set_owner", cid.id.0), ("add_cc", 999999)] {
        let r = f
            .post(&s, "/api/agent/tickets/1/commands", serde_json::json!({"command": command, "user": who}))
            .await;
        assert_eq!(r.status(), 403, "{command} {who}: {}", body_text(&r));
        assert!(body_json(&r)["message"].as_str().unwrap().contains("people permission"));
    }
    assert!(f.hd.ticket(TicketId(1)).unwrap().ccs.is_empty());
    let r = f
        .post(
            &s,
            "/api/agent/tickets/1/commands",
            serde_json::json!({"command": "set_owner", "user": ann.id.0}),
        )
        .await;
    assert_ne!(r.status(), 403, "a user he sees: {}", body_text(&r));

    // The workspace's profile panes say the same.
    let p = login_workspace(&f, demo::AGENT).await;
    let page = get_pane(&f, &p, &format!("/agent/users/{}", cid.id.0), Some("content")).await;
    assert_eq!(page.status(), 403);
    assert!(body_text(&page).contains("people permission") && !body_text(&page).contains("Cid Globex"));
    assert_eq!(get_pane(&f, &p, &format!("/agent/organisations/{}", globex.id.0), None).await.status(), 403);
    let acme = ann.organisation.unwrap();
    assert_eq!(get_pane(&f, &p, &format!("/agent/organisations/{}", acme.0), None).await.status(), 200);
    let user = get_pane(&f, &p, &format!("/agent/users/{}", ann.id.0), Some("content")).await;
    assert!(body_text(&user).contains("Ann Acme"));
    // Making a ticket for Cid works, without showing Cid's name.
    let hint = body_text(&get_pane(&f, &p, "/agent/tickets/new/user?email=cid%40globex.example", None).await);
    assert!(hint.contains("An existing user") && !hint.contains("Cid"), "{hint}");
    let hint = body_text(&get_pane(&f, &p, "/agent/tickets/new/user?email=ann%40acme.example", None).await);
    assert!(hint.contains("Existing user: Ann Acme"), "{hint}");

    // The log: Ann once (API and pane within 10 minutes), Acme once, no refusals.
    let views = |hd: &helpdesk_store::Helpdesk| {
        let q =
            AuditQuery { agent: Some(sam.id), action: Some("people.view".into()), ..AuditQuery::default() };
        let mut v: Vec<(String, String)> =
            hd.audit(&q, None, 100).unwrap().into_iter().map(|e| (e.target, e.summary)).collect();
        v.reverse();
        v
    };
    let log = views(hd);
    assert_eq!(
        log.iter().map(|(t, _)| t.as_str()).collect::<Vec<_>>(),
        [format!("user:{}", ann.id.0), format!("organisation:{}", acme.0)]
    );
    assert!(log[0].1.starts_with("Viewed user Ann Acme") && log[0].1.contains("through ticket #"), "{log:?}");
    f.clock.advance(helpdesk_store::people_access::VIEW_LOG_EVERY);
    f.get(&s, &format!("/api/agent/users/{}", ann.id.0)).await;
    assert_eq!(views(hd).len(), 3, "logged again after 10 minutes");

    // With the people permission (given in Admin) Sam sees Cid and Dee.
    let admin = f.login_agent(demo::ADMIN.0, demo::ADMIN.1).await;
    let shown = body_json(&f.get(&admin, &format!("/api/admin/agents/{}", sam.id.0)).await);
    let mut change = serde_json::json!({
        "name": shown["name"], "email": shown["email"], "teams": shown["teams"], "permissions": shown["permissions"],
    });
    assert_eq!(change["permissions"]["people"], false);
    change["permissions"]["people"] = true.into();
    let r = agent_request(&admin, "PUT", &format!("/api/admin/agents/{}", sam.id.0), Some(change))
        .reply(&f.routes)
        .await;
    assert_eq!(r.status(), 200, "{}", body_text(&r));
    assert!(hd.agent(sam.id).unwrap().permissions.people);
    for u in [cid.id, dee.id] {
        assert_eq!(f.get(&s, &format!("/api/agent/users/{}", u.0)).await.status(), 200);
    }
    assert_eq!(get_pane(&f, &p, &format!("/agent/organisations/{}", globex.id.0), None).await.status(), 200);
    let log = views(hd);
    assert_eq!(log.len(), 6);
    assert!(log[3].1.ends_with("with the people permission"), "{log:?}");
}

async fn post_form(
    f: &Fixture,
    cookie: &str,
    path: &str,
    form: &[(&str, &str)],
) -> warp::http::Response<bytes::Bytes> {
    warp::test::request()
        .method("POST")
        .path(path)
        .header("cookie", cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form_body(form))
        .reply(&f.routes)
        .await
}

/// The value of the hidden input `name` in a page.
fn hidden(html: &str, name: &str) -> String {
    let at = format!("name=\"{name}\" value=\"");
    let i = html.find(&at).unwrap_or_else(|| panic!("no {name} in {html}")) + at.len();
    html[i..].split('"').next().unwrap().to_string()
}

fn cookies(r: &warp::http::Response<bytes::Bytes>) -> Vec<String> {
    r.headers()
        .get_all("set-cookie")
        .iter()
        .map(|c| c.to_str().unwrap().split(';').next().unwrap().to_string())
        .collect()
}

/// The password form's first step: a 303 to the second one, with only the
/// pending cookie.
async fn password_step(f: &Fixture, who: (&str, &str)) -> (String, String) {
    let r = post_login_form(f, who).await;
    assert_eq!(r.headers()["location"], "/agent/login/two-factor?next=/agent/filters/all");
    let c = cookies(&r);
    assert_eq!(c.len(), 1);
    assert!(c[0].starts_with("hd_agent_2fa="), "only the pending cookie: {c:?}");
    let page = warp::test::request()
        .path("/agent/login/two-factor?next=/agent/filters/all")
        .header("cookie", &c[0])
        .reply(&f.routes)
        .await;
    assert_eq!(page.status(), 200);
    (c[0].clone(), body_text(&page))
}

/// Passwords and two-factor login (finding 6): weak passwords are refused
/// with the reason; an agent turns on a TOTP app in their profile, logs in
/// with its code (once each) or a recovery code, over the form and the
/// API; an admin requires it (an agent without it sets it up at login) and
/// resets it.
#[tokio::test]
async fn weak_passwords_are_refused_and_two_factor_login_works() {
    use helpdesk_store::two_factor::totp_code;
    let f = fixture();
    let hd = &f.hd;
    let sam = hd.agent_by_email(demo::AGENT.0).unwrap().unwrap();
    let code_now = |secret: &str| totp_code(secret, helpdesk_core::Clock::now(f.clock.as_ref())).unwrap();
    let tick = || f.clock.advance(chrono::Duration::seconds(30));

    // A common password is refused, saying why.
    let s = f.login_agent(demo::AGENT.0, demo::AGENT.1).await;
    let r = f
        .post(&s, "/api/agent/password", serde_json::json!({"current": demo::AGENT.1, "new": "12345678"}))
        .await;
    assert_eq!(r.status(), 422, "{}", body_text(&r));
    assert!(body_json(&r)["message"]
        .as_str()
        .unwrap()
        .contains("too easy to guess (This is a top-10 common password.)"));

    // Sam turns it on in the profile: the QR code and key, then a code.
    let p = login_workspace(&f, demo::AGENT).await;
    let screen = body_text(&get_pane(&f, &p, "/agent/profile/two-factor", Some("content")).await);
    assert!(
        screen.contains("<svg class=\"qr\"") && screen.contains("Off: you log in with your password alone")
    );
    let secret = hidden(&screen, "secret");
    // The profile's "Turn on" form.
    let enable = |secret: String, code: String| {
        let (f, p) = (&f, &p);
        async move {
            let form = [("csrf", p.csrf.as_str()), ("op", "enable"), ("secret", &secret), ("code", &code)];
            post_form(f, &p.cookie, "/agent/profile/two-factor", &form).await
        }
    };
    let r = enable(secret.clone(), "000000".into()).await;
    assert!(body_text(&r).contains("that code does not match") || code_now(&secret) == "000000");
    assert_eq!(hidden(&body_text(&r), "secret"), secret, "the same key is shown again");
    let r = enable(secret.clone(), code_now(&secret)).await;
    let page = body_text(&r);
    assert!(
        page.contains("Two-factor login is on.") && page.contains("10 of 10 recovery codes left"),
        "{page}"
    );
    let recovery: Vec<String> =
        page.split("<li><code>").skip(1).map(|s| s.split('<').next().unwrap().to_string()).collect();
    assert_eq!(recovery.len(), 10);
    assert_eq!(f.get(&s, "/api/agent/me").await.status(), 401, "his other sessions ended");
    let r = warp::test::request()
        .path("/agent/profile/two-factor")
        .header("cookie", &p.cookie)
        .reply(&f.routes)
        .await;
    assert_eq!(r.status(), 200, "the one he turned it on from goes on");

    // The password alone no longer logs in: a pending step, good for nothing else.
    let (pending, page) = password_step(&f, demo::AGENT).await;
    assert!(page.contains("Code from your authenticator app") && !page.contains("<svg"));
    let r =
        warp::test::request().path("/agent/filters/all").header("cookie", &pending).reply(&f.routes).await;
    assert_eq!(r.status(), 303, "the pending cookie is not a login");
    let r = warp::test::request()
        .path("/api/agent/me")
        .header("cookie", format!("hd_agent={}", &pending["hd_agent_2fa=".len()..]))
        .reply(&f.routes)
        .await;
    assert_eq!(r.status(), 401, "nor as the agent cookie");
    let csrf = hidden(&page, "csrf");
    let step = |code: String| {
        let (pending, csrf) = (pending.clone(), csrf.clone());
        let f = &f;
        async move {
            post_form(
                f,
                &pending,
                "/agent/login/two-factor",
                &[("csrf", &csrf), ("code", &code), ("next", "/agent/filters/all")],
            )
            .await
        }
    };
    let used = code_now(&secret);
    let r = step(used.clone()).await;
    assert_eq!(r.status(), 401, "the code that turned it on was used");
    assert!(body_text(&r).contains("That code is not right, or it was used already"));
    let r = post_form(&f, &pending, "/agent/login/two-factor", &[("csrf", "forged"), ("code", &used)]).await;
    assert_eq!(r.status(), 401);
    tick();
    let r = step(code_now(&secret)).await;
    assert_eq!(r.status(), 303, "{}", body_text(&r));
    assert_eq!(r.headers()["location"], "/agent/filters/all");
    let c = cookies(&r);
    assert!(
        c.iter().any(|c| c.starts_with("hd_agent=") && c.len() > 20)
            && c.contains(&"hd_agent_2fa=".to_string()),
        "{c:?}"
    );
    let session = c.iter().find(|c| c.starts_with("hd_agent=")).unwrap();
    let r = warp::test::request().path("/agent/filters/all").header("cookie", session).reply(&f.routes).await;
    assert_eq!(r.status(), 200);
    assert_eq!(step(code_now(&secret)).await.status(), 401, "the step is over");

    // Turning it on again (another app, new recovery codes) is refused: a
    // stolen session alone must not take the account over.
    let other = hd.totp_setup(sam.id).unwrap().secret;
    let r = enable(other.clone(), code_now(&other)).await;
    assert!(body_text(&r).contains("Two-factor login is already on"), "{}", body_text(&r));
    assert!(
        hd.check_second_factor(sam.id, &recovery[5], None).unwrap().is_some(),
        "the old codes still work"
    );

    // A set-password link (a forgotten password) is only the first step too.
    let token = hd.admin_as_system().reinvite_agent(sam.id).unwrap();
    let r = warp::test::request()
        .method("POST")
        .path("/agent/set-password")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form_body(&[("token", &token), ("password", demo::AGENT.1), ("repeat", demo::AGENT.1)]))
        .reply(&f.routes)
        .await;
    assert_eq!(r.status(), 303, "{}", body_text(&r));
    assert_eq!(r.headers()["location"], "/agent/login/two-factor?next=/agent");
    let c = cookies(&r);
    assert!(c.len() == 1 && c[0].starts_with("hd_agent_2fa="), "no agent session: {c:?}");

    // The API: the code in the login request.
    let login = |body: serde_json::Value| {
        let f = &f;
        async move {
            warp::test::request().method("POST").path("/api/agent/login").json(&body).reply(&f.routes).await
        }
    };
    let r = login(serde_json::json!({"email": demo::AGENT.0, "password": demo::AGENT.1})).await;
    assert_eq!((r.status().as_u16(), body_json(&r)["error"].as_str()), (401, Some("two_factor_required")));
    let r =
        login(serde_json::json!({"email": demo::AGENT.0, "password": demo::AGENT.1, "code": "999999"})).await;
    assert_eq!(body_json(&r)["error"], "wrong_second_factor");
    let r =
        login(serde_json::json!({"email": demo::AGENT.0, "password": demo::AGENT.1, "code": recovery[0]}))
            .await;
    assert_eq!(r.status(), 200, "{}", body_text(&r));
    let r =
        login(serde_json::json!({"email": demo::AGENT.0, "password": demo::AGENT.1, "code": recovery[0]}))
            .await;
    assert_eq!(r.status(), 401, "a recovery code works once");
    let r =
        login(serde_json::json!({"email": demo::AGENT.0, "password": "wrong", "code": recovery[1]})).await;
    assert_eq!(body_json(&r)["error"], "unauthorized", "the password first");
    assert_eq!(hd.two_factor_state(sam.id).unwrap().recovery_codes_left, 8, "not spent on a wrong password");

    // An admin requires it: Alice (without it) sets it up at login.
    let mut settings = hd.settings().unwrap();
    settings.agents_two_factor = true;
    hd.admin_as_system().set_settings(settings).unwrap();
    let r = login(serde_json::json!({"email": demo::ADMIN.0, "password": demo::ADMIN.1})).await;
    assert_eq!(
        (r.status().as_u16(), body_json(&r)["error"].as_str()),
        (403, Some("two_factor_setup_required"))
    );
    let (pending, page) = password_step(&f, demo::ADMIN).await;
    assert!(page.contains("Set up two-factor login") && page.contains("<svg class=\"qr\""), "{page}");
    let (alice_secret, csrf) = (hidden(&page, "secret"), hidden(&page, "csrf"));
    let r = post_form(
        &f,
        &pending,
        "/agent/login/two-factor",
        &[("csrf", &csrf), ("secret", &alice_secret), ("code", "12"), ("next", "/agent/admin")],
    )
    .await;
    assert_eq!(r.status(), 422);
    assert_eq!(hidden(&body_text(&r), "secret"), alice_secret);
    let r = post_form(
        &f,
        &pending,
        "/agent/login/two-factor",
        &[
            ("csrf", &csrf),
            ("secret", &alice_secret),
            ("code", &code_now(&alice_secret)),
            ("next", "/agent/admin"),
        ],
    )
    .await;
    assert_eq!(r.status(), 200, "{}", body_text(&r));
    assert!(
        body_text(&r).contains("Two-factor login is on") && body_text(&r).contains("href=\"/agent/admin\"")
    );
    let alice = f.hd.agent_by_email(demo::ADMIN.0).unwrap().unwrap();
    assert!(hd.two_factor_enabled(alice.id).unwrap());
    let admin_cookie = cookies(&r).into_iter().find(|c| c.starts_with("hd_agent=")).unwrap();
    let admin_page = warp::test::request()
        .path("/agent/admin/agents")
        .header("cookie", &admin_cookie)
        .reply(&f.routes)
        .await;
    assert_eq!(admin_page.status(), 200);

    // Sam may not turn it off while it is required; Alice resets it over the API.
    let r = post_form(
        &f,
        &p.cookie,
        "/agent/profile/two-factor",
        &[("csrf", &p.csrf), ("op", "renew"), ("action", "off"), ("password", demo::AGENT.1)],
    )
    .await;
    assert!(body_text(&r).contains("it stays on"));
    assert!(hd.two_factor_enabled(sam.id).unwrap());
    let admin = f.login_agent_with_code(demo::ADMIN, &code_for_next_step(&f, &alice_secret)).await;
    let r = agent_request(&admin, "POST", &format!("/api/admin/agents/{}/two-factor/reset", sam.id.0), None)
        .reply(&f.routes)
        .await;
    assert_eq!(
        (r.status().as_u16(), body_json(&r)["was_on"].as_bool()),
        (200, Some(true)),
        "{}",
        body_text(&r)
    );
    let r = login(serde_json::json!({"email": demo::AGENT.0, "password": demo::AGENT.1})).await;
    assert_eq!(body_json(&r)["error"], "two_factor_setup_required", "Sam sets it up again");

    // Everything is in the audit log.
    let actions: Vec<String> = hd
        .audit(&helpdesk_core::admin::AuditQuery::default(), None, 200)
        .unwrap()
        .into_iter()
        .rev()
        .filter(|e| e.action.starts_with("agent.two_factor") || e.action == "settings.update")
        .map(|e| format!("{} {}", e.action, e.target))
        .collect();
    assert_eq!(
        actions,
        [
            format!("agent.two_factor_on {}", sam.id),
            "settings.update settings".to_string(),
            format!("agent.two_factor_on {}", alice.id),
            format!("agent.two_factor_off {}", sam.id),
        ]
    );
}

#[tokio::test]
async fn second_factors_are_tried_slowly() {
    use helpdesk_store::two_factor::totp_code;
    let f = fixture_with(helpdesk_web::Config { login_per_minute: 1000, ..Default::default() });
    let sam = f.hd.agent_by_email(demo::AGENT.0).unwrap().unwrap();
    let secret = f.hd.totp_setup(sam.id).unwrap().secret;
    let now = helpdesk_core::Clock::now(f.clock.as_ref());
    f.hd.enable_two_factor(sam.id, &secret, &totp_code(&secret, now).unwrap(), None).unwrap();
    let mut statuses = Vec::new();
    for _ in 0..6 {
        let body = serde_json::json!({"email": demo::AGENT.0, "password": demo::AGENT.1, "code": "000001"});
        let r =
            warp::test::request().method("POST").path("/api/agent/login").json(&body).reply(&f.routes).await;
        statuses.push(r.status().as_u16());
    }
    assert_eq!(statuses, [401, 401, 401, 401, 401, 429], "five tries, then one every two minutes");
    // The web step counts against the same allowance.
    let (pending, page) = password_step(&f, demo::AGENT).await;
    let r = post_form(
        &f,
        &pending,
        "/agent/login/two-factor",
        &[("csrf", &hidden(&page, "csrf")), ("code", "000002"), ("next", "/agent/filters/all")],
    )
    .await;
    assert_eq!(r.status(), 429, "{}", body_text(&r));
    let failed =
        f.hd.audit(&helpdesk_core::admin::AuditQuery::default(), None, 50)
            .unwrap()
            .into_iter()
            .filter(|e| e.action == "agent.login_failed" && e.summary.contains("wrong second factor"))
            .count();
    assert_eq!(failed, 5, "each wrong try is in the audit log");
}

/// A code for the step after the last one used (advances the clock).
fn code_for_next_step(f: &Fixture, secret: &str) -> String {
    f.clock.advance(chrono::Duration::seconds(30));
    helpdesk_store::two_factor::totp_code(secret, helpdesk_core::Clock::now(f.clock.as_ref())).unwrap()
}
