//! Admin > Templates: the subject and body of every mail the helpdesk
//! sends, per language, with the placeholders each may use, a preview on a
//! real ticket, and custom templates for rules' notifications.
//!
//! | URL | screen |
//! | --- | --- |
//! | `/agent/admin/templates` | every mail, the languages written, custom templates |
//! | `/agent/admin/templates/{key}/{language}` | one template in one language: edit, preview, remove |
//! | `/agent/admin/templates/open?key=&language=` | goes to the editor of that template and language |

use super::pages::{csrf, op, screen, Form, Outcome, Section, Shown};
use super::rules::segment;
use crate::error::ApiError;
use crate::workspace::Ctx;
use crate::App;
use helpdesk_core::templates::{
    default_for, Language, MailKind, MailTemplate, RenderedMail, TemplateKey, KNOWN_LANGUAGES,
};
use helpdesk_core::TicketId;
use helpdesk_store::admin::StoredTemplate;
use helpdesk_store::{Admin, Helpdesk};
use maud::{html, Markup};
use warp::http::StatusCode;
use warp::reply::Response;

/// The editor's address.
pub fn editor_url(key: &TemplateKey, language: &Language) -> String {
    format!("/agent/admin/templates/{key}/{language}")
}

/// The key and language named in an address.
pub fn key_and_language(key: &str, language: &str) -> Result<(TemplateKey, Language), ApiError> {
    let key = TemplateKey::parse(&segment(key)?).map_err(|e| ApiError::not_found(e.to_string()))?;
    let language = Language::parse(&segment(language)?).map_err(|e| ApiError::not_found(e.to_string()))?;
    Ok((key, language))
}

/// A template's title for people.
pub fn title(key: &TemplateKey) -> String {
    match key {
        TemplateKey::Builtin(k) => k.title().to_string(),
        TemplateKey::Custom(n) => format!("Custom template “{n}”"),
    }
}

/// What an unsaved text would look like (or why it cannot be written).
pub type Preview = Result<RenderedMail, String>;

/// `GET /agent/admin/templates...`.
pub(super) fn show(
    app: &App,
    ctx: &Ctx,
    rest: &[&str],
    query: &str,
    shown: &Shown,
    status: StatusCode,
) -> Result<Response, ApiError> {
    match rest {
        [] => list_screen(app, ctx, shown, status),
        ["open"] => {
            let q: Vec<(String, String)> = serde_urlencoded::from_str(query).unwrap_or_default();
            let get = |k: &str| q.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()).unwrap_or_default();
            let parsed = TemplateKey::parse(get("key").trim())
                .map_err(|e| e.to_string())
                .and_then(|k| Ok((k, Language::parse(&get("language")).map_err(|e| e.to_string())?)));
            match parsed {
                Ok((key, language)) => Ok(crate::workspace::redirect(&ctx.hx, &editor_url(&key, &language))),
                // The list again, the reason by the form.
                Err(message) => {
                    let shown = Shown { error: Some(("open".into(), message)), ..Shown::default() };
                    list_screen(app, ctx, &shown, StatusCode::UNPROCESSABLE_ENTITY)
                }
            }
        }
        [key, language] => {
            let (key, language) = key_and_language(key, language)?;
            editor_screen(app, ctx, &key, &language, shown, status, None)
        }
        _ => Err(ApiError::not_found("There is no such admin screen.")),
    }
}

fn languages_written(stored: &[StoredTemplate], key: &TemplateKey) -> Vec<Language> {
    stored.iter().filter(|t| t.key == key.as_string()).map(|t| t.language.clone()).collect()
}

fn language_links(stored: &[StoredTemplate], key: &TemplateKey) -> Markup {
    let written = languages_written(stored, key);
    html! {
        @if written.is_empty() { span.muted { "built-in" } }
        @for (i, l) in written.iter().enumerate() {
            @if i > 0 { ", " }
            a href=(editor_url(key, l)) { (l.name()) }
        }
    }
}

fn language_datalist() -> Markup {
    html! {
        datalist #known-languages {
            @for (tag, name) in KNOWN_LANGUAGES { option value=(tag) { (name) } }
        }
    }
}

fn list_screen(app: &App, ctx: &Ctx, shown: &Shown, status: StatusCode) -> Result<Response, ApiError> {
    let hd = app.helpdesk();
    let stored = hd.mail_templates()?;
    let default = hd.settings()?.language;
    let custom = hd.custom_templates()?;
    let row = |key: TemplateKey| {
        html! {
            tr {
                td { a href=(editor_url(&key, &default)) { (title(&key)) } br; code.muted { (key) } }
                td { (language_links(&stored, &key)) }
            }
        }
    };
    let mut custom_rows = Vec::new();
    for name in &custom {
        custom_rows.push((TemplateKey::Custom(name.clone()), hd.rules_naming_template(name)?));
    }
    let body = html! {
        p.muted {
            "Each person gets mail in their own language (set on their user or agent record), else in the helpdesk's language ("
            (default.name()) ", in " a href="/agent/admin/settings" { "Settings" } "). "
            "Where no text is written in that language, the built-in English text is used."
        }
        div.table-wrap {
            table.admin-table #template-list {
                caption.vh { "Mail templates" }
                thead { tr { th scope="col" { "Mail" } th scope="col" { "Your texts" } } }
                tbody { @for k in MailKind::ALL { (row(TemplateKey::Builtin(k))) } }
            }
        }
        section.admin-section #custom-templates {
            h2 { "Custom templates for rules" }
            p.muted { "A trigger or escalation that notifies someone can name one of these (its “notify” action's template); the mail then uses it instead of the built-in one. They may be sent to users, so they offer only what users may see." }
            @if custom_rows.is_empty() {
                p.empty { "No custom templates yet." }
            } @else {
                div.table-wrap {
                    table.admin-table {
                        caption.vh { "Custom templates" }
                        thead { tr { th scope="col" { "Template" } th scope="col" { "Your texts" } th scope="col" { "Used by" } } }
                        tbody {
                            @for (k, rules) in &custom_rows {
                                tr {
                                    td { a href=(editor_url(k, &default)) { (title(k)) } }
                                    td { (language_links(&stored, k)) }
                                    td { @if rules.is_empty() { span.muted { "no rule" } } @else { (rules.join(", ")) } }
                                }
                            }
                        }
                    }
                }
            }
            form #template-custom-new .form method="get" action="/agent/admin/templates/open" {
                (shown.error_for("open"))
                input type="hidden" name="language" value=(default);
                div.form-grid {
                    div.form-row {
                        label for="custom-name" { "New custom template" }
                        input #custom-name type="text" name="key" required pattern="custom\\.[A-Za-z0-9_\\-]{1,64}" value="custom." aria-describedby="custom-name-hint";
                        p.hint #custom-name-hint { "custom. then a name of letters, digits, - or _ (as rules name it). It exists once its text is saved." }
                    }
                }
                div.form-actions { button.btn type="submit" { "Write it" } }
            }
        }
    };
    screen(app, ctx, Section::Templates, "Templates", shown, status, body)
}

/// The newest visible ticket (the preview's default).
fn newest_ticket(hd: &Helpdesk) -> Option<TicketId> {
    hd.newest_ticket().ok().flatten()
}

fn placeholders(key: &TemplateKey) -> Markup {
    html! {
        aside.template-help aria-labelledby="placeholders-title" {
            h2 #placeholders-title { "What you can write" }
            p.hint { "Write " code { "{{ ticket.subject }}" } " for a value, " code { "{% if message %}…{% endif %}" } " to show a part only when there is one, " code { "{{ message.attachments|join(\", \") }}" } " for a list. Values marked optional may be empty: test them with " code { "if" } " before reaching into them." }
            dl.placeholder-list {
                @for p in key.vocabulary().placeholders() {
                    dt { code { (p.path) } @if p.optional { " " span.badge { "optional" } } }
                    dd { (p.about) }
                }
            }
        }
    }
}

fn editor_screen(
    app: &App,
    ctx: &Ctx,
    key: &TemplateKey,
    language: &Language,
    shown: &Shown,
    status: StatusCode,
    preview: Option<(&MailTemplate, Option<u64>, &Preview)>,
) -> Result<Response, ApiError> {
    let hd = app.helpdesk();
    let stored = hd.mail_templates()?;
    let own = hd.mail_template(key, language)?;
    let in_force = hd.template_for(key, Some(language))?;
    let starting = own
        .clone()
        .or_else(|| in_force.as_ref().map(|r| r.template.clone()))
        .unwrap_or_else(|| default_for(key));
    let typed = preview.map(|(t, _, _)| t.clone()).unwrap_or_else(|| MailTemplate {
        subject: shown.value("save", "subject", &starting.subject),
        body: shown.value("save", "body", &starting.body),
    });
    let mut languages = hd.mail_languages()?;
    if !languages.contains(language) {
        languages.push(language.clone());
    }
    let ticket_choice = preview
        .and_then(|(_, t, _)| t)
        .or_else(|| shown.form.get("ticket").parse().ok())
        .or_else(|| newest_ticket(hd).map(|t| t.0));
    let state = match (&own, &in_force) {
        (Some(_), _) => "Your text is used for mail in this language.".to_string(),
        (None, Some(r)) if r.customised => format!(
            "No text in {} yet: mail in it uses your {} text, shown below as a start.",
            language.name(),
            r.language.name()
        ),
        (None, Some(_)) => format!(
            "No text in {} yet: mail in it uses the built-in English text, shown below as a start.",
            language.name()
        ),
        (None, None) => {
            "This custom template has no text yet; rules naming it send the built-in mail until you save one."
                .into()
        }
    };
    let base = editor_url(key, language);
    let body = html! {
        p.muted { code { (key) } " · " (language.name()) }
        nav.edit-as aria-label="Languages" {
            @for l in &languages {
                a href=(editor_url(key, l)) aria-current=[(l == language).then_some("page")] {
                    (l.name())
                    @if languages_written(&stored, key).contains(l) { " ✓" }
                }
            }
        }
        form #template-language .filter-bar method="get" action="/agent/admin/templates/open" {
            input type="hidden" name="key" value=(key);
            div.form-row {
                label for="other-language" { "Write it in another language" }
                input #other-language type="text" name="language" list="known-languages" required placeholder="de, fr, pt-br" size="10";
                (language_datalist())
            }
            button.btn type="submit" { "Open" }
        }
        p #template-state { (state) }
        @if let Some((_, _, result)) = preview {
            section.admin-section #template-preview aria-labelledby="preview-title" {
                h2 #preview-title { "Preview" }
                @match result {
                    Ok(r) => {
                        p { strong { "Subject: " } (r.subject) }
                        pre.mail-preview { (r.body) }
                    }
                    Err(e) => div.notice.error role="alert" { (e) }
                }
            }
        }
        div.template-layout {
            form #template-form .form method="post" action=(base) {
                (csrf(ctx))
                (shown.error_for("save"))
                div.form-row {
                    label for="template-subject" { "Subject" }
                    input #template-subject type="text" name="subject" required maxlength="1000" value=(typed.subject);
                    @if key.about_ticket() { p.hint { "The ticket's reference " code { "[#id]" } " is added to the subject if you leave it out: replies find their ticket by it." } }
                }
                div.form-row {
                    label for="template-body" { "Body (plain text)" }
                    textarea #template-body .code name="body" rows="18" spellcheck="false" { "\n" (typed.body) }
                    @if key.about_ticket() { p.hint { "The line “Please type your reply above this line” goes above it." } }
                }
                @if key.about_ticket() {
                    div.form-row {
                        label for="template-ticket" { "Preview on ticket #" }
                        input #template-ticket type="number" name="ticket" min="1" value=[ticket_choice];
                    }
                }
                div.form-actions {
                    button.btn.primary type="submit" name="op" value="save" { "Save " (language.name()) " text" }
                    button #template-preview-button .btn type="submit" name="op" value="preview" { "Preview" }
                }
            }
            (placeholders(key))
        }
        @if own.is_some() {
            section.admin-section.danger-zone {
                h2 { "Remove your " (language.name()) " text" }
                (shown.error_for("remove"))
                form #template-remove method="post" action=(base) {
                    (csrf(ctx)) (op("remove"))
                    p.hint { "Mail in this language then uses the helpdesk's language or the built-in text." }
                    button.btn.danger type="submit" { "Remove" }
                }
            }
        }
    };
    screen(app, ctx, Section::Templates, &title(key), shown, status, body)
}

/// The preview of `text` (on `ticket` for ticket mails), or why it fails.
pub fn preview(app: &App, ctx: &Ctx, key: &TemplateKey, text: &MailTemplate, ticket: Option<u64>) -> Preview {
    let base = super::api::public_url(app);
    helpdesk_mail::outbound::preview(app.helpdesk(), key, text, ticket.map(TicketId), &ctx.agent, Some(&base))
        .map_err(|e| ApiError::from(e).message)
}

/// `POST /agent/admin/templates...`.
pub(super) fn apply(
    app: &App,
    ctx: &Ctx,
    admin: &Admin<'_>,
    rest: &[&str],
    op: &str,
    f: &Form,
) -> Result<Outcome, ApiError> {
    let [key, language] = rest else { return Err(ApiError::bad_request("unknown template action")) };
    let (key, language) = key_and_language(key, language)?;
    let text = MailTemplate { subject: f.get("subject"), body: f.get("body").replace("\r\n", "\n") };
    match op {
        "save" => {
            admin.save_mail_template(&key, &language, text)?;
            Ok(Outcome::Go(editor_url(&key, &language), "saved"))
        }
        "preview" => {
            let ticket = f.get("ticket").trim().parse::<u64>().ok();
            let result = preview(app, ctx, &key, &text, ticket);
            let status = if result.is_ok() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
            let shown = Shown::default();
            Ok(Outcome::Show(editor_screen(
                app,
                ctx,
                &key,
                &language,
                &shown,
                status,
                Some((&text, ticket, &result)),
            )?))
        }
        "remove" => {
            admin.remove_mail_template(&key, &language)?;
            Ok(Outcome::Go(editor_url(&key, &language), "removed"))
        }
        _ => Err(ApiError::bad_request("unknown template action")),
    }
}

/// A select of the languages mail can be written in, for a person: the
/// helpdesk's (empty value) first, then each language, `current` marked.
pub fn person_language_select(hd: &Helpdesk, id: &str, current: &str) -> Result<Markup, ApiError> {
    let mut offered = hd.mail_languages()?;
    if let Ok(l) = Language::parse(current) {
        if !offered.contains(&l) {
            offered.push(l);
        }
    }
    let default = hd.settings()?.language;
    Ok(html! {
        div.form-row {
            label for=(id) { "Language of their mail" }
            select id=(id) name="language" {
                option value="" selected[current.is_empty()] { "The helpdesk's (" (default.name()) ")" }
                @for l in &offered { option value=(l) selected[current == l.as_str()] { (l.name()) } }
            }
        }
    })
}

/// A select of every known language (the helpdesk's own), `current` chosen.
pub fn helpdesk_language_select(id: &str, current: &str) -> Markup {
    let known = KNOWN_LANGUAGES.iter().any(|(t, _)| *t == current);
    html! {
        select id=(id) name="language" {
            @if !known { option value=(current) selected { (current) } }
            @for (tag, name) in KNOWN_LANGUAGES { option value=(tag) selected[*tag == current] { (name) " (" (tag) ")" } }
        }
    }
}

/// A form's `language`: empty is none.
pub fn form_language(f: &Form) -> Result<Option<Language>, ApiError> {
    match f.get("language").trim() {
        "" => Ok(None),
        l => Language::parse(l).map(Some).map_err(|e| ApiError::invalid(e.to_string())),
    }
}
