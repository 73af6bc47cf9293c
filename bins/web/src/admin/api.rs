//! The admin JSON API under `/api/admin/` (OpenAPI: `/api/openapi.json`).
//! Every route needs an active admin (an API key or a session with its CSRF
//! header on changes); anyone else gets 403 `not_admin`. Each change goes
//! through [`helpdesk_store::Admin`], so it is checked, applied and audited
//! in one write, exactly as the Admin screens do it.
//!
//! | route | what |
//! | --- | --- |
//! | `GET`/`PUT /api/admin/settings` | the helpdesk settings |
//! | `GET`/`POST /api/admin/departments` | list (with ticket counts) / create `{name}` |
//! | `PUT`/`DELETE /api/admin/departments/{id}` | rename `{name}` / remove (`?move_to=ID` when it has tickets) |
//! | `POST /api/admin/departments/{id}/fields` | add a field (a field definition) |
//! | `PUT /api/admin/departments/{id}/fields/{key}` | change a field's label, options, flags |
//! | `POST /api/admin/departments/{id}/fields/{key}/retire` | `{retired: bool}` |
//! | `PUT /api/admin/departments/{id}/field-order` | `{keys: [...]}` |
//! | `GET`/`POST /api/admin/teams`, `PUT`/`DELETE /api/admin/teams/{id}` | teams; `PUT .../members` `{agents: [...]}` |
//! | `GET`/`POST /api/admin/agents` | list / invite `{name, email, permissions?, teams?}` (mails a set-password link) |
//! | `PUT /api/admin/agents/{id}` | name, email, teams, permissions |
//! | `POST /api/admin/agents/{id}/deactivate` | `{reassign: {to: leave\|unassign\|agent, agent?}}` |
//! | `POST /api/admin/agents/{id}/reactivate`, `.../reinvite`, `.../two-factor/reset` | |
//! | `GET`/`POST /api/admin/usergroups`, `PUT`/`DELETE /api/admin/usergroups/{id}` | usergroups and their portal permissions |
//! | `GET`/`POST /api/admin/organisations`, `PUT`/`DELETE /api/admin/organisations/{id}` | organisations |
//! | `GET`/`POST /api/admin/rules`, `GET /api/admin/rules.toml` | every rule (a rule file) / import a rule file (TOML or JSON; `?replace_all=true`) / export as TOML |
//! | `GET`/`POST`/`PUT /api/admin/rules/{kind}` | `trigger`, `escalation`, `sla`: list / add one (a rule object) / reorder `{names: [...]}` |
//! | `GET`/`PUT`/`DELETE /api/admin/rules/{kind}/{name}` | one rule: read / replace (may rename) / remove |
//! | `POST /api/admin/rules/{kind}/{name}/enabled` | `{enabled: bool}` |
//! | `POST /api/admin/dry-run` | `{kind, rule, on: {last: N} \| {tickets: [...]}}`: what a rule would do, changing nothing |
//! | `POST /api/admin/reschedule` | apply SLA policies and escalations to every ticket now |
//! | `GET /api/admin/users` | users whose name or address has `?q=` (`&limit=`, at most 200) |
//! | `GET`/`PUT /api/admin/users/{id}` | a user / change name, emails, phone, organisation, usergroups |
//! | `POST /api/admin/users/{id}/merge` | `{merge: ID}`: that user's tickets, addresses, groups move to this one; it goes |
//! | `POST /api/admin/users/{id}/block`, `.../unblock` | `{spam: bool}` also marks their tickets as spam |
//! | `GET`/`POST /api/admin/email-accounts` | accounts (with whether a relay password is set) / add one |
//! | `GET`/`PUT`/`DELETE /api/admin/email-accounts/{id}` | one account: read / change / remove |
//! | `POST /api/admin/email-accounts/{id}/test` | `{to}`: send a test mail; the relay's answer |
//! | `GET`/`PUT /api/admin/mail-settings` | auto-response limit, automatic replies, Message-ID domain |
//! | `GET`/`POST /api/admin/labels` | the labels the helpdesk knows, with how many tickets carry each / define one `{name, description}` |
//! | `GET`/`PUT`/`DELETE /api/admin/labels/{name}` | one label / change its description or rename it on every ticket / remove it (`?from_tickets=true` takes it off the tickets) |
//! | `GET /api/admin/audit` | the audit log, newest first (`?agent=&action=&text=&before=&limit=`) |
//! | `GET /api/admin/audit.jsonl` | the same as JSON lines, every matching entry |

use super::rules::{file_toml, segment};
use crate::agent::MAX_JSON;
use crate::auth::{agent_auth, AgentCtx};
use crate::error::ApiError;
use crate::{blocking, client_key, json, with_app, App, OutgoingMail};
use helpdesk_core::admin::{AuditQuery, DryRunOn, LabelDef, RuleDef, RuleKind, Settings};
use helpdesk_core::automation::RuleFile;
use helpdesk_core::mail::{AutoReplyPolicy, EmailAccount, MailSettings, RateLimit};
use helpdesk_core::people::PortalPermissions;
use helpdesk_core::templates::{default_for, Language, MailKind, MailTemplate, Placeholder, TemplateKey};
use helpdesk_core::*;
use helpdesk_mail::outbound::Addressee;
use helpdesk_store::admin::{AccountChange, AgentChange, OrganisationChange, Reassign, UserChange};
use helpdesk_store::{Admin, Helpdesk, NewAgent};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::convert::Infallible;
use warp::filters::BoxedFilter;
use warp::http::{Method, StatusCode};
use warp::reply::Response;
use warp::Filter;

/// Most audit entries a page of `GET /api/admin/audit` gives.
pub const AUDIT_PAGE_MAX: usize = 500;

/// `POST /api/admin/departments`, `PUT .../{id}`, teams: a name.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NameRequest {
    /// The name.
    pub name: String,
}

/// `POST /api/admin/departments/{id}/fields/{key}/retire`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetireRequest {
    /// Retire (`true`) or bring back (`false`).
    pub retired: bool,
}

/// `PUT /api/admin/departments/{id}/field-order`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrderRequest {
    /// Every field key once, in the new order.
    pub keys: Vec<String>,
}

/// `PUT /api/admin/teams/{id}/members`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MembersRequest {
    /// The team's agents.
    pub agents: BTreeSet<AgentId>,
}

/// `POST /api/admin/agents`: an invitation.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InviteRequest {
    /// Name.
    pub name: String,
    /// Login address (the invitation goes there).
    pub email: String,
    /// Permissions (default: every department, may reassign).
    #[serde(default)]
    pub permissions: Option<Permissions>,
    /// Teams.
    #[serde(default)]
    pub teams: BTreeSet<TeamId>,
}

/// `POST /api/admin/agents/{id}/deactivate`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeactivateRequest {
    /// What happens to their open tickets.
    pub reassign: Reassign,
}

/// `POST /api/admin/usergroups`, `PUT .../{id}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UsergroupRequest {
    /// Name.
    pub name: String,
    /// What members may do in the portal.
    #[serde(default)]
    pub portal: PortalPermissions,
}

/// `PUT /api/admin/rules/{kind}`: a new order.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleOrderRequest {
    /// Every rule of the kind once, first to run first.
    pub names: Vec<String>,
}

/// `POST /api/admin/rules/{kind}/{name}/enabled`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnabledRequest {
    /// On or off.
    pub enabled: bool,
}

/// `POST /api/admin/dry-run`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DryRunRequest {
    /// `trigger`, `escalation` or `sla`.
    pub kind: RuleKind,
    /// The rule (saved or not), as in a rule file.
    pub rule: serde_json::Value,
    /// Which tickets (default: the newest 20).
    #[serde(default)]
    pub on: DryRunOn,
}

/// `GET /api/admin/rules`: every stored rule, and the triggers built into
/// the server's code.
#[derive(Debug, Serialize)]
pub struct RulesView {
    /// The stored rules, as a rule file.
    #[serde(flatten)]
    pub file: RuleFile,
    /// Names of the triggers in code (not editable).
    pub code_triggers: Vec<String>,
}

/// `POST /api/admin/users/{id}/merge`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MergeRequest {
    /// The user merged into this one (and removed).
    pub merge: UserId,
}

/// `POST /api/admin/users/{id}/block`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BlockRequest {
    /// Also mark their tickets as spam.
    #[serde(default)]
    pub spam: bool,
}

/// `POST /api/admin/email-accounts/{id}/test`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestMailRequest {
    /// Who gets the test mail.
    pub to: String,
}

/// `GET /api/admin/users?q=&limit=`.
#[derive(Debug, Default, Deserialize)]
struct UserSearch {
    #[serde(default)]
    q: String,
    #[serde(default)]
    limit: Option<usize>,
}

/// An email account as the admin API shows it.
#[derive(Debug, Serialize)]
pub struct AccountView {
    /// The account.
    #[serde(flatten)]
    pub account: EmailAccount,
    /// Whether its relay has a password stored (never shown).
    pub relay_password_set: bool,
    /// The relay its mail leaves by, described (`host:port (security)`), or
    /// `null` when there is none.
    pub sends_by: Option<String>,
}

/// The admin's part of the mail settings (the reply-token secret is never
/// shown or changed here).
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MailSettingsView {
    /// Auto-responses one recipient may get per window.
    pub auto_responses: RateLimit,
    /// What happens to automatic replies known only by their subject.
    pub auto_replies: AutoReplyPolicy,
    /// The host name in Message-IDs (`null`: each account's domain).
    #[serde(default)]
    pub message_id_domain: Option<String>,
}

impl From<MailSettings> for MailSettingsView {
    fn from(m: MailSettings) -> Self {
        MailSettingsView {
            auto_responses: m.auto_responses,
            auto_replies: m.auto_replies,
            message_id_domain: m.message_id_domain,
        }
    }
}

/// An account with what the API and the screens say of its relay.
pub fn account_view(app: &App, account: EmailAccount) -> Result<AccountView, ApiError> {
    let relay_password_set = app.helpdesk().relay_password(account.id)?.is_some();
    let sends_by = match (&account.relay, &app.config().smtp_relay) {
        (Some(r), _) => Some(r.to_string()),
        (None, Some(c)) => Some(format!("the server's relay {}", c.describe())),
        (None, None) => None,
    };
    Ok(AccountView { account, relay_password_set, sends_by })
}

/// Sends a test mail from an account, records it in the audit log, and
/// says what the relay answered.
pub fn test_mail(
    app: &App,
    admin: &Admin<'_>,
    id: EmailAccountId,
    to: &str,
) -> Result<helpdesk_store::admin::TestMail, ApiError> {
    let hd = app.helpdesk();
    let account = hd.email_account(id)?;
    if Email::parse(to).is_err() {
        return Err(ApiError::invalid(format!("{to:?} is not an email address")));
    }
    let settings = hd.settings()?;
    let sent = helpdesk_mail::send_test_mail(&helpdesk_mail::TestMailRequest {
        account: &account,
        password: hd.relay_password(id)?,
        server_relay: app.config().smtp_relay.as_ref(),
        to,
        helpdesk: &settings.name,
    });
    admin.record_test_mail(id, &sent)?;
    Ok(sent)
}

/// A label with how many tickets carry it.
#[derive(Debug, Serialize)]
pub struct LabelView {
    /// The label.
    #[serde(flatten)]
    pub label: LabelDef,
    /// Tickets carrying it (every status and department).
    pub tickets: u64,
    /// Whether `tickets` is exact (else a lower bound).
    pub exact: bool,
}

fn label_view(hd: &Helpdesk, label: LabelDef) -> Result<LabelView, ApiError> {
    let c = hd.label_uses(&label.name)?;
    Ok(LabelView { label, tickets: c.count, exact: c.exact })
}

/// `DELETE /api/admin/labels/{name}?from_tickets=`.
#[derive(Debug, Default, Deserialize)]
struct LabelRemoveParams {
    #[serde(default)]
    from_tickets: bool,
}

/// `?replace_all=true` of an import.
#[derive(Debug, Default, Deserialize)]
struct ImportParams {
    #[serde(default)]
    replace_all: bool,
}

fn rule_body(kind: RuleKind, bytes: &[u8]) -> Result<RuleDef, ApiError> {
    let v: serde_json::Value = body(bytes)?;
    Ok(RuleDef::from_json_value(kind, v)?)
}

/// Rules as in a rule file's list.
fn rule_list(rules: Vec<RuleDef>) -> Vec<serde_json::Value> {
    rules.iter().map(RuleDef::to_json_value).collect()
}

fn kind(s: &str) -> Result<RuleKind, ApiError> {
    RuleKind::parse(s)
        .ok_or_else(|| ApiError::not_found(format!("{s:?} is not a kind of rule (trigger, escalation, sla)")))
}

/// A department with how many tickets it holds.
#[derive(Debug, Serialize)]
pub struct DepartmentView {
    /// The department.
    #[serde(flatten)]
    pub department: Department,
    /// Tickets in it (every status).
    pub tickets: u64,
}

/// A team with its members.
#[derive(Debug, Serialize)]
pub struct TeamView {
    /// The team.
    #[serde(flatten)]
    pub team: Team,
    /// Its agents.
    pub members: Vec<AgentId>,
}

/// An invited agent and their set-password link (also mailed to them).
#[derive(Debug, Serialize)]
pub struct Invited {
    /// The agent.
    pub agent: Agent,
    /// The one-time link, valid for [`helpdesk_store::admin::INVITE_DAYS`] days.
    pub set_password_url: String,
}

/// The audit log query string.
#[derive(Debug, Default, Deserialize)]
pub struct AuditParams {
    /// Only entries by this agent.
    #[serde(default)]
    pub agent: Option<u64>,
    /// Only actions starting with this.
    #[serde(default)]
    pub action: Option<String>,
    /// Only entries whose target or summary has this.
    #[serde(default)]
    pub text: Option<String>,
    /// Only entries before this position (the previous page's last `seq`).
    #[serde(default)]
    pub before: Option<u64>,
    /// Entries on the page (default 100, at most 500).
    #[serde(default)]
    pub limit: Option<usize>,
}

impl AuditParams {
    /// The query these parameters ask for.
    pub fn query(&self) -> AuditQuery {
        AuditQuery {
            agent: self.agent.map(AgentId),
            action: self.action.clone().filter(|a| !a.trim().is_empty()),
            text: self.text.clone().filter(|t| !t.trim().is_empty()),
            since: None,
            until: None,
        }
    }
}

/// The public URL links in mail start with: the admin's setting, else the
/// server's `--public-url`.
pub fn public_url(app: &App) -> String {
    base_url(app, &app.helpdesk().settings().unwrap_or_default())
}

fn base_url(app: &App, settings: &Settings) -> String {
    settings.public_url.clone().unwrap_or_else(|| app.config().public_url.trim_end_matches('/').to_string())
}

/// The admin handle of the caller, or 403.
pub fn admin_of<'a>(hd: &'a Helpdesk, agent: AgentId, source: Option<String>) -> Result<Admin<'a>, ApiError> {
    Ok(hd.admin(agent)?.from_source(source))
}

/// Mails an invitation (or a new link) with its set-password link.
pub fn send_invitation(app: &App, agent: &Agent, token: &str, by: &str) -> String {
    let settings = app.helpdesk().settings().unwrap_or_default();
    let base = base_url(app, &settings);
    let url = format!("{base}/agent/set-password?token={token}");
    let extra = serde_json::json!({
        "invited_by": by,
        "link": url,
        "days": helpdesk_store::admin::INVITE_DAYS,
    });
    let to = Addressee {
        name: agent.name.clone(),
        email: agent.email.to_string(),
        language: agent.language.clone(),
    };
    send_templated(app, MailKind::AgentInvitation, &to, &base, extra);
    url
}

/// Sends a mail the helpdesk writes outside tickets (invitation, address
/// confirmation) from its template in `to`'s language, with the helpdesk's
/// URL as `base` and the kind's own values in `extra`.
pub fn send_templated(app: &App, kind: MailKind, to: &Addressee, base: &str, extra: serde_json::Value) {
    let hd = app.helpdesk();
    let mut ctx = helpdesk_mail::outbound::base_context(hd, to, Some(base));
    ctx["helpdesk"]["url"] = serde_json::json!(base);
    if let (Some(obj), serde_json::Value::Object(extra)) = (ctx.as_object_mut(), extra) {
        obj.extend(extra);
    }
    let r = helpdesk_mail::outbound::render_mail(hd, kind, to, &ctx);
    app.send_mail(OutgoingMail { to: to.email.clone(), subject: r.subject, body: r.body });
}

fn body<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(bytes)
        .map_err(|e| ApiError::bad_request(format!("the request body is not valid: {e}")))
}

fn id(s: &str) -> Result<u64, ApiError> {
    s.parse().map_err(|_| ApiError::not_found(format!("{s:?} is not an id")))
}

fn ok<T: Serialize>(v: T) -> Result<Response, ApiError> {
    Ok(json(StatusCode::OK, &v))
}

fn created<T: Serialize>(v: T) -> Result<Response, ApiError> {
    Ok(json(StatusCode::CREATED, &v))
}

fn params<T: DeserializeOwned>(query: &str) -> Result<T, ApiError> {
    serde_urlencoded::from_str(query)
        .map_err(|e| ApiError::bad_request(format!("the query string is not valid: {e}")))
}

/// One mail template in one language (`GET /api/admin/mail-templates/{key}/{language}`).
#[derive(Debug, Serialize)]
pub struct TemplateView {
    /// `user.new_ticket`, `custom.NAME`.
    pub key: String,
    /// What the mail is.
    pub title: String,
    /// The language.
    pub language: Language,
    /// The admin's text in this language, if any.
    pub text: Option<MailTemplate>,
    /// The text mail in this language is written with now, and its language.
    pub in_force: Option<MailTemplate>,
    /// The language of `in_force`.
    pub in_force_language: Option<Language>,
    /// The built-in text.
    pub builtin: MailTemplate,
    /// What the template may use.
    pub placeholders: Vec<Placeholder>,
}

/// A mail in the overview (`GET /api/admin/mail-templates`).
#[derive(Debug, Serialize)]
pub struct TemplateSummary {
    /// Its key.
    pub key: String,
    /// What the mail is.
    pub title: String,
    /// The languages an admin wrote it in.
    pub languages: Vec<Language>,
    /// Rules naming it (custom templates).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub used_by: Vec<String>,
}

/// `GET /api/admin/mail-templates`.
#[derive(Debug, Serialize)]
pub struct TemplatesOverview {
    /// The helpdesk's language.
    pub default_language: Language,
    /// Every language mail can be written in now.
    pub languages: Vec<Language>,
    /// The built-in mails, then the custom templates.
    pub templates: Vec<TemplateSummary>,
}

/// `POST /api/admin/mail-templates/{key}/{language}/preview`.
#[derive(Debug, Deserialize)]
struct PreviewRequest {
    subject: String,
    #[serde(default)]
    body: String,
    /// The ticket to preview a ticket mail on.
    #[serde(default)]
    ticket: Option<u64>,
}

fn templates_overview(hd: &Helpdesk) -> Result<TemplatesOverview, ApiError> {
    let stored = hd.mail_templates()?;
    let mut keys: Vec<TemplateKey> = MailKind::ALL.into_iter().map(TemplateKey::Builtin).collect();
    keys.extend(hd.custom_templates()?.into_iter().map(TemplateKey::Custom));
    let mut templates = Vec::new();
    for key in keys {
        let used_by = match &key {
            TemplateKey::Custom(n) => hd.rules_naming_template(n)?,
            TemplateKey::Builtin(_) => Vec::new(),
        };
        templates.push(TemplateSummary {
            key: key.as_string(),
            title: super::templates::title(&key),
            languages: stored
                .iter()
                .filter(|t| t.key == key.as_string())
                .map(|t| t.language.clone())
                .collect(),
            used_by,
        });
    }
    Ok(TemplatesOverview {
        default_language: hd.settings()?.language,
        languages: hd.mail_languages()?,
        templates,
    })
}

fn template_view(hd: &Helpdesk, key: &TemplateKey, language: &Language) -> Result<TemplateView, ApiError> {
    let in_force = hd.template_for(key, Some(language))?;
    Ok(TemplateView {
        key: key.as_string(),
        title: super::templates::title(key),
        language: language.clone(),
        text: hd.mail_template(key, language)?,
        in_force_language: in_force.as_ref().map(|r| r.language.clone()),
        in_force: in_force.map(|r| r.template),
        builtin: default_for(key),
        placeholders: key.vocabulary().placeholders(),
    })
}

/// The agent behind an admin handle (previews address them).
fn admin_agent(hd: &Helpdesk, admin: &Admin<'_>) -> Result<Agent, ApiError> {
    match admin.actor() {
        helpdesk_core::AuditActor::Agent { id, .. } => Ok(hd.agent(*id)?),
        _ => Err(ApiError::forbidden("previews are for agents")),
    }
}

/// `DELETE /api/admin/departments/{id}?move_to=`.
#[derive(Debug, Deserialize)]
struct RemoveParams {
    /// Where the department's tickets go.
    #[serde(default)]
    move_to: Option<u64>,
}

/// The members of every team.
pub fn team_views(hd: &Helpdesk) -> Result<Vec<TeamView>, ApiError> {
    let agents = hd.agents()?;
    Ok(hd
        .teams()?
        .into_iter()
        .map(|t| TeamView {
            members: agents.iter().filter(|a| a.teams.contains(&t.id)).map(|a| a.id).collect(),
            team: t,
        })
        .collect())
}

/// Answers one admin API request.
fn handle(
    app: &App,
    ctx: &AgentCtx,
    source: String,
    method: &Method,
    path: &[&str],
    query: &str,
    bytes: &[u8],
) -> Result<Response, ApiError> {
    let hd = app.helpdesk();
    let admin = admin_of(hd, ctx.agent.id, Some(source))?;
    let (get, post, put, delete) =
        (method == Method::GET, method == Method::POST, method == Method::PUT, method == Method::DELETE);
    match path {
        ["settings"] if get => ok(hd.settings()?),
        ["settings"] if put => {
            let s = admin.set_settings(body::<Settings>(bytes)?)?;
            app.sessions().settings_changed();
            ok(s)
        }

        ["departments"] if get => {
            let mut out = Vec::new();
            for d in hd.departments()? {
                out.push(DepartmentView { tickets: hd.department_ticket_count(d.id)?, department: d });
            }
            ok(out)
        }
        ["departments"] if post => created(admin.create_department(&body::<NameRequest>(bytes)?.name)?),
        ["departments", d] if get => {
            let d = hd.department(DepartmentId(id(d)?))?;
            ok(DepartmentView { tickets: hd.department_ticket_count(d.id)?, department: d })
        }
        ["departments", d] if put => {
            ok(admin.rename_department(DepartmentId(id(d)?), &body::<NameRequest>(bytes)?.name)?)
        }
        ["departments", d] if delete => {
            let move_to = params::<RemoveParams>(query)?.move_to.map(DepartmentId);
            let moved = admin.remove_department(DepartmentId(id(d)?), move_to)?;
            ok(serde_json::json!({ "removed": true, "tickets_moved": moved }))
        }
        ["departments", d, "fields"] if post => created(admin.add_field(DepartmentId(id(d)?), body(bytes)?)?),
        ["departments", d, "fields", key] if put => {
            let f: FieldDef = body(bytes)?;
            if f.key != *key {
                return Err(ApiError::invalid(format!(
                    "the field's key cannot change (the body names {:?}, the URL {key:?}); add a new field instead",
                    f.key
                )));
            }
            ok(admin.update_field(DepartmentId(id(d)?), f)?)
        }
        ["departments", d, "fields", key, "retire"] if post => {
            ok(admin.retire_field(DepartmentId(id(d)?), key, body::<RetireRequest>(bytes)?.retired)?)
        }
        ["departments", d, "field-order"] if put => {
            ok(admin.reorder_fields(DepartmentId(id(d)?), &body::<OrderRequest>(bytes)?.keys)?)
        }

        ["teams"] if get => ok(team_views(hd)?),
        ["teams"] if post => created(admin.create_team(&body::<NameRequest>(bytes)?.name)?),
        ["teams", t] if put => ok(admin.rename_team(TeamId(id(t)?), &body::<NameRequest>(bytes)?.name)?),
        ["teams", t] if delete => {
            admin.remove_team(TeamId(id(t)?))?;
            ok(serde_json::json!({ "removed": true }))
        }
        ["teams", t, "members"] if put => {
            ok(admin.set_team_members(TeamId(id(t)?), &body::<MembersRequest>(bytes)?.agents)?)
        }

        ["agents"] if get => ok(hd.agents()?),
        ["agents"] if post => {
            let r: InviteRequest = body(bytes)?;
            let new = NewAgent {
                name: r.name,
                email: r.email,
                teams: r.teams,
                permissions: r.permissions.unwrap_or_default(),
            };
            let (agent, token) = admin.invite_agent(new)?;
            let url = send_invitation(app, &agent, &token, &ctx.agent.name);
            created(Invited { agent, set_password_url: url })
        }
        ["agents", a] if get => ok(hd.agent(AgentId(id(a)?))?),
        ["agents", a] if put => ok(admin.update_agent(AgentId(id(a)?), body::<AgentChange>(bytes)?)?),
        ["agents", a, "deactivate"] if post => {
            let a = AgentId(id(a)?);
            let done = admin.deactivate_agent(a, body::<DeactivateRequest>(bytes)?.reassign)?;
            app.sessions().end_others(Principal::Agent(a), None);
            ok(done)
        }
        ["agents", a, "reactivate"] if post => ok(admin.reactivate_agent(AgentId(id(a)?))?),
        ["agents", a, "two-factor", "reset"] if post => {
            ok(serde_json::json!({ "was_on": admin.reset_two_factor(AgentId(id(a)?))? }))
        }
        ["agents", a, "reinvite"] if post => {
            let a = AgentId(id(a)?);
            let token = admin.reinvite_agent(a)?;
            let agent = hd.agent(a)?;
            let url = send_invitation(app, &agent, &token, &ctx.agent.name);
            ok(Invited { agent, set_password_url: url })
        }

        ["usergroups"] if get => ok(hd.usergroups()?),
        ["usergroups"] if post => {
            let r: UsergroupRequest = body(bytes)?;
            created(admin.create_usergroup(&r.name, r.portal)?)
        }
        ["usergroups", g] if put => {
            let r: UsergroupRequest = body(bytes)?;
            ok(admin.update_usergroup(UsergroupId(id(g)?), &r.name, r.portal)?)
        }
        ["usergroups", g] if delete => {
            let n = admin.remove_usergroup(UsergroupId(id(g)?))?;
            ok(serde_json::json!({ "removed": true, "members_left": n }))
        }

        ["organisations"] if get => ok(hd.organisations()?),
        ["organisations"] if post => created(admin.create_organisation(body::<OrganisationChange>(bytes)?)?),
        ["organisations", o] if put => {
            ok(admin.update_organisation(OrganisationId(id(o)?), body::<OrganisationChange>(bytes)?)?)
        }
        ["organisations", o] if delete => {
            let n = admin.remove_organisation(OrganisationId(id(o)?))?;
            ok(serde_json::json!({ "removed": true, "users_left": n }))
        }

        ["users"] if get => {
            let p: UserSearch = params(query)?;
            ok(hd.find_users(&p.q, p.limit.unwrap_or(50).clamp(1, 200))?)
        }
        ["users", u] if get => ok(hd.user(UserId(id(u)?))?),
        ["users", u] if put => ok(admin.update_user(UserId(id(u)?), body::<UserChange>(bytes)?)?),
        ["users", u, "merge"] if post => {
            let gone = body::<MergeRequest>(bytes)?.merge;
            let done = admin.merge_users(UserId(id(u)?), gone)?;
            app.sessions().end_others(Principal::User(gone), None);
            ok(done)
        }
        ["users", u, "block"] if post => {
            let u = UserId(id(u)?);
            let spam = if bytes.is_empty() { false } else { body::<BlockRequest>(bytes)?.spam };
            let done = admin.block_user(u, spam)?;
            app.sessions().end_others(Principal::User(u), None);
            ok(done)
        }
        ["users", u, "unblock"] if post => ok(admin.unblock_user(UserId(id(u)?))?),

        ["email-accounts"] if get => {
            let accounts = hd.email_accounts()?;
            ok(accounts.into_iter().map(|a| account_view(app, a)).collect::<Result<Vec<_>, _>>()?)
        }
        ["email-accounts"] if post => {
            created(account_view(app, admin.create_email_account(body::<AccountChange>(bytes)?)?)?)
        }
        ["email-accounts", a] if get => ok(account_view(app, hd.email_account(EmailAccountId(id(a)?))?)?),
        ["email-accounts", a] if put => {
            let a = admin.update_email_account(EmailAccountId(id(a)?), body::<AccountChange>(bytes)?)?;
            ok(account_view(app, a)?)
        }
        ["email-accounts", a] if delete => {
            admin.remove_email_account(EmailAccountId(id(a)?))?;
            ok(serde_json::json!({ "removed": true }))
        }
        ["email-accounts", a, "test"] if post => {
            let to = body::<TestMailRequest>(bytes)?.to;
            ok(test_mail(app, &admin, EmailAccountId(id(a)?), &to)?)
        }
        ["mail-settings"] if get => ok(MailSettingsView::from(hd.mail_settings()?)),
        ["mail-settings"] if put => {
            let v: MailSettingsView = body(bytes)?;
            ok(MailSettingsView::from(admin.set_mail_settings(
                v.auto_responses,
                v.auto_replies,
                v.message_id_domain,
            )?))
        }

        ["labels"] if get => {
            ok(hd.labels()?.into_iter().map(|l| label_view(hd, l)).collect::<Result<Vec<_>, _>>()?)
        }
        ["labels"] if post => created(label_view(hd, admin.create_label(body::<LabelDef>(bytes)?)?)?),
        ["labels", name] if get => {
            let name = segment(name)?;
            let l =
                hd.label(&name)?.ok_or_else(|| ApiError::not_found(format!("there is no label {name:?}")))?;
            ok(label_view(hd, l)?)
        }
        ["labels", name] if put => ok(admin.update_label(&segment(name)?, body::<LabelDef>(bytes)?)?),
        ["labels", name] if delete => {
            let p: LabelRemoveParams = params(query)?;
            ok(admin.remove_label(&segment(name)?, p.from_tickets)?)
        }

        ["mail-templates"] if get => ok(templates_overview(hd)?),
        ["mail-templates", key, language] if get => {
            let (key, language) = super::templates::key_and_language(key, language)?;
            ok(template_view(hd, &key, &language)?)
        }
        ["mail-templates", key, language] if put => {
            let (key, language) = super::templates::key_and_language(key, language)?;
            admin.save_mail_template(&key, &language, body::<MailTemplate>(bytes)?)?;
            ok(template_view(hd, &key, &language)?)
        }
        ["mail-templates", key, language] if delete => {
            let (key, language) = super::templates::key_and_language(key, language)?;
            admin.remove_mail_template(&key, &language)?;
            ok(template_view(hd, &key, &language)?)
        }
        ["mail-templates", key, _, "preview"] if post => {
            let key = TemplateKey::parse(&segment(key)?).map_err(|e| ApiError::not_found(e.to_string()))?;
            let p: PreviewRequest = body(bytes)?;
            let text = MailTemplate { subject: p.subject, body: p.body };
            let agent = admin_agent(hd, &admin)?;
            let base = public_url(app);
            ok(helpdesk_mail::outbound::preview(
                hd,
                &key,
                &text,
                p.ticket.map(TicketId),
                &agent,
                Some(&base),
            )?)
        }

        ["rules"] if get => ok(RulesView { file: hd.rule_file()?, code_triggers: hd.code_trigger_names() }),
        ["rules"] if post => {
            let text = std::str::from_utf8(bytes)
                .map_err(|_| ApiError::bad_request("the rule file is not UTF-8 text"))?;
            let file = if text.trim_start().starts_with('{') {
                RuleFile::from_json(text)
            } else {
                RuleFile::from_toml(text)
            }
            .map_err(helpdesk_store::Error::Rules)?;
            ok(admin.import_rules(&file, params::<ImportParams>(query)?.replace_all)?)
        }
        ["rules.toml"] if get => {
            let mut r = Response::new(file_toml(&hd.rule_file()?)?.into());
            r.headers_mut()
                .insert("content-type", "application/toml; charset=utf-8".parse().expect("static header"));
            Ok(r)
        }
        ["rules", k] if get => ok(rule_list(hd.rules_of(kind(k)?)?)),
        ["rules", k] if post => {
            let def = rule_body(kind(k)?, bytes)?;
            created(admin.save_rule(None, def)?.to_json_value())
        }
        ["rules", k] if put => {
            ok(rule_list(admin.reorder_rules(kind(k)?, &body::<RuleOrderRequest>(bytes)?.names)?))
        }
        ["rules", k, name] if get => ok(hd.rule(kind(k)?, &segment(name)?)?.to_json_value()),
        ["rules", k, name] if put => {
            let k = kind(k)?;
            ok(admin.save_rule(Some(&segment(name)?), rule_body(k, bytes)?)?.to_json_value())
        }
        ["rules", k, name] if delete => {
            admin.delete_rule(kind(k)?, &segment(name)?)?;
            ok(serde_json::json!({ "removed": true }))
        }
        ["rules", k, name, "enabled"] if post => {
            let on = body::<EnabledRequest>(bytes)?.enabled;
            ok(admin.set_rule_enabled(kind(k)?, &segment(name)?, on)?.to_json_value())
        }
        ["dry-run"] if post => {
            let r: DryRunRequest = body(bytes)?;
            let def = RuleDef::from_json_value(r.kind, r.rule)?;
            ok(hd.dry_run(&def, &r.on)?)
        }
        ["reschedule"] if post => ok(serde_json::json!({ "tickets_changed": admin.reschedule_all()? })),

        ["audit"] if get => {
            let p: AuditParams = params(query)?;
            let limit = p.limit.unwrap_or(100).clamp(1, AUDIT_PAGE_MAX);
            ok(hd.audit(&p.query(), p.before, limit)?)
        }
        ["audit.jsonl"] if get => {
            let p: AuditParams = params(query)?;
            let mut out = String::new();
            for e in hd.audit(&p.query(), p.before, usize::MAX)? {
                out.push_str(&serde_json::to_string(&e).map_err(|e| ApiError::internal(e.to_string()))?);
                out.push('\n');
            }
            let mut r = Response::new(out.into());
            let h = r.headers_mut();
            h.insert("content-type", "application/x-ndjson; charset=utf-8".parse().expect("static header"));
            h.insert(
                "content-disposition",
                "attachment; filename=\"helpdesk-audit-log.jsonl\"".parse().expect("static header"),
            );
            Ok(r)
        }
        _ if known(path) => Err(ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            format!("{method} is not allowed on /api/admin/{}", path.join("/")),
        )),
        _ => Err(ApiError::not_found("no such admin endpoint")),
    }
}

/// Whether `path` names an admin resource (for 405 rather than 404).
fn known(path: &[&str]) -> bool {
    matches!(
        path.first().copied(),
        Some(
            "settings"
                | "departments"
                | "teams"
                | "agents"
                | "usergroups"
                | "organisations"
                | "users"
                | "email-accounts"
                | "mail-settings"
                | "labels"
                | "mail-templates"
                | "audit"
                | "audit.jsonl"
                | "rules"
                | "rules.toml"
                | "dry-run"
                | "reschedule"
        )
    )
}

/// The routes, without error recovery.
pub fn routes(app: App) -> BoxedFilter<(Response,)> {
    warp::path("api")
        .and(warp::path("admin"))
        .and(warp::path::tail())
        .and(warp::method())
        .and(warp::query::raw().or(warp::any().map(String::new)).unify())
        .and(with_app(app.clone()))
        .and(agent_auth(app))
        .and(client_key())
        // A GET or DELETE may come without a body (and without a length).
        .and(
            warp::header::optional::<u64>("content-length")
                .and_then(|n: Option<u64>| async move {
                    match n {
                        Some(n) if n > MAX_JSON => Err(warp::reject::custom(ApiError::new(
                            StatusCode::PAYLOAD_TOO_LARGE,
                            "too_large",
                            "the request body is too large",
                        ))),
                        _ => Ok(()),
                    }
                })
                .untuple_one(),
        )
        .and(warp::body::bytes())
        .and_then(
            |tail: warp::path::Tail,
             method: Method,
             query: String,
             app: App,
             ctx: AgentCtx,
             source: String,
             bytes: ::bytes::Bytes| async move {
                let r = blocking(move || {
                    let path: Vec<&str> = tail.as_str().split('/').filter(|s| !s.is_empty()).collect();
                    handle(&app, &ctx, source, &method, &path, &query, &bytes)
                })
                .await;
                Ok::<_, Infallible>(r.unwrap_or_else(|e| e.response()))
            },
        )
        .boxed()
}
