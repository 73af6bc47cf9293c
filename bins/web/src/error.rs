//! Errors as HTTP: status codes and the JSON error body
//! `{"error": "<code>", "message": "<human text>"}` (plus `current_version` on a
//! version conflict).

use helpdesk_core::{DirectoryError, StoreError, TicketError};
use helpdesk_store::{AuthError, Error};
use serde::Serialize;
use std::convert::Infallible;
use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Rejection, Reply};

/// An error the API answers with.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable machine-readable code (`not_found`, `conflict`, ...).
    pub code: &'static str,
    /// What happened, for people.
    pub message: String,
    /// On a version conflict: the ticket's current version.
    pub current_version: Option<u64>,
    /// Seconds to wait before retrying (rate limits).
    pub retry_after: Option<u64>,
}

/// The JSON body of an error.
#[derive(Debug, Serialize)]
pub struct ErrorBody<'a> {
    /// Stable code.
    pub error: &'a str,
    /// Human text.
    pub message: &'a str,
    /// The current version, on a conflict.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current_version: Option<u64>,
}

impl ApiError {
    /// An error with a status, code and message.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError { status, code, message: message.into(), current_version: None, retry_after: None }
    }
    /// 400.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }
    /// 401.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }
    /// 403.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }
    /// 404 (also for things that exist but the caller may not see, so ids cannot be probed).
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }
    /// 422: well-formed but invalid input.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid", message)
    }
    /// 429.
    pub fn rate_limited(retry_after: u64) -> Self {
        let mut e = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            format!("too many requests; try again in {retry_after} seconds"),
        );
        e.retry_after = Some(retry_after);
        e
    }
    /// 500.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", message)
    }

    /// The error as a JSON response.
    pub fn response(&self) -> Response {
        let body =
            ErrorBody { error: self.code, message: &self.message, current_version: self.current_version };
        let mut r = warp::reply::with_status(warp::reply::json(&body), self.status).into_response();
        if let Some(s) = self.retry_after {
            r.headers_mut().insert("retry-after", s.into());
        }
        r
    }
}

impl warp::reject::Reject for ApiError {}

impl From<TicketError> for ApiError {
    fn from(e: TicketError) -> Self {
        use TicketError::*;
        let msg = e.to_string();
        match e {
            NotFound(_) => ApiError::not_found(msg),
            NotPermitted { .. } | NoDepartmentAccess { .. } | AgentDisabled(_) => ApiError::forbidden(msg),
            UnknownDepartment(_)
            | UnknownUser(_)
            | UnknownAgent(_)
            | UnknownTeam(_)
            | UnknownField { .. } => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "unknown_reference", msg)
            }
            Hidden { .. } | InvalidStatusChange { .. } | NotPurgeable(_) => {
                ApiError::new(StatusCode::CONFLICT, "invalid_state", msg)
            }
            EmptyLog | CorruptLog { .. } => ApiError::internal(msg),
            _ => ApiError::invalid(msg),
        }
    }
}

impl From<DirectoryError> for ApiError {
    fn from(e: DirectoryError) -> Self {
        let msg = e.to_string();
        match e {
            DirectoryError::NotFound(_) => ApiError::not_found(msg),
            DirectoryError::EmailTaken { .. }
            | DirectoryError::DomainTaken { .. }
            | DirectoryError::NameTaken { .. } => ApiError::new(StatusCode::CONFLICT, "taken", msg),
            _ => ApiError::invalid(msg),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        let msg = e.to_string();
        match e {
            StoreError::Conflict { actual, .. } => {
                let mut err = ApiError::new(
                    StatusCode::CONFLICT,
                    "conflict",
                    format!("{msg}; reload the ticket and try again"),
                );
                err.current_version = Some(actual);
                err
            }
            StoreError::Unique { .. } => ApiError::new(StatusCode::CONFLICT, "taken", msg),
            StoreError::Locked { .. } => ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", msg),
            _ => {
                tracing::error!(error = %msg, "storage failure");
                ApiError::internal("the helpdesk could not read or write its data; see the server log")
            }
        }
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        match e {
            Error::Ticket(e) => e.into(),
            Error::Directory(e) => e.into(),
            Error::Store(e) => e.into(),
            Error::Filter(e) => ApiError::bad_request(e.to_string()),
            Error::Rule(e) => ApiError::invalid(e.to_string()),
            Error::Rules(_) => ApiError::invalid(e.to_string()),
            Error::SavedFilter(e) => {
                use helpdesk_core::filters::saved::SavedFilterError as S;
                let msg = e.to_string();
                match e {
                    S::NotFound(_) => ApiError::not_found(msg),
                    S::NotEditable(_) | S::ShareWithEveryone | S::NotInTeam(_) => ApiError::forbidden(msg),
                    S::NameTaken(_) => ApiError::new(StatusCode::CONFLICT, "taken", msg),
                    S::UnknownReference(_) => {
                        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "unknown_reference", msg)
                    }
                    _ => ApiError::invalid(msg),
                }
            }
        }
    }
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::Helpdesk(e) => e.into(),
            AuthError::InvalidToken => ApiError::new(StatusCode::BAD_REQUEST, "invalid_token", e.to_string()),
            e => ApiError::invalid(e.to_string()),
        }
    }
}

/// Turns every rejection into a JSON error with a fitting status.
pub async fn recover(r: Rejection) -> Result<Response, Infallible> {
    use warp::reject::*;
    let e = if let Some(e) = r.find::<ApiError>() {
        e.clone()
    } else if r.is_not_found() {
        ApiError::not_found("no such page or endpoint")
    } else if let Some(e) = r.find::<warp::filters::body::BodyDeserializeError>() {
        ApiError::bad_request(format!("the request body is not valid: {e}"))
    } else if let Some(e) = r.find::<InvalidQuery>() {
        ApiError::bad_request(format!("the query string is not valid: {e}"))
    } else if let Some(e) = r.find::<MissingHeader>() {
        ApiError::bad_request(e.to_string())
    } else if let Some(e) = r.find::<InvalidHeader>() {
        ApiError::bad_request(e.to_string())
    } else if r.find::<PayloadTooLarge>().is_some() {
        ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "too_large", "the request body is too large")
    } else if r.find::<LengthRequired>().is_some() {
        ApiError::new(StatusCode::LENGTH_REQUIRED, "length_required", "a content-length is required")
    } else if r.find::<UnsupportedMediaType>().is_some() {
        ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send application/json (or a form where a form is expected)",
        )
    } else if r.find::<MethodNotAllowed>().is_some() {
        ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", "this method is not allowed here")
    } else if let Some(e) = r.find::<warp::filters::cors::CorsForbidden>() {
        ApiError::forbidden(e.to_string())
    } else {
        tracing::warn!(?r, "unhandled rejection");
        ApiError::internal("unexpected error")
    };
    Ok(e.response())
}
