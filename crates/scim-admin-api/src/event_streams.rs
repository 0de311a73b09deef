//! `/api/{tenantId}/admin/eventStreams`: the tenant's RFC 9967 event streams (issue 20),
//! pushed to a receiver (RFC 8935) or polled by it (RFC 8936, with a secret shown once).

use actix_web::{delete, get, post, put, web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use scim_auth::{
    admin::{EventsRead, EventsWrite},
    Admin,
};
use scim_service::{event_streams::StreamRequest, webhooks::OutboundPolicy};
use scim_store::{EventStream, Store};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::{
    dto::ErrorBody,
    error::AdminApiError,
    webhooks::{ResendBody, ResendView, WebhookAttemptList},
};

const STREAM: &str = "Event stream not found";
/// Attempts listed per stream.
const ATTEMPTS_SHOWN: u64 = 100;

/// An event stream as created or replaced.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EventStreamBody {
    /// What the admin calls it (at most 200 characters).
    #[schema(example = "HR system")]
    pub description: Option<String>,
    /// `push`: scimd posts each SET to `endpointUrl` (RFC 8935); `poll`: the receiver fetches
    /// them (RFC 8936) with the secret returned at creation. Fixed once created.
    #[schema(example = "poll")]
    pub delivery: Option<String>,
    /// The receiver's RFC 8935 endpoint (push only), under the same rules as webhook URLs.
    #[schema(example = "https://receiver.example.com/events")]
    pub endpoint_url: Option<String>,
    /// The bearer token scimd sends to the receiver (push only, optional). Never shown again;
    /// on replace, leave it out to keep the one held, or send `""` to remove it.
    pub endpoint_token: Option<String>,
    /// The SETs' `aud` claim.
    #[schema(example = "https://receiver.example.com")]
    pub audience: Option<String>,
    /// `notice` (the changed attribute names; default) or `full` (the resource after the
    /// change; its events then keep the resource for as long as they are kept).
    #[schema(example = "notice")]
    pub format: Option<String>,
    /// Event types to send (as the events API names them), or `["*"]` (default) for all.
    pub event_types: Option<Vec<String>>,
    /// Whether SETs are delivered (default true). A disabled stream keeps its place.
    pub enabled: Option<bool>,
}

/// An event stream. Its token and poll secret are never part of it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EventStreamView {
    /// The stream's id.
    pub id: String,
    /// What the admin calls it.
    pub description: Option<String>,
    /// `push` or `poll`.
    pub delivery: String,
    /// Where SETs are pushed (push).
    pub endpoint_url: Option<String>,
    /// Whether pushes carry a bearer token.
    pub has_endpoint_token: bool,
    /// Where the receiver polls (poll): `{base}/events/{tenantId}/streams/{id}/poll`.
    pub poll_url: Option<String>,
    /// The SETs' `iss`: `{base}/events/{tenantId}`; their keys are at `{iss}/jwks.json`.
    pub issuer: String,
    /// The SETs' `aud`.
    pub audience: String,
    /// `notice` or `full`.
    pub format: String,
    /// The event types sent (`*`: all).
    pub event_types: Vec<String>,
    /// Whether SETs are delivered.
    pub enabled: bool,
    /// `healthy`, `retrying`, `failing` or `disabled` (as for webhooks).
    pub state: &'static str,
    /// The sequence of the last event delivered and acknowledged.
    pub position: i64,
    /// Failed pushes of the next SET.
    pub attempts: i32,
    /// The last acknowledged delivery.
    pub last_success_at: Option<DateTime<Utc>>,
    /// Why the last push failed, or what the receiver last refused.
    pub last_error: Option<String>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change of its settings.
    pub updated_at: DateTime<Utc>,
}

/// The state of a stream, with the rules of webhook endpoints.
fn state(s: &EventStream, now: DateTime<Utc>) -> &'static str {
    match (s.enabled, s.failing_since) {
        (false, _) => "disabled",
        (true, Some(since)) if now - since >= scim_service::webhooks::FAILING_AFTER => "failing",
        (true, Some(_)) => "retrying",
        (true, None) => "healthy",
    }
}

/// The public root SETs and poll URLs are named under.
fn root(req: &HttpRequest, public_url: Option<&str>) -> String {
    match public_url {
        Some(url) => url.trim_end_matches('/').to_owned(),
        None => {
            let info = scim_auth::client_info(req);
            format!("{}://{}", info.scheme, info.host)
        }
    }
}

impl EventStreamView {
    fn of(s: EventStream, tenant: &str, root: &str, now: DateTime<Utc>) -> Self {
        let issuer = scim_service::security_events::issuer(root, tenant);
        Self {
            state: state(&s, now),
            poll_url: (s.delivery == "poll").then(|| format!("{issuer}/streams/{}/poll", s.id)),
            issuer,
            id: s.id,
            description: s.description,
            delivery: s.delivery,
            endpoint_url: s.url,
            has_endpoint_token: s.has_token,
            audience: s.audience,
            format: s.format,
            event_types: s.event_types,
            enabled: s.enabled,
            position: s.position,
            attempts: s.attempts,
            last_success_at: s.last_success_at,
            last_error: s.last_error,
            created_at: s.created_at,
            updated_at: s.updated_at,
        }
    }
}

/// A new stream and, for a poll stream, its receiver's secret.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreatedEventStreamView {
    /// The stream.
    #[serde(flatten)]
    pub stream: EventStreamView,
    /// The poll secret (`setpoll_…`, poll streams): the receiver's bearer token at `pollUrl`.
    /// Shown this once, never again.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

/// The tenant's streams.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EventStreamList {
    /// Oldest first.
    pub event_streams: Vec<EventStreamView>,
}

/// Where the issuer's root comes from (`SCIMD_PUBLIC_URL`).
#[derive(Debug, Clone, Default)]
pub struct PublicUrl(pub Option<String>);

fn request(
    body: EventStreamBody,
    delivery: Option<String>,
) -> Result<StreamRequest, AdminApiError> {
    Ok(StreamRequest {
        delivery: body.delivery.or(delivery).ok_or_else(|| {
            AdminApiError::invalid(
                "missing_field",
                "delivery",
                "delivery is required: \"push\" or \"poll\"",
            )
        })?,
        audience: body.audience.ok_or_else(|| {
            AdminApiError::invalid(
                "missing_field",
                "audience",
                "audience is required (the SETs' aud)",
            )
        })?,
        description: body.description,
        endpoint_url: body.endpoint_url,
        endpoint_token: body.endpoint_token,
        format: body.format,
        event_types: body.event_types,
        enabled: body.enabled,
    })
}

/// Create an event stream.
///
/// The stream is sent the SETs of the events recorded from now on. A poll stream's secret is
/// returned here, once. Requires `tenant.events:write`.
#[utoipa::path(
    tag = "Events",
    params(("tenantId" = String, Path, description = "Tenant id")),
    request_body = EventStreamBody,
    security(("bearer" = ["tenant.events:write"])),
    responses(
        (status = 201, description = "Created; a poll stream's secret is shown this once", body = CreatedEventStreamView),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 401, description = "No valid key", body = ErrorBody),
        (status = 403, description = "Missing tenant.events:write", body = ErrorBody),
        (status = 404, description = "Not the caller's tenant", body = ErrorBody),
        (status = 409, description = "The tenant has 20 streams already", body = ErrorBody),
        (status = 422, description = "Settings the server refuses", body = ErrorBody),
    )
)]
#[post("/eventStreams")]
pub async fn create_event_stream(
    admin: Admin<EventsWrite>,
    req: HttpRequest,
    store: web::Data<Store>,
    policy: web::Data<OutboundPolicy>,
    public_url: web::Data<PublicUrl>,
    body: crate::body::AdminJson<EventStreamBody>,
) -> Result<HttpResponse, AdminApiError> {
    let now = Utc::now();
    let (stream, secret) = scim_service::event_streams::create_event_stream(
        &store,
        &admin.tenant,
        request(body.into_inner(), None)?,
        **policy,
        &admin.caller,
        now,
    )
    .await
    .map_err(|e| AdminApiError::from_service(e, "Tenant not found"))?;
    let root = root(&req, public_url.0.as_deref());
    Ok(HttpResponse::Created()
        .insert_header(("Cache-Control", "no-store"))
        .json(CreatedEventStreamView {
            stream: EventStreamView::of(stream, admin.tenant.as_str(), &root, now),
            secret,
        }))
}

/// List event streams.
///
/// Requires `tenant.events:read`.
#[utoipa::path(
    tag = "Events",
    params(("tenantId" = String, Path, description = "Tenant id")),
    security(("bearer" = ["tenant.events:read"])),
    responses(
        (status = 200, description = "The streams", body = EventStreamList),
        (status = 401, description = "No valid key", body = ErrorBody),
        (status = 403, description = "Missing tenant.events:read", body = ErrorBody),
        (status = 404, description = "Not the caller's tenant", body = ErrorBody),
    )
)]
#[get("/eventStreams")]
pub async fn list_event_streams(
    admin: Admin<EventsRead>,
    req: HttpRequest,
    store: web::Data<Store>,
    public_url: web::Data<PublicUrl>,
) -> Result<HttpResponse, AdminApiError> {
    let now = Utc::now();
    let streams = store
        .list_event_streams(&admin.tenant)
        .await
        .map_err(|e| AdminApiError::from_store(e, "Tenant not found"))?;
    let root = root(&req, public_url.0.as_deref());
    Ok(HttpResponse::Ok().json(EventStreamList {
        event_streams: streams
            .into_iter()
            .map(|s| EventStreamView::of(s, admin.tenant.as_str(), &root, now))
            .collect(),
    }))
}

/// Get one event stream.
///
/// Requires `tenant.events:read`.
#[utoipa::path(
    tag = "Events",
    params(
        ("tenantId" = String, Path, description = "Tenant id"),
        ("streamId" = String, Path, description = "Stream id"),
    ),
    security(("bearer" = ["tenant.events:read"])),
    responses(
        (status = 200, description = "The stream", body = EventStreamView),
        (status = 401, description = "No valid key", body = ErrorBody),
        (status = 403, description = "Missing tenant.events:read", body = ErrorBody),
        (status = 404, description = "No such stream in this tenant", body = ErrorBody),
    )
)]
#[get("/eventStreams/{streamId}")]
pub async fn get_event_stream(
    admin: Admin<EventsRead>,
    req: HttpRequest,
    store: web::Data<Store>,
    public_url: web::Data<PublicUrl>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AdminApiError> {
    let (_, id) = path.into_inner();
    let stream = store
        .get_event_stream(&admin.tenant, &id)
        .await
        .map_err(|e| AdminApiError::from_store(e, STREAM))?;
    let root = root(&req, public_url.0.as_deref());
    Ok(HttpResponse::Ok().json(EventStreamView::of(
        stream,
        admin.tenant.as_str(),
        &root,
        Utc::now(),
    )))
}

/// Replace an event stream's settings.
///
/// The delivery method and the poll secret stay. Requires `tenant.events:write`.
#[utoipa::path(
    tag = "Events",
    params(
        ("tenantId" = String, Path, description = "Tenant id"),
        ("streamId" = String, Path, description = "Stream id"),
    ),
    request_body = EventStreamBody,
    security(("bearer" = ["tenant.events:write"])),
    responses(
        (status = 200, description = "The stream", body = EventStreamView),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 401, description = "No valid key", body = ErrorBody),
        (status = 403, description = "Missing tenant.events:write", body = ErrorBody),
        (status = 404, description = "No such stream in this tenant", body = ErrorBody),
        (status = 422, description = "Settings the server refuses", body = ErrorBody),
    )
)]
#[put("/eventStreams/{streamId}")]
pub async fn update_event_stream(
    admin: Admin<EventsWrite>,
    req: HttpRequest,
    store: web::Data<Store>,
    policy: web::Data<OutboundPolicy>,
    public_url: web::Data<PublicUrl>,
    path: web::Path<(String, String)>,
    body: crate::body::AdminJson<EventStreamBody>,
) -> Result<HttpResponse, AdminApiError> {
    let (_, id) = path.into_inner();
    let now = Utc::now();
    let current = store
        .get_event_stream(&admin.tenant, &id)
        .await
        .map_err(|e| AdminApiError::from_store(e, STREAM))?;
    let stream = scim_service::event_streams::update_event_stream(
        &store,
        &admin.tenant,
        &id,
        request(body.into_inner(), Some(current.delivery))?,
        **policy,
        &admin.caller,
        now,
    )
    .await
    .map_err(|e| AdminApiError::from_service(e, STREAM))?;
    let root = root(&req, public_url.0.as_deref());
    Ok(HttpResponse::Ok().json(EventStreamView::of(
        stream,
        admin.tenant.as_str(),
        &root,
        now,
    )))
}

/// Remove an event stream.
///
/// Nothing more is delivered to it; a poll with its secret is refused. Requires
/// `tenant.events:write`.
#[utoipa::path(
    tag = "Events",
    params(
        ("tenantId" = String, Path, description = "Tenant id"),
        ("streamId" = String, Path, description = "Stream id"),
    ),
    security(("bearer" = ["tenant.events:write"])),
    responses(
        (status = 204, description = "Removed"),
        (status = 401, description = "No valid key", body = ErrorBody),
        (status = 403, description = "Missing tenant.events:write", body = ErrorBody),
        (status = 404, description = "No such stream in this tenant", body = ErrorBody),
    )
)]
#[delete("/eventStreams/{streamId}")]
pub async fn delete_event_stream(
    admin: Admin<EventsWrite>,
    store: web::Data<Store>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AdminApiError> {
    let (_, id) = path.into_inner();
    store
        .delete_event_stream(&admin.tenant, &id, &admin.caller.actor, Utc::now())
        .await
        .map_err(|e| AdminApiError::from_store(e, STREAM))?;
    Ok(HttpResponse::NoContent().finish())
}

/// List a pushed event stream's latest delivery attempts.
///
/// Newest first, at most 100. Requires `tenant.events:read`.
#[utoipa::path(
    tag = "Events",
    params(
        ("tenantId" = String, Path, description = "Tenant id"),
        ("streamId" = String, Path, description = "Stream id"),
    ),
    security(("bearer" = ["tenant.events:read"])),
    responses(
        (status = 200, description = "The attempts", body = WebhookAttemptList),
        (status = 401, description = "No valid key", body = ErrorBody),
        (status = 403, description = "Missing tenant.events:read", body = ErrorBody),
        (status = 404, description = "No such stream in this tenant", body = ErrorBody),
    )
)]
#[get("/eventStreams/{streamId}/attempts")]
pub async fn list_event_stream_attempts(
    admin: Admin<EventsRead>,
    store: web::Data<Store>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AdminApiError> {
    let (_, id) = path.into_inner();
    let attempts = store
        .list_event_stream_attempts(&admin.tenant, &id, ATTEMPTS_SHOWN)
        .await
        .map_err(|e| AdminApiError::from_store(e, STREAM))?;
    Ok(HttpResponse::Ok().json(WebhookAttemptList {
        attempts: attempts.into_iter().map(Into::into).collect(),
    }))
}

/// Send events again to a pushed event stream.
///
/// One event (`eventId`) or the events of the stream's types captured in `[since, until)`, at
/// most 10,000, pushed again (same `jti`) before the stream's next new SET. A polled stream's
/// receiver gets again what it has not acknowledged by polling. Requires `tenant.events:write`.
#[utoipa::path(
    tag = "Events",
    params(
        ("tenantId" = String, Path, description = "Tenant id"),
        ("streamId" = String, Path, description = "Stream id"),
    ),
    request_body = ResendBody,
    security(("bearer" = ["tenant.events:write"])),
    responses(
        (status = 202, description = "Queued", body = ResendView),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 401, description = "No valid key", body = ErrorBody),
        (status = 403, description = "Missing tenant.events:write", body = ErrorBody),
        (status = 404, description = "No such pushed stream, or no such event, in this tenant", body = ErrorBody),
        (status = 409, description = "More than 10,000 events", body = ErrorBody),
        (status = 422, description = "Neither an event nor a range", body = ErrorBody),
    )
)]
#[post("/eventStreams/{streamId}/resend")]
pub async fn resend_stream_events(
    admin: Admin<EventsWrite>,
    store: web::Data<Store>,
    path: web::Path<(String, String)>,
    body: crate::body::AdminJson<ResendBody>,
) -> Result<HttpResponse, AdminApiError> {
    let (_, id) = path.into_inner();
    let queued = scim_service::webhooks::resend_events(
        &store,
        &admin.tenant,
        &id,
        scim_service::webhooks::ResendTarget::PushedStream,
        body.into_inner().into(),
        &admin.caller,
        Utc::now(),
    )
    .await
    .map_err(|e| AdminApiError::from_service(e, "Event stream or event not found"))?;
    Ok(HttpResponse::Accepted().json(ResendView { queued }))
}
