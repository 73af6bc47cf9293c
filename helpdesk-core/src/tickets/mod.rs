//! Tickets: the ticket and its log, the commands that change it, the views
//! and list rows made of it, and the outbox items a change queues.
pub mod command;
pub mod concurrency;
pub mod event;
pub mod files;
pub mod outbox;
pub mod relations;
pub mod snippets;
pub mod summary;
pub mod ticket;
pub mod view;
