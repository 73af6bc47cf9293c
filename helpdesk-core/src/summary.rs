//! [`TicketSummary`]: the row a ticket list shows, and what filters evaluate.
//!
//! A ticket's full state carries every message and note; a list needs none of
//! them. Stores keep a summary beside the state, written in the same commit,
//! in a compact binary form ([`TicketSummary::encode`]) that decodes in well
//! under a microsecond, so a page of 25 does not parse 25 message threads.

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

struct W(Vec<u8>);

impl W {
    fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn opt(&mut self, v: Option<u64>) {
        match v {
            Some(v) => {
                self.u8(1);
                self.u64(v);
            }
            None => self.u8(0),
        }
    }
    fn time(&mut self, t: DateTime<Utc>) {
        self.u64(t.timestamp() as u64);
        self.u32(t.timestamp_subsec_nanos());
    }
    fn opt_time(&mut self, t: Option<DateTime<Utc>>) {
        match t {
            Some(t) => {
                self.u8(1);
                self.time(t);
            }
            None => self.u8(0),
        }
    }
    fn str(&mut self, s: &str) {
        self.u32(s.len() as u32);
        self.0.extend_from_slice(s.as_bytes());
    }
}

struct R<'a>(&'a [u8]);

type Res<T> = Result<T, String>;

impl<'a> R<'a> {
    fn take(&mut self, n: usize) -> Res<&'a [u8]> {
        if self.0.len() < n {
            return Err(format!("truncated: wanted {n} bytes, {} left", self.0.len()));
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Ok(a)
    }
    fn u8(&mut self) -> Res<u8> {
        Ok(self.take(1)?[0])
    }
    fn u32(&mut self) -> Res<u32> {
        Ok(u32::from_le_bytes(self.take(4)?.try_into().map_err(|_| "u32")?))
    }
    fn u64(&mut self) -> Res<u64> {
        Ok(u64::from_le_bytes(self.take(8)?.try_into().map_err(|_| "u64")?))
    }
    fn opt(&mut self) -> Res<Option<u64>> {
        match self.u8()? {
            0 => Ok(None),
            1 => Ok(Some(self.u64()?)),
            b => Err(format!("bad option tag {b}")),
        }
    }
    fn time(&mut self) -> Res<DateTime<Utc>> {
        let (secs, nanos) = (self.u64()? as i64, self.u32()?);
        DateTime::from_timestamp(secs, nanos).ok_or_else(|| format!("time out of range: {secs}.{nanos}"))
    }
    fn opt_time(&mut self) -> Res<Option<DateTime<Utc>>> {
        match self.u8()? {
            0 => Ok(None),
            1 => Ok(Some(self.time()?)),
            b => Err(format!("bad option tag {b}")),
        }
    }
    fn str(&mut self) -> Res<String> {
        let n = self.u32()? as usize;
        String::from_utf8(self.take(n)?.to_vec()).map_err(|e| e.to_string())
    }
}

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
        let mut w = W(Vec::with_capacity(128 + self.subject.len()));
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
        w.0
    }

    /// The version of an encoded summary, without decoding the rest.
    ///
    /// ```
    /// # let (t, _) = helpdesk_core::testing::sample_ticket();
    /// let s = helpdesk_core::TicketSummary::from(&t);
    /// assert_eq!(helpdesk_core::TicketSummary::version_of(&s.encode()), Ok(t.version));
    /// ```
    pub fn version_of(bytes: &[u8]) -> Result<u64, String> {
        let mut r = R(bytes);
        let format = r.u8()?;
        if format != FORMAT {
            return Err(format!("unknown summary format {format}"));
        }
        r.u64()?;
        r.u64()
    }

    /// Reads [`encode`](Self::encode)'s output; says what is wrong when it cannot.
    pub fn decode(bytes: &[u8]) -> Result<TicketSummary, String> {
        let mut r = R(bytes);
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
        if !r.0.is_empty() {
            return Err(format!("{} trailing bytes", r.0.len()));
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
