//! Which attributes a change touched: the paths that differ between two versions of a
//! resource's attributes, as provisioning events name them (`displayName`, `name.givenName`,
//! `emails`, `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value`).
//!
//! A sub-attribute of a complex attribute is named on its own; a multi-valued attribute is
//! named as a whole (its values have no stable identity to name them by); an extension's
//! attributes are named with the extension's URN and a colon, as RFC 7644 §3.10 writes them.
//! `schemas` is not an attribute and is never named.

use serde_json::{Map, Value};

/// The attribute paths whose values differ between `before` and `after` (an attribute present
/// on one side only differs), sorted.
pub fn changed_paths(before: &Map<String, Value>, after: &Map<String, Value>) -> Vec<String> {
    let mut out = Vec::new();
    for (name, value) in after {
        if name == "schemas" {
            continue;
        }
        let old = before.get(name);
        if old != Some(value) {
            changed_attribute(name, old, Some(value), &mut out);
        }
    }
    for (name, value) in before {
        if name != "schemas" && !after.contains_key(name) {
            changed_attribute(name, Some(value), None, &mut out);
        }
    }
    out.sort();
    out.dedup();
    out
}

/// Every attribute path `attributes` holds (a create sets them all), sorted.
pub fn all_paths(attributes: &Map<String, Value>) -> Vec<String> {
    changed_paths(&Map::new(), attributes)
}

/// Records the paths of attribute `name`, which differs between `old` and `new`.
fn changed_attribute(name: &str, old: Option<&Value>, new: Option<&Value>, out: &mut Vec<String>) {
    if !(old.is_none_or(Value::is_object) && new.is_none_or(Value::is_object)) {
        out.push(name.to_owned());
        return;
    }
    let is_extension = name.starts_with("urn:");
    let separator = if is_extension { ':' } else { '.' };
    let empty = Map::new();
    let (a, b) = (
        as_object(old).unwrap_or(&empty),
        as_object(new).unwrap_or(&empty),
    );
    let before = out.len();
    for (sub, value) in b {
        let was = a.get(sub);
        if was != Some(value) {
            sub_attribute(name, separator, sub, is_extension, was, Some(value), out);
        }
    }
    for (sub, value) in a {
        if !b.contains_key(sub) {
            sub_attribute(name, separator, sub, is_extension, Some(value), None, out);
        }
    }
    if out.len() == before {
        // An empty object added or removed: name the attribute itself.
        out.push(name.to_owned());
    }
}

/// Records the path of sub-attribute `sub` of `name`; an extension's complex attribute is named
/// one level further (`…:User:manager.value`).
fn sub_attribute(
    name: &str,
    separator: char,
    sub: &str,
    is_extension: bool,
    old: Option<&Value>,
    new: Option<&Value>,
    out: &mut Vec<String>,
) {
    let path = format!("{name}{separator}{sub}");
    if is_extension {
        let empty = Map::new();
        if let (true, true) = (
            old.is_none_or(Value::is_object),
            new.is_none_or(Value::is_object),
        ) {
            let a = as_object(old).unwrap_or(&empty);
            let b = as_object(new).unwrap_or(&empty);
            let mut subs: Vec<&String> = b
                .iter()
                .filter(|(k, v)| a.get(*k) != Some(*v))
                .map(|(k, _)| k)
                .chain(a.keys().filter(|k| !b.contains_key(*k)))
                .collect();
            if !subs.is_empty() {
                subs.sort();
                out.extend(subs.into_iter().map(|s| format!("{path}.{s}")));
                return;
            }
        }
    }
    out.push(path);
}

fn as_object(v: Option<&Value>) -> Option<&Map<String, Value>> {
    v.and_then(Value::as_object)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn map(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => Map::new(),
        }
    }

    const ENT: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

    #[test]
    fn simple_complex_multi_valued_and_extension_paths() {
        let before = map(json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": "a", "displayName": "A", "active": true,
            "name": {"givenName": "Ann", "familyName": "Lee"},
            "emails": [{"value": "a@x", "type": "work"}],
            ENT: {"department": "R&D", "manager": {"value": "m1"}}
        }));
        let after = map(json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENT],
            "userName": "a", "active": false,
            "name": {"givenName": "Anne", "familyName": "Lee", "middleName": "B"},
            "emails": [{"value": "a@y", "type": "work"}],
            ENT: {"department": "R&D", "manager": {"value": "m2"}, "costCenter": "7"}
        }));
        assert_eq!(
            changed_paths(&before, &after),
            vec![
                "active".to_owned(),
                "displayName".into(),
                "emails".into(),
                "name.givenName".into(),
                "name.middleName".into(),
                format!("{ENT}:costCenter"),
                format!("{ENT}:manager.value"),
            ]
        );
    }

    #[test]
    fn equal_attributes_change_nothing_and_a_create_names_everything() {
        let a = map(json!({"userName": "a", "name": {"givenName": "A"}, "schemas": ["x"]}));
        assert!(changed_paths(&a, &a).is_empty());
        assert_eq!(all_paths(&a), vec!["name.givenName", "userName"]);
    }

    #[test]
    fn removed_attributes_and_type_changes_are_named() {
        let before = map(
            json!({"title": "Dr", "name": {"givenName": "A"}, ENT: {"manager": {"value": "m"}}}),
        );
        let after = map(json!({"name": "flat"}));
        assert_eq!(
            changed_paths(&before, &after),
            vec![
                "name".to_owned(),
                "title".into(),
                format!("{ENT}:manager.value")
            ]
        );
    }
}
