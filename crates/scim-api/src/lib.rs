//! The `/scim/v2` endpoints of scimd (RFC 7644): Users, Groups and discovery.
//!
//! Handlers are thin: an authenticated [`scim_auth::ScimPrincipal`], one store call, a
//! response. Errors become SCIM error bodies in `error.rs` only.

// On the request path a panic must never be a request's normal failure: no lossy casts, no
// indexing that can go out of bounds (issue 18).
#![deny(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap,
    clippy::indexing_slicing
)]

mod activity;
mod body;
mod bulk;
mod conditional;
mod discovery;
mod error;
pub mod oauth;
mod query;
mod rate_limit;
mod resources;
pub mod set_delivery;
mod streamed;

use actix_web::{web, HttpRequest, HttpResponse};
use scim_model::{discovery::Capabilities, ResourceKind, SchemaRegistry, ScimError};
use scim_store::Store;

pub use error::ScimApiError;
pub use rate_limit::{RateLimit, RateLimiter};
pub use scim_service::TenantSchemas;

/// The media type of every SCIM response.
pub const SCIM_JSON: &str = "application/scim+json";

/// Everything the SCIM endpoints need, registered once as `web::Data`.
#[derive(Debug)]
pub struct ScimState {
    /// The database.
    pub store: Store,
    /// The core schema definitions; a request sees them through its tenant's registry
    /// ([`ScimCaller::registry`]), which adds the tenant's custom extension.
    pub registry: SchemaRegistry,
    /// Tenants' registries and the undeclared custom attributes reported today.
    pub tenant_schemas: TenantSchemas,
    /// Largest accepted request body.
    pub max_body_bytes: usize,
    /// Page size when `count` is absent.
    pub default_page_size: u64,
    /// Largest page (`filter.maxResults`).
    pub max_page_size: u64,
    /// Largest group whose PATCH response carries the group (larger ones answer `204`).
    pub group_patch_member_limit: u64,
    /// Most operations one `/Bulk` request may hold.
    pub bulk_max_operations: usize,
    /// Per-tenant request budget.
    pub rate_limiter: RateLimiter,
    /// Access tokens issued per key (OAuth client) at the token endpoint.
    pub token_limiter: RateLimiter,
    /// Limits on filter text (length, nesting, nodes).
    pub filter_limits: scim_filter_parser::Limits,
    /// Externally visible base URL of the service (`https://host`), if configured; otherwise
    /// taken from the request.
    pub public_url: Option<String>,
    /// Whether SCIM changes capture provisioning events (`SCIMD_EVENTS_CAPTURE`, on by
    /// default).
    pub capture_events: bool,
}

impl ScimState {
    /// The SCIM base URL (`…/scim/v2`) for links in responses.
    pub fn base_url(&self, req: &HttpRequest) -> String {
        match &self.public_url {
            Some(url) => format!("{}/scim/v2", url.trim_end_matches('/')),
            None => {
                let info = scim_auth::client_info(req);
                format!("{}://{}/scim/v2", info.scheme, info.host)
            }
        }
    }

    /// What `/ServiceProviderConfig` advertises.
    pub fn capabilities(&self) -> Capabilities {
        Capabilities {
            max_results: self.max_page_size,
            default_page_size: self.default_page_size,
            max_payload_bytes: self.max_body_bytes as u64,
            bulk_max_operations: self.bulk_max_operations as u64,
            patch: true,
            sort: true,
        }
    }
}

/// An authenticated caller within its tenant's rate limit, with its tenant's schema registry:
/// what every tenant-data handler takes. Dereferences to the
/// [`ScimPrincipal`](scim_auth::ScimPrincipal).
pub struct ScimCaller {
    principal: scim_auth::ScimPrincipal,
    registry: std::sync::Arc<SchemaRegistry>,
    /// Who this caller is and which request this is, for the events of its changes.
    origin: scim_store::ChangeOrigin,
    /// What this request's activity record will say (filled by the handlers).
    note: std::sync::Arc<scim_service::activity::Note>,
    /// The events rule, noting the attributes each change touched in `note`.
    emit: Box<EmitFn>,
}

impl std::fmt::Debug for ScimCaller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScimCaller")
            .field("principal", &self.principal)
            .field("origin", &self.origin)
            .finish_non_exhaustive()
    }
}

/// The service's events rule, as the store's capture takes it.
type EmitFn = dyn Fn(&scim_store::Written<'_>) -> Vec<scim_store::NewEvent> + Sync + Send + 'static;

impl ScimCaller {
    /// The schemas this request sees: the core ones and, when the tenant switch is on, the
    /// tenant's custom User extension (read from the database for this request).
    pub fn registry(&self) -> &SchemaRegistry {
        &self.registry
    }

    /// What this request's activity record will say.
    pub(crate) fn note(&self) -> &scim_service::activity::Note {
        &self.note
    }
}

impl ScimCaller {
    /// The service's writer for this caller's changes.
    pub(crate) fn writer<'a>(&'a self, state: &'a ScimState) -> scim_service::ScimWriter<'a> {
        scim_service::ScimWriter {
            store: &state.store,
            schemas: &state.tenant_schemas,
            tenant: &self.principal.tenant,
            key_id: &self.principal.key_id,
            key_name: &self.principal.key_name,
            registry: &self.registry,
            origin: &self.origin,
            capture_events: state.capture_events,
            emit: &*self.emit,
        }
    }
}

impl std::ops::Deref for ScimCaller {
    type Target = scim_auth::ScimPrincipal;

    fn deref(&self) -> &Self::Target {
        &self.principal
    }
}

impl actix_web::FromRequest for ScimCaller {
    type Error = actix_web::Error;
    type Future = std::pin::Pin<Box<dyn std::future::Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut actix_web::dev::Payload) -> Self::Future {
        let principal = scim_auth::ScimPrincipal::from_request(req, payload);
        let state = req.app_data::<web::Data<ScimState>>().cloned();
        let request_id = scim_auth::request_id(req);
        let note = activity::note_of(req);
        Box::pin(async move {
            let principal = principal.await?;
            let Some(state) = state else {
                tracing::error!("ScimState is not registered as app data");
                return Err(ScimApiError::from(ScimError::internal()).into());
            };
            if let Err(wait) = state
                .rate_limiter
                .check(principal.tenant.as_str(), std::time::Instant::now())
            {
                return Err(ScimApiError::rate_limited(scim_auth::ceil_secs(wait)).into());
            }
            // The switch was read with the key, in the same statement; the declaration is read
            // only when this process has not parsed it yet.
            let registry = state
                .tenant_schemas
                .registry(
                    &state.store,
                    &state.registry,
                    &principal.tenant,
                    &principal.scim_switch,
                )
                .await
                .map_err(ScimApiError::from)?;
            let actor = match &principal.client_id {
                Some(client_id) => scim_store::EventActor {
                    kind: "client".into(),
                    name: client_id.clone(),
                },
                None => scim_store::EventActor {
                    kind: "key".into(),
                    name: principal.key_name.clone(),
                },
            };
            let keep_data = principal.scim_switch.events_full_data;
            let sink = note.clone();
            let emit = Box::new(move |written: &scim_store::Written<'_>| {
                let events = scim_service::events::emit(written);
                sink.add_attributes(events.iter().flat_map(|e| e.attributes.iter().cloned()));
                events
            });
            Ok(ScimCaller {
                note,
                emit,
                principal,
                registry,
                origin: scim_store::ChangeOrigin {
                    actor,
                    request_id,
                    keep_data,
                },
            })
        })
    }
}

/// Registers `/scim/v2` on an app or scope.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/scim/v2")
            .wrap(actix_web::middleware::from_fn(activity::record))
            .service(
                web::resource("/Bulk")
                    .post(bulk::post_bulk)
                    .default_service(not_allowed("POST")),
            )
            .service(
                web::resource("/.search")
                    .post(resources::search_all)
                    .default_service(not_allowed("POST")),
            )
            .service(resource_scope(ResourceKind::User))
            .service(resource_scope(ResourceKind::Group))
            .service(
                web::resource("/ServiceProviderConfig")
                    .get(discovery::get_service_provider_config)
                    .default_service(not_allowed("GET")),
            )
            .service(
                web::resource("/ResourceTypes")
                    .get(discovery::list_resource_types)
                    .default_service(not_allowed("GET")),
            )
            .service(
                web::resource("/ResourceTypes/{name}")
                    .get(discovery::get_resource_type)
                    .default_service(not_allowed("GET")),
            )
            .service(
                web::resource("/Schemas")
                    .get(discovery::list_schemas)
                    .default_service(not_allowed("GET")),
            )
            .service(
                web::resource("/Schemas/{id}")
                    .get(discovery::get_schema)
                    .default_service(not_allowed("GET")),
            )
            .default_service(web::to(not_found)),
    );
}

fn resource_scope(kind: ResourceKind) -> actix_web::Scope {
    web::scope(kind.endpoint())
        .app_data(web::Data::new(kind))
        .service(
            web::resource("/.search")
                .post(resources::search_resources)
                .default_service(not_allowed("POST")),
        )
        .service(
            web::resource("")
                .get(resources::list_resources)
                .post(resources::create_resource)
                .default_service(not_allowed("GET, POST")),
        )
        .service(
            web::resource("/{id}")
                .get(resources::get_resource)
                .put(resources::replace_resource)
                .patch(resources::patch_resource)
                .delete(resources::delete_resource)
                .default_service(not_allowed("GET, PUT, PATCH, DELETE")),
        )
}

async fn not_found() -> Result<HttpResponse, ScimApiError> {
    Err(ScimError::not_found("No such SCIM endpoint").into())
}

/// The default service of an endpoint that takes only the methods `allow`: `405` with
/// `Allow` (RFC 9110 §15.5.6).
fn not_allowed(allow: &'static str) -> actix_web::Route {
    web::to(move || async move { Err::<HttpResponse, _>(ScimApiError::method_not_allowed(allow)) })
}
