//! SCIM users: the validated resource as JSON plus indexed shadow columns for lookups and
//! uniqueness (`user_name_lower` makes userName unique case-insensitively per tenant).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Tenants {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
    TenantId,
    UserName,
    UserNameLower,
    ExternalId,
    DisplayName,
    Active,
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
                    .table(Users::Table)
                    .col(
                        ColumnDef::new(Users::Id)
                            .string_len(36)
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(Users::TenantId).string_len(64).not_null())
                    .col(ColumnDef::new(Users::UserName).text().not_null())
                    .col(ColumnDef::new(Users::UserNameLower).text().not_null())
                    .col(ColumnDef::new(Users::ExternalId).text())
                    .col(ColumnDef::new(Users::DisplayName).text())
                    .col(
                        ColumnDef::new(Users::Active)
                            .boolean()
                            .not_null()
                            .default(true),
                    )
                    .col(ColumnDef::new(Users::Attributes).json_binary().not_null())
                    .col(ColumnDef::new(Users::Version).big_integer().not_null())
                    .col(
                        ColumnDef::new(Users::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Users::LastModified)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Users::Table, Users::TenantId)
                            .to(Tenants::Table, Tenants::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        for (name, cols, unique) in [
            (
                "ux_users_tenant_user_name",
                vec![Users::TenantId, Users::UserNameLower],
                true,
            ),
            (
                "ux_users_tenant_external_id",
                vec![Users::TenantId, Users::ExternalId],
                true,
            ),
            (
                "ix_users_tenant_id",
                vec![Users::TenantId, Users::Id],
                false,
            ),
        ] {
            let mut index = Index::create();
            index.name(name).table(Users::Table);
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
            .drop_table(Table::drop().table(Users::Table).to_owned())
            .await
    }
}
