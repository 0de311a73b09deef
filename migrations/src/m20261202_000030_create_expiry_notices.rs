//! The expiry outbox: one row per key, expiry date and warning threshold (30, 7, 1 days before,
//! 0 = expired), written in the transaction that decides it and sent by the mailer. The unique
//! index makes "exactly once per key and threshold" a database fact, whatever number of
//! processes sweep at once. On `api_keys`: `expiry_notified`, the tightest threshold queued
//! for the key's current expiry (reset by rotation), so finding the keys that are due is a
//! filter on the key row itself, never a join against a growing outbox; and an index on
//! `(expires_at, id)`, the order in which the sweep walks each time band.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Tenants {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum ApiKeys {
    Table,
    ExpiresAt,
    Id,
    ExpiryNotified,
}

#[derive(DeriveIden)]
enum ExpiryNotices {
    Table,
    Id,
    TenantId,
    ApiKeyId,
    KeyName,
    KeyLabel,
    KeyScope,
    MachineName,
    KeyExpiresAt,
    ThresholdDays,
    Recipient,
    Locale,
    Status,
    Attempts,
    NextAttemptAt,
    ClaimId,
    ClaimedUntil,
    LastError,
    CreatedAt,
    SentAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(ApiKeys::Table)
                    .add_column(ColumnDef::new(ApiKeys::ExpiryNotified).integer())
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ExpiryNotices::Table)
                    .col(
                        ColumnDef::new(ExpiryNotices::Id)
                            .string_len(36)
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(ExpiryNotices::TenantId)
                            .string_len(64)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(ExpiryNotices::ApiKeyId)
                            .string_len(36)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(ExpiryNotices::KeyName)
                            .string_len(64)
                            .not_null(),
                    )
                    .col(ColumnDef::new(ExpiryNotices::KeyLabel).text())
                    .col(
                        ColumnDef::new(ExpiryNotices::KeyScope)
                            .string_len(16)
                            .not_null(),
                    )
                    .col(ColumnDef::new(ExpiryNotices::MachineName).string_len(128))
                    .col(
                        ColumnDef::new(ExpiryNotices::KeyExpiresAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(ExpiryNotices::ThresholdDays)
                            .integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(ExpiryNotices::Recipient).string_len(320))
                    .col(
                        ColumnDef::new(ExpiryNotices::Locale)
                            .string_len(16)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(ExpiryNotices::Status)
                            .string_len(16)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(ExpiryNotices::Attempts)
                            .integer()
                            .not_null()
                            .default(0),
                    )
                    .col(
                        ColumnDef::new(ExpiryNotices::NextAttemptAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(ColumnDef::new(ExpiryNotices::ClaimId).string_len(36))
                    .col(ColumnDef::new(ExpiryNotices::ClaimedUntil).timestamp_with_time_zone())
                    .col(ColumnDef::new(ExpiryNotices::LastError).text())
                    .col(
                        ColumnDef::new(ExpiryNotices::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(ColumnDef::new(ExpiryNotices::SentAt).timestamp_with_time_zone())
                    .foreign_key(
                        ForeignKey::create()
                            .from(ExpiryNotices::Table, ExpiryNotices::TenantId)
                            .to(Tenants::Table, Tenants::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_expiry_notices_key_expiry_threshold")
                    .table(ExpiryNotices::Table)
                    .col(ExpiryNotices::ApiKeyId)
                    .col(ExpiryNotices::KeyExpiresAt)
                    .col(ExpiryNotices::ThresholdDays)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_expiry_notices_status_next_attempt")
                    .table(ExpiryNotices::Table)
                    .col(ExpiryNotices::Status)
                    .col(ExpiryNotices::NextAttemptAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_expiry_notices_tenant_created")
                    .table(ExpiryNotices::Table)
                    .col(ExpiryNotices::TenantId)
                    .col(ExpiryNotices::CreatedAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_api_keys_expires_at")
                    .table(ApiKeys::Table)
                    .col(ApiKeys::ExpiresAt)
                    .col(ApiKeys::Id)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("ix_api_keys_expires_at")
                    .table(ApiKeys::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_table(Table::drop().table(ExpiryNotices::Table).to_owned())
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(ApiKeys::Table)
                    .drop_column(ApiKeys::ExpiryNotified)
                    .to_owned(),
            )
            .await
    }
}
