//! The little-endian byte writer and reader behind the compact binary forms
//! stores keep ([`TicketSummary::encode`](crate::TicketSummary::encode), the
//! store's outbox groups): fixed-width integers, length-prefixed strings,
//! times as seconds (i64) and nanoseconds (u32), options behind a 0/1 tag.
//! Reading never panics: short or malformed input is an `Err` saying what.
//!
//! ```
//! use helpdesk_core::bytes::{Reader, Writer};
//! let t = chrono::DateTime::from_timestamp(1_700_000_000, 5).unwrap();
//! let mut w = Writer::with_capacity(32);
//! w.u8(7);
//! w.str("hi");
//! w.opt(Some(9));
//! w.opt_time(Some(t));
//! let bytes = w.into_bytes();
//! let mut r = Reader::new(&bytes);
//! assert_eq!((r.u8(), r.str(), r.opt(), r.opt_time()), (Ok(7), Ok("hi".into()), Ok(Some(9)), Ok(Some(t))));
//! assert!(r.is_empty());
//! assert!(Reader::new(&bytes[..3]).u64().is_err());
//! ```

use chrono::{DateTime, Utc};

/// What a [`Reader`] answers: the value, or what is wrong with the bytes.
pub type Res<T> = Result<T, String>;

/// Appends values to a byte vector.
#[derive(Debug, Default)]
pub struct Writer(Vec<u8>);

impl Writer {
    /// An empty writer with room for `n` bytes.
    pub fn with_capacity(n: usize) -> Self {
        Writer(Vec::with_capacity(n))
    }
    /// The bytes written.
    pub fn into_bytes(self) -> Vec<u8> {
        self.0
    }
    /// One byte.
    pub fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    /// Four bytes.
    pub fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    /// Eight bytes.
    pub fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    /// A tag byte, then the value when there is one.
    pub fn opt(&mut self, v: Option<u64>) {
        match v {
            Some(v) => {
                self.u8(1);
                self.u64(v);
            }
            None => self.u8(0),
        }
    }
    /// Seconds since the epoch, then nanoseconds.
    pub fn time(&mut self, t: DateTime<Utc>) {
        self.u64(t.timestamp() as u64);
        self.u32(t.timestamp_subsec_nanos());
    }
    /// A tag byte, then the time when there is one.
    pub fn opt_time(&mut self, t: Option<DateTime<Utc>>) {
        match t {
            Some(t) => {
                self.u8(1);
                self.time(t);
            }
            None => self.u8(0),
        }
    }
    /// The length (u32), then the UTF-8 bytes.
    pub fn str(&mut self, s: &str) {
        self.u32(s.len() as u32);
        self.0.extend_from_slice(s.as_bytes());
    }
    /// A tag byte, then the string when there is one.
    pub fn opt_str(&mut self, s: Option<&str>) {
        match s {
            Some(s) => {
                self.u8(1);
                self.str(s);
            }
            None => self.u8(0),
        }
    }
}

/// Reads what a [`Writer`] wrote, front to back.
#[derive(Debug)]
pub struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    /// A reader over `bytes`.
    pub fn new(bytes: &'a [u8]) -> Self {
        Reader(bytes)
    }
    /// Bytes not read yet.
    pub fn remaining(&self) -> usize {
        self.0.len()
    }
    /// Whether everything was read.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    /// The next `n` bytes.
    pub fn take(&mut self, n: usize) -> Res<&'a [u8]> {
        if self.0.len() < n {
            return Err(format!("truncated: wanted {n} bytes, {} left", self.0.len()));
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Ok(a)
    }
    /// One byte.
    pub fn u8(&mut self) -> Res<u8> {
        Ok(self.take(1)?[0])
    }
    /// Four bytes.
    pub fn u32(&mut self) -> Res<u32> {
        Ok(u32::from_le_bytes(self.take(4)?.try_into().map_err(|_| "u32")?))
    }
    /// Eight bytes.
    pub fn u64(&mut self) -> Res<u64> {
        Ok(u64::from_le_bytes(self.take(8)?.try_into().map_err(|_| "u64")?))
    }
    fn tagged<T>(&mut self, read: impl FnOnce(&mut Self) -> Res<T>) -> Res<Option<T>> {
        match self.u8()? {
            0 => Ok(None),
            1 => Ok(Some(read(self)?)),
            b => Err(format!("bad option tag {b}")),
        }
    }
    /// What [`Writer::opt`] wrote.
    pub fn opt(&mut self) -> Res<Option<u64>> {
        self.tagged(Self::u64)
    }
    /// What [`Writer::time`] wrote.
    pub fn time(&mut self) -> Res<DateTime<Utc>> {
        let (secs, nanos) = (self.u64()? as i64, self.u32()?);
        DateTime::from_timestamp(secs, nanos).ok_or_else(|| format!("time out of range: {secs}.{nanos}"))
    }
    /// What [`Writer::opt_time`] wrote.
    pub fn opt_time(&mut self) -> Res<Option<DateTime<Utc>>> {
        self.tagged(Self::time)
    }
    /// What [`Writer::str`] wrote.
    pub fn str(&mut self) -> Res<String> {
        let n = self.u32()? as usize;
        String::from_utf8(self.take(n)?.to_vec()).map_err(|e| e.to_string())
    }
    /// What [`Writer::opt_str`] wrote.
    pub fn opt_str(&mut self) -> Res<Option<String>> {
        self.tagged(Self::str)
    }
}
