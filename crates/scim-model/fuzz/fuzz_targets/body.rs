//! Arbitrary bytes as a POST/PUT body of a user or group: validation never panics and what it
//! accepts validates again unchanged (it is a fixed point).
#![no_main]

use libfuzzer_sys::fuzz_target;
use scim_model::{validate_resource, ResourceKind, SchemaRegistry};
use serde_json::Value;

static REGISTRY: std::sync::OnceLock<Option<SchemaRegistry>> = std::sync::OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let Some(registry) = REGISTRY.get_or_init(|| SchemaRegistry::core().ok()) else { return };
    let Ok(body) = serde_json::from_slice::<Value>(data) else { return };
    for kind in [ResourceKind::User, ResourceKind::Group] {
        if let Ok(valid) = validate_resource(registry, kind, &body) {
            let again = validate_resource(registry, kind, &Value::Object(valid.attributes.clone()));
            match again {
                Ok(v) => assert_eq!(v.attributes, valid.attributes, "validation is not idempotent"),
                Err(e) => panic!("accepted attributes do not validate again: {e:?}"),
            }
        }
    }
});
