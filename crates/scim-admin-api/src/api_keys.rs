//! `/api/{tenantId}/admin/apiKeys`: list, create, get, replace, delete, revoke, rotate.

use actix_web::{delete, get, post, put, web, HttpResponse};
use chrono::Utc;
use scim_auth::{
    admin::{ApiKeyRead, ApiKeyWrite},
    Admin, Scope,
};
use scim_service::{key_lifecycle, ChangeKey, CreateKey, RotateKey};
use scim_store::{Store, TenantId};

use crate::{
    dto::{
        ApiKeyView, CreateApiKeyBody, CreatedApiKey, ErrorBody, RotateApiKeyBody, UpdateApiKeyBody,
    },
    error::AdminApiError,
};

const KEY: &str = "API key not found";

/// The tenant's SCIM custom-attributes switch, shown on SCIM keys.
pub(crate) async fn switch(store: &Store, tenant: &TenantId) -> Result<bool, AdminApiError> {
    store
        .get_scim_settings(tenant)
        .await
        .map(|s| s.custom_attributes_enabled)
        .map_err(|e| AdminApiError::from_store(e, "Tenant not found"))
}

fn parse_scope(scope: Option<&str>) -> Result<Option<Scope>, AdminApiError> {
    match scope {
        None => Ok(None),
        Some(s) => Scope::parse(s).map(Some).ok_or_else(|| {
            AdminApiError::invalid(
                "unknown_scope",
                "scope",
                format!("unknown scope '{s}': use scim, on_premise or public_api"),
            )
        }),
    }
}

/// List the tenant's API keys.
///
/// Every key of the tenant with its status; values and hashes are never included.
/// Requires `tenant.apiKey:read`.
#[utoipa::path(
    tag = "API keys",
    params(("tenantId" = String, Path, description = "Tenant id")),
    security(("bearer" = ["tenant.apiKey:read"])),
    responses(
        (status = 200, description = "The keys", body = [ApiKeyView]),
        (status = 401, description = "No valid key", body = ErrorBody),
        (status = 403, description = "Missing tenant.apiKey:read", body = ErrorBody),
        (status = 404, description = "Not the caller's tenant", body = ErrorBody),
    )
)]
#[get("/apiKeys")]
pub async fn list_api_keys(
    admin: Admin<ApiKeyRead>,
    store: web::Data<Store>,
) -> Result<HttpResponse, AdminApiError> {
    let switch = switch(&store, &admin.tenant).await?;
    let now = Utc::now();
    let keys = store
        .list_api_keys(&admin.tenant, None)
        .await
        .map_err(|e| AdminApiError::from_store(e, KEY))?;
    let views =
        crate::expiry::views_with_warnings(&store, &admin.tenant, keys, switch, now).await?;
    Ok(HttpResponse::Ok().json(views))
}

/// Create an API key.
///
/// Generates a value from the operating system's CSPRNG, stores only its SHA-256 and returns
/// the value in this response only. `scope` defaults to `public_api`; a caller can never grant a
/// permission it does not hold itself (`403`). Requires `tenant.apiKey:write`.
#[utoipa::path(
    tag = "API keys",
    params(("tenantId" = String, Path, description = "Tenant id")),
    request_body = CreateApiKeyBody,
    security(("bearer" = ["tenant.apiKey:write"])),
    responses(
        (status = 201, description = "Created; `token` is shown this once", body = CreatedApiKey),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 401, description = "No valid key", body = ErrorBody),
        (status = 403, description = "Missing tenant.apiKey:write, or granting more than held", body = ErrorBody),
        (status = 404, description = "Not the caller's tenant", body = ErrorBody),
        (status = 409, description = "Name already in use", body = ErrorBody),
        (status = 422, description = "Invalid name, scope, permission, option, machine or lifetime", body = ErrorBody),
    )
)]
#[post("/apiKeys")]
pub async fn create_api_key(
    admin: Admin<ApiKeyWrite>,
    store: web::Data<Store>,
    body: crate::body::AdminJson<CreateApiKeyBody>,
) -> Result<HttpResponse, AdminApiError> {
    let body = body.into_inner();
    let name = body
        .name
        .ok_or_else(|| AdminApiError::invalid("missing_field", "name", "name is required"))?;
    let request = CreateKey {
        name,
        label: body.label,
        scope: parse_scope(body.scope.as_deref())?,
        enabled: body.enabled.unwrap_or(true),
        permissions: body.permissions,
        options: body.options,
        machine: body.machine,
        expires_in_days: body.expires_in_days,
    };
    let now = Utc::now();
    let (key, token) =
        key_lifecycle::create_key(&store, &admin.tenant, request, &admin.caller, now)
            .await
            .map_err(|e| AdminApiError::from_service(e, "Tenant not found"))?;
    let switch = switch(&store, &admin.tenant).await?;
    Ok(HttpResponse::Created()
        .insert_header(("Cache-Control", "no-store"))
        .json(CreatedApiKey {
            key: ApiKeyView::new(key, switch, now),
            token: token.expose().to_owned(),
        }))
}

/// Get one API key.
///
/// Requires `tenant.apiKey:read`.
#[utoipa::path(
    tag = "API keys",
    params(
        ("tenantId" = String, Path, description = "Tenant id"),
        ("keyName" = String, Path, description = "Key name"),
    ),
    security(("bearer" = ["tenant.apiKey:read"])),
    responses(
        (status = 200, description = "The key", body = ApiKeyView),
        (status = 401, description = "No valid key", body = ErrorBody),
        (status = 403, description = "Missing tenant.apiKey:read", body = ErrorBody),
        (status = 404, description = "No such key in the tenant", body = ErrorBody),
    )
)]
#[get("/apiKeys/{keyName}")]
pub async fn get_api_key(
    admin: Admin<ApiKeyRead>,
    store: web::Data<Store>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AdminApiError> {
    let (_, name) = path.into_inner();
    let key = store
        .get_api_key(&admin.tenant, &name)
        .await
        .map_err(|e| AdminApiError::from_store(e, KEY))?;
    let switch = switch(&store, &admin.tenant).await?;
    let views =
        crate::expiry::views_with_warnings(&store, &admin.tenant, vec![key], switch, Utc::now())
            .await?;
    match views.into_iter().next() {
        Some(view) => Ok(HttpResponse::Ok().json(view)),
        None => Err(AdminApiError::NotFound(KEY)),
    }
}

/// Update an API key.
///
/// Replaces `enabled` (required) and `permissions` (when given); changes `label` and `options`
/// only when present. The name, scope and value never change. Disabling takes effect on the
/// next request; a revoked key cannot be enabled (`409`). On a SCIM key,
/// `options.scimCustomAttributes` sets the tenant-wide switch, for every SCIM key at once.
/// Requires `tenant.apiKey:write`.
#[utoipa::path(
    tag = "API keys",
    params(
        ("tenantId" = String, Path, description = "Tenant id"),
        ("keyName" = String, Path, description = "Key name"),
    ),
    request_body = UpdateApiKeyBody,
    security(("bearer" = ["tenant.apiKey:write"])),
    responses(
        (status = 200, description = "Updated", body = ApiKeyView),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 401, description = "No valid key", body = ErrorBody),
        (status = 403, description = "Missing tenant.apiKey:write, or granting more than held", body = ErrorBody),
        (status = 404, description = "No such key in the tenant", body = ErrorBody),
        (status = 409, description = "The key is revoked", body = ErrorBody),
        (status = 422, description = "Invalid field", body = ErrorBody),
    )
)]
#[put("/apiKeys/{keyName}")]
pub async fn update_api_key(
    admin: Admin<ApiKeyWrite>,
    store: web::Data<Store>,
    path: web::Path<(String, String)>,
    body: crate::body::AdminJson<UpdateApiKeyBody>,
) -> Result<HttpResponse, AdminApiError> {
    let (_, name) = path.into_inner();
    let body = body.into_inner();
    let enabled = body
        .enabled
        .ok_or_else(|| AdminApiError::invalid("missing_field", "enabled", "enabled is required"))?;
    if body.name.as_ref().is_some_and(|n| *n != name) {
        return Err(AdminApiError::invalid(
            "immutable_field",
            "name",
            "a key's name cannot change",
        ));
    }
    let now = Utc::now();
    if let Some(scope) = &body.scope {
        let current = store
            .get_api_key(&admin.tenant, &name)
            .await
            .map_err(|e| AdminApiError::from_store(e, KEY))?;
        if *scope != current.scope {
            return Err(AdminApiError::invalid(
                "immutable_field",
                "scope",
                "a key's scope cannot change",
            ));
        }
    }
    let change = ChangeKey {
        enabled: Some(enabled),
        permissions: body.permissions,
        label: body.label,
        options: body.options,
    };
    let key = key_lifecycle::change_key(&store, &admin.tenant, &name, change, &admin.caller, now)
        .await
        .map_err(|e| AdminApiError::from_service(e, KEY))?;
    let switch = switch(&store, &admin.tenant).await?;
    Ok(HttpResponse::Ok().json(ApiKeyView::new(key, switch, now)))
}

/// Delete an API key.
///
/// The key stops working on the next request, on every scimd process. Requires
/// `tenant.apiKey:write`.
#[utoipa::path(
    tag = "API keys",
    params(
        ("tenantId" = String, Path, description = "Tenant id"),
        ("keyName" = String, Path, description = "Key name"),
    ),
    security(("bearer" = ["tenant.apiKey:write"])),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "No valid key", body = ErrorBody),
        (status = 403, description = "Missing tenant.apiKey:write", body = ErrorBody),
        (status = 404, description = "No such key in the tenant", body = ErrorBody),
    )
)]
#[delete("/apiKeys/{keyName}")]
pub async fn delete_api_key(
    admin: Admin<ApiKeyWrite>,
    store: web::Data<Store>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AdminApiError> {
    let (_, name) = path.into_inner();
    store
        .delete_api_key(&admin.tenant, &name, &admin.caller.actor, Utc::now())
        .await
        .map_err(|e| AdminApiError::from_store(e, KEY))?;
    Ok(HttpResponse::NoContent().finish())
}

/// Revoke an API key permanently.
///
/// The key stops working on the next request and can never be enabled again; it stays listed
/// (status `revoked`) until its purge date. Requires `tenant.apiKey:write`.
#[utoipa::path(
    tag = "API keys",
    params(
        ("tenantId" = String, Path, description = "Tenant id"),
        ("keyName" = String, Path, description = "Key name"),
    ),
    security(("bearer" = ["tenant.apiKey:write"])),
    responses(
        (status = 200, description = "Revoked", body = ApiKeyView),
        (status = 401, description = "No valid key", body = ErrorBody),
        (status = 403, description = "Missing tenant.apiKey:write", body = ErrorBody),
        (status = 404, description = "No such key in the tenant", body = ErrorBody),
        (status = 409, description = "Already revoked", body = ErrorBody),
    )
)]
#[post("/apiKeys/{keyName}/revoke")]
pub async fn revoke_api_key(
    admin: Admin<ApiKeyWrite>,
    store: web::Data<Store>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AdminApiError> {
    let (_, name) = path.into_inner();
    let now = Utc::now();
    let key = store
        .revoke_api_key(&admin.tenant, &name, &admin.caller.actor, now)
        .await
        .map_err(|e| AdminApiError::from_store(e, KEY))?;
    let switch = switch(&store, &admin.tenant).await?;
    Ok(HttpResponse::Ok().json(ApiKeyView::new(key, switch, now)))
}

/// Rotate an API key: issue a new value.
///
/// The new value is returned this once. The old value keeps working for
/// `gracePeriodMinutes` (default 0), so a connection can be switched without downtime. The
/// caller must hold every permission of the key. Revoked and expired keys cannot be rotated
/// (`409`). Requires `tenant.apiKey:write`.
#[utoipa::path(
    tag = "API keys",
    params(
        ("tenantId" = String, Path, description = "Tenant id"),
        ("keyName" = String, Path, description = "Key name"),
    ),
    request_body(content = Option<RotateApiKeyBody>, description = "Optional; may be empty"),
    security(("bearer" = ["tenant.apiKey:write"])),
    responses(
        (status = 200, description = "Rotated; `token` is shown this once", body = CreatedApiKey),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 401, description = "No valid key", body = ErrorBody),
        (status = 403, description = "Missing tenant.apiKey:write, or the key holds more than the caller", body = ErrorBody),
        (status = 404, description = "No such key in the tenant", body = ErrorBody),
        (status = 409, description = "Revoked or expired", body = ErrorBody),
        (status = 422, description = "Grace period or lifetime out of range", body = ErrorBody),
    )
)]
#[post("/apiKeys/{keyName}/rotate")]
pub async fn rotate_api_key(
    admin: Admin<ApiKeyWrite>,
    store: web::Data<Store>,
    path: web::Path<(String, String)>,
    body: web::Bytes,
) -> Result<HttpResponse, AdminApiError> {
    let (_, name) = path.into_inner();
    // An empty body and `null` both mean "the defaults".
    let body: RotateApiKeyBody = if body.iter().all(u8::is_ascii_whitespace) {
        RotateApiKeyBody::default()
    } else {
        let value: serde_json::Value =
            serde_json::from_slice(&body).map_err(|e| AdminApiError::BadRequest(e.to_string()))?;
        crate::body::refuse_nul(&value)?;
        match value {
            serde_json::Value::Null => RotateApiKeyBody::default(),
            value @ serde_json::Value::Object(_) => serde_json::from_value(value)
                .map_err(|e| AdminApiError::BadRequest(e.to_string()))?,
            _ => {
                return Err(AdminApiError::BadRequest(
                    "The body must be a JSON object".into(),
                ))
            }
        }
    };
    let now = Utc::now();
    let request = RotateKey {
        grace_minutes: body.grace_period_minutes,
        expires_in_days: body.expires_in_days,
    };
    let (key, token) =
        key_lifecycle::rotate_key(&store, &admin.tenant, &name, request, &admin.caller, now)
            .await
            .map_err(|e| AdminApiError::from_service(e, KEY))?;
    let switch = switch(&store, &admin.tenant).await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(CreatedApiKey {
            key: ApiKeyView::new(key, switch, now),
            token: token.expose().to_owned(),
        }))
}
