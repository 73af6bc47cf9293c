//! Demo data: departments, teams, agents with passwords, users and a few
//! tickets, so a fresh server has something to show. Idempotent: it does
//! nothing when the demo admin already exists.

use helpdesk_core::*;
use helpdesk_store::{AuthError, Helpdesk, NewAgent};

/// The demo admin's login.
pub const ADMIN: (&str, &str) = ("admin@example.com", "admin-password");
/// A demo agent's login (Support department only, in the Tier 1 team).
pub const AGENT: (&str, &str) = ("sam@example.com", "agent-password");
/// A demo portal user's login.
pub const USER: (&str, &str) = ("ann@acme.example", "user-password");

/// The demo email account (Support): mail to it becomes Support tickets,
/// and notifications are sent from it.
pub const DEMO_MAILBOX: (&str, &str) = ("support@example.com", "Example Support");

/// Seeds the demo data unless it is there already; returns whether it seeded.
pub fn seed(hd: &Helpdesk) -> Result<bool, AuthError> {
    if hd.agent_by_email(ADMIN.0)?.is_some() {
        // Stores seeded before the demo had a mailbox get it now.
        if hd.email_accounts()?.is_empty() {
            if let Some(support) = hd.departments()?.into_iter().find(|d| d.name == "Support") {
                hd.create_email_account(DEMO_MAILBOX.0, DEMO_MAILBOX.1, support.id)?;
            }
        }
        return Ok(false);
    }
    let support = hd.create_department(
        "Support",
        vec![
            FieldDef {
                key: "product".into(),
                label: "Product".into(),
                kind: FieldKind::Choice { options: vec!["Printer".into(), "Scanner".into(), "Other".into()] },
                required: false,
                agent_only: false,
                retired: false,
            },
            FieldDef {
                key: "internal_ref".into(),
                label: "Internal reference".into(),
                kind: FieldKind::Text,
                required: false,
                agent_only: true,
                retired: false,
            },
        ],
    )?;
    let sales = hd.create_department("Sales", vec![])?;
    hd.create_email_account(DEMO_MAILBOX.0, DEMO_MAILBOX.1, support.id)?;
    let tier1 = hd.create_team("Tier 1")?;
    let admin = hd.create_agent(NewAgent::new("Alice Admin", ADMIN.0).admin())?;
    hd.set_password(Principal::Agent(admin.id), ADMIN.1)?;
    let sam =
        hd.create_agent(NewAgent::new("Sam Support", AGENT.0).teams([tier1.id]).permissions(Permissions {
            departments: Some([support.id].into_iter().collect()),
            ..Permissions::default()
        }))?;
    hd.set_password(Principal::Agent(sam.id), AGENT.1)?;
    hd.create_organisation("Acme", &["acme.example"])?;
    let mut ann = NewUser::new("Ann Acme", USER.0);
    ann.validated = true;
    let ann = hd.create_user(ann)?;
    hd.set_password(Principal::User(ann.id), USER.1)?;
    let mut bob = NewUser::new("Bob Builder", "bob@builder.example");
    bob.validated = true;
    let bob = hd.create_user(bob)?;

    let mut t1 = NewTicket::new(
        "Printer on fire",
        "The office printer is on fire. Please advise.",
        support.id,
        ann.id,
        Channel::Portal,
    );
    t1.fields.insert("product".into(), FieldValue::Choice("Printer".into()));
    let t1 = hd.create_ticket(&Actor::User(ann.id), t1)?;
    hd.execute(
        t1.id,
        &Actor::Agent(admin.id),
        Command::SetUrgency { urgency: Urgency::new(8).map_err(helpdesk_store::Error::from)? },
    )?;
    hd.add_note(t1.id, admin.id, "Agents only: check whether it is the model that was recalled.")?;

    let t2 = hd.create_ticket(
        &Actor::User(ann.id),
        NewTicket::new(
            "Scanner makes blurry scans",
            "Every scan is blurry since Monday.",
            support.id,
            ann.id,
            Channel::Email,
        ),
    )?;
    hd.agent_reply(t2.id, sam.id, "Could you send us a sample scan?", None)?;

    let mut t3 = NewTicket::new(
        "Quote for 20 printers",
        "We would like a quote for 20 printers.",
        sales.id,
        bob.id,
        Channel::Embed,
    );
    t3.ccs.insert(ann.id);
    hd.create_ticket(&Actor::User(bob.id), t3)?;

    let t4 = hd.create_ticket(
        &Actor::User(bob.id),
        NewTicket::new(
            "Cannot log in",
            "The portal says my password is wrong.",
            support.id,
            bob.id,
            Channel::Portal,
        ),
    )?;
    hd.execute(t4.id, &Actor::Agent(admin.id), Command::AssignTeam { team: Some(tier1.id) })?;
    hd.execute(
        t4.id,
        &Actor::Agent(admin.id),
        Command::SetUrgency { urgency: Urgency::new(5).map_err(helpdesk_store::Error::from)? },
    )?;
    Ok(true)
}
