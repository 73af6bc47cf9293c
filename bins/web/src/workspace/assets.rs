//! The workspace's static files, embedded in the binary and served under
//! versioned paths (the vendored packages by their version, our own files by
//! a hash of their content) with a year-long, immutable cache lifetime.
//!
//! Vendored (see the README): htmx.org 2.0.8 (0BSD), htmx-ext-sse 2.2.4
//! (0BSD), lucide-static 0.555.0 icons (ISC) as an inline SVG sprite.

use helpdesk_store::auth::sha256_hex;
use std::sync::OnceLock;
use warp::filters::BoxedFilter;
use warp::reply::Response;
use warp::Filter;

/// htmx, vendored from the `htmx.org` npm package.
pub const HTMX_JS: &str = include_str!("../../assets/vendor/htmx/htmx.min.js");
/// The htmx server-sent events extension, from the `htmx-ext-sse` npm package.
pub const SSE_JS: &str = include_str!("../../assets/vendor/htmx-ext-sse/sse.min.js");
/// The icons used, as `<symbol id="i-NAME">` (from `lucide-static`).
pub const SPRITE: &str = include_str!("../../assets/vendor/lucide/sprite.svg");
/// The workspace stylesheet (design tokens, layout, components).
pub const CSS: &str = include_str!("../../assets/workspace/workspace.css");
/// The workspace script: keyboard shortcuts, time zone cookie, small glue.
pub const JS: &str = include_str!("../../assets/workspace/workspace.js");
/// The favicon.
pub const FAVICON: &str = include_str!("../../assets/workspace/favicon.svg");

/// Path of htmx.
pub const HTMX_PATH: &str = "/agent/assets/htmx-2.0.8.min.js";
/// Path of the SSE extension.
pub const SSE_PATH: &str = "/agent/assets/htmx-ext-sse-2.2.4.min.js";

fn short_hash(s: &str) -> String {
    sha256_hex(s)[..12].to_string()
}

/// Path of the stylesheet (changes with its content).
pub fn css_path() -> &'static str {
    static P: OnceLock<String> = OnceLock::new();
    P.get_or_init(|| format!("/agent/assets/workspace-{}.css", short_hash(CSS)))
}

/// Path of the script (changes with its content).
pub fn js_path() -> &'static str {
    static P: OnceLock<String> = OnceLock::new();
    P.get_or_init(|| format!("/agent/assets/workspace-{}.js", short_hash(JS)))
}

/// Path of the file picker script (changes with its content).
pub fn files_js_path() -> &'static str {
    static P: OnceLock<String> = OnceLock::new();
    P.get_or_init(|| format!("/agent/assets/files-{}.js", short_hash(crate::files::FILES_JS)))
}

/// Path of the favicon (changes with its content).
pub fn favicon_path() -> &'static str {
    static P: OnceLock<String> = OnceLock::new();
    P.get_or_init(|| format!("/agent/assets/favicon-{}.svg", short_hash(FAVICON)))
}

fn file(body: &'static str, content_type: &'static str, immutable: bool) -> Response {
    let mut r = Response::new(body.into());
    let h = r.headers_mut();
    h.insert("content-type", content_type.parse().expect("static header"));
    let cache = if immutable { "public, max-age=31536000, immutable" } else { "public, max-age=86400" };
    h.insert("cache-control", cache.parse().expect("static header"));
    r
}

/// The asset at `/agent/assets/{name}`, if `name` is a current one.
pub fn asset(name: &str) -> Option<Response> {
    let path = format!("/agent/assets/{name}");
    let js = "text/javascript; charset=utf-8";
    Some(match path.as_str() {
        HTMX_PATH => file(HTMX_JS, js, true),
        SSE_PATH => file(SSE_JS, js, true),
        p if p == css_path() => file(CSS, "text/css; charset=utf-8", true),
        p if p == js_path() => file(JS, js, true),
        p if p == files_js_path() => file(crate::files::FILES_JS, js, true),
        p if p == favicon_path() => file(FAVICON, "image/svg+xml", true),
        _ => return None,
    })
}

/// `GET /agent/assets/{name}` and `GET /favicon.ico`.
pub fn routes() -> BoxedFilter<(Response,)> {
    let assets = warp::path!("agent" / "assets" / String).and(warp::get()).map(|name: String| {
        asset(&name).unwrap_or_else(|| {
            let mut r = Response::new("no such asset: assets are versioned, reload the page".into());
            *r.status_mut() = warp::http::StatusCode::NOT_FOUND;
            r.headers_mut()
                .insert("content-type", "text/plain; charset=utf-8".parse().expect("static header"));
            r
        })
    });
    let favicon = warp::path!("favicon.ico").and(warp::get()).map(|| file(FAVICON, "image/svg+xml", false));
    assets.or(favicon).unify().boxed()
}
