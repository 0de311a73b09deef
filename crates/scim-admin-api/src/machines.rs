//! `/api/{tenantId}/admin/machines`: service accounts and their keys.

use actix_web::{delete, get, patch, post, web, HttpResponse};
use chrono::Utc;
use scim_auth::{
    admin::{ApiKeyRead, MachineRead, MachineWrite},
    Admin,
};
use scim_store::Store;

use crate::{
    api_keys::switch,
    dto::{ApiKeyView, CreateMachineBody, ErrorBody, MachineView, PatchMachineBody},
    error::AdminApiError,
};

const MACHINE: &str = "Machine not found";

/// List the tenant's machines.
///
/// Requires `tenant.machine:read`.
#[utoipa::path(
    tag = "Machines",
    params(("tenantId" = String, Path, description = "Tenant id")),
    security(("bearer" = ["tenant.machine:read"])),
    responses(
        (status = 200, description = "The machines", body = [MachineView]),
        (status = 401, description = "No valid key", body = ErrorBody),
        (status = 403, description = "Missing tenant.machine:read", body = ErrorBody),
        (status = 404, description = "Not the caller's tenant", body = ErrorBody),
    )
)]
#[get("/machines")]
pub async fn list_machines(
    admin: Admin<MachineRead>,
    store: web::Data<Store>,
) -> Result<HttpResponse, AdminApiError> {
    let machines = store
        .list_machines(&admin.tenant)
        .await
        .map_err(|e| AdminApiError::from_store(e, MACHINE))?;
    let views: Vec<MachineView> = machines.into_iter().map(Into::into).collect();
    Ok(HttpResponse::Ok().json(views))
}

/// Create a machine (service account).
///
/// Requires `tenant.machine:write`.
#[utoipa::path(
    tag = "Machines",
    params(("tenantId" = String, Path, description = "Tenant id")),
    request_body = CreateMachineBody,
    security(("bearer" = ["tenant.machine:write"])),
    responses(
        (status = 201, description = "Created", body = MachineView),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 401, description = "No valid key", body = ErrorBody),
        (status = 403, description = "Missing tenant.machine:write", body = ErrorBody),
        (status = 404, description = "Not the caller's tenant", body = ErrorBody),
        (status = 409, description = "Name already in use", body = ErrorBody),
        (status = 422, description = "Invalid name", body = ErrorBody),
    )
)]
#[post("/machines")]
pub async fn create_machine(
    admin: Admin<MachineWrite>,
    store: web::Data<Store>,
    body: crate::body::AdminJson<CreateMachineBody>,
) -> Result<HttpResponse, AdminApiError> {
    let body = body.into_inner();
    let name = body
        .name
        .ok_or_else(|| AdminApiError::invalid("missing_field", "name", "name is required"))?;
    let machine = scim_service::machines::create_machine(
        &store,
        &admin.tenant,
        &name,
        body.description.as_deref(),
        &admin.caller.actor,
        Utc::now(),
    )
    .await
    .map_err(|e| AdminApiError::from_service(e, "Tenant not found"))?;
    Ok(HttpResponse::Created().json(MachineView::from(machine)))
}

/// Get one machine.
///
/// Requires `tenant.machine:read`.
#[utoipa::path(
    tag = "Machines",
    params(
        ("tenantId" = String, Path, description = "Tenant id"),
        ("machineId" = String, Path, description = "Machine id"),
    ),
    security(("bearer" = ["tenant.machine:read"])),
    responses(
        (status = 200, description = "The machine", body = MachineView),
        (status = 401, description = "No valid key", body = ErrorBody),
        (status = 403, description = "Missing tenant.machine:read", body = ErrorBody),
        (status = 404, description = "No such machine in the tenant", body = ErrorBody),
    )
)]
#[get("/machines/{machineId}")]
pub async fn get_machine(
    admin: Admin<MachineRead>,
    store: web::Data<Store>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AdminApiError> {
    let (_, id) = path.into_inner();
    let machine = store
        .get_machine(&admin.tenant, &id)
        .await
        .map_err(|e| AdminApiError::from_store(e, MACHINE))?;
    Ok(HttpResponse::Ok().json(MachineView::from(machine)))
}

/// Rename or re-describe a machine.
///
/// Absent fields stay as they are. Requires `tenant.machine:write`.
#[utoipa::path(
    tag = "Machines",
    params(
        ("tenantId" = String, Path, description = "Tenant id"),
        ("machineId" = String, Path, description = "Machine id"),
    ),
    request_body = PatchMachineBody,
    security(("bearer" = ["tenant.machine:write"])),
    responses(
        (status = 200, description = "Updated", body = MachineView),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 401, description = "No valid key", body = ErrorBody),
        (status = 403, description = "Missing tenant.machine:write", body = ErrorBody),
        (status = 404, description = "No such machine in the tenant", body = ErrorBody),
        (status = 409, description = "Name already in use", body = ErrorBody),
        (status = 422, description = "Invalid name", body = ErrorBody),
    )
)]
#[patch("/machines/{machineId}")]
pub async fn update_machine(
    admin: Admin<MachineWrite>,
    store: web::Data<Store>,
    path: web::Path<(String, String)>,
    body: crate::body::AdminJson<PatchMachineBody>,
) -> Result<HttpResponse, AdminApiError> {
    let (_, id) = path.into_inner();
    let body = body.into_inner();
    let machine = scim_service::machines::update_machine(
        &store,
        &admin.tenant,
        &id,
        body.name.as_deref(),
        body.description,
        &admin.caller.actor,
        Utc::now(),
    )
    .await
    .map_err(|e| AdminApiError::from_service(e, MACHINE))?;
    Ok(HttpResponse::Ok().json(MachineView::from(machine)))
}

/// Delete a machine and its keys.
///
/// Its keys stop working on the next request. Requires `tenant.machine:write`.
#[utoipa::path(
    tag = "Machines",
    params(
        ("tenantId" = String, Path, description = "Tenant id"),
        ("machineId" = String, Path, description = "Machine id"),
    ),
    security(("bearer" = ["tenant.machine:write"])),
    responses(
        (status = 204, description = "Deleted, with its keys"),
        (status = 401, description = "No valid key", body = ErrorBody),
        (status = 403, description = "Missing tenant.machine:write", body = ErrorBody),
        (status = 404, description = "No such machine in the tenant", body = ErrorBody),
    )
)]
#[delete("/machines/{machineId}")]
pub async fn delete_machine(
    admin: Admin<MachineWrite>,
    store: web::Data<Store>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AdminApiError> {
    let (_, id) = path.into_inner();
    store
        .delete_machine(&admin.tenant, &id, &admin.caller.actor, Utc::now())
        .await
        .map_err(|e| AdminApiError::from_store(e, MACHINE))?;
    Ok(HttpResponse::NoContent().finish())
}

/// List the keys of one machine.
///
/// An empty list when the machine has none. Requires `tenant.apiKey:read`.
#[utoipa::path(
    tag = "Machines",
    params(
        ("tenantId" = String, Path, description = "Tenant id"),
        ("machineId" = String, Path, description = "Machine id"),
    ),
    security(("bearer" = ["tenant.apiKey:read"])),
    responses(
        (status = 200, description = "The machine's keys (possibly none)", body = [ApiKeyView]),
        (status = 401, description = "No valid key", body = ErrorBody),
        (status = 403, description = "Missing tenant.apiKey:read", body = ErrorBody),
        (status = 404, description = "No such machine in the tenant", body = ErrorBody),
    )
)]
#[get("/machines/{machineId}/apiKeys")]
pub async fn list_machine_api_keys(
    admin: Admin<ApiKeyRead>,
    store: web::Data<Store>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AdminApiError> {
    let (_, id) = path.into_inner();
    store
        .get_machine(&admin.tenant, &id)
        .await
        .map_err(|e| AdminApiError::from_store(e, MACHINE))?;
    let switch = switch(&store, &admin.tenant).await?;
    let now = Utc::now();
    let keys = store
        .list_api_keys(&admin.tenant, Some(&id))
        .await
        .map_err(|e| AdminApiError::from_store(e, MACHINE))?;
    let views =
        crate::expiry::views_with_warnings(&store, &admin.tenant, keys, switch, now).await?;
    Ok(HttpResponse::Ok().json(views))
}
