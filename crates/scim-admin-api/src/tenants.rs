//! `/api/tenants`: the operator's routes (operator token only).

use actix_web::{delete, get, patch, post, web, HttpResponse};
use chrono::Utc;
use scim_auth::Operator;
use scim_store::{Store, TenantId};

use crate::{
    dto::{CreateTenantBody, ErrorBody, TenantView, UpdateTenantBody},
    error::AdminApiError,
};

const TENANT: &str = "Tenant not found";

fn tenant_id(raw: &str) -> Result<TenantId, AdminApiError> {
    TenantId::parse(raw).map_err(|_| AdminApiError::NotFound(TENANT))
}

/// List tenants.
///
/// Requires the operator token.
#[utoipa::path(
    tag = "Tenants (operator)",
    security(("operator" = [])),
    responses(
        (status = 200, description = "Every tenant", body = [TenantView]),
        (status = 401, description = "No valid credential", body = ErrorBody),
        (status = 403, description = "An API key, not the operator token", body = ErrorBody),
    )
)]
#[get("")]
pub async fn list_tenants(
    _op: Operator,
    store: web::Data<Store>,
) -> Result<HttpResponse, AdminApiError> {
    let tenants = store
        .list_tenants()
        .await
        .map_err(|e| AdminApiError::from_store(e, TENANT))?;
    let views: Vec<TenantView> = tenants.into_iter().map(Into::into).collect();
    Ok(HttpResponse::Ok().json(views))
}

/// Create a tenant.
///
/// Requires the operator token.
#[utoipa::path(
    tag = "Tenants (operator)",
    request_body = CreateTenantBody,
    security(("operator" = [])),
    responses(
        (status = 201, description = "Created", body = TenantView),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 401, description = "No valid credential", body = ErrorBody),
        (status = 403, description = "An API key, not the operator token", body = ErrorBody),
        (status = 409, description = "Id already in use", body = ErrorBody),
        (status = 422, description = "Invalid id or e-mail", body = ErrorBody),
    )
)]
#[post("")]
pub async fn create_tenant(
    _op: Operator,
    store: web::Data<Store>,
    body: crate::body::AdminJson<CreateTenantBody>,
) -> Result<HttpResponse, AdminApiError> {
    let body = body.into_inner();
    let raw = body
        .id
        .ok_or_else(|| AdminApiError::invalid("missing_field", "id", "id is required"))?;
    let tenant = scim_service::tenants::create_tenant(&store, &raw, body.admin_email, Utc::now())
        .await
        .map_err(|e| AdminApiError::from_service(e, TENANT))?;
    Ok(HttpResponse::Created().json(TenantView::from(tenant)))
}

/// Get a tenant.
///
/// Requires the operator token.
#[utoipa::path(
    tag = "Tenants (operator)",
    params(("tenantId" = String, Path, description = "Tenant id")),
    security(("operator" = [])),
    responses(
        (status = 200, description = "The tenant", body = TenantView),
        (status = 401, description = "No valid credential", body = ErrorBody),
        (status = 403, description = "An API key, not the operator token", body = ErrorBody),
        (status = 404, description = "No such tenant", body = ErrorBody),
    )
)]
#[get("/{tenantId}")]
pub async fn get_tenant(
    _op: Operator,
    store: web::Data<Store>,
    path: web::Path<String>,
) -> Result<HttpResponse, AdminApiError> {
    let id = tenant_id(&path)?;
    let tenant = store
        .get_tenant(&id)
        .await
        .map_err(|e| AdminApiError::from_store(e, TENANT))?;
    Ok(HttpResponse::Ok().json(TenantView::from(tenant)))
}

/// Change a tenant's admin e-mail.
///
/// Requires the operator token.
#[utoipa::path(
    tag = "Tenants (operator)",
    params(("tenantId" = String, Path, description = "Tenant id")),
    request_body = UpdateTenantBody,
    security(("operator" = [])),
    responses(
        (status = 200, description = "Updated", body = TenantView),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 401, description = "No valid credential", body = ErrorBody),
        (status = 403, description = "An API key, not the operator token", body = ErrorBody),
        (status = 404, description = "No such tenant", body = ErrorBody),
        (status = 422, description = "Invalid e-mail", body = ErrorBody),
    )
)]
#[patch("/{tenantId}")]
pub async fn update_tenant(
    op: Operator,
    store: web::Data<Store>,
    path: web::Path<String>,
    body: crate::body::AdminJson<UpdateTenantBody>,
) -> Result<HttpResponse, AdminApiError> {
    let id = tenant_id(&path)?;
    let body = body.into_inner();
    let tenant = match body.admin_email {
        None => store
            .get_tenant(&id)
            .await
            .map_err(|e| AdminApiError::from_store(e, TENANT))?,
        Some(email) => {
            scim_service::tenants::set_admin_email(&store, &id, email, &op.actor, Utc::now())
                .await
                .map_err(|e| AdminApiError::from_service(e, TENANT))?
        }
    };
    Ok(HttpResponse::Ok().json(TenantView::from(tenant)))
}

/// Delete a tenant with all its data.
///
/// Keys, machines, users, groups and audit events of the tenant are deleted; its keys stop
/// working at once. Requires the operator token.
#[utoipa::path(
    tag = "Tenants (operator)",
    params(("tenantId" = String, Path, description = "Tenant id")),
    security(("operator" = [])),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "No valid credential", body = ErrorBody),
        (status = 403, description = "An API key, not the operator token", body = ErrorBody),
        (status = 404, description = "No such tenant", body = ErrorBody),
    )
)]
#[delete("/{tenantId}")]
pub async fn delete_tenant(
    _op: Operator,
    store: web::Data<Store>,
    path: web::Path<String>,
) -> Result<HttpResponse, AdminApiError> {
    let id = tenant_id(&path)?;
    store
        .delete_tenant(&id)
        .await
        .map_err(|e| AdminApiError::from_store(e, TENANT))?;
    Ok(HttpResponse::NoContent().finish())
}
