//! End-to-end tests in headless Chromium (Debian's chromium + chromedriver,
//! installed by scripts/test-deps.sh): an agent logs in and replies, a user
//! submits a ticket in the portal, and a visitor submits the embed widget
//! from a page on another origin. Screenshots go to target/screenshots/.
//!
//! Without chromium the test is skipped locally, but fails when `CI` is set.

use fantoccini::{ClientBuilder, Locator};
use helpdesk_core::*;
use helpdesk_store::Helpdesk;
use helpdesk_web::{demo, App, Config};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use warp::Filter;

fn find(bin: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?.to_str()?.split(':').map(|d| PathBuf::from(d).join(bin)).find(|p| p.is_file())
}

struct Driver(Child);
impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

async fn serve(routes: warp::filters::BoxedFilter<(warp::reply::Response,)>, host: &str) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind(format!("{host}:0")).await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(warp::serve(routes).incoming(listener).run());
    addr
}

async fn wait_text(c: &fantoccini::Client, css: &str, want: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let text = match c.find(Locator::Css(css)).await {
            Ok(e) => e.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        };
        if text.contains(want) {
            return text;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {want:?} in {css}; last text: {text:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn screenshot(c: &fantoccini::Client, name: &str) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    let png = c.screenshot().await.unwrap();
    std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_portal_and_embed_in_chromium() {
    let (Some(chromium), Some(chromedriver)) = (find("chromium"), find("chromedriver")) else {
        if std::env::var_os("CI").is_some() {
            panic!("chromium and chromedriver are required in CI: run scripts/test-deps.sh");
        }
        eprintln!(
            "skipping browser test: chromium/chromedriver not installed (scripts/test-deps.sh installs them)"
        );
        return;
    };
    let port = free_port();
    let driver = Driver(
        Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver"),
    );
    let profile = tempfile::tempdir().unwrap();

    let hd = Helpdesk::in_memory();
    demo::seed(&hd).unwrap();
    let app = App::new(hd.clone(), Config::default());
    // In-app notifications reach the bay through the delivery worker.
    app.start_delivery(Vec::new(), Duration::from_millis(200));
    let server = serve(helpdesk_web::routes(app.clone()), "127.0.0.1").await;
    let base = format!("http://127.0.0.1:{}", server.port());
    // A site on another origin (other host name and port) that embeds the widget.
    let page = format!(
        "<!DOCTYPE html><html><head><title>Shop</title></head><body><h1>Our shop</h1>\
         <script src=\"{base}/embed/widget.js\" data-department=\"2\" async></script></body></html>"
    );
    let site = warp::get().and(warp::path::end()).map(move || warp::reply::html(page.clone()));
    let site =
        serve(warp::Filter::boxed(warp::Filter::map(site, warp::Reply::into_response)), "127.0.0.1").await;
    let site_url = format!("http://localhost:{}/", site.port());

    let caps: serde_json::Map<String, serde_json::Value> = serde_json::from_value(serde_json::json!({
        "goog:chromeOptions": {
            "binary": chromium,
            "args": ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-dev-shm-usage",
                     "--disable-background-networking", "--disable-component-update", "--disable-sync",
                     "--window-size=1400,900", format!("--user-data-dir={}", profile.path().display())]
        }
    }))
    .unwrap();
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    let mut c = None;
    let deadline = Instant::now() + Duration::from_secs(20);
    while c.is_none() {
        match ClientBuilder::new(connector.clone())
            .capabilities(caps.clone())
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
        {
            Ok(client) => c = Some(client),
            Err(e) => {
                assert!(Instant::now() < deadline, "chromedriver did not start: {e}");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
    let c = c.unwrap();

    // --- agent: log in, open a ticket from a filter, reply and resolve ------
    c.goto(&format!("{base}/agent")).await.unwrap();
    c.wait().for_element(Locator::Css("#login-email")).await.unwrap().send_keys(demo::ADMIN.0).await.unwrap();
    c.find(Locator::Css("#login-password")).await.unwrap().send_keys(demo::ADMIN.1).await.unwrap();
    c.find(Locator::Css("#login-submit")).await.unwrap().click().await.unwrap();
    wait_text(&c, "#filter-list", "All Tickets").await;
    wait_text(&c, "#ticket-list", "Printer on fire").await;
    c.find(Locator::Css("#ticket-list li[data-ticket='1']")).await.unwrap().click().await.unwrap();
    wait_text(&c, ".ticket[data-ticket='1'] h1", "Printer on fire").await;
    wait_text(&c, ".ticket[data-ticket='1'] .posts", "Agents only").await; // notes show for agents
    c.find(Locator::Css("#reply-body")).await.unwrap().send_keys("Unplug it and step away.").await.unwrap();
    c.find(Locator::Css("#reply-status option[value='resolved']")).await.unwrap().click().await.unwrap();
    c.find(Locator::Css("#send-reply")).await.unwrap().click().await.unwrap();
    wait_text(&c, ".ticket[data-ticket='1'] .posts", "Unplug it and step away.").await;
    let t = hd.ticket(TicketId(1)).unwrap();
    assert_eq!(t.status, Status::Resolved);
    assert_eq!(t.messages.last().unwrap().body, "Unplug it and step away.");

    // The search box jumps to a ticket id.
    c.find(Locator::Css("#search")).await.unwrap().send_keys("2\u{E007}").await.unwrap();
    wait_text(&c, ".ticket[data-ticket='2'] h1", "Scanner makes blurry scans").await;

    // The notifications bay shows the admin's in-app notification of a change
    // made by someone else outside this server's routes (the worker's poll
    // picks it up).
    let ann = hd.user_by_email(demo::USER.0).unwrap().unwrap();
    hd.user_reply(TicketId(2), ann.id, "Here is the sample scan.").unwrap();
    wait_text(&c, "#bay-count", "1").await;
    c.find(Locator::Css("#bay-button")).await.unwrap().click().await.unwrap();
    wait_text(&c, "#bay-list", "Scanner makes blurry scans").await;
    screenshot(&c, "agent").await;
    c.find(Locator::Css("#bay-button")).await.unwrap().click().await.unwrap();

    // --- portal: log in and submit a ticket with a custom field -------------
    c.goto(&format!("{base}/portal/login")).await.unwrap();
    c.find(Locator::Css("input[name=email]")).await.unwrap().send_keys(demo::USER.0).await.unwrap();
    c.find(Locator::Css("input[name=password]")).await.unwrap().send_keys(demo::USER.1).await.unwrap();
    c.find(Locator::Css("form.card button[type=submit]")).await.unwrap().click().await.unwrap();
    wait_text(&c, "main", "Printer on fire").await;
    c.goto(&format!("{base}/portal/tickets/new?department=1")).await.unwrap();
    c.find(Locator::Css("input[name=subject]")).await.unwrap().send_keys("Toner smells odd").await.unwrap();
    c.find(Locator::Css("textarea[name=body]"))
        .await
        .unwrap()
        .send_keys("Since the last refill.")
        .await
        .unwrap();
    c.find(Locator::Css("select[name=field_product] option[value=Printer]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    c.find(Locator::Css("form.card[action='/portal/tickets'] button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_text(&c, "main", "Since the last refill.").await;
    let id = hd.store().last_ticket_id().unwrap().unwrap();
    let t = hd.ticket(id).unwrap();
    assert_eq!((t.subject.as_str(), t.channel, t.user), ("Toner smells odd", Channel::Portal, ann.id));
    assert_eq!(t.fields.get("product"), Some(&FieldValue::Choice("Printer".into())));
    screenshot(&c, "portal").await;

    // --- embed: a page on another origin posts the widget -------------------
    c.goto(&site_url).await.unwrap();
    c.wait().for_element(Locator::Css(".helpdesk-embed form")).await.unwrap();
    let form = |name: &'static str| {
        c.find(Locator::Css(if name == "message" { ".helpdesk-embed textarea[name=message]" } else { name }))
    };
    form(".helpdesk-embed input[name=name]").await.unwrap().send_keys("Vera Visitor").await.unwrap();
    form(".helpdesk-embed input[name=email]").await.unwrap().send_keys("not-an-email").await.unwrap();
    c.find(Locator::Css(".helpdesk-embed button[type=submit]")).await.unwrap().click().await.unwrap();
    wait_text(&c, ".helpdesk-embed-status", "valid email").await;
    let email = form(".helpdesk-embed input[name=email]").await.unwrap();
    email.clear().await.unwrap();
    email.send_keys("vera@shop.example").await.unwrap();
    form(".helpdesk-embed input[name=subject]").await.unwrap().send_keys("Bulk order").await.unwrap();
    form("message").await.unwrap().send_keys("Do you ship to Norway?").await.unwrap();
    tokio::time::sleep(Duration::from_millis(1600)).await; // humans take a moment; the spam check wants it
    c.find(Locator::Css(".helpdesk-embed button[type=submit]")).await.unwrap().click().await.unwrap();
    wait_text(&c, ".helpdesk-embed-status", "Thank you").await;
    screenshot(&c, "embed").await;
    let hd2 = hd.clone();
    wait_until("the embed ticket", || hd2.user_by_email("vera@shop.example").ok().flatten().is_some()).await;
    let id = hd.store().last_ticket_id().unwrap().unwrap();
    let t = hd.ticket(id).unwrap();
    assert_eq!(
        (t.subject.as_str(), t.channel, t.department),
        ("Bulk order", Channel::Embed, DepartmentId(2))
    );

    c.close().await.unwrap();
    drop(driver);
}
