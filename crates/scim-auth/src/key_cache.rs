//! The keys this process has verified, kept while nothing that verifies them has changed.
//!
//! Every request still asks the database one thing: the counter of migration 000180
//! (`Store::auth_epoch`), which a trigger moves in the transaction of every change to a key
//! (but its record of use) and to a tenant's SCIM switch. An entry is tagged with the counter
//! read *before* its key was read, and used only while the counter still reads the same: so a
//! key changed by any process (or by hand in SQL) is read again on the next request of every
//! process, exactly as when every request read the key. What it saves is the key's row: on
//! SQLite ~100,000 instructions per request (callgrind, docs/PERFORMANCE.md).
//!
//! The cache is keyed by the SHA-256 of the token (never the token), holds at most
//! [`CAPACITY`] entries (emptied when full: a fresh start costs one read per key) and forgets
//! an unknown token at once (nothing is kept for a token that verified nothing).

use std::collections::HashMap;
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use scim_store::{ApiKey, ScimSwitch};

/// Most keys kept per process.
pub(crate) const CAPACITY: usize = 4_096;

struct Entry {
    epoch: i64,
    key: ApiKey,
    switch: ScimSwitch,
}

/// See the module's header.
#[derive(Default)]
pub(crate) struct KeyCache {
    entries: Mutex<HashMap<String, Entry>>,
}

impl KeyCache {
    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The key verified under `hash` while the counter read `epoch`, if it still reads so.
    pub(crate) fn get(&self, hash: &str, epoch: i64) -> Option<(ApiKey, ScimSwitch)> {
        let entries = self.entries();
        let entry = entries.get(hash)?;
        (entry.epoch == epoch).then(|| (entry.key.clone(), entry.switch.clone()))
    }

    /// Keeps `key` (read after the counter read `epoch`) under `hash`.
    pub(crate) fn put(&self, hash: &str, epoch: i64, key: &ApiKey, switch: &ScimSwitch) {
        let mut entries = self.entries();
        if entries.len() >= CAPACITY && !entries.contains_key(hash) {
            entries.clear();
        }
        entries.insert(
            hash.to_owned(),
            Entry {
                epoch,
                key: key.clone(),
                switch: switch.clone(),
            },
        );
    }

    /// Notes that the use of key `id` was recorded at `at` (the record of use does not move
    /// the counter, so the kept copies learn it here and do not ask for it again each request).
    pub(crate) fn used(&self, id: &str, at: DateTime<Utc>) {
        for entry in self.entries().values_mut() {
            if entry.key.id == id {
                entry.key.last_used_at = Some(at);
            }
        }
    }

    /// How many keys are kept.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(id: &str) -> ApiKey {
        let now = Utc::now();
        ApiKey {
            id: id.into(),
            tenant_id: scim_store::TenantId::parse("acme").unwrap(),
            name: "entra".into(),
            label: None,
            scope: "scim".into(),
            permissions: vec!["scim:read".into()],
            token_hash: "h".into(),
            token_hint: "scimd_scim_Ab12…".into(),
            enabled: true,
            created_at: now,
            expires_at: now + chrono::Duration::days(365),
            revoked_at: None,
            options: serde_json::Value::Null,
            machine_id: None,
            last_used_at: None,
            last_used_addr: None,
            previous_token_hash: None,
            previous_valid_until: None,
            updated_at: now,
            client_id: None,
            federation: None,
        }
    }

    fn switch() -> ScimSwitch {
        ScimSwitch {
            custom_attributes_enabled: false,
            custom_schema_tag: None,
            events_full_data: false,
        }
    }

    #[test]
    fn a_key_is_kept_only_while_the_counter_reads_the_same() {
        let cache = KeyCache::default();
        cache.put("h1", 7, &key("k1"), &switch());
        assert!(cache.get("h1", 7).is_some());
        assert!(cache.get("h1", 8).is_none(), "the counter moved");
        assert!(cache.get("h2", 7).is_none(), "another token");
    }

    #[test]
    fn a_use_is_noted_on_every_copy_of_the_key() {
        let cache = KeyCache::default();
        cache.put("old", 1, &key("k1"), &switch());
        cache.put("new", 1, &key("k1"), &switch());
        let at = Utc::now();
        cache.used("k1", at);
        assert_eq!(cache.get("old", 1).unwrap().0.last_used_at, Some(at));
        assert_eq!(cache.get("new", 1).unwrap().0.last_used_at, Some(at));
    }

    #[test]
    fn a_full_cache_starts_again() {
        let cache = KeyCache::default();
        for i in 0..CAPACITY {
            cache.put(&format!("h{i}"), 1, &key("k"), &switch());
        }
        assert_eq!(cache.len(), CAPACITY);
        cache.put("one more", 1, &key("k"), &switch());
        assert_eq!(cache.len(), 1);
        assert!(cache.get("one more", 1).is_some());
    }
}
