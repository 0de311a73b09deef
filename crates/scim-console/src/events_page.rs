//! The "Events" page (issue 20): the tenant's webhook endpoints with their health and latest
//! attempts (with `tenant.webhooks:read`), a test delivery and "send again" for each (with
//! `tenant.webhooks:write`), the RFC 9967 event streams, then the most recent provisioning
//! events, newest first (with `tenant.events:read`). Endpoints and streams are registered
//! through the admin API or the CLI.

use std::collections::HashMap;

use actix_web::{http::header, web, HttpResponse};
use chrono::{Duration, Utc};
use maud::{html, Markup};
use scim_auth::admin::{EventsRead, WebhooksWrite};
use scim_service::webhooks::ResendRequest;
use scim_service::webhooks::WebhookState;
use scim_store::{Store, Webhook};

use crate::{
    html::{self, csrf_input, url_enc, when, Nav},
    session::{ConsoleError, Ctx, Posted},
    text::{Lang, T},
};

/// Events shown.
const RECENT: u64 = 50;
/// Attempts shown per endpoint.
const ATTEMPTS: u64 = 5;

fn state_text(w: &Webhook, l: Lang) -> (&'static str, &'static str) {
    match WebhookState::of(w, Utc::now()) {
        WebhookState::Disabled => ("status status-inactive", T::WebhookDisabled.get(l)),
        WebhookState::Failing => ("status status-expired", T::WebhookFailing.get(l)),
        WebhookState::Retrying => ("status status-revoked", T::WebhookRetrying.get(l)),
        WebhookState::Healthy => ("status status-active", T::WebhookHealthy.get(l)),
    }
}

async fn webhooks_section(ctx: &Ctx, store: &Store) -> Result<Markup, ConsoleError> {
    let l = ctx.lang;
    let endpoints = store
        .list_webhooks(&ctx.tenant)
        .await
        .map_err(|e| ConsoleError::store(l, e))?;
    let mut attempts = Vec::with_capacity(endpoints.len());
    for w in &endpoints {
        attempts.push(
            store
                .list_webhook_attempts(&ctx.tenant, &w.id, ATTEMPTS)
                .await
                .map_err(|e| ConsoleError::store(l, e))?,
        );
    }
    Ok(html! {
        h2 { (T::Webhooks.get(l)) }
        @if endpoints.is_empty() {
            p.empty { (T::NoWebhooks.get(l)) }
        }
        @for (w, tries) in endpoints.iter().zip(&attempts) {
            @let (class, state) = state_text(w, l);
            section.card.webhook {
                h3 { code { (w.url) } " " span class=(class) { span.dot {} (state) } }
                dl {
                    dt { (T::EventTypes.get(l)) } dd { (w.event_types.join(", ")) }
                    dt { (T::LastSuccess.get(l)) }
                    dd { (w.last_success_at.map(when).unwrap_or_else(|| "—".into())) }
                    @if let Some(error) = &w.last_error {
                        dt { (T::LastError.get(l)) } dd { (error) }
                        dt { (T::NextAttempt.get(l)) } dd { (when(w.next_attempt_at)) }
                    }
                }
                @if ctx.may(scim_auth::WEBHOOKS_WRITE) {
                    div.buttons {
                        form.inline method="post" action={ "/console/events/webhooks/" (url_enc(&w.id)) "/test" } {
                            (csrf_input(ctx))
                            button.btn type="submit" { (T::SendTestEvent.get(l)) }
                        }
                        " "
                        form.inline method="post" action={ "/console/events/webhooks/" (url_enc(&w.id)) "/resend" } {
                            (csrf_input(ctx))
                            label for={ "resend-" (w.id) } { (T::SendAgainLast.get(l)) } " "
                            select name="window" id={ "resend-" (w.id) } {
                                option value="1" { (T::Window1h.get(l)) }
                                option value="24" { (T::Window24h.get(l)) }
                                option value="168" { (T::Window7d.get(l)) }
                            }
                            " "
                            button.btn type="submit" { (T::SendAgain.get(l)) }
                        }
                    }
                }
                @if !tries.is_empty() {
                    div.table-wrap { table.attempts {
                        thead { tr {
                            th scope="col" { (T::When.get(l)) } th scope="col" { (T::Sequence.get(l)) }
                            th scope="col" { (T::Status.get(l)) } th scope="col" { (T::Latency.get(l)) }
                            th scope="col" { (T::Error.get(l)) }
                        } }
                        tbody { @for a in tries { tr {
                            td { (when(a.attempted_at)) }
                            td { (a.sequence) }
                            td { (a.status_code.map(|s| s.to_string()).unwrap_or_else(|| "—".into())) }
                            td { (a.latency_ms) " ms" }
                            td { (a.error.as_deref().unwrap_or("")) }
                        } } }
                    } }
                }
            }
        }
    })
}

/// The tenant's RFC 9967 event streams, read-only (created through the admin API or the CLI).
async fn streams_section(ctx: &Ctx, store: &Store) -> Result<Markup, ConsoleError> {
    let l = ctx.lang;
    let streams = store
        .list_event_streams(&ctx.tenant)
        .await
        .map_err(|e| ConsoleError::store(l, e))?;
    Ok(html! {
        h2 { (T::EventStreams.get(l)) }
        @if streams.is_empty() {
            p.empty { (T::NoEventStreams.get(l)) }
        } @else {
            div.table-wrap { table.streams {
                thead { tr {
                    th scope="col" { (T::Audience.get(l)) } th scope="col" { (T::Delivery.get(l)) }
                    th scope="col" { (T::Format.get(l)) } th scope="col" { (T::Sequence.get(l)) }
                    th scope="col" { (T::LastSuccess.get(l)) } th scope="col" { (T::LastError.get(l)) }
                } }
                tbody { @for st in &streams { tr {
                    td { code { (st.audience) }
                        @if let Some(d) = &st.description { " (" (d) ")" }
                        @if !st.enabled { " — " (T::WebhookDisabled.get(l)) } }
                    td { (st.delivery) @if let Some(url) = &st.url { " " code { (url) } } }
                    td { (st.format) }
                    td { (st.position) }
                    td { (st.last_success_at.map(when).unwrap_or_else(|| "—".into())) }
                    td { (st.last_error.as_deref().unwrap_or("")) }
                } } }
            } }
        }
    })
}

/// `GET /console/events`.
pub async fn show_events(
    ctx: Ctx,
    store: web::Data<Store>,
    query: web::Query<HashMap<String, String>>,
) -> Result<HttpResponse, ConsoleError> {
    ctx.require::<EventsRead>()?;
    let l = ctx.lang;
    let flash = match query.get("done").map(String::as_str) {
        Some("test-delivered") => Some(T::TestDelivered.get(l).to_owned()),
        Some("test-failed") => Some(format!(
            "{} {}",
            T::TestFailed.get(l),
            query.get("error").map(String::as_str).unwrap_or("")
        )),
        Some("resent") => Some(format!(
            "{} {}",
            T::Resent.get(l),
            query.get("n").map(String::as_str).unwrap_or("0")
        )),
        _ => None,
    };
    let webhooks = if ctx.may(scim_auth::WEBHOOKS_READ) {
        Some(webhooks_section(&ctx, &store).await?)
    } else {
        None
    };
    let streams = streams_section(&ctx, &store).await?;
    let events = store
        .recent_events(&ctx.tenant, RECENT)
        .await
        .map_err(|e| ConsoleError::store(l, e))?;
    let body = html! {
        @if let Some(section) = webhooks { (section) }
        (streams)
        h2 { (T::RecentEvents.get(l)) }
        p.hint { (T::EventsHint.get(l)) }
        @if events.is_empty() {
            p.empty { (T::NoProvisioningEvents.get(l)) }
        } @else {
            div.table-wrap { table.events {
                thead { tr {
                    th scope="col" { (T::Sequence.get(l)) } th scope="col" { (T::When.get(l)) }
                    th scope="col" { (T::Type.get(l)) } th scope="col" { (T::Resource.get(l)) }
                    th scope="col" { (T::Changes.get(l)) } th scope="col" { (T::Actor.get(l)) }
                } }
                tbody { @for e in &events { tr {
                    td { (e.sequence) }
                    td { (when(e.time)) }
                    td { code { (e.event_type) } }
                    td { (e.resource_type) " " code { (e.resource_id) }
                        @if let Some(ext) = &e.external_id { " (" (ext) ")" } }
                    td {
                        (e.attributes.join(", "))
                        @if let Some(ids) = &e.related { " [" (ids.len()) "]" }
                    }
                    td { (e.actor.name) }
                } } }
            } }
        }
    };
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(html::page(
            &ctx,
            Nav::Events,
            T::Events.get(l),
            flash.as_deref(),
            body,
        )))
}

fn back_to_events(query: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, format!("/console/events?{query}")))
        .finish()
}

/// `POST /console/events/webhooks/{id}/test`: a signed `webhook.test` at once.
pub async fn test_webhook(
    Posted { ctx, .. }: Posted<WebhooksWrite>,
    store: web::Data<Store>,
    sender: web::Data<scim_webhooks::Sender>,
    path: web::Path<String>,
) -> Result<HttpResponse, ConsoleError> {
    let sent = scim_webhooks::send_test(&store, &sender, &ctx.tenant, &path, Utc::now())
        .await
        .map_err(|e| ConsoleError::store(ctx.lang, e))?;
    Ok(match sent.error {
        None => back_to_events("done=test-delivered"),
        Some(error) => back_to_events(&format!("done=test-failed&error={}", url_enc(&error))),
    })
}

/// `POST /console/events/webhooks/{id}/resend`: the events of the last hour, day or week sent
/// again.
pub async fn resend_webhook_events(
    Posted { ctx, form, .. }: Posted<WebhooksWrite>,
    store: web::Data<Store>,
    path: web::Path<String>,
) -> Result<HttpResponse, ConsoleError> {
    let hours: i64 = match form.get("window") {
        Some("1") => 1,
        Some("24") => 24,
        Some("168") => 168,
        _ => return Ok(back_to_events("")),
    };
    let now = Utc::now();
    let queued = scim_service::webhooks::resend_events(
        &store,
        &ctx.tenant,
        &path,
        scim_service::webhooks::ResendTarget::Webhook,
        ResendRequest {
            event_id: None,
            since: Some(now - Duration::hours(hours)),
            until: Some(now + Duration::seconds(1)),
        },
        &ctx.caller,
        now,
    )
    .await
    .map_err(|e| ConsoleError::service(ctx.lang, e))?;
    Ok(back_to_events(&format!("done=resent&n={queued}")))
}
