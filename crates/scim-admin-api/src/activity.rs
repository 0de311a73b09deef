//! `/api/{tenantId}/admin/activity`: the tenant's provisioning activity (issue 21), what its
//! identity providers sent and how each request ended, newest first; its summary per key or
//! client (healthy / failing / silent); and `settings/activity` (retention, failed bodies).

use actix_web::{get, put, web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use scim_auth::{
    admin::{ActivityRead, SettingsRead, SettingsWrite},
    Admin,
};
use scim_service::activity::{self, ActivityPolicy, ActorSummary, Tally};
use scim_store::{ActivityQuery, ActivityRecord, StatusFilter, Store, StoreError};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::{dto::ErrorBody, error::AdminApiError};

/// Records per page when `limit` is absent.
const DEFAULT_LIMIT: u64 = 100;

/// Query parameters of `GET …/activity`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // documents the query, which is read pair by pair
pub struct ActivityParams {
    /// Only records at or after this time (RFC 3339).
    since: Option<DateTime<Utc>>,
    /// Only records before this time (RFC 3339).
    until: Option<DateTime<Utc>>,
    /// `2xx`, `4xx`, `5xx`, or one status code (`409`).
    #[param(value_type = Option<String>, pattern = "^([245]xx|[1-5][0-9][0-9])$")]
    status: Option<String>,
    /// Only this HTTP method (`GET`, `POST`, `PUT`, `PATCH`, `DELETE`).
    method: Option<String>,
    /// Only requests of this key (its name) or OAuth client (its id).
    key: Option<String>,
    /// Only requests about this user or group (its id).
    #[serde(rename = "resourceId")]
    resource_id: Option<String>,
    /// Only errors with this SCIM `scimType` (`uniqueness`, `invalidFilter`, …).
    #[serde(rename = "scimType")]
    scim_type: Option<String>,
    /// Continue after this position: the `nextCursor` of an earlier answer.
    cursor: Option<String>,
    /// Most records in the answer, 1–500 (default 100).
    #[param(value_type = Option<u64>, minimum = 1, maximum = 500)]
    limit: Option<String>,
}

/// A plain-language hint for a common failure.
#[derive(Debug, Serialize, ToSchema)]
pub struct HintView {
    /// `uniqueness`, `unknown_member`, `filter_refused`, `key_refused`, `client_refused`,
    /// `forbidden`, `rate_limited` or `version_conflict`.
    pub code: &'static str,
    /// What went wrong and what to do.
    pub message: &'static str,
}

/// One request, as recorded.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ActivityRecordView {
    /// The record's id.
    pub id: String,
    /// When the request ended.
    pub time: DateTime<Utc>,
    /// The request's `X-Request-Id` (also in scimd's logs).
    pub request_id: Option<String>,
    /// The key's name, or the OAuth client's id.
    #[schema(example = "entra-prod")]
    pub actor: String,
    /// `key` or `client`.
    pub actor_type: String,
    /// `entra`, `okta` or `other` (from the `User-Agent`).
    pub identity_provider: String,
    /// The HTTP method.
    pub method: String,
    /// The path, without the query.
    #[schema(example = "/scim/v2/Users/2819c223-7f76-453a-919d-413861904646")]
    pub path: String,
    /// `User`, `Group`, or null.
    pub resource_type: Option<String>,
    /// The user's or group's id, or null.
    pub resource_id: Option<String>,
    /// The filter of a list or search.
    pub filter: Option<String>,
    /// The HTTP status answered.
    pub status: u16,
    /// The SCIM `scimType` of an error.
    pub scim_type: Option<String>,
    /// The `detail` of an error (for a refused key, why it was refused).
    pub detail: Option<String>,
    /// Milliseconds from arrival to answer.
    pub latency_ms: u64,
    /// What the request did, in a line.
    #[schema(example = "PATCH replace displayName, add 3 members")]
    pub summary: String,
    /// The attribute paths the request changed.
    pub attributes: Vec<String>,
    /// What a common failure means and what to do.
    pub hint: Option<HintView>,
    /// Whether the failed request's body is kept (read it with `GET …/activity/{id}`).
    pub has_body: bool,
}

impl From<ActivityRecord> for ActivityRecordView {
    fn from(r: ActivityRecord) -> Self {
        let hint = activity::hint(&r).map(|h| HintView {
            code: h.code(),
            message: h.english(),
        });
        Self {
            id: r.id,
            time: r.time,
            request_id: r.request_id,
            actor: r.actor,
            actor_type: r.actor_kind.into_owned(),
            identity_provider: r.identity_provider.into_owned(),
            method: r.method.into_owned(),
            path: r.path,
            resource_type: r.resource_type.map(std::borrow::Cow::into_owned),
            resource_id: r.resource_id,
            filter: r.filter,
            status: r.status,
            scim_type: r.scim_type,
            detail: r.detail,
            latency_ms: r.latency_ms,
            summary: r.summary.into_owned(),
            attributes: r.attributes,
            hint,
            has_body: r.has_body,
        }
    }
}

/// One record with its kept body.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ActivityRecordDetail {
    /// The record.
    #[serde(flatten)]
    pub record: ActivityRecordView,
    /// The failed request's body, passwords removed (only while the tenant keeps bodies,
    /// 7 days at most).
    pub body: Option<String>,
}

/// A page of records.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ActivityPageView {
    /// The records, newest first.
    pub records: Vec<ActivityRecordView>,
    /// Where the next (older) page starts (`cursor=`); null on the last page. A filter that
    /// matches few records may answer a short (even empty) page with a cursor: a page reads at
    /// most 50,000 records.
    pub next_cursor: Option<String>,
}

fn invalid(field: &'static str, message: impl Into<String>) -> AdminApiError {
    AdminApiError::invalid("invalid_value", field, message)
}

fn time_param(field: &'static str, value: &str) -> Result<DateTime<Utc>, AdminApiError> {
    DateTime::parse_from_rfc3339(value)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| invalid(field, format!("{field} must be an RFC 3339 time")))
}

/// `2xx`/`4xx`/`5xx` or a code.
fn status_param(value: &str) -> Result<StatusFilter, AdminApiError> {
    let v = value.to_ascii_lowercase();
    match v.as_str() {
        "2xx" => Ok(StatusFilter::Class(2)),
        "3xx" => Ok(StatusFilter::Class(3)),
        "4xx" => Ok(StatusFilter::Class(4)),
        "5xx" => Ok(StatusFilter::Class(5)),
        _ => v
            .parse::<u16>()
            .ok()
            .filter(|c| (100..=599).contains(c))
            .map(StatusFilter::Code)
            .ok_or_else(|| invalid("status", "status must be 2xx, 4xx, 5xx or a status code")),
    }
}

/// The query of a read, from the raw pairs; `cursor` is returned apart.
fn parse_query(raw: &str) -> Result<(Option<String>, ActivityQuery), AdminApiError> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(raw)
        .map_err(|e| AdminApiError::BadRequest(format!("query string: {e}")))?;
    let mut query = ActivityQuery {
        limit: DEFAULT_LIMIT,
        ..ActivityQuery::default()
    };
    let mut cursor = None;
    let text = |field: &'static str, v: String| -> Result<String, AdminApiError> {
        if v.is_empty() || v.len() > 256 || v.contains('\0') {
            Err(invalid(field, format!("{field} must be 1–256 characters")))
        } else {
            Ok(v)
        }
    };
    for (name, value) in pairs {
        match name.as_str() {
            "since" => query.since = Some(time_param("since", &value)?),
            "until" => query.until = Some(time_param("until", &value)?),
            "status" => query.status = Some(status_param(&value)?),
            "method" => {
                let m = value.to_ascii_uppercase();
                if !activity::METHODS.contains(&m.as_str()) {
                    return Err(invalid(
                        "method",
                        "method must be GET, POST, PUT, PATCH or DELETE",
                    ));
                }
                query.method = Some(m);
            }
            "key" => query.actor = Some(text("key", value)?),
            "resourceId" => query.resource_id = Some(text("resourceId", value)?),
            "scimType" => query.scim_type = Some(text("scimType", value)?),
            "cursor" => cursor = Some(value),
            "limit" => {
                query.limit = value
                    .parse::<u64>()
                    .ok()
                    .filter(|n| (1..=scim_store::MAX_ACTIVITY_PAGE).contains(n))
                    .ok_or_else(|| {
                        invalid(
                            "limit",
                            format!(
                                "limit must be a whole number from 1 to {}",
                                scim_store::MAX_ACTIVITY_PAGE
                            ),
                        )
                    })?
            }
            _ => {}
        }
    }
    Ok((cursor, query))
}

/// Read the provisioning activity.
///
/// Every SCIM request (and token request) attributed to this tenant by the key, access token
/// or client id it used, newest first: who sent it, what it did, how it ended and how long it
/// took. Records are written a fraction of a second after their request ends. Never contains
/// a secret. Requires `tenant.activity:read`.
#[utoipa::path(
    tag = "Activity",
    params(("tenantId" = String, Path, description = "Tenant id"), ActivityParams),
    security(("bearer" = ["tenant.activity:read"])),
    responses(
        (status = 200, description = "A page of records", body = ActivityPageView),
        (status = 400, description = "Malformed query", body = ErrorBody),
        (status = 401, description = "No valid key", body = ErrorBody),
        (status = 403, description = "Missing tenant.activity:read", body = ErrorBody),
        (status = 404, description = "Not the caller's tenant", body = ErrorBody),
        (status = 422, description = "A parameter out of range, or a cursor of another tenant", body = ErrorBody),
    )
)]
#[get("/activity")]
pub async fn list_activity(
    admin: Admin<ActivityRead>,
    store: web::Data<Store>,
    req: HttpRequest,
) -> Result<HttpResponse, AdminApiError> {
    let (cursor, mut query) = parse_query(req.query_string())?;
    if let Some(cursor) = cursor {
        query.before = Some(
            store
                .open_activity_cursor(&admin.tenant, &cursor)
                .await
                .map_err(|e| match e {
                    StoreError::InvalidCursor => invalid(
                        "cursor",
                        "cursor is not one this server issued for this tenant",
                    ),
                    e => AdminApiError::from_store(e, "Tenant not found"),
                })?,
        );
    }
    let page = store
        .list_activity(&admin.tenant, &query)
        .await
        .map_err(|e| AdminApiError::from_store(e, "Tenant not found"))?;
    let next_cursor = match &page.next {
        Some(id) => Some(
            store
                .seal_activity_cursor(&admin.tenant, id)
                .await
                .map_err(|e| AdminApiError::from_store(e, "Tenant not found"))?,
        ),
        None => None,
    };
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(ActivityPageView {
            records: page.records.into_iter().map(Into::into).collect(),
            next_cursor,
        }))
}

/// Read one activity record, with the failed request's body when it is kept.
///
/// Requires `tenant.activity:read`.
#[utoipa::path(
    tag = "Activity",
    params(
        ("tenantId" = String, Path, description = "Tenant id"),
        ("recordId" = String, Path, description = "The record's id"),
    ),
    security(("bearer" = ["tenant.activity:read"])),
    responses(
        (status = 200, description = "The record", body = ActivityRecordDetail),
        (status = 401, description = "No valid key", body = ErrorBody),
        (status = 403, description = "Missing tenant.activity:read", body = ErrorBody),
        (status = 404, description = "No such record in this tenant", body = ErrorBody),
    )
)]
#[get("/activity/records/{recordId}")]
pub async fn get_activity_record(
    admin: Admin<ActivityRead>,
    store: web::Data<Store>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AdminApiError> {
    let (_, id) = path.into_inner();
    let (record, body) = store
        .get_activity_record(&admin.tenant, &id)
        .await
        .map_err(|e| AdminApiError::from_store(e, "Activity record not found"))?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(ActivityRecordDetail {
            record: record.into(),
            body,
        }))
}

/// Requests and errors over a period.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TallyView {
    /// Requests.
    pub requests: u64,
    /// Requests answered 400 or above.
    pub errors: u64,
    /// Errors per status (`{"409": 2}`).
    pub errors_by_status: std::collections::BTreeMap<String, u64>,
    /// Errors per SCIM `scimType` (`{"uniqueness": 2}`).
    pub errors_by_scim_type: std::collections::BTreeMap<String, u64>,
}

impl From<&Tally> for TallyView {
    fn from(t: &Tally) -> Self {
        Self {
            requests: t.requests,
            errors: t.errors,
            errors_by_status: t
                .by_status
                .iter()
                .map(|(s, n)| (s.to_string(), *n))
                .collect(),
            errors_by_scim_type: t.by_scim_type.clone(),
        }
    }
}

/// One key or client in the summary.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ActorSummaryView {
    /// The key's name or the OAuth client's id.
    pub actor: String,
    /// `key` or `client`.
    pub actor_type: String,
    /// The key it is (for a client, the key whose client id it is), while the key exists.
    pub key_name: Option<String>,
    /// `healthy`, `failing` (the last request failed and the connection is broken — a
    /// refused key, a server error, a rate limit — or at least half of the last hour's
    /// requests failed) or `silent` (no request for longer than the provider's cycle).
    #[schema(example = "healthy")]
    pub state: &'static str,
    /// The last hour (counted per minute: from the start of the minute an hour ago).
    pub last_hour: TallyView,
    /// The last 24 hours (from the start of the minute a day ago).
    pub last_day: TallyView,
    /// The newest successful request.
    pub last_success: Option<ActivityRecordView>,
    /// The newest failed request, with its detail.
    pub last_failure: Option<ActivityRecordView>,
}

impl From<ActorSummary> for ActorSummaryView {
    fn from(a: ActorSummary) -> Self {
        Self {
            state: a.state.as_str(),
            last_hour: (&a.hour).into(),
            last_day: (&a.day).into(),
            actor: a.actor,
            actor_type: a.actor_kind,
            key_name: a.key_name,
            last_success: a.last_success.map(Into::into),
            last_failure: a.last_failure.map(Into::into),
        }
    }
}

/// The activity summary.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ActivitySummaryView {
    /// When it was computed.
    pub generated_at: DateTime<Utc>,
    /// Minutes without a request after which a key or client is `silent`.
    pub silent_after_minutes: i64,
    /// Records this tenant lost in the last hour because a process's queue was full.
    pub dropped_last_hour: u64,
    /// Records lost in the last 24 hours.
    pub dropped_last_day: u64,
    /// Every usable SCIM key (also one never used) and every key or client seen in the last
    /// day: failing first, then silent, then healthy.
    pub actors: Vec<ActorSummaryView>,
}

/// Read the activity summary.
///
/// Per SCIM key or OAuth client: requests and errors over the last hour and day, the last
/// success, the last failure with its detail, and a state (`healthy`, `failing`, `silent`).
/// Requires `tenant.activity:read`.
#[utoipa::path(
    tag = "Activity",
    params(("tenantId" = String, Path, description = "Tenant id")),
    security(("bearer" = ["tenant.activity:read"])),
    responses(
        (status = 200, description = "The summary", body = ActivitySummaryView),
        (status = 401, description = "No valid key", body = ErrorBody),
        (status = 403, description = "Missing tenant.activity:read", body = ErrorBody),
        (status = 404, description = "Not the caller's tenant", body = ErrorBody),
    )
)]
#[get("/activity/summary")]
pub async fn get_activity_summary(
    admin: Admin<ActivityRead>,
    store: web::Data<Store>,
    policy: Option<web::Data<ActivityPolicy>>,
) -> Result<HttpResponse, AdminApiError> {
    let policy = policy.map(|p| **p).unwrap_or_default();
    let summary = activity::summary(&store, &admin.tenant, Utc::now(), policy.silent_after)
        .await
        .map_err(|e| AdminApiError::from_service(e, "Tenant not found"))?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(ActivitySummaryView {
            generated_at: summary.generated_at,
            silent_after_minutes: summary.silent_after.num_minutes(),
            dropped_last_hour: summary.dropped_hour,
            dropped_last_day: summary.dropped_day,
            actors: summary.actors.into_iter().map(Into::into).collect(),
        }))
}

/// The tenant's activity settings.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ActivitySettingsBody {
    /// Days records are kept, 1–180 (default 30). Required in a PUT.
    #[schema(value_type = i64, required = true, minimum = 1, maximum = 180, example = 30)]
    pub retention_days: Option<i64>,
    /// Keep the bodies of failed requests (passwords removed) for 7 days, to debug a
    /// rejected payload (default false). Turning it off deletes the bodies kept. Required in
    /// a PUT.
    #[schema(value_type = bool, required = true, example = false)]
    pub keep_failed_bodies: Option<bool>,
}

/// Get the tenant's activity settings.
///
/// Requires `tenant.settings:read`.
#[utoipa::path(
    tag = "Settings",
    params(("tenantId" = String, Path, description = "Tenant id")),
    security(("bearer" = ["tenant.settings:read"])),
    responses(
        (status = 200, description = "The settings", body = ActivitySettingsBody),
        (status = 401, description = "No valid key", body = ErrorBody),
        (status = 403, description = "Missing tenant.settings:read", body = ErrorBody),
        (status = 404, description = "Not the caller's tenant", body = ErrorBody),
    )
)]
#[get("/settings/activity")]
pub async fn get_activity_settings(
    admin: Admin<SettingsRead>,
    store: web::Data<Store>,
) -> Result<HttpResponse, AdminApiError> {
    let settings = store
        .get_activity_settings(&admin.tenant)
        .await
        .map_err(|e| AdminApiError::from_store(e, "Tenant not found"))?;
    Ok(HttpResponse::Ok().json(ActivitySettingsBody {
        retention_days: Some(i64::from(settings.retention_days)),
        keep_failed_bodies: Some(settings.keep_failed_bodies),
    }))
}

/// Replace the tenant's activity settings.
///
/// A shorter retention takes effect at the next expiry sweep. Requires
/// `tenant.settings:write`.
#[utoipa::path(
    tag = "Settings",
    params(("tenantId" = String, Path, description = "Tenant id")),
    request_body = ActivitySettingsBody,
    security(("bearer" = ["tenant.settings:write"])),
    responses(
        (status = 200, description = "The new settings", body = ActivitySettingsBody),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 401, description = "No valid key", body = ErrorBody),
        (status = 403, description = "Missing tenant.settings:write", body = ErrorBody),
        (status = 404, description = "Not the caller's tenant", body = ErrorBody),
        (status = 422, description = "A field missing or retentionDays outside 1–180", body = ErrorBody),
    )
)]
#[put("/settings/activity")]
pub async fn put_activity_settings(
    admin: Admin<SettingsWrite>,
    store: web::Data<Store>,
    body: crate::body::AdminJson<ActivitySettingsBody>,
) -> Result<HttpResponse, AdminApiError> {
    let body = body.into_inner();
    let days = body.retention_days.ok_or_else(|| {
        AdminApiError::invalid(
            "missing_field",
            "retentionDays",
            "retentionDays is required",
        )
    })?;
    let keep = body.keep_failed_bodies.ok_or_else(|| {
        AdminApiError::invalid(
            "missing_field",
            "keepFailedBodies",
            "keepFailedBodies is required",
        )
    })?;
    let settings = activity::put_activity_settings(
        &store,
        &admin.tenant,
        days,
        keep,
        &admin.caller,
        Utc::now(),
    )
    .await
    .map_err(|e| AdminApiError::from_service(e, "Tenant not found"))?;
    Ok(HttpResponse::Ok().json(ActivitySettingsBody {
        retention_days: Some(i64::from(settings.retention_days)),
        keep_failed_bodies: Some(settings.keep_failed_bodies),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_classes_or_codes() {
        assert_eq!(status_param("4xx").unwrap(), StatusFilter::Class(4));
        assert_eq!(status_param("409").unwrap(), StatusFilter::Code(409));
        assert!(status_param("9xx").is_err());
        assert!(status_param("abc").is_err());
        assert!(status_param("99999999999").is_err());
    }
}
