//! The schema registry of one tenant: the core schemas plus the tenant's custom User
//! extension, in force or dormant according to the tenant-wide switch.
//!
//! The switch and the declaration's tag are read from the database on every request, with the
//! key, in the same statement (a join on the tenant's primary key), so a change made through any
//! key, the admin API or the CLI, on any process, holds from the next request on every process.
//! The declaration itself is read and parsed only when its tag differs from the one this process
//! has cached for the tenant (the tag is a fresh random value on every declaration change).

use std::{
    collections::{HashMap, HashSet},
    sync::{Arc, Mutex},
};

use chrono::{DateTime, NaiveDate, Utc};
use scim_model::{custom, IgnoredAttribute, SchemaRegistry};
use scim_store::{IgnoredNote, ScimSwitch, Store, StoreResult, TenantId};
use serde_json::Value;

/// Cached tenants at most; past it the cache starts again (it only saves reads and parsing).
const MAX_CACHED: usize = 10_000;

/// The day and the (key id, attribute name) pairs already audited on it by this process.
type Reported = (Option<NaiveDate>, HashSet<(String, String, String)>);

/// A tenant's parsed declaration, as registries with the switch on and off.
struct Entry {
    tag: Option<String>,
    on: Arc<SchemaRegistry>,
    off: Arc<SchemaRegistry>,
}

/// Registries built from tenants' declarations, and the undeclared attributes already reported
/// today by this process.
#[derive(Default)]
pub struct TenantSchemas {
    built: Mutex<HashMap<String, Entry>>,
    reported: Mutex<Reported>,
}

impl std::fmt::Debug for TenantSchemas {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TenantSchemas").finish_non_exhaustive()
    }
}

impl TenantSchemas {
    /// The registry for `tenant` whose switch and declaration tag are `switch`, built from
    /// `base` (the core registry). Reads the declaration from `store` only when this process has
    /// not parsed the one `switch` names.
    pub async fn registry(
        &self,
        store: &Store,
        base: &SchemaRegistry,
        tenant: &TenantId,
        switch: &ScimSwitch,
    ) -> StoreResult<Arc<SchemaRegistry>> {
        if let Some(hit) = self.cached(tenant, switch) {
            return Ok(hit);
        }
        let (declaration, tag) = match &switch.custom_schema_tag {
            // Nothing declared: the default declaration, no read needed.
            None => (None, None),
            Some(_) => store.get_custom_schema(tenant).await?,
        };
        let entry = build(base, tenant, tag, declaration);
        let registry = if switch.custom_attributes_enabled {
            entry.on.clone()
        } else {
            entry.off.clone()
        };
        let mut built = self.built.lock().unwrap_or_else(|e| e.into_inner());
        if built.len() >= MAX_CACHED {
            built.clear();
        }
        built.insert(tenant.as_str().to_owned(), entry);
        Ok(registry)
    }

    /// The cached registry of `tenant`, if it was built from the declaration `switch` names.
    fn cached(&self, tenant: &TenantId, switch: &ScimSwitch) -> Option<Arc<SchemaRegistry>> {
        let built = self.built.lock().unwrap_or_else(|e| e.into_inner());
        let e = built
            .get(tenant.as_str())
            .filter(|e| e.tag == switch.custom_schema_tag)?;
        Some(if switch.custom_attributes_enabled {
            e.on.clone()
        } else {
            e.off.clone()
        })
    }

    /// The attributes of undeclared schemas a request of key `key_id` sent, logged each time,
    /// as the audit notes to write with the request's change: once per key, schema, attribute
    /// name and day (the store makes that hold across processes; this process leaves out those
    /// it already wrote today). A write that fails hands its notes back to [`Self::forget`].
    pub fn fresh_notes(
        &self,
        tenant: &TenantId,
        key_id: &str,
        key_name: &str,
        ignored: &[IgnoredAttribute],
        now: DateTime<Utc>,
    ) -> Vec<IgnoredNote> {
        let mut notes = Vec::new();
        for IgnoredAttribute { schema, name } in ignored {
            tracing::warn!(
                tenant = %tenant,
                key = key_name,
                schema = %schema,
                attribute = %name,
                "ignored an attribute of a schema the tenant has not declared"
            );
            let seen = (key_id.to_owned(), schema.clone(), name.clone());
            let mut reported = self.reported.lock().unwrap_or_else(|e| e.into_inner());
            let today = now.date_naive();
            if reported.0 != Some(today) || reported.1.len() >= MAX_CACHED {
                *reported = (Some(today), HashSet::new());
            }
            if reported.1.insert(seen) {
                notes.push(IgnoredNote {
                    key_id: key_id.to_owned(),
                    key_name: key_name.to_owned(),
                    schema: schema.clone(),
                    name: name.clone(),
                });
            }
        }
        notes
    }

    /// Notes whose write failed: written by a later request.
    pub fn forget(&self, notes: &[IgnoredNote]) {
        if notes.is_empty() {
            return;
        }
        let mut reported = self.reported.lock().unwrap_or_else(|e| e.into_inner());
        for n in notes {
            reported
                .1
                .remove(&(n.key_id.clone(), n.schema.clone(), n.name.clone()));
        }
    }
}

/// Parses `declaration` (the default one when `None`) into registries with the switch on and
/// off, tagged `tag`.
fn build(
    base: &SchemaRegistry,
    tenant: &TenantId,
    tag: Option<String>,
    declaration: Option<Value>,
) -> Entry {
    let declaration = declaration.unwrap_or_else(custom::default_declaration);
    match custom::parse_declaration(&declaration) {
        Ok(schema) => Entry {
            tag,
            on: Arc::new(base.clone().with_custom(schema.clone(), true)),
            off: Arc::new(base.clone().with_custom(schema, false)),
        },
        Err(e) => {
            // Declarations are checked before they are stored; this is a defect or a
            // hand-edited row. Serve the core schemas rather than fail the request.
            tracing::error!(tenant = %tenant, error = %e, "stored custom schema is invalid");
            let core = Arc::new(base.clone());
            Entry {
                tag,
                on: core.clone(),
                off: core,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_cached_registry_is_used_only_for_the_declaration_it_was_built_from() {
        let base = SchemaRegistry::core().expect("core");
        let cache = TenantSchemas::default();
        let acme = TenantId::parse("acme").expect("id");
        let globex = TenantId::parse("globex").expect("id");
        let decl = |attr: &str| {
            Some(json!({"id": "urn:acme:custom", "attributes": [{"name": attr, "type": "string"}]}))
        };
        let switch = |on: bool, tag: Option<&str>| ScimSwitch {
            custom_attributes_enabled: on,
            custom_schema_tag: tag.map(str::to_owned),
            events_full_data: false,
        };
        let has =
            |r: &SchemaRegistry, attr: &str| r.custom().and_then(|s| s.attribute(attr)).is_some();
        let insert = |tenant: &TenantId, tag: &str, d| {
            let entry = build(&base, tenant, Some(tag.to_owned()), d);
            cache
                .built
                .lock()
                .expect("lock")
                .insert(tenant.as_str().to_owned(), entry);
        };

        insert(&acme, "t1", decl("a"));
        let on = cache.cached(&acme, &switch(true, Some("t1"))).expect("hit");
        assert!(has(&on, "a"));
        let off = cache
            .cached(&acme, &switch(false, Some("t1")))
            .expect("hit");
        assert!(off.custom().is_none());
        assert_eq!(off.custom_urn(), Some("urn:acme:custom"), "dormant");
        assert!(
            cache.cached(&acme, &switch(true, Some("t2"))).is_none(),
            "another declaration is a miss"
        );
        assert!(cache.cached(&acme, &switch(true, None)).is_none());
        insert(&acme, "t2", decl("b"));
        let changed = cache.cached(&acme, &switch(true, Some("t2"))).expect("hit");
        assert!(has(&changed, "b") && !has(&changed, "a"));
        // Another tenant never gets acme's registry, even with the same tag.
        assert!(cache.cached(&globex, &switch(true, Some("t2"))).is_none());
        let default = build(&base, &globex, None, None);
        assert_eq!(
            default.on.custom_urn(),
            Some(scim_model::urn::CUSTOM_USER_DEFAULT)
        );
        assert!(default.on.custom().is_some_and(|s| s.attributes.is_empty()));
    }
}
