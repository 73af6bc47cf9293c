//! # helpdesk-mail
//!
//! The email gateway and the delivery workers of helpdesk-rs — the I/O half
//! of notifications and email (the decisions are pure, in
//! [`helpdesk_core::notify`] and [`helpdesk_core::mail`]).
//!
//! - **In**: [`MailGateway::ingest`] takes raw RFC 5322 bytes (from the HTTP
//!   ingest endpoint, [`SmtpListener`], or a mailbox) and makes a new ticket,
//!   a reply, or nothing (auto-replies, bounces, loops), threading by signed
//!   reply tokens and then subject references only from participants.
//! - **Out**: a [`DeliveryWorker`] takes due outbox items and hands them to
//!   [`Notifier`]s — [`EmailNotifier`] (SMTP, lettre), [`InAppHub`] (a
//!   broadcast stream for the agent server's notifications bay),
//!   [`WebhookNotifier`] — retrying with backoff and recording every delivery
//!   in the ticket log.
//!
//! ```
//! use helpdesk_core::*;
//! use helpdesk_mail::{DeliveryWorker, InAppHub, IngestOutcome, MailGateway};
//! use helpdesk_store::Helpdesk;
//! use std::sync::Arc;
//!
//! let hd = Helpdesk::in_memory();
//! let support = hd.create_department("Support", vec![]).unwrap();
//! hd.create_email_account("support@example.com", "Example Support", support.id).unwrap();
//! let alice = hd.create_agent(helpdesk_store::NewAgent::new("Alice", "alice@example.com").admin()).unwrap();
//!
//! let gateway = MailGateway::new(hd.clone());
//! let raw = b"From: Ann <ann@acme.com>\r\nTo: support@example.com\r\nSubject: Printer on fire\r\n\r\nHelp!\r\n";
//! let IngestOutcome::NewTicket { ticket, new_user: true, .. } = gateway.ingest(raw).unwrap() else { panic!() };
//!
//! // Alice (admin) hears of it in the app; the worker records the delivery in the log.
//! let hub = InAppHub::new(hd.clone(), 64);
//! let mut bay = hub.subscribe();
//! let worker = DeliveryWorker::new(hd.clone()).notifier(Arc::new(hub));
//! worker.run_once().unwrap();
//! let n = bay.try_recv().unwrap();
//! assert_eq!((n.agent, n.ticket, n.reason.as_str()), (alice.id, ticket, "new_ticket"));
//! ```
#![warn(missing_docs)]

pub mod error;
pub mod gateway;
pub mod inbound;
pub mod notifier;
pub mod outbound;
pub mod smtp;
pub mod worker;

pub use error::MailError;
pub use gateway::{IngestOutcome, MailGateway};
pub use inbound::ParsedMail;
pub use notifier::{
    send_test_mail, DeliveryError, EmailNotifier, InAppHub, InAppNotification, Notifier, PlainSender,
    SmtpConfig, SmtpSecurity, TestMailRequest, WebhookNotifier, IN_APP_CHANNEL,
};
pub use smtp::{SmtpListener, SmtpListenerConfig};
pub use worker::{DeliveryWorker, RunReport, WorkerHandle, DEFAULT_LEASE};
