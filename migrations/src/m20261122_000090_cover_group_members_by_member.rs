//! `ix_group_members_member` becomes `(tenant_id, member_id, group_id)`: covering, like the group
//! index. Without it SQLite (which has no statistics unless `ANALYZE` runs) preferred the
//! covering `(tenant_id, group_id, member_id)` index with only `tenant_id` bound to read "a
//! user's groups", scanning every membership row of the tenant: reading, patching or deleting a
//! user cost O(memberships in the tenant) (found by scim-bench: user PATCH/DELETE at half speed
//! once every user sat in one 5,000-member group).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const NAME: &str = "ix_group_members_member";

/// Drops and recreates the index in one batch of plain SQL (the same on SQLite and PostgreSQL).
/// As two separate calls (`drop_index`, then `create_index`) SQLite refused the create with
/// "already exists" although the drop had happened; one batch on one connection does not.
async fn replace(manager: &SchemaManager<'_>, columns: &str) -> Result<(), DbErr> {
    manager
        .get_connection()
        .execute_unprepared(&format!(
            "DROP INDEX IF EXISTS {NAME}; CREATE INDEX {NAME} ON group_members ({columns})"
        ))
        .await
        .map(|_| ())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        replace(manager, "tenant_id, member_id, group_id").await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        replace(manager, "tenant_id, member_id").await
    }
}
