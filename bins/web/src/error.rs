//! Errors as HTTP: status codes and the JSON error body
//! `{"error": "<code>", "message": "<human text>"}` (plus `current_version` on a
//! version conflict, and on a real conflict `conflict`: what changed, see
//! [`ConflictBody`]).

use helpdesk_core::{
    Actor, Aspect, Conflict, ConflictingChange, DirectoryError, StoreError, TicketError, TicketId,
};
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
    /// On a conflict ([`helpdesk_store::Error::Conflict`]): what changed.
    pub conflict: Option<Box<ConflictBody>>,
}

/// The `conflict` member of a 409 body: an action at the version its agent
/// saw was refused because others changed what it depends on since. Nothing
/// was written; a UI shows the changes and keeps the agent's draft.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConflictBody {
    /// The ticket.
    pub ticket: TicketId,
    /// The command refused (`assign_agent`).
    pub command: String,
    /// The version the agent saw (the request's `version`).
    pub expected: u64,
    /// The ticket's current version: send it back to act on what is there now.
    pub actual: u64,
    /// What the command depends on (`[{"aspect": "agent"}]`).
    pub depends_on: Vec<Aspect>,
    /// Every change by someone else to those since `expected`, oldest first.
    pub changes: Vec<ConflictChangeBody>,
}

/// One change in a [`ConflictBody`]: `version`, `at`, `actor` (`{"agent": 2}`,
/// `{"user": 1}`, `{"system": {"kind": "trigger", "name": ...}}`),
/// `actor_name`, `aspect` (and `of` for a label, CC, follower or field key),
/// `from` and `to` as the ticket serialises those values.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConflictChangeBody {
    /// The change.
    #[serde(flatten)]
    pub change: ConflictingChange,
    /// Who made it, for people ("Sam", or `trigger "VIP"` for a rule).
    pub actor_name: String,
}

impl ConflictBody {
    /// For people: `adjust_urgency was not applied: since version 4, Alice
    /// Admin changed urgency (8 -> 7). The ticket is now at version 6.`
    pub fn message(&self) -> String {
        let show = |v: &serde_json::Value| match v {
            serde_json::Value::Null => "none".to_string(),
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let changes: Vec<String> = self
            .changes
            .iter()
            .map(|c| {
                format!(
                    "{} changed {} ({} -> {})",
                    c.actor_name,
                    c.change.aspect,
                    show(&c.change.from),
                    show(&c.change.to)
                )
            })
            .collect();
        format!(
            "{} was not applied: since version {}, {}. The ticket is now at version {}.",
            self.command,
            self.expected,
            changes.join("; "),
            self.actual
        )
    }

    /// The body of `conflict`, naming actors with `name` (falling back to
    /// the actor's id: `agent:2`).
    pub fn new(conflict: &Conflict, name: impl Fn(&Actor) -> Option<String>) -> Self {
        ConflictBody {
            ticket: conflict.ticket,
            command: conflict.command.clone(),
            expected: conflict.expected,
            actual: conflict.actual,
            depends_on: conflict.depends_on.clone(),
            changes: conflict
                .changes
                .iter()
                .map(|c| ConflictChangeBody {
                    actor_name: name(&c.actor).unwrap_or_else(|| c.actor.to_string()),
                    change: c.clone(),
                })
                .collect(),
        }
    }
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
    /// What changed, on a real conflict.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conflict: Option<&'a ConflictBody>,
}

impl ApiError {
    /// An error with a status, code and message.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            current_version: None,
            retry_after: None,
            conflict: None,
        }
    }
    /// 409 for a real conflict, with what changed (see [`ConflictBody`]);
    /// `name` names the actors.
    pub fn conflict(conflict: &Conflict, name: impl Fn(&Actor) -> Option<String>) -> Self {
        let body = ConflictBody::new(conflict, name);
        let mut e = Self::new(StatusCode::CONFLICT, "conflict", body.message());
        e.current_version = Some(conflict.actual);
        e.conflict = Some(Box::new(body));
        e
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
        let body = ErrorBody {
            error: self.code,
            message: &self.message,
            current_version: self.current_version,
            conflict: self.conflict.as_deref(),
        };
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
            NotFound(_) | NoSuchFile { .. } => ApiError::not_found(msg),
            FilesTooLarge(_) => ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "too_large", msg),
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
            Merged { .. } => ApiError::new(StatusCode::CONFLICT, "merged", msg),
            Relation { .. } => ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "refused", msg),
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
            DirectoryError::NotPermitted(_) => ApiError::forbidden(msg),
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
            Error::Rule(e) => e.into(),
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
            Error::Snippet(e) => {
                use helpdesk_core::snippets::SnippetError as S;
                let msg = e.to_string();
                match e {
                    S::NotFound(_) => ApiError::not_found(msg),
                    S::NotYours(_) | S::DepartmentNotAllowed(_) => ApiError::forbidden(msg),
                    S::NameTaken(_) => ApiError::new(StatusCode::CONFLICT, "taken", msg),
                    _ => ApiError::invalid(msg),
                }
            }
            Error::Macro(e) => {
                use helpdesk_core::macros::MacroError as M;
                let msg = e.to_string();
                match e {
                    M::NotFound(_) => ApiError::not_found(msg),
                    M::NotYours(_) | M::DepartmentNotAllowed(_) => ApiError::forbidden(msg),
                    M::NameTaken(_) => ApiError::new(StatusCode::CONFLICT, "taken", msg),
                    M::Refused { .. } => {
                        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "macro_refused", msg)
                    }
                    _ => ApiError::invalid(msg),
                }
            }
            Error::Admin(e) => e.into(),
            Error::Template(e) => {
                use helpdesk_core::templates::TemplateError as T;
                match e {
                    T::UnknownTemplate(_) => ApiError::not_found(e.to_string()),
                    _ => ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_template", e.to_string()),
                }
            }
            Error::Auth(e) => (*e).into(),
            // Actors by id; the agent API names them (`agent::run`).
            Error::Conflict(c) => ApiError::conflict(&c, |_| None),
            Error::VersionAhead { current, .. } => {
                let mut err = ApiError::bad_request(e.to_string());
                err.current_version = Some(current);
                err
            }
        }
    }
}

impl From<helpdesk_core::rule::RuleError> for ApiError {
    fn from(e: helpdesk_core::rule::RuleError) -> Self {
        ApiError::invalid(e.to_string())
    }
}

impl From<helpdesk_core::AdminError> for ApiError {
    fn from(e: helpdesk_core::AdminError) -> Self {
        use helpdesk_core::AdminError as A;
        let msg = e.to_string();
        match e {
            A::NotAdmin(_) => ApiError::new(StatusCode::FORBIDDEN, "not_admin", msg),
            A::InUse { .. } | A::HasTickets { .. } | A::LastAdmin => {
                ApiError::new(StatusCode::CONFLICT, "in_use", msg)
            }
            A::AlreadySetUp => ApiError::new(StatusCode::CONFLICT, "already_set_up", msg),
            A::NoSuchField { .. } | A::NoSuchRule { .. } => ApiError::not_found(msg),
            A::RuleNameTaken { .. } => ApiError::new(StatusCode::CONFLICT, "taken", msg),
            _ => ApiError::invalid(msg),
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
