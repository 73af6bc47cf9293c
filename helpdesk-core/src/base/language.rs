//! Language tags: the language a person's mail is written in.

use serde::{Deserialize, Serialize};
use std::fmt;
use thiserror::Error;

/// A tag that is not a language tag.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{0:?} is not a language tag (such as en, de or pt-br)")]
pub struct BadLanguage(pub String);

/// A language tag (`en`, `de`, `pt-br`): a 2-3 letter language and
/// optional subtags, lower-cased.
///
/// ```
/// use helpdesk_core::base::language::Language;
/// assert_eq!(Language::parse(" pt-BR ").unwrap().as_str(), "pt-br");
/// assert_eq!(Language::parse("de_AT").unwrap().as_str(), "de-at");
/// assert!(Language::parse("english").is_err());
/// assert_eq!(Language::english().name(), "English");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Language(String);

impl Language {
    /// Parses a tag (case and `_` for `-` are forgiven).
    pub fn parse(s: &str) -> Result<Language, BadLanguage> {
        let tag = s.trim().to_ascii_lowercase().replace('_', "-");
        let mut parts = tag.split('-');
        let lang = parts.next().unwrap_or_default();
        let lang_ok = (2..=3).contains(&lang.len()) && lang.chars().all(|c| c.is_ascii_lowercase());
        let rest_ok =
            parts.all(|p| (1..=8).contains(&p.len()) && p.chars().all(|c| c.is_ascii_alphanumeric()));
        if !lang_ok || !rest_ok || tag.len() > 35 {
            return Err(BadLanguage(s.trim().to_string()));
        }
        Ok(Language(tag))
    }

    /// English, the language of the built-in templates.
    pub fn english() -> Language {
        Language("en".into())
    }

    /// The tag.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The language without subtags (`pt` of `pt-br`).
    pub fn primary(&self) -> Language {
        Language(self.0.split('-').next().unwrap_or_default().to_string())
    }

    /// The language's own name where known (`Deutsch`), else the tag.
    pub fn name(&self) -> String {
        let primary = self.0.split('-').next().unwrap_or_default();
        let name = KNOWN_LANGUAGES.iter().find(|(t, _)| *t == self.0 || *t == primary).map(|(_, n)| *n);
        match name {
            Some(n) if primary != self.0 => format!("{n} ({})", self.0),
            Some(n) => n.to_string(),
            None => self.0.clone(),
        }
    }

    /// The first language of an `Accept-Language` header
    /// (`de-CH, de;q=0.9, en;q=0.8`) that is in `offered` (exactly, or by
    /// its primary language), by the header's preference.
    pub fn negotiate(header: &str, offered: &[Language]) -> Option<Language> {
        let mut wanted: Vec<(f32, usize, Language)> = header
            .split(',')
            .enumerate()
            .filter_map(|(i, part)| {
                let mut bits = part.split(';');
                let tag = Language::parse(bits.next()?).ok()?;
                // No weight is 1; a weight that is not a number counts as 0.
                let q = match bits.find_map(|b| b.trim().strip_prefix("q=")) {
                    None => 1.0,
                    Some(q) => q.trim().parse::<f32>().unwrap_or(0.0),
                };
                (q > 0.0).then_some((q, i, tag))
            })
            .collect();
        wanted.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        wanted.into_iter().find_map(|(_, _, w)| {
            let primary = w.primary();
            offered
                .iter()
                .find(|o| **o == w)
                .or_else(|| offered.iter().find(|o| **o == primary))
                .or_else(|| offered.iter().find(|o| o.primary() == primary))
                .cloned()
        })
    }
}

/// Names of common languages, by tag, in the language itself.
pub const KNOWN_LANGUAGES: &[(&str, &str)] = &[
    ("ar", "العربية"),
    ("cs", "Čeština"),
    ("da", "Dansk"),
    ("de", "Deutsch"),
    ("el", "Ελληνικά"),
    ("en", "English"),
    ("es", "Español"),
    ("fi", "Suomi"),
    ("fr", "Français"),
    ("he", "עברית"),
    ("hu", "Magyar"),
    ("it", "Italiano"),
    ("ja", "日本語"),
    ("ko", "한국어"),
    ("nb", "Norsk bokmål"),
    ("nl", "Nederlands"),
    ("pl", "Polski"),
    ("pt", "Português"),
    ("ro", "Română"),
    ("ru", "Русский"),
    ("sv", "Svenska"),
    ("tr", "Türkçe"),
    ("uk", "Українська"),
    ("zh", "中文"),
];

impl Default for Language {
    fn default() -> Self {
        Language::english()
    }
}

impl fmt::Display for Language {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for Language {
    type Error = BadLanguage;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Language::parse(&s)
    }
}

impl From<Language> for String {
    fn from(l: Language) -> String {
        l.0
    }
}
