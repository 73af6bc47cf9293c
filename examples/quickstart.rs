//! Quickstart: an embedder opens a helpdesk on the embedded sled store, sets up
//! a department, an agent and a user, then works a ticket: the user opens it,
//! the agent replies, the user answers, the agent adds a note and resolves it.
//! Finally it prints the ticket's full log.
//!
//! ```text
//! cargo run --example quickstart                 # store in ./target/quickstart-db
//! cargo run --example quickstart -- /tmp/hd      # or anywhere else
//! ```
//!
//! Run it twice: the directory entries are found again and the new ticket
//! gets the next id, because everything was kept in sled.

use helpdesk_core::*;
use helpdesk_store::{Error, Helpdesk, NewAgent};

fn main() -> Result<(), Error> {
    let path = std::env::args().nth(1).unwrap_or_else(|| "target/quickstart-db".to_string());
    let hd = Helpdesk::open(&path)?;

    // Configuration: found again on a second run (names and emails are unique).
    let support = match hd.departments()?.into_iter().find(|d| d.name == "Support") {
        Some(d) => d,
        None => hd.create_department(
            "Support",
            vec![FieldDef {
                key: "product".into(),
                label: "Product".into(),
                kind: FieldKind::Choice { options: vec!["printer".into(), "scanner".into()] },
                required: false,
                agent_only: false,
                retired: false,
            }],
        )?,
    };
    let alice = match hd.agent_by_email("alice@example.com")? {
        Some(a) => a,
        None => hd.create_agent(NewAgent::new("Alice Agent", "alice@example.com").admin())?,
    };
    if hd.organisation_for_domain("acme.com")?.is_none() {
        hd.create_organisation("Acme", &["acme.com"])?;
    }
    let ann = match hd.user_by_email("ann@acme.com")? {
        Some(u) => u,
        None => hd.create_user(NewUser::new("Ann User", "ann@acme.com"))?,
    };
    println!("{} joined organisation {:?} by email domain", ann.name, ann.organisation);

    // The user opens a ticket in the portal.
    let mut new = NewTicket::new(
        "Printer on fire",
        "The printer on floor 3 is on fire.",
        support.id,
        ann.id,
        Channel::Portal,
    );
    new.fields.insert("product".into(), FieldValue::Choice("printer".into()));
    let ticket = hd.create_ticket(&Actor::User(ann.id), new)?;
    println!("created ticket {} ({})", ticket.id, ticket.status);

    // The agent takes it and replies: the status becomes awaiting user.
    hd.execute(ticket.id, &Actor::Agent(alice.id), Command::AssignAgent { agent: Some(alice.id) })?;
    let t = hd.agent_reply(ticket.id, alice.id, "Please step away from the printer.", None)?;
    println!("agent replied: {}", t.status);

    // The user answers: awaiting agent again.
    let t = hd.user_reply(ticket.id, ann.id, "Done. It is still smoking.")?;
    println!("user replied: {}", t.status);

    // A note is for agents only and changes no status.
    let t = hd.add_note(ticket.id, alice.id, "Facilities called; extinguisher on the way.")?;
    println!("note added: {} ({} notes, {} messages)", t.status, t.notes.len(), t.messages.len());

    // Bad input is refused with a typed error and changes nothing.
    let err = hd.add_note(ticket.id, alice.id, "   ").unwrap_err();
    println!("refused: {err}");
    let err = hd.execute(
        ticket.id,
        &Actor::User(ann.id),
        Command::AddNote { body: "hi".into(), attachments: vec![] },
    );
    println!("refused: {}", err.unwrap_err());

    // The agent resolves it with a final reply.
    let t = hd.agent_reply(
        ticket.id,
        alice.id,
        "Fire is out; a new printer is ordered.",
        Some(Status::Resolved),
    )?;
    println!("resolved: {} at version {}", t.status, t.version);

    println!("\nfull log of ticket {}:", t.id);
    for e in hd.log(t.id)? {
        println!(
            "  v{:<2} {} {:<20} {}",
            e.version,
            e.at.format("%H:%M:%S"),
            e.actor.to_string(),
            describe(&e.change)
        );
    }
    println!("\nresolved tickets in this store: {}", hd.count_by_status(Status::Resolved)?);
    hd.flush()?;
    Ok(())
}

fn describe(c: &Change) -> String {
    match c {
        Change::Created { subject, status, .. } => format!("created {subject:?} as {status}"),
        Change::MessageAdded { message } => format!("message {}: {:?}", message.id, message.body),
        Change::NoteAdded { note } => format!("note {}: {:?}", note.id, note.body),
        Change::Status { from, to } => format!("status {from} -> {to}"),
        Change::Agent { from, to } => format!("agent {from:?} -> {to:?}"),
        other => serde_json::to_string(other).unwrap_or_else(|_| other.kind().to_string()),
    }
}
