//! `activity_actors`: per tenant and key (or OAuth client), its newest successful and newest
//! failed record, kept by the activity writer once per batch (migration 000170).

use sea_orm::entity::prelude::*;

/// An actor's row.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "activity_actors")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: String,
    /// `key` or `client`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub actor_kind: String,
    /// The key's name or the OAuth client's id.
    #[sea_orm(primary_key, auto_increment = false)]
    pub actor: String,
    /// The id of its newest record with a status below 400.
    pub last_success_id: Option<String>,
    /// The id of its newest record with a status of 400 or more.
    pub last_failure_id: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
