//! `tenants.custom_schema_tag`: a new random value each time the tenant's custom schema is
//! declared, so that SCIM requests can read the switch and this short tag with the key (no JSON
//! to decode per request) and re-read the declaration only when the tag differs from the one
//! a process has parsed.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Tenants {
    Table,
    CustomSchema,
    CustomSchemaTag,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Tenants::Table)
                    .add_column(ColumnDef::new(Tenants::CustomSchemaTag).string_len(36))
                    .to_owned(),
            )
            .await?;
        // Declarations made before this migration get a tag too.
        manager
            .exec_stmt(
                Query::update()
                    .table(Tenants::Table)
                    .value(Tenants::CustomSchemaTag, "declared-before-tags")
                    .and_where(Expr::col(Tenants::CustomSchema).is_not_null())
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Tenants::Table)
                    .drop_column(Tenants::CustomSchemaTag)
                    .to_owned(),
            )
            .await
    }
}
