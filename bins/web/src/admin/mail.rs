//! Admin > Email: the email accounts (address, department, the ways mail
//! comes in, the relay it leaves by, a test mail with the relay's answer)
//! and the mail settings (auto-responses, automatic replies, Message-IDs).
//!
//! | URL | screen |
//! | --- | --- |
//! | `/agent/admin/email` | accounts, adding one, mail settings |
//! | `/agent/admin/email/{id}` | one account: change, test mail, removal |

use super::api::{account_view, test_mail};
use super::pages::{checkbox, csrf, op, screen, Form, Outcome, Section, Shown};
use crate::error::ApiError;
use crate::workspace::Ctx;
use crate::App;
use helpdesk_core::mail::{AutoReplyPolicy, EmailAccount, InboundWays, RateLimit, Relay, RelaySecurity};
use helpdesk_core::*;
use helpdesk_store::admin::{AccountChange, TestMail};
use helpdesk_store::Admin;
use maud::{html, Markup};
use warp::http::StatusCode;
use warp::reply::Response;

fn num(s: &str) -> Result<u64, ApiError> {
    super::pages::path_id(s, "There is no such email account.")
}

/// `GET /agent/admin/email...`.
pub(super) fn show(
    app: &App,
    ctx: &Ctx,
    rest: &[&str],
    shown: &Shown,
    status: StatusCode,
) -> Result<Response, ApiError> {
    match rest {
        [] => accounts_screen(app, ctx, shown, status),
        [a] => account_screen(app, ctx, EmailAccountId(num(a)?), shown, status, None),
        _ => Err(ApiError::not_found("There is no such admin screen.")),
    }
}

fn ways(w: &InboundWays) -> String {
    match (w.smtp, w.http) {
        (true, true) => "SMTP listener, HTTP ingest".into(),
        (true, false) => "SMTP listener".into(),
        (false, true) => "HTTP ingest".into(),
        (false, false) => "none (sending only)".into(),
    }
}

fn accounts_screen(app: &App, ctx: &Ctx, shown: &Shown, status: StatusCode) -> Result<Response, ApiError> {
    let hd = app.helpdesk();
    let departments = hd.departments()?;
    let dept =
        |d: DepartmentId| departments.iter().find(|x| x.id == d).map(|d| d.name.clone()).unwrap_or_default();
    let mut accounts = Vec::new();
    for a in hd.email_accounts()? {
        accounts.push(account_view(app, a)?);
    }
    let m = hd.mail_settings()?;
    let v = |k: &str, cur: &str| shown.value("mail_settings", k, cur);
    let policy =
        v("auto_replies", if m.auto_replies == AutoReplyPolicy::TakeIn { "take_in" } else { "ignore" });
    let body = html! {
        @if accounts.is_empty() {
            p.empty { "No email accounts yet: add one so that mail to its address becomes tickets." }
        } @else {
            div.table-wrap {
                table.admin-table {
                    caption.vh { "Email accounts" }
                    thead { tr { th scope="col" { "Account" } th scope="col" { "Department" } th scope="col" { "Mail comes in by" } th scope="col" { "Mail leaves by" } } }
                    tbody {
                        @for a in &accounts {
                            tr {
                                td { a href=(format!("/agent/admin/email/{}", a.account.id.0)) { (a.account.address) } br; span.muted { (a.account.name) } }
                                td { (dept(a.account.department)) }
                                td { (ways(&a.account.inbound)) }
                                td { @match &a.sends_by { Some(s) => (s), None => span.muted { "no relay: mail is not sent" } } }
                            }
                        }
                    }
                }
            }
        }
        form #account-create .form method="post" action="/agent/admin/email" {
            (csrf(ctx)) (op("create"))
            h2 { "Add an email account" }
            (shown.error_for("create"))
            (account_inputs(app, shown, "create", None, false)?)
            div.form-actions { button.btn.primary type="submit" { "Add account" } }
        }
        form #mail-settings .form method="post" action="/agent/admin/email" {
            (csrf(ctx)) (op("mail_settings"))
            h2 { "Mail settings" }
            (shown.error_for("mail_settings"))
            fieldset {
                legend { "Auto-responses (the “we received your request” mail)" }
                div.form-grid {
                    div.form-row {
                        label for="ms-max" { "At most, per person" }
                        input #ms-max type="number" name="auto_max" min="0" max="100" value=(v("auto_max", &m.auto_responses.max.to_string()));
                    }
                    div.form-row {
                        label for="ms-window" { "In (minutes)" }
                        input #ms-window type="number" name="auto_minutes" min="1" max="10080" value=(v("auto_minutes", &(m.auto_responses.per_seconds / 60).to_string()));
                    }
                }
                p.hint { "Keeps a mail loop with another auto-responder short. 0: never auto-respond." }
            }
            div.form-row {
                label for="ms-replies" { "Out-of-office and automatic replies (known by their subject)" }
                select #ms-replies name="auto_replies" {
                    option value="ignore" selected[policy == "ignore"] { "Ignore them" }
                    option value="take_in" selected[policy == "take_in"] { "Take them in (never auto-responded to)" }
                }
            }
            div.form-row {
                label for="ms-domain" { "Domain in Message-IDs" }
                input #ms-domain type="text" name="message_id_domain" placeholder="each account's own domain" value=(v("message_id_domain", m.message_id_domain.as_deref().unwrap_or("")));
                p.hint { "Only when the accounts' domains must not appear in mail headers." }
            }
            div.form-actions { button #mail-settings-save .btn.primary type="submit" { "Save mail settings" } }
        }
    };
    screen(app, ctx, Section::Email, "Email", shown, status, body)
}

fn account_inputs(
    app: &App,
    shown: &Shown,
    op: &str,
    a: Option<&EmailAccount>,
    password_set: bool,
) -> Result<Markup, ApiError> {
    let departments = app.helpdesk().departments()?;
    let x = |s: &str| format!("{op}-{s}");
    let typed = shown.typed(op);
    let inbound = a.map(|a| a.inbound).unwrap_or_default();
    let smtp = if typed { shown.form.on("inbound_smtp") } else { inbound.smtp };
    let http = if typed { shown.form.on("inbound_http") } else { inbound.http };
    let relay = a.and_then(|a| a.relay.clone());
    let r = |k: &str, cur: String| shown.value(op, k, &cur);
    let dept = r("department", a.map(|a| a.department.0.to_string()).unwrap_or_default());
    let security = r("security", relay.as_ref().map(|r| r.security).unwrap_or_default().as_str().to_string());
    let server = app.config().smtp_relay.as_ref().map(|c| c.describe());
    Ok(html! {
        div.form-grid {
            div.form-row { label for=(x("address")) { "Address" } input id=(x("address")) type="email" name="address" required value=(r("address", a.map(|a| a.address.to_string()).unwrap_or_default())); }
            div.form-row { label for=(x("name")) { "Name on outgoing mail" } input id=(x("name")) type="text" name="name" required maxlength="200" placeholder="Acme Support" value=(r("name", a.map(|a| a.name.clone()).unwrap_or_default())); }
        }
        div.form-row {
            label for=(x("dept")) { "Department" }
            select id=(x("dept")) name="department" required {
                @for d in &departments { option value=(d.id.0) selected[dept == d.id.0.to_string()] { (d.name) } }
            }
            p.hint { "Mail to the address becomes tickets here; this department's replies leave from this address." }
        }
        fieldset.checks {
            legend { "Mail comes in by" }
            (checkbox("inbound_smtp", "on", "The SMTP listener (--smtp-listen)", smtp, &x("smtp")))
            (checkbox("inbound_http", "on", "HTTP ingest (POST /api/mail/inbound)", http, &x("http")))
        }
        fieldset {
            legend { "Mail leaves by" }
            p.hint {
                "A relay of its own, or (with no host) the server's relay"
                @match &server { Some(s) => { " (" (s) ")." } None => { ": none is set (--smtp-relay), so mail is not sent." } }
                " A stored password is only ever sent to the relay it was typed for."
            }
            div.form-grid {
                div.form-row { label for=(x("host")) { "Relay host" } input id=(x("host")) type="text" name="relay_host" placeholder="smtp.example.com" value=(r("relay_host", relay.as_ref().map(|r| r.host.clone()).unwrap_or_default())); }
                div.form-row { label for=(x("port")) { "Port" } input id=(x("port")) type="number" name="relay_port" min="1" max="65535" value=(r("relay_port", relay.as_ref().map_or("587".into(), |r| r.port.to_string()))); }
                div.form-row {
                    label for=(x("security")) { "Security" }
                    select id=(x("security")) name="security" {
                        @for s in RelaySecurity::ALL {
                            option value=(s.as_str()) selected[security == s.as_str()] {
                                (match s { RelaySecurity::StartTls => "STARTTLS (port 587)", RelaySecurity::Tls => "TLS (port 465)", RelaySecurity::None => "None (local relay)" })
                            }
                        }
                    }
                }
                div.form-row { label for=(x("user")) { "Login name" } input id=(x("user")) type="text" name="relay_username" autocomplete="off" value=(r("relay_username", relay.as_ref().and_then(|r| r.username.clone()).unwrap_or_default())); }
                div.form-row {
                    label for=(x("password")) { "Password" }
                    input id=(x("password")) type="password" name="relay_password" autocomplete="new-password" placeholder=(if password_set { "stored: leave empty to keep it" } else { "" });
                }
            }
            @if password_set { div.checks { (checkbox("forget_password", "on", "Remove the stored password", false, &x("forget"))) } }
        }
    })
}

fn parse_account(f: &Form) -> Result<AccountChange, ApiError> {
    let department = DepartmentId(
        f.get("department")
            .parse()
            .map_err(|_| ApiError::invalid("choose the department its tickets go to"))?,
    );
    let relay = if !f.get("relay_host").trim().is_empty() {
        let port = f
            .get("relay_port")
            .trim()
            .parse::<u16>()
            .map_err(|_| ApiError::invalid("the relay's port is a number from 1 to 65535"))?;
        let security = RelaySecurity::parse(&f.get("security")).unwrap_or_default();
        let username = Some(f.get("relay_username"));
        Some(Relay { host: f.get("relay_host"), port, security, username })
    } else {
        None
    };
    let password = f.get("relay_password");
    let relay_password = if f.on("forget_password") || relay.is_none() {
        Some(String::new())
    } else if password.is_empty() {
        None
    } else {
        Some(password)
    };
    Ok(AccountChange {
        address: f.get("address"),
        name: f.get("name"),
        department,
        inbound: InboundWays { smtp: f.on("inbound_smtp"), http: f.on("inbound_http") },
        relay,
        relay_password,
    })
}

fn account_screen(
    app: &App,
    ctx: &Ctx,
    id: EmailAccountId,
    shown: &Shown,
    status: StatusCode,
    test: Option<&TestMail>,
) -> Result<Response, ApiError> {
    let view = account_view(app, app.helpdesk().email_account(id)?)?;
    let a = &view.account;
    let base = format!("/agent/admin/email/{}", id.0);
    let body = html! {
        @if let Some(t) = test {
            div.notice.(if t.accepted { "info" } else { "error" }) #test-result role="status" {
                strong { (if t.accepted { "The relay took the mail." } else { "The mail was not sent." }) }
                " To " (t.to) " by " (t.relay) ". "
                "Answer: " code { (t.answer) }
            }
        }
        form #account-edit .form method="post" action=(base) {
            (csrf(ctx)) (op("update"))
            (shown.error_for("update"))
            (account_inputs(app, shown, "update", Some(a), view.relay_password_set)?)
            div.form-actions { button.btn.primary type="submit" { "Save account" } }
        }
        section.admin-section #test-mail {
            h2 { "Send a test mail" }
            p.muted {
                "From " (a.address) " by "
                @match &view.sends_by { Some(s) => (s), None => "no relay" }
                ". The relay's answer is shown here."
            }
            (shown.error_for("test"))
            form #account-test .form method="post" action=(base) {
                (csrf(ctx)) (op("test"))
                div.form-row {
                    label for="test-to" { "Send to" }
                    input #test-to type="email" name="to" required value=(shown.value("test", "to", ctx.agent.email.as_str()));
                }
                div.form-actions { button.btn type="submit" { "Send test mail" } }
            }
        }
        section.admin-section.danger-zone {
            h2 { "Remove this account" }
            (shown.error_for("remove"))
            p.muted { "Mail to " (a.address) " is then no longer taken in. Tickets stay; their department's replies leave from another account." }
            form method="post" action=(base) { (csrf(ctx)) (op("remove")) button.btn.danger type="submit" { "Remove " (a.address) } }
        }
    };
    screen(app, ctx, Section::Email, a.address.as_str(), shown, status, body)
}

/// `POST /agent/admin/email...`.
pub(super) fn apply(
    app: &App,
    ctx: &Ctx,
    admin: &Admin<'_>,
    rest: &[&str],
    op: &str,
    f: &Form,
) -> Result<Outcome, ApiError> {
    match (rest, op) {
        ([], "create") => {
            let a = admin.create_email_account(parse_account(f)?)?;
            Ok(Outcome::Go(format!("/agent/admin/email/{}", a.id.0), "created"))
        }
        ([], "mail_settings") => {
            let n = |k: &str, what: &str| {
                f.get(k)
                    .trim()
                    .parse::<u32>()
                    .map_err(|_| ApiError::invalid(format!("{what} is a whole number")))
            };
            let limit = RateLimit {
                max: n("auto_max", "The most auto-responses")?,
                per_seconds: n("auto_minutes", "The window")?.saturating_mul(60),
            };
            let policy = if f.get("auto_replies") == "take_in" {
                AutoReplyPolicy::TakeIn
            } else {
                AutoReplyPolicy::Ignore
            };
            admin.set_mail_settings(limit, policy, Some(f.get("message_id_domain")))?;
            Ok(Outcome::Go("/agent/admin/email".into(), "saved"))
        }
        ([a], op) => {
            let id = EmailAccountId(num(a)?);
            let here = format!("/agent/admin/email/{}", id.0);
            match op {
                "update" => {
                    admin.update_email_account(id, parse_account(f)?)?;
                    Ok(Outcome::Go(here, "saved"))
                }
                "test" => {
                    // The relay's answer, taken or not, is the screen's news.
                    let sent = test_mail(app, admin, id, f.get("to").trim())?;
                    Ok(Outcome::Show(account_screen(
                        app,
                        ctx,
                        id,
                        &Shown::default(),
                        StatusCode::OK,
                        Some(&sent),
                    )?))
                }
                "remove" => {
                    admin.remove_email_account(id)?;
                    Ok(Outcome::Go("/agent/admin/email".into(), "removed"))
                }
                _ => Err(ApiError::bad_request("unknown email account action")),
            }
        }
        _ => Err(ApiError::bad_request("unknown email action")),
    }
}
