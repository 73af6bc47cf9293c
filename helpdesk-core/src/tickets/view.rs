//! What users are shown of a ticket (DESIGN rule 6).
//!
//! A [`UserTicketView`] is the only shape of a ticket the portal, the embed and
//! user emails are given. It is built from a [`Ticket`] and has no field for
//! notes, followers, labels, urgency, assignment or agent-only custom fields,
//! so no template or JSON encoder can leak them.

use crate::ids::*;
use crate::people::{Department, FieldValue};
use crate::ticket::{Author, Status, Ticket};
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::collections::BTreeMap;

/// A message as a user sees it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UserMessage {
    /// Number within the ticket.
    pub id: PostId,
    /// The author's display name.
    pub author: String,
    /// Whether the helpdesk (an agent) wrote it.
    pub from_agent: bool,
    /// The text (plain text as written; escape or sanitise it when rendering).
    pub body: String,
    /// When it was posted.
    pub at: DateTime<Utc>,
    /// Its files (the original mail a message came as is not among them).
    pub attachments: Vec<UserFile>,
}

/// A file on a message, as a user sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UserFile {
    /// Its position among the message's files (the download address uses it).
    pub n: usize,
    /// File name.
    pub filename: String,
    /// Type, as read from the content.
    pub content_type: String,
    /// Size in bytes.
    pub size: u64,
}

/// A ticket as its owner or a CC'd user sees it: messages only, no agent-only data.
///
/// ```
/// use helpdesk_core::*;
/// let (t, _) = helpdesk_core::testing::sample_ticket();
/// let dept = Department { id: t.department, name: "Support".into(), fields: vec![] };
/// let v = UserTicketView::new(&t, &dept, |_| "someone".to_string());
/// assert_eq!(v.messages.len(), t.messages.len());
/// let json = serde_json::to_string(&v).unwrap();
/// assert!(!json.contains("notes") && !json.contains("urgency"));
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UserTicketView {
    /// Ticket id.
    pub id: TicketId,
    /// Subject.
    pub subject: String,
    /// Status as users see it: hidden statuses other than validating read as resolved.
    pub status: Status,
    /// Department name.
    pub department: String,
    /// The owner.
    pub user: UserId,
    /// Custom fields that are not agent-only.
    pub fields: BTreeMap<String, FieldValue>,
    /// Messages, oldest first.
    pub messages: Vec<UserMessage>,
    /// When it was opened.
    pub created_at: DateTime<Utc>,
    /// When it last changed in a way the user can see.
    pub updated_at: DateTime<Utc>,
}

impl UserTicketView {
    /// Builds the view of `t` (in `department`), naming message authors with `name`.
    pub fn new(t: &Ticket, department: &Department, name: impl Fn(Author) -> String) -> Self {
        let fields = t
            .fields
            .iter()
            .filter(|(k, _)| department.field(k).is_some_and(|f| !f.agent_only))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let messages: Vec<UserMessage> = t
            .messages
            .iter()
            .map(|m| UserMessage {
                id: m.id,
                author: name(m.author),
                from_agent: matches!(m.author, Author::Agent(_)),
                body: m.body.clone(),
                at: m.at,
                attachments: m
                    .attachments
                    .iter()
                    .enumerate()
                    .filter(|(_, a)| !a.is_original_mail())
                    .map(|(n, a)| UserFile {
                        n,
                        filename: a.filename.clone(),
                        content_type: a.content_type.clone(),
                        size: a.size,
                    })
                    .collect(),
            })
            .collect();
        let updated_at = messages.last().map(|m| m.at).unwrap_or(t.created_at).max(t.status_since);
        UserTicketView {
            id: t.id,
            subject: t.subject.clone(),
            status: match t.status {
                Status::Spam | Status::Deleted => Status::Resolved,
                s => s,
            },
            department: department.name.clone(),
            user: t.user,
            fields,
            messages,
            created_at: t.created_at,
            updated_at,
        }
    }
}
