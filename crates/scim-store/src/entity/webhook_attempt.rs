//! `webhook_attempts`: every delivery attempt of an event to an endpoint.

use sea_orm::entity::prelude::*;

/// A delivery attempt row.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "webhook_attempts")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub endpoint_id: String,
    pub tenant_id: String,
    pub event_id: String,
    pub sequence: i64,
    pub attempted_at: DateTimeUtc,
    /// The HTTP status answered, if an answer came.
    pub status_code: Option<i32>,
    pub latency_ms: i64,
    /// Why the attempt failed (never a secret).
    pub error: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
