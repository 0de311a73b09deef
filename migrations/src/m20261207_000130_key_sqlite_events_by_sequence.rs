//! SQLite only: `events` becomes a `WITHOUT ROWID` table keyed by `(tenant_id, sequence)`
//! (issue 20, what capture costs). On SQLite every event has its sequence when it is written,
//! so the table itself can be the `(tenant_id, sequence)` b-tree: writing an event then
//! inserts into two b-trees (the table and `(tenant_id, time)`) instead of four (a rowid
//! table, the `id` primary key index, `(tenant_id, sequence)` and `(tenant_id, time)`). `id`
//! stays a column, unique by construction (UUIDv7), looked up only by an admin's "send again"
//! within one tenant. No foreign key to `tenants` either (a lookup of the tenant per event):
//! deleting a tenant deletes its events itself (`Store::delete_tenant`). PostgreSQL, where a
//! row is written before it is numbered, keeps its layout; this migration does nothing there.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

const COLUMNS: &str =
    "\"id\", \"tenant_id\", \"sequence\", \"capture\", \"time\", \"event_type\", \
     \"resource_type\", \"resource_id\", \"external_id\", \"version\", \"attributes\", \
     \"related\", \"actor\", \"request_id\", \"data\", \"replaced\"";

/// `events` named `table`: keyed by `(tenant_id, sequence)` `WITHOUT ROWID`, or (`rowid`, the
/// layout before) by `id` with its foreign key to `tenants`; the declared types are the ones
/// sea-orm's SQLite schema gives (the driver reads values by them).
fn create(table: &str, rowid: bool) -> String {
    format!(
        "CREATE TABLE \"{table}\" ( \"id\" varchar(36) NOT NULL{id_key}, \"tenant_id\" varchar(64) NOT NULL, \
         \"sequence\" bigint{seq_null}, \"capture\" bigint, \"time\" timestamp_with_timezone_text NOT NULL, \
         \"event_type\" varchar(32) NOT NULL, \"resource_type\" varchar(8) NOT NULL, \
         \"resource_id\" varchar(36) NOT NULL, \"external_id\" text, \"version\" bigint NOT NULL, \
         \"attributes\" jsonb_text NOT NULL, \"related\" jsonb_text, \"actor\" jsonb_text NOT NULL, \
         \"request_id\" varchar(64), \"data\" jsonb_text, \"replaced\" boolean NOT NULL DEFAULT FALSE, \
         {constraint} ){without}",
        id_key = if rowid { " PRIMARY KEY" } else { "" },
        seq_null = if rowid { "" } else { " NOT NULL" },
        without = if rowid { "" } else { " WITHOUT ROWID" },
        constraint = if rowid {
            "FOREIGN KEY (\"tenant_id\") REFERENCES \"tenants\" (\"id\") ON DELETE CASCADE"
        } else {
            "PRIMARY KEY (\"tenant_id\", \"sequence\")"
        },
    )
}

async fn rebuild(
    manager: &SchemaManager<'_>,
    create_sql: String,
    after: &[&str],
) -> Result<(), DbErr> {
    let db = manager.get_connection();
    db.execute_unprepared(&create_sql).await?;
    db.execute_unprepared(&format!(
        "INSERT INTO \"events_rebuilt\" ({COLUMNS}) SELECT {COLUMNS} FROM \"events\""
    ))
    .await?;
    db.execute_unprepared("DROP TABLE \"events\"").await?;
    db.execute_unprepared("ALTER TABLE \"events_rebuilt\" RENAME TO \"events\"")
        .await?;
    for sql in after {
        db.execute_unprepared(sql).await?;
    }
    Ok(())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DbBackend::Sqlite {
            return Ok(());
        }
        rebuild(
            manager,
            create("events_rebuilt", false),
            &["CREATE INDEX \"ix_events_tenant_time\" ON \"events\" (\"tenant_id\", \"time\")"],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DbBackend::Sqlite {
            return Ok(());
        }
        rebuild(
            manager,
            create("events_rebuilt", true),
            &[
                "CREATE UNIQUE INDEX \"ux_events_tenant_sequence\" ON \"events\" (\"tenant_id\", \"sequence\")",
                "CREATE INDEX \"ix_events_tenant_time\" ON \"events\" (\"tenant_id\", \"time\")",
            ],
        )
        .await
    }
}
