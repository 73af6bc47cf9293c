//! The website embed endpoint: CORS, spam checks, rate limits, clear errors.

mod common;
use common::*;
use helpdesk_core::*;
use serde_json::json;

fn submit(body: serde_json::Value) -> warp::test::RequestBuilder {
    warp::test::request()
        .method("POST")
        .path("/api/embed/tickets")
        .header("origin", "http://shop.example")
        .json(&body)
}

fn good() -> serde_json::Value {
    json!({"name": "Visitor", "email": "visitor@shop.example", "subject": "Where is my order?", "message": "Order 42 has not arrived.", "department": 2, "elapsed_ms": 5000})
}

#[tokio::test]
async fn preflight_and_submission_from_another_origin() {
    let f = fixture();
    let r = warp::test::request()
        .method("OPTIONS")
        .path("/api/embed/tickets")
        .header("origin", "http://shop.example")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "content-type")
        .reply(&f.routes)
        .await;
    assert_eq!(r.status(), 200);
    assert!(r.headers().get("access-control-allow-origin").is_some());

    let r = submit(good()).reply(&f.routes).await;
    assert_eq!(r.status(), 201, "{}", body_text(&r));
    assert!(r.headers().get("access-control-allow-origin").is_some());
    let v = body_json(&r);
    insta::assert_json_snapshot!(v, @r###"
    {
      "message": "Thank you! Your request #5 was received; we will reply by email.",
      "ticket": 5
    }
    "###);
    let t = f.hd.ticket(TicketId(5)).unwrap();
    assert_eq!(t.channel, Channel::Embed);
    assert_eq!(t.department, DepartmentId(2));
    assert!(f.hd.user_by_email("visitor@shop.example").unwrap().is_some());

    let r = warp::test::request().path("/embed/widget.js").reply(&f.routes).await;
    assert_eq!(r.status(), 200);
    assert!(body_text(&r).contains("/api/embed/tickets"));
}

#[tokio::test]
async fn spam_and_bad_input_get_clear_errors_with_cors_headers() {
    let f = fixture();
    let mut honeypot = good();
    honeypot["website"] = json!("http://spam.example");
    let mut fast = good();
    fast["elapsed_ms"] = json!(100);
    let mut links = good();
    links["message"] = json!("https://a https://b https://c https://d https://e https://f");
    for body in [honeypot, fast, links] {
        let r = submit(body).reply(&f.routes).await;
        assert_eq!(r.status(), 422);
        assert_eq!(body_json(&r)["error"], "spam_rejected");
    }
    let mut no_email = good();
    no_email["email"] = json!("not-an-address");
    let r = submit(no_email).reply(&f.routes).await;
    assert_eq!(r.status(), 422);
    insta::assert_json_snapshot!(body_json(&r), @r###"
    {
      "error": "invalid",
      "message": "Please enter a valid email address."
    }
    "###);
    let mut no_subject = good();
    no_subject["subject"] = json!(" ");
    assert_eq!(body_json(&submit(no_subject).reply(&f.routes).await)["message"], "Please enter a subject.");
    let r = warp::test::request()
        .method("POST")
        .path("/api/embed/tickets")
        .header("origin", "http://shop.example")
        .header("content-type", "application/json")
        .body("{oops")
        .reply(&f.routes)
        .await;
    assert_eq!(r.status(), 400);
    assert!(r.headers().get("access-control-allow-origin").is_some(), "the widget can read the error");
    assert_eq!(f.hd.store().last_ticket_id().unwrap(), Some(TicketId(4)), "nothing created");
}

#[tokio::test]
async fn submissions_are_rate_limited() {
    let f = fixture_with(helpdesk_web::Config { embed_per_minute: 2, ..Default::default() });
    let mut statuses = vec![];
    for _ in 0..4 {
        statuses.push(submit(good()).reply(&f.routes).await.status().as_u16());
    }
    assert_eq!(statuses, vec![201, 201, 429, 429]);
    let r = submit(good()).reply(&f.routes).await;
    assert!(r.headers().get("retry-after").is_some());
    assert_eq!(body_json(&r)["error"], "rate_limited");
}

#[tokio::test]
async fn allowed_origins_can_be_restricted() {
    let f = fixture_with(helpdesk_web::Config {
        embed_origins: vec!["http://good.example".into()],
        ..Default::default()
    });
    let r = submit(good()).reply(&f.routes).await;
    assert_eq!(r.status(), 403);
    let r = warp::test::request()
        .method("POST")
        .path("/api/embed/tickets")
        .header("origin", "http://good.example")
        .json(&good())
        .reply(&f.routes)
        .await;
    assert_eq!(r.status(), 201);
}
