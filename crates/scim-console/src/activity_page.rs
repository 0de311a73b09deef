//! The "Provisioning activity" page (issue 21, with `tenant.activity:read`): one card per SCIM
//! key or OAuth client (healthy / failing / silent, last success, last failure with a hint),
//! then the log of requests newest first with filters, each row opening the whole record; the
//! log filtered by a resource id is that resource's history.

use std::collections::HashMap;

use actix_web::{web, HttpResponse};
use chrono::{Duration, Utc};
use maud::{html, Markup};
use scim_auth::admin::ActivityRead;
use scim_service::activity::{self, ActivityPolicy, Health, Hint};
use scim_store::{ActivityQuery, ActivityRecord, StatusFilter, Store};

use crate::{
    html::{self, url_enc, when, Nav},
    session::{ConsoleError, Ctx},
    text::{Lang, T},
};

/// Records per page.
const PAGE: u64 = 50;

fn hint_text(hint: Hint) -> T {
    match hint {
        Hint::Uniqueness => T::HintUniqueness,
        Hint::UnknownMember => T::HintUnknownMember,
        Hint::FilterRefused => T::HintFilterRefused,
        Hint::KeyRefused => T::HintKeyRefused,
        Hint::RateLimited => T::HintRateLimited,
        Hint::VersionConflict => T::HintVersionConflict,
        Hint::ClientRefused => T::HintClientRefused,
        Hint::Forbidden => T::HintForbidden,
    }
}

fn health_badge(state: Health, l: Lang) -> Markup {
    let (class, text) = match state {
        Health::Healthy => ("status status-active", T::Healthy),
        Health::Failing => ("status status-expired", T::Failing),
        Health::Silent => ("status status-inactive", T::Silent),
    };
    html! { span class=(class) data-state=(state.as_str()) { span.dot {} (text.get(l)) } }
}

fn status_class(status: u16) -> &'static str {
    match status {
        0..=399 => "code-ok",
        400..=499 => "code-client",
        _ => "code-server",
    }
}

fn record_line(r: &ActivityRecord) -> Markup {
    html! {
        (when(r.time)) " · " span class=(status_class(r.status)) { (r.status) } " · " (r.summary)
    }
}

async fn summary_section(
    ctx: &Ctx,
    store: &Store,
    policy: ActivityPolicy,
) -> Result<Markup, ConsoleError> {
    let l = ctx.lang;
    let summary = activity::summary(store, &ctx.tenant, Utc::now(), policy.silent_after)
        .await
        .map_err(|e| ConsoleError::service(l, e))?;
    Ok(html! {
        @if summary.dropped_day > 0 {
            p.flash.warning role="status" {
                (T::RecordsDropped.get(l).replace("{n}", &summary.dropped_day.to_string()))
            }
        }
        @if summary.actors.is_empty() {
            p.empty { (T::NoScimKeys.get(l)) }
        }
        div.cards {
            @for a in &summary.actors {
                section.card.connection data-actor=(a.actor) {
                    h3 {
                        (a.key_name.as_deref().unwrap_or(&a.actor))
                        @if a.actor_kind == "client" { " " span.sub { "(" (T::OAuthClient.get(l)) " " code { (a.actor) } ")" } }
                        " " (health_badge(a.state, l))
                    }
                    dl {
                        dt { (T::LastHour.get(l)) }
                        dd { (T::Requests.get(l)) " " (a.hour.requests) ", " (T::Errors.get(l)) " " (a.hour.errors) }
                        dt { (T::LastDay.get(l)) }
                        dd {
                            (T::Requests.get(l)) " " (a.day.requests) ", " (T::Errors.get(l)) " " (a.day.errors)
                            @for (status, n) in &a.day.by_status { " · " (status) "×" (n) }
                        }
                        dt { (T::LastSuccessfulRequest.get(l)) }
                        dd { @match &a.last_success { Some(r) => { (record_line(r)) }, None => { "—" } } }
                        @if let Some(r) = &a.last_failure {
                            dt { (T::LastFailure.get(l)) }
                            dd {
                                a href={ "/console/activity/records/" (url_enc(&r.id)) } { (record_line(r)) }
                                @if let Some(d) = &r.detail { br; span.detail { (d) } }
                                @if let Some(h) = activity::hint(r) { p.hint { (hint_text(h).get(l)) } }
                            }
                        }
                    }
                }
            }
        }
    })
}

/// The query of the log, from the page's filters (bad values are ignored, not errors: the
/// form only offers good ones).
fn log_query(q: &HashMap<String, String>, before: Option<String>) -> ActivityQuery {
    let now = Utc::now();
    let since = match q.get("window").map(String::as_str) {
        Some("1h") => Some(now - Duration::hours(1)),
        Some("24h") => Some(now - Duration::hours(24)),
        Some("7d") => Some(now - Duration::days(7)),
        _ => None,
    };
    let status = match q.get("status").map(String::as_str) {
        Some("2xx") => Some(StatusFilter::Class(2)),
        Some("4xx") => Some(StatusFilter::Class(4)),
        Some("5xx") => Some(StatusFilter::Class(5)),
        _ => None,
    };
    let text = |name: &str| {
        q.get(name)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty() && v.len() <= 256 && !v.contains('\0'))
    };
    ActivityQuery {
        since,
        until: None,
        status,
        method: text("method")
            .map(|m| m.to_ascii_uppercase())
            .filter(|m| activity::METHODS.contains(&m.as_str())),
        actor: text("key"),
        resource_id: text("resourceId"),
        scim_type: text("scimType"),
        before,
        limit: PAGE,
    }
}

fn selected(q: &HashMap<String, String>, name: &str, value: &str) -> bool {
    q.get(name).map(String::as_str) == Some(value)
}

fn filters_form(q: &HashMap<String, String>, l: Lang) -> Markup {
    let value = |name: &str| q.get(name).cloned().unwrap_or_default();
    html! {
        form.filters method="get" action="/console/activity" {
            label { (T::Window.get(l)) " "
                select name="window" {
                    option value="" selected[!q.contains_key("window")] { (T::AnyTime.get(l)) }
                    option value="1h" selected[selected(q, "window", "1h")] { (T::Window1h.get(l)) }
                    option value="24h" selected[selected(q, "window", "24h")] { (T::Window24h.get(l)) }
                    option value="7d" selected[selected(q, "window", "7d")] { (T::Window7d.get(l)) }
                }
            }
            " "
            label { (T::StatusColumn.get(l)) " "
                select name="status" {
                    option value="" { (T::AnyStatus.get(l)) }
                    @for s in ["2xx", "4xx", "5xx"] {
                        option value=(s) selected[selected(q, "status", s)] { (s) }
                    }
                }
            }
            " "
            label { (T::Method.get(l)) " "
                select name="method" {
                    option value="" { (T::AnyMethod.get(l)) }
                    @for m in activity::METHODS {
                        option value=(m) selected[selected(q, "method", m)] { (m) }
                    }
                }
            }
            " "
            label { (T::KeyOrClient.get(l)) " " input type="text" name="key" size="14" value=(value("key")); }
            " "
            label { (T::Resource.get(l)) " " input type="text" name="resourceId" size="20" value=(value("resourceId")); }
            " "
            label { "scimType " input type="text" name="scimType" size="12" value=(value("scimType")); }
            " "
            button.btn type="submit" { (T::Filter.get(l)) }
        }
    }
}

/// `GET /console/activity`: the summary cards and the log (`?cursor=` for older records).
pub async fn show_activity(
    ctx: Ctx,
    store: web::Data<Store>,
    policy: Option<web::Data<ActivityPolicy>>,
    query: web::Query<HashMap<String, String>>,
) -> Result<HttpResponse, ConsoleError> {
    ctx.require::<ActivityRead>()?;
    let l = ctx.lang;
    let policy = policy.map(|p| **p).unwrap_or_default();
    let q = query.into_inner();
    let position = match q.get("cursor") {
        Some(c) => store.open_activity_cursor(&ctx.tenant, c).await.ok(),
        None => None,
    };
    let first_page = position.is_none();
    let page = store
        .list_activity(&ctx.tenant, &log_query(&q, position))
        .await
        .map_err(|e| ConsoleError::store(l, e))?;
    let next = match &page.next {
        Some(p) => Some(
            store
                .seal_activity_cursor(&ctx.tenant, p)
                .await
                .map_err(|e| ConsoleError::store(l, e))?,
        ),
        None => None,
    };
    let history = q.get("resourceId").filter(|r| !r.trim().is_empty());
    let summary = if first_page && history.is_none() {
        Some(summary_section(&ctx, &store, policy).await?)
    } else {
        None
    };
    let mut older = q.clone();
    older.remove("cursor");
    let older_query: String = older
        .iter()
        .map(|(k, v)| format!("{}={}&", url_enc(k), url_enc(v)))
        .collect();
    let body = html! {
        @if let Some(s) = summary { (s) }
        @if let Some(id) = history {
            h2 { (T::ResourceHistory.get(l)) " " code { (id) } }
            p { a href="/console/activity" { (T::AllActivity.get(l)) } }
        } @else {
            h2 { (T::RequestLog.get(l)) }
        }
        (filters_form(&q, l))
        @if page.records.is_empty() {
            p.empty { (T::NoActivity.get(l)) }
        } @else {
            div.table-wrap { table.activity {
                thead { tr {
                    th scope="col" { (T::When.get(l)) } th scope="col" { (T::KeyOrClient.get(l)) }
                    th scope="col" { (T::Request.get(l)) } th scope="col" { (T::StatusColumn.get(l)) }
                    th scope="col" { (T::WhatHappened.get(l)) } th scope="col" { (T::Latency.get(l)) }
                } }
                tbody { @for r in &page.records { tr data-status=(r.status) {
                    td { a href={ "/console/activity/records/" (url_enc(&r.id)) } { (when(r.time)) } }
                    td { (r.actor) " " span.sub { (r.identity_provider) } }
                    td { code { (r.method) " " (r.path) } }
                    td { span class=(status_class(r.status)) { (r.status) }
                         @if let Some(t) = &r.scim_type { " " code { (t) } } }
                    td { (r.summary)
                         @if let Some(d) = &r.detail { br; span.detail { (d) } } }
                    td { (r.latency_ms) " ms" }
                } } }
            } }
        }
        nav.pager aria-label=(T::Page.get(l)) {
            @if !first_page { a href={ "/console/activity?" (older_query) } { (T::First.get(l)) } " " }
            @if let Some(c) = next {
                a href={ "/console/activity?" (older_query) "cursor=" (url_enc(&c)) } rel="next" { (T::Older.get(l)) }
            }
        }
    };
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(html::page(
            &ctx,
            Nav::Activity,
            T::ProvisioningActivity.get(l),
            None,
            body,
        )))
}

/// `GET /console/activity/records/{id}`: one record whole, with its hint and kept body.
pub async fn show_record(
    ctx: Ctx,
    store: web::Data<Store>,
    path: web::Path<String>,
) -> Result<HttpResponse, ConsoleError> {
    ctx.require::<ActivityRead>()?;
    let l = ctx.lang;
    let (r, body) = store
        .get_activity_record(&ctx.tenant, &path)
        .await
        .map_err(|e| ConsoleError::store(l, e))?;
    let hint = activity::hint(&r);
    let page = html! {
        p { a href="/console/activity" { "← " (T::ProvisioningActivity.get(l)) } }
        @if let Some(h) = hint {
            section.card.hint-card {
                h2 { (T::WhatToDo.get(l)) }
                p.hint data-hint=(h.code()) { (hint_text(h).get(l)) }
            }
        }
        section.card {
            dl.record {
                dt { (T::When.get(l)) } dd { (when(r.time)) }
                dt { (T::KeyOrClient.get(l)) } dd { (r.actor) " (" (r.actor_kind) ")" }
                dt { (T::IdentityProvider.get(l)) } dd { (r.identity_provider) }
                dt { (T::Request.get(l)) } dd { code { (r.method) " " (r.path) } }
                @if let Some(f) = &r.filter { dt { "filter" } dd { code { (f) } } }
                dt { (T::StatusColumn.get(l)) } dd { span class=(status_class(r.status)) { (r.status) }
                    @if let Some(t) = &r.scim_type { " " code { (t) } } }
                @if let Some(d) = &r.detail { dt { (T::Detail.get(l)) } dd { (d) } }
                dt { (T::WhatHappened.get(l)) } dd { (r.summary) }
                @if !r.attributes.is_empty() {
                    dt { (T::Attributes.get(l)) } dd { code { (r.attributes.join(", ")) } }
                }
                dt { (T::Latency.get(l)) } dd { (r.latency_ms) " ms" }
                @if let Some(id) = &r.request_id { dt { "X-Request-Id" } dd { code { (id) } } }
                @if let Some(id) = &r.resource_id {
                    dt { (T::Resource.get(l)) }
                    dd {
                        (r.resource_type.as_deref().unwrap_or("")) " " code { (id) } " · "
                        a href={ "/console/activity?resourceId=" (url_enc(id)) } { (T::ResourceHistory.get(l)) }
                    }
                }
            }
            @if let Some(b) = body {
                h3 { (T::RequestBody.get(l)) }
                pre.body { (b) }
            }
        }
    };
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(html::page(
            &ctx,
            Nav::Activity,
            T::ProvisioningActivity.get(l),
            None,
            page,
        )))
}
