//! `event_stream_acks`: SETs a polling receiver acknowledged above its stream's position, kept
//! until every event below them is acknowledged too (see migration 000120).

use sea_orm::entity::prelude::*;

/// An acknowledgement row.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "event_stream_acks")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub stream_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub sequence: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
