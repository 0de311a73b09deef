//! SQLite only: `events` loses its `(tenant_id, time)` index (issue 20, what capture costs).
//! Every event wrote an entry into it and, at its commit, one more 4 KiB page into the WAL:
//! about 9,000 instructions of a ~60,000-instruction event (callgrind). On SQLite an event's
//! time now never precedes the time of the event numbered before it in its tenant (the capture
//! takes the later of the two), so time follows the table's key, `(tenant_id, sequence)`: a
//! read from a time (`since=`, a resend of a time range) finds its first sequence by a binary
//! search on the key, and the purge walks the key from the oldest. PostgreSQL, whose events
//! are numbered after they commit, keeps the index; this migration does nothing there.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DbBackend::Sqlite {
            return Ok(());
        }
        manager
            .get_connection()
            .execute_unprepared("DROP INDEX IF EXISTS \"ix_events_tenant_time\"")
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DbBackend::Sqlite {
            return Ok(());
        }
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE INDEX IF NOT EXISTS \"ix_events_tenant_time\" ON \"events\" (\"tenant_id\", \"time\")",
            )
            .await?;
        Ok(())
    }
}
