//! The OpenAPI document lists every route, and every route it lists is served.

mod common;
use common::*;
use helpdesk_web::openapi::{OPENAPI_JSON, ROUTES};
use serde_json::Value;

fn doc() -> Value {
    serde_json::from_str(OPENAPI_JSON).expect("openapi.json is JSON")
}

#[test]
fn every_route_is_in_the_document_and_vice_versa() {
    let doc = doc();
    assert_eq!(doc["openapi"], "3.0.3");
    let paths = doc["paths"].as_object().unwrap();
    for (method, path) in ROUTES {
        let op = &paths.get(*path).unwrap_or_else(|| panic!("{path} missing from openapi.json"))
            [method.to_lowercase()];
        assert!(op.is_object(), "{method} {path} missing from openapi.json");
    }
    let mut documented = 0;
    for (path, ops) in paths {
        for method in ops.as_object().unwrap().keys().filter(|k| *k != "parameters") {
            documented += 1;
            assert!(
                ROUTES.iter().any(|(m, p)| m.eq_ignore_ascii_case(method) && p == path),
                "{method} {path} is documented but not a route"
            );
        }
    }
    assert_eq!(documented, ROUTES.len());
}

#[tokio::test]
async fn every_route_is_served() {
    let f = fixture();
    let s = f.login_agent(helpdesk_web::demo::ADMIN.0, helpdesk_web::demo::ADMIN.1).await;
    for (method, path) in ROUTES {
        if *path == "/api/agent/events" {
            continue; // a never-ending stream; covered by the browser test
        }
        let concrete = path
            .replace("{id}", "1")
            .replace("{filter}", "all")
            .replace("{section}", "teams")
            .replace("{key}", "plan")
            .replace("{screen}", "notifications")
            .replace("{post}", "1")
            .replace("{n}", "0")
            .replace("{snippet}", "1")
            .replace("{macro}", "1")
            .replace("{other}", "2");
        let mut req = warp::test::request()
            .method(method)
            .path(&concrete)
            .header("cookie", &s.cookie)
            .header("x-csrf-token", &s.csrf);
        if *method == "POST" && concrete.starts_with("/api/") {
            req = req.header("content-type", "application/json").body("{}");
        }
        let r = req.reply(&f.routes).await;
        // A route that does not exist answers the router's own 404/405.
        let text = body_text(&r);
        assert!(!text.contains("no such page or endpoint"), "{method} {path}: {text}");
        assert_ne!(r.status(), 405, "{method} {path}");
    }
}

#[tokio::test]
async fn the_document_is_served() {
    let f = fixture();
    let r = warp::test::request().path("/api/openapi.json").reply(&f.routes).await;
    assert_eq!(r.status(), 200);
    assert_eq!(body_json(&r), doc());
}

#[tokio::test]
async fn a_method_a_path_does_not_take_is_405_with_allow() {
    let f = fixture();
    for (method, path, allow) in [
        ("DELETE", "/api/agent/tickets/1", "GET"),
        ("PATCH", "/api/agent/custom-filters/1", "GET, PUT, DELETE"),
        ("PUT", "/", "GET"),
        ("POST", "/agent/admin/rules/export.json", "GET"),
    ] {
        let r = warp::test::request()
            .method(method)
            .path(path)
            .header("content-type", "application/x-www-form-urlencoded")
            .body("a=1")
            .reply(&f.routes)
            .await;
        assert_eq!(r.status(), 405, "{method} {path}: {}", body_text(&r));
        assert_eq!(r.headers()["allow"], allow, "{method} {path}");
    }
}
