//! Schema and message URNs of RFC 7643 / RFC 7644, in one place.

/// Core User schema.
pub const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
/// Core Group schema.
pub const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
/// Enterprise User extension schema.
pub const ENTERPRISE_USER: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
/// The custom User extension of a tenant that has declared no URN of its own.
pub const CUSTOM_USER_DEFAULT: &str = "urn:ietf:params:scim:schemas:extension:scimd:2.0:User";
/// Schema of schema definitions served by `/Schemas`.
pub const SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Schema";
/// Schema of `/ResourceTypes` entries.
pub const RESOURCE_TYPE: &str = "urn:ietf:params:scim:schemas:core:2.0:ResourceType";
/// Schema of `/ServiceProviderConfig`.
pub const SERVICE_PROVIDER_CONFIG: &str =
    "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig";
/// List response message.
pub const LIST_RESPONSE: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
/// Error message.
pub const ERROR: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
/// PATCH request message.
pub const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
/// `.search` request message.
pub const SEARCH_REQUEST: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";
