//! Showing message text safely. Message and note bodies are plain text
//! (the mail gateway turns HTML mail into text), so they are escaped, never
//! interpreted: a `<img src=...>` in a mail shows as those characters, not
//! as a remote image, and `Ann <ann@example.com> wrote:` keeps its address.
//! Web and email addresses become links whose text is their real target.

use linkify::{LinkFinder, LinkKind};

fn escape_into(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\n' => out.push_str("<br>"),
            '\r' => {}
            c => out.push(c),
        }
    }
}

/// Plain text as HTML: escaped, line breaks kept, `http(s)` URLs and email
/// addresses linked (the link text is the address itself, so what a reader
/// sees is where it goes; links open in a new tab without a referrer).
///
/// ```
/// use helpdesk_web::text::plain_text_html;
/// assert_eq!(
///     plain_text_html("Ann <ann@example.com> wrote:\n<img src=\"https://t.example/p.gif\">"),
///     "Ann &lt;<a href=\"mailto:ann@example.com\">ann@example.com</a>&gt; wrote:<br>\
///      &lt;img src=&quot;<a href=\"https://t.example/p.gif\" rel=\"noopener noreferrer nofollow\" \
///      target=\"_blank\">https://t.example/p.gif</a>&quot;&gt;"
/// );
/// ```
pub fn plain_text_html(text: &str) -> String {
    let mut finder = LinkFinder::new();
    finder.url_must_have_scheme(true);
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    for span in finder.spans(text) {
        match span.kind() {
            Some(LinkKind::Url)
                if span.as_str().starts_with("https://") || span.as_str().starts_with("http://") =>
            {
                out.push_str("<a href=\"");
                escape_into(&mut out, span.as_str());
                out.push_str("\" rel=\"noopener noreferrer nofollow\" target=\"_blank\">");
                escape_into(&mut out, span.as_str());
                out.push_str("</a>");
            }
            Some(LinkKind::Email) => {
                out.push_str("<a href=\"mailto:");
                escape_into(&mut out, span.as_str());
                out.push_str("\">");
                escape_into(&mut out, span.as_str());
                out.push_str("</a>");
            }
            // Other schemes (javascript:, data:, file:) stay text.
            _ => escape_into(&mut out, span.as_str()),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::plain_text_html;

    #[test]
    fn hostile_and_ordinary_text() {
        let cases = [
            "Hello,\r\nthe printer is on fire.\r\n",
            "<img src=\"https://tracker.example/pixel.gif?u=1\">",
            "<a href=\"https://phish.example/login\">bank.example</a>",
            "X <addr@example.com> wrote:\n> quoted",
            "javascript:alert(1) and data:text/html,<script>alert(1)</script>",
            "see https://example.com/a?b=1&c=2, (or http://example.org/x).",
            "<script>alert('x')</script> & \"quotes\"",
        ];
        let out: Vec<String> = cases.iter().map(|c| format!("{c:?}\n=> {}", plain_text_html(c))).collect();
        insta::assert_snapshot!(out.join("\n\n"));
    }
}
