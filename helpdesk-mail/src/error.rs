//! Errors of the mail gateway.

use thiserror::Error;

/// Why incoming mail was not taken, or an outgoing one not built.
/// Every error leaves the helpdesk unchanged.
#[derive(Debug, Clone, PartialEq, Error)]
#[non_exhaustive]
pub enum MailError {
    /// The bytes are not a usable RFC 5322 message (no headers, no sender,
    /// no body...).
    #[error("malformed mail: {0}")]
    Malformed(String),
    /// Larger than the gateway accepts.
    #[error("mail of {size} bytes is larger than the limit of {limit} bytes")]
    TooLarge {
        /// Its size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// None of the recipients is an email account of this helpdesk.
    #[error("no email account for any recipient ({0})")]
    NoAccount(String),
    /// The mail is well-formed but not accepted (e.g. an agent's address
    /// without that agent's reply token).
    #[error("refused: {0}")]
    Refused(String),
    /// The helpdesk refused a change or storage failed.
    #[error(transparent)]
    Helpdesk(#[from] helpdesk_store::Error),
    /// Building an outgoing message failed.
    #[error("cannot build mail: {0}")]
    Build(String),
}

impl From<helpdesk_core::TicketError> for MailError {
    fn from(e: helpdesk_core::TicketError) -> Self {
        MailError::Helpdesk(e.into())
    }
}

impl From<helpdesk_core::StoreError> for MailError {
    fn from(e: helpdesk_core::StoreError) -> Self {
        MailError::Helpdesk(e.into())
    }
}

impl From<helpdesk_core::DirectoryError> for MailError {
    fn from(e: helpdesk_core::DirectoryError) -> Self {
        MailError::Helpdesk(e.into())
    }
}
