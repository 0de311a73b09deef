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
    render_owned(registry, res.clone(), base_url)
}

/// [`render`] of a resource the caller no longer needs: its values move into the answer
/// instead of being copied (a response's resource, a list page's).
pub fn render_owned(registry: &SchemaRegistry, res: Resource, base_url: &str) -> Value {
    let core = registry.core_schema(res.kind);
    let mut schemas = vec![Value::String(core.id.clone())];
    let Resource {
        kind,
        id,
        mut attributes,
        members,
        groups,
        version,
        created,
        last_modified,
    } = res;
    let meta = json!({
        "resourceType": kind.name(),
        "created": created.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "lastModified": last_modified.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "location": location(base_url, kind, &id),
        "version": crate::resource::etag_of(version),
    });
    let mut out = Map::with_capacity(attributes.len() + 5);
    out.insert("schemas".into(), Value::Null);
    out.insert("id".into(), Value::String(id));
    if let Some(ext_id) = attributes.remove("externalId") {
        out.insert("externalId".into(), ext_id);
    }
    for (key, value) in attributes {
        if let Some(def) = core.attribute(&key) {
            if let Some(v) = returned_value(def, value) {
                out.insert(key, v);
            }
        } else if let Some(ext) = registry.extension(kind, &key) {
            let Value::Object(obj) = value else {
                continue;
            };
            let mut ext_out = Map::new();
            for (name, v) in obj {
                if let Some(v) = ext.attribute(&name).and_then(|def| returned_value(def, v)) {
                    ext_out.insert(name, v);
                }
            }
            if !ext_out.is_empty() {
                schemas.push(Value::String(ext.id.clone()));
                out.insert(ext.id.clone(), Value::Object(ext_out));
            }
        }
    }
    if let Some(groups) = groups.filter(|g| !g.is_empty()) {
        let list = groups
            .iter()
            .map(|g| reference_json(g, base_url, Some("direct")))
            .collect();
        out.insert("groups".into(), Value::Array(list));
    }
    if let Some(members) = members.filter(|m| !m.is_empty()) {
        let list = members
            .iter()
            .map(|m| reference_json(m, base_url, None))
            .collect();
        out.insert("members".into(), Value::Array(list));
    }
    out.insert("meta".into(), meta);
    out.insert("schemas".into(), Value::Array(schemas));
    Value::Object(out)
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

fn returned_value(def: &AttributeDef, value: Value) -> Option<Value> {
    if def.returned == Returned::Never {
        return None;
    }
    if def.sub_attributes.is_empty() {
        return Some(value);
    }
    let strip = |v: &mut Value| {
        if let Value::Object(obj) = v {
            obj.retain(|k, _| {
                def.sub_attribute(k)
                    .is_none_or(|sub| sub.returned != Returned::Never)
            });
        }
    };
    let mut value = value;
    match &mut value {
        Value::Array(items) => items.iter_mut().for_each(strip),
        other => strip(other),
    }
    Some(value)
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

    #[test]
    fn an_owned_resource_renders_as_a_borrowed_one_in_the_same_order() {
        let reg = SchemaRegistry::core().expect("schemas");
        let res = resource(json!({
            "userName": "bjensen", "active": true, "externalId": "e1",
            "emails": [{"value": "b@example.com", "type": "work"}],
            urn::ENTERPRISE_USER: {"employeeNumber": "7"}, "password": "secret"
        }));
        let borrowed = render(&reg, &res, "https://h/scim/v2");
        let owned = render_owned(&reg, res, "https://h/scim/v2");
        assert_eq!(owned, borrowed);
        let keys: Vec<&str> = owned
            .as_object()
            .expect("object")
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            keys,
            [
                "schemas",
                "id",
                "externalId",
                "userName",
                "active",
                "emails",
                urn::ENTERPRISE_USER,
                "groups",
                "meta"
            ]
        );
    }
}
