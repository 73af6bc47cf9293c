//! The filter pane: built-in filters with their counts (awaiting agent), the
//! place custom filters plug in, the status filters, and the hidden ones.
//! The chosen filter is marked `aria-current` and is in the URL.

use super::list::ListQuery;
use super::Ctx;
use crate::error::ApiError;
use crate::filters;
use crate::App;
use maud::{html, Markup};

/// The pane; `oob` marks it for an out-of-band swap (it comes with a list).
pub fn filter_pane(app: &App, ctx: &Ctx, q: &ListQuery, oob: bool) -> Result<Markup, ApiError> {
    let counts = filters::counts(app.helpdesk(), &ctx.agent)?;
    let group = |g: &'static str| counts.iter().filter(move |c| c.group == g);
    let current = if q.custom.is_some() { "" } else { filters::slug(q.filter) };
    let custom = app.helpdesk().saved_filters(ctx.agent.id).counts()?;
    let sort = match q.sort {
        helpdesk_core::filter::SortOrder::Urgency => String::new(),
        s => format!("?sort={}", super::list::sort_slug(s)),
    };
    let item = |c: &filters::FilterCount| {
        let here = c.id == current;
        html! {
            li {
                a.filter href=(format!("/agent/filters/{}{sort}", c.id)) aria-current=[here.then_some("page")]
                    hx-target="#list-pane" hx-swap="outerHTML" data-filter=(c.id) {
                    span.title { (c.title) }
                    span.count { (c.count) }
                }
            }
        }
    };
    let hidden_here = group("hidden").any(|c| c.id == current);
    Ok(html! {
        nav #filter-pane .filter-pane aria-label="Filters" data-view="filters" hx-swap-oob=[oob.then_some("true")] {
            h2.vh { "Filters" }
            ul #filter-list .filters {
                li.group { span.group-title #g-agent { "Awaiting agent" } }
                @for c in group("awaiting_agent") { (item(c)) }
                li.group { span.group-title #g-custom { "Custom" } }
                @for (f, c) in &custom {
                    li {
                        a.filter href=(format!("/agent/custom-filters/{}", f.id.0)) aria-current=[(q.custom == Some(f.id)).then_some("page")]
                            hx-target="#list-pane" hx-swap="outerHTML" data-filter=(format!("custom-{}", f.id.0))
                            title=[(f.owner != ctx.agent.id).then_some("Shared with you")] {
                            span.title { (f.filter.name) @if f.owner != ctx.agent.id { " " span.shared aria-hidden="true" { "⇄" } span.vh { " (shared)" } } }
                            span.count { (super::list::count_text(c)) }
                        }
                    }
                }
                li { a.filter.new-filter #new-filter href="/agent/custom-filters/new" hx-target="#content" hx-swap="outerHTML" { span.title { "+ New filter" } } }
                li.group { span.group-title { "By status" } }
                @for c in group("status") { (item(c)) }
            }
            details.hidden-filters open[hidden_here] {
                summary { "Hidden" }
                ul.filters { @for c in group("hidden") { (item(c)) } }
            }
        }
    })
}
