//! `password` is accepted on writes, never returned, and stored only as an Argon2id hash.

use argon2::{
    password_hash::{rand_core::OsRng, PasswordHasher, SaltString},
    Argon2,
};
use scim_model::{ScimError, ValidatedResource};
use serde_json::Value;

/// The cleartext password of `input` that still needs hashing: a value equal to the stored
/// hash (a PATCH that did not touch the password) is not a new password.
fn new_password(input: &ValidatedResource, stored: Option<&Value>) -> Option<String> {
    match input.attributes.get("password") {
        Some(Value::String(clear)) if stored.and_then(Value::as_str) != Some(clear.as_str()) => {
            Some(clear.clone())
        }
        _ => None,
    }
}

fn hash(clear: &str) -> Result<String, ScimError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(clear.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|_| ScimError::invalid_value("The password cannot be hashed"))
}

/// The cleartext passwords a PATCH sets (`path: "password"`, or a no-path value with a
/// `password` key), so that they can be hashed before the PATCH's transaction begins.
pub fn passwords_in_patch(ops: &[scim_model::patch::PatchOperation]) -> Vec<String> {
    use scim_filter_parser::PatchPath;
    use scim_model::patch::OpKind;
    let core_user =
        |urn: Option<&str>| urn.is_none_or(|u| u.eq_ignore_ascii_case(scim_model::urn::USER));
    let mut out = Vec::new();
    for op in ops.iter().filter(|op| op.op != OpKind::Remove) {
        match (&op.path, &op.value) {
            (Some(PatchPath::Attr(p)), Some(Value::String(clear)))
                if p.name_is("password") && p.sub.is_none() && core_user(p.urn.as_deref()) =>
            {
                out.push(clear.clone());
            }
            (None, Some(Value::Object(map))) => {
                out.extend(map.iter().filter_map(|(k, v)| match v {
                    Value::String(clear) if k.eq_ignore_ascii_case("password") => {
                        Some(clear.clone())
                    }
                    _ => None,
                }));
            }
            _ => {}
        }
    }
    out
}

/// Hashes each of `clear` off the async executor: `(cleartext, hash)` pairs.
pub async fn hash_passwords(clear: Vec<String>) -> Result<Vec<(String, String)>, ScimError> {
    if clear.is_empty() {
        return Ok(Vec::new());
    }
    tokio::task::spawn_blocking(move || {
        clear
            .into_iter()
            .map(|c| hash(&c).map(|h| (c, h)))
            .collect::<Result<Vec<_>, _>>()
    })
    .await
    .map_err(|_| ScimError::internal())?
}

/// Puts the hash computed in advance (`prehashed`) in place of the cleartext password of
/// `input`; a password no one hashed in advance is hashed here, on the calling thread.
pub fn use_prehashed_password(
    input: &mut ValidatedResource,
    stored: Option<&Value>,
    prehashed: &[(String, String)],
) -> Result<(), ScimError> {
    if let Some(Value::String(clear)) = input.attributes.get("password") {
        if let Some((_, hashed)) = prehashed.iter().find(|(c, _)| c == clear) {
            let hashed = Value::String(hashed.clone());
            input.attributes.insert("password".into(), hashed);
            return Ok(());
        }
    }
    hash_new_password_blocking(input, stored)
}

/// Hashes a new cleartext password in `input`, off the async executor.
pub async fn hash_new_password(
    input: &mut ValidatedResource,
    stored: Option<&Value>,
) -> Result<(), ScimError> {
    let Some(clear) = new_password(input, stored) else {
        return Ok(());
    };
    let hashed = tokio::task::spawn_blocking(move || hash(&clear))
        .await
        .map_err(|_| ScimError::internal())??;
    input
        .attributes
        .insert("password".into(), Value::String(hashed));
    Ok(())
}

/// Hashes a new cleartext password in `input` on the calling thread (inside a PATCH, whose
/// row lock is held; passwords change rarely).
pub fn hash_new_password_blocking(
    input: &mut ValidatedResource,
    stored: Option<&Value>,
) -> Result<(), ScimError> {
    if let Some(clear) = new_password(input, stored) {
        input
            .attributes
            .insert("password".into(), Value::String(hash(&clear)?));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_patch_s_passwords_are_found_and_their_hashes_used() {
        let ops = scim_model::patch::parse_patch(&json!({"Operations": [
            {"op": "Replace", "path": "password", "value": "first"},
            {"op": "replace", "value": {"Password": "second", "displayName": "x"}},
            {"op": "add", "path": "urn:ietf:params:scim:schemas:core:2.0:User:password", "value": "third"},
            {"op": "remove", "path": "password"},
            {"op": "replace", "path": "displayName", "value": "password"}
        ]}))
        .expect("parse");
        assert_eq!(passwords_in_patch(&ops), vec!["first", "second", "third"]);
        let mut input = ValidatedResource {
            attributes: json!({"userName": "u", "password": "second"})
                .as_object()
                .cloned()
                .expect("object"),
            members: Vec::new(),
            ignored: Vec::new(),
        };
        let pre = vec![("second".to_owned(), "$argon2id$precomputed".to_owned())];
        use_prehashed_password(&mut input, None, &pre).expect("use");
        assert_eq!(input.attributes["password"], "$argon2id$precomputed");
    }

    #[test]
    fn new_passwords_are_hashed_and_stored_hashes_kept() {
        let mut input = ValidatedResource {
            attributes: json!({"userName": "u", "password": "s3cret"})
                .as_object()
                .cloned()
                .expect("object"),
            members: Vec::new(),
            ignored: Vec::new(),
        };
        hash_new_password_blocking(&mut input, None).expect("hash");
        let hashed = input.attributes["password"]
            .as_str()
            .expect("string")
            .to_owned();
        assert!(hashed.starts_with("$argon2id$"), "{hashed}");
        assert!(!hashed.contains("s3cret"));
        let stored = Value::String(hashed.clone());
        hash_new_password_blocking(&mut input, Some(&stored)).expect("unchanged");
        assert_eq!(
            input.attributes["password"], stored,
            "an unchanged hash is not hashed again"
        );
    }
}
