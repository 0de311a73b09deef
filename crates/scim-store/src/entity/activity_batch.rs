//! `activity_batches`: the activity records one writer wrote for one tenant in one flush, as
//! one JSON array (migration 000190). The columns beside the array let a read skip batches
//! without decoding them.

use sea_orm::entity::prelude::*;

/// A batch row.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "activity_batches")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: String,
    /// The highest record id of the batch (ids are UUIDv7s of the records' times).
    #[sea_orm(primary_key, auto_increment = false)]
    pub newest_id: String,
    /// The lowest record id of the batch.
    pub oldest_id: String,
    /// Records in the batch.
    pub size: i32,
    /// Records with a status of 400 or more.
    pub failed: i32,
    /// The actors named, each between spaces.
    #[sea_orm(column_type = "Text")]
    pub actors: String,
    /// The resource ids named, each between spaces.
    #[sea_orm(column_type = "Text")]
    pub resources: String,
    /// The records, a JSON array, oldest first.
    #[sea_orm(column_type = "Text")]
    pub records: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
