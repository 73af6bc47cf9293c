//! The OpenAPI 3 document of the HTTP API (hand-maintained in
//! `assets/openapi.json`), served at `GET /api/openapi.json`. A test checks
//! that every route the server answers is in it.

use warp::filters::BoxedFilter;
use warp::reply::Response;
use warp::Filter;

/// The document.
pub const OPENAPI_JSON: &str = include_str!("../assets/openapi.json");

/// `GET /api/openapi.json`.
pub fn route() -> BoxedFilter<(Response,)> {
    warp::path!("api" / "openapi.json")
        .and(warp::get())
        .map(|| {
            let mut r = crate::agent::asset(OPENAPI_JSON, "application/json");
            r.headers_mut().insert("access-control-allow-origin", "*".parse().expect("static header"));
            r
        })
        .boxed()
}

/// The methods a path answers, for the `Allow` header of a 405: those of
/// the [`ROUTES`] templates that match it with the most literal segments
/// (`/agent/admin/rules/export.json` is its own route, not an admin
/// section's page).
///
/// ```
/// use helpdesk_web::openapi::allowed_methods;
/// assert_eq!(allowed_methods("/api/agent/tickets/7"), ["GET"]);
/// assert_eq!(allowed_methods("/api/agent/custom-filters/3"), ["GET", "PUT", "DELETE"]);
/// assert_eq!(allowed_methods("/agent/admin/rules/export.json"), ["GET"]);
/// assert!(allowed_methods("/nowhere").is_empty());
/// ```
pub fn allowed_methods(path: &str) -> Vec<&'static str> {
    let segments: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    let literals = |template: &str| -> Option<usize> {
        let t: Vec<&str> = template.trim_end_matches('/').split('/').collect();
        if t.len() != segments.len() {
            return None;
        }
        let mut n = 0;
        for (t, s) in t.iter().zip(&segments) {
            if t.starts_with('{') && t.ends_with('}') {
                if s.is_empty() {
                    return None;
                }
            } else if t == s {
                n += 1;
            } else {
                return None;
            }
        }
        Some(n)
    };
    let matched: Vec<(usize, &'static str)> =
        ROUTES.iter().filter_map(|(m, t)| literals(t).map(|n| (n, *m))).collect();
    let best = matched.iter().map(|(n, _)| *n).max().unwrap_or(0);
    let mut methods: Vec<&'static str> = Vec::new();
    for (n, m) in matched {
        if n == best && !methods.contains(&m) {
            methods.push(m);
        }
    }
    methods
}

/// Every route the server answers (method, OpenAPI path template). Keep in
/// step with the routers and `assets/openapi.json`; tests check both ways.
pub const ROUTES: &[(&str, &str)] = &[
    ("POST", "/api/agent/login"),
    ("POST", "/api/agent/logout"),
    ("GET", "/api/agent/me"),
    ("GET", "/api/agent/directory"),
    ("GET", "/api/agent/filters"),
    ("GET", "/api/agent/filters/{filter}/tickets"),
    ("GET", "/api/agent/search"),
    ("POST", "/api/agent/tickets"),
    ("GET", "/api/agent/tickets/{id}"),
    ("POST", "/api/agent/tickets/{id}/reply"),
    ("POST", "/api/agent/tickets/{id}/notes"),
    ("GET", "/api/agent/tickets/{id}/posts/{post}/files/{n}"),
    ("GET", "/api/agent/tickets/{id}/snippets/{snippet}"),
    ("GET", "/api/agent/snippets"),
    ("POST", "/api/agent/snippets"),
    ("GET", "/api/agent/snippets/{id}"),
    ("PUT", "/api/agent/snippets/{id}"),
    ("DELETE", "/api/agent/snippets/{id}"),
    ("GET", "/api/agent/macros"),
    ("POST", "/api/agent/macros"),
    ("GET", "/api/agent/macros/{id}"),
    ("PUT", "/api/agent/macros/{id}"),
    ("DELETE", "/api/agent/macros/{id}"),
    ("GET", "/api/agent/tickets/{id}/macros/{macro}"),
    ("POST", "/api/agent/tickets/{id}/macros/{macro}"),
    ("POST", "/api/agent/tickets/{id}/merge"),
    ("POST", "/api/agent/tickets/{id}/split"),
    ("POST", "/api/agent/tickets/{id}/links"),
    ("DELETE", "/api/agent/tickets/{id}/links/{other}"),
    ("POST", "/api/agent/tickets/{id}/commands"),
    ("POST", "/api/agent/tickets/{id}/cc"),
    ("GET", "/api/agent/users/{id}"),
    ("GET", "/api/agent/api-keys"),
    ("POST", "/api/agent/api-keys"),
    ("DELETE", "/api/agent/api-keys/{id}"),
    ("GET", "/api/agent/custom-filters"),
    ("POST", "/api/agent/custom-filters"),
    ("GET", "/api/agent/custom-filters/{id}"),
    ("PUT", "/api/agent/custom-filters/{id}"),
    ("DELETE", "/api/agent/custom-filters/{id}"),
    ("GET", "/api/agent/custom-filters/{id}/tickets"),
    ("GET", "/api/agent/preferences"),
    ("PUT", "/api/agent/preferences"),
    ("POST", "/api/agent/password"),
    ("GET", "/api/agent/notifications"),
    ("GET", "/api/agent/subscriptions"),
    ("PUT", "/api/agent/subscriptions"),
    ("GET", "/api/agent/events"),
    ("POST", "/api/mail/inbound"),
    ("POST", "/api/embed/tickets"),
    ("GET", "/api/openapi.json"),
    ("GET", "/agent"),
    ("GET", "/agent/login"),
    ("POST", "/agent/login"),
    ("GET", "/agent/login/two-factor"),
    ("POST", "/agent/login/two-factor"),
    ("POST", "/agent/logout"),
    ("GET", "/agent/filters"),
    ("GET", "/agent/filters/{filter}"),
    ("GET", "/agent/tickets/{id}"),
    ("POST", "/agent/tickets/{id}/reply"),
    ("POST", "/agent/tickets/{id}/actions"),
    ("POST", "/agent/tickets/{id}/close"),
    ("GET", "/agent/users/{id}"),
    ("GET", "/agent/organisations/{id}"),
    ("GET", "/agent/search"),
    ("GET", "/agent/tickets/new"),
    ("POST", "/agent/tickets/new"),
    ("GET", "/agent/tickets/new/user"),
    ("GET", "/agent/custom-filters/new"),
    ("POST", "/agent/custom-filters/new"),
    ("GET", "/agent/custom-filters/{id}"),
    ("GET", "/agent/custom-filters/{id}/edit"),
    ("POST", "/agent/custom-filters/{id}/edit"),
    ("GET", "/agent/custom-filters/{id}/delete"),
    ("POST", "/agent/custom-filters/{id}/delete"),
    ("GET", "/agent/profile"),
    ("POST", "/agent/profile"),
    ("GET", "/agent/profile/{screen}"),
    ("POST", "/agent/profile/{screen}"),
    ("GET", "/agent/bay"),
    ("POST", "/agent/bay/read"),
    ("GET", "/agent/assets/{name}"),
    ("GET", "/favicon.ico"),
    ("GET", "/embed/widget.js"),
    ("GET", "/"),
    ("GET", "/portal"),
    ("GET", "/portal/portal.css"),
    ("GET", "/portal/login"),
    ("POST", "/portal/login"),
    ("POST", "/portal/logout"),
    ("GET", "/portal/register"),
    ("POST", "/portal/register"),
    ("GET", "/portal/forgot-password"),
    ("POST", "/portal/forgot-password"),
    ("GET", "/portal/reset-password"),
    ("POST", "/portal/reset-password"),
    ("GET", "/portal/password"),
    ("POST", "/portal/password"),
    ("GET", "/portal/validate"),
    ("GET", "/portal/tickets"),
    ("POST", "/portal/tickets"),
    ("GET", "/portal/tickets/new"),
    ("GET", "/portal/tickets/{id}"),
    ("POST", "/portal/tickets/{id}/reply"),
    ("GET", "/portal/tickets/{id}/posts/{post}/files/{n}"),
    ("GET", "/portal/files.js"),
    ("GET", "/api/admin/settings"),
    ("PUT", "/api/admin/settings"),
    ("GET", "/api/admin/departments"),
    ("POST", "/api/admin/departments"),
    ("GET", "/api/admin/departments/{id}"),
    ("PUT", "/api/admin/departments/{id}"),
    ("DELETE", "/api/admin/departments/{id}"),
    ("POST", "/api/admin/departments/{id}/fields"),
    ("PUT", "/api/admin/departments/{id}/fields/{key}"),
    ("POST", "/api/admin/departments/{id}/fields/{key}/retire"),
    ("PUT", "/api/admin/departments/{id}/field-order"),
    ("GET", "/api/admin/teams"),
    ("POST", "/api/admin/teams"),
    ("PUT", "/api/admin/teams/{id}"),
    ("DELETE", "/api/admin/teams/{id}"),
    ("PUT", "/api/admin/teams/{id}/members"),
    ("GET", "/api/admin/agents"),
    ("POST", "/api/admin/agents"),
    ("GET", "/api/admin/agents/{id}"),
    ("PUT", "/api/admin/agents/{id}"),
    ("POST", "/api/admin/agents/{id}/deactivate"),
    ("POST", "/api/admin/agents/{id}/reactivate"),
    ("POST", "/api/admin/agents/{id}/reinvite"),
    ("POST", "/api/admin/agents/{id}/two-factor/reset"),
    ("GET", "/api/admin/usergroups"),
    ("POST", "/api/admin/usergroups"),
    ("PUT", "/api/admin/usergroups/{id}"),
    ("DELETE", "/api/admin/usergroups/{id}"),
    ("GET", "/api/admin/organisations"),
    ("POST", "/api/admin/organisations"),
    ("PUT", "/api/admin/organisations/{id}"),
    ("DELETE", "/api/admin/organisations/{id}"),
    ("GET", "/api/admin/audit"),
    ("GET", "/api/admin/audit.jsonl"),
    ("GET", "/api/admin/rules"),
    ("POST", "/api/admin/rules"),
    ("GET", "/api/admin/rules.toml"),
    ("GET", "/api/admin/rules/{kind}"),
    ("POST", "/api/admin/rules/{kind}"),
    ("PUT", "/api/admin/rules/{kind}"),
    ("GET", "/api/admin/rules/{kind}/{name}"),
    ("PUT", "/api/admin/rules/{kind}/{name}"),
    ("DELETE", "/api/admin/rules/{kind}/{name}"),
    ("POST", "/api/admin/rules/{kind}/{name}/enabled"),
    ("POST", "/api/admin/dry-run"),
    ("POST", "/api/admin/reschedule"),
    ("GET", "/api/admin/users"),
    ("GET", "/api/admin/users/{id}"),
    ("PUT", "/api/admin/users/{id}"),
    ("POST", "/api/admin/users/{id}/merge"),
    ("POST", "/api/admin/users/{id}/block"),
    ("POST", "/api/admin/users/{id}/unblock"),
    ("GET", "/api/admin/email-accounts"),
    ("POST", "/api/admin/email-accounts"),
    ("GET", "/api/admin/email-accounts/{id}"),
    ("PUT", "/api/admin/email-accounts/{id}"),
    ("DELETE", "/api/admin/email-accounts/{id}"),
    ("POST", "/api/admin/email-accounts/{id}/test"),
    ("GET", "/api/admin/mail-settings"),
    ("PUT", "/api/admin/mail-settings"),
    ("GET", "/api/admin/labels"),
    ("POST", "/api/admin/labels"),
    ("GET", "/api/admin/labels/{name}"),
    ("PUT", "/api/admin/labels/{name}"),
    ("DELETE", "/api/admin/labels/{name}"),
    ("GET", "/api/admin/mail-templates"),
    ("GET", "/api/admin/mail-templates/{key}/{language}"),
    ("PUT", "/api/admin/mail-templates/{key}/{language}"),
    ("DELETE", "/api/admin/mail-templates/{key}/{language}"),
    ("POST", "/api/admin/mail-templates/{key}/{language}/preview"),
    ("GET", "/agent/admin"),
    ("GET", "/agent/admin/{section}"),
    ("POST", "/agent/admin/{section}"),
    ("GET", "/agent/admin/{section}/{id}"),
    ("POST", "/agent/admin/{section}/{id}"),
    ("GET", "/agent/admin/departments/{id}/fields/{key}"),
    ("POST", "/agent/admin/departments/{id}/fields/{key}"),
    ("GET", "/agent/admin/rules/new/{kind}"),
    ("POST", "/agent/admin/rules/new/{kind}"),
    ("GET", "/agent/admin/rules/{kind}/{name}"),
    ("POST", "/agent/admin/rules/{kind}/{name}"),
    ("GET", "/agent/admin/rules/export.toml"),
    ("GET", "/agent/admin/rules/export.json"),
    ("GET", "/setup"),
    ("POST", "/setup"),
    ("GET", "/agent/set-password"),
    ("POST", "/agent/set-password"),
    ("GET", "/agent/forgot-password"),
    ("POST", "/agent/forgot-password"),
    ("GET", "/agent/reset-password"),
    ("POST", "/agent/reset-password"),
];
