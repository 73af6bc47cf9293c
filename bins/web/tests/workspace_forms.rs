//! The workspace's forms over HTTP (warp::test): Create, custom filters (form,
//! pane, list, sharing, delete) and the profile screens (preferences,
//! notifications, password), with their refusals next to the field and the
//! typed form kept; snapshots of the fragments (only the CSRF token is
//! redacted).

mod common;
use common::*;
use helpdesk_core::*;
use helpdesk_web::demo;
use helpdesk_web::workspace::WorkspaceState;
use warp::http::Response;
use warp::hyper::body::Bytes;

/// A form post as htmx sends it (CSRF in the header) or, with `csrf: false`, without any token.
async fn post(f: &Fixture, p: &Page, path: &str, form: &[(&str, &str)], csrf: bool) -> Response<Bytes> {
    let body = form_body(form);
    let mut req = warp::test::request()
        .method("POST")
        .path(path)
        .header("cookie", &p.cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .header("hx-request", "true")
        .header("hx-target", "content")
        .body(body);
    if csrf {
        req = req.header("x-csrf-token", &p.csrf);
    }
    req.reply(&f.routes).await
}

fn department(f: &Fixture, name: &str) -> DepartmentId {
    f.hd.departments().unwrap().into_iter().find(|d| d.name == name).unwrap().id
}

#[tokio::test]
async fn create_makes_a_ticket_for_a_new_user_and_opens_it() {
    let f = fixture();
    let p = login_workspace(&f, demo::ADMIN).await;
    let support = department(&f, "Support").0.to_string();
    let form = body_text(&get_pane(&f, &p, "/agent/tickets/new", Some("content")).await);
    assert!(form.starts_with("<main"), "a content pane");
    insta::assert_snapshot!("create_form", redact(&p, &form));
    // The top bar's Create leads here.
    let page = body_text(&get_pane(&f, &p, "/agent/filters/all", None).await);
    let create = page.find(r#"id="create""#).expect("the Create button");
    assert!(page[create..].split('>').next().unwrap().contains(r#"href="/agent/tickets/new""#));

    // Who an address is.
    let hint = body_text(
        &get_pane(&f, &p, "/agent/tickets/new/user?email=ann%40acme.example", Some("create-user-hint")).await,
    );
    assert_eq!(hint, "Existing user: Ann Acme");
    let hint =
        body_text(&get_pane(&f, &p, "/agent/tickets/new/user?email=new%40person.example", Some("x")).await);
    assert!(hint.starts_with("A new user"), "{hint}");

    // Refused: no subject, a choice not offered; what was typed is kept, the errors by their fields.
    let typed = [
        ("email", "zoe@new.example"),
        ("name", "Zoe New"),
        ("subject", ""),
        ("body", "My toaster sings."),
        ("department", support.as_str()),
        ("urgency", "7"),
        ("status", "awaiting_user"),
        ("field.product", "Toaster"),
    ];
    let r = post(&f, &p, "/agent/tickets/new", &typed, true).await;
    assert_eq!(r.status(), 422);
    let text = body_text(&r);
    assert!(text.contains(r#"id="err-subject""#), "{text}");
    assert!(
        text.contains("zoe@new.example") && text.contains("My toaster sings.") && text.contains("Zoe New")
    );
    assert!(f.hd.user_by_email("zoe@new.example").unwrap().is_none(), "nothing made");
    insta::assert_snapshot!("create_refused", redact(&p, &text));
    let mut fixed = typed;
    fixed[2] = ("subject", "Toaster sings");
    let r = post(&f, &p, "/agent/tickets/new", &fixed, true).await;
    assert_eq!(r.status(), 422);
    let text = body_text(&r);
    assert!(text.contains(r#"id="err-field.product""#), "the choice refused next to it: {text}");

    // Without the token nothing happens.
    fixed[7] = ("field.product", "Scanner");
    let r = post(&f, &p, "/agent/tickets/new", &fixed, false).await;
    assert_eq!(r.status(), 403);
    assert!(f.hd.user_by_email("zoe@new.example").unwrap().is_none());

    // Created: a new user with the name given, the ticket open as a tab.
    let r = post(&f, &p, "/agent/tickets/new", &fixed, true).await;
    assert_eq!(r.status(), 200, "{}", body_text(&r));
    let to = r.headers()["hx-redirect"].to_str().unwrap().to_string();
    let id: u64 = to.strip_prefix("/agent/tickets/").unwrap().parse().unwrap();
    let user = f.hd.user_by_email("zoe@new.example").unwrap().expect("user made");
    assert_eq!(user.name, "Zoe New");
    let t = f.hd.ticket(TicketId(id)).unwrap();
    assert_eq!(
        (t.subject.as_str(), t.user, t.urgency.get(), t.status),
        ("Toaster sings", user.id, 7, Status::AwaitingUser)
    );
    assert_eq!(t.fields.get("product"), Some(&FieldValue::Choice("Scanner".into())));
    let admin = f.hd.agent_by_email(demo::ADMIN.0).unwrap().unwrap();
    assert!(WorkspaceState::load(&f.hd, admin.id).unwrap().tabs.contains(&id));

    // Changing the department shows its fields, keeping the rest.
    let sales = department(&f, "Sales").0.to_string();
    let r = post(
        &f,
        &p,
        "/agent/tickets/new",
        &[("op", "refresh"), ("department", &sales), ("subject", "kept")],
        true,
    )
    .await;
    let text = body_text(&r);
    assert!(text.contains(r#"value="kept""#) && !text.contains("field.product"), "{text}");
}

#[tokio::test]
async fn create_offers_only_the_agents_departments() {
    let f = fixture();
    let p = login_workspace(&f, demo::AGENT).await;
    let form = body_text(&get_pane(&f, &p, "/agent/tickets/new", Some("content")).await);
    assert!(form.contains(">Support<") && !form.contains(">Sales<"), "{form}");
    let sales = department(&f, "Sales").0.to_string();
    let r = post(
        &f,
        &p,
        "/agent/tickets/new",
        &[
            ("email", "ann@acme.example"),
            ("subject", "s"),
            ("body", "b"),
            ("department", &sales),
            ("status", "pending"),
        ],
        true,
    )
    .await;
    assert_eq!(r.status(), 422);
    assert!(body_text(&r).contains(r#"id="err-department""#));
}

#[tokio::test]
async fn custom_filters_are_made_shared_listed_and_deleted() {
    let f = fixture();
    let admin = login_workspace(&f, demo::ADMIN).await;
    let tier1 = f.hd.teams().unwrap().into_iter().find(|t| t.name == "Tier 1").unwrap().id;
    let form = body_text(&get_pane(&f, &admin, "/agent/custom-filters/new", Some("content")).await);
    insta::assert_snapshot!("filter_form", redact(&admin, &form));
    let share = format!("team:{}", tier1.0);
    let support = department(&f, "Support").0.to_string();
    let r = post(
        &f,
        &admin,
        "/agent/custom-filters/new",
        &[
            ("name", "Urgent support"),
            ("department", &support),
            ("urgency_min", "5"),
            ("sort", "newest"),
            ("sharing", &share),
        ],
        true,
    )
    .await;
    assert_eq!(r.status(), 200, "{}", body_text(&r));
    let to = r.headers()["hx-redirect"].to_str().unwrap().to_string();
    assert!(to.starts_with("/agent/custom-filters/"), "{to}");
    let saved = f.hd.saved_filters(f.hd.agent_by_email(demo::ADMIN.0).unwrap().unwrap().id).list().unwrap();
    let sf = saved.iter().find(|s| s.filter.name == "Urgent support").expect("saved");
    assert_eq!(sf.filter.criteria.urgency.map(|u| (u.min, u.max)), Some((5, 10)));
    assert_eq!(sf.sharing, helpdesk_core::filters::saved::Sharing::Team(tier1));

    // Its list: the page (remembered for /agent) and the pane with the filter pane out of band.
    let page = get_pane(&f, &admin, &to, None).await;
    assert_eq!(page.status(), 200);
    let r = get_pane(&f, &admin, "/agent", None).await;
    assert_eq!(r.headers()["location"], to.as_str(), "survives a reload");
    let pane = body_text(&get_pane(&f, &admin, &to, Some("list-pane")).await);
    assert!(pane.contains("Urgent support") && pane.contains("/edit"), "{pane}");
    insta::assert_snapshot!("filter_list_pane", redact(&admin, &pane));

    // Sam, in Tier 1, sees it with its count, but may not change it.
    let sam = login_workspace(&f, demo::AGENT).await;
    let pane = body_text(&get_pane(&f, &sam, "/agent/filters/all", Some("list-pane")).await);
    let count =
        f.hd.saved_filters(f.hd.agent_by_email(demo::AGENT.0).unwrap().unwrap().id).count(sf.id).unwrap();
    let entry = format!(
        r#"<span class="title">Urgent support <span class="shared" aria-hidden="true">⇄</span><span class="vh"> (shared)</span></span><span class="count">{}</span>"#,
        count.count
    );
    assert!(pane.contains(&entry), "{pane}");
    let list = body_text(&get_pane(&f, &sam, &to, Some("list-pane")).await);
    assert!(!list.contains("/edit"), "not Sam's to edit");
    let r = get_pane(&f, &sam, &format!("{to}/edit"), Some("content")).await;
    assert_eq!(r.status(), 403);
    let r = post(&f, &sam, &format!("{to}/delete"), &[], true).await;
    assert_eq!(r.status(), 403);

    // Refusals next to their field, the form kept: a name taken, everyone without admin, an empty range.
    let r = post(
        &f,
        &admin,
        "/agent/custom-filters/new",
        &[("name", "Urgent support"), ("labels_any", "vip")],
        true,
    )
    .await;
    assert_eq!(r.status(), 422);
    let text = body_text(&r);
    assert!(text.contains(r#"id="err-name""#) && text.contains(r#"value="vip""#), "{text}");
    insta::assert_snapshot!("filter_refused", redact(&admin, &text));
    let r =
        post(&f, &sam, "/agent/custom-filters/new", &[("name", "Mine"), ("sharing", "everyone")], true).await;
    assert_eq!(r.status(), 422);
    assert!(body_text(&r).contains(r#"id="err-sharing""#));
    let r = post(
        &f,
        &sam,
        "/agent/custom-filters/new",
        &[("name", "Mine"), ("urgency_min", "8"), ("urgency_max", "3")],
        true,
    )
    .await;
    assert_eq!(r.status(), 422);
    assert!(body_text(&r).contains(r#"id="err-urgency""#));
    let r = post(&f, &sam, "/agent/custom-filters/new", &[("name", "Mine"), ("agent", "999")], true).await;
    assert_eq!(r.status(), 422);
    assert!(body_text(&r).contains(r#"id="err-agent""#), "an unknown reference by its field");

    // Edit keeps what the form shows; delete asks first.
    let edit = body_text(&get_pane(&f, &admin, &format!("{to}/edit"), Some("content")).await);
    assert!(
        edit.contains(r#"value="Urgent support""#) && edit.contains(r#"value="newest" selected"#),
        "{edit}"
    );
    let r = post(
        &f,
        &admin,
        &format!("{to}/edit"),
        &[("name", "Very urgent"), ("urgency_min", "9"), ("sharing", &share)],
        true,
    )
    .await;
    assert_eq!(r.status(), 200, "{}", body_text(&r));
    assert_eq!(f.hd.saved_filters(sf.owner).get(sf.id).unwrap().filter.name, "Very urgent");
    let confirm = body_text(&get_pane(&f, &admin, &format!("{to}/delete"), Some("content")).await);
    assert!(confirm.contains("Delete the filter “Very urgent”?"));
    let r = post(&f, &admin, &format!("{to}/delete"), &[], true).await;
    assert_eq!(r.headers()["hx-redirect"], "/agent");
    assert_eq!(get_pane(&f, &admin, &to, None).await.status(), 404);
    let r = get_pane(&f, &admin, "/agent", None).await;
    assert_eq!(r.headers()["location"], "/agent/filters/mine", "back to a built-in");
}

#[tokio::test]
async fn preferences_set_the_signature_and_the_time_zone() {
    let f = fixture();
    let p = login_workspace(&f, demo::AGENT).await;
    let page = body_text(&get_pane(&f, &p, "/agent/profile", Some("content")).await);
    assert!(
        page.contains("Sam Support") && page.contains("sam@example.com") && page.contains("(your browser's)")
    );
    insta::assert_snapshot!("preferences", redact(&p, &page));
    let r = post(&f, &p, "/agent/profile", &[("signature", "Sam\nTier 1"), ("time_zone", "Mars/Base")], true)
        .await;
    assert_eq!(r.status(), 422);
    let text = body_text(&r);
    assert!(text.contains(r#"id="err-time_zone""#) && text.contains("Sam\nTier 1"), "{text}");
    let r =
        post(&f, &p, "/agent/profile", &[("signature", "Sam\nTier 1"), ("time_zone", "Europe/Oslo")], true)
            .await;
    assert_eq!(r.status(), 200);
    let text = body_text(&r);
    assert!(text.contains("Europe/Oslo (your setting)"), "{text}");
    // The workspace now uses it; a reply starts with the signature under it.
    let t = body_text(&get_pane(&f, &p, "/agent/tickets/2", None).await);
    assert!(t.contains("Times in Europe/Oslo (your setting)"));
    assert!(t.contains("data-signature=\"Sam\nTier 1\"") && t.contains(">\n\nSam\nTier 1</textarea>"), "{t}");
}

#[tokio::test]
async fn notifications_are_saved_as_a_whole() {
    let f = fixture();
    let p = login_workspace(&f, demo::AGENT).await;
    let sam = f.hd.agent_by_email(demo::AGENT.0).unwrap().unwrap().id;
    let page = body_text(&get_pane(&f, &p, "/agent/profile/notifications", Some("content")).await);
    insta::assert_snapshot!("notifications", redact(&p, &page));
    let before = f.hd.subscriptions(sam).unwrap();
    let on = before.rules.iter().filter(|s| s.channel == DeliveryChannel::InApp).count();
    assert_eq!(page.matches("checked").count(), before.rules.len(), "every stored rule ticked");
    assert!(on > 0);
    // Only "Assignment changes, Mine, in the app" (row 4, column 0, channel 0).
    let r = post(&f, &p, "/agent/profile/notifications", &[("sub", "4-0-0")], true).await;
    assert_eq!(r.status(), 200);
    let after = f.hd.subscriptions(sam).unwrap();
    assert_eq!(
        after.rules.into_iter().collect::<Vec<_>>(),
        vec![Subscription {
            event: NotifyEvent::Assignment,
            scope: Scope::Mine,
            channel: DeliveryChannel::InApp
        }]
    );
    let r = post(&f, &p, "/agent/profile/notifications", &[("sub", "99-0-0")], true).await;
    assert_eq!(r.status(), 400, "a cell that does not exist changes nothing");
    assert_eq!(f.hd.subscriptions(sam).unwrap().rules.len(), 1);
    let r = post(&f, &p, "/agent/profile/notifications", &[], false).await;
    assert_eq!(r.status(), 403);
}

#[tokio::test]
async fn password_change_checks_the_current_one_and_ends_other_sessions() {
    let f = fixture();
    let p = login_workspace(&f, demo::AGENT).await;
    let other = login_workspace(&f, demo::AGENT).await;
    let page = body_text(&get_pane(&f, &p, "/agent/profile/password", Some("content")).await);
    insta::assert_snapshot!("password", redact(&p, &page));
    let r = post(
        &f,
        &p,
        "/agent/profile/password",
        &[("current", "nope"), ("new", "a-new-password-1"), ("repeat", "a-new-password-1")],
        true,
    )
    .await;
    assert_eq!(r.status(), 422);
    assert!(body_text(&r).contains(r#"id="err-current""#));
    let r = post(
        &f,
        &p,
        "/agent/profile/password",
        &[("current", demo::AGENT.1), ("new", "a-new-password-1"), ("repeat", "different")],
        true,
    )
    .await;
    assert_eq!(r.status(), 422);
    assert!(body_text(&r).contains(r#"id="err-repeat""#));
    let r = post(
        &f,
        &p,
        "/agent/profile/password",
        &[("current", demo::AGENT.1), ("new", "a-new-password-1"), ("repeat", "a-new-password-1")],
        true,
    )
    .await;
    assert_eq!(r.status(), 200, "{}", body_text(&r));
    assert!(body_text(&r).contains("1 other session was logged out."));
    assert_eq!(get_pane(&f, &p, "/agent/profile", None).await.status(), 200, "this session stays");
    assert_eq!(get_pane(&f, &other, "/agent/profile", None).await.status(), 303, "the other one ended");
    assert!(f.hd.verify_agent_password(demo::AGENT.0, "a-new-password-1").unwrap().is_some());
}
