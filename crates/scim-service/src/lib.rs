//! The middle floor of scimd: every change of the product, decided in one place for the four
//! front doors (SCIM API, admin API, console, CLI). A front door parses its input, calls a
//! function here and renders the result; it holds no rule of its own.
//!
//! | module | what it decides |
//! | --- | --- |
//! | [`activity`] | what each SCIM request was (recorded off its path), summaries, hints, health |
//! | [`key_lifecycle`] | create, change, rotate, revoke, delete keys: scopes, permissions, options, lifetimes, escalation |
//! | [`key_issue`] | keys issued without a caller (first start, harnesses) |
//! | [`tenants`] | tenant ids, admin e-mails, tenant changes |
//! | [`machines`] | machine names and changes |
//! | [`settings`] | the SCIM custom-attributes switch and declaration |
//! | [`oauth`] | OAuth clients, the client-credentials grant, access tokens, their lifetime |
//! | [`federation`] | federated credentials (workload identity federation), JWKS hosts, assertion claims |
//! | [`scim_writes`] | SCIM create, replace, patch and delete of users and groups |
//! | [`events`] | the provisioning events each SCIM change emits |
//! | [`webhooks`] | webhook URLs, event types, secrets, signatures, retries, reachable addresses |
//! | [`tenant_schemas`] | each tenant's schema registry (cached), the audit of ignored attributes |
//! | [`passwords`] | SCIM passwords, stored only as Argon2id hashes |
//!
//! It sits above `scim-auth` (whose `Token` it uses to mint keys) and `scim-store`; it never
//! imports a mailer or an HTTP crate. The time of a change is passed in by the front door.

// On the request path a panic must never be a request's normal failure: no lossy casts, no
// indexing that can go out of bounds (issue 18).
#![deny(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap,
    clippy::indexing_slicing
)]

pub mod activity;
mod error;
pub mod event_streams;
pub mod events;
pub mod federation;
pub mod key_issue;
pub mod key_lifecycle;
pub mod machines;
pub mod oauth;
pub mod passwords;
pub mod scim_writes;
pub mod security_events;
pub mod settings;
pub mod tenant_schemas;
pub mod tenants;
pub mod webhooks;

pub use error::{ServiceError, ServiceResult};
pub use key_issue::{issue_key, valid_key_name, KeyRequest, MAX_LIFETIME_DAYS};
pub use key_lifecycle::{ChangeKey, CreateKey, RotateKey};
pub use scim_store::PatchRelations;
pub use scim_writes::{Precondition, ScimWriter};
pub use tenant_schemas::TenantSchemas;
