//! The admin web console of scimd (issue 8), served at `/console/`: sign-in with an admin key or
//! the operator token, then keys, machines, settings and audit pages, in English and French.
//!
//! Pages are rendered on the server from hand-written templates ([`html`]); a small script
//! (`assets/console.js`) turns confirmation pages into modal dialogs and adds the Copy button,
//! and the console works without it. Assets are embedded in the binary; the
//! Content-Security-Policy admits scripts and styles from this origin only, none inline.
//!
//! Every page calls the same key rules (`scim_service`) and store functions as the admin API,
//! with a [`scim_auth::Caller`] holding exactly the permissions of the session's key, and checks
//! the same permission names before acting. No sea-orm here: the store is reached through its
//! public functions.

// On the request path a panic must never be a request's normal failure: no lossy casts, no
// indexing that can go out of bounds (issue 18).
#![deny(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap,
    clippy::indexing_slicing
)]

mod activity_page;
mod audit;
mod directory;
mod events_page;
mod federation_card;
mod html;
mod key_pages;
mod machines;
mod session;
mod settings;
mod text;

use actix_web::{http::header, middleware::DefaultHeaders, web, HttpResponse};
use chrono::Duration;

pub use session::{sha256_hex, SESSION_COOKIE};
pub use text::Lang;

/// The Content-Security-Policy of every console response: nothing inline, nothing foreign.
pub const CONTENT_SECURITY_POLICY: &str =
    "default-src 'none'; script-src 'self'; style-src 'self'; \
img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

const CSS: &str = include_str!("../assets/console.css");
const JS: &str = include_str!("../assets/console.js");

/// Settings of the console sessions.
#[derive(Debug, Clone)]
pub struct ConsoleConfig {
    /// A session unused this long ends.
    pub idle_timeout: Duration,
    /// A session ends this long after sign-in, however busy.
    pub absolute_timeout: Duration,
    /// `Some(true)`: cookies always `Secure`; `Some(false)`: never; `None`: when the request
    /// came over TLS (directly or per `X-Forwarded-Proto`).
    pub secure_cookies: Option<bool>,
    /// How often a session's last activity is written (at most once per this interval).
    pub touch_every: Duration,
    /// The service's external base URL (`SCIMD_PUBLIC_URL`), for the Entra ID set-up values;
    /// without it, the request's scheme and host.
    pub public_url: Option<String>,
}

impl Default for ConsoleConfig {
    fn default() -> Self {
        Self {
            idle_timeout: Duration::minutes(30),
            absolute_timeout: Duration::hours(12),
            secure_cookies: None,
            touch_every: Duration::seconds(30),
            public_url: None,
        }
    }
}

async fn css() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .body(CSS)
}

async fn js() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/javascript; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .body(JS)
}

/// `/console/`: the first page the session may see (the sign-in page without one).
async fn to_landing(ctx: Result<session::Ctx, session::ConsoleError>) -> HttpResponse {
    let to = match &ctx {
        Ok(ctx) => html::landing(&ctx.caller.granted),
        Err(_) => "/console/keys",
    };
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, to))
        .finish()
}

async fn not_found(ctx: session::Ctx) -> Result<HttpResponse, session::ConsoleError> {
    Err(session::ConsoleError::NotFound(ctx.lang))
}

/// Mounts `/console` (the `Store` and `Authenticator` must be app data already).
pub fn configure(config: ConsoleConfig) -> impl FnOnce(&mut web::ServiceConfig) {
    move |cfg| {
        cfg.route("/console", web::get().to(to_landing)).service(
            web::scope("/console")
                .app_data(web::Data::new(config))
                .wrap(
                    DefaultHeaders::new()
                        .add((header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY))
                        .add((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
                        .add((header::X_FRAME_OPTIONS, "DENY"))
                        .add((header::REFERRER_POLICY, "no-referrer"))
                        .add((header::CACHE_CONTROL, "no-store")),
                )
                .route("/", web::get().to(to_landing))
                .route("/assets/console.css", web::get().to(css))
                .route("/assets/console.js", web::get().to(js))
                .route("/login", web::get().to(session::get_login))
                .route("/login", web::post().to(session::post_login))
                .route("/logout", web::post().to(session::post_logout))
                .route("/lang", web::get().to(session::get_lang))
                .route("/keys", web::get().to(key_pages::list_keys))
                .route("/keys", web::post().to(key_pages::create_key))
                .route("/keys/new", web::get().to(key_pages::new_key))
                .route("/keys/{name}", web::get().to(key_pages::show_key))
                .route("/keys/{name}/edit", web::post().to(key_pages::edit_key))
                .route(
                    "/keys/{name}/federation",
                    web::post().to(federation_card::set_federation),
                )
                .route(
                    "/keys/{name}/federation/delete",
                    web::post().to(federation_card::clear_federation),
                )
                .route(
                    "/keys/{name}/rotate",
                    web::get().to(key_pages::confirm_rotate),
                )
                .route("/keys/{name}/rotate", web::post().to(key_pages::rotate_key))
                .route(
                    "/keys/{name}/revoke",
                    web::get().to(key_pages::confirm_revoke),
                )
                .route("/keys/{name}/revoke", web::post().to(key_pages::revoke_key))
                .route(
                    "/keys/{name}/delete",
                    web::get().to(key_pages::confirm_delete),
                )
                .route("/keys/{name}/delete", web::post().to(key_pages::delete_key))
                .route("/machines", web::get().to(machines::list_machines))
                .route("/machines", web::post().to(machines::create_machine))
                .route("/machines/new", web::get().to(machines::new_machine))
                .route("/machines/{id}", web::get().to(machines::show_machine))
                .route(
                    "/machines/{id}/delete",
                    web::get().to(machines::confirm_delete),
                )
                .route(
                    "/machines/{id}/delete",
                    web::post().to(machines::delete_machine),
                )
                .route("/settings", web::get().to(settings::show_settings))
                .route("/settings/scim", web::post().to(settings::put_switch))
                .route(
                    "/settings/attributes",
                    web::post().to(settings::add_attribute),
                )
                .route(
                    "/settings/attributes/remove",
                    web::post().to(settings::remove_attribute),
                )
                .route("/settings/tenant", web::post().to(settings::put_tenant))
                .route("/audit", web::get().to(audit::list_events))
                .route("/events", web::get().to(events_page::show_events))
                .route("/activity", web::get().to(activity_page::show_activity))
                .route(
                    "/activity/records/{id}",
                    web::get().to(activity_page::show_record),
                )
                .route(
                    "/events/webhooks/{id}/test",
                    web::post().to(events_page::test_webhook),
                )
                .route(
                    "/events/webhooks/{id}/resend",
                    web::post().to(events_page::resend_webhook_events),
                )
                .route("/users", web::get().to(directory::list_users))
                .route("/users/{id}", web::get().to(directory::show_user))
                .route("/groups", web::get().to(directory::list_groups))
                .route("/groups/{id}", web::get().to(directory::show_group))
                .default_service(web::to(not_found)),
        );
    }
}
