//! A tenant's custom User extension: its declaration (RFC 7643 §7 schema representation) checked
//! and turned into a [`Schema`], the check of stored values against a new declaration, and the
//! rule that values the current registry cannot see are carried over unchanged on writes.
//!
//! The declaration is data owned by the tenant (`tenant.custom_schema`); whether it is in force
//! is the tenant-wide switch. With the switch off the URN stays known to the registry as
//! *dormant*: requests naming it are accepted and their custom parts ignored, and stored values
//! under it are neither returned nor lost.

use serde_json::{Map, Value};

use crate::{
    resource::ResourceKind,
    schema::{AttrType, AttributeDef, Mutability, Returned, Schema, SchemaRegistry, Uniqueness},
    urn,
    validate::{validate_attribute, ValueLimits},
};

/// Most attributes one level of a declaration may have.
pub const MAX_ATTRIBUTES: usize = 100;

/// Longest accepted schema URN.
const MAX_URN_LEN: usize = 256;

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

const ATTRIBUTE_PROPERTIES: &[&str] = &[
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

/// A declaration that cannot be used; the message names the offending property
/// (`customSchema.attributes[2].type must be one of ...`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct DeclarationError(pub String);

fn bad(message: impl Into<String>) -> DeclarationError {
    DeclarationError(message.into())
}

/// The declaration of a tenant that has declared nothing: the default URN, no attributes.
pub fn default_declaration() -> Value {
    serde_json::json!({
        "id": urn::CUSTOM_USER_DEFAULT,
        "name": "CustomUser",
        "description": "Custom attributes of the tenant's users",
        "attributes": [],
    })
}

/// Checks a declaration in the RFC 7643 §7 representation (`id` = the URN, `name`,
/// `description`, `attributes`) and returns the schema it declares. Omitted attribute
/// properties take the RFC defaults (`readWrite`, `returned: default`, not multi-valued, not
/// required, not case-exact).
pub fn parse_declaration(value: &Value) -> Result<Schema, DeclarationError> {
    let obj = value
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
    check_urn(id)?;
    for text in ["name", "description"] {
        if obj.get(text).is_some_and(|v| !v.is_string()) {
            return Err(bad(format!("customSchema.{text} must be a string")));
        }
    }
    let attributes = obj
        .get("attributes")
        .ok_or_else(|| bad("customSchema.attributes is required"))?;
    let attributes = parse_attributes(attributes, "customSchema.attributes", 0)?;
    let text = |k: &str| obj.get(k).and_then(Value::as_str).map(str::to_owned);
    Ok(Schema {
        id: id.to_owned(),
        name: text("name").unwrap_or_else(|| "CustomUser".into()),
        description: text("description").unwrap_or_default(),
        attributes,
    })
}

/// The attribute names of the enterprise User extension (RFC 7643 §4.3).
pub const ENTERPRISE_ATTRIBUTES: &[&str] = &[
    "employeeNumber",
    "costCenter",
    "organization",
    "division",
    "department",
    "manager",
];

/// The first attribute of `schema` (a custom declaration) that has the name of an
/// enterprise User attribute, compared case-insensitively. Such a declaration is refused:
/// an unqualified name resolves to the enterprise attribute first
/// ([`crate::schema::SchemaRegistry::qualify`]), so the custom one could never be named
/// without its URN.
pub fn enterprise_clash(schema: &Schema) -> Option<&str> {
    schema
        .attributes
        .iter()
        .map(|a| a.name.as_str())
        .find(|name| {
            ENTERPRISE_ATTRIBUTES
                .iter()
                .any(|e| e.eq_ignore_ascii_case(name))
        })
}

/// A schema URN usable for the custom extension: `urn:` + at least two more parts, no spaces,
/// not a standard schema, and splittable from an attribute name in filters and PATCH paths.
fn check_urn(id: &str) -> Result<(), DeclarationError> {
    let well_formed = id.len() <= MAX_URN_LEN
        && id.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("urn:"))
        && !id.ends_with(':')
        && id.split(':').count() >= 3
        && id.split(':').all(|part| !part.is_empty())
        && id
            .chars()
            .all(|c| c.is_ascii_graphic() && !matches!(c, '"' | '[' | ']' | ' '));
    if !well_formed {
        return Err(bad(format!(
            "customSchema.id '{id}' must be a URN such as {} (urn:<nid>:<nss>, no spaces)",
            urn::CUSTOM_USER_DEFAULT
        )));
    }
    let reserved = [urn::USER, urn::GROUP, urn::ENTERPRISE_USER];
    if reserved.iter().any(|u| u.eq_ignore_ascii_case(id)) {
        return Err(bad(format!(
            "customSchema.id cannot be the standard schema {id}"
        )));
    }
    // The URN must come back whole when an attribute path is split (`<urn>:<name>`).
    let splits = scim_filter_parser::parse_attr_path(&format!("{id}:probe"))
        .ok()
        .is_some_and(|p| p.urn.as_deref() == Some(id) && p.name == "probe");
    if !splits {
        return Err(bad(format!(
            "customSchema.id '{id}' cannot be used in attribute paths; use letters, digits, '.', '-' and ':'"
        )));
    }
    Ok(())
}

fn enum_value(
    attr: &Map<String, Value>,
    key: &str,
    allowed: &[&str],
    at: &str,
) -> Result<Option<String>, DeclarationError> {
    match attr.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if allowed.contains(&s.as_str()) => Ok(Some(s.clone())),
        Some(_) => Err(bad(format!(
            "{at}.{key} must be one of {}",
            allowed.join(", ")
        ))),
    }
}

fn flag(attr: &Map<String, Value>, key: &str, at: &str) -> Result<bool, DeclarationError> {
    match attr.get(key) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(_) => Err(bad(format!("{at}.{key} must be true or false"))),
    }
}

fn strings(
    attr: &Map<String, Value>,
    key: &str,
    at: &str,
) -> Result<Vec<String>, DeclarationError> {
    match attr.get(key) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| bad(format!("{at}.{key} must be an array of strings")))
            })
            .collect(),
        Some(_) => Err(bad(format!("{at}.{key} must be an array of strings"))),
    }
}

fn parse_attributes(
    list: &Value,
    at: &str,
    depth: u8,
) -> Result<Vec<AttributeDef>, DeclarationError> {
    let list = list
        .as_array()
        .ok_or_else(|| bad(format!("{at} must be an array")))?;
    if list.len() > MAX_ATTRIBUTES {
        return Err(bad(format!(
            "{at} has more than {MAX_ATTRIBUTES} attributes"
        )));
    }
    let mut out: Vec<AttributeDef> = Vec::with_capacity(list.len());
    for (i, attr) in list.iter().enumerate() {
        let here = format!("{at}[{i}]");
        let attr = attr
            .as_object()
            .ok_or_else(|| bad(format!("{here} must be an object")))?;
        if let Some(key) = attr
            .keys()
            .find(|k| !ATTRIBUTE_PROPERTIES.contains(&k.as_str()))
        {
            return Err(bad(format!("{here}: unknown property '{key}'")));
        }
        let name = attr
            .get("name")
            .and_then(Value::as_str)
            .ok_or_else(|| bad(format!("{here}.name is required")))?;
        // RFC 7643 §2.1: ATTRNAME = ALPHA *(nameChar).
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
        if out.iter().any(|d| d.name.eq_ignore_ascii_case(name)) {
            return Err(bad(format!("{here}.name '{name}' is declared twice")));
        }
        let ty = attr
            .get("type")
            .and_then(Value::as_str)
            .ok_or_else(|| bad(format!("{here}.type is required")))?;
        let kind = match ty {
            "string" => AttrType::String,
            "boolean" => AttrType::Boolean,
            "decimal" => AttrType::Decimal,
            "integer" => AttrType::Integer,
            "dateTime" => AttrType::DateTime,
            "reference" => AttrType::Reference,
            "complex" => AttrType::Complex,
            "binary" => AttrType::Binary,
            _ => {
                return Err(bad(format!(
                    "{here}.type must be one of {}",
                    TYPES.join(", ")
                )))
            }
        };
        if attr.get("description").is_some_and(|v| !v.is_string()) {
            return Err(bad(format!("{here}.description must be a string")));
        }
        let mutability = match enum_value(
            attr,
            "mutability",
            &["readOnly", "readWrite", "immutable", "writeOnly"],
            &here,
        )?
        .as_deref()
        {
            Some("readOnly") => Mutability::ReadOnly,
            Some("immutable") => Mutability::Immutable,
            Some("writeOnly") => Mutability::WriteOnly,
            _ => Mutability::ReadWrite,
        };
        let returned = match enum_value(
            attr,
            "returned",
            &["always", "never", "default", "request"],
            &here,
        )?
        .as_deref()
        {
            Some("always") => Returned::Always,
            Some("never") => Returned::Never,
            Some("request") => Returned::Request,
            _ => Returned::Default,
        };
        // Uniqueness of custom values is not enforced, so it is not promised either.
        if enum_value(attr, "uniqueness", &["none"], &here).is_err() {
            return Err(bad(format!(
                "{here}.uniqueness must be none: scimd does not enforce uniqueness of custom attributes"
            )));
        }
        let sub_attributes = match (kind, attr.get("subAttributes")) {
            (AttrType::Complex, Some(sub)) if depth == 0 => {
                let subs = parse_attributes(sub, &format!("{here}.subAttributes"), 1)?;
                if subs.is_empty() {
                    return Err(bad(format!(
                        "{here}.subAttributes must declare at least one sub-attribute"
                    )));
                }
                subs
            }
            (AttrType::Complex, Some(_)) => {
                return Err(bad(format!("{here}: complex attributes cannot nest")));
            }
            (AttrType::Complex, None) => {
                return Err(bad(format!(
                    "{here}.subAttributes is required for type complex"
                )));
            }
            (_, Some(_)) => {
                return Err(bad(format!(
                    "{here}.subAttributes is only for type complex"
                )));
            }
            _ => Vec::new(),
        };
        out.push(AttributeDef {
            name: name.to_owned(),
            kind,
            multi_valued: flag(attr, "multiValued", &here)?,
            description: attr
                .get("description")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            required: flag(attr, "required", &here)?,
            case_exact: flag(attr, "caseExact", &here)?,
            mutability,
            returned,
            uniqueness: Uniqueness::None,
            sub_attributes,
            canonical_values: strings(attr, "canonicalValues", &here)?,
            reference_types: strings(attr, "referenceTypes", &here)?,
        });
    }
    Ok(out)
}

/// Checks the values stored under a user's custom extension object (`stored`) against the
/// declaration `schema`: every declared attribute's value must be valid for its (new) type.
/// Values of attributes the declaration does not name are kept and do not matter. The error
/// names the attribute and what it must be.
pub fn check_stored(schema: &Schema, stored: &Value) -> Result<(), String> {
    let Some(obj) = stored.as_object() else {
        return Ok(());
    };
    let limits = ValueLimits {
        max_string_bytes: usize::MAX,
        max_values: usize::MAX,
    };
    for (name, value) in obj {
        if let Some(def) = schema.attribute(name) {
            let relaxed = AttributeDef {
                mutability: Mutability::ReadWrite,
                ..def.clone()
            };
            let path = format!("{}:{}", schema.id, def.name);
            if let Err(e) = validate_attribute(&relaxed, &path, value, &limits) {
                return Err(e.detail);
            }
        }
    }
    Ok(())
}

/// Copies into `new` what a write cannot see but must keep: stored extension objects whose
/// URN is not an extension in force (the custom extension while the switch is off, or values
/// under a URN the tenant declared earlier), and, inside the custom extension in force, values
/// of attributes it no longer declares. Switching never loses data.
pub fn carry_hidden(
    registry: &SchemaRegistry,
    kind: ResourceKind,
    old: &Map<String, Value>,
    new: &mut Map<String, Value>,
) {
    let core = registry.core_schema(kind);
    for (key, value) in old {
        if key == "externalId" || core.attribute(key).is_some() {
            continue;
        }
        match registry.extension(kind, key) {
            None => {
                new.insert(key.clone(), value.clone());
            }
            Some(ext) if registry.is_custom(&ext.id) => {
                let Some(stored) = value.as_object() else {
                    continue;
                };
                let hidden: Map<String, Value> = stored
                    .iter()
                    .filter(|(name, _)| ext.attribute(name).is_none())
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                if hidden.is_empty() {
                    continue;
                }
                let entry = new
                    .entry(ext.id.clone())
                    .or_insert_with(|| Value::Object(Map::new()));
                if let Value::Object(target) = entry {
                    for (k, v) in hidden {
                        target.entry(k).or_insert(v);
                    }
                }
            }
            Some(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::IgnoredAttribute;
    use serde_json::json;

    fn acme() -> Value {
        json!({
            "id": "urn:ietf:params:scim:schemas:extension:acme:2.0:User",
            "name": "AcmeUser",
            "attributes": [
                {"name": "badge", "type": "string", "multiValued": false, "description": "Badge"},
                {"name": "level", "type": "integer"},
                {"name": "site", "type": "complex", "multiValued": false,
                 "subAttributes": [{"name": "code", "type": "integer"}]}
            ]
        })
    }

    #[test]
    fn enterprise_names_are_the_enterprise_schema_s_and_clash() {
        let reg = SchemaRegistry::core().unwrap();
        let names: Vec<&str> = reg.extensions(ResourceKind::User)[0]
            .attributes
            .iter()
            .map(|a| a.name.as_str())
            .collect();
        assert_eq!(names, ENTERPRISE_ATTRIBUTES);
        let clash = parse_declaration(&json!({
            "id": "urn:acme:2.0:User",
            "attributes": [{"name": "badge", "type": "string"}, {"name": "Manager", "type": "string"}]
        }))
        .unwrap();
        assert_eq!(enterprise_clash(&clash), Some("Manager"));
        let fine = parse_declaration(&json!({
            "id": "urn:acme:2.0:User",
            "attributes": [{"name": "badge", "type": "string"}]
        }))
        .unwrap();
        assert_eq!(enterprise_clash(&fine), None);
    }

    #[test]
    fn rfc7643_declarations_parse_with_defaults() {
        let s = parse_declaration(&acme()).expect("valid");
        assert_eq!(s.id, "urn:ietf:params:scim:schemas:extension:acme:2.0:User");
        let badge = s.attribute("BADGE").expect("case-insensitive");
        assert_eq!(badge.kind, AttrType::String);
        assert_eq!(badge.mutability, Mutability::ReadWrite);
        assert_eq!(badge.returned, Returned::Default);
        assert!(!badge.multi_valued && !badge.required && !badge.case_exact);
        assert_eq!(badge.description, "Badge");
        let site = s.attribute("site").expect("site");
        assert_eq!(
            site.sub_attribute("code").map(|d| d.kind),
            Some(AttrType::Integer)
        );
        // The default declaration parses too (no attributes).
        let d = parse_declaration(&default_declaration()).expect("default");
        assert_eq!(d.id, urn::CUSTOM_USER_DEFAULT);
        assert!(d.attributes.is_empty());
        // Any URN that can be split from an attribute name.
        for id in ["urn:acme:custom", "urn:example:params:scim:schemas:Ext1.0"] {
            assert!(
                parse_declaration(&json!({"id": id, "attributes": []})).is_ok(),
                "{id}"
            );
        }
    }

    #[test]
    fn mistakes_are_named() {
        for (bad, needle) in [
            (json!({"attributes": []}), "id"),
            (json!({"id": "not-a-urn", "attributes": []}), "URN"),
            (json!({"id": "urn:x", "attributes": []}), "URN"),
            (json!({"id": "urn:a:b:", "attributes": []}), "URN"),
            (json!({"id": "urn:a b:c", "attributes": []}), "URN"),
            (
                json!({"id": "urn:ietf:params:scim:schemas:core:2.0:User", "attributes": []}),
                "standard",
            ),
            (
                json!({"id": "urn:a:b", "attributes": [{"name": "a", "type": "float"}]}),
                "attributes[0].type",
            ),
            (
                json!({"id": "urn:a:b", "attributes": [{"name": "1a", "type": "string"}]}),
                "attributes[0].name",
            ),
            (
                json!({"id": "urn:a:b", "attributes": [{"name": "a", "type": "string"}, {"name": "A", "type": "string"}]}),
                "twice",
            ),
            (
                json!({"id": "urn:a:b", "attributes": [{"name": "a", "type": "complex"}]}),
                "subAttributes",
            ),
            (
                json!({"id": "urn:a:b", "attributes": [{"name": "a", "type": "complex", "subAttributes": [
                    {"name": "b", "type": "complex", "subAttributes": [{"name": "c", "type": "string"}]}]}]}),
                "nest",
            ),
            (
                json!({"id": "urn:a:b", "attributes": [{"name": "a", "type": "string", "bogus": 1}]}),
                "bogus",
            ),
            (
                json!({"id": "urn:a:b", "attributes": [{"name": "a", "type": "string", "multiValued": "yes"}]}),
                "multiValued",
            ),
            (
                json!({"id": "urn:a:b", "attributes": [{"name": "a", "type": "string", "uniqueness": "server"}]}),
                "uniqueness",
            ),
        ] {
            let err = parse_declaration(&bad).expect_err(&bad.to_string());
            assert!(err.0.contains(needle), "{bad}: {err}");
        }
    }

    #[test]
    fn stored_values_are_checked_against_a_new_declaration() {
        let s = parse_declaration(&acme()).expect("valid");
        assert!(check_stored(&s, &json!({"badge": "B1", "level": 3, "site": {"code": 7}})).is_ok());
        assert!(
            check_stored(&s, &json!({"gone": [1, 2]})).is_ok(),
            "undeclared kept"
        );
        let err = check_stored(&s, &json!({"level": "three"})).expect_err("type");
        assert!(err.contains("level") && err.contains("integer"), "{err}");
        let err = check_stored(&s, &json!({"badge": ["a"]})).expect_err("multi");
        assert!(err.contains("badge"), "{err}");
        let err = check_stored(&s, &json!({"site": {"code": "x"}})).expect_err("sub");
        assert!(err.contains("site.code"), "{err}");
    }

    #[test]
    fn hidden_values_are_carried_over() {
        let schema = parse_declaration(&acme()).expect("valid");
        let urn = schema.id.clone();
        let core = SchemaRegistry::core().expect("core");
        let old = json!({
            "userName": "a",
            urn.clone(): {"badge": "B1", "retired": "x"},
            "urn:old:ext": {"v": 1},
            crate::urn::ENTERPRISE_USER: {"department": "Eng"}
        });
        let old = old.as_object().expect("object");

        // Off: the whole custom object and the old URN are kept; enterprise is the write's.
        let off = core.clone().with_custom(schema.clone(), false);
        let mut new = Map::new();
        new.insert("userName".into(), json!("b"));
        carry_hidden(&off, ResourceKind::User, old, &mut new);
        assert_eq!(new[&urn], json!({"badge": "B1", "retired": "x"}));
        assert_eq!(new["urn:old:ext"], json!({"v": 1}));
        assert!(!new.contains_key(crate::urn::ENTERPRISE_USER));

        // On: declared values are the write's; undeclared ones stay.
        let on = core.with_custom(schema, true);
        let mut new = Map::new();
        new.insert(urn.clone(), json!({"level": 2}));
        carry_hidden(&on, ResourceKind::User, old, &mut new);
        assert_eq!(new[&urn], json!({"level": 2, "retired": "x"}));
    }

    fn registry(enabled: bool) -> SchemaRegistry {
        let schema = parse_declaration(&acme()).expect("valid");
        SchemaRegistry::core()
            .expect("core")
            .with_custom(schema, enabled)
    }

    const ACME: &str = "urn:ietf:params:scim:schemas:extension:acme:2.0:User";

    #[test]
    fn values_are_validated_by_type_when_on_and_ignored_when_off() {
        use crate::validate::validate_resource;
        let body = json!({"userName": "a", ACME: {"badge": "B1", "level": "3", "shoeSize": 42}});
        let err = validate_resource(&registry(true), ResourceKind::User, &body)
            .expect_err("level is an integer");
        assert_eq!(err.scim_type, Some(crate::ScimType::InvalidValue));
        assert!(
            err.detail.contains(&format!("{ACME}:level")),
            "{}",
            err.detail
        );

        let body = json!({"userName": "a", ACME: {"badge": "B1", "level": 3, "shoeSize": 42, "schemas": [ACME]}});
        let v = validate_resource(&registry(true), ResourceKind::User, &body).expect("valid");
        assert_eq!(v.attributes[ACME], json!({"badge": "B1", "level": 3}));
        assert_eq!(v.ignored, vec![IgnoredAttribute::new(ACME, "shoeSize")]);

        let bad = json!({"userName": "a", ACME: {"level": "three"}});
        let v = validate_resource(&registry(false), ResourceKind::User, &bad).expect("off");
        assert!(!v.attributes.contains_key(ACME));
        assert!(v.ignored.is_empty());
    }

    #[test]
    fn attributes_of_undeclared_extensions_are_ignored_and_named() {
        use crate::patch::{apply_patch, parse_patch};
        use crate::validate::validate_resource;
        const OTHER: &str = "urn:ietf:params:scim:schemas:extension:CustomExtensionName:2.0:User";
        let reg = SchemaRegistry::core().expect("core");
        let stored = json!({"userName": "a"});
        let stored = stored.as_object().expect("object");
        let ops = json!([
            {"op": "Add", "path": format!("{OTHER}:attrName"), "value": "x"},
            {"op": "Replace", "path": OTHER, "value": {"b": 1}},
            {"op": "Replace", "value": {format!("{OTHER}:c"): "y", OTHER: {"d": 2, "schemas": [OTHER]}}},
            {"op": "Add", "path": format!("{OTHER}:emails[type eq \"work\"].value"), "value": "e"},
            {"op": "Replace", "path": "displayName", "value": "A"}
        ]);
        let ops = parse_patch(&json!({"Operations": ops})).expect("parse");
        let done =
            apply_patch(&reg, ResourceKind::User, stored, &ops).expect("ignored, not refused");
        assert_eq!(
            done.resource.attributes,
            *json!({"userName": "a", "displayName": "A"})
                .as_object()
                .expect("o")
        );
        let names: Vec<(&str, &str)> = done
            .resource
            .ignored
            .iter()
            .map(|i| (i.schema.as_str(), i.name.as_str()))
            .collect();
        assert_eq!(
            names,
            vec![
                (OTHER, "attrName"),
                (OTHER, "b"),
                (OTHER, "c"),
                (OTHER, "d"),
                (OTHER, "emails")
            ]
        );

        let body = json!({"userName": "a", OTHER: {"attrName": "x"}});
        let v = validate_resource(&reg, ResourceKind::User, &body).expect("ignored");
        assert_eq!(v.ignored, vec![IgnoredAttribute::new(OTHER, "attrName")]);
        assert!(!v.attributes.contains_key(OTHER));

        // A core schema of another resource type is not an extension: still refused.
        let ops = json!([{"op": "Add", "path": "urn:ietf:params:scim:schemas:core:2.0:Group:displayName", "value": "x"}]);
        let ops = parse_patch(&json!({"Operations": ops})).expect("parse");
        assert!(apply_patch(&reg, ResourceKind::User, stored, &ops).is_err());
    }

    #[test]
    fn patch_paths_under_the_custom_urn() {
        use crate::patch::{apply_patch, parse_patch};
        let stored = json!({"userName": "a", ACME: {"badge": "B1", "level": 1}});
        let stored = stored.as_object().expect("object");
        let patch = |reg: &SchemaRegistry, ops: Value| {
            let ops = parse_patch(&json!({"Operations": ops})).expect("parse");
            apply_patch(reg, ResourceKind::User, stored, &ops)
        };
        let ops = json!([
            {"op": "Replace", "path": format!("{ACME}:level"), "value": 5},
            {"op": "Add", "path": format!("{ACME}:site.code"), "value": 9},
            {"op": "Replace", "value": {format!("{ACME}:badge"): "B2", ACME: {"shoeSize": 1, "schemas": [ACME]}}},
            {"op": "Add", "path": format!("{ACME}:unknown"), "value": "x"}
        ]);
        let on = patch(&registry(true), ops.clone()).expect("on");
        assert_eq!(
            on.resource.attributes[ACME],
            json!({"badge": "B2", "level": 5, "site": {"code": 9}})
        );
        assert_eq!(
            on.resource.ignored,
            vec![
                IgnoredAttribute::new(ACME, "shoeSize"),
                IgnoredAttribute::new(ACME, "unknown")
            ]
        );

        // Off: every form is accepted and changes nothing; stored values stay.
        let off = patch(&registry(false), ops).expect("off");
        assert_eq!(
            off.resource.attributes[ACME],
            json!({"badge": "B1", "level": 1})
        );
        for ops in [
            json!([{"op": "remove", "path": ACME}]),
            json!([{"op": "replace", "path": ACME, "value": {"badge": "x"}}]),
            json!([{"op": "replace", "value": {ACME: {"badge": "x"}}}]),
        ] {
            let off = patch(&registry(false), ops.clone()).expect("off");
            assert_eq!(off.resource.attributes.get(ACME), stored.get(ACME), "{ops}");
        }
        let err = patch(
            &registry(true),
            json!([{"op": "replace", "path": format!("{ACME}:level"), "value": "high"}]),
        )
        .expect_err("type");
        assert!(err.detail.contains("level"), "{}", err.detail);
    }

    #[test]
    fn required_custom_attributes_never_stall_a_patch_of_a_user_without_them() {
        use crate::patch::{apply_patch, parse_patch};
        use crate::validate::validate_resource;
        let mut decl = acme();
        decl["attributes"][0]["required"] = json!(true);
        let schema = parse_declaration(&decl).expect("valid");
        let reg = SchemaRegistry::core()
            .expect("core")
            .with_custom(schema, true);
        let err = validate_resource(&reg, ResourceKind::User, &json!({"userName": "a"}))
            .expect_err("create without badge");
        assert!(err.detail.contains("badge"), "{}", err.detail);

        let ops = |v: Value| parse_patch(&json!({"Operations": v})).expect("parse");
        // Stored while off: no badge. A PATCH of something else goes through.
        let without = json!({"userName": "a"});
        let without = without.as_object().expect("object");
        let title = ops(json!([{"op": "replace", "path": "title", "value": "Boss"}]));
        assert!(apply_patch(&reg, ResourceKind::User, without, &title).is_ok());
        // With a badge, a PATCH may change it but not remove it.
        let with = json!({"userName": "a", ACME: {"badge": "B1"}});
        let with = with.as_object().expect("object");
        let change =
            ops(json!([{"op": "replace", "path": format!("{ACME}:badge"), "value": "B2"}]));
        assert!(apply_patch(&reg, ResourceKind::User, with, &change).is_ok());
        let remove = ops(json!([{"op": "remove", "path": format!("{ACME}:badge")}]));
        let err = apply_patch(&reg, ResourceKind::User, with, &remove).expect_err("required");
        assert!(err.detail.contains("badge"), "{}", err.detail);
    }
}
