//! Turning a stored [`Resource`] into its SCIM JSON representation.

use serde::{
    de::{MapAccess, Visitor},
    Deserialize, Deserializer,
};
use serde_json::{json, value::RawValue, Map, Value};

use crate::{
    resource::{MemberRef, Resource, ResourceKind, StoredResource},
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
    let meta = meta_json(kind, &id, version, created, last_modified, base_url);
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
            let ext_out = extension_shown(ext, value);
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

/// What an extension's object shows: its declared attributes that are returned (nothing when
/// the stored value is not an object).
fn extension_shown(ext: &crate::schema::Schema, value: Value) -> Map<String, Value> {
    let Value::Object(obj) = value else {
        return Map::new();
    };
    obj.into_iter()
        .filter_map(|(name, v)| {
            let v = ext
                .attribute(&name)
                .and_then(|def| returned_value(def, v))?;
            Some((name, v))
        })
        .collect()
}

/// `meta` of a resource.
fn meta_json(
    kind: ResourceKind,
    id: &str,
    version: i64,
    created: chrono::DateTime<chrono::Utc>,
    last_modified: chrono::DateTime<chrono::Utc>,
    base_url: &str,
) -> Value {
    json!({
        "resourceType": kind.name(),
        "created": created.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "lastModified": last_modified.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "location": location(base_url, kind, id),
        "version": crate::resource::etag_of(version),
    })
}

/// The top-level members of a stored attributes object, in stored order, each value as its
/// JSON text (no value tree is built).
struct TopLevel<'a>(Vec<(String, &'a RawValue)>);

impl<'de> Deserialize<'de> for TopLevel<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Pairs;
        impl<'de> Visitor<'de> for Pairs {
            type Value = TopLevel<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut out = Vec::with_capacity(map.size_hint().unwrap_or(8));
                while let Some(pair) = map.next_entry::<String, &'de RawValue>()? {
                    out.push(pair);
                }
                Ok(TopLevel(out))
            }
        }
        d.deserialize_map(Pairs)
    }
}

/// `t` as `meta` shows it (RFC 3339, milliseconds, `Z`), which needs no JSON escaping.
/// Written as [`render_owned`] writes it (chrono's RFC 3339 writer, not a `strftime` pattern,
/// which is parsed again on every call: ~3,300 instructions a time, two per resource).
fn write_time(out: &mut Vec<u8>, t: chrono::DateTime<chrono::Utc>) {
    out.extend_from_slice(
        t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
            .as_bytes(),
    );
}

/// `"key":` then `value`'s JSON text.
fn write_member(out: &mut Vec<u8>, key: &str, value: &[u8]) -> Result<(), serde_json::Error> {
    out.push(b',');
    serde_json::to_writer(&mut *out, key)?;
    out.push(b':');
    out.extend_from_slice(value);
    Ok(())
}

/// The answer [`render_owned`] gives for `res` (the default projection), as JSON text written
/// from the stored text: what is shown as stored (most attributes) is copied as it is; only an
/// extension object, or an attribute some of whose sub-attributes are never returned, is parsed
/// to be filtered. A `GET` by id or a list page pays neither for a value tree of the stored
/// attributes nor for printing it again.
pub fn render_stored(
    registry: &SchemaRegistry,
    res: &StoredResource,
    base_url: &str,
) -> Result<Vec<u8>, serde_json::Error> {
    let Ok(TopLevel(pairs)) = serde_json::from_str::<TopLevel<'_>>(&res.attributes_json) else {
        // Not an object (never written so): as the value path treats it.
        return serde_json::to_vec(&render_owned(
            registry,
            res.clone().into_resource()?,
            base_url,
        ));
    };
    let core = registry.core_schema(res.kind);
    let mut schemas: Vec<&str> = vec![&core.id];
    let mut body = Vec::with_capacity(res.attributes_json.len() + 512);
    body.extend_from_slice(b",\"id\":");
    serde_json::to_writer(&mut body, &res.id)?;
    if let Some((key, raw)) = pairs.iter().find(|(k, _)| k == "externalId") {
        write_member(&mut body, key, raw.get().as_bytes())?;
    }
    for (key, raw) in &pairs {
        if key == "externalId" {
            continue;
        }
        if let Some(def) = core.attribute(key) {
            if def.returned == Returned::Never {
                continue;
            }
            if def
                .sub_attributes
                .iter()
                .all(|sub| sub.returned != Returned::Never)
            {
                write_member(&mut body, key, raw.get().as_bytes())?;
            } else if let Some(v) = returned_value(def, serde_json::from_str(raw.get())?) {
                write_member(&mut body, key, &serde_json::to_vec(&v)?)?;
            }
        } else if let Some(ext) = registry.extension(res.kind, key) {
            let ext_out = extension_shown(ext, serde_json::from_str(raw.get())?);
            if !ext_out.is_empty() {
                schemas.push(&ext.id);
                write_member(&mut body, &ext.id, &serde_json::to_vec(&ext_out)?)?;
            }
        }
    }
    if let Some(groups) = res.groups.as_ref().filter(|g| !g.is_empty()) {
        let list: Vec<Value> = groups
            .iter()
            .map(|g| reference_json(g, base_url, Some("direct")))
            .collect();
        write_member(&mut body, "groups", &serde_json::to_vec(&list)?)?;
    }
    if let Some(members) = res.members.as_ref().filter(|m| !m.is_empty()) {
        let list: Vec<Value> = members
            .iter()
            .map(|m| reference_json(m, base_url, None))
            .collect();
        write_member(&mut body, "members", &serde_json::to_vec(&list)?)?;
    }
    // `meta` as `meta_json` gives it, written in place.
    body.extend_from_slice(b",\"meta\":{\"resourceType\":\"");
    body.extend_from_slice(res.kind.name().as_bytes());
    body.extend_from_slice(b"\",\"created\":\"");
    write_time(&mut body, res.created);
    body.extend_from_slice(b"\",\"lastModified\":\"");
    write_time(&mut body, res.last_modified);
    body.extend_from_slice(b"\",\"location\":");
    serde_json::to_writer(&mut body, &location(base_url, res.kind, &res.id))?;
    body.extend_from_slice(b",\"version\":\"W/\\\"");
    body.extend_from_slice(res.version.to_string().as_bytes());
    body.extend_from_slice(b"\\\"\"}");
    let mut out = Vec::with_capacity(body.len() + 160);
    out.extend_from_slice(b"{\"schemas\":");
    serde_json::to_writer(&mut out, &schemas)?;
    out.extend_from_slice(&body);
    out.push(b'}');
    Ok(out)
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

    /// `render_stored` of a resource's stored text, parsed, is `render_owned` of the resource,
    /// key order included.
    #[test]
    fn a_stored_resource_renders_as_its_parsed_resource() {
        let reg = SchemaRegistry::core().expect("schemas");
        let cases = [
            json!({"userName": "bjensen", "password": "secret", "externalId": "e\"1",
                   "name": {"givenName": "B", "familyName": "J"}, "active": false,
                   "emails": [{"value": "b@example.com", "type": "work", "primary": true}],
                   urn::ENTERPRISE_USER: {"employeeNumber": "7", "manager": {"value": "m1"}},
                   "notInTheSchema": 1}),
            json!({"userName": "x", urn::ENTERPRISE_USER: {"unknown": "dropped"}}),
            json!({}),
        ];
        // A whole second, and a time between two milliseconds (shown truncated, as RFC 3339
        // with three digits).
        let modified = [
            resource(json!({})).last_modified,
            Utc.timestamp_opt(1_796_000_000, 123_456_789)
                .single()
                .expect("time"),
        ];
        for (attributes, last_modified) in cases.into_iter().zip(modified.iter().cycle()) {
            for groups in [None, Some(Vec::new())] {
                let mut res = resource(attributes.clone());
                res.last_modified = *last_modified;
                if let Some(g) = &groups {
                    res.groups = Some(g.clone());
                }
                let stored = StoredResource {
                    kind: res.kind,
                    id: res.id.clone(),
                    attributes_json: serde_json::to_string(&res.attributes).expect("text"),
                    members: res.members.clone(),
                    groups: res.groups.clone(),
                    version: res.version,
                    created: res.created,
                    last_modified: res.last_modified,
                };
                let text = render_stored(&reg, &stored, "https://h/scim/v2").expect("render");
                let parsed: Value = serde_json::from_slice(&text).expect("JSON");
                let expected = render_owned(&reg, res, "https://h/scim/v2");
                assert_eq!(parsed, expected);
                let keys = |v: &Value| -> Vec<String> {
                    v.as_object().expect("object").keys().cloned().collect()
                };
                assert_eq!(keys(&parsed), keys(&expected));
                assert!(parsed.get("password").is_none());
            }
        }
    }
}
