//! Validation of resource bodies (POST, PUT) against the schema registry.
//!
//! The output has canonical attribute names and canonical value types. Rules:
//! - attribute names match case-insensitively; unknown attributes are ignored (RFC 7644 §3.3
//!   lets a service provider ignore what it does not support, and provisioning must not stall);
//! - `readOnly` attributes (`id`, `meta`, `groups`, `members.display`) are ignored on input;
//! - `null`, `""`, empty arrays and empty objects mean "absent" (RFC 7643 §2.5);
//! - booleans may be sent as the strings `"true"`/`"false"` in any case (Microsoft Entra ID
//!   sends `"True"`/`"False"`);
//! - wrong types, malformed dateTimes, more than one `primary: true` and missing required
//!   attributes are `400 invalidValue`.

use serde_json::{Map, Value};

use crate::{
    error::ScimError,
    resource::ResourceKind,
    schema::{AttrType, AttributeDef, Mutability, Schema, SchemaRegistry},
};

/// Limits on single values, enforced on every write (`400 invalidValue` past them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ValueLimits {
    /// Longest string value, in bytes.
    pub max_string_bytes: usize,
    /// Most values of one multi-valued attribute (group `members` excepted: they are bounded
    /// by the request size and applied as deltas).
    pub max_values: usize,
}

impl Default for ValueLimits {
    fn default() -> Self {
        Self {
            max_string_bytes: 64 * 1024,
            max_values: 1000,
        }
    }
}

/// A member named in a group body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberInput {
    /// The member's id.
    pub value: String,
    /// The member's kind, when the client said it.
    pub kind: Option<ResourceKind>,
}

/// A validated resource body, ready to be stored.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidatedResource {
    /// Canonical attributes (no `id`, `meta`, `groups`, `members`).
    pub attributes: Map<String, Value>,
    /// A group's members (always empty for users).
    pub members: Vec<MemberInput>,
    /// Attributes sent under a schema the tenant has not declared: under its custom extension
    /// (switch on) but not declared there, or under an extension URN it does not have at
    /// all. Ignored, to be logged and audited by the caller.
    pub ignored: Vec<IgnoredAttribute>,
}

/// An attribute a write sent under an undeclared extension, ignored so that provisioning
/// never stalls.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IgnoredAttribute {
    /// The schema URN it was sent under.
    pub schema: String,
    /// The attribute name, as sent.
    pub name: String,
}

impl IgnoredAttribute {
    /// `name` under `schema`.
    pub fn new(schema: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            schema: schema.into(),
            name: name.into(),
        }
    }
}

/// Adds `schema`/`name` to `list` unless it is there already (names compared
/// case-insensitively).
pub(crate) fn note_ignored(list: &mut Vec<IgnoredAttribute>, schema: &str, name: &str) {
    if name.eq_ignore_ascii_case("schemas") {
        // Some clients repeat `schemas` inside extension objects: not an attribute.
        return;
    }
    if !list
        .iter()
        .any(|i| i.schema.eq_ignore_ascii_case(schema) && i.name.eq_ignore_ascii_case(name))
    {
        list.push(IgnoredAttribute::new(schema, name));
    }
}

/// The attributes named by the key `key` of a body with `value`, when `key` lies under an
/// extension URN the registry does not know ([`SchemaRegistry::is_unknown_extension`]):
/// `urn:…:Ext:2.0:User` names a whole extension (the last segment of an extension URN names
/// a resource type, so it starts with a capital) and, with an object, the object's keys;
/// `urn:…:Ext:2.0:User:attr` names `attr`. `None` when `key` is not under an unknown URN.
pub(crate) fn unknown_extension_attributes(
    registry: &SchemaRegistry,
    kind: ResourceKind,
    key: &str,
    value: Option<&Value>,
) -> Option<Vec<IgnoredAttribute>> {
    if !key.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("urn:")) {
        return None;
    }
    let path = scim_filter_parser::parse_attr_path(key).ok()?;
    let urn = path.urn.as_deref()?;
    let mut out = Vec::new();
    // `urn:…:Ext:2.0:User` names a whole extension: its last segment names a resource type.
    let whole = path
        .as_schema_urn()
        .filter(|_| path.name.starts_with(|c: char| c.is_ascii_uppercase()));
    if let Some(whole) = whole {
        if !registry.is_unknown_extension(kind, &whole) {
            return None;
        }
        if let Some(Value::Object(obj)) = value {
            for name in obj.keys() {
                note_ignored(&mut out, &whole, name);
            }
        }
        return Some(out);
    }
    if !registry.is_unknown_extension(kind, urn) {
        return None;
    }
    note_ignored(&mut out, urn, &path.name);
    Some(out)
}

impl ValidatedResource {
    /// A top-level string attribute.
    pub fn str_attr(&self, name: &str) -> Option<&str> {
        self.attributes.get(name).and_then(Value::as_str)
    }

    /// A top-level boolean attribute.
    pub fn bool_attr(&self, name: &str) -> Option<bool> {
        self.attributes.get(name).and_then(Value::as_bool)
    }
}

/// Validates a POST or PUT body for a resource of `kind`.
pub fn validate_resource(
    registry: &SchemaRegistry,
    kind: ResourceKind,
    body: &Value,
) -> Result<ValidatedResource, ScimError> {
    let v = validate_patched(registry, kind, body)?;
    check_required_extensions(registry, kind, &v.attributes, None)?;
    Ok(v)
}

/// [`validate_resource`] without the check of required extension attributes, which a PATCH
/// makes against the resource's previous state ([`check_required_extensions`]).
pub(crate) fn validate_patched(
    registry: &SchemaRegistry,
    kind: ResourceKind,
    body: &Value,
) -> Result<ValidatedResource, ScimError> {
    let obj = body
        .as_object()
        .ok_or_else(|| ScimError::invalid_syntax("The request body must be a JSON object"))?;
    let core = registry.core_schema(kind);
    let limits = registry.value_limits();
    let mut attributes = Map::new();
    let mut members = Vec::new();
    let mut ignored = Vec::new();

    for (key, value) in obj {
        if key.eq_ignore_ascii_case("schemas") {
            check_schemas(value)?;
        } else if key.eq_ignore_ascii_case("id") || key.eq_ignore_ascii_case("meta") {
            // readOnly common attributes: ignored on input.
        } else if key.eq_ignore_ascii_case("externalId") {
            match value {
                Value::Null => {}
                Value::String(s) if s.is_empty() => {}
                Value::String(s) => {
                    attributes.insert("externalId".into(), Value::String(s.clone()));
                }
                _ => return Err(type_error("externalId", "a string")),
            }
        } else if let Some(ext) = registry.extension(kind, key) {
            let undeclared = registry.is_custom(&ext.id).then_some(&mut ignored);
            if let Some(v) = validate_extension(ext, value, limits, undeclared)? {
                attributes.insert(ext.id.clone(), v);
            }
        } else if let Some(def) = core.attribute(key) {
            if kind == ResourceKind::Group && def.name == "members" {
                members = validate_members(def, value, limits)?;
            } else if let Some(v) = validate_attribute(def, &def.name, value, limits)? {
                attributes.insert(def.name.clone(), v);
            }
        } else if let Some(names) = unknown_extension_attributes(registry, kind, key, Some(value)) {
            for i in names {
                note_ignored(&mut ignored, &i.schema, &i.name);
            }
        }
    }

    for def in core.attributes.iter().filter(|d| d.required) {
        if !attributes.contains_key(&def.name) {
            return Err(ScimError::invalid_value(format!(
                "Attribute '{}' is required",
                def.name
            )));
        }
    }
    Ok(ValidatedResource {
        attributes,
        members,
        ignored,
    })
}

/// Refuses a resource missing a `required` extension attribute. With `before` (a PATCH), only
/// attributes the resource had before count: a user stored while the tenant's custom attributes
/// were off (or before an attribute became required) can still be patched, so provisioning
/// never stalls on it, but a PATCH cannot remove a required value.
pub fn check_required_extensions(
    registry: &SchemaRegistry,
    kind: ResourceKind,
    attributes: &Map<String, Value>,
    before: Option<&Map<String, Value>>,
) -> Result<(), ScimError> {
    let value = |map: &Map<String, Value>, ext: &str, name: &str| {
        map.get(ext).and_then(|e| e.get(name)).is_some()
    };
    for ext in registry.extensions(kind) {
        for def in ext.attributes.iter().filter(|d| d.required) {
            let had = before.is_none_or(|b| value(b, &ext.id, &def.name));
            if had && !value(attributes, &ext.id, &def.name) {
                return Err(ScimError::invalid_value(format!(
                    "Attribute '{}:{}' is required",
                    ext.id, def.name
                )));
            }
        }
    }
    Ok(())
}

fn check_schemas(value: &Value) -> Result<(), ScimError> {
    match value {
        Value::Array(items) if items.iter().all(Value::is_string) => Ok(()),
        _ => Err(type_error("schemas", "an array of schema URNs")),
    }
}

/// Validates an extension object; names it does not declare go to `undeclared` when given.
fn validate_extension(
    ext: &Schema,
    value: &Value,
    limits: &ValueLimits,
    mut undeclared: Option<&mut Vec<IgnoredAttribute>>,
) -> Result<Option<Value>, ScimError> {
    let obj = match value {
        Value::Null => return Ok(None),
        Value::Object(obj) => obj,
        _ => return Err(type_error(&ext.id, "an object")),
    };
    let mut out = Map::new();
    for (key, v) in obj {
        if let Some(def) = ext.attribute(key) {
            let path = format!("{}:{}", ext.id, def.name);
            if let Some(v) = validate_attribute(def, &path, v, limits)? {
                out.insert(def.name.clone(), v);
            }
        } else if let Some(list) = undeclared.as_deref_mut() {
            note_ignored(list, &ext.id, key);
        }
    }
    Ok((!out.is_empty()).then_some(Value::Object(out)))
}

fn validate_members(
    def: &AttributeDef,
    value: &Value,
    limits: &ValueLimits,
) -> Result<Vec<MemberInput>, ScimError> {
    let unbounded = ValueLimits {
        max_values: usize::MAX,
        ..*limits
    };
    let Some(Value::Array(items)) = validate_attribute(def, "members", value, &unbounded)? else {
        return Ok(Vec::new());
    };
    let mut members: Vec<MemberInput> = Vec::with_capacity(items.len());
    for item in items {
        let value = item
            .get("value")
            .and_then(Value::as_str)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| {
                ScimError::invalid_value("Each member needs a 'value' (the member's id)")
            })?;
        let kind = match item.get("type").and_then(Value::as_str) {
            None => None,
            Some(t) => Some(ResourceKind::parse(t).ok_or_else(|| {
                ScimError::invalid_value(format!(
                    "Member type '{t}' is not supported; use 'User' or 'Group'"
                ))
            })?),
        };
        if !members.iter().any(|m| m.value == value) {
            members.push(MemberInput {
                value: value.to_owned(),
                kind,
            });
        }
    }
    Ok(members)
}

/// Validates one attribute value against its definition. `Ok(None)` means "absent".
pub fn validate_attribute(
    def: &AttributeDef,
    path: &str,
    value: &Value,
    limits: &ValueLimits,
) -> Result<Option<Value>, ScimError> {
    if def.mutability == Mutability::ReadOnly || value.is_null() {
        return Ok(None);
    }
    if !def.multi_valued {
        return validate_single(def, path, value, limits);
    }
    let Value::Array(items) = value else {
        return Err(type_error(path, "an array"));
    };
    if items.len() > limits.max_values {
        return Err(ScimError::invalid_value(format!(
            "Attribute '{path}' has more than {} values",
            limits.max_values
        )));
    }
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        if let Some(v) = validate_single(def, path, item, limits)? {
            out.push(v);
        }
    }
    let primaries = out
        .iter()
        .filter(|v| v.get("primary").and_then(Value::as_bool) == Some(true))
        .count();
    if primaries > 1 {
        return Err(ScimError::invalid_value(format!(
            "At most one value of '{path}' may have primary set to true"
        )));
    }
    Ok((!out.is_empty()).then_some(Value::Array(out)))
}

fn validate_single(
    def: &AttributeDef,
    path: &str,
    value: &Value,
    limits: &ValueLimits,
) -> Result<Option<Value>, ScimError> {
    if value.is_null() {
        return Ok(None);
    }
    let v = match def.kind {
        AttrType::String | AttrType::Reference | AttrType::Binary => match value {
            // RFC 7643 §2.5: an empty string is the same as no value.
            Value::String(s) if s.is_empty() => return Ok(None),
            Value::String(s) if s.len() > limits.max_string_bytes => {
                return Err(ScimError::invalid_value(format!(
                    "Attribute '{path}' is longer than {} bytes",
                    limits.max_string_bytes
                )))
            }
            Value::String(_) => value.clone(),
            _ => return Err(type_error(path, "a string")),
        },
        AttrType::Boolean => {
            Value::Bool(coerce_bool(value).ok_or_else(|| type_error(path, "a boolean"))?)
        }
        AttrType::Integer => match value {
            Value::Number(n) if n.is_i64() || n.is_u64() => value.clone(),
            _ => return Err(type_error(path, "an integer")),
        },
        AttrType::Decimal => match value {
            Value::Number(_) => value.clone(),
            _ => return Err(type_error(path, "a number")),
        },
        AttrType::DateTime => match value.as_str().map(chrono::DateTime::parse_from_rfc3339) {
            Some(Ok(t)) => Value::String(canonical_date_time(&t.with_timezone(&chrono::Utc))),
            _ => return Err(type_error(path, "an RFC 3339 dateTime string")),
        },
        AttrType::Complex => {
            let Value::Object(obj) = value else {
                return Err(type_error(path, "an object"));
            };
            let mut out = Map::new();
            for (key, v) in obj {
                if let Some(sub) = def.sub_attribute(key) {
                    let sub_path = format!("{path}.{}", sub.name);
                    if let Some(v) = validate_attribute(sub, &sub_path, v, limits)? {
                        out.insert(sub.name.clone(), v);
                    }
                }
            }
            if out.is_empty() {
                return Ok(None);
            }
            Value::Object(out)
        }
    };
    Ok(Some(v))
}

/// Refuses a change to an `immutable` attribute that already has a value (RFC 7643 §7:
/// immutable attributes may be set once, never changed). `400 mutability`.
pub fn check_immutable(
    registry: &SchemaRegistry,
    kind: ResourceKind,
    old: &Map<String, Value>,
    new: &Map<String, Value>,
) -> Result<(), ScimError> {
    let mut schemas = vec![(None, registry.core_schema(kind))];
    schemas.extend(
        registry
            .extensions(kind)
            .into_iter()
            .map(|e| (Some(e.id.as_str()), e)),
    );
    for (container, schema) in schemas {
        let pick = |map: &Map<String, Value>, name: &str| -> Option<Value> {
            match container {
                None => map.get(name).cloned(),
                Some(urn) => map.get(urn).and_then(|e| e.get(name)).cloned(),
            }
        };
        for def in schema
            .attributes
            .iter()
            .filter(|d| d.mutability == Mutability::Immutable)
        {
            if let Some(before) = pick(old, &def.name) {
                if pick(new, &def.name).as_ref() != Some(&before) {
                    return Err(ScimError::bad_request(
                        crate::ScimType::Mutability,
                        format!("'{}' is immutable: it cannot be changed once set", def.name),
                    ));
                }
            }
        }
    }
    Ok(())
}

/// The stored form of a dateTime: UTC with milliseconds (`2026-01-02T03:04:05.000Z`), so that
/// stored values compare correctly as text.
pub fn canonical_date_time(t: &chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// A boolean, or the strings `"true"`/`"false"` in any case (Entra ID compatibility).
pub fn coerce_bool(value: &Value) -> Option<bool> {
    match value {
        Value::Bool(b) => Some(*b),
        Value::String(s) if s.eq_ignore_ascii_case("true") => Some(true),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    }
}

fn type_error(path: &str, expected: &str) -> ScimError {
    ScimError::invalid_value(format!("Attribute '{path}' must be {expected}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::urn;
    use serde_json::json;

    fn reg() -> SchemaRegistry {
        SchemaRegistry::core().expect("schemas load")
    }

    fn user(body: Value) -> Result<ValidatedResource, ScimError> {
        validate_resource(&reg(), ResourceKind::User, &body)
    }

    #[test]
    fn canonicalises_names_and_keeps_extension() {
        let v = user(json!({
            "schemas": [urn::USER, urn::ENTERPRISE_USER],
            "USERNAME": "bjensen",
            "name": {"GivenName": "Barbara", "unknown": 1},
            "emails": [{"value": "b@x.org", "type": "work", "primary": true}],
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:user": {"employeeNumber": "42"},
            "id": "ignored", "meta": {"version": "x"}, "unknownAttr": true
        }))
        .expect("valid");
        assert_eq!(v.str_attr("userName"), Some("bjensen"));
        assert_eq!(v.attributes["name"], json!({"givenName": "Barbara"}));
        assert_eq!(
            v.attributes[urn::ENTERPRISE_USER],
            json!({"employeeNumber": "42"})
        );
        assert!(!v.attributes.contains_key("id"));
        assert!(!v.attributes.contains_key("unknownAttr"));
    }

    #[test]
    fn entra_string_booleans_are_coerced() {
        let v = user(json!({"userName": "a", "active": "False",
            "emails": [{"value": "a@x", "primary": "True"}]}))
        .expect("valid");
        assert_eq!(v.bool_attr("active"), Some(false));
        assert_eq!(v.attributes["emails"][0]["primary"], json!(true));
    }

    #[test]
    fn rejects_wrong_types_with_invalid_value() {
        for body in [
            json!({"userName": 5}),
            json!({"userName": "a", "active": "yes"}),
            json!({"userName": "a", "emails": {"value": "x"}}),
            json!({"userName": "a", "name": "Barbara"}),
            json!({"userName": "a", "externalId": 3}),
            json!({"userName": "a", "schemas": "urn"}),
        ] {
            let err = user(body.clone()).expect_err("invalid");
            assert_eq!(err.status, 400, "{body}");
            assert_eq!(err.scim_type, Some(crate::ScimType::InvalidValue), "{body}");
        }
    }

    #[test]
    fn requires_user_name_and_single_primary() {
        assert_eq!(
            user(json!({"displayName": "x"}))
                .expect_err("missing")
                .status,
            400
        );
        let err = user(json!({"userName": "a", "emails": [
            {"value": "a", "primary": true}, {"value": "b", "primary": true}]}))
        .expect_err("two primaries");
        assert!(err.detail.contains("primary"));
    }

    #[test]
    fn immutable_attributes_are_set_once() {
        let reg = reg();
        let mut schema = reg.core_schema(ResourceKind::User).clone();
        if let Some(d) = schema.attributes.iter_mut().find(|d| d.name == "title") {
            d.mutability = Mutability::Immutable;
        }
        let reg = SchemaRegistry::from_parts(
            schema,
            reg.core_schema(ResourceKind::Group).clone(),
            reg.extensions(ResourceKind::User)[0].clone(),
        );
        let map = |v: Value| v.as_object().cloned().expect("object");
        let old = map(json!({"userName": "a", "title": "Boss"}));
        assert!(check_immutable(
            &reg,
            ResourceKind::User,
            &old,
            &map(json!({"userName": "b", "title": "Boss"}))
        )
        .is_ok());
        let err = check_immutable(
            &reg,
            ResourceKind::User,
            &old,
            &map(json!({"userName": "a", "title": "Clerk"})),
        )
        .expect_err("changed");
        assert_eq!(err.scim_type, Some(crate::ScimType::Mutability));
        assert!(
            check_immutable(
                &reg,
                ResourceKind::User,
                &map(json!({"userName": "a"})),
                &old
            )
            .is_ok(),
            "first set is allowed"
        );
    }

    #[test]
    fn value_limits_are_enforced() {
        let reg = reg().with_value_limits(ValueLimits {
            max_string_bytes: 8,
            max_values: 2,
        });
        let user = |body: Value| validate_resource(&reg, ResourceKind::User, &body);
        assert!(user(json!({"userName": "12345678"})).is_ok());
        let err = user(json!({"userName": "123456789"})).expect_err("long");
        assert!(err.detail.contains("8 bytes"), "{}", err.detail);
        let err = user(
            json!({"userName": "a", "emails": [{"value": "1"}, {"value": "2"}, {"value": "3"}]}),
        )
        .expect_err("many");
        assert!(err.detail.contains("more than 2"), "{}", err.detail);
        let group = json!({"displayName": "g", "members": [{"value": "1"}, {"value": "2"}, {"value": "3"}]});
        assert!(
            validate_resource(&reg, ResourceKind::Group, &group).is_ok(),
            "members are not capped"
        );
    }

    #[test]
    fn body_must_be_object() {
        let err = user(json!([1])).expect_err("array");
        assert_eq!(err.scim_type, Some(crate::ScimType::InvalidSyntax));
    }

    #[test]
    fn groups_collect_members_and_drop_display() {
        let v = validate_resource(
            &reg(),
            ResourceKind::Group,
            &json!({"displayName": "Admins", "members": [
                {"value": "u1", "display": "ignored"}, {"value": "g2", "type": "Group"},
                {"value": "u1"}]}),
        )
        .expect("valid");
        assert_eq!(
            v.members,
            vec![
                MemberInput {
                    value: "u1".into(),
                    kind: None
                },
                MemberInput {
                    value: "g2".into(),
                    kind: Some(ResourceKind::Group)
                }
            ]
        );
        assert!(!v.attributes.contains_key("members"));
        let err = validate_resource(
            &reg(),
            ResourceKind::Group,
            &json!({"displayName": "A", "members": [{"type": "User"}]}),
        )
        .expect_err("no value");
        assert_eq!(err.status, 400);
    }
}
