//! `activity_bodies`: the body of a failed request, kept (without passwords) while the tenant
//! asks for it, for 7 days at most (migration 000140).

use sea_orm::entity::prelude::*;

/// A kept body.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "activity_bodies")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub record_id: String,
    pub tenant_id: String,
    pub time: DateTimeUtc,
    pub body: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
