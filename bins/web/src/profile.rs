//! The agent's profile menu over JSON: their preferences (signature, time
//! zone) at `/api/agent/preferences`, and `POST /api/agent/password` to
//! change their password (the current one is checked; every other session
//! of the agent ends). Notification preferences are
//! `/api/agent/subscriptions` (in [`crate::agent`]).

use crate::agent::MAX_JSON;
use crate::auth::{agent_auth, AgentCtx, Via};
use crate::error::ApiError;
use crate::{blocking, respond, with_app, App};
use helpdesk_core::people::preferences::AgentPreferences;
use helpdesk_core::Principal;
use helpdesk_store::AuthError;
use serde::Deserialize;
use std::convert::Infallible;
use warp::filters::BoxedFilter;
use warp::http::StatusCode;
use warp::reply::Response;
use warp::Filter;

/// `PUT /api/agent/preferences`: the caller's own settings, whole.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PreferencesRequest {
    /// Put under replies by the composer (plain text; empty: none).
    #[serde(default)]
    pub signature: String,
    /// IANA time zone; absent or empty: the browser's.
    #[serde(default)]
    pub time_zone: Option<String>,
}

/// `POST /api/agent/password`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordRequest {
    /// The current password.
    pub current: String,
    /// The new one.
    pub new: String,
}

/// Changes the caller's password; ends their other sessions.
pub fn change_password(app: &App, ctx: &AgentCtx, req: PasswordRequest) -> Result<usize, ApiError> {
    app.check_login(format!("password:{}", ctx.agent.id))?;
    match app.helpdesk().change_agent_password(ctx.agent.id, &req.current, &req.new) {
        Ok(()) => {}
        Err(e @ AuthError::WrongPassword) => {
            return Err(ApiError::new(StatusCode::FORBIDDEN, "wrong_password", e.to_string()))
        }
        Err(e) => return Err(e.into()),
    }
    let keep = match &ctx.via {
        Via::Session(token) => Some(token.as_str()),
        _ => None,
    };
    let ended = app.sessions().end_others(Principal::Agent(ctx.agent.id), keep);
    tracing::info!(agent = %ctx.agent.id, ended, "agent changed their password");
    Ok(ended)
}

/// The routes, without error recovery.
pub fn routes(app: App) -> BoxedFilter<(Response,)> {
    use warp::path;
    let auth = || agent_auth(app.clone());
    let a = || with_app(app.clone());

    let get = path!("api" / "agent" / "preferences")
        .and(warp::get())
        .and(a())
        .and(auth())
        .and_then(|app: App, ctx: AgentCtx| async move {
            let r = blocking(move || Ok(app.helpdesk().agent_preferences(ctx.agent.id)?)).await;
            Ok::<_, Infallible>(respond(r))
        })
        .boxed();
    let put = path!("api" / "agent" / "preferences")
        .and(warp::put())
        .and(a())
        .and(auth())
        .and(warp::body::content_length_limit(MAX_JSON).and(warp::body::json()))
        .and_then(|app: App, ctx: AgentCtx, req: PreferencesRequest| async move {
            let r = blocking(move || {
                let prefs = AgentPreferences {
                    agent: ctx.agent.id,
                    signature: req.signature,
                    time_zone: req.time_zone,
                };
                Ok(app.helpdesk().set_agent_preferences(prefs)?)
            })
            .await;
            Ok::<_, Infallible>(respond(r))
        })
        .boxed();
    let password = path!("api" / "agent" / "password")
        .and(warp::post())
        .and(a())
        .and(auth())
        .and(warp::body::content_length_limit(MAX_JSON).and(warp::body::json()))
        .and_then(|app: App, ctx: AgentCtx, req: PasswordRequest| async move {
            let r = blocking(move || change_password(&app, &ctx, req)).await;
            Ok::<_, Infallible>(match r {
                Ok(ended) => respond(Ok::<_, ApiError>(
                    serde_json::json!({"changed": true, "other_sessions_ended": ended}),
                )),
                Err(e) => e.response(),
            })
        })
        .boxed();
    get.or(put).unify().or(password).unify().boxed()
}
