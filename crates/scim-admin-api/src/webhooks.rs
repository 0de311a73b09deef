//! `/api/{tenantId}/admin/webhooks`: the tenant's webhook endpoints (issue 20), their signing
//! secrets (shown once) and their delivery attempts.

use actix_web::{delete, get, post, put, web, HttpResponse};
use chrono::{DateTime, Utc};
use scim_auth::{
    admin::{WebhooksRead, WebhooksWrite},
    Admin,
};
use scim_service::webhooks::{OutboundPolicy, WebhookState};
use scim_store::{Store, Webhook, WebhookAttempt, WebhookSettings};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::{dto::ErrorBody, error::AdminApiError};

const WEBHOOK: &str = "Webhook endpoint not found";
/// Attempts listed per endpoint.
const ATTEMPTS_SHOWN: u64 = 100;

/// A webhook endpoint as registered or changed.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WebhookBody {
    /// Where events are posted: `https://` (or `http://` when the server allows it); private
    /// and loopback addresses are refused unless the server allows them.
    #[schema(example = "https://app.example.com/hooks/scim")]
    pub url: Option<String>,
    /// Event types to send (see the events API), or `["*"]` for all; not empty.
    #[schema(example = json!(["user.created", "user.deactivated"]))]
    pub event_types: Option<Vec<String>>,
    /// Whether events are sent (default true). A disabled endpoint keeps its place in the
    /// stream and resumes from it when enabled again.
    pub enabled: Option<bool>,
}

/// A webhook endpoint. The signing secret is never part of it (only of the create answer).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebhookView {
    /// The endpoint's id.
    pub id: String,
    /// Where events are posted.
    pub url: String,
    /// The event types sent (`*`: all).
    pub event_types: Vec<String>,
    /// Whether events are sent.
    pub enabled: bool,
    /// `healthy`, `retrying` (the last attempt failed), `failing` (failing for more than a
    /// day: events wait, none is dropped) or `disabled`.
    #[schema(example = "healthy")]
    pub state: &'static str,
    /// The sequence of the last event delivered (or passed over as not wanted).
    pub position: i64,
    /// Failed attempts at the next event.
    pub attempts: i32,
    /// When the next attempt is due after a failure.
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// Since when attempts have been failing.
    pub failing_since: Option<DateTime<Utc>>,
    /// The last acknowledged delivery.
    pub last_success_at: Option<DateTime<Utc>>,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// Registration time.
    pub created_at: DateTime<Utc>,
    /// Last change of its settings.
    pub updated_at: DateTime<Utc>,
}

impl WebhookView {
    fn of(w: Webhook, now: DateTime<Utc>) -> Self {
        Self {
            state: WebhookState::of(&w, now).as_str(),
            next_attempt_at: w.failing_since.map(|_| w.next_attempt_at),
            id: w.id,
            url: w.url,
            event_types: w.event_types,
            enabled: w.enabled,
            position: w.position,
            attempts: w.attempts,
            failing_since: w.failing_since,
            last_success_at: w.last_success_at,
            last_error: w.last_error,
            created_at: w.created_at,
            updated_at: w.updated_at,
        }
    }
}

/// A new endpoint and its signing secret.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreatedWebhookView {
    /// The endpoint.
    #[serde(flatten)]
    pub webhook: WebhookView,
    /// The signing secret (`whsec_` + base64): shown this once, never again. Check each
    /// delivery's `webhook-signature` with it (docs/EVENTS.md).
    #[schema(example = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")]
    pub secret: String,
}

/// The tenant's endpoints.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookList {
    /// Oldest first.
    pub webhooks: Vec<WebhookView>,
}

/// One delivery attempt.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebhookAttemptView {
    /// The event sent (its id is the delivery's `webhook-id`).
    pub event_id: String,
    /// The event's sequence.
    pub sequence: i64,
    /// When.
    pub attempted_at: DateTime<Utc>,
    /// The endpoint's status, if it answered.
    pub status_code: Option<i32>,
    /// How long the attempt took.
    pub latency_ms: i64,
    /// Why it failed; absent when acknowledged.
    pub error: Option<String>,
}

impl From<WebhookAttempt> for WebhookAttemptView {
    fn from(a: WebhookAttempt) -> Self {
        Self {
            event_id: a.event_id,
            sequence: a.sequence,
            attempted_at: a.attempted_at,
            status_code: a.status_code,
            latency_ms: a.latency_ms,
            error: a.error,
        }
    }
}

/// An endpoint's latest attempts.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookAttemptList {
    /// Newest first, at most 100.
    pub attempts: Vec<WebhookAttemptView>,
}

fn settings(body: WebhookBody) -> Result<WebhookSettings, AdminApiError> {
    Ok(WebhookSettings {
        url: body
            .url
            .ok_or_else(|| AdminApiError::invalid("missing_field", "url", "url is required"))?,
        event_types: body.event_types.ok_or_else(|| {
            AdminApiError::invalid(
                "missing_field",
                "eventTypes",
                "eventTypes is required (a list of event types, or [\"*\"])",
            )
        })?,
        enabled: body.enabled.unwrap_or(true),
    })
}

/// Register a webhook endpoint.
///
/// The endpoint is sent the events recorded from now on, one per request, in order, signed
/// with its secret (returned here, once). Requires `tenant.webhooks:write`.
#[utoipa::path(
    tag = "Events",
    params(("tenantId" = String, Path, description = "Tenant id")),
    request_body = WebhookBody,
    security(("bearer" = ["tenant.webhooks:write"])),
    responses(
        (status = 201, description = "Registered; the secret is shown this once", body = CreatedWebhookView),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 401, description = "No valid key", body = ErrorBody),
        (status = 403, description = "Missing tenant.webhooks:write", body = ErrorBody),
        (status = 404, description = "Not the caller's tenant", body = ErrorBody),
        (status = 409, description = "The tenant has 20 endpoints already", body = ErrorBody),
        (status = 422, description = "A URL or event types the server refuses", body = ErrorBody),
    )
)]
#[post("/webhooks")]
pub async fn create_webhook(
    admin: Admin<WebhooksWrite>,
    store: web::Data<Store>,
    policy: web::Data<OutboundPolicy>,
    body: crate::body::AdminJson<WebhookBody>,
) -> Result<HttpResponse, AdminApiError> {
    let now = Utc::now();
    let (webhook, secret) = scim_service::webhooks::create_webhook(
        &store,
        &admin.tenant,
        settings(body.into_inner())?,
        **policy,
        &admin.caller,
        now,
    )
    .await
    .map_err(|e| AdminApiError::from_service(e, "Tenant not found"))?;
    Ok(HttpResponse::Created()
        .insert_header(("Cache-Control", "no-store"))
        .json(CreatedWebhookView {
            webhook: WebhookView::of(webhook, now),
            secret,
        }))
}

/// List webhook endpoints.
///
/// Requires `tenant.webhooks:read`.
#[utoipa::path(
    tag = "Events",
    params(("tenantId" = String, Path, description = "Tenant id")),
    security(("bearer" = ["tenant.webhooks:read"])),
    responses(
        (status = 200, description = "The endpoints", body = WebhookList),
        (status = 401, description = "No valid key", body = ErrorBody),
        (status = 403, description = "Missing tenant.webhooks:read", body = ErrorBody),
        (status = 404, description = "Not the caller's tenant", body = ErrorBody),
    )
)]
#[get("/webhooks")]
pub async fn list_webhooks(
    admin: Admin<WebhooksRead>,
    store: web::Data<Store>,
) -> Result<HttpResponse, AdminApiError> {
    let now = Utc::now();
    let webhooks = store
        .list_webhooks(&admin.tenant)
        .await
        .map_err(|e| AdminApiError::from_store(e, "Tenant not found"))?;
    Ok(HttpResponse::Ok().json(WebhookList {
        webhooks: webhooks
            .into_iter()
            .map(|w| WebhookView::of(w, now))
            .collect(),
    }))
}

/// Get one webhook endpoint.
///
/// Requires `tenant.webhooks:read`.
#[utoipa::path(
    tag = "Events",
    params(
        ("tenantId" = String, Path, description = "Tenant id"),
        ("webhookId" = String, Path, description = "Endpoint id"),
    ),
    security(("bearer" = ["tenant.webhooks:read"])),
    responses(
        (status = 200, description = "The endpoint", body = WebhookView),
        (status = 401, description = "No valid key", body = ErrorBody),
        (status = 403, description = "Missing tenant.webhooks:read", body = ErrorBody),
        (status = 404, description = "No such endpoint in this tenant", body = ErrorBody),
    )
)]
#[get("/webhooks/{webhookId}")]
pub async fn get_webhook(
    admin: Admin<WebhooksRead>,
    store: web::Data<Store>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AdminApiError> {
    let (_, id) = path.into_inner();
    let webhook = store
        .get_webhook(&admin.tenant, &id)
        .await
        .map_err(|e| AdminApiError::from_store(e, WEBHOOK))?;
    Ok(HttpResponse::Ok().json(WebhookView::of(webhook, Utc::now())))
}

/// Replace a webhook endpoint's URL, event types and switch.
///
/// The secret stays. Requires `tenant.webhooks:write`.
#[utoipa::path(
    tag = "Events",
    params(
        ("tenantId" = String, Path, description = "Tenant id"),
        ("webhookId" = String, Path, description = "Endpoint id"),
    ),
    request_body = WebhookBody,
    security(("bearer" = ["tenant.webhooks:write"])),
    responses(
        (status = 200, description = "The endpoint", body = WebhookView),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 401, description = "No valid key", body = ErrorBody),
        (status = 403, description = "Missing tenant.webhooks:write", body = ErrorBody),
        (status = 404, description = "No such endpoint in this tenant", body = ErrorBody),
        (status = 422, description = "A URL or event types the server refuses", body = ErrorBody),
    )
)]
#[put("/webhooks/{webhookId}")]
pub async fn update_webhook(
    admin: Admin<WebhooksWrite>,
    store: web::Data<Store>,
    policy: web::Data<OutboundPolicy>,
    path: web::Path<(String, String)>,
    body: crate::body::AdminJson<WebhookBody>,
) -> Result<HttpResponse, AdminApiError> {
    let (_, id) = path.into_inner();
    let now = Utc::now();
    let webhook = scim_service::webhooks::update_webhook(
        &store,
        &admin.tenant,
        &id,
        settings(body.into_inner())?,
        **policy,
        &admin.caller,
        now,
    )
    .await
    .map_err(|e| AdminApiError::from_service(e, WEBHOOK))?;
    Ok(HttpResponse::Ok().json(WebhookView::of(webhook, now)))
}

/// Remove a webhook endpoint.
///
/// Nothing more is sent to it; its attempts go with it. Requires `tenant.webhooks:write`.
#[utoipa::path(
    tag = "Events",
    params(
        ("tenantId" = String, Path, description = "Tenant id"),
        ("webhookId" = String, Path, description = "Endpoint id"),
    ),
    security(("bearer" = ["tenant.webhooks:write"])),
    responses(
        (status = 204, description = "Removed"),
        (status = 401, description = "No valid key", body = ErrorBody),
        (status = 403, description = "Missing tenant.webhooks:write", body = ErrorBody),
        (status = 404, description = "No such endpoint in this tenant", body = ErrorBody),
    )
)]
#[delete("/webhooks/{webhookId}")]
pub async fn delete_webhook(
    admin: Admin<WebhooksWrite>,
    store: web::Data<Store>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AdminApiError> {
    let (_, id) = path.into_inner();
    store
        .delete_webhook(&admin.tenant, &id, &admin.caller.actor, Utc::now())
        .await
        .map_err(|e| AdminApiError::from_store(e, WEBHOOK))?;
    Ok(HttpResponse::NoContent().finish())
}

/// List a webhook endpoint's latest delivery attempts.
///
/// Newest first, at most 100, kept as long as the tenant's events. Requires
/// `tenant.webhooks:read`.
#[utoipa::path(
    tag = "Events",
    params(
        ("tenantId" = String, Path, description = "Tenant id"),
        ("webhookId" = String, Path, description = "Endpoint id"),
    ),
    security(("bearer" = ["tenant.webhooks:read"])),
    responses(
        (status = 200, description = "The attempts", body = WebhookAttemptList),
        (status = 401, description = "No valid key", body = ErrorBody),
        (status = 403, description = "Missing tenant.webhooks:read", body = ErrorBody),
        (status = 404, description = "No such endpoint in this tenant", body = ErrorBody),
    )
)]
#[get("/webhooks/{webhookId}/attempts")]
pub async fn list_webhook_attempts(
    admin: Admin<WebhooksRead>,
    store: web::Data<Store>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AdminApiError> {
    let (_, id) = path.into_inner();
    let attempts = store
        .list_webhook_attempts(&admin.tenant, &id, ATTEMPTS_SHOWN)
        .await
        .map_err(|e| AdminApiError::from_store(e, WEBHOOK))?;
    Ok(HttpResponse::Ok().json(WebhookAttemptList {
        attempts: attempts.into_iter().map(Into::into).collect(),
    }))
}

/// What to send again: one event (`eventId`) or the events of a time range.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ResendBody {
    /// One event, by id (sent whatever its type).
    pub event_id: Option<String>,
    /// The events captured from this time (inclusive; with `until`).
    pub since: Option<DateTime<Utc>>,
    /// … to this time (exclusive).
    pub until: Option<DateTime<Utc>>,
}

impl From<ResendBody> for scim_service::webhooks::ResendRequest {
    fn from(b: ResendBody) -> Self {
        Self {
            event_id: b.event_id,
            since: b.since,
            until: b.until,
        }
    }
}

/// How many events were queued to be sent again.
#[derive(Debug, Serialize, ToSchema)]
pub struct ResendView {
    /// Events queued (sent before the next new event, each once acknowledged).
    pub queued: u64,
}

/// Send events again to a webhook endpoint.
///
/// One event (`eventId`, whatever its type) or the events of the endpoint's types captured in
/// `[since, until)`, at most 10,000. They are sent again, in order and with their own ids
/// (`webhook-id`), before the endpoint's next new event. Requires `tenant.webhooks:write`.
#[utoipa::path(
    tag = "Events",
    params(
        ("tenantId" = String, Path, description = "Tenant id"),
        ("webhookId" = String, Path, description = "Endpoint id"),
    ),
    request_body = ResendBody,
    security(("bearer" = ["tenant.webhooks:write"])),
    responses(
        (status = 202, description = "Queued", body = ResendView),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 401, description = "No valid key", body = ErrorBody),
        (status = 403, description = "Missing tenant.webhooks:write", body = ErrorBody),
        (status = 404, description = "No such endpoint, or no such event, in this tenant", body = ErrorBody),
        (status = 409, description = "More than 10,000 events", body = ErrorBody),
        (status = 422, description = "Neither an event nor a range", body = ErrorBody),
    )
)]
#[post("/webhooks/{webhookId}/resend")]
pub async fn resend_webhook_events(
    admin: Admin<WebhooksWrite>,
    store: web::Data<Store>,
    path: web::Path<(String, String)>,
    body: crate::body::AdminJson<ResendBody>,
) -> Result<HttpResponse, AdminApiError> {
    let (_, id) = path.into_inner();
    let queued = scim_service::webhooks::resend_events(
        &store,
        &admin.tenant,
        &id,
        scim_service::webhooks::ResendTarget::Webhook,
        body.into_inner().into(),
        &admin.caller,
        Utc::now(),
    )
    .await
    .map_err(|e| AdminApiError::from_service(e, "Webhook endpoint or event not found"))?;
    Ok(HttpResponse::Accepted().json(ResendView { queued }))
}

/// The result of a test delivery.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TestDeliveryView {
    /// Whether the endpoint answered 2xx.
    pub delivered: bool,
    /// Its status, if it answered.
    pub status_code: Option<u16>,
    /// How long it took.
    pub latency_ms: i64,
    /// Why it failed.
    pub error: Option<String>,
}

/// Send a test event to a webhook endpoint.
///
/// Posts a `webhook.test` event (not a provisioning event: the endpoint's position does not
/// move), signed with the endpoint's secret, at once, and answers with the endpoint's
/// response. The attempt is recorded. Requires `tenant.webhooks:write`.
#[utoipa::path(
    tag = "Events",
    params(
        ("tenantId" = String, Path, description = "Tenant id"),
        ("webhookId" = String, Path, description = "Endpoint id"),
    ),
    security(("bearer" = ["tenant.webhooks:write"])),
    responses(
        (status = 200, description = "Sent; whether it was acknowledged", body = TestDeliveryView),
        (status = 401, description = "No valid key", body = ErrorBody),
        (status = 403, description = "Missing tenant.webhooks:write", body = ErrorBody),
        (status = 404, description = "No such endpoint in this tenant", body = ErrorBody),
    )
)]
#[post("/webhooks/{webhookId}/test")]
pub async fn test_webhook(
    admin: Admin<WebhooksWrite>,
    store: web::Data<Store>,
    sender: web::Data<scim_webhooks::Sender>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AdminApiError> {
    let (_, id) = path.into_inner();
    let sent = scim_webhooks::send_test(&store, &sender, &admin.tenant, &id, Utc::now())
        .await
        .map_err(|e| AdminApiError::from_store(e, WEBHOOK))?;
    Ok(HttpResponse::Ok().json(TestDeliveryView {
        delivered: sent.error.is_none(),
        status_code: sent.status,
        latency_ms: sent.latency_ms,
        error: sent.error,
    }))
}
