//! `/api/{tenantId}/admin/apiKeys/{keyName}/federation`: the federated credential of a SCIM
//! key (workload identity federation, issue 19): whose signed tokens the token endpoint takes
//! instead of the key's value.

use actix_web::{delete, get, put, web, HttpResponse};
use chrono::Utc;
use scim_auth::{
    admin::{ApiKeyRead, ApiKeyWrite},
    Admin,
};
use scim_service::federation::{credential_of, FederatedCredential, JwksHosts};
use scim_store::Store;

use crate::{dto::ErrorBody, error::AdminApiError};

const KEY: &str = "No such key in this tenant";
const NONE: &str = "This key has no federated credential";

/// A federated credential: the identity provider's tokens with this issuer, subject and one
/// of these audiences, signed by a key of this JWKS, authenticate the key's client.
#[derive(Debug, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FederationBody {
    /// The `iss` of the assertions (Entra ID: `https://login.microsoftonline.com/{tenant}/v2.0`).
    #[schema(
        example = "https://login.microsoftonline.com/00000000-0000-0000-0000-000000000000/v2.0",
        min_length = 1,
        max_length = 1024
    )]
    pub issuer: String,
    /// The issuer's signing keys (JWKS), on a host of `SCIMD_FEDERATION_JWKS_HOSTS`, `https`.
    #[schema(
        example = "https://login.microsoftonline.com/00000000-0000-0000-0000-000000000000/discovery/v2.0/keys",
        min_length = 1,
        max_length = 1024
    )]
    pub jwks_uri: String,
    /// The `sub` of the assertions (Entra ID: the object id of the identity that provisions).
    #[schema(min_length = 1, max_length = 1024)]
    pub subject: String,
    /// Accepted `aud` values (1–10): an assertion must name one of them.
    #[schema(min_items = 1, max_items = 10)]
    pub audiences: Vec<String>,
}

impl From<FederatedCredential> for FederationBody {
    fn from(c: FederatedCredential) -> Self {
        Self {
            issuer: c.issuer,
            jwks_uri: c.jwks_uri,
            subject: c.subject,
            audiences: c.audiences,
        }
    }
}

/// Get a key's federated credential.
///
/// `404` when the key has none. Requires `tenant.apiKey:read`.
#[utoipa::path(
    tag = "API keys",
    params(
        ("tenantId" = String, Path, description = "Tenant id"),
        ("keyName" = String, Path, description = "Key name"),
    ),
    security(("bearer" = ["tenant.apiKey:read"])),
    responses(
        (status = 200, description = "The credential", body = FederationBody),
        (status = 401, description = "No valid key", body = ErrorBody),
        (status = 403, description = "Missing tenant.apiKey:read", body = ErrorBody),
        (status = 404, description = "No such key, or no credential on it", body = ErrorBody),
    )
)]
#[get("/apiKeys/{keyName}/federation")]
pub async fn get_federation(
    admin: Admin<ApiKeyRead>,
    store: web::Data<Store>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AdminApiError> {
    let (_, name) = path.into_inner();
    let key = store
        .get_api_key(&admin.tenant, &name)
        .await
        .map_err(|e| AdminApiError::from_store(e, KEY))?;
    let credential = credential_of(&key).ok_or(AdminApiError::NotFound(NONE))?;
    Ok(HttpResponse::Ok().json(FederationBody::from(credential)))
}

/// Set a key's federated credential.
///
/// Only a `scim` key may carry one (`409 scope_mismatch` otherwise). The key keeps accepting
/// its value as client secret. The JWKS host must be in `SCIMD_FEDERATION_JWKS_HOSTS`
/// (`422 jwks_host_not_allowed`); nothing is fetched until a token request needs it. Audited.
/// Requires `tenant.apiKey:write`.
#[utoipa::path(
    tag = "API keys",
    params(
        ("tenantId" = String, Path, description = "Tenant id"),
        ("keyName" = String, Path, description = "Key name"),
    ),
    request_body = FederationBody,
    security(("bearer" = ["tenant.apiKey:write"])),
    responses(
        (status = 200, description = "The credential", body = FederationBody),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 401, description = "No valid key", body = ErrorBody),
        (status = 403, description = "Missing tenant.apiKey:write", body = ErrorBody),
        (status = 404, description = "No such key in the tenant", body = ErrorBody),
        (status = 409, description = "Not a scim key", body = ErrorBody),
        (status = 422, description = "Invalid credential or JWKS host not allowed", body = ErrorBody),
    )
)]
#[put("/apiKeys/{keyName}/federation")]
pub async fn put_federation(
    admin: Admin<ApiKeyWrite>,
    store: web::Data<Store>,
    hosts: web::Data<JwksHosts>,
    path: web::Path<(String, String)>,
    body: crate::body::AdminJson<FederationBody>,
) -> Result<HttpResponse, AdminApiError> {
    let (_, name) = path.into_inner();
    let body = body.into_inner();
    let credential = FederatedCredential {
        issuer: body.issuer,
        jwks_uri: body.jwks_uri,
        subject: body.subject,
        audiences: body.audiences,
    };
    let key = scim_service::federation::set_federation(
        &store,
        &admin.tenant,
        &name,
        credential,
        &hosts,
        &admin.caller,
        Utc::now(),
    )
    .await
    .map_err(|e| AdminApiError::from_service(e, KEY))?;
    let credential = credential_of(&key).ok_or(AdminApiError::Internal)?;
    Ok(HttpResponse::Ok().json(FederationBody::from(credential)))
}

/// Remove a key's federated credential.
///
/// Assertions stop working at once; the key's value still works. Audited. Requires
/// `tenant.apiKey:write`.
#[utoipa::path(
    tag = "API keys",
    params(
        ("tenantId" = String, Path, description = "Tenant id"),
        ("keyName" = String, Path, description = "Key name"),
    ),
    security(("bearer" = ["tenant.apiKey:write"])),
    responses(
        (status = 204, description = "Removed"),
        (status = 401, description = "No valid key", body = ErrorBody),
        (status = 403, description = "Missing tenant.apiKey:write", body = ErrorBody),
        (status = 404, description = "No such key, or no credential on it", body = ErrorBody),
    )
)]
#[delete("/apiKeys/{keyName}/federation")]
pub async fn delete_federation(
    admin: Admin<ApiKeyWrite>,
    store: web::Data<Store>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AdminApiError> {
    let (_, name) = path.into_inner();
    scim_service::federation::clear_federation(
        &store,
        &admin.tenant,
        &name,
        &admin.caller,
        Utc::now(),
    )
    .await
    .map_err(|e| {
        AdminApiError::from_service(
            e,
            "No such key in this tenant, or no federated credential on it",
        )
    })?;
    Ok(HttpResponse::NoContent().finish())
}
