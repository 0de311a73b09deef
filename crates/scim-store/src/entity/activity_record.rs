//! `activity_records`: one SCIM (or token) request of a tenant, as the admin sees it
//! (migrations 000140 and 000170). Columns only for what a read filters or groups by; what
//! is only shown is one JSON text, `details`.

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
    /// `key` or `client`.
    pub actor_kind: String,
    /// The key's name or the OAuth client's id.
    pub actor: String,
    pub method: String,
    pub resource_id: Option<String>,
    pub status: i32,
    pub scim_type: Option<String>,
    /// Whether `activity_bodies` holds the request's body.
    pub has_body: bool,
    /// The fields only shown: time, request id, identity provider, path, resource type,
    /// filter, detail, latency, summary, attributes (a JSON object, as text).
    #[sea_orm(column_type = "Text")]
    pub details: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
