//! `console_sessions`: signed-in sessions of the admin web console. The primary key is the
//! SHA-256 of the session id held in the browser's cookie; the id itself is never stored.

use sea_orm::entity::prelude::*;

/// A console session row.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "console_sessions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id_hash: String,
    pub tenant_id: String,
    pub key_id: Option<String>,
    pub csrf_token: String,
    pub created_at: DateTimeUtc,
    pub last_seen_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl From<Model> for crate::ConsoleSession {
    fn from(m: Model) -> Self {
        Self {
            tenant_id: crate::TenantId::new(m.tenant_id),
            key_id: m.key_id,
            csrf_token: m.csrf_token,
            created_at: m.created_at,
            last_seen_at: m.last_seen_at,
        }
    }
}
