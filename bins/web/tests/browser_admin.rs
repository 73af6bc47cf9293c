//! A new helpdesk set up entirely in the browser, as a new admin would: from
//! an empty data directory through the first-run setup, settings, a custom
//! field, a team and an invited agent, to a user's first ticket (portal)
//! handled by that agent; then the audit log of it all. Accessibility audits
//! on the Admin screens; screenshots at 1440 and 390 px into
//! target/screenshots/ (the README shows them).

use fantoccini::Locator;
use helpdesk_core::*;
use helpdesk_store::Helpdesk;
use helpdesk_web::{App, Config};
use std::time::Duration;

mod browser_kit;
use browser_kit::*;
#[path = "../../../helpdesk-mail/tests/common/smtp_server.rs"]
mod smtp_server;

async fn fill(c: &fantoccini::Client, css: &str, text: &str) {
    let e = c.wait().for_element(Locator::Css(css)).await.unwrap();
    e.clear().await.unwrap();
    e.send_keys(text).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_helpdesk_from_setup_to_a_first_ticket_handled() {
    let Some(browser) = browser().await else { return };
    let c = &browser.c;
    let data = tempfile::tempdir().unwrap();
    let hd = Helpdesk::open(data.path().join("helpdesk")).unwrap();
    assert!(hd.needs_setup().unwrap());
    let app = App::new(hd.clone(), Config::default());
    app.start_delivery(Vec::new(), Duration::from_millis(200));
    let server = serve(helpdesk_web::routes(app.clone()), "127.0.0.1").await;
    let base = format!("http://127.0.0.1:{}", server.port());
    c.set_window_size(1440, 900).await.unwrap();

    // --- first run: the login page leads to the setup ------------------------
    c.goto(&format!("{base}/agent")).await.unwrap();
    wait_until_url(c, "/setup").await;
    audit(c, "the setup page").await;
    fill(c, "#setup-token", "not the token").await;
    fill(c, "#setup-name", "Acme Support").await;
    fill(c, "#setup-url", &base).await;
    fill(c, "#setup-department", "Support").await;
    fill(c, "#setup-admin-name", "Alice Admin").await;
    fill(c, "#setup-email", "alice@acme.example").await;
    fill(c, "#setup-password", "alice's long secret").await;
    fill(c, "#setup-repeat", "alice's long secret").await;
    click(c, "#setup-submit").await;
    wait_text(c, "#err-token", "not the token the server printed").await;
    // What was typed stays (but the passwords).
    assert_eq!(
        c.find(Locator::Css("#setup-name")).await.unwrap().prop("value").await.unwrap().as_deref(),
        Some("Acme Support")
    );
    fill(c, "#setup-token", app.setup_token()).await;
    fill(c, "#setup-password", "alice's long secret").await;
    fill(c, "#setup-repeat", "alice's long secret").await;
    screenshot(c, "admin-setup").await;
    click(c, "#setup-submit").await;
    wait_until_url(c, "/agent/admin/settings").await;
    wait_text(c, ".brand", "Acme Support").await;
    assert!(!hd.needs_setup().unwrap());

    // --- settings: open registration ------------------------------------------
    c.find(Locator::Css("#set-registration option[value=open]")).await.unwrap().click().await.unwrap();
    click(c, "#settings-save").await;
    wait_text(c, "#content .notice", "Saved.").await;
    audit(c, "Admin > Settings").await;
    screenshot(c, "admin-settings").await;
    assert_eq!(hd.settings().unwrap().registration, helpdesk_core::admin::Registration::Open);

    // --- a custom field for Support ---------------------------------------------
    click(c, "#filter-pane a[href='/agent/admin/departments']").await;
    wait_until_url(c, "/agent/admin/departments").await;
    click(c, "#content a[href='/agent/admin/departments/1']").await;
    wait_until_url(c, "/agent/admin/departments/1").await;
    fill(c, "#add_field-label", "Order number").await;
    fill(c, "#add_field-key", "order no").await;
    // The browser says what a key may be before anything is sent.
    let valid =
        c.execute("return document.querySelector('#add_field-key').validity.valid", vec![]).await.unwrap();
    assert_eq!(valid, serde_json::json!(false));
    fill(c, "#add_field-key", "order_no").await;
    click(c, "#field-add button[type=submit]").await;
    wait_text(c, "#content table", "order_no").await;
    audit(c, "Admin > a department").await;
    screenshot(c, "admin-department").await;

    // --- a team, and an agent invited into it -------------------------------------
    click(c, "#filter-pane a[href='/agent/admin/teams']").await;
    fill(c, "#team-name", "Tier 1").await;
    click(c, "#team-create button[type=submit]").await;
    wait_text(c, "#content .notice", "Created.").await;
    click(c, "#filter-pane a[href='/agent/admin/agents']").await;
    fill(c, "#inv-name", "Sam Agent").await;
    fill(c, "#inv-email", "sam@acme.example").await;
    click(c, "#invite-team-1").await;
    click(c, "#invite-submit").await;
    wait_text(c, "#content .notice", "Invited Sam Agent").await;
    let link = c.find(Locator::Css("input.copy-link")).await.unwrap().prop("value").await.unwrap().unwrap();
    assert!(link.starts_with(&format!("{base}/agent/set-password?token=")), "{link}");
    audit(c, "Admin > Agents").await;
    screenshot(c, "admin-agents").await;
    let sam = hd.agent_by_email("sam@acme.example").unwrap().unwrap();
    assert_eq!(sam.teams, [TeamId(1)].into());

    // --- a user registers in the portal and writes in ---------------------------------
    c.goto(&format!("{base}/portal/register")).await.unwrap();
    fill(c, "input[name=name]", "Ann Customer").await;
    fill(c, "input[name=email]", "ann@customer.example").await;
    fill(c, "input[name=password]", "ann's long secret").await;
    click(c, "form.card button[type=submit]").await;
    wait_text(c, "main", "Your account is ready").await;
    c.goto(&format!("{base}/portal/login")).await.unwrap();
    fill(c, "input[name=email]", "ann@customer.example").await;
    fill(c, "input[name=password]", "ann's long secret").await;
    click(c, "form.card button[type=submit]").await;
    wait_until_url(c, "/portal/tickets").await;
    c.goto(&format!("{base}/portal/tickets/new?department=1")).await.unwrap();
    fill(c, "input[name=subject]", "My order has not arrived").await;
    fill(c, "textarea[name=body]", "It is a week late.").await;
    fill(c, "input[name=field_order_no]", "A-1042").await;
    click(c, "form.card[action='/portal/tickets'] button[type=submit]").await;
    wait_text(c, "main", "It is a week late.").await;
    let id = hd.store().last_ticket_id().unwrap().unwrap();
    let t = hd.ticket(id).unwrap();
    assert_eq!(t.fields.get("order_no"), Some(&FieldValue::Text("A-1042".into())));
    assert_eq!(t.status, Status::AwaitingAgent);

    // --- the invited agent sets a password and answers it ------------------------------
    c.goto(&link).await.unwrap();
    wait_text(c, "h1", "Welcome, Sam Agent").await;
    fill(c, "#sp-password", "sam's long secret").await;
    fill(c, "#sp-repeat", "sam's long secret").await;
    click(c, "#sp-submit").await;
    wait_text(c, "#filter-list", "All Tickets").await;
    c.goto(&format!("{base}/agent/tickets/{}", id.0)).await.unwrap();
    wait_text(c, &format!(".ticket[data-ticket='{}'] h1", id.0), "My order has not arrived").await;
    fill(c, &format!("#composer-body-{}", id.0), "It left our warehouse today; tracking follows.").await;
    click(c, &format!("#send-{}", id.0)).await;
    wait_text(c, &format!(".ticket[data-ticket='{}'] .timeline", id.0), "tracking follows").await;
    let t = hd.ticket(id).unwrap();
    assert_eq!(t.status, Status::AwaitingUser);
    assert_eq!(t.messages.last().unwrap().author, Author::Agent(sam.id));
    screenshot(c, "admin-first-ticket").await;
    // Sam is not an admin: no Admin app, and its screens are refused.
    assert!(c.find(Locator::Css("#app-admin")).await.is_err());
    c.goto(&format!("{base}/agent/admin/settings")).await.unwrap();
    wait_text(c, "#content", "not an admin").await;

    // --- the admin reads the audit log ---------------------------------------------------
    c.goto(&format!("{base}/agent/profile")).await.unwrap();
    click(c, ".profile summary").await;
    click(c, "form[action='/agent/logout'] button").await;
    fill(c, "#login-email", "alice@acme.example").await;
    fill(c, "#login-password", "alice's long secret").await;
    click(c, "#login-submit").await;
    wait_text(c, "#filter-list", "All Tickets").await;
    click(c, "#app-admin").await;

    // --- a trigger made in the form, tried on the tickets, then saved -----------------------
    click(c, "#filter-pane a[href='/agent/admin/rules']").await;
    wait_text(c, "#admin-title", "Rules").await;
    click(c, "a[href='/agent/admin/rules/new/trigger']").await;
    fill(c, "#rule-name", "Orders get a label").await;
    fill(c, "input[name=c0_field]", "ticket.subject").await;
    c.find(Locator::Css("select[name=c0_op] option[value=contains]")).await.unwrap().click().await.unwrap();
    fill(c, "input[name=c0_value]", "order").await;
    c.find(Locator::Css("select[name=a0_action] option[value=add_label]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    fill(c, "input[name=a0_value]", "orders").await;
    click(c, "#rule-try").await;
    wait_text(c, "#dry-run", "It would act on 1 of 1 tickets. Nothing was changed.").await;
    wait_text(c, "#dry-run", "label +orders").await;
    assert!(hd.ticket(id).unwrap().labels.is_empty(), "a dry run changes nothing");
    audit(c, "Admin > a rule with its dry run").await;
    screenshot(c, "admin-rule-dry-run").await;
    click(c, "#rule-save").await;
    wait_text(c, "#content", "Created.").await;
    assert!(hd.rule(helpdesk_core::admin::RuleKind::Trigger, "Orders get a label").is_ok());
    click(c, "#content a[href='/agent/admin/rules']").await;
    wait_text(c, "#content", "Orders get a label").await;
    audit(c, "Admin > Rules").await;
    screenshot(c, "admin-rules").await;

    // --- an email account with a relay of its own, and a test mail through it ----------
    let relay = smtp_server::SmtpServer::start();
    click(c, "#filter-pane a[href='/agent/admin/email']").await;
    wait_text(c, "#admin-title", "Email").await;
    fill(c, "#create-address", "support@acme.example").await;
    fill(c, "#create-name", "Acme Support").await;
    if let Some(r) = &relay {
        fill(c, "#create-host", "127.0.0.1").await;
        fill(c, "#create-port", &r.port.to_string()).await;
        c.find(Locator::Css("#create-security option[value=none]")).await.unwrap().click().await.unwrap();
    }
    click(c, "#account-create button[type=submit]").await;
    wait_text(c, "#content", "Created.").await;
    click(c, "#account-test button[type=submit]").await;
    let answer = if relay.is_some() { "The relay took the mail." } else { "The mail was not sent." };
    wait_text(c, "#test-result", answer).await;
    if let Some(r) = &relay {
        wait_text(c, "#test-result", "250").await;
        assert_eq!(r.messages().len(), 1, "the test mail reached the relay");
    }
    audit(c, "Admin > an email account").await;
    screenshot(c, "admin-email-account").await;

    // --- a mail template written in German, previewed on the ticket, saved --------------------
    click(c, "#filter-pane a[href='/agent/admin/templates']").await;
    wait_text(c, "#admin-title", "Templates").await;
    click(c, "#template-list a[href='/agent/admin/templates/user.agent_reply/en']").await;
    wait_text(c, "#admin-title", "Agent's reply").await;
    fill(c, "#other-language", "de").await;
    click(c, "#template-language button[type=submit]").await;
    wait_text(c, "#template-state", "No text in Deutsch yet").await;
    fill(c, "#template-subject", "AW: {{ ticket.subject }}").await;
    fill(
        c,
        "#template-body",
        "Hallo {{ recipient.first_name }},\n\n{% if message %}\n{{ message.author }} schrieb:\n\n{{ message.body }}\n{% endif %}\n\nIhr Team von {{ helpdesk.name }}\n",
    )
    .await;
    click(c, "#template-preview-button").await;
    wait_text(c, "#template-preview", "Hallo Ann,").await;
    wait_text(c, "#template-preview", &format!("[#{}]", id.0)).await;
    audit(c, "Admin > a mail template").await;
    screenshot(c, "admin-template").await;
    click(c, "#template-form button[value=save]").await;
    wait_text(c, "#content", "Saved.").await;
    wait_text(c, "#template-state", "Your text is used").await;

    // --- a user found, blocked, their ticket marked as spam ----------------------------------
    click(c, "#filter-pane a[href='/agent/admin/users']").await;
    fill(c, "#user-q", "customer").await;
    click(c, "#user-search button[type=submit]").await;
    wait_text(c, "#content table", "Ann Customer").await;
    click(c, "#content table a").await;
    wait_text(c, "#admin-title", "Ann Customer").await;
    click(c, "#block-spam").await;
    click(c, "#user-block button[type=submit]").await;
    wait_text(c, "#content", "Blocked: their mail is ignored").await;
    assert_eq!(hd.ticket(id).unwrap().status, Status::Spam);
    audit(c, "Admin > a user").await;
    screenshot(c, "admin-user").await;

    click(c, "#filter-pane a[href='/agent/admin/audit']").await;
    wait_text(c, "#content .audit-log", "Invited agent Sam Agent").await;
    let log = c.find(Locator::Css("#content .audit-log")).await.unwrap().text().await.unwrap();
    for want in [
        "Set up Acme Support",
        "Changed settings: registration",
        "Added field",
        "Created team Tier 1",
        "sam@acme.example logged in",
        "Added trigger \"Orders get a label\"",
        "Created email account support@acme.example",
        "Sent a test mail from support@acme.example",
        "Blocked user Ann Customer",
        "Wrote template user.agent_reply in Deutsch",
    ] {
        assert!(log.contains(want), "{want:?} not in the audit log:\n{log}");
    }
    audit(c, "Admin > Audit log").await;
    screenshot(c, "admin-audit").await;

    // --- a phone: the sections first, then a screen ----------------------------------------
    c.set_window_size(390, 844).await.unwrap();
    c.goto(&format!("{base}/agent/admin")).await.unwrap();
    wait_text(c, "#filter-pane", "Audit log").await;
    screenshot(c, "admin-phone-sections").await;
    click(c, "#filter-pane a[href='/agent/admin/agents']").await;
    wait_text(c, "#admin-title", "Agents").await;
    assert!(displayed(c, "#content").await && !displayed(c, "#filter-pane").await);
    screenshot(c, "admin-phone-agents").await;
    c.goto(&format!("{base}/agent/admin/email/1")).await.unwrap();
    wait_text(c, "#admin-title", "support@acme.example").await;
    assert!(displayed(c, "#content").await && !displayed(c, "#filter-pane").await);
    screenshot(c, "admin-phone-email").await;
    c.goto(&format!("{base}/agent/admin/templates/user.agent_reply/de")).await.unwrap();
    wait_text(c, "#admin-title", "Agent's reply").await;
    assert!(displayed(c, "#template-body").await);
    screenshot(c, "admin-phone-template").await;

    // --- two-factor login: Alice turns it on in her profile, then logs in
    // with a recovery code (on the phone) -------------------------------------
    c.set_window_size(1440, 900).await.unwrap();
    c.goto(&format!("{base}/agent/profile/two-factor")).await.unwrap();
    wait_text(c, "#tf-title", "Two-factor login").await;
    assert!(displayed(c, "svg.qr").await);
    audit(c, "the two-factor profile screen").await;
    screenshot(c, "profile-two-factor").await;
    let secret = c
        .find(Locator::Css("#tf-enable input[name=secret]"))
        .await
        .unwrap()
        .prop("value")
        .await
        .unwrap()
        .unwrap();
    let code = helpdesk_store::two_factor::totp_code(&secret, chrono::Utc::now()).unwrap();
    fill(c, "#tf-enable-code", &code).await;
    click(c, "#tf-enable-submit").await;
    wait_text(c, "#content", "Two-factor login is on.").await;
    let recovery = c.find(Locator::Css("ol.recovery-codes li code")).await.unwrap().text().await.unwrap();
    assert_eq!(recovery.len(), 11, "{recovery:?}");
    screenshot(c, "profile-recovery-codes").await;
    c.delete_all_cookies().await.unwrap();
    c.set_window_size(390, 844).await.unwrap();
    c.goto(&format!("{base}/agent/login")).await.unwrap();
    fill(c, "#login-email", "alice@acme.example").await;
    fill(c, "#login-password", "alice's long secret").await;
    click(c, "#login-submit").await;
    wait_until_url(c, "/agent/login/two-factor").await;
    audit(c, "the two-factor login step").await;
    fill(c, "#tf-code", &recovery).await;
    screenshot(c, "phone-two-factor-login").await;
    click(c, "#tf-submit").await;
    // Signed in: a phone shows the ticket list first.
    wait_text(c, "#list-pane", "My Tickets").await;
    assert!(displayed(c, "#list-pane").await);
    browser.close().await;
}
