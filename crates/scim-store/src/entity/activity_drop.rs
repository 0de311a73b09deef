//! `activity_drops`: records a process could not queue, per tenant and hour (migration 000140).

use sea_orm::entity::prelude::*;

/// Drops of one tenant in one hour.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "activity_drops")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub hour: DateTimeUtc,
    pub dropped: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
