//! The admin API of scimd (DESIGN §4): `/api/{tenantId}/admin/...` for tenant administrators
//! (keys, machines, SCIM settings, audit) and `/api/tenants` for the operator, plus the OpenAPI
//! document (`/api/openapi.json`) and an offline docs UI (`/api/docs`).
//!
//! Routes are registered through `utoipa-actix-web`, so the document is collected from the very
//! scope that is mounted: a route cannot exist undocumented. Handlers are thin: an
//! [`scim_auth::Admin`] extractor naming the permission, one store (or key-rule) call, a JSON
//! answer. Errors become `{ "error": { "code", "message", "field"? } }` in `error.rs` only.

// On the request path a panic must never be a request's normal failure: no lossy casts, no
// indexing that can go out of bounds (issue 18).
#![deny(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap,
    clippy::indexing_slicing
)]

mod activity;
mod api_keys;
mod audit;
mod body;
mod docs;
mod dto;
mod error;
mod event_streams;
mod events;
mod expiry;
mod federation;
mod machines;
mod responses;
mod settings;
mod tenants;
mod webhooks;

use actix_web::{web, HttpRequest, HttpResponse};
use utoipa::{
    openapi::security::{Http, HttpAuthScheme, SecurityScheme},
    Modify, OpenApi,
};
use utoipa_actix_web::{scope, OpenApiFactory};

pub use error::AdminApiError;
pub use event_streams::PublicUrl;

/// Largest admin request body.
const MAX_BODY_BYTES: usize = 256 * 1024;

fn json_config() -> web::JsonConfig {
    web::JsonConfig::default()
        .limit(MAX_BODY_BYTES)
        .error_handler(|err, _| {
            use actix_web::error::JsonPayloadError;
            match err {
                JsonPayloadError::Overflow { .. }
                | JsonPayloadError::OverflowKnownLength { .. } => {
                    AdminApiError::PayloadTooLarge.into()
                }
                other => AdminApiError::BadRequest(other.to_string()).into(),
            }
        })
}

fn query_config() -> web::QueryConfig {
    web::QueryConfig::default()
        .error_handler(|err, _| AdminApiError::BadRequest(err.to_string()).into())
}

/// Path shapes of the routes below `/api/{tenantId}/admin` and `/api/tenants` (`*` = one
/// segment) and the methods each takes, to tell a wrong method (`405` with `Allow`, RFC 9110
/// §15.5.6) from a wrong path (`404`).
const ADMIN_SHAPES: &[(&str, &str)] = &[
    ("apiKeys", "GET, POST"),
    ("apiKeys/*", "GET, PUT, DELETE"),
    ("apiKeys/*/revoke", "POST"),
    ("apiKeys/*/rotate", "POST"),
    ("apiKeys/*/federation", "GET, PUT, DELETE"),
    ("machines", "GET, POST"),
    ("machines/*", "GET, PATCH, DELETE"),
    ("machines/*/apiKeys", "GET"),
    ("settings/scim", "GET, PUT"),
    ("settings/tenant", "GET, PUT"),
    ("settings/oauth", "GET, PUT"),
    ("settings/events", "GET, PUT"),
    ("settings/activity", "GET, PUT"),
    ("activity", "GET"),
    ("activity/summary", "GET"),
    ("activity/records/*", "GET"),
    ("events", "GET"),
    ("webhooks", "GET, POST"),
    ("webhooks/*", "GET, PUT, DELETE"),
    ("webhooks/*/attempts", "GET"),
    ("webhooks/*/resend", "POST"),
    ("webhooks/*/test", "POST"),
    ("eventStreams", "GET, POST"),
    ("eventStreams/*", "GET, PUT, DELETE"),
    ("eventStreams/*/attempts", "GET"),
    ("eventStreams/*/resend", "POST"),
    ("auditEvents", "GET"),
    ("expiryNotices", "GET"),
];
const TENANT_SHAPES: &[(&str, &str)] = &[("", "GET, POST"), ("*", "GET, PATCH, DELETE")];

/// The methods of the shape `rest` matches, if any.
fn allowed_methods(rest: &str, shapes: &[(&str, &'static str)]) -> Option<&'static str> {
    let segments: Vec<&str> = rest.trim_matches('/').split('/').collect();
    shapes.iter().find_map(|(shape, allow)| {
        let parts: Vec<&str> = shape.split('/').collect();
        let matches = parts.len() == segments.len()
            && parts
                .iter()
                .zip(&segments)
                .all(|(p, s)| *p == "*" && !s.is_empty() || p == s);
        matches.then_some(*allow)
    })
}

async fn not_found(req: HttpRequest) -> Result<HttpResponse, AdminApiError> {
    let path = req.path();
    let segments: Vec<&str> = path.splitn(5, '/').collect();
    // ["", "api", tenant, "admin", rest] or ["", "api", "tenants", rest...]
    let allow = match segments.as_slice() {
        ["", "api", "tenants", rest @ ..] => allowed_methods(&rest.join("/"), TENANT_SHAPES),
        ["", "api", _, "admin", rest] => allowed_methods(rest, ADMIN_SHAPES),
        _ => None,
    };
    match allow {
        Some(allow) => Err(AdminApiError::MethodNotAllowed(allow)),
        None => Err(AdminApiError::NotFound("No such route in the admin API")),
    }
}

/// Every documented route of `/api`, as one scope (also the source of the OpenAPI paths).
fn api_scope() -> scope::Scope<
    impl actix_web::dev::ServiceFactory<
        actix_web::dev::ServiceRequest,
        Config = (),
        Response = actix_web::dev::ServiceResponse,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    scope("/api")
        .app_data(json_config())
        .app_data(query_config())
        .service(
            scope("/tenants")
                .service(tenants::list_tenants)
                .service(tenants::create_tenant)
                .service(tenants::get_tenant)
                .service(tenants::update_tenant)
                .service(tenants::delete_tenant)
                .default_service(web::to(not_found)),
        )
        .service(
            scope("/{tenantId}/admin")
                .service(api_keys::list_api_keys)
                .service(api_keys::create_api_key)
                .service(api_keys::get_api_key)
                .service(api_keys::update_api_key)
                .service(api_keys::delete_api_key)
                .service(api_keys::revoke_api_key)
                .service(api_keys::rotate_api_key)
                .service(federation::get_federation)
                .service(federation::put_federation)
                .service(federation::delete_federation)
                .service(machines::list_machines)
                .service(machines::create_machine)
                .service(machines::get_machine)
                .service(machines::update_machine)
                .service(machines::delete_machine)
                .service(machines::list_machine_api_keys)
                .service(settings::get_scim_settings)
                .service(settings::put_scim_settings)
                .service(settings::get_tenant_settings)
                .service(settings::put_tenant_settings)
                .service(settings::get_oauth_settings)
                .service(settings::put_oauth_settings)
                .service(events::get_event_settings)
                .service(events::put_event_settings)
                .service(events::list_events)
                .service(activity::list_activity)
                .service(activity::get_activity_summary)
                .service(activity::get_activity_record)
                .service(activity::get_activity_settings)
                .service(activity::put_activity_settings)
                .service(webhooks::create_webhook)
                .service(webhooks::list_webhooks)
                .service(webhooks::get_webhook)
                .service(webhooks::update_webhook)
                .service(webhooks::delete_webhook)
                .service(webhooks::list_webhook_attempts)
                .service(webhooks::resend_webhook_events)
                .service(webhooks::test_webhook)
                .service(event_streams::create_event_stream)
                .service(event_streams::list_event_streams)
                .service(event_streams::get_event_stream)
                .service(event_streams::update_event_stream)
                .service(event_streams::delete_event_stream)
                .service(event_streams::list_event_stream_attempts)
                .service(event_streams::resend_stream_events)
                .service(audit::list_audit_events)
                .service(expiry::list_expiry_notices)
                .default_service(web::to(not_found)),
        )
}

struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let mut bearer = Http::new(HttpAuthScheme::Bearer);
        bearer.bearer_format = Some("scimd_api_<43 base62><6 CRC>".into());
        bearer.description = Some(
            "A `public_api` key of the path's tenant, in `Authorization: Bearer <key>`. The \
             scopes listed on each operation are the permissions the key must hold (`*` holds \
             all). The operator token is accepted too."
                .into(),
        );
        components.add_security_scheme("bearer", SecurityScheme::Http(bearer));
        let mut operator = Http::new(HttpAuthScheme::Bearer);
        operator.description =
            Some("The operator token (SCIMD_OPERATOR_TOKEN or SCIMD_OPERATOR_TOKEN_FILE).".into());
        components.add_security_scheme("operator", SecurityScheme::Http(operator));
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "scimd admin API",
        description = "Tenant API keys, machines, SCIM settings and audit events; tenants for the \
                       operator. Errors are `{\"error\": {\"code\", \"message\", \"field\"?}}`. \
                       Every bad credential gets the same `401`; a key of another tenant gets `404`.",
    ),
    modifiers(&SecuritySchemes),
    tags(
        (name = "API keys", description = "Keys of the tenant: scim, on_premise, public_api"),
        (name = "Machines", description = "Service accounts that own keys"),
        (name = "Settings", description = "Tenant-wide SCIM, contact and OAuth settings"),
        (name = "Audit", description = "Who changed what, when"),
        (name = "Events", description = "Provisioning events: every SCIM change, in order, for the downstream application (events API, webhooks, RFC 9967 event streams)"),
        (name = "Activity", description = "Provisioning activity: every SCIM request the identity providers sent, how it ended, and the health of each key or client"),
        (name = "Tenants (operator)", description = "Operator token only"),
    )
)]
struct ApiDoc;

/// The OpenAPI document of every `/api` route, collected from the mounted scope, with the
/// paths of other front doors that belong in it (`extra`: the OAuth token endpoint).
pub fn openapi(extra: utoipa::openapi::OpenApi) -> utoipa::openapi::OpenApi {
    let api = api_scope();
    let mut schemas = Vec::new();
    api.schemas(&mut schemas);
    let paths = api.paths();
    let mut doc = ApiDoc::openapi();
    doc.paths.paths.extend(paths.paths);
    let components = doc.components.get_or_insert_with(Default::default);
    components.schemas.extend(schemas);
    responses::add_common_responses(&mut doc);
    doc.merge(extra);
    doc
}

/// Mounts `/api`: the admin API, the operator routes, the OpenAPI document (with `extra`
/// paths of other front doors) and the docs UI.
pub fn configure(extra: utoipa::openapi::OpenApi) -> impl FnOnce(&mut web::ServiceConfig) {
    move |cfg| configure_with(cfg, extra)
}

fn configure_with(cfg: &mut web::ServiceConfig, extra: utoipa::openapi::OpenApi) {
    let document = openapi(extra).to_json().unwrap_or_else(|err| {
        tracing::error!(error = %err, "cannot serialise the OpenAPI document");
        "{}".into()
    });
    cfg.app_data(web::Data::new(docs::Document(document)))
        .route("/api/openapi.json", web::get().to(docs::openapi_json))
        .route("/api/docs", web::get().to(docs::docs_page))
        .route("/api/docs/", web::get().to(docs::docs_page))
        .route("/api/docs/rapidoc-min.js", web::get().to(docs::docs_script))
        .service(api_scope().default_service(web::to(not_found)));
}
