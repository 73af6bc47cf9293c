//! Values an application keeps beside the helpdesk (the reference server's
//! logged-in sessions, an embedder's own settings): JSON by namespace and
//! name, in the same store, apart from the helpdesk's own configuration.

use crate::{Helpdesk, Result};

/// The prefix that keeps application namespaces apart from the helpdesk's
/// own (`trigger`, `escalation`, `sla`).
pub(crate) const APP: &str = "app:";

impl Helpdesk {
    /// Writes (or, with `None`, removes) an application value. Namespaces
    /// are the application's own: they can never touch the helpdesk's rules.
    /// Names are 1 to 200 bytes without NUL. Synced before it returns.
    ///
    /// ```
    /// let hd = helpdesk_store::Helpdesk::in_memory();
    /// hd.put_app_value("prefs", "theme", Some(&serde_json::json!("dark"))).unwrap();
    /// assert_eq!(hd.app_values("prefs").unwrap(), vec![("theme".to_string(), serde_json::json!("dark"))]);
    /// hd.put_app_value("prefs", "theme", None).unwrap();
    /// assert!(hd.app_values("prefs").unwrap().is_empty());
    /// assert!(hd.triggers().unwrap().is_empty());
    /// ```
    pub fn put_app_value(
        &self,
        namespace: &str,
        name: &str,
        value: Option<&serde_json::Value>,
    ) -> Result<()> {
        Ok(self.store.put_config(&format!("{APP}{namespace}"), name, value)?)
    }

    /// One application value.
    ///
    /// ```
    /// let hd = helpdesk_store::Helpdesk::in_memory();
    /// hd.put_app_value("prefs", "theme", Some(&serde_json::json!("dark"))).unwrap();
    /// assert_eq!(hd.app_value("prefs", "theme").unwrap(), Some(serde_json::json!("dark")));
    /// assert_eq!(hd.app_value("prefs", "font").unwrap(), None);
    /// ```
    pub fn app_value(&self, namespace: &str, name: &str) -> Result<Option<serde_json::Value>> {
        Ok(self.store.config(&format!("{APP}{namespace}"), name)?)
    }

    /// Whether `namespace` as seen in a [`Notice::Config`](helpdesk_core::Notice::Config)
    /// is the application namespace `app` (`Some(app)`), for a process
    /// following a shared store's changes.
    ///
    /// ```
    /// assert_eq!(helpdesk_store::Helpdesk::app_namespace("app:session"), Some("session"));
    /// assert_eq!(helpdesk_store::Helpdesk::app_namespace("trigger"), None);
    /// ```
    pub fn app_namespace(namespace: &str) -> Option<&str> {
        namespace.strip_prefix(APP)
    }

    /// Every application value of a namespace, by name.
    pub fn app_values(&self, namespace: &str) -> Result<Vec<(String, serde_json::Value)>> {
        Ok(self.store.configs(&format!("{APP}{namespace}"))?)
    }
}
