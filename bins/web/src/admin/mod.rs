//! The Admin app: the admin JSON API ([`api`]), the Admin screens in the
//! agent interface ([`pages`]) and the first-run setup with the
//! set-password page of invitations ([`setup`]). Every change goes through
//! the library's admin handle ([`helpdesk_store::Admin`]): checked, applied
//! and written with its audit entry at once; nothing here writes the store.

pub mod api;
mod labels;
mod mail;
pub mod pages;
pub mod rules;
pub mod setup;
pub mod templates;
mod users;

use crate::App;
use warp::filters::BoxedFilter;
use warp::reply::Response;
use warp::Filter;

/// The Admin app's routes (API, screens, setup), without error recovery.
pub fn routes(app: App) -> BoxedFilter<(Response,)> {
    api::routes(app.clone()).or(pages::routes(app.clone())).unify().or(setup::routes(app)).unify().boxed()
}
