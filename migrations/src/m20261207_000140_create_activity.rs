//! Provisioning activity (issue 21): a record of every SCIM request (and token request) that can
//! be attributed to a tenant, written off the request's path in batches.
//!
//! - `activity_records`: one row per request, keyed by `(tenant_id, id)` where `id` is a UUIDv7
//!   of the time the request ended: the key orders a tenant's records by time, so it serves the
//!   newest-first reads, time ranges (as id ranges), one record, and the retention purge. On
//!   SQLite the table *is* that key (`WITHOUT ROWID`): a record is written into three b-trees
//!   (the table, by key or client, by resource) instead of five. No foreign key to the tenant:
//!   a tenant's deletion removes its records explicitly.
//! - `activity_bodies`: the body of a failed request, with `password` removed, only while the
//!   tenant keeps them (`tenants.activity_keep_failed_bodies`), purged after 7 days.
//! - `activity_drops`: records the process could not queue (its queue was full), counted per
//!   tenant and hour, so the summary says "N records dropped" instead of staying silent.
//! - `tenants.activity_retention_days` (30, 1–180) and `activity_keep_failed_bodies` (false).

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Tenants {
    Table,
    ActivityRetentionDays,
    ActivityKeepFailedBodies,
}

#[derive(DeriveIden)]
enum ActivityRecords {
    Table,
    Id,
    TenantId,
    Time,
    RequestId,
    ActorKind,
    Actor,
    IdentityProvider,
    Method,
    Path,
    ResourceType,
    ResourceId,
    Filter,
    Status,
    ScimType,
    Detail,
    LatencyMs,
    Summary,
    Attributes,
    HasBody,
}

#[derive(DeriveIden)]
enum ActivityBodies {
    Table,
    RecordId,
    TenantId,
    Time,
    Body,
}

#[derive(DeriveIden)]
enum ActivityDrops {
    Table,
    TenantId,
    Hour,
    Dropped,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Tenants::Table)
                    .add_column(
                        ColumnDef::new(Tenants::ActivityRetentionDays)
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
                        ColumnDef::new(Tenants::ActivityKeepFailedBodies)
                            .boolean()
                            .not_null()
                            .default(false),
                    )
                    .to_owned(),
            )
            .await?;
        if manager.get_database_backend() == DbBackend::Sqlite {
            manager
                .get_connection()
                .execute_unprepared(
                    "CREATE TABLE \"activity_records\" ( \"tenant_id\" varchar(64) NOT NULL, \
                     \"id\" varchar(36) NOT NULL, \"time\" timestamp_with_timezone_text NOT NULL, \
                     \"request_id\" varchar(64), \"actor_kind\" varchar(16) NOT NULL, \
                     \"actor\" text NOT NULL, \"identity_provider\" varchar(8) NOT NULL, \
                     \"method\" varchar(16) NOT NULL, \"path\" text NOT NULL, \
                     \"resource_type\" varchar(8), \"resource_id\" text, \"filter\" text, \
                     \"status\" integer NOT NULL, \"scim_type\" varchar(32), \"detail\" text, \
                     \"latency_ms\" bigint NOT NULL, \"summary\" text NOT NULL, \
                     \"attributes\" jsonb_text NOT NULL, \"has_body\" boolean NOT NULL DEFAULT FALSE, \
                     PRIMARY KEY (\"tenant_id\", \"id\") ) WITHOUT ROWID",
                )
                .await?;
        } else {
            manager
                .create_table(
                    Table::create()
                        .table(ActivityRecords::Table)
                        .col(
                            ColumnDef::new(ActivityRecords::TenantId)
                                .string_len(64)
                                .not_null(),
                        )
                        .col(
                            ColumnDef::new(ActivityRecords::Id)
                                .string_len(36)
                                .not_null(),
                        )
                        .col(
                            ColumnDef::new(ActivityRecords::Time)
                                .timestamp_with_time_zone()
                                .not_null(),
                        )
                        .col(ColumnDef::new(ActivityRecords::RequestId).string_len(64))
                        .col(
                            ColumnDef::new(ActivityRecords::ActorKind)
                                .string_len(16)
                                .not_null(),
                        )
                        .col(ColumnDef::new(ActivityRecords::Actor).text().not_null())
                        .col(
                            ColumnDef::new(ActivityRecords::IdentityProvider)
                                .string_len(8)
                                .not_null(),
                        )
                        .col(
                            ColumnDef::new(ActivityRecords::Method)
                                .string_len(16)
                                .not_null(),
                        )
                        .col(ColumnDef::new(ActivityRecords::Path).text().not_null())
                        .col(ColumnDef::new(ActivityRecords::ResourceType).string_len(8))
                        .col(ColumnDef::new(ActivityRecords::ResourceId).text())
                        .col(ColumnDef::new(ActivityRecords::Filter).text())
                        .col(ColumnDef::new(ActivityRecords::Status).integer().not_null())
                        .col(ColumnDef::new(ActivityRecords::ScimType).string_len(32))
                        .col(ColumnDef::new(ActivityRecords::Detail).text())
                        .col(
                            ColumnDef::new(ActivityRecords::LatencyMs)
                                .big_integer()
                                .not_null(),
                        )
                        .col(ColumnDef::new(ActivityRecords::Summary).text().not_null())
                        .col(
                            ColumnDef::new(ActivityRecords::Attributes)
                                .json_binary()
                                .not_null(),
                        )
                        .col(
                            ColumnDef::new(ActivityRecords::HasBody)
                                .boolean()
                                .not_null()
                                .default(false),
                        )
                        .primary_key(
                            Index::create()
                                .col(ActivityRecords::TenantId)
                                .col(ActivityRecords::Id),
                        )
                        .to_owned(),
                )
                .await?;
        }
        for (name, second) in [
            ("ix_activity_tenant_actor", ActivityRecords::Actor),
            ("ix_activity_tenant_resource", ActivityRecords::ResourceId),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(ActivityRecords::Table)
                        .col(ActivityRecords::TenantId)
                        .col(second)
                        .col(ActivityRecords::Id)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .create_table(
                Table::create()
                    .table(ActivityBodies::Table)
                    .col(
                        ColumnDef::new(ActivityBodies::RecordId)
                            .string_len(36)
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(ActivityBodies::TenantId)
                            .string_len(64)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(ActivityBodies::Time)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(ColumnDef::new(ActivityBodies::Body).text().not_null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_activity_bodies_time")
                    .table(ActivityBodies::Table)
                    .col(ActivityBodies::Time)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_activity_bodies_tenant")
                    .table(ActivityBodies::Table)
                    .col(ActivityBodies::TenantId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ActivityDrops::Table)
                    .col(
                        ColumnDef::new(ActivityDrops::TenantId)
                            .string_len(64)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(ActivityDrops::Hour)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(ActivityDrops::Dropped)
                            .big_integer()
                            .not_null(),
                    )
                    .primary_key(
                        Index::create()
                            .col(ActivityDrops::TenantId)
                            .col(ActivityDrops::Hour),
                    )
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            ActivityDrops::Table.into_iden(),
            ActivityBodies::Table.into_iden(),
            ActivityRecords::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        for column in [
            Tenants::ActivityKeepFailedBodies,
            Tenants::ActivityRetentionDays,
        ] {
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
