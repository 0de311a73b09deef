//! `activity_counts`: requests per tenant, minute, actor, status and `scimType`, added to once
//! per batch by the activity writer (migration 000190).

use sea_orm::entity::prelude::*;

/// A count row.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "activity_counts")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: String,
    /// Minutes since the epoch.
    #[sea_orm(primary_key, auto_increment = false)]
    pub minute: i64,
    /// `key` or `client`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub actor_kind: String,
    /// The key's name or the OAuth client's id.
    #[sea_orm(primary_key, auto_increment = false)]
    pub actor: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub status: i32,
    /// The `scimType`, empty for none.
    #[sea_orm(primary_key, auto_increment = false)]
    pub scim_type: String,
    /// Requests.
    pub requests: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
