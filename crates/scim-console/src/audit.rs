//! The audit page: the tenant's events, newest first, 50 a page.

use actix_web::{web, HttpResponse};
use scim_auth::admin::AuditRead;
use scim_store::{AuditQuery, Store};

use crate::{
    html::{self, esc, when, Nav},
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
    let mut body = String::new();
    if events.items.is_empty() {
        body.push_str(&format!(r#"<p class="empty">{}</p>"#, T::NoEvents.get(l)));
    } else {
        body.push_str(&format!(
            r#"<div class="table-wrap"><table class="audit"><thead><tr><th scope="col">{}</th><th scope="col">{}</th><th scope="col">{}</th><th scope="col">{}</th><th scope="col">{}</th><th scope="col">{}</th></tr></thead><tbody>"#,
            T::When.get(l),
            T::Actor.get(l),
            T::Action.get(l),
            T::Target.get(l),
            T::Changes.get(l),
            T::Address.get(l),
        ));
        for e in &events.items {
            body.push_str(&format!(
                r#"<tr><td>{}</td><td>{}</td><td><code>{}</code></td><td>{} <code>{}</code></td><td><code class="changes">{}</code></td><td>{}</td></tr>"#,
                when(e.at),
                esc(&e.actor),
                esc(&e.action),
                esc(&e.target_type),
                esc(&e.target_id),
                esc(&e.changes.to_string()),
                esc(e.caller_addr.as_deref().unwrap_or("")),
            ));
        }
        body.push_str("</tbody></table></div>");
    }
    let pages = events.total.div_ceil(PAGE).max(1);
    let mut nav = format!(
        r#"<nav class="pager" aria-label="{}"><span>{} {page} / {pages}</span>"#,
        T::Page.get(l),
        T::Page.get(l)
    );
    if page > 1 {
        nav.push_str(&format!(
            r#" <a href="/console/audit?page={}" rel="prev">{}</a>"#,
            page - 1,
            T::Previous.get(l)
        ));
    }
    if page < pages {
        nav.push_str(&format!(
            r#" <a href="/console/audit?page={}" rel="next">{}</a>"#,
            page + 1,
            T::Next.get(l)
        ));
    }
    nav.push_str("</nav>");
    body.push_str(&nav);
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(html::page(&ctx, Nav::Audit, T::Audit.get(l), None, &body)))
}
