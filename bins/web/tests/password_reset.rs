//! Password resets (agents and portal users) and the portal's password
//! change: a mailed single-use link that works 30 minutes, the same answer
//! whether or not the address exists, every session of that person ended
//! after a reset, and a link of one realm refused on the other's page.

mod common;
use common::*;
use helpdesk_web::demo;

fn form(pairs: &[(&str, &str)]) -> String {
    pairs.iter().map(|(k, v)| format!("{}={}", urlencode(k), urlencode(v))).collect::<Vec<_>>().join("&")
}

async fn post_form(
    f: &Fixture,
    path: &str,
    cookie: Option<&str>,
    pairs: &[(&str, &str)],
) -> warp::http::Response<warp::hyper::body::Bytes> {
    let mut req = warp::test::request()
        .method("POST")
        .path(path)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(pairs));
    if let Some(c) = cookie {
        req = req.header("cookie", c);
    }
    req.reply(&f.routes).await
}

/// The path and query of the link in the last mail to `to`.
fn link_to(f: &Fixture, to: &str) -> String {
    let mail = f.mailer.sent().into_iter().rev().find(|m| m.to == to).expect("a mail");
    let link = mail.body.split_whitespace().find(|w| w.contains("reset-password?token=")).expect("a link");
    link[link.find("/agent/").or_else(|| link.find("/portal/")).unwrap()..].to_string()
}

#[tokio::test]
async fn an_agent_resets_their_password_by_mail_and_every_session_ends() {
    let f = fixture();
    let before = f.login_agent(demo::AGENT.0, demo::AGENT.1).await;
    let page = warp::test::request().path("/agent/login").reply(&f.routes).await;
    assert!(body_text(&page).contains("href=\"/agent/forgot-password\""));

    // The same answer for an address nobody has; a mail only for Sam.
    let known = post_form(&f, "/agent/forgot-password", None, &[("email", demo::AGENT.0)]).await;
    let unknown = post_form(&f, "/agent/forgot-password", None, &[("email", "nobody@example.com")]).await;
    assert_eq!((known.status().as_u16(), unknown.status().as_u16()), (200, 200));
    assert_eq!(
        body_text(&known).replace(demo::AGENT.0, "ADDRESS"),
        body_text(&unknown).replace("nobody@example.com", "ADDRESS")
    );
    assert!(body_text(&known).contains("It works once, for 30 minutes."));
    let mails: Vec<_> =
        f.mailer.sent().into_iter().filter(|m| m.subject.contains("Reset your password")).collect();
    assert_eq!(mails.len(), 1, "only the known address gets a mail");
    assert_eq!(mails[0].to, demo::AGENT.0);
    let link = link_to(&f, demo::AGENT.0);
    assert!(link.starts_with("/agent/reset-password?token="), "{link}");
    let token = link.split("token=").nth(1).unwrap().to_string();

    let form_page = warp::test::request().path(&link).reply(&f.routes).await;
    assert_eq!(form_page.status(), 200);
    let r = post_form(
        &f,
        "/agent/reset-password",
        None,
        &[("token", &token), ("password", "violet kettle orbit"), ("repeat", "violet kettle orbi")],
    )
    .await;
    assert_eq!(r.status(), 422);
    assert!(body_text(&r).contains("The two passwords differ."));
    let r = post_form(
        &f,
        "/agent/reset-password",
        None,
        &[("token", &token), ("password", "password1"), ("repeat", "password1")],
    )
    .await;
    assert_eq!(r.status(), 422, "a guessable password is refused; the link still works");
    let r = post_form(
        &f,
        "/agent/reset-password",
        None,
        &[("token", &token), ("password", "violet kettle orbit"), ("repeat", "violet kettle orbit")],
    )
    .await;
    assert_eq!(r.status(), 200, "{}", body_text(&r));
    assert!(body_text(&r).contains("every session that was logged in as you has ended"));

    // The session from before is gone; the old password too; the new one works.
    assert_eq!(f.get(&before, "/api/agent/me").await.status(), 401);
    let old = warp::test::request()
        .method("POST")
        .path("/api/agent/login")
        .json(&serde_json::json!({"email": demo::AGENT.0, "password": demo::AGENT.1}))
        .reply(&f.routes)
        .await;
    assert_eq!(old.status(), 401);
    f.login_agent(demo::AGENT.0, "violet kettle orbit").await;
    // The link works once.
    let again = warp::test::request().path(&link).reply(&f.routes).await;
    assert_eq!(again.status(), 410);
    assert!(body_text(&again).contains("This link no longer works"));
    let audit = f.hd.audit(&Default::default(), None, 20).unwrap();
    assert!(audit.iter().any(|e| e.action == "agent.password_reset"));
}

#[tokio::test]
async fn a_link_dies_after_thirty_minutes_and_is_only_for_its_own_realm() {
    let f = fixture();
    let (_, cookie) = f.portal_visit("/portal/forgot-password", None).await;
    let (page, _) = f.portal_visit("/portal/forgot-password", Some(&cookie)).await;
    let csrf = csrf_of(&body_text(&page));
    let r =
        post_form(&f, "/portal/forgot-password", Some(&cookie), &[("csrf", &csrf), ("email", demo::USER.0)])
            .await;
    assert_eq!(r.status(), 200, "{}", body_text(&r));
    let link = link_to(&f, demo::USER.0);
    assert!(link.starts_with("/portal/reset-password?token="), "{link}");
    let token = link.split("token=").nth(1).unwrap().to_string();
    // A user's link does nothing on the agents' page.
    let r =
        warp::test::request().path(&format!("/agent/reset-password?token={token}")).reply(&f.routes).await;
    assert_eq!(r.status(), 410);
    let r = post_form(
        &f,
        "/agent/reset-password",
        None,
        &[("token", &token), ("password", "violet kettle orbit"), ("repeat", "violet kettle orbit")],
    )
    .await;
    assert_eq!(r.status(), 410);
    let (ok, _) = f.portal_visit(&link, Some(&cookie)).await;
    assert_eq!(ok.status(), 200);
    f.clock.advance(chrono::Duration::minutes(31));
    let (late, _) = f.portal_visit(&link, Some(&cookie)).await;
    assert_eq!(late.status(), 410);
    assert!(body_text(&late).contains("older than 30 minutes"));
}

#[tokio::test]
async fn a_user_resets_and_changes_their_password_in_the_portal() {
    let f = fixture();
    let (elsewhere, _) = f.login_user(demo::USER.0, demo::USER.1).await;
    let (login, cookie) = f.portal_visit("/portal/login", None).await;
    assert!(body_text(&login).contains("href=\"/portal/forgot-password\""));
    let csrf = csrf_of(&body_text(&login));
    let known =
        post_form(&f, "/portal/forgot-password", Some(&cookie), &[("csrf", &csrf), ("email", demo::USER.0)])
            .await;
    let unknown = post_form(
        &f,
        "/portal/forgot-password",
        Some(&cookie),
        &[("csrf", &csrf), ("email", "ghost@acme.example")],
    )
    .await;
    assert_eq!(
        body_text(&known).replace(demo::USER.0, "ADDRESS"),
        body_text(&unknown).replace("ghost@acme.example", "ADDRESS")
    );
    let no_csrf = post_form(&f, "/portal/forgot-password", Some(&cookie), &[("email", demo::USER.0)]).await;
    assert_eq!(no_csrf.status(), 403);
    let token = link_to(&f, demo::USER.0).split("token=").nth(1).unwrap().to_string();
    let r = post_form(
        &f,
        "/portal/reset-password",
        Some(&cookie),
        &[
            ("csrf", &csrf),
            ("token", &token),
            ("password", "violet kettle orbit"),
            ("repeat", "violet kettle orbit"),
        ],
    )
    .await;
    assert_eq!(r.status(), 200, "{}", body_text(&r));
    assert!(body_text(&r).contains("Password changed"));
    let (list, _) = f.portal_visit("/portal/tickets", Some(&elsewhere)).await;
    assert_eq!(list.status(), 303, "the session from before the reset ended");

    // The account page: the current password is checked, other sessions end, this one stays.
    let (me, me_csrf) = f.login_user(demo::USER.0, "violet kettle orbit").await;
    let (other, _) = f.login_user(demo::USER.0, "violet kettle orbit").await;
    let (page, _) = f.portal_visit("/portal/password", Some(&me)).await;
    assert_eq!(page.status(), 200);
    let wrong = post_form(
        &f,
        "/portal/password",
        Some(&me),
        &[
            ("csrf", &me_csrf),
            ("current", "not it"),
            ("password", "amber lantern quietly"),
            ("repeat", "amber lantern quietly"),
        ],
    )
    .await;
    assert_eq!(wrong.status(), 422);
    assert!(body_text(&wrong).contains("the current password is wrong"));
    let done = post_form(
        &f,
        "/portal/password",
        Some(&me),
        &[
            ("csrf", &me_csrf),
            ("current", "violet kettle orbit"),
            ("password", "amber lantern quietly"),
            ("repeat", "amber lantern quietly"),
        ],
    )
    .await;
    assert_eq!(done.status(), 200, "{}", body_text(&done));
    assert_eq!(
        f.portal_visit("/portal/tickets", Some(&other)).await.0.status(),
        303,
        "the other session ended"
    );
    assert_eq!(f.portal_visit("/portal/tickets", Some(&me)).await.0.status(), 200, "this one stays");
    assert!(f.hd.verify_user_password(demo::USER.0, "amber lantern quietly").unwrap().is_some());
}
