//! [`KvStore`]: the `Store` implementation shared by the sled and in-memory
//! backends.
//!
//! Key layout (one ordered keyspace):
//!
//! | prefix | key | value |
//! | --- | --- | --- |
//! | `T` | ticket id (u64 BE) | ticket state (JSON) |
//! | `V` | ticket id | version (u64 BE) — checked by every commit |
//! | `E` | ticket id, version | log event (JSON) |
//! | `I` | index key (ends with ticket id) | empty |
//! | `C` | counter key | i64 BE |
//! | `Q` | id kind name | last id handed out (u64 BE) |
//! | `R` | record kind tag, id | directory record (JSON) |
//! | `U` | unique key | holder: kind tag, id |
//! | `O` | ticket id, version, position (u32 BE) | outbox item (JSON) |
//! | `B` | blob id (`sha256-<hex>`) | the bytes (attachments, original mail) |
//! | `K` | namespace, 0, name | configuration value: a rule definition (JSON) |

use crate::kv::KvEngine;
use helpdesk_core::*;
use serde::{de::DeserializeOwned, Serialize};

const TICKET: u8 = b'T';
const VERSION: u8 = b'V';
const EVENT: u8 = b'E';
const INDEX: u8 = b'I';
const COUNTER: u8 = b'C';
const SEQUENCE: u8 = b'Q';
const RECORD: u8 = b'R';
const UNIQUE: u8 = b'U';
const OUTBOX: u8 = b'O';
const BLOB: u8 = b'B';
const CONFIG: u8 = b'K';

fn config_key(namespace: &str, name: &str) -> Result<Vec<u8>, StoreError> {
    let ok = |s: &str| !s.is_empty() && s.len() <= 200 && !s.contains('\0');
    if !ok(namespace) || !ok(name) {
        return Err(StoreError::Backend(format!("bad configuration name {namespace:?}/{name:?}")));
    }
    Ok(k(CONFIG, &[namespace.as_bytes(), &[0], name.as_bytes()]))
}

fn outbox_key(key: &OutboxKey) -> Vec<u8> {
    k(OUTBOX, &[&key.ticket.0.to_be_bytes(), &key.version.to_be_bytes(), &key.seq.to_be_bytes()])
}

fn k(tag: u8, parts: &[&[u8]]) -> Vec<u8> {
    let mut key = Vec::with_capacity(1 + parts.iter().map(|p| p.len()).sum::<usize>());
    key.push(tag);
    for p in parts {
        key.extend_from_slice(p);
    }
    key
}

fn show(key: &[u8]) -> String {
    key.iter()
        .map(|b| if b.is_ascii_graphic() { (*b as char).to_string() } else { format!("\\x{b:02x}") })
        .collect()
}

fn encode<T: Serialize>(v: &T) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(v).map_err(|e| StoreError::Backend(format!("encoding: {e}")))
}

fn decode<T: DeserializeOwned>(key: &[u8], bytes: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt { key: show(key), reason: e.to_string() })
}

fn u64_of(key: &[u8], bytes: &[u8]) -> Result<u64, StoreError> {
    let b: [u8; 8] = bytes.try_into().map_err(|_| StoreError::Corrupt {
        key: show(key),
        reason: format!("{} bytes, want 8", bytes.len()),
    })?;
    Ok(u64::from_be_bytes(b))
}

/// A [`Store`] over any [`KvEngine`].
#[derive(Debug)]
pub struct KvStore<E: KvEngine> {
    engine: E,
}

impl<E: KvEngine> KvStore<E> {
    /// Wraps an engine.
    pub fn new(engine: E) -> Self {
        KvStore { engine }
    }

    /// The engine.
    pub fn engine(&self) -> &E {
        &self.engine
    }

    fn record_key(kind: RecordKind, id: u64) -> Vec<u8> {
        k(RECORD, &[&[kind.tag()], &id.to_be_bytes()])
    }
}

impl<E: KvEngine> IdSource for KvStore<E> {
    fn next_id(&self, kind: IdKind) -> Result<u64, StoreError> {
        let key = k(SEQUENCE, &[kind.as_str().as_bytes()]);
        let mut out = 0;
        self.engine.transact(&mut |tx| {
            let cur = match tx.get(&key)? {
                Some(b) => u64_of(&key, &b)?,
                None => 0,
            };
            out = cur + 1;
            tx.put(&key, &out.to_be_bytes())
        })?;
        Ok(out)
    }
}

impl<E: KvEngine> Store for KvStore<E> {
    fn ticket(&self, id: TicketId) -> Result<Option<Ticket>, StoreError> {
        let key = k(TICKET, &[&id.0.to_be_bytes()]);
        self.engine.get(&key)?.map(|b| decode(&key, &b)).transpose()
    }

    fn events(&self, id: TicketId) -> Result<Vec<TicketEvent>, StoreError> {
        let prefix = k(EVENT, &[&id.0.to_be_bytes()]);
        self.engine.scan(&prefix, None, usize::MAX)?.iter().map(|(key, v)| decode(key, v)).collect()
    }

    fn commit(&self, c: &Commit) -> Result<(), StoreError> {
        let id = c.ticket.0.to_be_bytes();
        let version_key = k(VERSION, &[&id]);
        let state_key = k(TICKET, &[&id]);
        let state = c.state.as_ref().map(encode).transpose()?;
        let new_version = match &c.state {
            Some(t) => t.version,
            None => c.expected_version,
        };
        if c.state.is_none() && !c.events.is_empty() {
            return Err(StoreError::Backend(format!(
                "malformed commit for ticket {}: a purge cannot append events",
                c.ticket
            )));
        }
        if let Some(t) = &c.state {
            let last = c.events.last().map(|e| e.version).unwrap_or(c.expected_version);
            if t.id != c.ticket || t.version != last || c.events.iter().any(|e| e.ticket != c.ticket) {
                return Err(StoreError::Backend(format!(
                    "malformed commit for ticket {}: state v{} after events ending at v{last}",
                    c.ticket, t.version
                )));
            }
        }
        let events = c
            .events
            .iter()
            .map(|e| Ok((k(EVENT, &[&id, &e.version.to_be_bytes()]), encode(e)?)))
            .collect::<Result<Vec<_>, StoreError>>()?;
        // A purge removes the whole log; find its keys before the transaction
        // (sled transactions cannot scan) and let the version check catch any
        // event appended in between.
        let purge_keys = if c.state.is_none() {
            let mut keys: Vec<Vec<u8>> = self
                .engine
                .scan(&k(EVENT, &[&id]), None, usize::MAX)?
                .into_iter()
                .map(|(key, _)| key)
                .collect();
            keys.extend(
                self.engine.scan(&k(OUTBOX, &[&id]), None, usize::MAX)?.into_iter().map(|(key, _)| key),
            );
            keys
        } else {
            Vec::new()
        };
        let outbox_add = c
            .outbox_add
            .iter()
            .map(|item| {
                if item.key.ticket != c.ticket {
                    return Err(StoreError::Backend(format!(
                        "outbox item {} does not belong to ticket {}",
                        item.key, c.ticket
                    )));
                }
                Ok((outbox_key(&item.key), encode(item)?))
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        let outbox_remove: Vec<Vec<u8>> = c.outbox_remove.iter().map(outbox_key).collect();
        self.engine.transact(&mut |tx| {
            let actual = match tx.get(&version_key)? {
                Some(b) => u64_of(&version_key, &b)?,
                None => 0,
            };
            if actual != c.expected_version {
                return Err(StoreError::Conflict { ticket: c.ticket, expected: c.expected_version, actual });
            }
            match &state {
                Some(s) => {
                    tx.put(&state_key, s)?;
                    tx.put(&version_key, &new_version.to_be_bytes())?;
                }
                None => {
                    tx.delete(&state_key)?;
                    tx.delete(&version_key)?;
                    for key in &purge_keys {
                        tx.delete(key)?;
                    }
                }
            }
            for (key, value) in &events {
                tx.put(key, value)?;
            }
            for ik in &c.index_remove {
                tx.delete(&k(INDEX, &[&ik.0]))?;
            }
            for ik in &c.index_add {
                tx.put(&k(INDEX, &[&ik.0]), &[])?;
            }
            for (key, value) in &outbox_add {
                tx.put(key, value)?;
            }
            for key in &outbox_remove {
                tx.delete(key)?;
            }
            for (ck, delta) in &c.counters {
                let key = k(COUNTER, &[&ck.0]);
                let cur = match tx.get(&key)? {
                    Some(b) => u64_of(&key, &b)? as i64,
                    None => 0,
                };
                tx.put(&key, &((cur + delta) as u64).to_be_bytes())?;
            }
            Ok(())
        })?;
        if c.durability == Durability::Durable {
            self.engine.sync()?;
        }
        Ok(())
    }

    fn scan_index(
        &self,
        prefix: &[u8],
        after: Option<&IndexKey>,
        limit: usize,
    ) -> Result<Vec<IndexKey>, StoreError> {
        let p = k(INDEX, &[prefix]);
        let a = after.map(|a| k(INDEX, &[&a.0]));
        Ok(self
            .engine
            .scan(&p, a.as_deref(), limit)?
            .into_iter()
            .map(|(key, _)| IndexKey(key[1..].to_vec()))
            .collect())
    }

    fn counter(&self, key: &CounterKey) -> Result<i64, StoreError> {
        let key = k(COUNTER, &[&key.0]);
        Ok(match self.engine.get(&key)? {
            Some(b) => u64_of(&key, &b)? as i64,
            None => 0,
        })
    }

    fn last_ticket_id(&self) -> Result<Option<TicketId>, StoreError> {
        match self.engine.last(&[VERSION])? {
            Some((key, _)) => Ok(Some(TicketId(u64_of(&key, &key[1..])?))),
            None => Ok(None),
        }
    }

    fn put_record(&self, record: &Record) -> Result<(), StoreError> {
        let (kind, id) = record.key();
        let key = Self::record_key(kind, id);
        let value = encode(record)?;
        let holder = k(kind.tag(), &[&id.to_be_bytes()]);
        let new_keys = record.unique_keys();
        self.engine.transact(&mut |tx| {
            let old_keys = match tx.get(&key)? {
                Some(b) => decode::<Record>(&key, &b)?.unique_keys(),
                None => Vec::new(),
            };
            for u in &new_keys {
                let ukey = k(UNIQUE, &[u.0.as_bytes()]);
                if let Some(h) = tx.get(&ukey)? {
                    if h != holder {
                        return Err(StoreError::Unique {
                            key: u.0.clone(),
                            holder: describe_holder(&ukey, &h)?,
                        });
                    }
                }
                tx.put(&ukey, &holder)?;
            }
            for u in old_keys.iter().filter(|u| !new_keys.contains(u)) {
                tx.delete(&k(UNIQUE, &[u.0.as_bytes()]))?;
            }
            tx.put(&key, &value)
        })?;
        // Directory changes are rare and acknowledged as done: make them durable.
        self.engine.sync()
    }

    fn record(&self, kind: RecordKind, id: u64) -> Result<Option<Record>, StoreError> {
        let key = Self::record_key(kind, id);
        self.engine.get(&key)?.map(|b| decode(&key, &b)).transpose()
    }

    fn records(&self, kind: RecordKind, after: u64, limit: usize) -> Result<Vec<Record>, StoreError> {
        let prefix = k(RECORD, &[&[kind.tag()]]);
        let after = Self::record_key(kind, after);
        self.engine.scan(&prefix, Some(&after), limit)?.iter().map(|(key, v)| decode(key, v)).collect()
    }

    fn lookup(&self, key: &UniqueKey) -> Result<Option<(RecordKind, u64)>, StoreError> {
        let ukey = k(UNIQUE, &[key.0.as_bytes()]);
        match self.engine.get(&ukey)? {
            Some(h) => Ok(Some(parse_holder(&ukey, &h)?)),
            None => Ok(None),
        }
    }

    fn outbox(&self, after: Option<OutboxKey>, limit: usize) -> Result<Vec<OutboxItem>, StoreError> {
        let after = after.map(|a| outbox_key(&a));
        self.engine.scan(&[OUTBOX], after.as_deref(), limit)?.iter().map(|(key, v)| decode(key, v)).collect()
    }

    fn reschedule(&self, item: &OutboxItem) -> Result<bool, StoreError> {
        let key = outbox_key(&item.key);
        let value = encode(item)?;
        let mut found = false;
        self.engine.transact(&mut |tx| {
            found = tx.get(&key)?.is_some();
            if found {
                tx.put(&key, &value)?;
            }
            Ok(())
        })?;
        Ok(found)
    }

    fn put_blob(&self, id: &str, bytes: &[u8]) -> Result<(), StoreError> {
        let key = k(BLOB, &[id.as_bytes()]);
        self.engine.transact(&mut |tx| {
            if tx.get(&key)?.is_none() {
                tx.put(&key, bytes)?;
            }
            Ok(())
        })
    }

    fn blob(&self, id: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.engine.get(&k(BLOB, &[id.as_bytes()]))
    }

    fn flush(&self) -> Result<(), StoreError> {
        self.engine.sync()
    }

    fn put_config(
        &self,
        namespace: &str,
        name: &str,
        value: Option<&serde_json::Value>,
    ) -> Result<(), StoreError> {
        let key = config_key(namespace, name)?;
        let value = value.map(encode).transpose()?;
        self.engine.transact(&mut |tx| match &value {
            Some(v) => tx.put(&key, v),
            None => tx.delete(&key),
        })?;
        self.engine.sync()
    }

    fn configs(&self, namespace: &str) -> Result<Vec<(String, serde_json::Value)>, StoreError> {
        let prefix = k(CONFIG, &[namespace.as_bytes(), &[0]]);
        self.engine
            .scan(&prefix, None, usize::MAX)?
            .iter()
            .map(|(key, v)| {
                let name = String::from_utf8(key[prefix.len()..].to_vec()).map_err(|_| {
                    StoreError::Corrupt { key: show(key), reason: "name is not UTF-8".into() }
                })?;
                Ok((name, decode(key, v)?))
            })
            .collect()
    }
}

const KINDS: [RecordKind; 11] = [
    RecordKind::User,
    RecordKind::Organisation,
    RecordKind::Usergroup,
    RecordKind::Agent,
    RecordKind::Team,
    RecordKind::Department,
    RecordKind::EmailAccount,
    RecordKind::MailSettings,
    RecordKind::Subscriptions,
    RecordKind::AutoResponses,
    RecordKind::SeenMail,
];

fn parse_holder(key: &[u8], h: &[u8]) -> Result<(RecordKind, u64), StoreError> {
    let corrupt = || StoreError::Corrupt { key: show(key), reason: "bad unique-key holder".into() };
    let (tag, id) = h.split_first().ok_or_else(corrupt)?;
    let kind = KINDS.into_iter().find(|k| k.tag() == *tag).ok_or_else(corrupt)?;
    Ok((kind, u64_of(key, id)?))
}

fn describe_holder(key: &[u8], h: &[u8]) -> Result<String, StoreError> {
    let (kind, id) = parse_holder(key, h)?;
    Ok(format!("{}:{id}", kind.as_str()))
}
