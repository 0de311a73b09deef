//! The tenant's SCIM settings: the custom-attributes switch and the declaration of the custom
//! User extension, checked once for every front door.

use chrono::{DateTime, Utc};
use scim_store::{Actor, ScimSettings, Store, StoreError, TenantId};
use serde_json::Value;

use crate::error::{invalid, ServiceError, ServiceResult};

/// The URN of the custom extension when a tenant declares none of its own.
pub const DEFAULT_CUSTOM_SCHEMA_URN: &str = scim_model::urn::CUSTOM_USER_DEFAULT;

/// Checks a declaration of the custom User extension (RFC 7643 §7 representation): it must
/// parse (`invalid_schema`), and no attribute may have an enterprise User attribute's name
/// (`attribute_name_taken`: an unqualified name resolves to the enterprise one).
pub fn check_custom_schema(schema: &Value) -> ServiceResult<()> {
    let schema = scim_model::custom::parse_declaration(schema)
        .map_err(|e| invalid("invalid_schema", "customSchema", e.to_string()))?;
    match scim_model::custom::enterprise_clash(&schema) {
        Some(name) => Err(ServiceError::Conflict {
            code: "attribute_name_taken",
            message: scim_store::enterprise_clash_message(name),
        }),
        None => Ok(()),
    }
}

/// Replaces the SCIM settings of `tenant`. A declaration that values already stored do not fit
/// is refused (`declaration_conflicts_with_data`, naming the user and the attribute).
pub async fn put_scim_settings(
    store: &Store,
    tenant: &TenantId,
    settings: ScimSettings,
    actor: &Actor,
    now: DateTime<Utc>,
) -> ServiceResult<ScimSettings> {
    if let Some(schema) = &settings.custom_schema {
        check_custom_schema(schema)?;
    }
    store
        .put_scim_settings(tenant, settings, actor, now)
        .await
        .map_err(|e| match e {
            StoreError::Refused(message) => ServiceError::Conflict {
                code: "declaration_conflicts_with_data",
                message,
            },
            StoreError::InvalidValue(message) => invalid("invalid_schema", "customSchema", message),
            e => e.into(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn declarations_are_parsed_and_enterprise_names_refused() {
        let good =
            json!({"id": "urn:acme:2.0:User", "attributes": [{"name": "badge", "type": "string"}]});
        assert!(check_custom_schema(&good).is_ok());
        let taken = json!({"id": "urn:acme:2.0:User", "attributes": [{"name": "department", "type": "string"}]});
        assert!(matches!(
            check_custom_schema(&taken),
            Err(ServiceError::Conflict {
                code: "attribute_name_taken",
                ..
            })
        ));
        assert!(matches!(
            check_custom_schema(&json!({"attributes": []})),
            Err(ServiceError::Invalid {
                code: "invalid_schema",
                ..
            })
        ));
    }
}
