//! The user portal through warp::test, including the adversarial cases:
//! another user's ticket, notes and agent-only data, stored XSS, CSRF, and
//! ticket id enumeration.

mod common;
use common::*;
use helpdesk_core::*;
use helpdesk_web::demo;

#[tokio::test]
async fn register_validate_login_submit_view_reply() {
    let f = fixture();
    let (page, cookie) = f.portal_visit("/portal/register", None).await;
    assert_eq!(page.status(), 200);
    let csrf = csrf_of(&body_text(&page));
    let r = f
        .portal_post(
            &cookie,
            "/portal/register",
            &[("name", "Zoe"), ("email", "zoe@example.org"), ("password", "zoe-password"), ("csrf", &csrf)],
        )
        .await;
    assert_eq!(r.status(), 200, "{}", body_text(&r));
    assert!(body_text(&r).contains("Check your email"));

    // Not validated yet: login is refused with a clear message.
    let (login, c2) = f.portal_visit("/portal/login", None).await;
    let csrf2 = csrf_of(&body_text(&login));
    let r = f
        .portal_post(
            &c2,
            "/portal/login",
            &[("email", "zoe@example.org"), ("password", "zoe-password"), ("csrf", &csrf2)],
        )
        .await;
    assert_eq!(r.status(), 403);
    assert!(body_text(&r).contains("Confirm your email"));

    let mail = f.mailer.sent().pop().expect("validation email");
    assert_eq!(mail.to, "zoe@example.org");
    let link = mail.body.split_whitespace().find(|w| w.contains("/portal/validate?token=")).unwrap();
    let path = &link[link.find("/portal/").unwrap()..];
    let (r, _) = f.portal_visit(path, None).await;
    assert_eq!(r.status(), 200);
    assert!(body_text(&r).contains("Email confirmed"));
    let (r, _) = f.portal_visit(path, None).await;
    assert_eq!(r.status(), 400, "a token works once");

    let (cookie, csrf) = f.login_user("zoe@example.org", "zoe-password").await;
    let (form, _) = f.portal_visit("/portal/tickets/new?department=1", Some(&cookie)).await;
    let html = body_text(&form);
    assert!(html.contains("field_product"), "department fields are offered");
    assert!(!html.contains("internal_ref"), "agent-only fields are not");
    let r = f
        .portal_post(
            &cookie,
            "/portal/tickets",
            &[
                ("department", "1"),
                ("subject", "My scanner"),
                ("body", "It jams."),
                ("field_product", "Scanner"),
                ("csrf", &csrf),
            ],
        )
        .await;
    assert_eq!(r.status(), 303, "{}", body_text(&r));
    let loc = r.headers().get("location").unwrap().to_str().unwrap().to_string();
    let id: u64 = loc.rsplit('/').next().unwrap().parse().unwrap();
    let t = f.hd.ticket(TicketId(id)).unwrap();
    assert_eq!(t.channel, Channel::Portal);
    assert_eq!(t.fields.get("product"), Some(&FieldValue::Choice("Scanner".into())));

    let r = f
        .portal_post(
            &cookie,
            &format!("/portal/tickets/{id}/reply"),
            &[("body", "More detail"), ("csrf", &csrf)],
        )
        .await;
    assert_eq!(r.status(), 303);
    let (page, _) = f.portal_visit(&loc, Some(&cookie)).await;
    let html = body_text(&page);
    assert!(html.contains("It jams.") && html.contains("More detail"));
    let (list, _) = f.portal_visit("/portal/tickets", Some(&cookie)).await;
    assert!(body_text(&list).contains("My scanner"));
}

#[tokio::test]
async fn own_and_ccd_tickets_are_listed_and_others_are_404() {
    let f = fixture();
    let (ann, _) = f.login_user(demo::USER.0, demo::USER.1).await;
    let (list, _) = f.portal_visit("/portal/tickets", Some(&ann)).await;
    let html = body_text(&list);
    assert!(html.contains("Printer on fire") && html.contains("Quote for 20 printers"), "own and CC'd");
    assert!(!html.contains("Cannot log in"), "Bob's ticket is not listed");

    // Ticket 4 is Bob's: the answer is the same as for a ticket that does not exist.
    let (other, _) = f.portal_visit("/portal/tickets/4", Some(&ann)).await;
    let (missing, _) = f.portal_visit("/portal/tickets/9999", Some(&ann)).await;
    assert_eq!(other.status(), 404);
    assert_eq!(missing.status(), 404);
    assert_eq!(body_text(&other), body_text(&missing));
    // Enumerating ids tells nothing beyond one's own tickets.
    let mut visible = vec![];
    for id in 1..=12 {
        let (r, _) = f.portal_visit(&format!("/portal/tickets/{id}"), Some(&ann)).await;
        if r.status() == 200 {
            visible.push(id);
        } else {
            assert_eq!(body_text(&r), body_text(&missing), "ticket {id}");
        }
    }
    assert_eq!(visible, vec![1, 2, 3]);
    // Replying to someone else's ticket: 404 and nothing written.
    let (page, _) = f.portal_visit("/portal/tickets", Some(&ann)).await;
    let csrf = csrf_of(&body_text(&page));
    let before = f.hd.ticket(TicketId(4)).unwrap().version;
    let r = f.portal_post(&ann, "/portal/tickets/4/reply", &[("body", "hijack"), ("csrf", &csrf)]).await;
    assert_eq!(r.status(), 404);
    assert_eq!(f.hd.ticket(TicketId(4)).unwrap().version, before);
    // Logged out: every ticket page sends to the login form.
    let r = warp::test::request().path("/portal/tickets/1").reply(&f.routes).await;
    assert_eq!(r.status(), 303);
}

#[tokio::test]
async fn notes_and_agent_only_data_never_reach_the_portal() {
    let f = fixture();
    let admin = f.hd.agent_by_email(demo::ADMIN.0).unwrap().unwrap();
    f.hd.add_note(TicketId(1), admin.id, "SECRET-NOTE-MARKER").unwrap();
    f.hd.execute(TicketId(1), &Actor::Agent(admin.id), Command::AddLabel { label: "SECRET-LABEL".into() })
        .unwrap();
    f.hd.execute(
        TicketId(1),
        &Actor::Agent(admin.id),
        Command::SetField {
            key: "internal_ref".into(),
            value: Some(FieldValue::Text("SECRET-FIELD".into())),
        },
    )
    .unwrap();
    let (ann, csrf) = f.login_user(demo::USER.0, demo::USER.1).await;
    let mut pages = vec![];
    for path in ["/portal/tickets", "/portal/tickets/1", "/", "/portal/tickets/new"] {
        pages.push(body_text(&f.portal_visit(path, Some(&ann)).await.0));
    }
    // A reply re-renders the page too.
    let r = f.portal_post(&ann, "/portal/tickets/1/reply", &[("body", ""), ("csrf", &csrf)]).await;
    assert_eq!(r.status(), 422);
    pages.push(body_text(&r));
    for html in pages {
        for secret in ["SECRET-NOTE-MARKER", "SECRET-LABEL", "SECRET-FIELD", "Agents only", "internal_ref"] {
            assert!(!html.contains(secret), "{secret} leaked");
        }
    }
    // The user view type has no place for them at all.
    let t = f.hd.ticket(TicketId(1)).unwrap();
    let dept = f.hd.department(t.department).unwrap();
    let json = serde_json::to_string(&UserTicketView::new(&t, &dept, |_| "x".into())).unwrap();
    assert!(!json.contains("SECRET") && !json.contains("notes"));
}

#[tokio::test]
async fn stored_xss_is_escaped_or_sanitised() {
    let f = fixture();
    let ann = f.hd.user_by_email(demo::USER.0).unwrap().unwrap();
    let mut u = ann.clone();
    u.name = "<img src=x onerror=alert(1)>Ann".into();
    f.hd.update_user(u).unwrap();
    let t = f
        .hd
        .create_ticket(
            &Actor::User(ann.id),
            NewTicket::new(
                "<script>alert('subject')</script>",
                "<script>alert('body')</script><b onclick=\"x()\">bold</b> <a href=\"javascript:alert(1)\">link</a>",
                DepartmentId(1),
                ann.id,
                Channel::Portal,
            ),
        )
        .unwrap();
    let (cookie, _) = f.login_user(demo::USER.0, demo::USER.1).await;
    for path in [format!("/portal/tickets/{}", t.id.0), "/portal/tickets".into()] {
        let (r, _) = f.portal_visit(&path, Some(&cookie)).await;
        let html = body_text(&r);
        assert!(!html.contains("<script>alert"), "{path}: script tag survived");
        // Bodies are text: markup shows as characters, never as live tags.
        assert!(
            !html.contains("<img") && !html.contains("<b onclick") && !html.contains("href=\"javascript:"),
            "{path}: {html}"
        );
        assert!(
            html.contains("&lt;script&gt;alert('subject')")
                || html.contains("&lt;script&gt;alert(&#39;subject&#39;)")
                || html.contains("&lt;script&gt;"),
            "subject shown as text"
        );
        assert!(r.headers().get("content-security-policy").is_some());
    }
    let (r, _) = f.portal_visit(&format!("/portal/tickets/{}", t.id.0), Some(&cookie)).await;
    assert!(
        body_text(&r).contains("&lt;b onclick=&quot;x()&quot;&gt;bold&lt;/b&gt;"),
        "the body is shown as written"
    );
    // The agent API gives the same safe HTML for bodies.
    let s = f.login_agent(demo::ADMIN.0, demo::ADMIN.1).await;
    let v = body_json(&f.get(&s, &format!("/api/agent/tickets/{}", t.id.0)).await);
    let html = v["bodies_html"]["1"].as_str().unwrap();
    assert!(
        !html.contains("<script") && !html.contains("<b onclick") && !html.contains("href=\"javascript:"),
        "{html}"
    );
    assert!(html.contains("&lt;b onclick=&quot;x()&quot;&gt;bold&lt;/b&gt;"), "{html}");
}

#[tokio::test]
async fn forms_without_the_csrf_token_change_nothing() {
    let f = fixture();
    let (cookie, _) = f.login_user(demo::USER.0, demo::USER.1).await;
    let before = f.hd.ticket(TicketId(1)).unwrap().version;
    for csrf in ["", "forged"] {
        let r =
            f.portal_post(&cookie, "/portal/tickets/1/reply", &[("body", "forged"), ("csrf", csrf)]).await;
        assert_eq!(r.status(), 403);
        let r = f
            .portal_post(
                &cookie,
                "/portal/tickets",
                &[("department", "1"), ("subject", "s"), ("body", "b"), ("csrf", csrf)],
            )
            .await;
        assert_eq!(r.status(), 403);
    }
    assert_eq!(f.hd.ticket(TicketId(1)).unwrap().version, before);
    assert_eq!(f.hd.store().last_ticket_id().unwrap(), Some(TicketId(4)));
    // Login without the token of the visitor's session is refused too (login CSRF).
    let (_, anon) = f.portal_visit("/portal/login", None).await;
    let r = f
        .portal_post(
            &anon,
            "/portal/login",
            &[("email", demo::USER.0), ("password", demo::USER.1), ("csrf", "x")],
        )
        .await;
    assert_eq!(r.status(), 403);
    // The portal cookie is HttpOnly and SameSite.
    let (r, _) = f.portal_visit("/portal/login", None).await;
    let c = r.headers().get("set-cookie").unwrap().to_str().unwrap();
    assert!(c.contains("HttpOnly") && c.contains("SameSite=Lax"));
}

#[tokio::test]
async fn registration_does_not_reveal_existing_accounts() {
    let f = fixture();
    let (page, cookie) = f.portal_visit("/portal/register", None).await;
    let csrf = csrf_of(&body_text(&page));
    let existing = f
        .portal_post(
            &cookie,
            "/portal/register",
            &[("name", "X"), ("email", demo::USER.0), ("password", "some-password"), ("csrf", &csrf)],
        )
        .await;
    let fresh = f
        .portal_post(
            &cookie,
            "/portal/register",
            &[("name", "Y"), ("email", "new@example.org"), ("password", "some-password"), ("csrf", &csrf)],
        )
        .await;
    assert_eq!(existing.status(), fresh.status());
    assert_eq!(body_text(&existing), body_text(&fresh));
    // And the existing account's password is unchanged.
    assert!(f.hd.verify_user_password(demo::USER.0, demo::USER.1).unwrap().is_some());
}

#[tokio::test]
async fn usergroups_decide_departments_copying_in_and_organisation_tickets() {
    use helpdesk_core::people::PortalPermissions;
    let f = fixture();
    let hd = &f.hd;
    let ann = hd.user_by_email(demo::USER.0).unwrap().unwrap();
    let acme = ann.organisation.expect("Ann is of Acme");
    let support = hd.departments().unwrap().into_iter().find(|d| d.name == "Support").unwrap();
    let sales = hd.departments().unwrap().into_iter().find(|d| d.name == "Sales").unwrap();
    // Carl, also of Acme, has a ticket; Ann's group lets her read it.
    let mut carl = NewUser::new("Carl Acme", "carl@acme.example");
    carl.validated = true;
    let carl = hd.create_user(carl).unwrap();
    assert_eq!(carl.organisation, Some(acme));
    let carls = hd
        .create_ticket(
            &Actor::User(carl.id),
            NewTicket::new(
                "Carl's VPN is down",
                "No VPN since Monday.",
                support.id,
                carl.id,
                Channel::Portal,
            ),
        )
        .unwrap();
    let admin_id = hd.agent_by_email(demo::ADMIN.0).unwrap().unwrap().id;
    let staff = hd
        .admin(admin_id)
        .unwrap()
        .create_usergroup(
            "Acme staff",
            PortalPermissions {
                submit_departments: Some([sales.id].into()),
                organisation_tickets: true,
                cc_others: false,
            },
        )
        .unwrap();
    let mut a = ann.clone();
    a.usergroups.insert(staff.id);
    hd.update_user(a).unwrap();

    let (cookie, csrf) = f.login_user(demo::USER.0, demo::USER.1).await;
    let (r, _) = f.portal_visit("/portal/tickets/new", Some(&cookie)).await;
    let html = body_text(&r);
    assert!(html.contains("Department: <strong>Sales</strong>"), "{html}");
    assert!(!html.contains(">Support<"), "Support is not offered: {html}");
    assert!(!html.contains("name=\"cc\""), "no copying in for this group");
    let before = hd.store().last_ticket_id().unwrap();
    let support_id = support.id.0.to_string();
    let submit = |dept: &str, cc: &str| {
        vec![
            ("csrf", csrf.clone()),
            ("department", dept.to_string()),
            ("subject", "Need a quote".to_string()),
            ("body", "For 20 printers.".to_string()),
            ("cc", cc.to_string()),
        ]
    };
    let post = |form: Vec<(&'static str, String)>| {
        let f = &f;
        let cookie = cookie.clone();
        async move {
            let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
            f.portal_post(&cookie, "/portal/tickets", &form).await
        }
    };
    let r = post(submit(&support_id, "")).await;
    assert_eq!(r.status(), 422, "{}", body_text(&r));
    assert!(body_text(&r).contains("Choose a department you may write to."));
    let r = post(submit(&sales.id.0.to_string(), "dora@example.net")).await;
    assert_eq!(r.status(), 422);
    assert!(body_text(&r).contains("Copying others in is not available for your account."));
    assert!(hd.user_by_email("dora@example.net").unwrap().is_none(), "a refused form adds no one");
    assert_eq!(hd.store().last_ticket_id().unwrap(), before, "nothing was created");
    let r = post(submit(&sales.id.0.to_string(), "")).await;
    assert_eq!(r.status(), 303, "{}", body_text(&r));
    // The library refuses it whatever the screen: a portal ticket in Support.
    let err = hd
        .create_ticket(&Actor::User(ann.id), NewTicket::new("x", "y", support.id, ann.id, Channel::Portal))
        .unwrap_err();
    assert!(
        err.to_string().ends_with("may not submit a ticket: not in Support; their usergroups allow Sales"),
        "{err}"
    );
    // By mail she still reaches Support.
    hd.create_ticket(&Actor::User(ann.id), NewTicket::new("x", "y", support.id, ann.id, Channel::Email))
        .unwrap();

    // Carl's ticket: listed under the organisation, readable, not answerable.
    let (r, _) = f.portal_visit("/portal/tickets", Some(&cookie)).await;
    let html = body_text(&r);
    assert!(html.contains("Your organisation's tickets") && html.contains("Carl's VPN is down"), "{html}");
    let (r, _) = f.portal_visit(&format!("/portal/tickets/{}", carls.id.0), Some(&cookie)).await;
    assert_eq!(r.status(), 200);
    let html = body_text(&r);
    assert!(html.contains("No VPN since Monday.") && !html.contains("Send reply"), "{html}");
    let r = f
        .portal_post(
            &cookie,
            &format!("/portal/tickets/{}/reply", carls.id.0),
            &[("csrf", &csrf), ("body", "Me too")],
        )
        .await;
    assert!(r.status().is_client_error(), "{}", r.status());
    assert_eq!(hd.ticket(carls.id).unwrap().messages.len(), 1, "no reply from a reader");
    // Without the group's permission, Carl's ticket is 404 again.
    let mut a = hd.user(ann.id).unwrap();
    a.usergroups.clear();
    hd.update_user(a).unwrap();
    let (r, _) = f.portal_visit(&format!("/portal/tickets/{}", carls.id.0), Some(&cookie)).await;
    assert_eq!(r.status(), 404);

    // In no group: every department, and copying in colleagues (nobody else:
    // the form must not mail strangers, and makes no users).
    let (r, _) = f.portal_visit("/portal/tickets/new", Some(&cookie)).await;
    assert!(body_text(&r).contains("name=\"cc\""));
    let r = post(submit(&sales.id.0.to_string(), "carl@acme.example, not-an-address")).await;
    assert_eq!(r.status(), 422);
    assert!(
        body_text(&r).contains("&quot;not-an-address&quot; is not an email address."),
        "{}",
        body_text(&r)
    );
    for stranger in ["dora@example.net", "bob@builder.example"] {
        let r = post(submit(&sales.id.0.to_string(), &format!("carl@acme.example, {stranger}"))).await;
        assert_eq!(r.status(), 422);
        assert!(body_text(&r).contains("is not someone of your organisation here"), "{}", body_text(&r));
    }
    assert!(hd.user_by_email("dora@example.net").unwrap().is_none(), "no user is made");
    let r = post(submit(&sales.id.0.to_string(), "carl@acme.example")).await;
    assert_eq!(r.status(), 303, "{}", body_text(&r));
    let t = hd.ticket(hd.store().last_ticket_id().unwrap().unwrap()).unwrap();
    assert_eq!(t.ccs, [carl.id].into());

    // The embed keeps the group's departments too.
    let mut a = hd.user(ann.id).unwrap();
    a.usergroups.insert(staff.id);
    hd.update_user(a).unwrap();
    let r = warp::test::request()
        .method("POST")
        .path("/api/embed/tickets")
        .header("origin", "http://shop.example")
        .json(&serde_json::json!({"name": "Ann", "email": demo::USER.0, "subject": "Hi", "message": "Hello", "department": support.id.0, "elapsed_ms": 5000}))
        .reply(&f.routes)
        .await;
    assert_eq!(r.status(), 403, "{}", body_text(&r));
    assert!(body_text(&r).contains("please write to us by email"));
}
