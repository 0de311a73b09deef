//! The discovery documents: `/ServiceProviderConfig`, `/ResourceTypes` (RFC 7643 §5–6).

use serde_json::{json, Value};

use crate::{resource::ResourceKind, schema::SchemaRegistry, urn};

/// What the service supports, as advertised in `/ServiceProviderConfig`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capabilities {
    /// Largest page a list answers (`filter.maxResults`).
    pub max_results: u64,
    /// Page size when `count` is absent.
    pub default_page_size: u64,
    /// Largest request body in bytes (`bulk.maxPayloadSize`).
    pub max_payload_bytes: u64,
    /// Most operations in one `/Bulk` request.
    pub bulk_max_operations: u64,
    /// Whether PATCH is implemented.
    pub patch: bool,
    /// Whether sorting is implemented.
    pub sort: bool,
}

/// The `/ServiceProviderConfig` document.
pub fn service_provider_config(caps: &Capabilities, base_url: &str) -> Value {
    json!({
        "schemas": [urn::SERVICE_PROVIDER_CONFIG],
        "documentationUri": "https://github.com/scimd/scimd#readme",
        "patch": {"supported": caps.patch},
        "bulk": {"supported": caps.bulk_max_operations > 0, "maxOperations": caps.bulk_max_operations, "maxPayloadSize": caps.max_payload_bytes},
        "filter": {"supported": true, "maxResults": caps.max_results},
        "changePassword": {"supported": false},
        "sort": {"supported": caps.sort},
        "etag": {"supported": true},
        "pagination": {
            "cursor": true,
            "index": true,
            "defaultPaginationMethod": "index",
            "defaultPageSize": caps.default_page_size,
            "maxPageSize": caps.max_results,
        },
        "authenticationSchemes": [{
            "type": "oauthbearertoken",
            "name": "API key",
            "description": "A scimd API key with the scim or on_premise scope, sent as 'Authorization: Bearer <key>'",
            "primary": true,
        }, {
            "type": "oauthbearertoken",
            "name": "OAuth 2.0 client credentials",
            "description": "An access token from the tenant's token endpoint (POST /oauth2/{tenantId}/token, grant_type=client_credentials): the key's client id and its value as the client secret, or a client assertion under workload identity federation; sent as 'Authorization: Bearer <access token>'",
            "specUri": "https://www.rfc-editor.org/rfc/rfc6749",
        }],
        "meta": {
            "resourceType": "ServiceProviderConfig",
            "location": format!("{base_url}/ServiceProviderConfig"),
        },
    })
}

/// The `/ResourceTypes/{name}` entry of one resource type.
pub fn resource_type(registry: &SchemaRegistry, kind: ResourceKind, base_url: &str) -> Value {
    let extensions: Vec<Value> = registry
        .extensions(kind)
        .iter()
        .map(|s| json!({"schema": s.id, "required": false}))
        .collect();
    json!({
        "schemas": [urn::RESOURCE_TYPE],
        "id": kind.name(),
        "name": kind.name(),
        "endpoint": kind.endpoint(),
        "description": format!("{} accounts", kind.name()),
        "schema": kind.schema_urn(),
        "schemaExtensions": extensions,
        "meta": {
            "resourceType": "ResourceType",
            "location": format!("{base_url}/ResourceTypes/{}", kind.name()),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_resource_type_lists_enterprise_extension() {
        let reg = SchemaRegistry::core().expect("schemas");
        let v = resource_type(&reg, ResourceKind::User, "http://h/scim/v2");
        assert_eq!(v["endpoint"], "/Users");
        assert_eq!(v["schemaExtensions"][0]["schema"], urn::ENTERPRISE_USER);
        let g = resource_type(&reg, ResourceKind::Group, "http://h/scim/v2");
        assert_eq!(g["schemaExtensions"], json!([]));
    }

    #[test]
    fn service_provider_config_advertises_limits() {
        let caps = Capabilities {
            max_results: 500,
            default_page_size: 100,
            max_payload_bytes: 1024,
            bulk_max_operations: 10,
            patch: false,
            sort: false,
        };
        let v = service_provider_config(&caps, "http://h/scim/v2");
        assert_eq!(v["filter"]["maxResults"], 500);
        assert_eq!(v["patch"]["supported"], false);
        assert_eq!(v["etag"]["supported"], true);
    }
}
