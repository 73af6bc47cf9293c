//! Attached files: keeping what people upload (checked against Admin >
//! Settings' limits, typed by its content, stored once by content hash)
//! and handing a file back only to someone who may see the message or note
//! it is on. Files are addressed by ticket, post and position, never by
//! their blob id, so knowing a file's URL gives nothing without the right
//! to see the post.
//!
//! ```
//! use helpdesk_store::{files::NewFile, Helpdesk, NewAgent};
//! use helpdesk_core::*;
//!
//! let hd = Helpdesk::in_memory();
//! let support = hd.create_department("Support", vec![]).unwrap();
//! let ann = hd.create_user(NewUser::new("Ann", "ann@example.com")).unwrap();
//! let bob = hd.create_user(NewUser::new("Bob", "bob@example.com")).unwrap();
//! let alice = hd.create_agent(NewAgent::new("Alice", "alice@example.com")).unwrap();
//!
//! let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
//! let files = hd.store_files(vec![NewFile::new("screenshot.txt", png.clone())]).unwrap();
//! assert_eq!(files[0].content_type, "image/png"); // from the bytes, not the name
//! let mut new = NewTicket::new("Broken", "See the picture", support.id, ann.id, Channel::Portal);
//! new.attachments = files;
//! let t = hd.create_ticket(&Actor::User(ann.id), new).unwrap();
//! let post = t.messages[0].id;
//!
//! assert_eq!(hd.file_for_user(ann.id, t.id, post, 0).unwrap().bytes, png);
//! assert_eq!(hd.file_for_agent(&alice, t.id, post, 0).unwrap().attachment.filename, "screenshot.txt");
//! assert!(hd.file_for_user(bob.id, t.id, post, 0).is_err()); // not Bob's ticket
//! assert!(hd.file_for_user(ann.id, t.id, post, 1).is_err()); // no such file
//! ```

use crate::{Helpdesk, Result};
use helpdesk_core::files::{self, FileLimits};
use helpdesk_core::*;

/// A file as uploaded: the name it came with and its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewFile {
    /// The name given (cleaned when kept: no path, no control characters).
    pub name: String,
    /// The content.
    pub bytes: Vec<u8>,
}

impl NewFile {
    /// A file named `name` with `bytes`.
    pub fn new(name: impl Into<String>, bytes: Vec<u8>) -> Self {
        NewFile { name: name.into(), bytes }
    }
}

/// A file handed back: what the post says of it, and its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct File {
    /// Name, type (as read from the content when kept) and size.
    pub attachment: Attachment,
    /// The content.
    pub bytes: Vec<u8>,
}

impl Helpdesk {
    /// The attachment limits in force (Admin > Settings).
    pub fn file_limits(&self) -> Result<FileLimits> {
        Ok(self.settings()?.file_limits())
    }

    /// Keeps uploaded files for a message: refused whole when one is over
    /// the file limit, all together over the message limit, or too many
    /// (nothing is stored then); each typed by its content and stored once
    /// by content hash. The attachments returned go on a command
    /// ([`Command::AgentReply`], [`NewTicket::attachments`], ...).
    pub fn store_files(&self, new: Vec<NewFile>) -> Result<Vec<Attachment>> {
        let sizes: Vec<(&str, u64)> = new.iter().map(|f| (f.name.as_str(), f.bytes.len() as u64)).collect();
        self.file_limits()?.check(&sizes)?;
        let mut out = Vec::with_capacity(new.len());
        for (i, f) in new.into_iter().enumerate() {
            let content_type = files::sniff(&f.bytes);
            let fallback = format!("file-{}.{}", i + 1, files::extension_for(&f.bytes));
            let a = Attachment {
                filename: files::clean_filename(&f.name, &fallback),
                content_type,
                size: f.bytes.len() as u64,
                blob: self.put_blob(&f.bytes)?,
            };
            a.validate()?;
            out.push(a);
        }
        Ok(out)
    }

    /// File `n` of message or note `post` on ticket `id`, for an agent who
    /// may see the ticket's department; the same "not found" for a ticket
    /// they may not see as for one that does not exist.
    pub fn file_for_agent(&self, agent: &Agent, id: TicketId, post: PostId, n: usize) -> Result<File> {
        let t = self.ticket(id)?;
        if agent.disabled || !agent.permissions.can_see(t.department) {
            return Err(TicketError::NotFound(id).into());
        }
        let on_message = t.messages.iter().find(|m| m.id == post).map(|m| &m.attachments);
        let on_note = || t.notes.iter().find(|m| m.id == post).map(|m| &m.attachments);
        let list = on_message.or_else(on_note);
        self.file_from(id, post, n, list.and_then(|l| l.get(n)))
    }

    /// File `n` of message `post` on ticket `id`, for a user who may see the
    /// ticket in the portal. Notes' files and the original mail a message
    /// came as are never theirs; what they may not see reads as not found.
    pub fn file_for_user(&self, user: UserId, id: TicketId, post: PostId, n: usize) -> Result<File> {
        let t = self.ticket(id)?;
        if !self.user_may_see(user, &t)? {
            return Err(TicketError::NotFound(id).into());
        }
        let found = t
            .messages
            .iter()
            .find(|m| m.id == post)
            .and_then(|m| m.attachments.get(n))
            .filter(|a| !a.is_original_mail());
        self.file_from(id, post, n, found)
    }

    fn file_from(&self, id: TicketId, post: PostId, n: usize, found: Option<&Attachment>) -> Result<File> {
        let missing = || TicketError::NoSuchFile { ticket: id, post, n };
        let a = found.ok_or_else(missing)?;
        let bytes = self.blob(&a.blob)?.ok_or_else(|| {
            StoreError::Backend(format!(
                "the content of {} on ticket {id} ({}) is missing",
                a.filename, a.blob
            ))
        })?;
        Ok(File { attachment: a.clone(), bytes })
    }
}
