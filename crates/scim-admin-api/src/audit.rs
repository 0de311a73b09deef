//! `/api/{tenantId}/admin/auditEvents`: the tenant's audit trail, newest first.

use actix_web::{get, web, HttpResponse};
use scim_auth::{admin::AuditRead, Admin};
use scim_store::{AuditQuery, Store};

use crate::{
    dto::{AuditEventView, AuditPage, AuditParams, ErrorBody},
    error::AdminApiError,
};

/// List audit events.
///
/// Newest first; filter by target (`targetType`, `targetId`) and time (`from` inclusive, `to`
/// exclusive); page with `startIndex` (1-based) and `count`. Requires `tenant.audit:read`.
#[utoipa::path(
    tag = "Audit",
    params(("tenantId" = String, Path, description = "Tenant id"), AuditParams),
    security(("bearer" = ["tenant.audit:read"])),
    responses(
        (status = 200, description = "A page of events", body = AuditPage),
        (status = 400, description = "Malformed query", body = ErrorBody),
        (status = 401, description = "No valid key", body = ErrorBody),
        (status = 403, description = "Missing tenant.audit:read", body = ErrorBody),
        (status = 404, description = "Not the caller's tenant", body = ErrorBody),
        (status = 422, description = "`from` after `to`", body = ErrorBody),
    )
)]
#[get("/auditEvents")]
pub async fn list_audit_events(
    admin: Admin<AuditRead>,
    store: web::Data<Store>,
    query: web::Query<AuditParams>,
) -> Result<HttpResponse, AdminApiError> {
    let q = query.into_inner();
    if let (Some(from), Some(to)) = (q.from, q.to) {
        if from > to {
            return Err(AdminApiError::invalid(
                "invalid_range",
                "from",
                "from must not be after to",
            ));
        }
    }
    let (start_index, count) =
        crate::dto::page_bounds(q.start_index.as_deref(), q.count.as_deref())?;
    let page = store
        .list_audit_events(
            &admin.tenant,
            &AuditQuery {
                target_type: q.target_type,
                target_id: q.target_id,
                from: q.from,
                to: q.to,
                offset: start_index - 1,
                limit: count,
            },
        )
        .await
        .map_err(|e| AdminApiError::from_store(e, "Tenant not found"))?;
    let events: Vec<AuditEventView> = page.items.into_iter().map(Into::into).collect();
    Ok(HttpResponse::Ok().json(AuditPage {
        total_results: page.total,
        start_index,
        items_per_page: events.len() as u64,
        events,
    }))
}
