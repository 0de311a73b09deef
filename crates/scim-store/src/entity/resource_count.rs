//! `resource_counts`: a tenant's number of users and of groups, kept by triggers (migration
//! `m20261207_000160`); the store only reads it.

use sea_orm::entity::prelude::*;

/// One counter row: on PostgreSQL a tenant's count of a kind is the sum of its shards.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "resource_counts")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: String,
    /// `User` or `Group`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub kind: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub shard: i16,
    /// Rows of the tenant of this kind (this shard's share).
    pub total: i64,
    /// Inserts and deletes counted (this shard's share).
    pub changes: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
