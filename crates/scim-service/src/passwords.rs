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
