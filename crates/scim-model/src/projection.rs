//! `attributes` and `excludedAttributes` (RFC 7644 §3.4.2.5, §3.9): which attributes a
//! response carries. `id` and `schemas` are always returned; `returned: never` attributes never.

use scim_filter_parser::{parse_attr_list, AttrPath};
use serde_json::{Map, Value};

use crate::{error::ScimError, resource::ResourceKind, schema::SchemaRegistry, ScimType};

/// What to return, from the request's `attributes` / `excludedAttributes`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Projection {
    include: Vec<AttrPath>,
    exclude: Vec<AttrPath>,
}

impl Projection {
    /// Parses the two parameters (comma-separated attribute paths); a malformed list is
    /// `400 invalidValue` with the parser's message.
    pub fn parse(attributes: Option<&str>, excluded: Option<&str>) -> Result<Self, ScimError> {
        let list = |raw: Option<&str>| -> Result<Vec<AttrPath>, ScimError> {
            match raw.map(str::trim).filter(|r| !r.is_empty()) {
                None => Ok(Vec::new()),
                Some(r) => parse_attr_list(r)
                    .map_err(|e| ScimError::bad_request(ScimType::InvalidValue, e.to_string())),
            }
        };
        Ok(Self {
            include: list(attributes)?,
            exclude: list(excluded)?,
        })
    }

    /// Whether the top-level core attribute `name` (e.g. `members`) will be in the response, so
    /// that the store can skip loading it.
    pub fn returns(&self, kind: ResourceKind, name: &str) -> bool {
        let names = |p: &AttrPath| {
            p.name.eq_ignore_ascii_case(name)
                && p.urn
                    .as_deref()
                    .is_none_or(|u| u.eq_ignore_ascii_case(kind.schema_urn()))
        };
        if self.include.is_empty() {
            !self.exclude.iter().any(|p| names(p) && p.sub.is_none())
        } else {
            self.include.iter().any(names)
        }
    }

    /// Whether the projection is the default one.
    pub fn is_default(&self) -> bool {
        self.include.is_empty() && self.exclude.is_empty()
    }

    /// Applies the projection to a rendered resource.
    pub fn apply(&self, registry: &SchemaRegistry, kind: ResourceKind, resource: Value) -> Value {
        let Value::Object(mut full) = resource else {
            return resource;
        };
        if self.is_default() {
            return Value::Object(full);
        }
        let mut out = Map::new();
        for key in ["schemas", "id"] {
            if let Some(v) = full.remove(key) {
                out.insert(key.into(), v);
            }
        }
        if self.include.is_empty() {
            for path in &self.exclude {
                let (key, sub) = locate(registry, kind, path);
                remove(&mut full, &key, sub.as_deref());
            }
            out.extend(full);
        } else {
            for path in &self.include {
                let (key, sub) = locate(registry, kind, path);
                copy(&full, &mut out, &key, sub.as_deref());
            }
        }
        // `schemas` lists the extensions still present.
        if let Some(Value::Array(schemas)) = out.get("schemas").cloned() {
            let kept: Vec<Value> = schemas
                .into_iter()
                .filter(|s| {
                    s.as_str().is_some_and(|u| {
                        u.eq_ignore_ascii_case(kind.schema_urn()) || out.contains_key(u)
                    })
                })
                .collect();
            out.insert("schemas".into(), Value::Array(kept));
        }
        Value::Object(out)
    }
}

/// Where a path lives in a rendered resource: a list of keys from the top, and an optional
/// sub-attribute of the last one.
fn locate(
    registry: &SchemaRegistry,
    kind: ResourceKind,
    path: &AttrPath,
) -> (Vec<String>, Option<String>) {
    let path = &*registry.qualify(kind, path);
    let core = registry.core_schema(kind);
    match path.urn.as_deref() {
        Some(urn) if !urn.eq_ignore_ascii_case(&core.id) => {
            // `urn:...:enterprise:2.0:User` alone names the whole extension.
            let whole = format!("{urn}:{}", path.name);
            if let Some(ext) = registry.extension(kind, &whole) {
                return (vec![ext.id.clone()], None);
            }
            let ext_id = registry
                .extension(kind, urn)
                .map_or_else(|| urn.to_owned(), |e| e.id.clone());
            let name = registry
                .extension(kind, urn)
                .and_then(|e| e.attribute(&path.name))
                .map_or_else(|| path.name.clone(), |d| d.name.clone());
            (vec![ext_id, name], path.sub.clone())
        }
        _ => {
            let name = core
                .attribute(&path.name)
                .map(|d| d.name.clone())
                .unwrap_or_else(|| canonical_common(&path.name));
            (vec![name], path.sub.clone())
        }
    }
}

fn canonical_common(name: &str) -> String {
    ["id", "externalId", "meta", "schemas"]
        .into_iter()
        .find(|c| c.eq_ignore_ascii_case(name))
        .map_or_else(|| name.to_owned(), str::to_owned)
}

fn get_ci<'a>(map: &'a Map<String, Value>, key: &str) -> Option<(&'a String, &'a Value)> {
    map.iter().find(|(k, _)| k.eq_ignore_ascii_case(key))
}

fn remove(map: &mut Map<String, Value>, keys: &[String], sub: Option<&str>) {
    let Some((first, rest)) = keys.split_first() else {
        return;
    };
    let Some(real) = get_ci(map, first).map(|(k, _)| k.clone()) else {
        return;
    };
    if rest.is_empty() {
        match sub {
            None if real != "id" && real != "schemas" => {
                map.remove(&real);
            }
            None => {}
            Some(sub) => {
                if let Some(v) = map.get_mut(&real) {
                    remove_sub(v, sub);
                }
            }
        }
    } else if let Some(Value::Object(inner)) = map.get_mut(&real) {
        remove(inner, rest, sub);
        if inner.is_empty() {
            map.remove(&real);
        }
    }
}

fn remove_sub(value: &mut Value, sub: &str) {
    match value {
        Value::Object(obj) => {
            if let Some(k) = get_ci(obj, sub).map(|(k, _)| k.clone()) {
                obj.remove(&k);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|i| remove_sub(i, sub)),
        _ => {}
    }
}

fn copy(
    from: &Map<String, Value>,
    to: &mut Map<String, Value>,
    keys: &[String],
    sub: Option<&str>,
) {
    let Some((first, rest)) = keys.split_first() else {
        return;
    };
    let Some((real, value)) = get_ci(from, first) else {
        return;
    };
    if !rest.is_empty() {
        if let Value::Object(inner) = value {
            let entry = to
                .entry(real.clone())
                .or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(target) = entry {
                copy(inner, target, rest, sub);
            }
        }
        return;
    }
    match sub {
        None => {
            to.insert(real.clone(), value.clone());
        }
        Some(sub) => {
            let picked = pick_sub(value, sub);
            if let Some(picked) = picked {
                match (to.get_mut(real), picked) {
                    (Some(Value::Object(existing)), Value::Object(new)) => existing.extend(new),
                    (Some(Value::Array(existing)), Value::Array(new)) => {
                        for (e, n) in existing.iter_mut().zip(new) {
                            if let (Value::Object(e), Value::Object(n)) = (e, n) {
                                e.extend(n);
                            }
                        }
                    }
                    (_, picked) => {
                        to.insert(real.clone(), picked);
                    }
                }
            }
        }
    }
}

fn pick_sub(value: &Value, sub: &str) -> Option<Value> {
    match value {
        Value::Object(obj) => {
            let (k, v) = get_ci(obj, sub)?;
            let mut m = Map::new();
            m.insert(k.clone(), v.clone());
            Some(Value::Object(m))
        }
        Value::Array(items) => Some(Value::Array(
            items
                .iter()
                .map(|i| pick_sub(i, sub).unwrap_or(Value::Object(Map::new())))
                .collect(),
        )),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::urn;
    use serde_json::json;

    fn user() -> Value {
        json!({
            "schemas": [urn::USER, urn::ENTERPRISE_USER],
            "id": "u1",
            "userName": "bjensen",
            "name": {"givenName": "Barbara", "familyName": "Jensen"},
            "emails": [{"value": "a@x", "type": "work"}, {"value": "b@x", "type": "home"}],
            urn::ENTERPRISE_USER: {"department": "Eng", "employeeNumber": "7"},
            "meta": {"resourceType": "User"}
        })
    }

    fn apply(attrs: Option<&str>, excluded: Option<&str>) -> Value {
        let reg = SchemaRegistry::core().expect("schemas");
        Projection::parse(attrs, excluded)
            .expect("parse")
            .apply(&reg, ResourceKind::User, user())
    }

    #[test]
    fn attributes_keep_only_what_is_asked_plus_id_and_schemas() {
        let v = apply(Some("userName,name.givenName,emails.value"), None);
        assert_eq!(
            v,
            json!({"schemas": [urn::USER], "id": "u1", "userName": "bjensen",
                   "name": {"givenName": "Barbara"},
                   "emails": [{"value": "a@x"}, {"value": "b@x"}]})
        );
    }

    #[test]
    fn extension_attributes_by_urn() {
        let v = apply(Some(&format!("{}:department", urn::ENTERPRISE_USER)), None);
        assert_eq!(v[urn::ENTERPRISE_USER], json!({"department": "Eng"}));
        assert_eq!(v["schemas"], json!([urn::USER, urn::ENTERPRISE_USER]));
        let v = apply(Some(urn::ENTERPRISE_USER), None);
        assert_eq!(v[urn::ENTERPRISE_USER]["employeeNumber"], "7");
    }

    #[test]
    fn excluded_attributes_remove_and_never_remove_id() {
        let v = apply(
            None,
            Some(&format!(
                "emails,id,name.familyName,{}",
                urn::ENTERPRISE_USER
            )),
        );
        assert!(v.get("emails").is_none());
        assert_eq!(v["id"], "u1");
        assert_eq!(v["name"], json!({"givenName": "Barbara"}));
        assert!(v.get(urn::ENTERPRISE_USER).is_none());
        assert_eq!(v["schemas"], json!([urn::USER]));
        assert!(v.get("meta").is_some());
    }

    #[test]
    fn returns_tells_whether_members_are_needed() {
        let p = Projection::parse(None, Some("members")).expect("parse");
        assert!(!p.returns(ResourceKind::Group, "members"));
        let p = Projection::parse(Some("displayName"), None).expect("parse");
        assert!(!p.returns(ResourceKind::Group, "members"));
        let p = Projection::parse(Some("members.value"), None).expect("parse");
        assert!(p.returns(ResourceKind::Group, "members"));
        assert!(Projection::default().returns(ResourceKind::Group, "members"));
    }
}
