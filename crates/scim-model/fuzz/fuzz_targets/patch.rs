//! Arbitrary bytes as a PATCH request body, applied to a full user and to a group: parsing and
//! applying must never panic, and whatever applies must validate again.
#![no_main]

use libfuzzer_sys::fuzz_target;
use scim_model::{
    patch::{apply_patch, parse_patch},
    validate_resource, ResourceKind, SchemaRegistry,
};
use serde_json::{json, Value};

static REGISTRY: std::sync::OnceLock<Option<SchemaRegistry>> = std::sync::OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let Some(registry) = REGISTRY.get_or_init(|| SchemaRegistry::core().ok()) else { return };
    let Ok(body) = serde_json::from_slice::<Value>(data) else { return };
    let Ok(ops) = parse_patch(&body) else { return };
    let user = json!({
        "userName": "bjensen", "active": true, "title": "T",
        "name": {"givenName": "B", "familyName": "J"},
        "emails": [{"value": "a@x", "type": "work", "primary": true}, {"value": "b@x", "type": "home"}],
        "phoneNumbers": [{"value": "1", "type": "mobile"}],
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "D", "manager": {"value": "m"}}
    });
    let group = json!({"displayName": "G", "externalId": "e"});
    for (kind, doc) in [(ResourceKind::User, user), (ResourceKind::Group, group)] {
        let Some(map) = doc.as_object() else { continue };
        if let Ok(patched) = apply_patch(registry, kind, map, &ops) {
            let again = validate_resource(registry, kind, &Value::Object(patched.resource.attributes));
            assert!(again.is_ok(), "a patched resource no longer validates: {again:?}");
        }
    }
});
