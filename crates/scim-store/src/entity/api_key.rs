//! `api_keys`: tenant API keys; only the SHA-256 of a token is stored.

use sea_orm::entity::prelude::*;

/// An API key row.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "api_keys")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub tenant_id: String,
    pub name: String,
    pub label: Option<String>,
    pub scope: String,
    #[sea_orm(column_type = "JsonBinary")]
    pub permissions: Json,
    #[sea_orm(column_type = "JsonBinary")]
    pub options: Json,
    pub machine_id: Option<String>,
    pub token_hash: String,
    pub hash_alg: String,
    pub token_hint: String,
    pub enabled: bool,
    pub created_at: DateTimeUtc,
    pub expires_at: DateTimeUtc,
    pub revoked_at: Option<DateTimeUtc>,
    pub last_used_at: Option<DateTimeUtc>,
    pub last_used_addr: Option<String>,
    pub previous_token_hash: Option<String>,
    pub previous_valid_until: Option<DateTimeUtc>,
    pub updated_at: Option<DateTimeUtc>,
    /// The tightest expiry threshold (days) already queued for the current `expires_at`.
    pub expiry_notified: Option<i32>,
    pub client_id: Option<String>,
    #[sea_orm(column_type = "JsonBinary", nullable)]
    pub federation: Option<Json>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// The owning tenant (read with the key at authentication, for its SCIM settings).
    #[sea_orm(
        belongs_to = "super::tenant::Entity",
        from = "Column::TenantId",
        to = "super::tenant::Column::Id"
    )]
    Tenant,
}

impl Related<super::tenant::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Tenant.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}

impl From<Model> for crate::ApiKey {
    fn from(m: Model) -> Self {
        let permissions = m
            .permissions
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|p| p.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        Self {
            id: m.id,
            tenant_id: crate::TenantId::new(m.tenant_id),
            name: m.name,
            label: m.label,
            scope: m.scope,
            permissions,
            token_hash: m.token_hash,
            token_hint: m.token_hint,
            enabled: m.enabled,
            created_at: m.created_at,
            expires_at: m.expires_at,
            revoked_at: m.revoked_at,
            options: m.options,
            machine_id: m.machine_id,
            last_used_at: m.last_used_at,
            last_used_addr: m.last_used_addr,
            previous_token_hash: m.previous_token_hash,
            previous_valid_until: m.previous_valid_until,
            updated_at: m.updated_at.unwrap_or(m.created_at),
            client_id: m.client_id,
            federation: m.federation,
        }
    }
}
