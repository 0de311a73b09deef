//! Provisioning events (issue 20): an outbox written in the transaction of each SCIM change.
//!
//! `sequence` orders a tenant's events for its readers. On SQLite it is given in the writing
//! transaction (the write lock is held from `BEGIN IMMEDIATE` to `COMMIT`, so sequences commit
//! in order). On PostgreSQL writers commit in any order, so a row is written without one and
//! with its `capture` number (a database sequence taken after the change's row locks); the
//! sequencer gives sequences to committed rows only, in `capture` order, under a per-tenant
//! advisory lock that no writer takes (scim-store `events.rs`). A reader that has seen sequence
//! N can therefore never be handed a later-committing event below N.
//!
//! The tenant keeps its retention (`events_retention_days`) and the highest sequence purged so
//! far (`events_purged_through`): a cursor below it is answered `410 Gone`, not with a silent
//! gap.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Tenants {
    Table,
    Id,
    EventsRetentionDays,
    EventsPurgedThrough,
}

#[derive(DeriveIden)]
enum Events {
    Table,
    Id,
    TenantId,
    Sequence,
    Capture,
    Time,
    EventType,
    ResourceType,
    ResourceId,
    ExternalId,
    Version,
    Attributes,
    Related,
    Actor,
    RequestId,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Tenants::Table)
                    .add_column(
                        ColumnDef::new(Tenants::EventsRetentionDays)
                            .integer()
                            .not_null()
                            .default(30),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Tenants::Table)
                    .add_column(
                        ColumnDef::new(Tenants::EventsPurgedThrough)
                            .big_integer()
                            .not_null()
                            .default(0),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Events::Table)
                    .col(
                        ColumnDef::new(Events::Id)
                            .string_len(36)
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(Events::TenantId).string_len(64).not_null())
                    .col(ColumnDef::new(Events::Sequence).big_integer())
                    .col(ColumnDef::new(Events::Capture).big_integer())
                    .col(
                        ColumnDef::new(Events::Time)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(ColumnDef::new(Events::EventType).string_len(32).not_null())
                    .col(
                        ColumnDef::new(Events::ResourceType)
                            .string_len(8)
                            .not_null(),
                    )
                    .col(ColumnDef::new(Events::ResourceId).string_len(36).not_null())
                    .col(ColumnDef::new(Events::ExternalId).text())
                    .col(ColumnDef::new(Events::Version).big_integer().not_null())
                    .col(ColumnDef::new(Events::Attributes).json_binary().not_null())
                    .col(ColumnDef::new(Events::Related).json_binary())
                    .col(ColumnDef::new(Events::Actor).json_binary().not_null())
                    .col(ColumnDef::new(Events::RequestId).string_len(64))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Events::Table, Events::TenantId)
                            .to(Tenants::Table, Tenants::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // The readers' order, and (sequence IS NULL) the sequencer's work on PostgreSQL.
        manager
            .create_index(
                Index::create()
                    .name("ux_events_tenant_sequence")
                    .table(Events::Table)
                    .col(Events::TenantId)
                    .col(Events::Sequence)
                    .unique()
                    .to_owned(),
            )
            .await?;
        // `since=` and the retention purge.
        manager
            .create_index(
                Index::create()
                    .name("ix_events_tenant_time")
                    .table(Events::Table)
                    .col(Events::TenantId)
                    .col(Events::Time)
                    .to_owned(),
            )
            .await?;
        if manager.get_database_backend() == DbBackend::Postgres {
            let db = manager.get_connection();
            db.execute_unprepared("CREATE SEQUENCE events_capture_seq")
                .await?;
            db.execute_unprepared(
                "ALTER TABLE events ALTER COLUMN capture SET DEFAULT nextval('events_capture_seq')",
            )
            .await?;
            db.execute_unprepared("ALTER SEQUENCE events_capture_seq OWNED BY events.capture")
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Events::Table).to_owned())
            .await?;
        for column in [Tenants::EventsPurgedThrough, Tenants::EventsRetentionDays] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Tenants::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
