//! Append-only migrations of the scimd database, shared by `scimd serve`, `scimd migrate` and
//! the tests. Each migration declares its own identifiers and never imports entities, so old
//! migrations keep compiling whatever the entities become.

pub use sea_orm_migration::prelude::*;

mod m20261122_000001_create_tenants;
mod m20261122_000002_create_api_keys;
mod m20261122_000003_create_users;
mod m20261122_000004_create_groups;
mod m20261122_000005_create_group_members;
mod m20261122_000010_create_machines;
mod m20261122_000011_create_audit_events;
mod m20261122_000012_add_key_rotation;
mod m20261122_000020_add_group_member_count;
mod m20261122_000021_index_group_members_by_group;
mod m20261122_000090_cover_group_members_by_member;
mod m20261202_000030_create_expiry_notices;
mod m20261202_000040_add_tenant_custom_schema_tag;
mod m20261202_000050_create_console_sessions;
mod m20261206_000060_drop_external_id_uniqueness;
mod m20261206_000070_create_server_keys;
mod m20261206_000080_order_external_id_index_by_id;
mod m20261206_000090_add_oauth_clients;
mod m20261206_000100_create_events;
mod m20261206_000110_create_webhooks;
mod m20261207_000120_add_event_streams;
mod m20261207_000130_key_sqlite_events_by_sequence;
mod m20261207_000140_create_activity;
mod m20261207_000150_drop_sqlite_events_time_index;
mod m20261207_000160_create_resource_counts;
mod m20261207_000170_pack_activity_records;
mod m20261207_000180_create_auth_epoch;
mod m20261208_000190_batch_activity_records;

/// The migrator run at start-up.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261122_000001_create_tenants::Migration),
            Box::new(m20261122_000002_create_api_keys::Migration),
            Box::new(m20261122_000003_create_users::Migration),
            Box::new(m20261122_000004_create_groups::Migration),
            Box::new(m20261122_000005_create_group_members::Migration),
            Box::new(m20261122_000010_create_machines::Migration),
            Box::new(m20261122_000011_create_audit_events::Migration),
            Box::new(m20261122_000012_add_key_rotation::Migration),
            Box::new(m20261122_000020_add_group_member_count::Migration),
            Box::new(m20261122_000021_index_group_members_by_group::Migration),
            Box::new(m20261122_000090_cover_group_members_by_member::Migration),
            Box::new(m20261202_000030_create_expiry_notices::Migration),
            Box::new(m20261202_000040_add_tenant_custom_schema_tag::Migration),
            Box::new(m20261202_000050_create_console_sessions::Migration),
            Box::new(m20261206_000060_drop_external_id_uniqueness::Migration),
            Box::new(m20261206_000070_create_server_keys::Migration),
            Box::new(m20261206_000080_order_external_id_index_by_id::Migration),
            Box::new(m20261206_000090_add_oauth_clients::Migration),
            Box::new(m20261206_000100_create_events::Migration),
            Box::new(m20261206_000110_create_webhooks::Migration),
            Box::new(m20261207_000120_add_event_streams::Migration),
            Box::new(m20261207_000130_key_sqlite_events_by_sequence::Migration),
            Box::new(m20261207_000140_create_activity::Migration),
            Box::new(m20261207_000150_drop_sqlite_events_time_index::Migration),
            Box::new(m20261207_000160_create_resource_counts::Migration),
            Box::new(m20261207_000170_pack_activity_records::Migration),
            Box::new(m20261207_000180_create_auth_epoch::Migration),
            Box::new(m20261208_000190_batch_activity_records::Migration),
        ]
    }
}
