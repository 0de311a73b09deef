//! `externalId` is no longer unique per tenant (users and groups), only indexed.
//!
//! RFC 7643 §3.1 scopes `externalId` to the provisioning client and does not make it unique;
//! Entra ID maps `mailNickname` to it by default, which is not unique across a directory, and a
//! `409` would stall that user's provisioning for good. Lookups by `externalId eq` keep their
//! index (tenant first) and return every match.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Users {
    Table,
    TenantId,
    ExternalId,
}

#[derive(DeriveIden)]
enum Groups {
    Table,
    TenantId,
    ExternalId,
}

/// (table, unique index dropped, plain index created, columns)
fn indexes() -> [(DynIden, &'static str, &'static str, [DynIden; 2]); 2] {
    [
        (
            Users::Table.into_iden(),
            "ux_users_tenant_external_id",
            "ix_users_tenant_external_id",
            [Users::TenantId.into_iden(), Users::ExternalId.into_iden()],
        ),
        (
            Groups::Table.into_iden(),
            "ux_groups_tenant_external_id",
            "ix_groups_tenant_external_id",
            [Groups::TenantId.into_iden(), Groups::ExternalId.into_iden()],
        ),
    ]
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (table, unique, plain, cols) in indexes() {
            manager
                .drop_index(Index::drop().name(unique).table(table.clone()).to_owned())
                .await?;
            let mut index = Index::create();
            index.name(plain).table(table);
            for col in cols {
                index.col(col);
            }
            manager.create_index(index.to_owned()).await?;
        }
        Ok(())
    }

    /// Fails (and changes nothing on PostgreSQL) while two resources of a tenant share an
    /// `externalId`.
    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (table, unique, plain, cols) in indexes() {
            manager
                .drop_index(Index::drop().name(plain).table(table.clone()).to_owned())
                .await?;
            let mut index = Index::create();
            index.name(unique).table(table).unique();
            for col in cols {
                index.col(col);
            }
            manager.create_index(index.to_owned()).await?;
        }
        Ok(())
    }
}
