//! The schema registry of one tenant: the core schemas plus the tenant's custom User
//! extension, in force or dormant according to the tenant-wide switch.
//!
//! The switch and the declaration are read from the database on every request (with the key,
//! in the same statement: a join on the tenant's primary key), so a change made through any key, the admin API or the CLI, on any
//! process, holds from the next request on every process. Only the *parsing* of the declaration
//! is cached, keyed by tenant and compared with the stored declaration each time, so a cached
//! registry is never used for a declaration it was not built from.

use std::{
    collections::{HashMap, HashSet},
    sync::{Arc, Mutex},
};

use chrono::{DateTime, NaiveDate, Utc};
use scim_model::{custom, SchemaRegistry};
use scim_store::{ScimSettings, Store, TenantId};
use serde_json::Value;

/// Cached tenants at most; past it the cache starts again (it only saves parsing).
const MAX_CACHED: usize = 10_000;

/// The day and the (key id, attribute name) pairs already audited on it by this process.
type Reported = (Option<NaiveDate>, HashSet<(String, String)>);

struct Entry {
    enabled: bool,
    declaration: Option<Value>,
    registry: Arc<SchemaRegistry>,
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
    /// The registry for `tenant` with `settings`, built from `base` (the core registry).
    pub fn registry(
        &self,
        base: &SchemaRegistry,
        tenant: &TenantId,
        settings: &ScimSettings,
    ) -> Arc<SchemaRegistry> {
        let mut built = self.built.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(e) = built.get(tenant.as_str()) {
            if e.enabled == settings.custom_attributes_enabled
                && e.declaration == settings.custom_schema
            {
                return e.registry.clone();
            }
        }
        let declaration = settings
            .custom_schema
            .clone()
            .unwrap_or_else(custom::default_declaration);
        let registry = match custom::parse_declaration(&declaration) {
            Ok(schema) => Arc::new(
                base.clone()
                    .with_custom(schema, settings.custom_attributes_enabled),
            ),
            Err(e) => {
                // Declarations are checked before they are stored; this is a defect or a
                // hand-edited row. Serve the core schemas rather than fail the request.
                tracing::error!(tenant = %tenant, error = %e, "stored custom schema is invalid");
                Arc::new(base.clone())
            }
        };
        if built.len() >= MAX_CACHED {
            built.clear();
        }
        built.insert(
            tenant.as_str().to_owned(),
            Entry {
                enabled: settings.custom_attributes_enabled,
                declaration: settings.custom_schema.clone(),
                registry: registry.clone(),
            },
        );
        registry
    }

    /// Logs and audits undeclared custom attributes a request of key `key_id` sent: a warning
    /// each time, an audit event once per key, attribute name and day (the store makes that
    /// hold across processes; this process skips the store for names it already reported).
    /// Never fails the request.
    #[allow(clippy::too_many_arguments)]
    pub async fn report_ignored(
        &self,
        store: &Store,
        tenant: &TenantId,
        key_id: &str,
        key_name: &str,
        urn: &str,
        names: &[String],
        now: DateTime<Utc>,
    ) {
        for name in names {
            tracing::warn!(
                tenant = %tenant,
                key = key_name,
                schema = urn,
                attribute = %name,
                "ignored an attribute the tenant's custom schema does not declare"
            );
            let fresh = {
                let mut reported = self.reported.lock().unwrap_or_else(|e| e.into_inner());
                let today = now.date_naive();
                if reported.0 != Some(today) || reported.1.len() >= MAX_CACHED {
                    *reported = (Some(today), HashSet::new());
                }
                reported.1.insert((key_id.to_owned(), name.clone()))
            };
            if !fresh {
                continue;
            }
            if let Err(e) = store
                .note_ignored_custom_attribute(tenant, key_id, key_name, urn, name, now)
                .await
            {
                tracing::warn!(error = %e, "could not audit an ignored custom attribute");
                let mut reported = self.reported.lock().unwrap_or_else(|e| e.into_inner());
                reported.1.remove(&(key_id.to_owned(), name.clone()));
            }
        }
    }
}
