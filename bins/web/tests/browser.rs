//! End-to-end tests in headless Chromium (Debian's chromium + chromedriver,
//! installed by scripts/test-deps.sh): an agent works in the workspace (log
//! in, filters and counts, tabs, reply/note/assign/urgency, reload, deep
//! link, phone layout, keyboard only, live updates, an axe-core audit), a
//! user submits a ticket in the portal, and a visitor submits the embed
//! widget from a page on another origin. Screenshots go to target/screenshots/.
//!
//! Without chromium the test is skipped locally, but fails when `CI` is set.

use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use fantoccini::key::Key;
use fantoccini::Locator;
use helpdesk_core::*;
use helpdesk_store::Helpdesk;
use helpdesk_web::{demo, App, Config};
use std::time::Duration;
use warp::Filter;

mod browser_kit;
use browser_kit::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_portal_and_embed_in_chromium() {
    let Some(browser) = browser().await else { return };

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

    let c = &browser.c;

    // --- agent workspace ---------------------------------------------------
    agent_workspace(c, &hd, &app, &base).await;
    agent_forms(c, &hd, &app, &base).await;

    // --- portal: log in and submit a ticket with a custom field -------------
    let ann = hd.user_by_email(demo::USER.0).unwrap().unwrap();
    c.goto(&format!("{base}/portal/login")).await.unwrap();
    c.find(Locator::Css("input[name=email]")).await.unwrap().send_keys(demo::USER.0).await.unwrap();
    c.find(Locator::Css("input[name=password]")).await.unwrap().send_keys(demo::USER.1).await.unwrap();
    c.find(Locator::Css("form.card button[type=submit]")).await.unwrap().click().await.unwrap();
    wait_text(c, "main", "Printer on fire").await;
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
    wait_text(c, "main", "Since the last refill.").await;
    let id = hd.store().last_ticket_id().unwrap().unwrap();
    let t = hd.ticket(id).unwrap();
    assert_eq!((t.subject.as_str(), t.channel, t.user), ("Toner smells odd", Channel::Portal, ann.id));
    assert_eq!(t.fields.get("product"), Some(&FieldValue::Choice("Printer".into())));
    screenshot(c, "portal").await;

    // --- embed: a page on another origin posts the widget -------------------
    c.goto(&site_url).await.unwrap();
    c.wait().for_element(Locator::Css(".helpdesk-embed form")).await.unwrap();
    let form = |name: &'static str| {
        c.find(Locator::Css(if name == "message" { ".helpdesk-embed textarea[name=message]" } else { name }))
    };
    form(".helpdesk-embed input[name=name]").await.unwrap().send_keys("Vera Visitor").await.unwrap();
    form(".helpdesk-embed input[name=email]").await.unwrap().send_keys("not-an-email").await.unwrap();
    c.find(Locator::Css(".helpdesk-embed button[type=submit]")).await.unwrap().click().await.unwrap();
    wait_text(c, ".helpdesk-embed-status", "valid email").await;
    let email = form(".helpdesk-embed input[name=email]").await.unwrap();
    email.clear().await.unwrap();
    email.send_keys("vera@shop.example").await.unwrap();
    form(".helpdesk-embed input[name=subject]").await.unwrap().send_keys("Bulk order").await.unwrap();
    form("message").await.unwrap().send_keys("Do you ship to Norway?").await.unwrap();
    tokio::time::sleep(Duration::from_millis(1600)).await; // humans take a moment; the spam check wants it
    c.find(Locator::Css(".helpdesk-embed button[type=submit]")).await.unwrap().click().await.unwrap();
    wait_text(c, ".helpdesk-embed-status", "Thank you").await;
    screenshot(c, "embed").await;
    let hd2 = hd.clone();
    wait_until("the embed ticket", || hd2.user_by_email("vera@shop.example").ok().flatten().is_some()).await;
    let id = hd.store().last_ticket_id().unwrap().unwrap();
    let t = hd.ticket(id).unwrap();
    assert_eq!(
        (t.subject.as_str(), t.channel, t.department),
        ("Bulk order", Channel::Embed, DepartmentId(2))
    );

    browser.close().await;
}

/// axe-core, vendored from its npm package (MPL-2.0), injected into pages.
async fn press(c: &fantoccini::Client, key: char) {
    let keys = KeyActions::new("keyboard".into())
        .then(KeyAction::Down { value: key })
        .then(KeyAction::Up { value: key });
    c.perform_actions(keys).await.unwrap();
}

/// The focused element's outerHTML start (for keyboard checks).
async fn focused(c: &fantoccini::Client) -> String {
    let v = c
        .execute("const e = document.activeElement; return e ? e.outerHTML.slice(0, 200) : '';", vec![])
        .await
        .unwrap();
    v.as_str().unwrap_or_default().to_string()
}

/// Runs axe-core on the page; fails on serious or critical violations.
async fn agent_workspace(c: &fantoccini::Client, hd: &Helpdesk, app: &App, base: &str) {
    let admin = hd.agent_by_email(demo::ADMIN.0).unwrap().unwrap();
    c.set_window_size(1440, 900).await.unwrap();

    // Not logged in: the login page (no 401 noise), then back to the workspace.
    c.goto(&format!("{base}/agent")).await.unwrap();
    c.wait().for_element(Locator::Css("#login-email")).await.unwrap().send_keys(demo::ADMIN.0).await.unwrap();
    screenshot(c, "agent-login").await;
    c.find(Locator::Css("#login-password")).await.unwrap().send_keys(demo::ADMIN.1).await.unwrap();
    c.find(Locator::Css("#login-submit")).await.unwrap().click().await.unwrap();
    wait_text(c, "#filter-list", "All Tickets").await;
    assert!(c.current_url().await.unwrap().path().starts_with("/agent/filters/"));

    // Filters and counts: All has the tickets awaiting an agent; the count matches the rows.
    c.find(Locator::Css("#filter-pane a[data-filter=all]")).await.unwrap().click().await.unwrap();
    wait_text(c, "#list-title", "All Tickets").await;
    wait_until_url(c, "/agent/filters/all").await;
    let rows = c.find_all(Locator::Css("#ticket-list a.row")).await.unwrap().len();
    let count =
        c.find(Locator::Css("#filter-pane a[data-filter=all] .count")).await.unwrap().text().await.unwrap();
    assert_eq!(count, rows.to_string());
    assert_eq!(rows, 3);
    let current = c.find(Locator::Css("#filter-pane a[aria-current=page]")).await.unwrap();
    assert_eq!(current.attr("data-filter").await.unwrap().as_deref(), Some("all"));
    // Unassigned rows name the team when there is one.
    wait_text(c, "#row-4 .assignee", "Tier 1").await;
    audit(c, "the filter list at 1440 px").await;
    screenshot(c, "agent-list").await;

    // Three tickets as tabs.
    for (id, subject) in [(1, "Printer on fire"), (3, "Quote for 20 printers"), (4, "Cannot log in")] {
        c.find(Locator::Css(&format!("#row-{id}"))).await.unwrap().click().await.unwrap();
        wait_text(c, &format!(".ticket[data-ticket='{id}'] h1"), subject).await;
    }
    assert_eq!(c.find_all(Locator::Css(".tabs .tab")).await.unwrap().len(), 3);
    wait_until_url(c, "/agent/tickets/4").await;

    // Reply, note, assign, urgency in quick succession on ticket 4.
    let t = ".ticket[data-ticket='4']";
    c.find(Locator::Css("#composer-body-4"))
        .await
        .unwrap()
        .send_keys("Try resetting it from the portal.")
        .await
        .unwrap();
    c.find(Locator::Css("#send-4")).await.unwrap().click().await.unwrap();
    wait_text(c, &format!("{t} .timeline"), "Try resetting it from the portal.").await;
    c.find(Locator::Css("#composer-4 input[value=note] + span")).await.unwrap().click().await.unwrap();
    c.find(Locator::Css("#composer-body-4"))
        .await
        .unwrap()
        .send_keys("Agents only: account looks locked.")
        .await
        .unwrap();
    c.find(Locator::Css("#send-4")).await.unwrap().click().await.unwrap();
    wait_text(c, &format!("{t} .timeline .note"), "account looks locked").await;
    c.find(Locator::Css(&format!("#prop-agent-4 option[value='{}']", admin.id.0)))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_text(c, &format!("{t} .timeline"), "assigned to Alice Admin").await;
    c.find(Locator::Css("#prop-urgency-4 option[value='9']")).await.unwrap().click().await.unwrap();
    wait_text(c, &format!("{t} .timeline"), "changed urgency: 5 → 9").await;
    let t4 = hd.ticket(TicketId(4)).unwrap();
    assert_eq!((t4.agent, t4.urgency.get(), t4.status), (Some(admin.id), 9, Status::AwaitingUser));
    assert_eq!(t4.messages.last().unwrap().body, "Try resetting it from the portal.");
    assert_eq!(t4.notes.last().unwrap().body, "Agents only: account looks locked.");
    assert!(c.find_all(Locator::Css(&format!("{t} .notice.error"))).await.unwrap().is_empty());
    audit(c, "the ticket screen at 1440 px").await;
    screenshot(c, "agent-ticket").await;

    // The full log, readable.
    c.find(Locator::Css(&format!("{t} a[href='/agent/tickets/4?view=log']")))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_text(c, &format!("{t} table.log"), "Alice Admin").await;
    wait_text(c, &format!("{t} table.log"), "Urgency").await;
    screenshot(c, "agent-log").await;

    // Reload keeps the tabs and the filter.
    c.refresh().await.unwrap();
    wait_text(c, "#list-title", "All Tickets").await;
    assert_eq!(c.find_all(Locator::Css(".tabs .tab")).await.unwrap().len(), 3);

    // A deep link opens the ticket (as a fourth tab) with the workspace around it.
    c.goto(&format!("{base}/agent/tickets/2")).await.unwrap();
    wait_text(c, ".ticket[data-ticket='2'] h1", "Scanner makes blurry scans").await;
    assert_eq!(c.find_all(Locator::Css(".tabs .tab")).await.unwrap().len(), 4);

    // Live: a change from elsewhere reaches the bay, the counts and the open ticket.
    // The bay: read what is there (the demo's own notifications) first.
    c.find(Locator::Css("#bay-button")).await.unwrap().click().await.unwrap();
    click(c, "#bay-list .bay-read button").await;
    wait_text(c, "#bay-count", "0").await;
    c.find(Locator::Css("#bay-button")).await.unwrap().click().await.unwrap();
    // The event stream connects.
    tokio::time::sleep(Duration::from_millis(500)).await;

    // A draft being typed survives the live refresh, and keeps the focus.
    let draft = c.find(Locator::Css("#composer-body-2")).await.unwrap();
    draft.send_keys("Draft in progress").await.unwrap();
    let ann = hd.user_by_email(demo::USER.0).unwrap().unwrap();
    let after = hd.user_reply(TicketId(2), ann.id, "Here is the sample scan.").unwrap();
    let log = hd.log(TicketId(2)).unwrap();
    app.publish_latest(&after, &log);
    wait_text(c, ".ticket[data-ticket='2'] .timeline", "Here is the sample scan.").await;
    let kept = c.find(Locator::Css("#composer-body-2")).await.unwrap().prop("value").await.unwrap();
    assert_eq!(kept.as_deref(), Some("Draft in progress"));
    assert!(focused(c).await.contains("composer-body-2"), "focus stays in the composer");
    // The counts and the list follow together.
    // (ticket 4 was replied to, so All is 1, 2, 3 now; Unassigned gains 2.)
    wait_text(c, "#ticket-list", "Scanner makes blurry scans").await;
    wait_text(c, "#filter-pane a[data-filter=unassigned] .count", "3").await;
    let rows = c.find_all(Locator::Css("#ticket-list a.row")).await.unwrap().len();
    let all = c.find(Locator::Css("#filter-pane a[data-filter=all] .count")).await.unwrap();
    assert_eq!(all.text().await.unwrap(), rows.to_string(), "count and rows agree");
    wait_text(c, "#bay-count", "1").await;
    c.find(Locator::Css("#bay-button")).await.unwrap().click().await.unwrap();
    wait_text(c, "#bay-list", "Scanner makes blurry scans").await;
    screenshot(c, "agent-bay").await;
    c.find(Locator::Css("#bay-button")).await.unwrap().click().await.unwrap();

    // Keyboard only: Tab reaches the filters; j/k move through rows, Enter opens, r focuses the reply.
    c.goto(&format!("{base}/agent/filters/all")).await.unwrap();
    wait_text(c, "#list-title", "All Tickets").await;
    let mut reached = false;
    for _ in 0..40 {
        press(c, Key::Tab.into()).await;
        if focused(c).await.contains("class=\"filter\"") {
            reached = true;
            break;
        }
    }
    assert!(reached, "Tab never reached a filter; focus: {}", focused(c).await);
    press(c, 'j').await;
    assert!(focused(c).await.contains("id=\"row-"), "j focuses a row: {}", focused(c).await);
    press(c, 'j').await;
    press(c, 'k').await;
    let row = focused(c).await;
    assert!(row.contains("id=\"row-"), "k keeps a row focused: {row}");
    press(c, Key::Enter.into()).await;
    c.wait().for_element(Locator::Css("#content article.ticket")).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    press(c, 'n').await;
    let f = focused(c).await;
    assert!(f.contains("composer-body"), "n focuses the composer: {f}");
    let mode = c.find(Locator::Css("#content form.composer")).await.unwrap().attr("data-mode").await.unwrap();
    assert_eq!(mode.as_deref(), Some("note"));
    press(c, Key::Escape.into()).await;
    press(c, '?').await;
    assert!(displayed(c, "#shortcuts").await, "? opens the shortcuts dialog");
    screenshot(c, "agent-shortcuts").await;
    press(c, Key::Escape.into()).await;

    // Tablet: the apps bar and the filters fold into a menu.
    c.set_window_size(1024, 768).await.unwrap();
    c.goto(&format!("{base}/agent/tickets/4")).await.unwrap();
    wait_text(c, ".ticket[data-ticket='4'] h1", "Cannot log in").await;
    assert!(!displayed(c, "#filter-pane").await);
    assert!(displayed(c, "#list-pane").await && displayed(c, "#content").await);
    screenshot(c, "agent-tablet").await;
    c.find(Locator::Css("#menu-toggle")).await.unwrap().click().await.unwrap();
    assert!(displayed(c, "#filter-pane").await, "the menu opens the filters");
    screenshot(c, "agent-tablet-menu").await;

    // Phone: one pane at a time, a usable ticket with the composer at hand.
    c.set_window_size(390, 844).await.unwrap();
    c.goto(&format!("{base}/agent/tickets/1")).await.unwrap();
    wait_text(c, ".ticket[data-ticket='1'] h1", "Printer on fire").await;
    assert!(displayed(c, "#content").await);
    assert!(!displayed(c, "#list-pane").await, "the list is hidden behind the ticket on a phone");
    assert!(displayed(c, "#composer-body-1").await);
    assert!(displayed(c, ".ticket[data-ticket='1'] a.back").await);
    audit(c, "the ticket screen at 390 px").await;
    screenshot(c, "agent-phone-ticket").await;
    c.find(Locator::Css(".ticket[data-ticket='1'] a.back")).await.unwrap().click().await.unwrap();
    c.wait().for_element(Locator::Css("body[data-view=list]")).await.unwrap();
    assert!(displayed(c, "#list-pane").await);
    assert!(!displayed(c, "#content").await);
    audit(c, "the filter list at 390 px").await;
    screenshot(c, "agent-phone-list").await;
    c.set_window_size(1400, 900).await.unwrap();
}

/// Presses Tab until the focused element contains `needle`; returns what was focused on the way.
async fn tab_to(c: &fantoccini::Client, needle: &str) -> Vec<String> {
    let mut seen = Vec::new();
    for _ in 0..80 {
        press(c, Key::Tab.into()).await;
        let f = focused(c).await;
        let hit = f.contains(needle);
        seen.push(f);
        if hit {
            return seen;
        }
    }
    panic!("Tab never reached {needle}; focused on the way: {seen:#?}");
}

fn visited(seen: &[String], ids: &[&str]) {
    let mut at = 0;
    for id in ids {
        let pos = seen[at..].iter().position(|f| f.contains(&format!("id=\"{id}\"")));
        assert!(pos.is_some(), "Tab skipped #{id} (or it came out of order)");
        at += pos.unwrap_or(0);
    }
}

async fn bay_count(c: &fantoccini::Client) -> u64 {
    let t = c.find(Locator::Css("#bay-count")).await.unwrap().text().await.unwrap();
    t.split_whitespace().next().unwrap_or("0").parse().unwrap_or(0)
}

/// Create, custom filters and the profile screens, in the same browser.
async fn agent_forms(c: &fantoccini::Client, hd: &Helpdesk, app: &App, base: &str) {
    let admin = hd.agent_by_email(demo::ADMIN.0).unwrap().unwrap();
    c.set_window_size(1440, 900).await.unwrap();
    c.goto(&format!("{base}/agent/filters/all")).await.unwrap();
    wait_text(c, "#list-title", "All Tickets").await;

    // Create: the top bar's button, a ticket for a new user, opened as a tab.
    click(c, "#create").await;
    c.wait().for_element(Locator::Css("#create-form")).await.unwrap();
    wait_until_url(c, "/agent/tickets/new").await;
    audit(c, "the Create form at 1440 px").await;
    // Keyboard: every field in order, from the email to the button.
    c.execute("document.getElementById('create-email').focus()", vec![]).await.unwrap();
    let seen = tab_to(c, "id=\"create-submit\"").await;
    visited(
        &seen,
        &[
            "create-name",
            "create-subject",
            "create-body",
            "create-department",
            "create-urgency",
            "create-status",
        ],
    );
    c.find(Locator::Css("#create-email")).await.unwrap().send_keys("nina@new.example").await.unwrap();
    wait_text(c, "#create-user-hint", "A new user").await;
    c.find(Locator::Css("#create-name")).await.unwrap().send_keys("Nina New").await.unwrap();
    c.find(Locator::Css("#create-subject")).await.unwrap().send_keys("Label printer jams").await.unwrap();
    c.find(Locator::Css("#create-body")).await.unwrap().send_keys("Every second label jams.").await.unwrap();
    screenshot(c, "agent-create").await;
    click(c, "#create-submit").await;
    c.wait().for_element(Locator::Css("#content article.ticket")).await.unwrap();
    wait_text(c, "#content article.ticket h1", "Label printer jams").await;
    let nina = hd.user_by_email("nina@new.example").unwrap().expect("the user was made");
    assert_eq!(nina.name, "Nina New");
    wait_text(c, ".tabs", "Label printer jams").await;

    // A custom filter shared with Tier 1, with its count in the pane.
    click(c, "#new-filter").await;
    c.wait().for_element(Locator::Css("#cf-form")).await.unwrap();
    audit(c, "the filter form at 1440 px").await;
    c.execute("document.getElementById('cf-name').focus()", vec![]).await.unwrap();
    let seen = tab_to(c, "id=\"cf-submit\"").await;
    visited(
        &seen,
        &["cf-status-0", "cf-department-0", "cf-agent-0", "cf-team-0", "cf-urgency_min", "cf-sort"],
    );
    c.find(Locator::Css("#cf-name")).await.unwrap().send_keys("Tier 1 support").await.unwrap();
    click(c, "#cf-department-0").await;
    let tier1 = hd.teams().unwrap().into_iter().find(|t| t.name == "Tier 1").unwrap();
    click(c, &format!("#cf-share-{}", tier1.id.0)).await;
    screenshot(c, "agent-filter-form").await;
    click(c, "#cf-submit").await;
    wait_text(c, "#list-title", "Tier 1 support").await;
    let saved = hd.saved_filters(admin.id).list().unwrap();
    let f = saved.iter().find(|f| f.filter.name == "Tier 1 support").expect("saved");
    let want = hd.saved_filters(admin.id).count(f.id).unwrap().count;
    let slug = format!("custom-{}", f.id.0);
    wait_text(c, &format!("#filter-pane a[data-filter={slug}] .count"), &want.to_string()).await;
    assert_eq!(c.find_all(Locator::Css("#ticket-list a.row")).await.unwrap().len() as u64, want);
    c.refresh().await.unwrap();
    wait_text(c, "#list-title", "Tier 1 support").await;
    screenshot(c, "agent-custom-filters").await;

    // The profile menu: preferences, notifications, password.
    click(c, "details.profile summary").await;
    click(c, "#menu-preferences").await;
    c.wait().for_element(Locator::Css("#pf-form")).await.unwrap();
    audit(c, "the preferences at 1440 px").await;
    c.execute("document.getElementById('pf-signature').focus()", vec![]).await.unwrap();
    let seen = tab_to(c, "id=\"pf-submit\"").await;
    visited(&seen, &["pf-zone"]);
    screenshot(c, "agent-profile").await;
    click(c, ".subnav a[href='/agent/profile/notifications']").await;
    c.wait().for_element(Locator::Css("#nt-form")).await.unwrap();
    audit(c, "the notifications at 1440 px").await;
    assert!(!displayed(c, "details.profile .dropdown").await, "a menu choice closes the menu");
    // Nothing in the app, then only assignments to me: each takes effect.
    c.execute(
        "document.querySelectorAll('#nt-form input[type=checkbox]').forEach(e => e.checked = false)",
        vec![],
    )
    .await
    .unwrap();
    click(c, "#nt-submit").await;
    wait_text(c, "#content .notice", "Saved.").await;
    assert!(hd.subscriptions(admin.id).unwrap().rules.is_empty());
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = bay_count(c).await;
    let assign = |id: u64| {
        let t = hd
            .execute(
                TicketId(id),
                &Actor::System(SystemActor::Helpdesk),
                helpdesk_core::Command::AssignAgent { agent: Some(admin.id) },
            )
            .unwrap();
        app.publish_latest(&t, &hd.log(TicketId(id)).unwrap());
    };
    assign(2);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(bay_count(c).await, before, "no in-app notification when none is subscribed");
    c.execute("document.getElementById('nt-4-0-0').focus()", vec![]).await.unwrap();
    press(c, ' ').await;
    click(c, "#nt-submit").await;
    wait_text(c, "#content .notice", "Saved.").await;
    assert_eq!(hd.subscriptions(admin.id).unwrap().rules.len(), 1);
    screenshot(c, "agent-notifications").await;
    assign(3);
    wait_text(c, "#bay-count", &(before + 1).to_string()).await;
    click(c, ".subnav a[href='/agent/profile/password']").await;
    c.wait().for_element(Locator::Css("#pw-form")).await.unwrap();
    audit(c, "the password form at 1440 px").await;

    // Phone: the forms fit.
    c.set_window_size(390, 844).await.unwrap();
    for (path, form, what) in [
        ("/agent/tickets/new", "#create-form", "the Create form"),
        ("/agent/custom-filters/new", "#cf-form", "the filter form"),
        ("/agent/profile", "#pf-form", "the preferences"),
        ("/agent/profile/notifications", "#nt-form", "the notifications"),
        ("/agent/profile/password", "#pw-form", "the password form"),
    ] {
        c.goto(&format!("{base}{path}")).await.unwrap();
        c.wait().for_element(Locator::Css(form)).await.unwrap();
        assert!(displayed(c, form).await, "{what} shows on a phone");
        audit(c, &format!("{what} at 390 px")).await;
        if path == "/agent/profile/notifications" {
            screenshot(c, "agent-phone-notifications").await;
        }
    }
    c.set_window_size(1440, 900).await.unwrap();

    // Sam, in Tier 1, sees the shared filter with its count.
    c.goto(&format!("{base}/agent/filters/all")).await.unwrap();
    click(c, "details.profile summary").await;
    click(c, "details.profile form button").await;
    c.wait().for_element(Locator::Css("#login-email")).await.unwrap().send_keys(demo::AGENT.0).await.unwrap();
    c.find(Locator::Css("#login-password")).await.unwrap().send_keys(demo::AGENT.1).await.unwrap();
    c.find(Locator::Css("#login-submit")).await.unwrap().click().await.unwrap();
    let sam = hd.agent_by_email(demo::AGENT.0).unwrap().unwrap();
    let want = hd.saved_filters(sam.id).count(f.id).unwrap().count;
    wait_text(c, &format!("#filter-pane a[data-filter={slug}]"), "Tier 1 support").await;
    wait_text(c, &format!("#filter-pane a[data-filter={slug}] .count"), &want.to_string()).await;
}

/// Pastes an image (drawn on a canvas: a real PNG) into `css` as a browser
/// does with a screenshot from the clipboard.
async fn paste_screenshot(c: &fantoccini::Client, css: &str) {
    let r = c
        .execute_async(
            "const [css, done] = [arguments[0], arguments[arguments.length - 1]];
             const canvas = document.createElement('canvas');
             canvas.width = 240; canvas.height = 120;
             const g = canvas.getContext('2d');
             g.fillStyle = '#1f5bd1'; g.fillRect(0, 0, 240, 120);
             g.fillStyle = '#fff'; g.font = '28px sans-serif'; g.fillText('Error 42', 40, 70);
             canvas.toBlob(blob => {
               const dt = new DataTransfer();
               dt.items.add(new File([blob], 'image.png', { type: 'image/png' }));
               const target = document.querySelector(css);
               target.focus();
               target.dispatchEvent(new ClipboardEvent('paste', { clipboardData: dt, bubbles: true, cancelable: true }));
               done(true);
             }, 'image/png');",
            vec![serde_json::json!(css)],
        )
        .await
        .unwrap();
    assert_eq!(r, serde_json::json!(true));
}

/// Whether the image `css` loaded (a real picture, not a broken link).
async fn image_loaded(c: &fantoccini::Client, css: &str) -> bool {
    let r = c
        .execute(
            "const i = document.querySelector(arguments[0]); return !!i && i.complete && i.naturalWidth > 0;",
            vec![serde_json::json!(css)],
        )
        .await
        .unwrap();
    r == serde_json::json!(true)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pasted_screenshot_goes_from_the_composer_to_the_portal() {
    let Some(browser) = browser().await else { return };
    let hd = Helpdesk::in_memory();
    demo::seed(&hd).unwrap();
    let app = App::new(hd.clone(), Config::default());
    let server = serve(helpdesk_web::routes(app.clone()), "127.0.0.1").await;
    let base = format!("http://127.0.0.1:{}", server.port());
    let c = &browser.c;
    c.set_window_size(1440, 900).await.unwrap();

    // The agent pastes a screenshot into the reply and sends it.
    c.goto(&format!("{base}/agent/tickets/1")).await.unwrap();
    c.wait().for_element(Locator::Css("#login-email")).await.unwrap().send_keys(demo::ADMIN.0).await.unwrap();
    c.find(Locator::Css("#login-password")).await.unwrap().send_keys(demo::ADMIN.1).await.unwrap();
    c.find(Locator::Css("#login-submit")).await.unwrap().click().await.unwrap();
    let body = c.wait().for_element(Locator::Css("#composer-body-1")).await.unwrap();
    body.send_keys("Is this the message you see?").await.unwrap();
    paste_screenshot(c, "#composer-body-1").await;
    let chosen = wait_text(c, "#composer-1 .chosen-files", "screenshot-").await;
    assert!(chosen.contains(".png"), "{chosen}");
    // One too many: a file over the limit is refused before sending.
    let over = c
        .execute(
            "const i = document.querySelector('#composer-files-1');
             const f = new File([new Uint8Array(+i.dataset.maxFile + 1)], 'huge.bin');
             const dt = new DataTransfer(); dt.items.add(f);
             i.closest('form').dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
             return document.querySelector('#composer-1 .files-error').textContent;",
            vec![],
        )
        .await
        .unwrap();
    assert!(over.as_str().unwrap().contains("huge.bin is too large: a file may be at most 10 MB"), "{over}");
    screenshot(c, "files-composer").await;
    click(c, "#send-1").await;
    wait_text(c, "#ticket-live-1 .timeline", "Is this the message you see?").await;
    c.wait().for_element(Locator::Css("#ticket-live-1 .files .thumb img")).await.unwrap();
    let hd2 = hd.clone();
    wait_until("the reply with its file", || {
        hd2.ticket(TicketId(1)).unwrap().messages.last().is_some_and(|m| m.attachments.len() == 1)
    })
    .await;
    let m = hd.ticket(TicketId(1)).unwrap().messages.last().unwrap().clone();
    assert_eq!(m.attachments[0].content_type, "image/png");
    assert!(m.attachments[0].filename.starts_with("screenshot-"), "{}", m.attachments[0].filename);
    let thumb = "#ticket-live-1 .files .thumb img";
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !image_loaded(c, thumb).await {
        assert!(std::time::Instant::now() < deadline, "the thumbnail did not load");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    screenshot(c, "files-agent-ticket").await;

    // The user sees it in the portal, at desktop and phone widths.
    c.goto(&format!("{base}/portal/login")).await.unwrap();
    c.find(Locator::Css("input[name=email]")).await.unwrap().send_keys(demo::USER.0).await.unwrap();
    c.find(Locator::Css("input[name=password]")).await.unwrap().send_keys(demo::USER.1).await.unwrap();
    c.find(Locator::Css("form.card button[type=submit]")).await.unwrap().click().await.unwrap();
    wait_text(c, "main", "Printer on fire").await;
    c.goto(&format!("{base}/portal/tickets/1")).await.unwrap();
    wait_text(c, "main", "Is this the message you see?").await;
    let img = "main article.message ul.files img";
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !image_loaded(c, img).await {
        assert!(std::time::Instant::now() < deadline, "the portal's image did not load");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    audit(c, "the portal ticket with a file").await;
    screenshot(c, "files-portal").await;
    c.set_window_size(390, 844).await.unwrap();
    screenshot(c, "files-portal-phone").await;
    c.set_window_size(1440, 900).await.unwrap();

    // And replies with a file of their own, by paste into the reply box.
    c.find(Locator::Css("textarea[name=body]")).await.unwrap().send_keys("Yes, that one.").await.unwrap();
    paste_screenshot(c, "textarea[name=body]").await;
    wait_text(c, "form .chosen-files", "screenshot-").await;
    c.find(Locator::Css("form.card button[type=submit]")).await.unwrap().click().await.unwrap();
    wait_text(c, "main", "Yes, that one.").await;
    let last = hd.ticket(TicketId(1)).unwrap().messages.last().unwrap().clone();
    assert_eq!((last.body.as_str(), last.attachments.len()), ("Yes, that one.", 1));
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_who_forgot_their_password_resets_it_in_chromium() {
    let Some(browser) = browser().await else { return };
    let hd = Helpdesk::in_memory();
    demo::seed(&hd).unwrap();
    let mailer = std::sync::Arc::new(helpdesk_web::MemoryMailer::default());
    let app = App::with_mailer(hd.clone(), Config::default(), mailer.clone());
    let server = serve(helpdesk_web::routes(app.clone()), "127.0.0.1").await;
    let base = format!("http://127.0.0.1:{}", server.port());
    let c = &browser.c;
    c.set_window_size(1440, 900).await.unwrap();

    c.goto(&format!("{base}/agent/login")).await.unwrap();
    click(c, "#forgot-link").await;
    c.wait().for_element(Locator::Css("#reset-email")).await.unwrap().send_keys(demo::AGENT.0).await.unwrap();
    click(c, "#reset-submit").await;
    let said = wait_text(c, "#reset-sent", "a link to choose a new password is on its way").await;
    assert!(said.contains(demo::AGENT.0), "{said}");
    audit(c, "the forgot-password page").await;
    screenshot(c, "reset-requested").await;

    let mail = mailer.sent().into_iter().rev().find(|m| m.to == demo::AGENT.0).expect("the reset mail");
    let link = mail.body.split_whitespace().find(|w| w.contains("/agent/reset-password?token=")).unwrap();
    let path = &link[link.find("/agent/").unwrap()..];
    c.goto(&format!("{base}{path}")).await.unwrap();
    c.wait()
        .for_element(Locator::Css("#reset-password"))
        .await
        .unwrap()
        .send_keys("violet kettle orbit")
        .await
        .unwrap();
    c.find(Locator::Css("#reset-repeat")).await.unwrap().send_keys("violet kettle orbit").await.unwrap();
    screenshot(c, "reset-form").await;
    click(c, "#reset-save").await;
    wait_text(c, "#reset-done", "Your new password is set").await;
    c.set_window_size(390, 844).await.unwrap();
    screenshot(c, "reset-done-phone").await;
    c.set_window_size(1440, 900).await.unwrap();
    c.goto(&format!("{base}/agent/login")).await.unwrap();
    c.wait().for_element(Locator::Css("#login-email")).await.unwrap().send_keys(demo::AGENT.0).await.unwrap();
    c.find(Locator::Css("#login-password")).await.unwrap().send_keys("violet kettle orbit").await.unwrap();
    click(c, "#login-submit").await;
    wait_text(c, "#filter-list", "All Tickets").await;
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_snippet_is_inserted_by_keyboard_in_chromium() {
    use helpdesk_core::snippets::{NewSnippet, SnippetScope};
    let Some(browser) = browser().await else { return };
    let hd = Helpdesk::in_memory();
    demo::seed(&hd).unwrap();
    let admin = hd.agent_by_email(demo::ADMIN.0).unwrap().unwrap();
    let new = |name: &str, title: &str, body: &str| NewSnippet {
        name: name.into(),
        title: title.into(),
        category: "Replies".into(),
        body: body.into(),
        scope: SnippetScope::Everyone,
    };
    hd.snippets(admin.id).create(new("greet", "Greeting", "Hello {{user.first_name}},")).unwrap();
    hd.snippets(admin.id)
        .create(new("refund", "Refund policy", "Refunds take 5 days for #{{ticket.id}}."))
        .unwrap();
    let app = App::new(hd.clone(), Config::default());
    let server = serve(helpdesk_web::routes(app.clone()), "127.0.0.1").await;
    let base = format!("http://127.0.0.1:{}", server.port());
    let c = &browser.c;
    c.set_window_size(1440, 900).await.unwrap();
    c.goto(&format!("{base}/agent/tickets/1")).await.unwrap();
    c.wait().for_element(Locator::Css("#login-email")).await.unwrap().send_keys(demo::ADMIN.0).await.unwrap();
    c.find(Locator::Css("#login-password")).await.unwrap().send_keys(demo::ADMIN.1).await.unwrap();
    click(c, "#login-submit").await;
    let body = c.wait().for_element(Locator::Css("#composer-body-1")).await.unwrap();
    body.click().await.unwrap();
    // Select all and type over (the signature may be there).
    body.send_keys(";re").await.unwrap();
    // Names starting with what was typed come first ("greet" has "re" too).
    let menu = wait_text(c, "#snippet-menu", ";refund").await;
    assert!(menu.find(";refund") < menu.find(";greet"), "{menu}");
    body.send_keys("f").await.unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while wait_text(c, "#snippet-menu", ";refund").await.contains(";greet") {
        assert!(std::time::Instant::now() < deadline, "the menu did not narrow");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    screenshot(c, "snippet-menu").await;
    body.send_keys(&Key::Enter.to_string()).await.unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let v = body.prop("value").await.unwrap().unwrap_or_default();
        if v.contains("Refunds take 5 days for #1.") {
            assert!(!v.contains(";ref"), "the typed name is replaced: {v:?}");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "not inserted: {v:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(!displayed(c, "#snippet-menu").await, "the menu closed");
    // Arrows choose another; Escape closes without inserting.
    body.send_keys(" ;").await.unwrap();
    wait_text(c, "#snippet-menu", ";greet").await;
    body.send_keys(&Key::Down.to_string()).await.unwrap();
    body.send_keys(&Key::Escape.to_string()).await.unwrap();
    assert!(!displayed(c, "#snippet-menu").await);
    screenshot(c, "snippet-inserted").await;
    c.goto(&format!("{base}/agent/profile/snippets")).await.unwrap();
    wait_text(c, "main", "Refund policy").await;
    audit(c, "the snippets screen").await;
    screenshot(c, "snippets-screen").await;
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_macro_is_previewed_and_applied_in_chromium() {
    use helpdesk_core::macros::{AgentRef, MacroAction, NewMacro};
    use helpdesk_core::snippets::SnippetScope;
    let Some(browser) = browser().await else { return };
    let hd = Helpdesk::in_memory();
    demo::seed(&hd).unwrap();
    let admin = hd.agent_by_email(demo::ADMIN.0).unwrap().unwrap();
    hd.macros(admin.id)
        .create(NewMacro {
            name: "Printer: send the recall notice".into(),
            description: "Answer, label and wait for the user".into(),
            scope: SnippetScope::Everyone,
            actions: vec![
                MacroAction::SetAgent { agent: Some(AgentRef::Me) },
                MacroAction::AddLabel { label: "recall".into() },
                MacroAction::Reply {
                    snippet: None,
                    body: Some(
                        "Hello {{user.first_name}}, your printer is part of a recall: unplug it.".into(),
                    ),
                },
                MacroAction::SetStatus { status: "pending".into() },
            ],
        })
        .unwrap();
    let app = App::new(hd.clone(), Config::default());
    let server = serve(helpdesk_web::routes(app.clone()), "127.0.0.1").await;
    let base = format!("http://127.0.0.1:{}", server.port());
    let c = &browser.c;
    c.set_window_size(1440, 900).await.unwrap();
    c.goto(&format!("{base}/agent/tickets/1")).await.unwrap();
    c.wait().for_element(Locator::Css("#login-email")).await.unwrap().send_keys(demo::ADMIN.0).await.unwrap();
    c.find(Locator::Css("#login-password")).await.unwrap().send_keys(demo::ADMIN.1).await.unwrap();
    click(c, "#login-submit").await;
    c.wait().for_element(Locator::Css("#macro-pick-1")).await.unwrap();
    click(c, "#macro-pick-1 option:nth-child(2)").await;
    click(c, ".macro-form button").await;
    let preview = wait_text(c, ".macro-preview", "as one group").await;
    assert!(
        preview.contains("added label “recall”") && preview.contains("your printer is part of a recall"),
        "{preview}"
    );
    screenshot(c, "macro-preview").await;
    audit(c, "a macro's preview").await;
    c.set_window_size(390, 844).await.unwrap();
    screenshot(c, "macro-preview-phone").await;
    c.set_window_size(1440, 900).await.unwrap();
    click(c, ".macro-preview button").await;
    wait_text(c, "#ticket-live-1", "Applied “Printer: send the recall notice”").await;
    let t = hd.ticket(TicketId(1)).unwrap();
    assert_eq!((t.status, t.agent), (Status::Pending, Some(admin.id)));
    wait_text(c, ".timeline", "applied macro “Printer: send the recall notice”").await;
    c.goto(&format!("{base}/agent/tickets/1?view=log")).await.unwrap();
    wait_text(c, "table.log", "Macro “Printer: send the recall notice”").await;
    c.execute("document.querySelector('tr.group-head').scrollIntoView()", vec![]).await.unwrap();
    screenshot(c, "macro-log").await;
    c.goto(&format!("{base}/agent/profile/macros?edit=1")).await.unwrap();
    wait_text(c, "main", "Change the macro").await;
    audit(c, "the macros screen").await;
    screenshot(c, "macros-screen").await;
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_tickets_are_merged_and_a_mail_to_the_merged_one_arrives_in_chromium() {
    let Some(browser) = browser().await else { return };
    let hd = Helpdesk::in_memory();
    demo::seed(&hd).unwrap();
    let ann = hd.user_by_email(demo::USER.0).unwrap().unwrap();
    let open = |subject: &str, body: &str| {
        let mut new = NewTicket::new(subject, body, DepartmentId(1), ann.id, Channel::Email);
        new.fields.insert("product".into(), FieldValue::Choice("Printer".into()));
        hd.create_ticket(&Actor::User(ann.id), new).unwrap()
    };
    let first = open("Toner everywhere", "The toner cartridge leaked.");
    let again = open("Toner, again", "Did you get my mail about the toner?");
    let app = App::new(hd.clone(), Config::default());
    let server = serve(helpdesk_web::routes(app.clone()), "127.0.0.1").await;
    let base = format!("http://127.0.0.1:{}", server.port());
    let c = &browser.c;
    c.set_window_size(1440, 900).await.unwrap();
    c.goto(&format!("{base}/agent/tickets/{}", again.id.0)).await.unwrap();
    c.wait().for_element(Locator::Css("#login-email")).await.unwrap().send_keys(demo::ADMIN.0).await.unwrap();
    c.find(Locator::Css("#login-password")).await.unwrap().send_keys(demo::ADMIN.1).await.unwrap();
    click(c, "#login-submit").await;
    let field = c.wait().for_element(Locator::Css(&format!("#merge-with-{}", again.id.0))).await.unwrap();
    field.send_keys(&first.id.0.to_string()).await.unwrap();
    field.send_keys(&Key::Enter.to_string()).await.unwrap();
    let ask = wait_text(c, ".confirm", "Merge tickets").await;
    assert!(ask.contains("Toner everywhere") && ask.contains("(this one)"), "{ask}");
    audit(c, "the merge confirmation").await;
    screenshot(c, "merge-confirm").await;
    click(c, ".merge-confirm button[type=submit]").await;
    // On to the ticket kept, with both conversations.
    wait_until_url(c, &format!("/agent/tickets/{}", first.id.0)).await;
    let timeline = wait_text(c, ".timeline", "Did you get my mail about the toner?").await;
    assert!(timeline.contains("The toner cartridge leaked."), "{timeline}");
    // Ann answers the mail she had about the merged ticket: it lands here, live.
    let mail = format!(
        "From: Ann Acme <{}>\r\nTo: {}\r\nSubject: Re: Toner, again [#{}]\r\nMessage-ID: <toner-3@acme.example>\r\n\r\nThe floor is black now.\r\n",
        demo::USER.0,
        demo::DEMO_MAILBOX.0,
        again.id.0
    );
    let outcome = helpdesk_web::mail::ingest(&app, mail.as_bytes()).unwrap();
    assert!(
        matches!(outcome, helpdesk_mail::IngestOutcome::Reply { ticket, .. } if ticket == first.id),
        "{outcome:?}"
    );
    wait_text(c, ".timeline", "The floor is black now.").await;
    screenshot(c, "merged-ticket").await;
    c.goto(&format!("{base}/agent/tickets/{}", again.id.0)).await.unwrap();
    wait_text(c, &format!("#ticket-live-{}", again.id.0), "This ticket was merged into").await;
    screenshot(c, "merged-away").await;
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_people_app_finds_a_user_and_shows_their_profile_in_chromium() {
    let Some(browser) = browser().await else { return };
    let hd = Helpdesk::in_memory();
    demo::seed(&hd).unwrap();
    let app = App::new(hd.clone(), Config::default());
    let server = serve(helpdesk_web::routes(app.clone()), "127.0.0.1").await;
    let base = format!("http://127.0.0.1:{}", server.port());
    let c = &browser.c;
    for (w, h, name) in [(1440, 900, "people"), (390, 844, "people-phone")] {
        c.set_window_size(w, h).await.unwrap();
        c.goto(&format!("{base}/agent/people")).await.unwrap();
        if name == "people" {
            c.wait()
                .for_element(Locator::Css("#login-email"))
                .await
                .unwrap()
                .send_keys(demo::AGENT.0)
                .await
                .unwrap();
            c.find(Locator::Css("#login-password")).await.unwrap().send_keys(demo::AGENT.1).await.unwrap();
            click(c, "#login-submit").await;
        }
        wait_text(c, "#people-results", "Bob Builder").await;
        let field = if name == "people" { "#people-q" } else { "#people-q-phone" };
        let q = c.wait().for_element(Locator::Css(field)).await.unwrap();
        q.send_keys("ann").await.unwrap();
        q.send_keys(&Key::Enter.to_string()).await.unwrap();
        let list = wait_text(c, "#people-results", "Ann Acme").await;
        assert!(!list.contains("Bob Builder"), "{list}");
        screenshot(c, &format!("{name}-search")).await;
        click(c, "#people-results a.person").await;
        wait_text(c, "#content", "Tickets (2)").await;
        if name == "people" {
            audit(c, "the People app's profile").await;
        }
        screenshot(c, &format!("{name}-profile")).await;
    }
    browser.close().await;
}
