//! `tenants`: the unit of isolation.

use sea_orm::entity::prelude::*;

/// A tenant row.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "tenants")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub display_name: String,
    pub admin_email: Option<String>,
    pub locale: String,
    pub scim_custom_attributes: bool,
    #[sea_orm(column_type = "JsonBinary", nullable)]
    pub custom_schema: Option<Json>,
    /// Changes whenever `custom_schema` does (see migration 000040).
    pub custom_schema_tag: Option<String>,
    pub access_token_lifetime_secs: i32,
    /// Days events are kept (issue 20).
    pub events_retention_days: i32,
    /// The highest event sequence purged: a cursor below it has lost events.
    pub events_purged_through: i64,
    pub created_at: DateTimeUtc,
    /// Whether events keep the resource after the change (the tenant has a full event stream).
    pub events_full_data: bool,
    /// Days activity records are kept (issue 21).
    pub activity_retention_days: i32,
    /// Whether the bodies of failed requests are kept (7 days at most).
    pub activity_keep_failed_bodies: bool,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl From<Model> for crate::Tenant {
    fn from(m: Model) -> Self {
        Self {
            id: crate::TenantId::new(m.id),
            display_name: m.display_name,
            admin_email: m.admin_email,
            locale: m.locale,
            created_at: m.created_at,
        }
    }
}
