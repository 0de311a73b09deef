//! Turning a stored [`Resource`] into its SCIM JSON representation.

use serde_json::{json, Map, Value};

use crate::{
    resource::{MemberRef, Resource, ResourceKind},
    schema::{AttributeDef, Returned, SchemaRegistry},
};

/// The JSON representation of `res`, with `schemas`, `id`, `meta` and computed attributes.
///
/// `base_url` is the SCIM base (e.g. `https://host/scim/v2`). Attributes whose `returned` is
/// `never` (such as `password`) are left out.
pub fn render(registry: &SchemaRegistry, res: &Resource, base_url: &str) -> Value {
    let core = registry.core_schema(res.kind);
    let mut schemas = vec![Value::String(core.id.clone())];
    let mut out = Map::new();
    out.insert("id".into(), Value::String(res.id.clone()));
    if let Some(ext_id) = res.attributes.get("externalId") {
        out.insert("externalId".into(), ext_id.clone());
    }
    for (key, value) in &res.attributes {
        if key == "externalId" {
            continue;
        }
        if let Some(def) = core.attribute(key) {
            if let Some(v) = returned_value(def, value) {
                out.insert(key.clone(), v);
            }
        } else if let Some(ext) = registry.extension(res.kind, key) {
            let Some(obj) = value.as_object() else {
                continue;
            };
            let mut ext_out = Map::new();
            for (name, v) in obj {
                if let Some(v) = ext.attribute(name).and_then(|def| returned_value(def, v)) {
                    ext_out.insert(name.clone(), v);
                }
            }
            if !ext_out.is_empty() {
                schemas.push(Value::String(ext.id.clone()));
                out.insert(ext.id.clone(), Value::Object(ext_out));
            }
        }
    }
    if let Some(groups) = res.groups.as_ref().filter(|g| !g.is_empty()) {
        let list = groups
            .iter()
            .map(|g| reference_json(g, base_url, Some("direct")))
            .collect();
        out.insert("groups".into(), Value::Array(list));
    }
    if let Some(members) = res.members.as_ref().filter(|m| !m.is_empty()) {
        let list = members
            .iter()
            .map(|m| reference_json(m, base_url, None))
            .collect();
        out.insert("members".into(), Value::Array(list));
    }
    out.insert(
        "meta".into(),
        json!({
            "resourceType": res.kind.name(),
            "created": res.created.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "lastModified": res.last_modified.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "location": location(base_url, res.kind, &res.id),
            "version": res.etag(),
        }),
    );
    let mut full = Map::with_capacity(out.len() + 1);
    full.insert("schemas".into(), Value::Array(schemas));
    full.extend(out);
    Value::Object(full)
}

/// The absolute URL of a resource.
pub fn location(base_url: &str, kind: ResourceKind, id: &str) -> String {
    format!("{base_url}{}/{id}", kind.endpoint())
}

fn reference_json(r: &MemberRef, base_url: &str, group_type: Option<&str>) -> Value {
    let mut obj = Map::new();
    obj.insert("value".into(), Value::String(r.value.clone()));
    obj.insert(
        "$ref".into(),
        Value::String(location(base_url, r.kind, &r.value)),
    );
    if let Some(display) = &r.display {
        obj.insert("display".into(), Value::String(display.clone()));
    }
    let kind = group_type.unwrap_or(r.kind.name());
    obj.insert("type".into(), Value::String(kind.into()));
    Value::Object(obj)
}

fn returned_value(def: &AttributeDef, value: &Value) -> Option<Value> {
    if def.returned == Returned::Never {
        return None;
    }
    if def.sub_attributes.is_empty() {
        return Some(value.clone());
    }
    let strip = |v: &Value| -> Value {
        match v.as_object() {
            Some(obj) => Value::Object(
                obj.iter()
                    .filter(|(k, _)| {
                        def.sub_attribute(k)
                            .is_none_or(|sub| sub.returned != Returned::Never)
                    })
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
            ),
            None => v.clone(),
        }
    };
    Some(match value {
        Value::Array(items) => Value::Array(items.iter().map(strip).collect()),
        other => strip(other),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::urn;
    use chrono::{TimeZone, Utc};

    fn resource(attributes: Value) -> Resource {
        let created = Utc
            .with_ymd_and_hms(2026, 1, 2, 3, 4, 5)
            .single()
            .expect("date");
        Resource {
            kind: ResourceKind::User,
            id: "u1".into(),
            attributes: attributes.as_object().cloned().expect("object"),
            members: None,
            groups: Some(vec![MemberRef {
                value: "g1".into(),
                kind: ResourceKind::Group,
                display: Some("Admins".into()),
            }]),
            version: 3,
            created,
            last_modified: created,
        }
    }

    #[test]
    fn renders_meta_schemas_and_hides_password() {
        let reg = SchemaRegistry::core().expect("schemas");
        let res = resource(json!({
            "userName": "bjensen", "password": "secret", "externalId": "e1",
            urn::ENTERPRISE_USER: {"employeeNumber": "7"}
        }));
        let v = render(&reg, &res, "https://h/scim/v2");
        assert_eq!(v["schemas"], json!([urn::USER, urn::ENTERPRISE_USER]));
        assert_eq!(v["id"], "u1");
        assert_eq!(v["externalId"], "e1");
        assert!(v.get("password").is_none());
        assert_eq!(v["meta"]["version"], "W/\"3\"");
        assert_eq!(v["meta"]["location"], "https://h/scim/v2/Users/u1");
        assert_eq!(v["meta"]["created"], "2026-01-02T03:04:05.000Z");
        assert_eq!(v["groups"][0]["type"], "direct");
        assert_eq!(v["groups"][0]["$ref"], "https://h/scim/v2/Groups/g1");
        let keys: Vec<&String> = v.as_object().expect("object").keys().collect();
        assert_eq!(keys[0], "schemas");
    }
}
