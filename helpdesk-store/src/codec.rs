//! Compact binary values for the records a commit writes many of: the outbox
//! items of one commit (one value per commit; a command can queue a
//! notification for every subscribed agent, ~80 in the benchmark, and each
//! item as its own JSON value was ~280 bytes and one more key).
//!
//! Format of an outbox group (little-endian, length-prefixed strings):
//! `FORMAT`, queued_at (time), item count (u32), then per item: seq (u32),
//! a flags byte, [attempts (u32), not_before (time), last_error (opt str)
//! when flag `DELIVERY` is set: the item has been tried], [queued_at (time)
//! when flag `OWN_TIME` is set: it differs from the group's], then the
//! effect: tag 0 = notification to a user/agent/team (recipient tag, id
//! u64, channel, reason, opt template), tag 1 = webhook (url, origin),
//! tag 2 = anything else as JSON. A time is seconds (i64) and nanoseconds (u32).

use helpdesk_core::bytes::{Reader, Writer};
use helpdesk_core::outbox::{
    DeliveryChannel, Effect, Notification, OutboxItem, OutboxKey, Recipient, Webhook,
};
use helpdesk_core::TicketId;
use helpdesk_core::{AgentId, TeamId, UserId};

const FORMAT: u8 = 1;
const DELIVERY: u8 = 1;
const OWN_TIME: u8 = 2;

fn channel_code(c: DeliveryChannel) -> u8 {
    match c {
        DeliveryChannel::Email => 0,
        DeliveryChannel::InApp => 1,
    }
}

/// Encodes the outbox items of one (ticket, version), in `seq` order.
/// `items` must not be empty.
pub(crate) fn encode_outbox_group(items: &[OutboxItem]) -> Result<Vec<u8>, String> {
    let first = items.first().ok_or("an empty outbox group")?;
    let mut w = Writer::with_capacity(16 + items.len() * 32);
    w.u8(FORMAT);
    w.time(first.queued_at);
    w.u32(items.len() as u32);
    for item in items {
        w.u32(item.key.seq);
        let tried = item.attempts != 0 || item.not_before != item.queued_at || item.last_error.is_some();
        let own_time = item.queued_at != first.queued_at;
        w.u8(if tried { DELIVERY } else { 0 } | if own_time { OWN_TIME } else { 0 });
        if tried {
            w.u32(item.attempts);
            w.time(item.not_before);
            w.opt_str(item.last_error.as_deref());
        }
        if own_time {
            w.time(item.queued_at);
        }
        match &item.effect {
            Effect::Notify(n) if !matches!(n.recipient, Recipient::Address(_)) => {
                w.u8(0);
                match n.recipient {
                    Recipient::User(u) => {
                        w.u8(0);
                        w.u64(u.0);
                    }
                    Recipient::Agent(a) => {
                        w.u8(1);
                        w.u64(a.0);
                    }
                    Recipient::Team(t) => {
                        w.u8(2);
                        w.u64(t.0);
                    }
                    Recipient::Address(_) => unreachable!("matched above"),
                }
                w.u8(channel_code(n.channel));
                w.str(&n.reason);
                w.opt_str(n.template.as_deref());
            }
            Effect::Webhook(h) => {
                w.u8(1);
                w.str(&h.url);
                w.str(&h.origin);
            }
            other => {
                w.u8(2);
                w.str(&serde_json::to_string(other).map_err(|e| e.to_string())?);
            }
        }
    }
    Ok(w.into_bytes())
}

/// Decodes what [`encode_outbox_group`] wrote, for `ticket` at `version`.
pub(crate) fn decode_outbox_group(
    ticket: TicketId,
    version: u64,
    bytes: &[u8],
) -> Result<Vec<OutboxItem>, String> {
    let mut r = Reader::new(bytes);
    let format = r.u8()?;
    if format != FORMAT {
        return Err(format!("unknown outbox format {format}"));
    }
    let queued = r.time()?;
    let n = r.u32()? as usize;
    let mut out = Vec::with_capacity(n.min(4096));
    for _ in 0..n {
        let seq = r.u32()?;
        let flags = r.u8()?;
        let (attempts, not_before, last_error) =
            if flags & DELIVERY != 0 { (r.u32()?, Some(r.time()?), r.opt_str()?) } else { (0, None, None) };
        let queued_at = if flags & OWN_TIME != 0 { r.time()? } else { queued };
        let effect = match r.u8()? {
            0 => {
                let kind = r.u8()?;
                let id = r.u64()?;
                let recipient = match kind {
                    0 => Recipient::User(UserId(id)),
                    1 => Recipient::Agent(AgentId(id)),
                    2 => Recipient::Team(TeamId(id)),
                    k => return Err(format!("bad recipient tag {k}")),
                };
                let channel = match r.u8()? {
                    0 => DeliveryChannel::Email,
                    1 => DeliveryChannel::InApp,
                    c => return Err(format!("bad channel {c}")),
                };
                Effect::Notify(Notification { recipient, channel, reason: r.str()?, template: r.opt_str()? })
            }
            1 => Effect::Webhook(Webhook { url: r.str()?, origin: r.str()? }),
            2 => serde_json::from_str(&r.str()?).map_err(|e| e.to_string())?,
            t => return Err(format!("bad effect tag {t}")),
        };
        out.push(OutboxItem {
            key: OutboxKey { ticket, version, seq },
            effect,
            queued_at,
            attempts,
            not_before: not_before.unwrap_or(queued_at),
            last_error,
        });
    }
    if !r.is_empty() {
        return Err(format!("{} bytes after the last item", r.remaining()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use helpdesk_core::people::Email;

    #[test]
    fn outbox_groups_round_trip() {
        let t0 = chrono::DateTime::from_timestamp(1_700_000_000, 123_456_789).unwrap();
        let key = |seq| OutboxKey { ticket: TicketId(7), version: 3, seq };
        let notify = |recipient| {
            Effect::Notify(Notification {
                recipient,
                channel: DeliveryChannel::InApp,
                reason: "new_ticket".into(),
                template: None,
            })
        };
        let items = vec![
            OutboxItem::new(key(0), notify(Recipient::Agent(AgentId(1))), t0),
            OutboxItem::new(key(1), notify(Recipient::User(UserId(9))), t0).failed(t0, "refused"),
            OutboxItem::new(
                key(2),
                Effect::Notify(Notification {
                    recipient: Recipient::Address(Email::parse("boss@example.test").unwrap()),
                    channel: DeliveryChannel::Email,
                    reason: "vip".into(),
                    template: Some("vip".into()),
                }),
                t0 + chrono::Duration::nanoseconds(1),
            ),
            OutboxItem::new(
                key(5),
                Effect::Webhook(Webhook { url: "http://127.0.0.1:9/".into(), origin: "t".into() }),
                t0,
            ),
            OutboxItem::new(key(6), notify(Recipient::Team(TeamId(2))), t0),
        ];
        let bytes = encode_outbox_group(&items).unwrap();
        assert_eq!(decode_outbox_group(TicketId(7), 3, &bytes).unwrap(), items);
        assert!(decode_outbox_group(TicketId(7), 3, &bytes[..bytes.len() - 1]).is_err());
        assert!(encode_outbox_group(&[]).is_err());
    }
}
