//! The SCIM 2.0 model of scimd: schemas as data, resources, validation, rendering, list
//! messages, discovery documents and the SCIM error type. No I/O lives here.

pub mod custom;
pub mod discovery;
pub mod error;
pub mod list;
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
