//! `activity_records` keeps as columns only what a read filters or groups by, and loses its
//! index by actor (issue 21, what recording costs).
//!
//! A record bound 19 values and was written into three b-trees. On SQLite that came to ~36,500
//! instructions per record, 6–9% of a single-resource write. Now:
//! - the columns are the key `(tenant_id, id)`, `actor_kind`, `actor`, `method`,
//!   `resource_id`, `status`, `scim_type` and `has_body`; everything only shown (time, request
//!   id, identity provider, path, resource type, filter, detail, latency, summary, attributes)
//!   is one JSON text, `details`, which the database never looks into;
//! - `ix_activity_tenant_actor` is gone. What it served: a key's last success and last failure
//!   (the summary) now come from `activity_actors`, one row per tenant and actor updated once
//!   per batch; a `key=` filter of the log walks the tenant's records newest first.
//!
//! The rows there are moved over; `down` moves them back.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ActivityActors {
    Table,
    TenantId,
    ActorKind,
    Actor,
    LastSuccessId,
    LastFailureId,
}

/// The new table's definition, for each backend.
fn create_packed(backend: DbBackend) -> String {
    let rowid = match backend {
        DbBackend::Postgres => "",
        _ => " WITHOUT ROWID",
    };
    format!(
        "CREATE TABLE \"activity_records_packed\" ( \"tenant_id\" varchar(64) NOT NULL, \
         \"id\" varchar(36) NOT NULL, \"actor_kind\" varchar(16) NOT NULL, \"actor\" text NOT NULL, \
         \"method\" varchar(16) NOT NULL, \"resource_id\" text, \"status\" integer NOT NULL, \
         \"scim_type\" varchar(32), \"has_body\" boolean NOT NULL DEFAULT FALSE, \
         \"details\" text NOT NULL, PRIMARY KEY (\"tenant_id\", \"id\") ){rowid}"
    )
}

/// The JSON of the shown fields of an old row, in each backend's SQL.
fn details_of_old_row(backend: DbBackend) -> &'static str {
    match backend {
        DbBackend::Postgres => {
            "jsonb_build_object('time', \"time\", 'requestId', \"request_id\", \
             'identityProvider', \"identity_provider\", 'path', \"path\", \
             'resourceType', \"resource_type\", 'filter', \"filter\", 'detail', \"detail\", \
             'latencyMs', \"latency_ms\", 'summary', \"summary\", 'attributes', \"attributes\")::text"
        }
        _ => {
            "json_object('time', \"time\", 'requestId', \"request_id\", \
             'identityProvider', \"identity_provider\", 'path', \"path\", \
             'resourceType', \"resource_type\", 'filter', \"filter\", 'detail', \"detail\", \
             'latencyMs', \"latency_ms\", 'summary', \"summary\", 'attributes', json(\"attributes\"))"
        }
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let backend = manager.get_database_backend();
        let db = manager.get_connection();
        db.execute_unprepared(&create_packed(backend)).await?;
        db.execute_unprepared(&format!(
            "INSERT INTO \"activity_records_packed\" (\"tenant_id\", \"id\", \"actor_kind\", \
             \"actor\", \"method\", \"resource_id\", \"status\", \"scim_type\", \"has_body\", \
             \"details\") SELECT \"tenant_id\", \"id\", \"actor_kind\", \"actor\", \"method\", \
             \"resource_id\", \"status\", \"scim_type\", \"has_body\", {} FROM \"activity_records\"",
            details_of_old_row(backend)
        ))
        .await?;
        manager
            .create_table(
                Table::create()
                    .table(ActivityActors::Table)
                    .col(
                        ColumnDef::new(ActivityActors::TenantId)
                            .string_len(64)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(ActivityActors::ActorKind)
                            .string_len(16)
                            .not_null(),
                    )
                    .col(ColumnDef::new(ActivityActors::Actor).text().not_null())
                    .col(ColumnDef::new(ActivityActors::LastSuccessId).string_len(36))
                    .col(ColumnDef::new(ActivityActors::LastFailureId).string_len(36))
                    .primary_key(
                        Index::create()
                            .col(ActivityActors::TenantId)
                            .col(ActivityActors::ActorKind)
                            .col(ActivityActors::Actor),
                    )
                    .to_owned(),
            )
            .await?;
        db.execute_unprepared(
            "INSERT INTO \"activity_actors\" (\"tenant_id\", \"actor_kind\", \"actor\", \
             \"last_success_id\", \"last_failure_id\") SELECT \"tenant_id\", \"actor_kind\", \
             \"actor\", MAX(CASE WHEN \"status\" < 400 THEN \"id\" END), \
             MAX(CASE WHEN \"status\" >= 400 THEN \"id\" END) FROM \"activity_records\" \
             GROUP BY \"tenant_id\", \"actor_kind\", \"actor\"",
        )
        .await?;
        db.execute_unprepared("DROP TABLE \"activity_records\"")
            .await?;
        db.execute_unprepared(
            "ALTER TABLE \"activity_records_packed\" RENAME TO \"activity_records\"",
        )
        .await?;
        if backend == DbBackend::Postgres {
            // The primary key's index keeps the name it was created with.
            db.execute_unprepared(
                "ALTER INDEX \"activity_records_packed_pkey\" RENAME TO \"activity_records_pkey\"",
            )
            .await?;
        }
        db.execute_unprepared(
            "CREATE INDEX \"ix_activity_tenant_resource\" ON \"activity_records\" \
             (\"tenant_id\", \"resource_id\", \"id\")",
        )
        .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let backend = manager.get_database_backend();
        let db = manager.get_connection();
        let (json_type, rowid, get, attributes, time) = match backend {
            DbBackend::Postgres => (
                "jsonb",
                "",
                "(\"details\"::jsonb ->> '{}')",
                "(\"details\"::jsonb -> 'attributes')",
                "timestamp with time zone",
            ),
            _ => (
                "jsonb_text",
                " WITHOUT ROWID",
                "json_extract(\"details\", '$.{}')",
                "json_extract(\"details\", '$.attributes')",
                "timestamp_with_timezone_text",
            ),
        };
        db.execute_unprepared(&format!(
            "CREATE TABLE \"activity_records_wide\" ( \"tenant_id\" varchar(64) NOT NULL, \
             \"id\" varchar(36) NOT NULL, \"time\" {time} NOT NULL, \
             \"request_id\" varchar(64), \"actor_kind\" varchar(16) NOT NULL, \
             \"actor\" text NOT NULL, \"identity_provider\" varchar(8) NOT NULL, \
             \"method\" varchar(16) NOT NULL, \"path\" text NOT NULL, \
             \"resource_type\" varchar(8), \"resource_id\" text, \"filter\" text, \
             \"status\" integer NOT NULL, \"scim_type\" varchar(32), \"detail\" text, \
             \"latency_ms\" bigint NOT NULL, \"summary\" text NOT NULL, \
             \"attributes\" {json_type} NOT NULL, \"has_body\" boolean NOT NULL DEFAULT FALSE, \
             PRIMARY KEY (\"tenant_id\", \"id\") ){rowid}"
        ))
        .await?;
        let field = |name: &str| get.replace("{}", name);
        // Records written since `up` carry their time as integer nanoseconds (`timeNs`).
        let time_value = match backend {
            DbBackend::Postgres => format!(
                "COALESCE(({})::timestamptz, to_timestamp(({})::numeric / 1e9))",
                field("time"),
                field("timeNs")
            ),
            _ => format!(
                "COALESCE({}, strftime('%Y-%m-%dT%H:%M:%f+00:00', {} / 1e9, 'unixepoch'))",
                field("time"),
                field("timeNs")
            ),
        };
        let latency = match backend {
            DbBackend::Postgres => format!("({})::bigint", field("latencyMs")),
            _ => field("latencyMs"),
        };
        db.execute_unprepared(&format!(
            "INSERT INTO \"activity_records_wide\" (\"tenant_id\", \"id\", \"time\", \
             \"request_id\", \"actor_kind\", \"actor\", \"identity_provider\", \"method\", \
             \"path\", \"resource_type\", \"resource_id\", \"filter\", \"status\", \"scim_type\", \
             \"detail\", \"latency_ms\", \"summary\", \"attributes\", \"has_body\") SELECT \
             \"tenant_id\", \"id\", {time_value}, {}, \"actor_kind\", \"actor\", {}, \"method\", {}, \
             {}, \"resource_id\", {}, \"status\", \"scim_type\", {}, {latency}, {}, {attributes}, \
             \"has_body\" FROM \"activity_records\"",
            field("requestId"),
            field("identityProvider"),
            field("path"),
            field("resourceType"),
            field("filter"),
            field("detail"),
            field("summary"),
        ))
        .await?;
        db.execute_unprepared("DROP TABLE \"activity_records\"")
            .await?;
        db.execute_unprepared(
            "ALTER TABLE \"activity_records_wide\" RENAME TO \"activity_records\"",
        )
        .await?;
        if backend == DbBackend::Postgres {
            db.execute_unprepared(
                "ALTER INDEX \"activity_records_wide_pkey\" RENAME TO \"activity_records_pkey\"",
            )
            .await?;
        }
        for (name, second) in [
            ("ix_activity_tenant_actor", "actor"),
            ("ix_activity_tenant_resource", "resource_id"),
        ] {
            db.execute_unprepared(&format!(
                "CREATE INDEX \"{name}\" ON \"activity_records\" (\"tenant_id\", \"{second}\", \"id\")"
            ))
            .await?;
        }
        manager
            .drop_table(Table::drop().table(ActivityActors::Table).to_owned())
            .await?;
        Ok(())
    }
}
