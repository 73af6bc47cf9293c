//! Files over HTTP: reading a form or JSON request that may carry files
//! (`multipart/form-data`), within Admin > Settings' limits, and answering a
//! download safely.
//!
//! Uploads: a request whose `Content-Length` is over the message limit (plus
//! room for the text fields) is refused with 413 before its body is read; a
//! multipart body is streamed with the file limit on every part and the
//! total on the whole, so a chunked request cannot go over either. Fields
//! with a file name are files, the rest are the form's fields.
//!
//! Downloads: the type the file was kept with (read from its content when
//! uploaded), `X-Content-Type-Options: nosniff`, a sandboxing CSP, and
//! `Content-Disposition: attachment` for everything but raster images.

use crate::error::ApiError;
use crate::{blocking, App};
use bytes::Buf;
use futures_util::StreamExt;
use helpdesk_core::files;
use helpdesk_store::files::{File, NewFile};
use maud::{html, Markup};
use serde::de::DeserializeOwned;
use warp::http::StatusCode;
use warp::reply::Response;
use warp::Filter;

/// Room for a form's text fields and the multipart framing besides its files.
pub const FORM_ROOM: u64 = 512 * 1024;
/// Most text fields a multipart form may have.
const MAX_FIELDS: usize = 200;

/// How a request without files is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plain {
    /// `application/x-www-form-urlencoded` (HTML forms).
    Form,
    /// `application/json` (the API).
    Json,
}

/// A request's fields (as `T`) and its files, or why it was refused (too
/// large, not readable). Handlers decide how to show a refusal (a page keeps
/// the screen; the API answers JSON).
pub type Submitted<T> = Result<(T, Vec<NewFile>), ApiError>;

fn too_large(what: String) -> ApiError {
    ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "too_large", format!("files too large: {what}"))
}

fn body_too_large() -> ApiError {
    ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "too_large", "the request body is too large")
}

/// Reads a request that may carry files: `multipart/form-data`, or `plain`
/// (a form or JSON, up to [`FORM_ROOM`] bytes, no files).
pub fn submitted<T: DeserializeOwned + Send + 'static>(
    app: App,
    plain: Plain,
) -> impl Filter<Extract = (Submitted<T>,), Error = warp::Rejection> + Clone {
    submitted_within(app, plain, FORM_ROOM)
}

/// [`submitted`], with at most `plain_room` bytes for a request without files.
pub fn submitted_within<T: DeserializeOwned + Send + 'static>(
    app: App,
    plain: Plain,
    plain_room: u64,
) -> impl Filter<Extract = (Submitted<T>,), Error = warp::Rejection> + Clone {
    warp::header::optional::<String>("content-type")
        .and(warp::header::optional::<u64>("content-length"))
        .and(warp::body::stream())
        .then(move |ct: Option<String>, len: Option<u64>, body| {
            let app = app.clone();
            async move {
                let limits = {
                    let app = app.clone();
                    blocking(move || Ok(app.helpdesk().file_limits()?)).await?
                };
                let boundary = ct.as_deref().and_then(|c| multer::parse_boundary(c).ok());
                let room = if boundary.is_some() { limits.max_message_bytes + FORM_ROOM } else { plain_room };
                if len.is_some_and(|l| l > room) && boundary.is_none() {
                    return Err(body_too_large());
                }
                if let Some(len) = len.filter(|l| *l > room) {
                    return Err(too_large(format!(
                        "the request is {}; a message's files may be at most {}",
                        files::human_size(len),
                        files::human_size(limits.max_message_bytes)
                    )));
                }
                let stream = body_stream(body);
                match boundary {
                    Some(b) => read_multipart(stream, b, limits, room).await,
                    None => {
                        let bytes = read_all(stream, room).await?;
                        let form = match plain {
                            Plain::Form => serde_urlencoded::from_bytes::<T>(&bytes).map_err(|e| {
                                ApiError::bad_request(format!("the request body is not valid: {e}"))
                            })?,
                            Plain::Json => serde_json::from_slice::<T>(&bytes).map_err(|e| {
                                ApiError::bad_request(format!("the request body is not valid: {e}"))
                            })?,
                        };
                        Ok((form, Vec::new()))
                    }
                }
            }
        })
}

type BodyStream = futures_util::stream::BoxStream<'static, Result<bytes::Bytes, warp::Error>>;

fn body_stream<S, B>(body: S) -> BodyStream
where
    S: futures_util::Stream<Item = Result<B, warp::Error>> + Send + 'static,
    B: Buf + Send,
{
    body.map(|r| r.map(|mut b| b.copy_to_bytes(b.remaining()))).boxed()
}

async fn read_all(mut stream: BodyStream, room: u64) -> Result<Vec<u8>, ApiError> {
    let mut out = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk =
            chunk.map_err(|e| ApiError::bad_request(format!("the request body could not be read: {e}")))?;
        if (out.len() + chunk.len()) as u64 > room {
            return Err(body_too_large());
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

async fn read_multipart<T: DeserializeOwned>(
    stream: BodyStream,
    boundary: String,
    limits: files::FileLimits,
    room: u64,
) -> Submitted<T> {
    let constraints = multer::Constraints::new().size_limit(
        multer::SizeLimit::new().whole_stream(room).per_field(limits.max_file_bytes.max(FORM_ROOM)),
    );
    let mut mp = multer::Multipart::with_constraints(stream, boundary, constraints);
    let mut fields: Vec<(String, String)> = Vec::new();
    let mut files: Vec<NewFile> = Vec::new();
    let refused = |e: multer::Error| match e {
        multer::Error::FieldSizeExceeded { .. } => too_large(format!(
            "a file is over {}, the largest allowed",
            files::human_size(limits.max_file_bytes)
        )),
        multer::Error::StreamSizeExceeded { .. } => too_large(format!(
            "a message's files may be at most {}",
            files::human_size(limits.max_message_bytes)
        )),
        e => ApiError::bad_request(format!("the form could not be read: {e}")),
    };
    while let Some(field) = mp.next_field().await.map_err(refused)? {
        let name = field.name().unwrap_or("").to_string();
        match field.file_name().map(str::to_string) {
            Some(file_name) => {
                let bytes = field.bytes().await.map_err(refused)?;
                if file_name.is_empty() && bytes.is_empty() {
                    continue; // a file input left empty
                }
                if bytes.len() as u64 > limits.max_file_bytes {
                    return Err(too_large(format!(
                        "{file_name} is {}; a file may be at most {}",
                        files::human_size(bytes.len() as u64),
                        files::human_size(limits.max_file_bytes)
                    )));
                }
                files.push(NewFile::new(file_name, bytes.to_vec()));
            }
            None => {
                if fields.len() == MAX_FIELDS {
                    return Err(ApiError::bad_request("the form has too many fields"));
                }
                let text = field.text().await.map_err(refused)?;
                fields.push((name, text));
            }
        }
    }
    let encoded = serde_urlencoded::to_string(&fields).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let form = serde_urlencoded::from_str::<T>(&encoded)
        .map_err(|e| ApiError::bad_request(format!("the request body is not valid: {e}")))?;
    Ok((form, files))
}

/// A file as a download: its kept type, `nosniff`, a CSP that runs nothing,
/// and `attachment` unless it is a raster image a browser may show.
pub fn download(f: File) -> Response {
    let a = &f.attachment;
    let inline = files::shows_inline(&a.content_type);
    let content_type = if a.content_type.starts_with("text/") {
        format!("{}; charset=utf-8", a.content_type)
    } else {
        a.content_type.clone()
    };
    let mut r = Response::new(f.bytes.into());
    let h = r.headers_mut();
    let mut set = |k: &'static str, v: String| {
        if let Ok(v) = v.parse() {
            h.insert(k, v);
        }
    };
    set("content-type", content_type);
    set("content-disposition", disposition(&a.filename, inline));
    set("content-security-policy", "default-src 'none'; sandbox".into());
    set("x-content-type-options", "nosniff".into());
    set("cache-control", "private, max-age=300".into());
    r
}

/// `attachment; filename="…"; filename*=UTF-8''…` (RFC 6266): an ASCII
/// fallback and the exact name percent-encoded.
fn disposition(name: &str, inline: bool) -> String {
    let ascii: String = name
        .chars()
        .map(|c| if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' { c } else { '_' })
        .collect();
    let exact = percent_encoding::utf8_percent_encode(name, percent_encoding::NON_ALPHANUMERIC);
    format!(
        "{}; filename=\"{ascii}\"; filename*=UTF-8''{exact}",
        if inline { "inline" } else { "attachment" }
    )
}

/// The script that adds dropping, pasting and a list of chosen files to
/// every `input[type=file][data-files]` (the workspace and the portal).
pub const FILES_JS: &str = include_str!("../assets/files.js");

/// A file as a post shows it.
#[derive(Debug)]
pub struct ShownFile<'a> {
    /// Where it downloads from (only for those who may see the post).
    pub url: String,
    /// File name.
    pub name: &'a str,
    /// Type, as kept.
    pub content_type: &'a str,
    /// Size in bytes.
    pub size: u64,
}

/// A post's files: raster images as thumbnails that open the image, the
/// rest as download links with their type and size.
pub fn file_list(files: &[ShownFile<'_>]) -> Markup {
    html! {
        @if !files.is_empty() {
            ul.files aria-label="Attachments" {
                @for f in files {
                    li.file {
                        @if files::shows_inline(f.content_type) {
                            a.thumb href=(f.url) target="_blank" rel="noopener" {
                                img src=(f.url) alt=(f.name) loading="lazy";
                            }
                        }
                        a.file-link href=(f.url) download=(f.name) { (f.name) }
                        " "
                        span.file-meta { (files::describe(f.content_type)) ", " (files::human_size(f.size)) }
                    }
                }
            }
        }
    }
}

/// The file picker of a form (`name="file"`, several at once), with the
/// limits for [`FILES_JS`] to check before sending and say in a hint.
pub fn file_input(id: &str, limits: &files::FileLimits) -> Markup {
    let hint = format!(
        "Up to {} each, {} in all; drop or paste them too.",
        files::human_size(limits.max_file_bytes),
        files::human_size(limits.max_message_bytes)
    );
    html! {
        div.attach {
            label for=(id) { "Attach files" }
            input id=(id) type="file" name="file" multiple data-files
                data-max-file=(limits.max_file_bytes) data-max-total=(limits.max_message_bytes) data-max-count=(limits.max_files)
                aria-describedby=(format!("{id}-hint"));
            p.hint id=(format!("{id}-hint")) { (hint) }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dispositions_keep_names_safe() {
        assert_eq!(
            disposition("report \"final\".pdf", false),
            "attachment; filename=\"report _final_.pdf\"; filename*=UTF-8''report%20%22final%22%2Epdf"
        );
        assert!(disposition("café.png", true)
            .starts_with("inline; filename=\"caf_.png\"; filename*=UTF-8''caf%C3%A9%2Epng"));
    }
}
