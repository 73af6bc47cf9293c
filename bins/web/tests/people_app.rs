//! The People app: finding users and organisations and their profiles, and
//! the adversarial cases: an agent without the people permission finds
//! and opens only the people of tickets in their departments, and sees
//! only those tickets on a profile.

mod common;
use common::*;
use helpdesk_core::*;
use helpdesk_web::demo;

fn globex(f: &Fixture) -> (User, Organisation) {
    let o = f.hd.create_organisation("Globex", &["globex.example"]).unwrap();
    let cid = f.hd.create_user(NewUser::new("Cid Globex", "cid@globex.example")).unwrap();
    f.hd.create_ticket(
        &Actor::User(cid.id),
        NewTicket::new("A quote", "How much?", DepartmentId(2), cid.id, Channel::Portal),
    )
    .unwrap();
    (cid, o)
}

#[tokio::test]
async fn people_are_found_and_shown_only_as_the_agent_may_see_them() {
    let f = fixture();
    let (cid, globex) = globex(&f);
    let sam = login_workspace(&f, demo::AGENT).await;
    let admin = login_workspace(&f, demo::ADMIN).await;

    // Sam (Support only, no people permission): Ann and Bob, not Cid.
    let r = get_pane(&f, &sam, "/agent/people", None).await;
    assert_eq!(r.status(), 200);
    let html = body_text(&r);
    assert!(html.contains("Ann Acme") && html.contains("Bob Builder"), "{html}");
    assert!(!html.contains("Cid Globex"), "{html}");
    assert!(html.contains("Without the people permission"));
    let r = get_pane(&f, &sam, "/agent/people?q=cid%40globex.example", None).await;
    assert!(body_text(&r).contains("No users found."), "an exact address of someone hidden finds nothing");
    let r = get_pane(&f, &sam, "/agent/people?kind=organisations", None).await;
    let html = body_text(&r);
    assert!(html.contains("Acme") && !html.contains("Globex"), "{html}");
    assert_eq!(get_pane(&f, &sam, &format!("/agent/people/users/{}", cid.id.0), None).await.status(), 403);
    assert_eq!(
        get_pane(&f, &sam, &format!("/agent/people/organisations/{}", globex.id.0), None).await.status(),
        403
    );

    // The admin finds everyone, by name, address or domain.
    let r = get_pane(&f, &admin, "/agent/people?q=GLOBEX", None).await;
    assert!(body_text(&r).contains("Cid Globex"));
    let r = get_pane(&f, &admin, "/agent/people?kind=organisations&q=globex.example", None).await;
    assert!(body_text(&r).contains("Globex"));

    // Ann's profile in the People app: her tickets by status; Acme's members.
    let ann = f.hd.user_by_email(demo::USER.0).unwrap().unwrap();
    let r = get_pane(&f, &sam, &format!("/agent/people/users/{}", ann.id.0), None).await;
    assert_eq!(r.status(), 200);
    let html = body_text(&r);
    assert!(html.contains(r#"aria-label="Tickets by status""#), "{html}");
    assert!(
        html.contains("Tickets (2)"),
        "Ann's Support tickets only, not the Sales one she is CC'd on: {html}"
    );
    assert!(html.contains(r#"aria-current="page""#) && html.contains("People"), "inside the People app");
    let acme = ann.organisation.unwrap();
    let r = get_pane(&f, &sam, &format!("/agent/people/organisations/{}", acme.0), None).await;
    let html = body_text(&r);
    assert!(
        html.contains("Members (1)") && html.contains(&format!("/agent/people/users/{}", ann.id.0)),
        "{html}"
    );
}
