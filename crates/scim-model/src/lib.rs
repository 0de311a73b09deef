//! The SCIM 2.0 model of scimd: schemas as data, resources, validation, rendering, list
//! messages, discovery documents and the SCIM error type. No I/O lives here.

// On the request path a panic must never be a request's normal failure: no lossy casts, no
// indexing that can go out of bounds (issue 18).
#![deny(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap,
    clippy::indexing_slicing
)]

pub mod custom;
pub mod diff;
pub mod discovery;
pub mod error;
pub mod list;
pub mod member_json;
pub mod nul;
pub mod patch;
pub mod projection;
pub mod render;
pub mod resource;
pub mod schema;
pub mod urn;
pub mod validate;

pub use error::{ScimError, ScimType};
pub use resource::{MemberRef, Resource, ResourceKind};
pub use schema::SchemaRegistry;
pub use validate::{
    validate_resource, IgnoredAttribute, MemberInput, ValidatedResource, ValueLimits,
};
