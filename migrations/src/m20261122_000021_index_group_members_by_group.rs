//! `(tenant_id, group_id, member_id)` on `group_members`: reading or counting one group's
//! members is a range scan of exactly that group, whatever the tenant's size (the primary key
//! starts with `group_id` but queries also filter on the tenant, which led planners to the
//! member index instead).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum GroupMembers {
    Table,
    TenantId,
    GroupId,
    MemberId,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name("ix_group_members_group")
                    .table(GroupMembers::Table)
                    .col(GroupMembers::TenantId)
                    .col(GroupMembers::GroupId)
                    .col(GroupMembers::MemberId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("ix_group_members_group")
                    .table(GroupMembers::Table)
                    .to_owned(),
            )
            .await
    }
}
