//! Attachments over HTTP: uploads from the workspace, the API, the portal and
//! the embed (multipart), downloads with safe headers, and the adversarial
//! cases: another user's file, a note's file, the original mail, an upload
//! over the limits (refused before its body is read) and a file whose name
//! lies about its type.

mod common;
use common::*;
use helpdesk_core::*;
use helpdesk_web::demo;
use std::io::{Read, Write};

const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x02\0\0\0\x90wS\xde";
const BOUNDARY: &str = "----helpdesk-test-boundary";

/// A `multipart/form-data` body: text fields, then files as (field, name, bytes).
fn multipart(fields: &[(&str, &str)], files: &[(&str, &str, &[u8])]) -> Vec<u8> {
    let mut b = Vec::new();
    for (k, v) in fields {
        write!(b, "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n").unwrap();
    }
    for (k, name, bytes) in files {
        write!(
            b,
            "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{k}\"; filename=\"{name}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
        )
        .unwrap();
        b.extend_from_slice(bytes);
        b.extend_from_slice(b"\r\n");
    }
    write!(b, "--{BOUNDARY}--\r\n").unwrap();
    b
}

fn content_type() -> String {
    format!("multipart/form-data; boundary={BOUNDARY}")
}

fn header(r: &warp::http::Response<warp::hyper::body::Bytes>, name: &str) -> String {
    r.headers().get(name).map(|v| v.to_str().unwrap().to_string()).unwrap_or_default()
}

/// A multipart POST with `cookie` (and, for the agent API, `csrf`).
async fn upload(
    f: &Fixture,
    (cookie, csrf): (&str, Option<&str>),
    path: &str,
    fields: &[(&str, &str)],
    files: &[(&str, &str, &[u8])],
) -> warp::http::Response<warp::hyper::body::Bytes> {
    let mut req = warp::test::request()
        .method("POST")
        .path(path)
        .header("cookie", cookie)
        .header("content-type", content_type())
        .body(multipart(fields, files));
    if let Some(t) = csrf {
        req = req.header("x-csrf-token", t);
    }
    req.reply(&f.routes).await
}

async fn api_upload(
    f: &Fixture,
    s: &AgentSession,
    path: &str,
    fields: &[(&str, &str)],
    files: &[(&str, &str, &[u8])],
) -> warp::http::Response<warp::hyper::body::Bytes> {
    upload(f, (&s.cookie, Some(&s.csrf)), path, fields, files).await
}

async fn portal_upload(
    f: &Fixture,
    cookie: &str,
    path: &str,
    fields: &[(&str, &str)],
    files: &[(&str, &str, &[u8])],
) -> warp::http::Response<warp::hyper::body::Bytes> {
    upload(f, (cookie, None), path, fields, files).await
}

fn last_message(f: &Fixture, id: u64) -> Message {
    f.hd.ticket(TicketId(id)).unwrap().messages.last().unwrap().clone()
}

#[tokio::test]
async fn an_agents_reply_carries_files_that_download_with_safe_headers() {
    let f = fixture();
    let s = f.login_agent(demo::ADMIN.0, demo::ADMIN.1).await;
    let page = b"<!DOCTYPE html><script>alert(1)</script>";
    let r = api_upload(
        &f,
        &s,
        "/api/agent/tickets/1/reply",
        &[("body", "Two files for you."), ("status", "awaiting_user")],
        &[("file", "shot.png", PNG), ("file", "innocent.png", page)],
    )
    .await;
    assert_eq!(r.status(), 200, "{}", body_text(&r));
    let m = last_message(&f, 1);
    let kept: Vec<(&str, &str, u64)> =
        m.attachments.iter().map(|a| (a.filename.as_str(), a.content_type.as_str(), a.size)).collect();
    insta::assert_debug_snapshot!(kept, @r#"
    [
        (
            "shot.png",
            "image/png",
            33,
        ),
        (
            "innocent.png",
            "text/html",
            40,
        ),
    ]
    "#);

    // A real PNG is shown in place; a page named .png downloads as what it is.
    let base = format!("/api/agent/tickets/1/posts/{}/files", m.id.0);
    let img = f.get(&s, &format!("{base}/0")).await;
    assert_eq!(img.status(), 200);
    assert_eq!(img.body().as_ref(), PNG);
    let headers = |r: &warp::http::Response<warp::hyper::body::Bytes>| {
        ["content-type", "content-disposition", "x-content-type-options", "content-security-policy"]
            .map(|h| format!("{h}: {}", header(r, h)))
            .join("\n")
    };
    insta::assert_snapshot!(headers(&img), @r#"
    content-type: image/png
    content-disposition: inline; filename="shot.png"; filename*=UTF-8''shot%2Epng
    x-content-type-options: nosniff
    content-security-policy: default-src 'none'; sandbox
    "#);
    let html = f.get(&s, &format!("{base}/1")).await;
    insta::assert_snapshot!(headers(&html), @r#"
    content-type: text/html; charset=utf-8
    content-disposition: attachment; filename="innocent.png"; filename*=UTF-8''innocent%2Epng
    x-content-type-options: nosniff
    content-security-policy: default-src 'none'; sandbox
    "#);
    assert_eq!(f.get(&s, &format!("{base}/2")).await.status(), 404, "no third file");
    assert_eq!(f.get(&s, "/api/agent/tickets/1/posts/999/files/0").await.status(), 404);

    // The timeline shows the picture and the link to the other file.
    let ws = f.get(&s, "/agent/tickets/1").await;
    let page = body_text(&ws);
    assert!(page.contains(&format!("<img src=\"{base}/0\" alt=\"shot.png\"")), "thumbnail");
    assert!(page.contains("innocent.png</a> <span class=\"file-meta\">HTML page, 40 bytes</span>"), "link");
    assert!(
        page.contains("enctype=\"multipart/form-data\"") && page.contains("data-files"),
        "the composer takes files"
    );
}

#[tokio::test]
async fn files_of_notes_and_the_original_mail_never_reach_users() {
    let f = fixture();
    let s = f.login_agent(demo::ADMIN.0, demo::ADMIN.1).await;
    let r = api_upload(
        &f,
        &s,
        "/api/agent/tickets/1/notes",
        &[("body", "Internal screenshot")],
        &[("file", "internal.png", PNG)],
    )
    .await;
    assert_eq!(r.status(), 200, "{}", body_text(&r));
    let note = f.hd.ticket(TicketId(1)).unwrap().notes.last().unwrap().clone();
    assert_eq!(note.attachments.len(), 1);
    let agent_path = format!("/api/agent/tickets/1/posts/{}/files/0", note.id.0);
    assert_eq!(f.get(&s, &agent_path).await.status(), 200, "agents fetch a note's file");

    let (ann, _) = f.login_user(demo::USER.0, demo::USER.1).await;
    let (missing, _) = f.portal_visit("/portal/tickets/1/posts/999/files/0", Some(&ann)).await;
    let (of_note, _) =
        f.portal_visit(&format!("/portal/tickets/1/posts/{}/files/0", note.id.0), Some(&ann)).await;
    assert_eq!((of_note.status(), body_text(&of_note)), (missing.status(), body_text(&missing)));
    assert_eq!(missing.status(), 404);
    let (page, _) = f.portal_visit("/portal/tickets/1", Some(&ann)).await;
    assert!(!body_text(&page).contains("internal.png"), "the note's file is not listed");

    // A message that came by mail keeps its original for agents only.
    let admin = f.hd.agent_by_email(demo::ADMIN.0).unwrap().unwrap();
    let original =
        f.hd.store_files(vec![helpdesk_store::files::NewFile::new("x", b"From: a\r\n\r\nhi".to_vec())])
            .unwrap();
    let original = Attachment {
        filename: "original.eml".into(),
        content_type: "message/rfc822".into(),
        ..original[0].clone()
    };
    let ann_id = f.hd.user_by_email(demo::USER.0).unwrap().unwrap().id;
    f.hd.execute(
        TicketId(1),
        &Actor::User(ann_id),
        Command::UserReply { body: "by mail".into(), attachments: vec![original], channel: Channel::Email },
    )
    .unwrap();
    let m = last_message(&f, 1);
    let (r, _) = f.portal_visit(&format!("/portal/tickets/1/posts/{}/files/0", m.id.0), Some(&ann)).await;
    assert_eq!(r.status(), 404, "users do not get the original mail");
    assert_eq!(f.get(&s, &format!("/api/agent/tickets/1/posts/{}/files/0", m.id.0)).await.status(), 200);
    let _ = admin;
}

#[tokio::test]
async fn another_users_files_read_as_not_found() {
    let f = fixture();
    let s = f.login_agent(demo::ADMIN.0, demo::ADMIN.1).await;
    // Ticket 4 is Bob's.
    let r =
        api_upload(&f, &s, "/api/agent/tickets/4/reply", &[("body", "Here")], &[("file", "bob.png", PNG)])
            .await;
    assert_eq!(r.status(), 200, "{}", body_text(&r));
    let m = last_message(&f, 4);
    let (ann, _) = f.login_user(demo::USER.0, demo::USER.1).await;
    let (theirs, _) =
        f.portal_visit(&format!("/portal/tickets/4/posts/{}/files/0", m.id.0), Some(&ann)).await;
    let (none, _) = f.portal_visit("/portal/tickets/9999/posts/1/files/0", Some(&ann)).await;
    assert_eq!(theirs.status(), 404);
    assert_eq!(body_text(&theirs), body_text(&none), "the same answer as for nothing");
    // Logged out: to the login form.
    let r = warp::test::request()
        .path(&format!("/portal/tickets/4/posts/{}/files/0", m.id.0))
        .reply(&f.routes)
        .await;
    assert_eq!(r.status(), 303);
    // An agent who may not see the department gets the same 404 as for nothing.
    let sam = f.login_agent(demo::AGENT.0, demo::AGENT.1).await;
    let agent = f.hd.agent_by_email(demo::AGENT.0).unwrap().unwrap();
    let hidden = f.hd.ticket(TicketId(4)).unwrap();
    if !agent.permissions.can_see(hidden.department) {
        assert_eq!(
            f.get(&sam, &format!("/api/agent/tickets/4/posts/{}/files/0", m.id.0)).await.status(),
            404
        );
    }
}

#[tokio::test]
async fn a_user_attaches_files_in_the_portal_and_sees_them() {
    let f = fixture();
    let (ann, csrf) = f.login_user(demo::USER.0, demo::USER.1).await;
    let r = portal_upload(
        &f,
        &ann,
        "/portal/tickets",
        &[
            ("csrf", &csrf),
            ("department", "1"),
            ("subject", "Screen is blank"),
            ("body", "See the screenshot."),
        ],
        &[("file", "C:\\Users\\ann\\screen.png", PNG), ("file", "", b"")],
    )
    .await;
    assert_eq!(r.status(), 303, "{}", body_text(&r));
    let loc = header(&r, "location");
    let id: u64 = loc.rsplit('/').next().unwrap().parse().unwrap();
    let first = f.hd.ticket(TicketId(id)).unwrap().messages[0].clone();
    assert_eq!(first.attachments.len(), 1, "the empty file input is no file");
    assert_eq!(first.attachments[0].filename, "screen.png", "no path from the browser");

    let r = portal_upload(
        &f,
        &ann,
        &format!("/portal/tickets/{id}/reply"),
        &[("csrf", &csrf), ("body", "And the log.")],
        &[("file", "log.txt", b"line 1\nline 2\n")],
    )
    .await;
    assert_eq!(r.status(), 303, "{}", body_text(&r));
    let (page, _) = f.portal_visit(&loc, Some(&ann)).await;
    let html = body_text(&page);
    let img = format!("/portal/tickets/{id}/posts/{}/files/0", first.id.0);
    assert!(html.contains(&format!("<img src=\"{img}\" alt=\"screen.png\"")), "{html}");
    assert!(html.contains("log.txt</a> <span class=\"file-meta\">Text, 14 bytes</span>"), "{html}");
    let (file, _) = f.portal_visit(&img, Some(&ann)).await;
    assert_eq!((file.status(), file.body().as_ref()), (warp::http::StatusCode::OK, PNG));

    // A refused reply keeps no file.
    let blobs = f.hd.store().blob_ids(None, 1000).unwrap().len();
    let r = portal_upload(
        &f,
        &ann,
        &format!("/portal/tickets/{id}/reply"),
        &[("csrf", &csrf), ("body", " ")],
        &[("file", "x.bin", b"\x00\x01\x02")],
    )
    .await;
    assert_eq!(r.status(), 422, "{}", body_text(&r));
    assert_eq!(f.hd.store().blob_ids(None, 1000).unwrap().len(), blobs);
}

#[tokio::test]
async fn uploads_over_the_limits_are_refused_and_change_nothing() {
    let f = fixture();
    let admin = f.hd.agent_by_email(demo::ADMIN.0).unwrap().unwrap();
    let settings = helpdesk_core::admin::Settings {
        attachment_max_file_mb: 1,
        attachment_max_message_mb: 2,
        ..f.hd.settings().unwrap()
    };
    f.hd.admin(admin.id).unwrap().set_settings(settings).unwrap();
    let s = f.login_agent(demo::ADMIN.0, demo::ADMIN.1).await;
    let before = f.hd.ticket(TicketId(1)).unwrap().version;
    let blobs = f.hd.store().blob_ids(None, 1000).unwrap().len();

    let big = vec![b'a'; (1 << 20) + 1];
    let r = api_upload(
        &f,
        &s,
        "/api/agent/tickets/1/reply",
        &[("body", "too big")],
        &[("file", "big.txt", &big)],
    )
    .await;
    assert_eq!(r.status(), 413);
    assert_eq!(body_json(&r)["message"], "files too large: a file is over 1 MB, the largest allowed");

    let parts: Vec<Vec<u8>> = (0..3).map(|i| vec![b'0' + i; 900 * 1024]).collect();
    let files: Vec<(&str, &str, &[u8])> = parts.iter().map(|p| ("file", "part.txt", p.as_slice())).collect();
    let r = api_upload(&f, &s, "/api/agent/tickets/1/reply", &[("body", "three parts")], &files).await;
    assert_eq!(r.status(), 413, "{}", body_text(&r));
    assert!(
        body_json(&r)["message"].as_str().unwrap().contains("2.6 MB; a message's files may be at most 2 MB"),
        "{}",
        body_text(&r)
    );
    assert_eq!(f.hd.ticket(TicketId(1)).unwrap().version, before);
    assert_eq!(f.hd.store().blob_ids(None, 1000).unwrap().len(), blobs, "nothing kept");

    // The workspace's composer shows the refusal in place.
    let ws = warp::test::request()
        .method("POST")
        .path("/agent/tickets/1/reply")
        .header("cookie", &s.cookie)
        .header("x-csrf-token", &s.csrf)
        .header("hx-request", "true")
        .header("content-type", content_type())
        .body(multipart(&[("body", "big"), ("mode", "reply")], &[("file", "big.txt", &big)]))
        .reply(&f.routes)
        .await;
    assert_eq!(ws.status(), 413);
    assert!(body_text(&ws).contains("files too large: a file is over 1 MB"), "{}", body_text(&ws));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_declared_length_over_the_limit_is_refused_before_the_body_is_read() {
    let f = fixture();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(warp::serve(f.routes.clone()).incoming(listener).run());
    let s = f.login_agent(demo::ADMIN.0, demo::ADMIN.1).await;
    let (cookie, csrf) = (s.cookie.clone(), s.csrf.clone());
    let answer = tokio::task::spawn_blocking(move || {
        let mut c = std::net::TcpStream::connect(addr).unwrap();
        c.set_read_timeout(Some(std::time::Duration::from_secs(10))).unwrap();
        // Announces 1 GB and sends none of it: the answer must come anyway.
        write!(
            c,
            "POST /api/agent/tickets/1/reply HTTP/1.1\r\nHost: x\r\nCookie: {cookie}\r\nX-CSRF-Token: {csrf}\r\n\
             Content-Type: multipart/form-data; boundary=b\r\nContent-Length: 1073741824\r\n\r\n"
        )
        .unwrap();
        let mut buf = [0u8; 4096];
        let n = c.read(&mut buf).expect("an answer without the body");
        String::from_utf8_lossy(&buf[..n]).into_owned()
    })
    .await
    .unwrap();
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("the request is 1 GB; a message's files may be at most 25 MB"), "{answer}");
}

#[tokio::test]
async fn the_website_form_takes_files() {
    let f = fixture();
    let r = warp::test::request()
        .method("POST")
        .path("/api/embed/tickets")
        .header("content-type", content_type())
        .body(multipart(
            &[
                ("name", "Vera Visitor"),
                ("email", "vera@example.net"),
                ("subject", "Broken checkout"),
                ("message", "The pay button does nothing."),
                ("website", ""),
                ("elapsed_ms", "5000"),
            ],
            &[("file", "checkout.png", PNG)],
        ))
        .reply(&f.routes)
        .await;
    assert_eq!(r.status(), 201, "{}", body_text(&r));
    let id = body_json(&r)["ticket"].as_u64().unwrap();
    let t = f.hd.ticket(TicketId(id)).unwrap();
    assert_eq!(t.channel, Channel::Embed);
    assert_eq!(t.messages[0].attachments[0].content_type, "image/png");
}

#[tokio::test]
async fn an_agent_creates_a_ticket_with_a_file_and_an_oversized_one_makes_nobody() {
    let f = fixture();
    let p = login_workspace(&f, demo::ADMIN).await;
    let fields = |email: &'static str| {
        vec![
            ("csrf", p.csrf.as_str()),
            ("op", "create"),
            ("email", email),
            ("name", "Olga Orders"),
            ("subject", "Invoice copy"),
            ("body", "Here is the invoice you asked for."),
            ("department", "1"),
            ("status", "awaiting_user"),
            ("field_product", "Printer"),
        ]
    };
    let form =
        warp::test::request().path("/agent/tickets/new").header("cookie", &p.cookie).reply(&f.routes).await;
    assert!(body_text(&form).contains("id=\"create-files\""), "the Create form takes files");
    let r = upload(
        &f,
        (&p.cookie, None),
        "/agent/tickets/new",
        &fields("olga@orders.example"),
        &[("file", "invoice.pdf", b"%PDF-1.7\n%%EOF\n")],
    )
    .await;
    assert_eq!(r.status(), 303, "{}", body_text(&r));
    let id: u64 = header(&r, "location").rsplit('/').next().unwrap().parse().unwrap();
    let a = &f.hd.ticket(TicketId(id)).unwrap().messages[0].attachments[0];
    assert_eq!((a.filename.as_str(), a.content_type.as_str()), ("invoice.pdf", "application/pdf"));

    let admin = f.hd.agent_by_email(demo::ADMIN.0).unwrap().unwrap();
    let s = helpdesk_core::admin::Settings { attachment_max_file_mb: 1, ..f.hd.settings().unwrap() };
    f.hd.admin(admin.id).unwrap().set_settings(s).unwrap();
    let big = vec![b'x'; (1 << 20) + 10];
    let r = upload(
        &f,
        (&p.cookie, None),
        "/agent/tickets/new",
        &fields("nobody@orders.example"),
        &[("file", "big.txt", &big)],
    )
    .await;
    assert_eq!(r.status(), 413, "{}", body_text(&r));
    assert!(body_text(&r).contains("files too large"));
    assert!(f.hd.user_by_email("nobody@orders.example").unwrap().is_none(), "nobody was made");
}
