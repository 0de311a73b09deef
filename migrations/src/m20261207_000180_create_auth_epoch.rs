//! `auth_epoch`: one counter that every change to what verifies a SCIM or admin key moves, in
//! the transaction of that change (issue 23, target 1: a per-process cache of verified keys).
//!
//! A process keeps the keys it has verified, each tagged with the counter it read *before*
//! reading the key; a request reads the counter (one row by its key) and uses a kept key only
//! when the counter has not moved since. So a key disabled, revoked, rotated, re-permissioned
//! or deleted by any process, by the CLI, by the expiry sweep or by hand in SQL is refused by
//! every process on its next request, as when every request read the key.
//!
//! Triggers move the counter, so that no code path can forget to:
//! - `api_keys`: an insert, a delete, or an update of any column but `last_used_at` and
//!   `last_used_addr` (the once-a-minute record of use, which verification does not read).
//!   **A column added to `api_keys` later must be added to [`KEY_COLUMNS`]' trigger** (a new
//!   migration dropping and creating it), or a change of it would not reach the caches.
//! - `tenants`: an update of the SCIM switch columns read with the key
//!   (`scim_custom_attributes`, `custom_schema_tag`, `events_full_data`), an insert (SQLite's
//!   `INSERT OR REPLACE` of a tenant) or a delete.
//! - PostgreSQL: also `TRUNCATE` of either table.
//!
//! On PostgreSQL the triggers are per statement (a purge of 1,000 keys moves it once), and the
//! counter's function keeps the migration's search path. The counter starts from the clock
//! (milliseconds), so that it never reads a value again after a `down` and an `up`.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The columns of `api_keys` whose change moves the counter: all but the record of use.
const KEY_COLUMNS: &str = "\"id\", \"tenant_id\", \"name\", \"label\", \"scope\", \
     \"permissions\", \"options\", \"machine_id\", \"token_hash\", \"hash_alg\", \"token_hint\", \
     \"enabled\", \"created_at\", \"expires_at\", \"revoked_at\", \"previous_token_hash\", \
     \"previous_valid_until\", \"updated_at\", \"expiry_notified\", \"client_id\", \"federation\"";

/// The columns of `tenants` read with a key.
const TENANT_COLUMNS: &str =
    "\"scim_custom_attributes\", \"custom_schema_tag\", \"events_full_data\"";

const BUMP: &str = "UPDATE \"auth_epoch\" SET \"epoch\" = \"epoch\" + 1 WHERE \"id\" = 1";

/// (trigger name, table, the events it fires on) of both databases.
fn triggers() -> [(&'static str, &'static str, String); 6] {
    [
        ("tr_auth_epoch_key_insert", "api_keys", "INSERT".to_owned()),
        // A tenant replaced (SQLite's `INSERT OR REPLACE`, which fires no delete trigger
        // unless `recursive_triggers` is on) changes its switch without an update.
        (
            "tr_auth_epoch_tenant_insert",
            "tenants",
            "INSERT".to_owned(),
        ),
        ("tr_auth_epoch_key_delete", "api_keys", "DELETE".to_owned()),
        (
            "tr_auth_epoch_key_update",
            "api_keys",
            format!("UPDATE OF {KEY_COLUMNS}"),
        ),
        (
            "tr_auth_epoch_tenant_update",
            "tenants",
            format!("UPDATE OF {TENANT_COLUMNS}"),
        ),
        (
            "tr_auth_epoch_tenant_delete",
            "tenants",
            "DELETE".to_owned(),
        ),
    ]
}

/// PostgreSQL only: `TRUNCATE` fires no row or `DELETE` trigger.
const PG_TRUNCATE_TRIGGERS: [(&str, &str); 2] = [
    ("tr_auth_epoch_key_truncate", "api_keys"),
    ("tr_auth_epoch_tenant_truncate", "tenants"),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let backend = manager.get_database_backend();
        let db = manager.get_connection();
        db.execute_unprepared(
            "CREATE TABLE \"auth_epoch\" ( \"id\" integer NOT NULL PRIMARY KEY, \
             \"epoch\" bigint NOT NULL )",
        )
        .await?;
        // Started from the clock, not 0: a process that outlived a `down` and an `up` of this
        // migration must not find its kept counter value again.
        let start = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis());
        db.execute_unprepared(&format!(
            "INSERT INTO \"auth_epoch\" (\"id\", \"epoch\") VALUES (1, {start})"
        ))
        .await?;
        if backend == DbBackend::Postgres {
            // The search path of the migration, whatever a later session's is.
            db.execute_unprepared(&format!(
                "CREATE FUNCTION \"auth_epoch_bump\"() RETURNS trigger LANGUAGE plpgsql \
                 SET search_path FROM CURRENT AS $$ BEGIN {BUMP}; RETURN NULL; END $$"
            ))
            .await?;
            for (name, table) in PG_TRUNCATE_TRIGGERS {
                db.execute_unprepared(&format!(
                    "CREATE TRIGGER \"{name}\" AFTER TRUNCATE ON \"{table}\" \
                     FOR EACH STATEMENT EXECUTE FUNCTION \"auth_epoch_bump\"()"
                ))
                .await?;
            }
        }
        for (name, table, events) in triggers() {
            let sql = match backend {
                DbBackend::Postgres => format!(
                    "CREATE TRIGGER \"{name}\" AFTER {events} ON \"{table}\" \
                     FOR EACH STATEMENT EXECUTE FUNCTION \"auth_epoch_bump\"()"
                ),
                _ => format!(
                    "CREATE TRIGGER \"{name}\" AFTER {events} ON \"{table}\" \
                     FOR EACH ROW BEGIN {BUMP}; END"
                ),
            };
            db.execute_unprepared(&sql).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let backend = manager.get_database_backend();
        let db = manager.get_connection();
        for (name, table, _) in triggers() {
            let sql = match backend {
                DbBackend::Postgres => format!("DROP TRIGGER IF EXISTS \"{name}\" ON \"{table}\""),
                _ => format!("DROP TRIGGER IF EXISTS \"{name}\""),
            };
            db.execute_unprepared(&sql).await?;
        }
        if backend == DbBackend::Postgres {
            for (name, table) in PG_TRUNCATE_TRIGGERS {
                db.execute_unprepared(&format!("DROP TRIGGER IF EXISTS \"{name}\" ON \"{table}\""))
                    .await?;
            }
            db.execute_unprepared("DROP FUNCTION IF EXISTS \"auth_epoch_bump\"()")
                .await?;
        }
        db.execute_unprepared("DROP TABLE \"auth_epoch\"").await?;
        Ok(())
    }
}
