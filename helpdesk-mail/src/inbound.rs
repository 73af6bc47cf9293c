//! Parsing incoming mail: raw RFC 5322 bytes to a [`ParsedMail`] with
//! [mail-parser](https://docs.rs/mail-parser). Charsets are decoded (the
//! `full_encoding` feature covers Shift_JIS, GB 18030, ...), HTML-only mail is
//! converted to text, attachments are kept with their bytes.

use crate::error::MailError;
use mail_parser::{Address, HeaderValue, MessageParser, MimeHeaders};
use serde::Serialize;

/// The largest mail the gateway takes (25 MiB, what common providers send).
pub const MAX_MAIL_BYTES: usize = 25 * 1024 * 1024;

/// A name and address as written in a header (the address is not yet validated).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Mailbox {
    /// Display name.
    pub name: Option<String>,
    /// Address.
    pub address: String,
}

/// An attachment of an incoming mail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ParsedAttachment {
    /// File name (sanitised: no path separators; invented when absent).
    pub filename: String,
    /// MIME type, `type/subtype`.
    pub content_type: String,
    /// The decoded bytes.
    #[serde(skip)]
    pub bytes: Vec<u8>,
}

/// What the gateway needs of an incoming mail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ParsedMail {
    /// The first `From` mailbox.
    pub from: Option<Mailbox>,
    /// `To` mailboxes.
    pub to: Vec<Mailbox>,
    /// `Cc` mailboxes.
    pub cc: Vec<Mailbox>,
    /// Other addresses the mail was delivered to (`Delivered-To`, `X-Original-To`).
    pub delivered_to: Vec<String>,
    /// Subject (decoded; empty when absent).
    pub subject: String,
    /// `Message-ID`, with angle brackets.
    pub message_id: Option<String>,
    /// `In-Reply-To` then `References` ids, with angle brackets.
    pub references: Vec<String>,
    /// Every header field (name, unfolded raw value), for loop detection.
    #[serde(skip)]
    pub headers: Vec<(String, String)>,
    /// The top-level content type (`multipart/report; report-type=delivery-status`).
    pub content_type: String,
    /// The text of the message: the first text part, or the first HTML part
    /// converted to text.
    pub text: String,
    /// Whether the text came from HTML (no plain-text part).
    pub from_html: bool,
    /// Attachments.
    pub attachments: Vec<ParsedAttachment>,
}

fn mailboxes(a: Option<&Address<'_>>) -> Vec<Mailbox> {
    let Some(a) = a else { return Vec::new() };
    a.iter()
        .filter_map(|addr| {
            let address = addr.address()?.trim().to_string();
            (!address.is_empty()).then(|| Mailbox {
                name: addr.name().map(|n| n.trim().to_string()).filter(|n| !n.is_empty()),
                address,
            })
        })
        .collect()
}

fn ids(v: &HeaderValue<'_>) -> Vec<String> {
    let bracket = |s: &str| {
        let s = s.trim();
        if s.starts_with('<') {
            s.to_string()
        } else {
            format!("<{s}>")
        }
    };
    match v {
        HeaderValue::Text(t) => vec![bracket(t)],
        HeaderValue::TextList(l) => l.iter().map(|t| bracket(t)).collect(),
        _ => Vec::new(),
    }
}

/// A file name safe to keep: the last path component, no control characters,
/// at most 200 characters; `fallback` when nothing is left.
pub fn safe_filename(name: Option<&str>, fallback: &str) -> String {
    let base = name.unwrap_or("").rsplit(['/', '\\']).next().unwrap_or("");
    let clean: String = base.chars().filter(|c| !c.is_control()).take(200).collect();
    let clean = clean.trim().trim_start_matches('.').to_string();
    if clean.is_empty() {
        fallback.to_string()
    } else {
        clean
    }
}

/// HTML to plain text: block ends (`</p>`, `</li>`, `<br>`, ...) become line
/// breaks, list items get a dash, then mail-parser's converter drops the tags,
/// scripts and styles and decodes entities. Sanitising HTML for display is
/// not done here (the text is what is kept).
pub fn html_to_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let lower = html.to_ascii_lowercase();
    let mut i = 0;
    while let Some(off) = lower[i..].find('<') {
        let at = i + off;
        out.push_str(&html[i..at]);
        let tag = &lower[at..];
        let name: String = tag[1..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '/').collect();
        match name.as_str() {
            "li" => out.push_str("<br>- "),
            "/p" | "/div" | "/li" | "/tr" | "/h1" | "/h2" | "/h3" | "/h4" | "/h5" | "/h6" | "/ul" | "/ol"
            | "/table" | "/blockquote" => out.push_str("<br>"),
            _ => {}
        }
        out.push('<');
        i = at + 1;
    }
    out.push_str(&html[i..]);
    let text = mail_parser::decoders::html::html_to_text(&out);
    // Collapse runs of blank lines and trailing spaces.
    let mut lines: Vec<&str> = Vec::new();
    for l in text.lines().map(str::trim) {
        if l.trim().is_empty() && lines.last().is_none_or(|p| p.trim().is_empty()) {
            continue;
        }
        lines.push(l);
    }
    lines.join("\n").trim().to_string()
}

fn unfold(v: &str) -> String {
    v.split(['\r', '\n']).map(str::trim).filter(|s| !s.is_empty()).collect::<Vec<_>>().join(" ")
}

impl ParsedMail {
    /// Parses raw bytes. Refuses, with the reason, what is not a message:
    /// empty or oversized input, no header fields, or no body structure.
    /// Never panics, whatever the bytes.
    pub fn parse(raw: &[u8]) -> Result<ParsedMail, MailError> {
        if raw.len() > MAX_MAIL_BYTES {
            return Err(MailError::TooLarge { size: raw.len(), limit: MAX_MAIL_BYTES });
        }
        if raw.iter().all(|b| b.is_ascii_whitespace()) {
            return Err(MailError::Malformed("the mail is empty".into()));
        }
        // A message starts with a header field: `Name:` with printable ASCII name.
        let first_line = raw.split(|b| *b == b'\n').next().unwrap_or(&[]);
        let header_start = first_line
            .iter()
            .position(|b| *b == b':')
            .is_some_and(|i| i > 0 && first_line[..i].iter().all(|b| b.is_ascii_graphic() && *b != b':'));
        let mbox_from = first_line.starts_with(b"From ");
        if !header_start && !mbox_from {
            return Err(MailError::Malformed(
                "it does not start with a header field (\"Name: value\")".into(),
            ));
        }
        let msg = MessageParser::default()
            .parse(raw)
            .ok_or_else(|| MailError::Malformed("not an RFC 5322 message".into()))?;
        if msg.headers().is_empty() {
            return Err(MailError::Malformed("no header fields".into()));
        }
        let headers: Vec<(String, String)> =
            msg.headers_raw().map(|(n, v)| (n.to_string(), unfold(v))).collect();
        let content_type = match msg.content_type() {
            Some(ct) => {
                let mut s = ct.ctype().to_ascii_lowercase();
                if let Some(sub) = ct.subtype() {
                    s = format!("{s}/{}", sub.to_ascii_lowercase());
                }
                if let Some(rt) = ct.attribute("report-type") {
                    s = format!("{s}; report-type={rt}");
                }
                s
            }
            None => "text/plain".to_string(),
        };
        let from_html = msg.text_body_count() > 0
            && msg.text_bodies().next().is_some_and(|p| p.is_text_html())
            && !msg.text_bodies().any(|p| p.is_text() && !p.is_text_html());
        let text = if from_html {
            msg.body_html(0).map(|h| html_to_text(&h)).unwrap_or_default()
        } else {
            msg.body_text(0).map(|t| t.into_owned()).unwrap_or_default()
        };
        let text = text.replace("\r\n", "\n").replace('\r', "\n");
        let mut attachments = Vec::new();
        for (i, part) in msg.attachments().enumerate() {
            let ct = part
                .content_type()
                .map(|c| match c.subtype() {
                    Some(sub) => format!("{}/{}", c.ctype(), sub),
                    None => format!("{}/octet-stream", c.ctype()),
                })
                .unwrap_or_else(|| "application/octet-stream".into())
                .to_ascii_lowercase();
            let ct = if ct.contains(char::is_whitespace) { "application/octet-stream".into() } else { ct };
            // A part without a name (an inline image) is named by its content.
            let ext = if ct == "message/rfc822" {
                "eml"
            } else {
                helpdesk_core::files::extension_for(part.contents())
            };
            attachments.push(ParsedAttachment {
                filename: safe_filename(part.attachment_name(), &format!("attachment-{}.{ext}", i + 1)),
                content_type: ct,
                bytes: part.contents().to_vec(),
            });
        }
        let mut references = ids(msg.in_reply_to());
        references.extend(ids(msg.references()));
        let mut delivered_to = Vec::new();
        for (n, v) in &headers {
            let n = n.to_ascii_lowercase();
            if n == "delivered-to" || n == "x-original-to" || n == "envelope-to" {
                delivered_to.push(v.trim().trim_matches(['<', '>']).to_string());
            }
        }
        Ok(ParsedMail {
            from: mailboxes(msg.from()).into_iter().next(),
            to: mailboxes(msg.to()),
            cc: mailboxes(msg.cc()),
            delivered_to,
            subject: msg.subject().map(unfold).unwrap_or_default(),
            message_id: msg.message_id().map(|m| format!("<{}>", m.trim_matches(['<', '>']))),
            references,
            headers,
            content_type,
            text,
            from_html,
            attachments,
        })
    }

    /// The value of a header (first occurrence, any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_what_is_not_mail() {
        for raw in [
            &b""[..],
            b"   \r\n",
            b"hello world, no headers here\r\n",
            b"\x00\x01\x02",
            b": no name\r\n\r\nx",
        ] {
            assert!(matches!(ParsedMail::parse(raw), Err(MailError::Malformed(_))), "{raw:?}");
        }
    }

    #[test]
    fn file_names_lose_their_paths() {
        assert_eq!(safe_filename(Some("../../etc/passwd"), "f"), "passwd");
        assert_eq!(safe_filename(Some("C:\\x\\a.pdf"), "f"), "a.pdf");
        assert_eq!(safe_filename(Some(".."), "f"), "f");
        assert_eq!(safe_filename(None, "f"), "f");
    }
}
