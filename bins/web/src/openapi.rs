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
    ("GET", "/portal/validate"),
    ("GET", "/portal/tickets"),
    ("POST", "/portal/tickets"),
    ("GET", "/portal/tickets/new"),
    ("GET", "/portal/tickets/{id}"),
    ("POST", "/portal/tickets/{id}/reply"),
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
    ("GET", "/agent/admin"),
    ("GET", "/agent/admin/{section}"),
    ("POST", "/agent/admin/{section}"),
    ("GET", "/agent/admin/{section}/{id}"),
    ("POST", "/agent/admin/{section}/{id}"),
    ("GET", "/agent/admin/departments/{id}/fields/{key}"),
    ("POST", "/agent/admin/departments/{id}/fields/{key}"),
    ("GET", "/setup"),
    ("POST", "/setup"),
    ("GET", "/agent/set-password"),
    ("POST", "/agent/set-password"),
];
