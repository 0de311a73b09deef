//! `/api/{tenantId}/admin/settings/scim`: the tenant-wide custom-attributes switch and the
//! custom extension schema (RFC 7643 §7 representation), checked before it is stored.

use actix_web::{get, put, web, HttpResponse};
use chrono::Utc;
use scim_auth::{
    admin::{SettingsRead, SettingsWrite},
    Admin,
};
use scim_store::{ScimSettings, Store};
use serde_json::json;

use crate::{
    dto::{ErrorBody, ScimSettingsBody},
    error::AdminApiError,
};

fn view(settings: ScimSettings) -> serde_json::Value {
    json!({
        "customAttributesEnabled": settings.custom_attributes_enabled,
        "customSchema": settings
            .custom_schema
            .unwrap_or_else(scim_model::custom::default_declaration),
    })
}

/// Get the tenant's SCIM settings.
///
/// `customAttributesEnabled` is the switch shown on every SCIM key as
/// `options.scimCustomAttributes`. Requires `tenant.settings:read`.
#[utoipa::path(
    tag = "Settings",
    params(("tenantId" = String, Path, description = "Tenant id")),
    security(("bearer" = ["tenant.settings:read"])),
    responses(
        (status = 200, description = "The settings", body = ScimSettingsBody),
        (status = 401, description = "No valid key", body = ErrorBody),
        (status = 403, description = "Missing tenant.settings:read", body = ErrorBody),
        (status = 404, description = "Not the caller's tenant", body = ErrorBody),
    )
)]
#[get("/settings/scim")]
pub async fn get_scim_settings(
    admin: Admin<SettingsRead>,
    store: web::Data<Store>,
) -> Result<HttpResponse, AdminApiError> {
    let settings = store
        .get_scim_settings(&admin.tenant)
        .await
        .map_err(|e| AdminApiError::from_store(e, "Tenant not found"))?;
    Ok(HttpResponse::Ok().json(view(settings)))
}

/// Replace the tenant's SCIM settings.
///
/// The whole object is replaced: `customAttributesEnabled` is required; a missing or `null`
/// `customSchema` resets the schema to the default (no attributes). A declaration that values
/// already stored under its URN do not fit (a type change, say) is refused with `409
/// declaration_conflicts_with_data` naming the user and the attribute. The change holds for
/// every SCIM and on-premise key of the tenant from the next request on. Requires
/// `tenant.settings:write`.
#[utoipa::path(
    tag = "Settings",
    params(("tenantId" = String, Path, description = "Tenant id")),
    request_body = ScimSettingsBody,
    security(("bearer" = ["tenant.settings:write"])),
    responses(
        (status = 200, description = "The new settings", body = ScimSettingsBody),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 401, description = "No valid key", body = ErrorBody),
        (status = 403, description = "Missing tenant.settings:write", body = ErrorBody),
        (status = 404, description = "Not the caller's tenant", body = ErrorBody),
        (status = 409, description = "Stored values do not fit the declaration \
            (`declaration_conflicts_with_data`), or a custom attribute has the name of an \
            enterprise User attribute (`attribute_name_taken`)", body = ErrorBody),
        (status = 422, description = "Invalid schema", body = ErrorBody),
    )
)]
#[put("/settings/scim")]
pub async fn put_scim_settings(
    admin: Admin<SettingsWrite>,
    store: web::Data<Store>,
    body: crate::body::AdminJson<ScimSettingsBody>,
) -> Result<HttpResponse, AdminApiError> {
    let body = body.into_inner();
    let enabled = body.custom_attributes_enabled.ok_or_else(|| {
        AdminApiError::invalid(
            "missing_field",
            "customAttributesEnabled",
            "customAttributesEnabled is required",
        )
    })?;
    let schema = body.custom_schema.filter(|s| !s.is_null());
    let settings = scim_service::settings::put_scim_settings(
        &store,
        &admin.tenant,
        ScimSettings {
            custom_attributes_enabled: enabled,
            custom_schema: schema,
        },
        &admin.caller.actor,
        Utc::now(),
    )
    .await
    .map_err(|e| AdminApiError::from_service(e, "Tenant not found"))?;
    Ok(HttpResponse::Ok().json(view(settings)))
}

/// The tenant's own contact settings: who receives the expiry warnings, in which language.
#[derive(Debug, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TenantSettingsBody {
    /// The global admin's e-mail address: expiry warnings go there (`null`: none, and the
    /// warnings are recorded as undeliverable). Required in a PUT (`null` allowed).
    #[schema(format = Email, max_length = 254)]
    pub admin_email: Option<String>,
    /// The language of the e-mails. Required in a PUT.
    #[schema(value_type = String, required = true, pattern = "^(en|fr)$")]
    pub locale: Option<String>,
}

/// Get the tenant's admin e-mail and locale.
///
/// Requires `tenant.settings:read`.
#[utoipa::path(
    tag = "Settings",
    params(("tenantId" = String, Path, description = "Tenant id")),
    security(("bearer" = ["tenant.settings:read"])),
    responses(
        (status = 200, description = "The settings", body = TenantSettingsBody),
        (status = 401, description = "No valid key", body = ErrorBody),
        (status = 403, description = "Missing tenant.settings:read", body = ErrorBody),
        (status = 404, description = "Not the caller's tenant", body = ErrorBody),
    )
)]
#[get("/settings/tenant")]
pub async fn get_tenant_settings(
    admin: Admin<SettingsRead>,
    store: web::Data<Store>,
) -> Result<HttpResponse, AdminApiError> {
    let tenant = store
        .get_tenant(&admin.tenant)
        .await
        .map_err(|e| AdminApiError::from_store(e, "Tenant not found"))?;
    Ok(HttpResponse::Ok().json(TenantSettingsBody {
        admin_email: tenant.admin_email,
        locale: Some(tenant.locale),
    }))
}

/// Replace the tenant's admin e-mail and locale.
///
/// Both fields are replaced (`adminEmail: null` removes the address; the expiry warnings are
/// then recorded as undeliverable). Requires `tenant.settings:write`.
#[utoipa::path(
    tag = "Settings",
    params(("tenantId" = String, Path, description = "Tenant id")),
    request_body = TenantSettingsBody,
    security(("bearer" = ["tenant.settings:write"])),
    responses(
        (status = 200, description = "The new settings", body = TenantSettingsBody),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 401, description = "No valid key", body = ErrorBody),
        (status = 403, description = "Missing tenant.settings:write", body = ErrorBody),
        (status = 404, description = "Not the caller's tenant", body = ErrorBody),
        (status = 422, description = "Invalid e-mail or locale", body = ErrorBody),
    )
)]
#[put("/settings/tenant")]
pub async fn put_tenant_settings(
    admin: Admin<SettingsWrite>,
    store: web::Data<Store>,
    body: crate::body::AdminJson<TenantSettingsBody>,
) -> Result<HttpResponse, AdminApiError> {
    let body = body.into_inner();
    let locale = body.locale.ok_or_else(|| {
        AdminApiError::invalid("missing_field", "locale", "locale is required (en or fr)")
    })?;
    let tenant = scim_service::tenants::set_contact(
        &store,
        &admin.tenant,
        body.admin_email,
        &locale,
        &admin.caller.actor,
        Utc::now(),
    )
    .await
    .map_err(|e| AdminApiError::from_service(e, "Tenant not found"))?;
    Ok(HttpResponse::Ok().json(TenantSettingsBody {
        admin_email: tenant.admin_email,
        locale: Some(tenant.locale),
    }))
}

/// The tenant's OAuth 2.0 settings (the token endpoint `POST /oauth2/{tenantId}/token`).
#[derive(Debug, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OAuthSettingsBody {
    /// Lifetime of the access tokens issued from now on, in seconds: 3600–21600 (1 to 6
    /// hours; Microsoft Entra ID's validation asks for 60–360 minutes). A token never outlives
    /// its key. Required in a PUT.
    #[schema(value_type = i64, required = true, minimum = 3600, maximum = 21600, example = 3600)]
    pub access_token_lifetime_seconds: Option<i64>,
}

/// Get the tenant's OAuth settings.
///
/// Requires `tenant.settings:read`.
#[utoipa::path(
    tag = "Settings",
    params(("tenantId" = String, Path, description = "Tenant id")),
    security(("bearer" = ["tenant.settings:read"])),
    responses(
        (status = 200, description = "The settings", body = OAuthSettingsBody),
        (status = 401, description = "No valid key", body = ErrorBody),
        (status = 403, description = "Missing tenant.settings:read", body = ErrorBody),
        (status = 404, description = "Not the caller's tenant", body = ErrorBody),
    )
)]
#[get("/settings/oauth")]
pub async fn get_oauth_settings(
    admin: Admin<SettingsRead>,
    store: web::Data<Store>,
) -> Result<HttpResponse, AdminApiError> {
    let settings = store
        .get_oauth_settings(&admin.tenant)
        .await
        .map_err(|e| AdminApiError::from_store(e, "Tenant not found"))?;
    Ok(HttpResponse::Ok().json(OAuthSettingsBody {
        access_token_lifetime_seconds: Some(i64::from(settings.access_token_lifetime_secs)),
    }))
}

/// Replace the tenant's OAuth settings.
///
/// The new lifetime holds for tokens issued from now on; tokens already issued keep theirs.
/// Requires `tenant.settings:write`.
#[utoipa::path(
    tag = "Settings",
    params(("tenantId" = String, Path, description = "Tenant id")),
    request_body = OAuthSettingsBody,
    security(("bearer" = ["tenant.settings:write"])),
    responses(
        (status = 200, description = "The new settings", body = OAuthSettingsBody),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 401, description = "No valid key", body = ErrorBody),
        (status = 403, description = "Missing tenant.settings:write", body = ErrorBody),
        (status = 404, description = "Not the caller's tenant", body = ErrorBody),
        (status = 422, description = "Lifetime missing or outside 3600–21600", body = ErrorBody),
    )
)]
#[put("/settings/oauth")]
pub async fn put_oauth_settings(
    admin: Admin<SettingsWrite>,
    store: web::Data<Store>,
    body: crate::body::AdminJson<OAuthSettingsBody>,
) -> Result<HttpResponse, AdminApiError> {
    let lifetime = body
        .into_inner()
        .access_token_lifetime_seconds
        .ok_or_else(|| {
            AdminApiError::invalid(
                "missing_field",
                "accessTokenLifetimeSeconds",
                "accessTokenLifetimeSeconds is required",
            )
        })?;
    let settings = scim_service::oauth::put_oauth_settings(
        &store,
        &admin.tenant,
        lifetime,
        &admin.caller,
        Utc::now(),
    )
    .await
    .map_err(|e| AdminApiError::from_service(e, "Tenant not found"))?;
    Ok(HttpResponse::Ok().json(OAuthSettingsBody {
        access_token_lifetime_seconds: Some(i64::from(settings.access_token_lifetime_secs)),
    }))
}
