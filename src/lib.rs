//! The scimd composition root: configuration, wiring of the crates into one actix app, the
//! first-start bootstrap. `build_app` is what both `scimd serve` and the black-box tests run.

// On the request path a panic must never be a request's normal failure: no lossy casts, no
// indexing that can go out of bounds (issue 18).
#![deny(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap,
    clippy::indexing_slicing
)]

pub mod bootstrap;
pub mod config;
pub mod edge;
pub mod expiry;
pub mod healthcheck;
pub mod metrics;
pub mod probe;
pub mod telemetry;
pub mod webhooks;

use actix_web::{
    body::MessageBody,
    dev::{ServiceFactory, ServiceRequest, ServiceResponse},
    web, App, HttpResponse,
};
use scim_auth::Authenticator;
use scim_model::SchemaRegistry;
use scim_store::{Store, StoreOptions};

pub use config::Config;

/// Everything the HTTP app shares between workers.
#[derive(Clone)]
pub struct AppContext {
    scim: web::Data<scim_api::ScimState>,
    auth: web::Data<Authenticator>,
    federation: web::Data<dyn scim_service::federation::AssertionVerifier>,
    jwks_hosts: web::Data<scim_service::federation::JwksHosts>,
    outbound: web::Data<scim_service::webhooks::OutboundPolicy>,
    set_delivery: web::Data<scim_api::set_delivery::SetDelivery>,
    webhook_sender: web::Data<scim_webhooks::Sender>,
    metrics: web::Data<metrics::Metrics>,
    activity: web::Data<scim_service::activity::ActivityLog>,
    activity_policy: web::Data<scim_service::activity::ActivityPolicy>,
    /// The writer of `activity`, taken by whoever stops the service (to write what is queued).
    activity_writer:
        std::sync::Arc<std::sync::Mutex<Option<scim_service::activity::ActivityWriter>>>,
    store: Store,
    console: scim_console::ConsoleConfig,
    trusted_proxies: scim_auth::TrustedProxies,
    request_timeout: std::time::Duration,
    public_metrics: bool,
}

/// Why the service could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The schema files embedded in the binary are invalid (a build defect).
    #[error(transparent)]
    Schema(#[from] scim_model::schema::SchemaLoadError),
    /// The database could not be reached or migrated.
    #[error("database: {0}")]
    Store(#[from] scim_store::StoreError),
    /// The HTTP client of workload identity federation could not be built.
    #[error(transparent)]
    Federation(#[from] scim_federation::BuildError),
    /// The HTTP client of webhook delivery could not be built.
    #[error("{0}")]
    Webhooks(String),
    /// The SQLite folder could not be created.
    #[error("cannot create the data folder {0}: {1}")]
    DataDir(String, std::io::Error),
}

/// What webhooks may reach, from the configuration.
pub fn outbound_policy(config: &Config) -> scim_service::webhooks::OutboundPolicy {
    scim_service::webhooks::OutboundPolicy {
        allow_http: config.webhook_allow_http,
        allow_private: config.webhook_allow_private,
    }
}

/// Connects to the configured database (creating a SQLite folder) and runs the migrations.
pub async fn open_store(config: &Config) -> Result<Store, StartError> {
    if let Some(dir) = config.sqlite_dir() {
        std::fs::create_dir_all(&dir)
            .map_err(|e| StartError::DataDir(dir.display().to_string(), e))?;
    }
    let store = Store::connect(
        config.database_url.expose(),
        &StoreOptions {
            max_connections: config.db_max_connections,
            acquire_timeout: config.db_timeout,
            statement_timeout: config.db_statement_timeout,
            ..StoreOptions::default()
        },
    )
    .await?;
    store.migrate().await?;
    Ok(store)
}

impl AppContext {
    /// The signer of this process's SETs (shared with webhook and SET delivery).
    pub fn set_issuer(&self) -> scim_service::event_streams::SetIssuer {
        self.set_delivery.issuer.clone()
    }

    /// The activity writer, once: await its `finish` after the server stopped, so that the
    /// records of the last requests are written.
    pub fn take_activity_writer(&self) -> Option<scim_service::activity::ActivityWriter> {
        self.activity_writer.lock().ok().and_then(|mut w| w.take())
    }

    /// This process's metrics (shared with the expiry scheduler).
    pub fn metrics(&self) -> web::Data<metrics::Metrics> {
        self.metrics.clone()
    }

    /// Wires the shared state from a migrated store and the configuration.
    pub fn new(store: Store, config: &Config) -> Result<Self, StartError> {
        let scim = scim_api::ScimState {
            store: store.clone(),
            registry: SchemaRegistry::core()?.with_value_limits(scim_model::ValueLimits {
                max_string_bytes: config.max_value_bytes,
                max_values: config.max_multi_values,
            }),
            max_body_bytes: config.max_body_bytes,
            default_page_size: config.default_page_size,
            max_page_size: config.max_page_size,
            group_patch_member_limit: config.group_patch_member_limit,
            bulk_max_operations: config.bulk_max_operations,
            rate_limiter: scim_api::RateLimiter::new(scim_api::RateLimit {
                per_second: config.rate_limit_per_second,
                burst: config.rate_limit_burst,
            }),
            // An identity provider asks for a token about once an hour; a burst of a minute's
            // worth covers restarts and several connections on one key.
            token_limiter: scim_api::RateLimiter::new(scim_api::RateLimit {
                per_second: config.oauth_tokens_per_minute / 60.0,
                burst: config.oauth_tokens_per_minute.max(1.0),
            }),
            filter_limits: scim_filter_parser::Limits {
                max_len: config.filter_max_length,
                ..scim_filter_parser::Limits::default()
            },
            public_url: config.public_url.clone(),
            tenant_schemas: Default::default(),
            capture_events: config.capture_events,
        };
        let jwks_hosts =
            scim_service::federation::JwksHosts::new(config.federation_jwks_hosts.clone());
        let verifier: std::sync::Arc<dyn scim_service::federation::AssertionVerifier> =
            std::sync::Arc::new(scim_federation::JwksVerifier::new(
                jwks_hosts.clone(),
                config.federation_jwks_min_refresh,
            )?);
        let set_delivery = scim_api::set_delivery::SetDelivery {
            issuer: scim_service::event_streams::SetIssuer::new(
                store.clone(),
                std::sync::Arc::new(SchemaRegistry::core()?),
                config.public_url.clone(),
            ),
            // A poll answers before the request timeout cuts it.
            long_poll: config.set_long_poll.min(
                config
                    .request_timeout
                    .saturating_sub(std::time::Duration::from_secs(2)),
            ),
        };
        let webhook_sender =
            scim_webhooks::Sender::new(outbound_policy(config), config.webhook_timeout)
                .map_err(StartError::Webhooks)?;
        let (activity, activity_writer) = if config.activity {
            let (log, writer) = scim_service::activity::ActivityLog::start(
                store.clone(),
                scim_service::activity::ActivityConfig {
                    queue: config.activity_queue,
                    flush: config.activity_flush,
                },
            );
            (log, Some(writer))
        } else {
            (scim_service::activity::ActivityLog::off(), None)
        };
        Ok(Self {
            activity: web::Data::new(activity),
            activity_policy: web::Data::new(scim_service::activity::ActivityPolicy {
                silent_after: chrono::Duration::from_std(config.activity_silent_after)
                    .unwrap_or(chrono::Duration::minutes(40)),
            }),
            activity_writer: std::sync::Arc::new(std::sync::Mutex::new(activity_writer)),
            webhook_sender: web::Data::new(webhook_sender),
            set_delivery: web::Data::new(set_delivery),
            federation: web::Data::from(verifier),
            jwks_hosts: web::Data::new(jwks_hosts),
            outbound: web::Data::new(outbound_policy(config)),
            metrics: web::Data::new(metrics::Metrics::default()),
            scim: web::Data::new(scim),
            auth: web::Data::new(
                Authenticator::new(store.clone())
                    .with_failure_limit(scim_auth::FailureLimit {
                        burst: config.auth_failure_burst,
                        per_minute: config.auth_failures_per_minute,
                    })
                    .with_operator_token(config.operator_token.as_ref().map(|t| t.expose())),
            ),
            store,
            trusted_proxies: config.trusted_proxies.clone(),
            request_timeout: config.request_timeout,
            public_metrics: config.metrics_listen.is_none(),
            console: scim_console::ConsoleConfig {
                idle_timeout: chrono::Duration::minutes(
                    i64::try_from(config.console_idle_minutes).unwrap_or(i64::MAX),
                ),
                absolute_timeout: chrono::Duration::hours(
                    i64::try_from(config.console_absolute_hours).unwrap_or(i64::MAX),
                ),
                secure_cookies: config.console_secure_cookies,
                public_url: config.public_url.clone(),
                ..scim_console::ConsoleConfig::default()
            },
        })
    }
}

/// The whole HTTP application.
pub fn build_app(
    ctx: AppContext,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    let store = ctx.store.clone();
    let metrics = ctx.metrics.clone();
    let public_metrics = ctx.public_metrics;
    App::new()
        .app_data(ctx.scim)
        .app_data(ctx.auth)
        .app_data(ctx.federation)
        .app_data(ctx.jwks_hosts)
        .app_data(ctx.outbound)
        .app_data(web::Data::new(scim_admin_api::PublicUrl(
            ctx.set_delivery.issuer.public_url().map(str::to_owned),
        )))
        .app_data(ctx.set_delivery)
        .app_data(ctx.webhook_sender)
        .app_data(ctx.metrics)
        .app_data(ctx.activity)
        .app_data(ctx.activity_policy)
        .app_data(web::Data::new(store))
        .wrap(edge::Edge::new(
            metrics,
            ctx.trusted_proxies,
            ctx.request_timeout,
        ))
        .configure(scim_api::configure)
        .configure(scim_api::oauth::configure)
        .configure(scim_api::set_delivery::configure)
        .configure(scim_admin_api::configure({
            let mut public = scim_api::oauth::openapi();
            public.merge(scim_api::set_delivery::openapi());
            public
        }))
        .configure(scim_console::configure(ctx.console))
        .route("/", web::get().to(to_console))
        .route("/healthz", web::get().to(healthz))
        .route("/readyz", web::get().to(readyz))
        .configure(move |cfg| {
            // With SCIMD_METRICS_LISTEN, /metrics is served on that address only.
            if public_metrics {
                cfg.route("/metrics", web::get().to(get_metrics));
            }
        })
}

/// The app of `SCIMD_METRICS_LISTEN`: `/metrics` alone, with the same counters as the public
/// app of this process.
pub fn metrics_app(
    ctx: &AppContext,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    App::new()
        .app_data(ctx.metrics.clone())
        .app_data(ctx.activity.clone())
        .app_data(web::Data::new(ctx.store.clone()))
        .route("/metrics", web::get().to(get_metrics))
}

async fn get_metrics(
    metrics: web::Data<metrics::Metrics>,
    store: web::Data<Store>,
    activity: Option<web::Data<scim_service::activity::ActivityLog>>,
) -> HttpResponse {
    let now = chrono::Utc::now();
    let mut text = metrics.render(store.pool_stats());
    text.push_str(&metrics::render_process());
    if let Some(counters) = activity.as_deref().and_then(|a| a.counters()) {
        text.push_str(&metrics::render_activity(counters));
    }
    // Keys by days to expiry, read from the database at each scrape (the same on every
    // process), so an alert can fire without e-mail.
    match store.expiring_keys(None, now, 30).await {
        Ok(expiring) => text.push_str(&metrics::render_expiring(&expiring, now)),
        Err(e) => tracing::warn!(error = %e, "metrics: could not count expiring keys"),
    }
    match store.delivery_backlogs().await {
        Ok(backlogs) => text.push_str(&metrics::render_backlogs(&backlogs, now)),
        Err(e) => tracing::warn!(error = %e, "metrics: could not read the event backlogs"),
    }
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(text)
}

/// `GET /`: the console (the API's entry points are `/scim/v2`, `/api` and `/api/docs`).
async fn to_console() -> HttpResponse {
    HttpResponse::Found()
        .insert_header((actix_web::http::header::LOCATION, "/console/"))
        .finish()
}

async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({"status": "ok"}))
}

async fn readyz(store: web::Data<Store>) -> HttpResponse {
    match store.pending_migrations().await {
        Ok(0) => HttpResponse::Ok().json(serde_json::json!({"status": "ready"})),
        Ok(pending) => HttpResponse::ServiceUnavailable()
            .json(serde_json::json!({"status": "migrations pending", "pending": pending})),
        Err(e) => {
            tracing::warn!(error = %e, "database not ready");
            HttpResponse::ServiceUnavailable()
                .json(serde_json::json!({"status": "database unavailable"}))
        }
    }
}
