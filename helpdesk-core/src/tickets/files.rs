//! Files people attach: what a file is (its type read from its first bytes,
//! never from its name), whether a browser may show it in place, how it is
//! described on screen, and the size limits a message's files keep.
//!
//! ```
//! use helpdesk_core::files::{self, FileLimits};
//! const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";
//! assert_eq!(files::sniff(PNG), "image/png");
//! assert_eq!(files::sniff(b"<!DOCTYPE html><p>hi"), "text/html");
//! assert_eq!(files::sniff("plain words".as_bytes()), "text/plain");
//! assert_eq!(files::sniff(&[0, 159, 146, 150]), "application/octet-stream");
//! assert!(files::shows_inline("image/png") && !files::shows_inline("image/svg+xml"));
//! assert_eq!(files::describe("application/pdf"), "PDF document");
//! assert_eq!(files::human_size(1536), "1.5 KB");
//!
//! let limits = FileLimits { max_file_bytes: 10, max_message_bytes: 15, max_files: 3 };
//! assert!(limits.check(&[("a.txt", 10)]).is_ok());
//! assert!(limits.check(&[("a.txt", 11)]).unwrap_err().to_string().contains("a.txt is 11 bytes"));
//! assert!(limits.check(&[("a", 8), ("b", 8)]).is_err());
//! ```

use crate::error::TicketError;
use crate::ticket::Attachment;

/// Most files one message may carry.
pub const MAX_FILES: usize = 20;

/// The name of the original mail the gateway keeps with each message that
/// arrived by mail (agents only: it carries every header and recipient).
pub const ORIGINAL_MAIL: &str = "original.eml";

/// The content type of `bytes`, read from their first bytes (magic numbers):
/// a known binary or markup format, else `text/plain` for UTF-8 text without
/// NUL bytes, else `application/octet-stream`. The name a file came with is
/// never trusted for this.
pub fn sniff(bytes: &[u8]) -> String {
    if let Some(t) = infer::get(bytes) {
        return t.mime_type().to_string();
    }
    let head = &bytes[..bytes.len().min(64 * 1024)];
    let text = match std::str::from_utf8(head) {
        Ok(s) => Some(s),
        // A multi-byte character cut at the end of the sample is still text.
        Err(e) if e.error_len().is_none() => std::str::from_utf8(&head[..e.valid_up_to()]).ok(),
        Err(_) => None,
    };
    match text {
        Some(s) if !s.contains('\0') => {
            let start = s.trim_start().get(..15).unwrap_or("").to_ascii_lowercase();
            if start.starts_with("<!doctype html") || start.starts_with("<html") {
                "text/html".into()
            } else if start.starts_with("<svg") || (start.starts_with("<?xml") && s.contains("<svg")) {
                "image/svg+xml".into()
            } else {
                "text/plain".into()
            }
        }
        _ => "application/octet-stream".into(),
    }
}

/// Whether a browser may show a file of this type in the page (`<img>`, or
/// opened in place): raster images only. Everything else (SVG and HTML
/// included, which can carry scripts) is downloaded.
pub fn shows_inline(content_type: &str) -> bool {
    matches!(content_type, "image/png" | "image/jpeg" | "image/gif" | "image/webp")
}

/// A short description of a content type for people ("PNG image").
pub fn describe(content_type: &str) -> String {
    let known =
        match content_type {
            "image/png" => "PNG image",
            "image/jpeg" => "JPEG image",
            "image/gif" => "GIF image",
            "image/webp" => "WebP image",
            "image/svg+xml" => "SVG image",
            "application/pdf" => "PDF document",
            "application/zip" => "ZIP archive",
            "application/gzip" => "Gzip archive",
            "text/plain" => "Text",
            "text/html" => "HTML page",
            "message/rfc822" => "Email message",
            "application/msword"
            | "application/vnd.openxmlformats-officedocument.wordprocessingml.document" => "Word document",
            "application/vnd.ms-excel"
            | "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" => "Excel spreadsheet",
            "application/octet-stream" => "File",
            _ => "",
        };
    if !known.is_empty() {
        return known.to_string();
    }
    match content_type.split_once('/') {
        Some(("image", sub)) => format!("{} image", sub.to_ascii_uppercase()),
        Some(("video", _)) => "Video".into(),
        Some(("audio", _)) => "Audio".into(),
        Some((_, sub)) => format!("{} file", sub.trim_start_matches("x-").to_ascii_uppercase()),
        None => "File".into(),
    }
}

/// A size for people: `512 bytes`, `1.5 KB`, `12 MB` (units of 1,024).
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 3] = ["KB", "MB", "GB"];
    if bytes < 1024 {
        return format!("{bytes} bytes");
    }
    let mut v = bytes as f64 / 1024.0;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    if v < 10.0 && v.fract() >= 0.05 {
        format!("{v:.1} {}", UNITS[unit])
    } else {
        format!("{} {}", v.round(), UNITS[unit])
    }
}

/// The sizes a message's files keep (from Admin > Settings).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileLimits {
    /// Largest single file, in bytes.
    pub max_file_bytes: u64,
    /// Largest total of one message's files, in bytes.
    pub max_message_bytes: u64,
    /// Most files on one message.
    pub max_files: usize,
}

impl FileLimits {
    /// Checks files given as (name, size): each within the file limit, all
    /// together within the message limit, not too many. The error names the
    /// first file over and the limit.
    pub fn check(&self, files: &[(&str, u64)]) -> Result<(), TicketError> {
        if files.len() > self.max_files {
            return Err(TicketError::FilesTooLarge(format!(
                "{} files; a message takes at most {}",
                files.len(),
                self.max_files
            )));
        }
        let mut total = 0u64;
        for (name, size) in files {
            if *size > self.max_file_bytes {
                return Err(TicketError::FilesTooLarge(format!(
                    "{name} is {size} bytes ({}); a file may be at most {}",
                    human_size(*size),
                    human_size(self.max_file_bytes)
                )));
            }
            total = total.saturating_add(*size);
        }
        if total > self.max_message_bytes {
            return Err(TicketError::FilesTooLarge(format!(
                "the files come to {}; a message's files may be at most {}",
                human_size(total),
                human_size(self.max_message_bytes)
            )));
        }
        Ok(())
    }
}

impl Attachment {
    /// Whether this is the original mail a message arrived as (kept by the
    /// mail gateway for agents; never shown or sent to users).
    pub fn is_original_mail(&self) -> bool {
        self.filename == ORIGINAL_MAIL && self.content_type == "message/rfc822"
    }
}

/// What a file name becomes when kept: its last path component, control
/// characters and path separators dropped, at most 200 characters (the
/// extension kept); `fallback` when nothing is left.
pub fn clean_filename(name: &str, fallback: &str) -> String {
    let last = name.rsplit(['/', '\\']).next().unwrap_or("");
    let cleaned: String = last.chars().filter(|c| !c.is_control()).collect();
    let cleaned = cleaned.trim().trim_start_matches('.').trim();
    if cleaned.is_empty() {
        return fallback.to_string();
    }
    if cleaned.chars().count() <= 200 {
        return cleaned.to_string();
    }
    let (stem, ext) = match cleaned.rsplit_once('.') {
        Some((s, e)) if e.chars().count() <= 10 => (s, format!(".{e}")),
        _ => (cleaned, String::new()),
    };
    let keep = 200 - ext.chars().count();
    format!("{}{ext}", stem.chars().take(keep).collect::<String>())
}

/// The file name extension usual for `bytes`' type, for files that came
/// without a name (an inline image in a mail, a pasted screenshot).
pub fn extension_for(bytes: &[u8]) -> &'static str {
    if let Some(t) = infer::get(bytes) {
        return t.extension();
    }
    match sniff(bytes).as_str() {
        "text/plain" => "txt",
        "text/html" => "html",
        "image/svg+xml" => "svg",
        _ => "bin",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_come_from_content_not_names() {
        let cases: &[(&[u8], &str)] = &[
            (b"GIF89a\x01\x00\x01\x00", "image/gif"),
            (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00", "image/jpeg"),
            (b"%PDF-1.7\n", "application/pdf"),
            (b"PK\x03\x04\x14\x00\x00\x00", "application/zip"),
            (b"  <html><body>", "text/html"),
            (b"<svg xmlns='http://www.w3.org/2000/svg'/>", "image/svg+xml"),
            ("caf\u{e9}".as_bytes(), "text/plain"),
            (&"\u{e9}".as_bytes()[..1], "text/plain"),
            (b"MZ\x90\x00", "application/vnd.microsoft.portable-executable"),
            (b"a\0b", "application/octet-stream"),
            (b"", "text/plain"),
        ];
        for (bytes, want) in cases {
            assert_eq!(sniff(bytes), *want, "{bytes:?}");
        }
    }

    #[test]
    fn descriptions_and_sizes() {
        assert_eq!(describe("image/bmp"), "BMP image");
        assert_eq!(describe("application/x-tar"), "TAR file");
        assert_eq!(describe("nonsense"), "File");
        assert_eq!(human_size(0), "0 bytes");
        assert_eq!(human_size(10 * 1024 * 1024), "10 MB");
        assert_eq!(human_size(25 * 1024 * 1024 + 1), "25 MB");
        assert_eq!(human_size(1024 * 1024 * 1024 * 3), "3 GB");
    }

    #[test]
    fn names_lose_paths_and_control_characters() {
        assert_eq!(clean_filename("C:\\Users\\ann\\shot.png", "x"), "shot.png");
        assert_eq!(clean_filename("../../etc/passwd", "x"), "passwd");
        assert_eq!(clean_filename("a\u{7}b.txt", "x"), "ab.txt");
        assert_eq!(clean_filename("  ", "pasted.png"), "pasted.png");
        assert_eq!(clean_filename(".hidden", "x"), "hidden");
        let long = format!("{}.pdf", "n".repeat(300));
        let kept = clean_filename(&long, "x");
        assert_eq!((kept.chars().count(), kept.ends_with(".pdf")), (200, true));
        assert_eq!(extension_for(b"\x89PNG\r\n\x1a\n\0"), "png");
        assert_eq!(extension_for(b"words"), "txt");
        assert_eq!(extension_for(b"\0\x01"), "bin");
    }

    #[test]
    fn limits_count_files_and_totals() {
        let l = FileLimits { max_file_bytes: 100, max_message_bytes: 150, max_files: 2 };
        assert!(l.check(&[]).is_ok());
        assert!(l.check(&[("a", 100), ("b", 50)]).is_ok());
        let e = l.check(&[("a", 100), ("b", 51)]).unwrap_err().to_string();
        assert!(e.contains("the files come to 151 bytes"), "{e}");
        let e = l.check(&[("a", 1), ("b", 1), ("c", 1)]).unwrap_err().to_string();
        assert!(e.contains("3 files; a message takes at most 2"), "{e}");
    }
}
