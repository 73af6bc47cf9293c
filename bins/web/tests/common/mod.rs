//! Test fixtures: an app over an in-memory helpdesk with a manual clock and
//! the demo data, and helpers to log in and call it through warp::test.
#![allow(dead_code)]

use helpdesk_core::ManualClock;
use helpdesk_store::Helpdesk;
use helpdesk_web::{App, Config, MemoryMailer};
use serde_json::Value;
use std::sync::Arc;
use warp::filters::BoxedFilter;
use warp::http::Response;
use warp::hyper::body::Bytes;

pub struct Fixture {
    pub app: App,
    pub hd: Helpdesk,
    pub clock: Arc<ManualClock>,
    pub mailer: Arc<MemoryMailer>,
    pub routes: BoxedFilter<(warp::reply::Response,)>,
}

pub fn fixture_with(config: Config) -> Fixture {
    let clock = Arc::new(ManualClock::default());
    let hd = Helpdesk::builder().clock(clock.clone()).in_memory();
    helpdesk_web::demo::seed(&hd).expect("demo data");
    let mailer = Arc::new(MemoryMailer::default());
    let app = App::with_mailer(hd.clone(), config, mailer.clone());
    let routes = helpdesk_web::routes(app.clone());
    Fixture { app, hd, clock, mailer, routes }
}

pub fn fixture() -> Fixture {
    fixture_with(Config {
        login_per_minute: 1000,
        second_factor_tries: 1000,
        embed_per_minute: 1000,
        register_per_minute: 1000,
        ..Config::default()
    })
}

pub fn body_json(r: &Response<Bytes>) -> Value {
    serde_json::from_slice(r.body())
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(r.body())))
}

pub fn body_text(r: &Response<Bytes>) -> String {
    String::from_utf8_lossy(r.body()).into_owned()
}

/// A logged-in agent: cookie header value and CSRF token.
pub struct AgentSession {
    pub cookie: String,
    pub csrf: String,
}

/// A request by a logged-in agent (cookie and CSRF header), with a JSON body if given.
pub fn agent_request(
    s: &AgentSession,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> warp::test::RequestBuilder {
    let req = warp::test::request()
        .method(method)
        .path(path)
        .header("cookie", &s.cookie)
        .header("x-csrf-token", &s.csrf);
    match body {
        Some(b) => req.json(&b),
        None => req,
    }
}

fn cookie_of(r: &Response<Bytes>) -> String {
    let c = r.headers().get("set-cookie").expect("set-cookie").to_str().unwrap();
    c.split(';').next().unwrap().to_string()
}

impl Fixture {
    pub async fn login_agent(&self, email: &str, password: &str) -> AgentSession {
        self.api_login(serde_json::json!({"email": email, "password": password})).await
    }

    /// [`login_agent`](Self::login_agent) with a second factor.
    #[allow(dead_code)]
    pub async fn login_agent_with_code(&self, who: (&str, &str), code: &str) -> AgentSession {
        self.api_login(serde_json::json!({"email": who.0, "password": who.1, "code": code})).await
    }

    async fn api_login(&self, body: Value) -> AgentSession {
        let r = warp::test::request()
            .method("POST")
            .path("/api/agent/login")
            .json(&body)
            .reply(&self.routes)
            .await;
        assert_eq!(r.status(), 200, "{}", body_text(&r));
        let csrf = body_json(&r)["csrf_token"].as_str().unwrap().to_string();
        AgentSession { cookie: cookie_of(&r), csrf }
    }

    pub async fn get(&self, s: &AgentSession, path: &str) -> Response<Bytes> {
        warp::test::request().method("GET").path(path).header("cookie", &s.cookie).reply(&self.routes).await
    }

    pub async fn post(&self, s: &AgentSession, path: &str, body: Value) -> Response<Bytes> {
        warp::test::request()
            .method("POST")
            .path(path)
            .header("cookie", &s.cookie)
            .header("x-csrf-token", &s.csrf)
            .json(&body)
            .reply(&self.routes)
            .await
    }

    /// A portal session: (cookie, csrf) from a page's hidden field.
    pub async fn portal_visit(&self, path: &str, cookie: Option<&str>) -> (Response<Bytes>, String) {
        let mut req = warp::test::request().method("GET").path(path);
        if let Some(c) = cookie {
            req = req.header("cookie", c);
        }
        let r = req.reply(&self.routes).await;
        let cookie = match r.headers().get("set-cookie") {
            Some(_) => cookie_of(&r),
            None => cookie.unwrap_or_default().to_string(),
        };
        (r, cookie)
    }

    pub async fn portal_post(&self, cookie: &str, path: &str, form: &[(&str, &str)]) -> Response<Bytes> {
        let body: String = form
            .iter()
            .map(|(k, v)| format!("{}={}", urlencode(k), urlencode(v)))
            .collect::<Vec<_>>()
            .join("&");
        warp::test::request()
            .method("POST")
            .path(path)
            .header("cookie", cookie)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .reply(&self.routes)
            .await
    }

    /// Logs a portal user in; returns the session cookie and its CSRF token.
    pub async fn login_user(&self, email: &str, password: &str) -> (String, String) {
        let (r, cookie) = self.portal_visit("/portal/login", None).await;
        let csrf = csrf_of(&body_text(&r));
        let r = self
            .portal_post(
                &cookie,
                "/portal/login",
                &[("email", email), ("password", password), ("csrf", &csrf)],
            )
            .await;
        assert_eq!(r.status(), 303, "{}", body_text(&r));
        let cookie = cookie_of(&r);
        let (page, _) = self.portal_visit("/portal/tickets", Some(&cookie)).await;
        let csrf = csrf_of(&body_text(&page));
        (cookie, csrf)
    }
}

pub fn csrf_of(html: &str) -> String {
    let i = html.find("name=\"csrf\" value=\"").expect("csrf field") + "name=\"csrf\" value=\"".len();
    html[i..].split('"').next().unwrap().to_string()
}

pub fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            b' ' => "+".into(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A workspace (HTML) session: the cookie, and the CSRF token from a page.
pub struct Page {
    pub cookie: String,
    pub csrf: String,
}

/// Posts the workspace's login form (on to All Tickets); the answer must be
/// a 303.
pub async fn post_login_form(f: &Fixture, who: (&str, &str)) -> Response<Bytes> {
    let body =
        format!("email={}&password={}&next=%2Fagent%2Ffilters%2Fall", urlencode(who.0), urlencode(who.1));
    let r = warp::test::request()
        .method("POST")
        .path("/agent/login")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .reply(&f.routes)
        .await;
    assert_eq!(r.status(), 303, "{}", body_text(&r));
    r
}

/// Logs in through the workspace's login form and reads the CSRF token off
/// the first page.
pub async fn login_workspace(f: &Fixture, who: (&str, &str)) -> Page {
    let r = post_login_form(f, who).await;
    assert_eq!(r.headers()["location"], "/agent/filters/all");
    let cookie = r.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_string();
    let page =
        warp::test::request().path("/agent/filters/all").header("cookie", &cookie).reply(&f.routes).await;
    assert_eq!(page.status(), 200);
    Page { csrf: csrf_of(&body_text(&page)), cookie }
}

/// A workspace page, or with `target` the pane htmx would ask for.
pub async fn get_pane(f: &Fixture, p: &Page, path: &str, target: Option<&str>) -> Response<Bytes> {
    let mut req = warp::test::request().path(path).header("cookie", &p.cookie);
    if let Some(t) = target {
        req = req.header("hx-request", "true").header("hx-target", t);
    }
    req.reply(&f.routes).await
}

/// A workspace form posted as htmx sends it (CSRF token in the header).
pub async fn post_form(f: &Fixture, p: &Page, path: &str, form: &[(&str, &str)]) -> Response<Bytes> {
    warp::test::request()
        .method("POST")
        .path(path)
        .header("cookie", &p.cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .header("hx-request", "true")
        .header("x-csrf-token", &p.csrf)
        .body(form_body(form))
        .reply(&f.routes)
        .await
}

/// A form as `application/x-www-form-urlencoded`.
pub fn form_body(form: &[(&str, &str)]) -> String {
    form.iter().map(|(k, v)| format!("{}={}", urlencode(k), urlencode(v))).collect::<Vec<_>>().join("&")
}

/// HTML for a snapshot: the CSRF token redacted, one tag a line.
pub fn redact(p: &Page, html: &str) -> String {
    html.replace(&p.csrf, "[csrf]").replace("><", ">\n<")
}
