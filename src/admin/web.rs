//! The editors' web page under `/desk`: server-rendered HTML (maud), no
//! JavaScript build step, Chinese interface text. One file a page: the item
//! list is [`super::list_page`], one item and its actions
//! [`super::item_page`], the audit log [`super::audit_page`], the accounts
//! [`super::accounts_page`], the reports [`super::report_page`]. Logging in
//! and the CSRF check are in [`super::session`], the page frame in
//! [`super::layout`].

use super::Service;
use axum::Router;

/// Every desk page's routes.
pub fn routes() -> Router<Service> {
    Router::new()
        .merge(super::list_page::routes())
        .merge(super::item_page::routes())
        .merge(super::audit_page::routes())
        .merge(super::accounts_page::routes())
        .merge(super::report_page::routes())
}
