//! NUL characters (U+0000) in request data.
//!
//! PostgreSQL cannot store a NUL in `text` or `jsonb`, SQLite can: so that both databases
//! behave alike, scimd refuses any request that carries one in a body (`400 invalidValue` on
//! SCIM, `422` on the admin API, naming where it was) or in a path or query parameter,
//! before anything reaches the database.

use serde_json::Value;

/// The JSON path (`userName`, `emails[1].value`, `Operations[0].value.displayName`) of the
/// first string, or object key, in `value` that holds a NUL character.
pub fn find_nul(value: &Value) -> Option<String> {
    fn walk(value: &Value, path: &mut String) -> bool {
        match value {
            Value::String(s) => s.contains('\0'),
            Value::Array(items) => items.iter().enumerate().any(|(i, item)| {
                let len = path.len();
                path.push_str(&format!("[{i}]"));
                let found = walk(item, path);
                if !found {
                    path.truncate(len);
                }
                found
            }),
            Value::Object(map) => map.iter().any(|(key, item)| {
                let len = path.len();
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(&key.replace('\0', "\\u0000"));
                let found = key.contains('\0') || walk(item, path);
                if !found {
                    path.truncate(len);
                }
                found
            }),
            Value::Null | Value::Bool(_) | Value::Number(_) => false,
        }
    }
    let mut path = String::new();
    walk(value, &mut path).then_some(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_the_first_nul_anywhere() {
        assert_eq!(
            find_nul(&json!({"userName": "a", "emails": [{"value": "x"}]})),
            None
        );
        assert_eq!(
            find_nul(&json!({"userName": "a\u{0}b"})).as_deref(),
            Some("userName")
        );
        assert_eq!(
            find_nul(&json!({"emails": [{"value": "x"}, {"value": "\u{0}"}]})).as_deref(),
            Some("emails[1].value")
        );
        assert_eq!(
            find_nul(&json!({"Operations": [{"op": "add", "value": {"displayName": "\u{0}"}}]}))
                .as_deref(),
            Some("Operations[0].value.displayName")
        );
        assert_eq!(
            find_nul(&json!({"urn:x:2.0:User": {"a\u{0}": 1}})).as_deref(),
            Some("urn:x:2.0:User.a\\u0000")
        );
        assert_eq!(find_nul(&json!("\u{0}")).as_deref(), Some(""));
    }
}
