//! `/api/{tenantId}/admin/events`: the tenant's provisioning events in order, for the
//! downstream application to poll (issue 20), and `settings/events` (their retention).

use actix_web::{get, put, web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use scim_auth::{
    admin::{EventsRead, SettingsRead, SettingsWrite},
    Admin,
};
use scim_model::ResourceKind;
use scim_store::{EventQuery, EventStart, Store, StoreError, MAX_EVENT_PAGE};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::{dto::ErrorBody, error::AdminApiError};

/// Events per page when `limit` is absent.
const DEFAULT_LIMIT: u64 = 100;

/// Query parameters of `GET …/events`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // documents the query, which is read pair by pair (`type` repeats)
pub struct EventParams {
    /// Start after this position: the `nextCursor` of an earlier answer. Without `after` and
    /// `since`, reading starts at the oldest event kept.
    after: Option<String>,
    /// Start at the first event recorded at or after this time (RFC 3339); not with `after`.
    since: Option<DateTime<Utc>>,
    /// Most events in the answer, 1–1000 (default 100).
    #[param(value_type = Option<u64>, minimum = 1, maximum = 1000)]
    limit: Option<String>,
    /// Only events of users (`User`) or of groups (`Group`).
    #[param(value_type = Option<String>, pattern = "^(User|Group)$")]
    #[serde(rename = "resourceType")]
    resource_type: Option<String>,
    /// Only events of these types (repeat the parameter for several).
    #[param(rename = "type", style = Form, explode)]
    #[serde(rename = "type")]
    types: Option<Vec<String>>,
}

/// Who made a change.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventActorView {
    /// `key` (an API key), `client` (an OAuth client using an access token), `operator` or
    /// `console`.
    #[serde(rename = "type")]
    #[schema(example = "key")]
    pub kind: String,
    /// The key's name, or the OAuth client's id.
    #[schema(example = "entra-prod")]
    pub name: String,
}

/// One provisioning event (the schema of what `scim_service::events::render_event` writes).
#[derive(Debug, Serialize, ToSchema)]
#[allow(dead_code)] // documents the answer, which the service renders
#[serde(rename_all = "camelCase")]
pub struct EventView {
    /// The event's id (UUIDv7); the same on every read.
    pub id: String,
    /// Its place in the tenant's order (increasing; gaps are possible).
    pub sequence: i64,
    /// `user.created`, `user.updated`, `user.activated`, `user.deactivated`, `user.deleted`,
    /// `group.created`, `group.updated`, `group.deleted`, `group.members_added` or
    /// `group.members_removed`.
    #[serde(rename = "type")]
    #[schema(example = "user.created")]
    pub event_type: String,
    /// When the change was made.
    pub time: DateTime<Utc>,
    /// `User` or `Group`.
    pub resource_type: String,
    /// The resource's id.
    pub resource_id: String,
    /// The resource's `externalId` (before the change, for a delete).
    pub external_id: Option<String>,
    /// The resource's `meta.version` after the change (its last one, for a delete).
    #[schema(example = "W/\"3\"")]
    pub version: String,
    /// The attribute paths the change touched.
    pub attributes: Vec<String>,
    /// `group.members_added` and `group.members_removed`: the members added or removed (at
    /// most 1,000 per event).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub members: Option<Vec<String>>,
    /// `user.deleted` and `group.deleted`: the groups the resource left.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub groups: Option<Vec<String>>,
    /// Who made the change.
    pub actor: EventActorView,
    /// The `X-Request-Id` of the request that made it.
    pub request_id: Option<String>,
}

/// A page of events.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EventPageView {
    /// The events, in sequence order.
    #[schema(value_type = Vec<EventView>)]
    pub events: Vec<serde_json::Value>,
    /// Where to read next (`after=`); always present: poll with it to get what comes next.
    pub next_cursor: String,
}

/// The query of a read, from the raw pairs (so that `type` may repeat).
fn parse_query(raw: &str) -> Result<(Option<String>, EventQuery), AdminApiError> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(raw)
        .map_err(|e| AdminApiError::BadRequest(format!("query string: {e}")))?;
    let mut after = None;
    let mut since = None;
    let mut limit = DEFAULT_LIMIT;
    let mut resource_type = None;
    let mut types = Vec::new();
    for (name, value) in pairs {
        match name.as_str() {
            "after" => after = Some(value),
            "since" => {
                since = Some(
                    DateTime::parse_from_rfc3339(&value)
                        .map_err(|_| {
                            AdminApiError::invalid(
                                "invalid_value",
                                "since",
                                "since must be an RFC 3339 time",
                            )
                        })?
                        .with_timezone(&Utc),
                )
            }
            "limit" => {
                limit = value
                    .parse::<u64>()
                    .ok()
                    .filter(|n| (1..=MAX_EVENT_PAGE).contains(n))
                    .ok_or_else(|| {
                        AdminApiError::invalid(
                            "invalid_value",
                            "limit",
                            format!("limit must be a whole number from 1 to {MAX_EVENT_PAGE}"),
                        )
                    })?
            }
            "resourceType" => {
                resource_type = Some(match value.as_str() {
                    "User" => ResourceKind::User,
                    "Group" => ResourceKind::Group,
                    _ => {
                        return Err(AdminApiError::invalid(
                            "invalid_value",
                            "resourceType",
                            "resourceType must be User or Group",
                        ))
                    }
                })
            }
            "type" => {
                let known = scim_service::events::event_type(&value).ok_or_else(|| {
                    AdminApiError::invalid(
                        "invalid_value",
                        "type",
                        format!(
                            "unknown event type; the types are {}",
                            scim_service::events::EVENT_TYPES.join(", ")
                        ),
                    )
                })?;
                types.push(known.to_owned());
            }
            _ => {}
        }
    }
    if after.is_some() && since.is_some() {
        return Err(AdminApiError::invalid(
            "conflicting_parameters",
            "since",
            "give after or since, not both",
        ));
    }
    let start = match since {
        Some(t) => EventStart::Since(t),
        None => EventStart::Oldest,
    };
    Ok((
        after,
        EventQuery {
            start,
            resource_type,
            types,
            limit,
        },
    ))
}

/// Read provisioning events.
///
/// The tenant's events in order, from the oldest kept, from `after` (the `nextCursor` of an
/// earlier answer) or from `since` (a time). Poll with `nextCursor` to get what comes next: an
/// event is never skipped, even one whose change committed after a later one was read. A
/// cursor that points before the oldest event kept (older than the retention) is `410 Gone`.
/// Requires `tenant.events:read`.
#[utoipa::path(
    tag = "Events",
    params(("tenantId" = String, Path, description = "Tenant id"), EventParams),
    security(("bearer" = ["tenant.events:read"])),
    responses(
        (status = 200, description = "A page of events", body = EventPageView),
        (status = 400, description = "Malformed query", body = ErrorBody),
        (status = 401, description = "No valid key", body = ErrorBody),
        (status = 403, description = "Missing tenant.events:read", body = ErrorBody),
        (status = 404, description = "Not the caller's tenant", body = ErrorBody),
        (status = 410, description = "The cursor points at purged events", body = ErrorBody),
        (status = 422, description = "A parameter out of range, an unknown type, a cursor of \
                                       another tenant, or both after and since", body = ErrorBody),
    )
)]
#[get("/events")]
pub async fn list_events(
    admin: Admin<EventsRead>,
    store: web::Data<Store>,
    req: HttpRequest,
) -> Result<HttpResponse, AdminApiError> {
    let (after, mut query) = parse_query(req.query_string())?;
    if let Some(cursor) = after {
        let position = store
            .open_event_cursor(&admin.tenant, &cursor)
            .await
            .map_err(|e| match e {
                StoreError::InvalidCursor => AdminApiError::invalid(
                    "invalid_cursor",
                    "after",
                    "after is not a cursor this server issued for this tenant",
                ),
                e => AdminApiError::from_store(e, "Tenant not found"),
            })?;
        query.start = EventStart::After(position);
    }
    let page = store
        .list_events(&admin.tenant, &query)
        .await
        .map_err(|e| AdminApiError::from_store(e, "Tenant not found"))?;
    let next_cursor = store
        .seal_event_cursor(&admin.tenant, page.next)
        .await
        .map_err(|e| AdminApiError::from_store(e, "Tenant not found"))?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(EventPageView {
            events: page
                .events
                .iter()
                .map(scim_service::events::render_event)
                .collect(),
            next_cursor,
        }))
}

/// The tenant's events settings.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EventSettingsBody {
    /// Days events are kept, 1–365 (default 30). Older events are purged by the expiry sweep;
    /// a cursor pointing at them is answered `410 Gone`. Required in a PUT.
    #[schema(value_type = i64, required = true, minimum = 1, maximum = 365, example = 30)]
    pub retention_days: Option<i64>,
}

/// Get the tenant's events settings.
///
/// Requires `tenant.settings:read`.
#[utoipa::path(
    tag = "Settings",
    params(("tenantId" = String, Path, description = "Tenant id")),
    security(("bearer" = ["tenant.settings:read"])),
    responses(
        (status = 200, description = "The settings", body = EventSettingsBody),
        (status = 401, description = "No valid key", body = ErrorBody),
        (status = 403, description = "Missing tenant.settings:read", body = ErrorBody),
        (status = 404, description = "Not the caller's tenant", body = ErrorBody),
    )
)]
#[get("/settings/events")]
pub async fn get_event_settings(
    admin: Admin<SettingsRead>,
    store: web::Data<Store>,
) -> Result<HttpResponse, AdminApiError> {
    let settings = store
        .get_event_settings(&admin.tenant)
        .await
        .map_err(|e| AdminApiError::from_store(e, "Tenant not found"))?;
    Ok(HttpResponse::Ok().json(EventSettingsBody {
        retention_days: Some(i64::from(settings.retention_days)),
    }))
}

/// Replace the tenant's events settings.
///
/// A shorter retention takes effect at the next expiry sweep. Requires
/// `tenant.settings:write`.
#[utoipa::path(
    tag = "Settings",
    params(("tenantId" = String, Path, description = "Tenant id")),
    request_body = EventSettingsBody,
    security(("bearer" = ["tenant.settings:write"])),
    responses(
        (status = 200, description = "The new settings", body = EventSettingsBody),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 401, description = "No valid key", body = ErrorBody),
        (status = 403, description = "Missing tenant.settings:write", body = ErrorBody),
        (status = 404, description = "Not the caller's tenant", body = ErrorBody),
        (status = 422, description = "retentionDays missing or outside 1–365", body = ErrorBody),
    )
)]
#[put("/settings/events")]
pub async fn put_event_settings(
    admin: Admin<SettingsWrite>,
    store: web::Data<Store>,
    body: crate::body::AdminJson<EventSettingsBody>,
) -> Result<HttpResponse, AdminApiError> {
    let days = body.into_inner().retention_days.ok_or_else(|| {
        AdminApiError::invalid(
            "missing_field",
            "retentionDays",
            "retentionDays is required",
        )
    })?;
    let settings = scim_service::events::put_event_settings(
        &store,
        &admin.tenant,
        days,
        &admin.caller,
        Utc::now(),
    )
    .await
    .map_err(|e| AdminApiError::from_service(e, "Tenant not found"))?;
    Ok(HttpResponse::Ok().json(EventSettingsBody {
        retention_days: Some(i64::from(settings.retention_days)),
    }))
}
