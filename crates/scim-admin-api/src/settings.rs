//! `/api/{tenantId}/admin/settings/scim`: the tenant-wide custom-attributes switch and the
//! custom extension schema (RFC 7643 §7 representation), checked before it is stored.

use actix_web::{get, put, web, HttpResponse};
use chrono::Utc;
use scim_auth::{
    admin::{SettingsRead, SettingsWrite},
    Admin,
};
use scim_store::{ScimSettings, Store};
use serde_json::{json, Map, Value};

use crate::{
    dto::{ErrorBody, ScimSettingsBody},
    error::ApiError,
};

/// The URN of the custom extension when the tenant has declared none.
pub const DEFAULT_CUSTOM_SCHEMA_URN: &str = "urn:ietf:params:scim:schemas:extension:scimd:2.0:User";

const CORE_URNS: &[&str] = &[
    "urn:ietf:params:scim:schemas:core:2.0:User",
    "urn:ietf:params:scim:schemas:core:2.0:Group",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
];
const TYPES: &[&str] = &[
    "string",
    "boolean",
    "decimal",
    "integer",
    "dateTime",
    "reference",
    "complex",
    "binary",
];
const MAX_ATTRIBUTES: usize = 100;

fn default_schema() -> Value {
    json!({
        "id": DEFAULT_CUSTOM_SCHEMA_URN,
        "name": "CustomUser",
        "description": "Custom attributes of the tenant's users",
        "attributes": [],
    })
}

fn bad(message: impl Into<String>) -> ApiError {
    ApiError::invalid("invalid_schema", "customSchema", message)
}

fn check_enum(
    attr: &Map<String, Value>,
    key: &str,
    allowed: &[&str],
    at: &str,
) -> Result<(), ApiError> {
    match attr.get(key) {
        None => Ok(()),
        Some(Value::String(s)) if allowed.contains(&s.as_str()) => Ok(()),
        Some(_) => Err(bad(format!(
            "{at}.{key} must be one of {}",
            allowed.join(", ")
        ))),
    }
}

fn check_attributes(list: &Value, at: &str, depth: u8) -> Result<(), ApiError> {
    let list = list
        .as_array()
        .ok_or_else(|| bad(format!("{at} must be an array")))?;
    if list.len() > MAX_ATTRIBUTES {
        return Err(bad(format!(
            "{at} has more than {MAX_ATTRIBUTES} attributes"
        )));
    }
    let mut seen = Vec::new();
    for (i, attr) in list.iter().enumerate() {
        let here = format!("{at}[{i}]");
        let attr = attr
            .as_object()
            .ok_or_else(|| bad(format!("{here} must be an object")))?;
        for key in attr.keys() {
            let known = [
                "name",
                "type",
                "multiValued",
                "description",
                "required",
                "caseExact",
                "mutability",
                "returned",
                "uniqueness",
                "canonicalValues",
                "referenceTypes",
                "subAttributes",
            ];
            if !known.contains(&key.as_str()) {
                return Err(bad(format!("{here}: unknown property '{key}'")));
            }
        }
        let name = attr
            .get("name")
            .and_then(Value::as_str)
            .ok_or_else(|| bad(format!("{here}.name is required")))?;
        let valid_name = name.len() <= 64
            && name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !valid_name {
            return Err(bad(format!(
                "{here}.name '{name}' must start with a letter and hold only letters, digits, '_' or '-'"
            )));
        }
        let lower = name.to_ascii_lowercase();
        if seen.contains(&lower) {
            return Err(bad(format!("{here}.name '{name}' is declared twice")));
        }
        seen.push(lower);
        let ty = attr
            .get("type")
            .and_then(Value::as_str)
            .ok_or_else(|| bad(format!("{here}.type is required")))?;
        if !TYPES.contains(&ty) {
            return Err(bad(format!(
                "{here}.type must be one of {}",
                TYPES.join(", ")
            )));
        }
        for flag in ["multiValued", "required", "caseExact"] {
            if attr.get(flag).is_some_and(|v| !v.is_boolean()) {
                return Err(bad(format!("{here}.{flag} must be true or false")));
            }
        }
        if attr.get("description").is_some_and(|v| !v.is_string()) {
            return Err(bad(format!("{here}.description must be a string")));
        }
        check_enum(
            attr,
            "mutability",
            &["readOnly", "readWrite", "immutable", "writeOnly"],
            &here,
        )?;
        check_enum(
            attr,
            "returned",
            &["always", "never", "default", "request"],
            &here,
        )?;
        check_enum(attr, "uniqueness", &["none", "server", "global"], &here)?;
        for list_key in ["canonicalValues", "referenceTypes"] {
            if let Some(v) = attr.get(list_key) {
                let ok = v.as_array().is_some_and(|a| a.iter().all(Value::is_string));
                if !ok {
                    return Err(bad(format!(
                        "{here}.{list_key} must be an array of strings"
                    )));
                }
            }
        }
        match (ty, attr.get("subAttributes")) {
            ("complex", Some(sub)) if depth == 0 => {
                check_attributes(sub, &format!("{here}.subAttributes"), 1)?;
            }
            ("complex", Some(_)) => {
                return Err(bad(format!("{here}: complex attributes cannot nest")));
            }
            ("complex", None) => {
                return Err(bad(format!(
                    "{here}.subAttributes is required for type complex"
                )));
            }
            (_, Some(_)) => {
                return Err(bad(format!(
                    "{here}.subAttributes is only for type complex"
                )));
            }
            _ => {}
        }
    }
    Ok(())
}

/// Checks a custom schema in the RFC 7643 §7 representation.
pub fn check_custom_schema(schema: &Value) -> Result<(), ApiError> {
    let obj = schema
        .as_object()
        .ok_or_else(|| bad("customSchema must be an object"))?;
    for key in obj.keys() {
        if !["id", "name", "description", "attributes", "schemas", "meta"].contains(&key.as_str()) {
            return Err(bad(format!("customSchema: unknown property '{key}'")));
        }
    }
    let id = obj
        .get("id")
        .and_then(Value::as_str)
        .ok_or_else(|| bad("customSchema.id (the schema URN) is required"))?;
    if !id.starts_with("urn:") || id.len() > 256 || id.chars().any(char::is_whitespace) {
        return Err(bad(
            "customSchema.id must be a URN (urn:...) without spaces",
        ));
    }
    if CORE_URNS.iter().any(|u| u.eq_ignore_ascii_case(id)) {
        return Err(bad(format!(
            "customSchema.id cannot be the standard schema {id}"
        )));
    }
    for text in ["name", "description"] {
        if obj.get(text).is_some_and(|v| !v.is_string()) {
            return Err(bad(format!("customSchema.{text} must be a string")));
        }
    }
    let attributes = obj
        .get("attributes")
        .ok_or_else(|| bad("customSchema.attributes is required"))?;
    check_attributes(attributes, "customSchema.attributes", 0)
}

fn view(settings: ScimSettings) -> serde_json::Value {
    json!({
        "customAttributesEnabled": settings.custom_attributes_enabled,
        "customSchema": settings.custom_schema.unwrap_or_else(default_schema),
    })
}

/// Get the tenant's SCIM settings.
///
/// `customAttributesEnabled` is the switch shown on every SCIM key as
/// `options.scimCustomAttributes`. Requires `tenant.settings:read`.
#[utoipa::path(
    tag = "Settings",
    params(("tenantId" = String, Path, description = "Tenant id")),
    security(("bearer" = ["tenant.settings:read"])),
    responses(
        (status = 200, description = "The settings", body = ScimSettingsBody),
        (status = 401, description = "No valid key", body = ErrorBody),
        (status = 403, description = "Missing tenant.settings:read", body = ErrorBody),
        (status = 404, description = "Not the caller's tenant", body = ErrorBody),
    )
)]
#[get("/settings/scim")]
pub async fn get_scim_settings(
    admin: Admin<SettingsRead>,
    store: web::Data<Store>,
) -> Result<HttpResponse, ApiError> {
    let settings = store
        .get_scim_settings(&admin.tenant)
        .await
        .map_err(|e| ApiError::from_store(e, "Tenant not found"))?;
    Ok(HttpResponse::Ok().json(view(settings)))
}

/// Replace the tenant's SCIM settings.
///
/// The whole object is replaced: `customAttributesEnabled` is required; a missing or `null`
/// `customSchema` resets the schema to the default (no attributes). Requires
/// `tenant.settings:write`.
#[utoipa::path(
    tag = "Settings",
    params(("tenantId" = String, Path, description = "Tenant id")),
    request_body = ScimSettingsBody,
    security(("bearer" = ["tenant.settings:write"])),
    responses(
        (status = 200, description = "The new settings", body = ScimSettingsBody),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 401, description = "No valid key", body = ErrorBody),
        (status = 403, description = "Missing tenant.settings:write", body = ErrorBody),
        (status = 404, description = "Not the caller's tenant", body = ErrorBody),
        (status = 422, description = "Invalid schema", body = ErrorBody),
    )
)]
#[put("/settings/scim")]
pub async fn put_scim_settings(
    admin: Admin<SettingsWrite>,
    store: web::Data<Store>,
    body: web::Json<ScimSettingsBody>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let enabled = body.custom_attributes_enabled.ok_or_else(|| {
        ApiError::invalid(
            "missing_field",
            "customAttributesEnabled",
            "customAttributesEnabled is required",
        )
    })?;
    let schema = body.custom_schema.filter(|s| !s.is_null());
    if let Some(s) = &schema {
        check_custom_schema(s)?;
    }
    let settings = store
        .put_scim_settings(
            &admin.tenant,
            ScimSettings {
                custom_attributes_enabled: enabled,
                custom_schema: schema,
            },
            &admin.caller.actor,
            Utc::now(),
        )
        .await
        .map_err(|e| ApiError::from_store(e, "Tenant not found"))?;
    Ok(HttpResponse::Ok().json(view(settings)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc7643_style_schemas_are_accepted_and_mistakes_named() {
        let good = json!({
            "id": "urn:ietf:params:scim:schemas:extension:acme:2.0:User",
            "name": "AcmeUser",
            "attributes": [
                {"name": "badge", "type": "string", "multiValued": false},
                {"name": "site", "type": "complex", "multiValued": false,
                 "subAttributes": [{"name": "code", "type": "integer"}]}
            ]
        });
        assert!(check_custom_schema(&good).is_ok());
        for bad in [
            json!({"attributes": []}),
            json!({"id": "not-a-urn", "attributes": []}),
            json!({"id": "urn:ietf:params:scim:schemas:core:2.0:User", "attributes": []}),
            json!({"id": "urn:x", "attributes": [{"name": "a", "type": "float"}]}),
            json!({"id": "urn:x", "attributes": [{"name": "1a", "type": "string"}]}),
            json!({"id": "urn:x", "attributes": [{"name": "a", "type": "string"}, {"name": "A", "type": "string"}]}),
            json!({"id": "urn:x", "attributes": [{"name": "a", "type": "complex"}]}),
            json!({"id": "urn:x", "attributes": [{"name": "a", "type": "string", "bogus": 1}]}),
        ] {
            assert!(check_custom_schema(&bad).is_err(), "{bad}");
        }
    }
}
