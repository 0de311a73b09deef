//! The "Events" page (issue 20): the tenant's webhook endpoints with their health and latest
//! attempts (with `tenant.webhooks:read`), then the most recent provisioning events, newest
//! first (with `tenant.events:read`). Read-only: endpoints are registered through the admin
//! API.

use actix_web::{web, HttpResponse};
use chrono::Utc;
use maud::{html, Markup};
use scim_auth::admin::EventsRead;
use scim_service::webhooks::WebhookState;
use scim_store::{Store, Webhook};

use crate::{
    html::{self, when, Nav},
    session::{ConsoleError, Ctx},
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

/// `GET /console/events`.
pub async fn show_events(ctx: Ctx, store: web::Data<Store>) -> Result<HttpResponse, ConsoleError> {
    ctx.require::<EventsRead>()?;
    let l = ctx.lang;
    let webhooks = if ctx.may(scim_auth::WEBHOOKS_READ) {
        Some(webhooks_section(&ctx, &store).await?)
    } else {
        None
    };
    let events = store
        .recent_events(&ctx.tenant, RECENT)
        .await
        .map_err(|e| ConsoleError::store(l, e))?;
    let body = html! {
        @if let Some(section) = webhooks { (section) }
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
        .body(html::page(&ctx, Nav::Events, T::Events.get(l), None, body)))
}
