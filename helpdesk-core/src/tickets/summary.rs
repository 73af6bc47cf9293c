//! [`TicketSummary`]: the row a ticket list shows, and what filters evaluate.
//!
//! A ticket's full state carries every message and note; a list needs none of
//! them. Stores keep a summary beside the state, written in the same commit,
//! in a compact binary form ([`TicketSummary::encode`]) that decodes in well
//! under a microsecond, so a page of 25 does not parse 25 message threads.

use crate::bytes::{Reader, Res, Writer};
use crate::ids::*;
use crate::people::FieldValue;
use crate::ticket::{Channel, Status, Ticket, Urgency};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// What a ticket list shows and filters look at: everything but the posts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TicketSummary {
    /// Id.
    pub id: TicketId,
    /// Version (number of events).
    pub version: u64,
    /// Subject.
    pub subject: String,
    /// Status.
    pub status: Status,
    /// Department.
    pub department: DepartmentId,
    /// Assigned agent.
    pub agent: Option<AgentId>,
    /// Assigned team.
    pub team: Option<TeamId>,
    /// Owner.
    pub user: UserId,
    /// Urgency.
    pub urgency: Urgency,
    /// Labels.
    pub labels: BTreeSet<String>,
    /// Custom field values.
    pub fields: BTreeMap<String, FieldValue>,
    /// Following agents.
    pub followers: BTreeSet<AgentId>,
    /// How it was created.
    pub channel: Channel,
    /// Number of messages.
    pub messages: u32,
    /// Number of notes.
    pub notes: u32,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Time of the last event.
    pub updated_at: DateTime<Utc>,
    /// Last user message.
    pub last_user_reply_at: Option<DateTime<Utc>>,
    /// Last agent message.
    pub last_agent_reply_at: Option<DateTime<Utc>>,
    /// When it entered its status.
    pub status_since: DateTime<Utc>,
}

impl From<&Ticket> for TicketSummary {
    fn from(t: &Ticket) -> Self {
        TicketSummary {
            id: t.id,
            version: t.version,
            subject: t.subject.clone(),
            status: t.status,
            department: t.department,
            agent: t.agent,
            team: t.team,
            user: t.user,
            urgency: t.urgency,
            labels: t.labels.clone(),
            fields: t.fields.clone(),
            followers: t.followers.clone(),
            channel: t.channel,
            messages: t.messages.len() as u32,
            notes: t.notes.len() as u32,
            created_at: t.created_at,
            updated_at: t.updated_at,
            last_user_reply_at: t.last_user_reply_at,
            last_agent_reply_at: t.last_agent_reply_at,
            status_since: t.status_since,
        }
    }
}

const FORMAT: u8 = 1;

fn channel_code(c: Channel) -> u8 {
    match c {
        Channel::Email => 0,
        Channel::Portal => 1,
        Channel::Embed => 2,
        Channel::Agent => 3,
        Channel::Api => 4,
    }
}

fn channel_of(b: u8) -> Res<Channel> {
    Ok(match b {
        0 => Channel::Email,
        1 => Channel::Portal,
        2 => Channel::Embed,
        3 => Channel::Agent,
        4 => Channel::Api,
        _ => return Err(format!("bad channel {b}")),
    })
}

impl TicketSummary {
    /// The compact binary form stores keep (versioned, little-endian).
    ///
    /// ```
    /// use helpdesk_core::TicketSummary;
    /// let (t, _) = helpdesk_core::testing::sample_ticket();
    /// let s = TicketSummary::from(&t);
    /// assert_eq!(TicketSummary::decode(&s.encode()).unwrap(), s);
    /// ```
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::with_capacity(128 + self.subject.len());
        w.u8(FORMAT);
        w.u64(self.id.0);
        w.u64(self.version);
        w.str(&self.subject);
        w.u8(self.status.code());
        w.u64(self.department.0);
        w.opt(self.agent.map(|a| a.0));
        w.opt(self.team.map(|t| t.0));
        w.u64(self.user.0);
        w.u8(self.urgency.get());
        w.u32(self.labels.len() as u32);
        for l in &self.labels {
            w.str(l);
        }
        w.u32(self.fields.len() as u32);
        for (k, v) in &self.fields {
            w.str(k);
            match v {
                FieldValue::Text(s) => {
                    w.u8(0);
                    w.str(s);
                }
                FieldValue::Number(n) => {
                    w.u8(1);
                    w.u64(n.to_bits());
                }
                FieldValue::Choice(s) => {
                    w.u8(2);
                    w.str(s);
                }
                FieldValue::Date(d) => {
                    w.u8(3);
                    w.str(&d.to_string());
                }
            }
        }
        w.u32(self.followers.len() as u32);
        for a in &self.followers {
            w.u64(a.0);
        }
        w.u8(channel_code(self.channel));
        w.u32(self.messages);
        w.u32(self.notes);
        w.time(self.created_at);
        w.time(self.updated_at);
        w.opt_time(self.last_user_reply_at);
        w.opt_time(self.last_agent_reply_at);
        w.time(self.status_since);
        w.into_bytes()
    }

    /// The version of an encoded summary, without decoding the rest.
    ///
    /// ```
    /// # let (t, _) = helpdesk_core::testing::sample_ticket();
    /// let s = helpdesk_core::TicketSummary::from(&t);
    /// assert_eq!(helpdesk_core::TicketSummary::version_of(&s.encode()), Ok(t.version));
    /// ```
    pub fn version_of(bytes: &[u8]) -> Result<u64, String> {
        let mut r = Reader::new(bytes);
        let format = r.u8()?;
        if format != FORMAT {
            return Err(format!("unknown summary format {format}"));
        }
        r.u64()?;
        r.u64()
    }

    /// Reads [`encode`](Self::encode)'s output; says what is wrong when it cannot.
    pub fn decode(bytes: &[u8]) -> Result<TicketSummary, String> {
        let mut r = Reader::new(bytes);
        let format = r.u8()?;
        if format != FORMAT {
            return Err(format!("unknown summary format {format}"));
        }
        let id = TicketId(r.u64()?);
        let version = r.u64()?;
        let subject = r.str()?;
        let code = r.u8()?;
        let status =
            Status::ALL.into_iter().find(|s| s.code() == code).ok_or_else(|| format!("bad status {code}"))?;
        let department = DepartmentId(r.u64()?);
        let agent = r.opt()?.map(AgentId);
        let team = r.opt()?.map(TeamId);
        let user = UserId(r.u64()?);
        let urgency = Urgency::new(r.u8()? as i64).map_err(|e| e.to_string())?;
        let mut labels = BTreeSet::new();
        for _ in 0..r.u32()? {
            labels.insert(r.str()?);
        }
        let mut fields = BTreeMap::new();
        for _ in 0..r.u32()? {
            let k = r.str()?;
            let v = match r.u8()? {
                0 => FieldValue::Text(r.str()?),
                1 => FieldValue::Number(f64::from_bits(r.u64()?)),
                2 => FieldValue::Choice(r.str()?),
                3 => FieldValue::Date(r.str()?.parse::<NaiveDate>().map_err(|e| e.to_string())?),
                b => return Err(format!("bad field tag {b}")),
            };
            fields.insert(k, v);
        }
        let mut followers = BTreeSet::new();
        for _ in 0..r.u32()? {
            followers.insert(AgentId(r.u64()?));
        }
        let channel = channel_of(r.u8()?)?;
        let s = TicketSummary {
            id,
            version,
            subject,
            status,
            department,
            agent,
            team,
            user,
            urgency,
            labels,
            fields,
            followers,
            channel,
            messages: r.u32()?,
            notes: r.u32()?,
            created_at: r.time()?,
            updated_at: r.time()?,
            last_user_reply_at: r.opt_time()?,
            last_agent_reply_at: r.opt_time()?,
            status_since: r.time()?,
        };
        if !r.is_empty() {
            return Err(format!("{} trailing bytes", r.remaining()));
        }
        Ok(s)
    }

    /// Neither an agent nor a team.
    pub fn is_unassigned(&self) -> bool {
        self.agent.is_none() && self.team.is_none()
    }

    /// The later of the last user and the last agent message.
    pub fn last_reply_at(&self) -> Option<DateTime<Utc>> {
        self.last_user_reply_at.max(self.last_agent_reply_at)
    }
}
