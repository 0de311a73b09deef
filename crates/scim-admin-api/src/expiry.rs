//! `/api/{tenantId}/admin/expiryNotices`: the expiry outbox of the tenant (warnings queued,
//! sent, retried, given up, or undeliverable for want of an admin e-mail), and the warnings
//! shown on each key.

use std::collections::HashMap;

use actix_web::{get, web, HttpResponse};
use chrono::{DateTime, Utc};
use scim_auth::{admin::ApiKeyRead, Admin};
use scim_store::{ExpiryNotice, NoticeQuery, NoticeStatus, Store, TenantId};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::{dto::page_bounds, dto::ApiKeyView, dto::ErrorBody, error::AdminApiError};

/// One expiry warning of a key.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExpiryWarningView {
    /// Days before expiry (30, 7, 1), or 0 for the notice that the key has expired.
    pub threshold_days: i32,
    /// `queued`, `sent`, `failed` (given up), `no_recipient` (the tenant has no admin e-mail)
    /// or `cancelled` (the key was revoked, deleted or rotated first).
    #[schema(example = "sent")]
    pub status: String,
    /// The expiry the warning is about.
    pub key_expires_at: DateTime<Utc>,
    /// Where it goes.
    pub recipient: Option<String>,
    /// When it was queued.
    pub queued_at: DateTime<Utc>,
    /// When the mail server accepted it.
    pub sent_at: Option<DateTime<Utc>>,
    /// Delivery attempts so far.
    pub attempts: i32,
    /// Earliest next attempt (while queued).
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
}

impl From<&ExpiryNotice> for ExpiryWarningView {
    fn from(n: &ExpiryNotice) -> Self {
        Self {
            threshold_days: n.threshold_days,
            status: n.status.as_str().to_owned(),
            key_expires_at: n.key_expires_at,
            recipient: n.recipient.clone(),
            queued_at: n.created_at,
            sent_at: n.sent_at,
            attempts: n.attempts,
            next_attempt_at: (n.status == NoticeStatus::Queued).then_some(n.next_attempt_at),
            last_error: n.last_error.clone(),
        }
    }
}

/// An outbox entry, with the key it is about.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExpiryNoticeView {
    /// Notice id.
    pub id: String,
    /// Name of the key (it may since have been deleted).
    pub key_name: String,
    /// The warning.
    #[serde(flatten)]
    pub warning: ExpiryWarningView,
}

/// A page of notices, newest first.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExpiryNoticePage {
    /// Notices matching the filter, over all pages.
    pub total_results: u64,
    /// 1-based index of the first notice of this page.
    pub start_index: u64,
    /// Notices on this page.
    pub items_per_page: u64,
    /// The notices.
    pub notices: Vec<ExpiryNoticeView>,
}

/// The state of an expiry notice (documentation of the accepted values).
#[derive(ToSchema)]
#[allow(dead_code)]
pub enum NoticeStatusDoc {
    /// Waiting to be sent.
    #[schema(rename = "queued")]
    Queued,
    /// Accepted by the SMTP server.
    #[schema(rename = "sent")]
    Sent,
    /// Given up after the last try.
    #[schema(rename = "failed")]
    Failed,
    /// The tenant has no admin e-mail.
    #[schema(rename = "no_recipient")]
    NoRecipient,
    /// No longer due (the key was rotated, revoked or deleted).
    #[schema(rename = "cancelled")]
    Cancelled,
}

/// Query of `GET /expiryNotices`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ExpiryNoticeParams {
    /// `queued`, `sent`, `failed`, `no_recipient` or `cancelled`.
    #[param(value_type = Option<NoticeStatusDoc>, inline)]
    pub status: Option<String>,
    /// Only notices about this key.
    pub key_name: Option<String>,
    /// 1-based index of the first notice (default 1).
    #[param(value_type = Option<u64>, minimum = 1, maximum = 9223372036854775807_u64)]
    pub start_index: Option<String>,
    /// Page size, 0–500 (default 50).
    #[param(value_type = Option<u64>, minimum = 0, maximum = 500)]
    pub count: Option<String>,
}

/// List expiry notices.
///
/// The tenant's expiry outbox, newest first: what was (or could not be) sent about expiring
/// keys. Without SMTP configured, warnings wait here as `queued`; a tenant without an admin
/// e-mail gets `no_recipient` entries. Requires `tenant.apiKey:read`.
#[utoipa::path(
    tag = "API keys",
    params(("tenantId" = String, Path, description = "Tenant id"), ExpiryNoticeParams),
    security(("bearer" = ["tenant.apiKey:read"])),
    responses(
        (status = 200, description = "A page of notices", body = ExpiryNoticePage),
        (status = 400, description = "Malformed query", body = ErrorBody),
        (status = 401, description = "No valid key", body = ErrorBody),
        (status = 403, description = "Missing tenant.apiKey:read", body = ErrorBody),
        (status = 404, description = "Not the caller's tenant", body = ErrorBody),
        (status = 422, description = "Unknown status", body = ErrorBody),
    )
)]
#[get("/expiryNotices")]
pub async fn list_expiry_notices(
    admin: Admin<ApiKeyRead>,
    store: web::Data<Store>,
    query: web::Query<ExpiryNoticeParams>,
) -> Result<HttpResponse, AdminApiError> {
    let q = query.into_inner();
    let status = match q.status.as_deref() {
        None => None,
        Some(s) => {
            let parsed = NoticeStatus::parse(s);
            if parsed.as_str() != s {
                return Err(AdminApiError::invalid(
                    "invalid_status",
                    "status",
                    "status must be queued, sent, failed, no_recipient or cancelled",
                ));
            }
            Some(parsed)
        }
    };
    let (start_index, count) = page_bounds(q.start_index.as_deref(), q.count.as_deref())?;
    let page = store
        .list_expiry_notices(
            &admin.tenant,
            &NoticeQuery {
                status,
                key_name: q.key_name,
                offset: start_index - 1,
                limit: count,
            },
        )
        .await
        .map_err(|e| AdminApiError::from_store(e, "Tenant not found"))?;
    let notices: Vec<ExpiryNoticeView> = page
        .items
        .iter()
        .map(|n| ExpiryNoticeView {
            id: n.id.clone(),
            key_name: n.key_name.clone(),
            warning: n.into(),
        })
        .collect();
    Ok(HttpResponse::Ok().json(ExpiryNoticePage {
        total_results: page.total,
        start_index,
        items_per_page: notices.len() as u64,
        notices,
    }))
}

/// Views of `keys` with their expiry warnings attached (one query for all of them).
pub(crate) async fn views_with_warnings(
    store: &Store,
    tenant: &TenantId,
    keys: Vec<scim_store::ApiKey>,
    switch: bool,
    now: DateTime<Utc>,
) -> Result<Vec<ApiKeyView>, AdminApiError> {
    let ids: Vec<String> = keys.iter().map(|k| k.id.clone()).collect();
    let mut by_key: HashMap<String, Vec<ExpiryWarningView>> = HashMap::new();
    for n in store
        .expiry_notices_of_keys(tenant, &ids)
        .await
        .map_err(|e| AdminApiError::from_store(e, "Tenant not found"))?
    {
        by_key
            .entry(n.api_key_id.clone())
            .or_default()
            .push((&n).into());
    }
    Ok(keys
        .into_iter()
        .map(|k| {
            let warnings = by_key.remove(&k.id).unwrap_or_default();
            let mut view = ApiKeyView::new(k, switch, now);
            view.expiry_warnings = warnings;
            view
        })
        .collect())
}
