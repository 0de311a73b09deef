//! Discovery endpoints: `/ServiceProviderConfig`, `/ResourceTypes`, `/Schemas`.
//!
//! They need no key (RFC 7644 §4 lets clients discover, among other things, the authentication
//! scheme before they authenticate); without one they show the core schemas only and reveal
//! nothing about any tenant. With a usable SCIM key, `/Schemas` and `/ResourceTypes` are the
//! key's tenant's: its custom User extension appears while the tenant switch is on.

use std::sync::Arc;

use actix_web::{http::header, web, FromRequest, HttpRequest, HttpResponse};
use scim_model::{
    discovery::{resource_type, service_provider_config},
    list::list_response,
    ResourceKind, SchemaRegistry, ScimError,
};

use crate::{error::ScimApiError, ScimCaller, ScimState, SCIM_JSON};

/// The registry the caller sees: its tenant's when it sent a usable key, else the core one.
/// Anonymous requests do not try to authenticate (so they never count as failures).
async fn registry_of(state: &ScimState, req: &HttpRequest) -> Arc<SchemaRegistry> {
    if req.headers().contains_key(header::AUTHORIZATION) {
        if let Ok(caller) = ScimCaller::extract(req).await {
            return caller.registry;
        }
    }
    Arc::new(state.registry.clone())
}

type ApiResult = Result<HttpResponse, ScimApiError>;

fn ok(body: serde_json::Value) -> ApiResult {
    Ok(HttpResponse::Ok().content_type(SCIM_JSON).json(body))
}

/// `GET /ServiceProviderConfig`.
pub async fn get_service_provider_config(
    state: web::Data<ScimState>,
    req: HttpRequest,
) -> ApiResult {
    let mut config = service_provider_config(&state.capabilities(), &state.base_url(&req));
    // RFC 9967 §4: the events scimd's event streams carry, told to a tenant that has event
    // streams (asked with its key). Not to everyone: SCIM clients that validate this document
    // strictly against RFC 7643 (scim2-models' pydantic schema, for one) refuse an attribute
    // they do not know, and a tenant without streams has no use for it.
    if req.headers().contains_key(header::AUTHORIZATION) {
        if let Ok(caller) = ScimCaller::extract(&req).await {
            let streams = state.store.list_event_streams(&caller.tenant).await;
            if streams.is_ok_and(|s| !s.is_empty()) {
                if let Some(map) = config.as_object_mut() {
                    map.insert(
                        "securityEvents".into(),
                        scim_service::security_events::service_provider_config(),
                    );
                }
            }
        }
    }
    ok(config)
}

/// `GET /ResourceTypes`.
pub async fn list_resource_types(state: web::Data<ScimState>, req: HttpRequest) -> ApiResult {
    let base = state.base_url(&req);
    let registry = registry_of(&state, &req).await;
    let all: Vec<_> = [ResourceKind::User, ResourceKind::Group]
        .into_iter()
        .map(|k| resource_type(&registry, k, &base))
        .collect();
    ok(list_response(all.len() as u64, 1, all))
}

/// `GET /ResourceTypes/{name}`.
pub async fn get_resource_type(
    state: web::Data<ScimState>,
    req: HttpRequest,
    name: web::Path<String>,
) -> ApiResult {
    let kind = ResourceKind::parse(&name)
        .ok_or_else(|| ScimError::not_found(format!("No resource type '{name}'")))?;
    let registry = registry_of(&state, &req).await;
    ok(resource_type(&registry, kind, &state.base_url(&req)))
}

/// `GET /Schemas`.
pub async fn list_schemas(state: web::Data<ScimState>, req: HttpRequest) -> ApiResult {
    let base = state.base_url(&req);
    let registry = registry_of(&state, &req).await;
    let all: Vec<_> = registry.all().iter().map(|s| s.to_json(&base)).collect();
    ok(list_response(all.len() as u64, 1, all))
}

/// `GET /Schemas/{urn}`.
pub async fn get_schema(
    state: web::Data<ScimState>,
    req: HttpRequest,
    id: web::Path<String>,
) -> ApiResult {
    let registry = registry_of(&state, &req).await;
    let schema = registry
        .by_id(&id)
        .ok_or_else(|| ScimError::not_found(format!("No schema '{id}'")))?;
    ok(schema.to_json(&state.base_url(&req)))
}
