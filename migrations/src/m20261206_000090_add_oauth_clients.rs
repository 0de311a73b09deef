//! OAuth 2.0 clients (issue 19): every `scim` and `on_premise` key is a client with a stable,
//! non-secret `client_id` (backfilled here for the keys that exist); a key may carry one
//! federated credential (workload identity federation); the tenant chooses the lifetime of its
//! access tokens; and access tokens are stored, as the keys are, only as SHA-256 hashes, each
//! naming the key it was issued for and the hash of the secret it was issued under (so that a
//! rotation past its grace ends the tokens of the old secret).

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::ConnectionTrait;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Tenants {
    Table,
    Id,
    AccessTokenLifetimeSecs,
}

#[derive(DeriveIden)]
enum ApiKeys {
    Table,
    Id,
    ClientId,
    Federation,
}

#[derive(DeriveIden)]
enum AccessTokens {
    Table,
    TokenHash,
    KeyId,
    TenantId,
    SecretHash,
    CreatedAt,
    ExpiresAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per ALTER: SQLite accepts only one change per statement.
        manager
            .alter_table(
                Table::alter()
                    .table(ApiKeys::Table)
                    .add_column(ColumnDef::new(ApiKeys::ClientId).string_len(36))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(ApiKeys::Table)
                    .add_column(ColumnDef::new(ApiKeys::Federation).json_binary())
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Tenants::Table)
                    .add_column(
                        ColumnDef::new(Tenants::AccessTokenLifetimeSecs)
                            .integer()
                            .not_null()
                            .default(3600),
                    )
                    .to_owned(),
            )
            .await?;
        backfill_client_ids(manager).await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_api_keys_client_id")
                    .table(ApiKeys::Table)
                    .col(ApiKeys::ClientId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(AccessTokens::Table)
                    .col(
                        ColumnDef::new(AccessTokens::TokenHash)
                            .string_len(64)
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(AccessTokens::KeyId)
                            .string_len(36)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(AccessTokens::TenantId)
                            .string_len(64)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(AccessTokens::SecretHash)
                            .string_len(64)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(AccessTokens::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(AccessTokens::ExpiresAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(AccessTokens::Table, AccessTokens::KeyId)
                            .to(ApiKeys::Table, ApiKeys::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(AccessTokens::Table, AccessTokens::TenantId)
                            .to(Tenants::Table, Tenants::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_access_tokens_key_created")
                    .table(AccessTokens::Table)
                    .col(AccessTokens::KeyId)
                    .col(AccessTokens::CreatedAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_access_tokens_expires")
                    .table(AccessTokens::Table)
                    .col(AccessTokens::ExpiresAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(AccessTokens::Table).to_owned())
            .await?;
        manager
            .drop_index(
                Index::drop()
                    .name("ux_api_keys_client_id")
                    .table(ApiKeys::Table)
                    .to_owned(),
            )
            .await?;
        for column in [ApiKeys::Federation, ApiKeys::ClientId] {
            manager
                .alter_table(
                    Table::alter()
                        .table(ApiKeys::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table(Tenants::Table)
                    .drop_column(Tenants::AccessTokenLifetimeSecs)
                    .to_owned(),
            )
            .await
    }
}

/// Gives every existing `scim` and `on_premise` key a random client id (UUID v4).
async fn backfill_client_ids(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    let db = manager.get_connection();
    let backend = manager.get_database_backend();
    let select = Query::select()
        .column(ApiKeys::Id)
        .from(ApiKeys::Table)
        .and_where(Expr::col(Alias::new("scope")).is_in(["scim", "on_premise"]))
        .and_where(Expr::col(ApiKeys::ClientId).is_null())
        .to_owned();
    let rows = db.query_all(backend.build(&select)).await?;
    for row in rows {
        let id: String = row.try_get("", "id")?;
        let update = Query::update()
            .table(ApiKeys::Table)
            .value(ApiKeys::ClientId, uuid::Uuid::new_v4().to_string())
            .and_where(Expr::col(ApiKeys::Id).eq(id))
            .to_owned();
        db.execute(backend.build(&update)).await?;
    }
    Ok(())
}
