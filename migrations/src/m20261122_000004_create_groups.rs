//! SCIM groups. Members are not stored here but in `group_members`, so that adding or removing
//! one member costs the same whatever the group's size.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Tenants {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Groups {
    Table,
    Id,
    TenantId,
    DisplayName,
    DisplayNameLower,
    ExternalId,
    Attributes,
    Version,
    CreatedAt,
    LastModified,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Groups::Table)
                    .col(
                        ColumnDef::new(Groups::Id)
                            .string_len(36)
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(Groups::TenantId).string_len(64).not_null())
                    .col(ColumnDef::new(Groups::DisplayName).text().not_null())
                    .col(ColumnDef::new(Groups::DisplayNameLower).text().not_null())
                    .col(ColumnDef::new(Groups::ExternalId).text())
                    .col(ColumnDef::new(Groups::Attributes).json_binary().not_null())
                    .col(ColumnDef::new(Groups::Version).big_integer().not_null())
                    .col(
                        ColumnDef::new(Groups::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Groups::LastModified)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Groups::Table, Groups::TenantId)
                            .to(Tenants::Table, Tenants::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        for (name, cols, unique) in [
            (
                "ux_groups_tenant_display_name",
                vec![Groups::TenantId, Groups::DisplayNameLower],
                true,
            ),
            (
                "ux_groups_tenant_external_id",
                vec![Groups::TenantId, Groups::ExternalId],
                true,
            ),
            (
                "ix_groups_tenant_id",
                vec![Groups::TenantId, Groups::Id],
                false,
            ),
        ] {
            let mut index = Index::create();
            index.name(name).table(Groups::Table);
            for col in cols {
                index.col(col);
            }
            if unique {
                index.unique();
            }
            manager.create_index(index.to_owned()).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Groups::Table).to_owned())
            .await
    }
}
