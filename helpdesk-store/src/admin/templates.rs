//! Mail templates in Admin: the per-language texts that replace the
//! built-in ones ([`helpdesk_core::templates`]), and the custom templates
//! triggers name.
//!
//! The texts are configuration values (`mail-templates`, keyed
//! `KEY/LANGUAGE`), each checked before it is written with its audit entry.
//! A mail is written in its recipient's language (`de-at`, then `de`), else
//! the helpdesk's ([`Settings::language`](helpdesk_core::admin::Settings)),
//! else English: the first of these with an admin's text, English's being
//! the built-in text when no admin wrote one. A custom template written in
//! none of them is written in the first language it has.
//!
//! ```
//! use helpdesk_store::{Helpdesk, NewAgent};
//! use helpdesk_core::templates::*;
//!
//! let hd = Helpdesk::in_memory();
//! let alice = hd.create_agent(NewAgent::new("Alice", "alice@acme.example").admin()).unwrap();
//! let admin = hd.admin(alice.id).unwrap();
//! let key = TemplateKey::Builtin(MailKind::UserAgentReply);
//! let de = Language::parse("de").unwrap();
//! let text = MailTemplate { subject: "AW: {{ ticket.subject }}".into(), body: "Hallo {{ recipient.first_name }}".into() };
//! admin.save_mail_template(&key, &de, text.clone()).unwrap();
//!
//! assert_eq!(hd.template_for(&key, Some(&de)).unwrap().unwrap().template, text);
//! // Nobody else has German: the built-in English text.
//! let en = hd.template_for(&key, None).unwrap().unwrap();
//! assert_eq!((en.language.as_str(), en.customised), ("en", false));
//!
//! let typo = MailTemplate { subject: "{{ tiket.subject }}".into(), body: String::new() };
//! assert!(admin.save_mail_template(&key, &de, typo).is_err());
//! ```

use super::{in_use, target, Admin};
use crate::{Helpdesk, Result};
use helpdesk_core::admin::{AdminError, RuleDef};
use helpdesk_core::templates::{self, Language, MailTemplate, TemplateKey};
use serde::Serialize;

/// The configuration namespace of template texts (`KEY/LANGUAGE`).
const TEMPLATES: &str = "mail-templates";

/// One stored template text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoredTemplate {
    /// `user.new_ticket`, `custom.vip-welcome`.
    pub key: String,
    /// Its language.
    pub language: Language,
    /// The text.
    pub template: MailTemplate,
}

/// The template a mail is written with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ResolvedTemplate {
    /// The text.
    pub template: MailTemplate,
    /// Its language.
    pub language: Language,
    /// Whether an admin wrote it (else it is built in).
    pub customised: bool,
}

fn config_key(key: &TemplateKey, language: &Language) -> String {
    format!("{key}/{language}")
}

/// The custom templates a rule's notify actions name.
fn named_templates(v: &serde_json::Value) -> Vec<String> {
    v.get("actions")
        .and_then(|a| a.as_array())
        .into_iter()
        .flatten()
        .filter(|a| a.get("action").and_then(|x| x.as_str()) == Some("notify"))
        .filter_map(|a| a.get("template")?.as_str().map(|t| t.trim().to_string()))
        .collect()
}

impl Helpdesk {
    /// Every template text an admin wrote, by key then language.
    pub fn mail_templates(&self) -> Result<Vec<StoredTemplate>> {
        let mut out = Vec::new();
        for (k, v) in self.store.configs(TEMPLATES)? {
            let Some((key, lang)) = k.rsplit_once('/') else { continue };
            let (Ok(language), Ok(template)) = (Language::parse(lang), serde_json::from_value(v)) else {
                continue;
            };
            out.push(StoredTemplate { key: key.to_string(), language, template });
        }
        out.sort_by(|a, b| (&a.key, &a.language).cmp(&(&b.key, &b.language)));
        Ok(out)
    }

    /// The text an admin wrote for `key` in `language`, if any.
    pub fn mail_template(&self, key: &TemplateKey, language: &Language) -> Result<Option<MailTemplate>> {
        Ok(self
            .store
            .config(TEMPLATES, &config_key(key, language))?
            .and_then(|v| serde_json::from_value(v).ok()))
    }

    /// The names of the custom templates (those with a text in any language).
    pub fn custom_templates(&self) -> Result<Vec<String>> {
        let mut names: Vec<String> = self
            .mail_templates()?
            .into_iter()
            .filter_map(|t| t.key.strip_prefix("custom.").map(str::to_string))
            .collect();
        names.dedup();
        Ok(names)
    }

    /// The languages mail can be written in: the helpdesk's, English, and
    /// every language an admin wrote a template in.
    pub fn mail_languages(&self) -> Result<Vec<Language>> {
        let mut out = vec![self.settings()?.language, Language::english()];
        out.extend(self.mail_templates()?.into_iter().map(|t| t.language));
        let mut seen = std::collections::BTreeSet::new();
        out.retain(|l| seen.insert(l.clone()));
        Ok(out)
    }

    /// The template a mail for `key` is written with, for a recipient whose
    /// language is `language`: along the recipient's language (and its
    /// primary language), the helpdesk's and English, the first with an
    /// admin's text; English's is the built-in text when no admin wrote
    /// one. A custom template in none of them: its first language. `None`
    /// for a custom template that has no text at all (the caller uses the
    /// built-in mail).
    pub fn template_for(
        &self,
        key: &TemplateKey,
        language: Option<&Language>,
    ) -> Result<Option<ResolvedTemplate>> {
        let helpdesk = self.settings()?.language;
        let mut chain: Vec<Language> = Vec::new();
        for l in language.into_iter().chain([&helpdesk]) {
            chain.push(l.clone());
            chain.push(l.primary());
        }
        chain.push(Language::english());
        let mut seen = std::collections::BTreeSet::new();
        for l in chain.into_iter().filter(|l| seen.insert(l.clone())) {
            if let Some(template) = self.mail_template(key, &l)? {
                return Ok(Some(ResolvedTemplate { template, language: l, customised: true }));
            }
            if let (TemplateKey::Builtin(k), true) = (key, l == Language::english()) {
                let template = templates::default_template(*k);
                return Ok(Some(ResolvedTemplate { template, language: l, customised: false }));
            }
        }
        Ok(self.mail_templates()?.into_iter().find(|t| t.key == key.as_string()).map(|t| ResolvedTemplate {
            template: t.template,
            language: t.language,
            customised: true,
        }))
    }

    /// The newest ticket that is not deleted or spam (previews default to it).
    pub fn newest_ticket(&self) -> Result<Option<helpdesk_core::TicketId>> {
        use helpdesk_core::filter::{Criteria, CustomFilter, SortOrder, Viewer};
        use helpdesk_core::{AgentId, Status};
        let visible =
            Status::ALL.into_iter().filter(|s| !matches!(s, Status::Deleted | Status::Spam)).collect();
        let filter = CustomFilter::new("Newest", Criteria { status: visible, ..Criteria::default() })
            .sorted(SortOrder::Newest);
        let everything = Viewer { agent: AgentId(0), teams: Default::default(), departments: None };
        Ok(self.viewer_page(&everything, &filter, None, 1)?.tickets.first().map(|t| t.id))
    }

    /// Every rule whose notifications use the custom template `name` (as
    /// `trigger "VIP"`).
    pub fn rules_naming_template(&self, name: &str) -> Result<Vec<String>> {
        Ok(RuleDef::all_of(&self.rule_file()?)
            .iter()
            .filter(|r| named_templates(&r.to_json_value()).iter().any(|t| t == name))
            .map(|r| format!("{} {:?}", r.kind().label(), r.name()))
            .collect())
    }

    /// Refuses rules that name a custom template there is no text for,
    /// unless a stored rule names it already (rules written before
    /// templates existed keep working: their mail is the built-in one).
    pub(crate) fn check_rule_templates(&self, rules: &[RuleDef]) -> Result<()> {
        let known = self.custom_templates()?;
        let named_before: Vec<String> = RuleDef::all_of(&self.rule_file()?)
            .iter()
            .flat_map(|r| named_templates(&r.to_json_value()))
            .collect();
        for r in rules {
            for t in named_templates(&r.to_json_value()) {
                if !known.contains(&t) && !named_before.contains(&t) {
                    return Err(AdminError::Refused(format!(
                        "{} {:?} sends mail with template {t:?}, which does not exist: make it in Admin > Templates first",
                        r.kind().label(),
                        r.name()
                    ))
                    .into());
                }
            }
        }
        Ok(())
    }
}

impl Admin<'_> {
    /// Writes `text` as the template for `key` in `language`, after
    /// [`templates::check`] (syntax, placeholders, a trial render).
    pub fn save_mail_template(
        &self,
        key: &TemplateKey,
        language: &Language,
        text: MailTemplate,
    ) -> Result<MailTemplate> {
        templates::check(key, &text)?;
        let before = self.hd.mail_template(key, language)?;
        if before.as_ref() == Some(&text) {
            return Ok(text);
        }
        let summary = format!(
            "{} template {key} in {}",
            if before.is_some() { "Changed" } else { "Wrote" },
            language.name()
        );
        let e = self
            .entry("template.save", target("template", config_key(key, language)), summary)
            .change(before.as_ref(), Some(&text));
        let config =
            vec![(TEMPLATES.to_string(), config_key(key, language), serde_json::to_value(&text).ok())];
        self.write_with_config(vec![], vec![], config, e)?;
        Ok(text)
    }

    /// Removes the text for `key` in `language`: the mail goes back to the
    /// built-in text (or another language's). A custom template's last text
    /// is refused while a rule sends it.
    pub fn remove_mail_template(&self, key: &TemplateKey, language: &Language) -> Result<()> {
        let before = self.hd.mail_template(key, language)?.ok_or_else(|| {
            AdminError::Refused(format!("template {key} has no text in {} to remove", language.name()))
        })?;
        if let TemplateKey::Custom(name) = key {
            let others = self.hd.mail_templates()?.into_iter().filter(|t| t.key == key.as_string()).count();
            if others <= 1 {
                in_use(format!("template {name}"), self.hd.rules_naming_template(name)?)?;
            }
        }
        let summary = format!("Removed template {key} in {}", language.name());
        let e = self
            .entry("template.remove", target("template", config_key(key, language)), summary)
            .change(Some(&before), None);
        let config = vec![(TEMPLATES.to_string(), config_key(key, language), None)];
        self.write_with_config(vec![], vec![], config, e)?;
        Ok(())
    }
}
