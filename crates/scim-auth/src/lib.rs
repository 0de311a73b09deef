//! Authentication of scimd: the token format, key scopes and permissions, the caller of a
//! change, and the actix extractors that turn an `Authorization` header into a tenant-bound
//! principal (`ScimPrincipal` for `/scim/v2`, `Admin<P>` and `Operator` for `/api`). The rules
//! of the key lifecycle are in `scim-service`, which mints keys with [`Token`].

// On the request path a panic must never be a request's normal failure: no lossy casts, no
// indexing that can go out of bounds (issue 18).
#![deny(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap,
    clippy::indexing_slicing
)]

pub mod admin;
mod caller;
mod client;
mod key_cache;
mod principal;
mod scope;
mod throttle;
pub mod token;

pub use admin::{error_body, Admin, AdminAuthError, Operator, Permission};
pub use caller::Caller;
pub use client::{client_info, request_id, ClientInfo, RequestId, TrustedProxies};
pub use principal::{
    ceil_secs, is_key_value, Attribution, AuthError, Authenticator, ScimPrincipal,
};
pub use scope::{
    grants, Scope, ACTIVITY_READ, ADMIN_PERMISSIONS, ALL, API_KEY_READ, API_KEY_WRITE, AUDIT_READ,
    DIRECTORY_READ, EVENTS_READ, EVENTS_WRITE, MACHINE_READ, MACHINE_WRITE, SCIM_PERMISSIONS,
    SCIM_READ, SCIM_WRITE, SETTINGS_READ, SETTINGS_WRITE, WEBHOOKS_READ, WEBHOOKS_WRITE,
};
pub use throttle::FailureLimit;
pub use token::{constant_time_eq, AccessToken, Token};
