//! The audit page: the tenant's events, newest first, 50 a page.

use actix_web::{web, HttpResponse};
use scim_auth::admin::AuditRead;
use scim_store::{AuditQuery, Store};

use maud::html;

use crate::{
    html::{self, when, Nav},
    session::{ConsoleError, Ctx},
    text::T,
};

const PAGE: u64 = 50;

/// `GET /console/audit?page=N`.
pub async fn list_events(
    ctx: Ctx,
    store: web::Data<Store>,
    query: web::Query<std::collections::HashMap<String, String>>,
) -> Result<HttpResponse, ConsoleError> {
    ctx.require::<AuditRead>()?;
    let l = ctx.lang;
    let page = query
        .get("page")
        .and_then(|p| p.parse::<u64>().ok())
        // A page whose offset the database could not take is the first page.
        .filter(|p| {
            *p >= 1
                && p.checked_mul(PAGE)
                    .is_some_and(|o| i64::try_from(o).is_ok())
        })
        .unwrap_or(1);
    let events = store
        .list_audit_events(
            &ctx.tenant,
            &AuditQuery {
                offset: (page - 1) * PAGE,
                limit: PAGE,
                ..AuditQuery::default()
            },
        )
        .await
        .map_err(|e| ConsoleError::store(l, e))?;
    let pages = events.total.div_ceil(PAGE).max(1);
    let body = html! {
        @if events.items.is_empty() {
            p.empty { (T::NoEvents.get(l)) }
        } @else {
            div.table-wrap { table.audit {
                thead { tr {
                    th scope="col" { (T::When.get(l)) } th scope="col" { (T::Actor.get(l)) }
                    th scope="col" { (T::Action.get(l)) } th scope="col" { (T::Target.get(l)) }
                    th scope="col" { (T::Changes.get(l)) } th scope="col" { (T::Address.get(l)) }
                } }
                tbody { @for e in &events.items { tr {
                    td { (when(e.at)) }
                    td { (e.actor) }
                    td { code { (e.action) } }
                    td { (e.target_type) " " code { (e.target_id) } }
                    td { code.changes { (e.changes.to_string()) } }
                    td { (e.caller_addr.as_deref().unwrap_or("")) }
                } } }
            } }
        }
        nav.pager aria-label=(T::Page.get(l)) {
            span { (T::Page.get(l)) " " (page) " / " (pages) }
            @if page > 1 {
                " " a href={ "/console/audit?page=" (page - 1) } rel="prev" { (T::Previous.get(l)) }
            }
            @if page < pages {
                " " a href={ "/console/audit?page=" (page + 1) } rel="next" { (T::Next.get(l)) }
            }
        }
    };
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(html::page(&ctx, Nav::Audit, T::Audit.get(l), None, body)))
}
