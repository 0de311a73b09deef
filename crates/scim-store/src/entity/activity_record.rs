//! `activity_records`: one SCIM (or token) request of a tenant, as the admin sees it
//! (migration 000140).

use sea_orm::entity::prelude::*;

/// An activity record row.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "activity_records")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: String,
    /// UUIDv7 of the time the request ended: the tenant's order.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub time: DateTimeUtc,
    pub request_id: Option<String>,
    /// `key` or `client`.
    pub actor_kind: String,
    /// The key's name or the OAuth client's id.
    pub actor: String,
    /// `entra`, `okta` or `other`.
    pub identity_provider: String,
    pub method: String,
    pub path: String,
    pub resource_type: Option<String>,
    pub resource_id: Option<String>,
    pub filter: Option<String>,
    pub status: i32,
    pub scim_type: Option<String>,
    pub detail: Option<String>,
    pub latency_ms: i64,
    pub summary: String,
    /// The changed attribute paths (a JSON array of strings).
    #[sea_orm(column_type = "JsonBinary")]
    pub attributes: Json,
    /// Whether `activity_bodies` holds the request's body.
    pub has_body: bool,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
