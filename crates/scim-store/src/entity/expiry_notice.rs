//! `expiry_notices`: the expiry outbox, one row per key, expiry date and threshold.

use sea_orm::entity::prelude::*;

/// An outbox row.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "expiry_notices")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub tenant_id: String,
    pub api_key_id: String,
    pub key_name: String,
    pub key_label: Option<String>,
    pub key_scope: String,
    pub machine_name: Option<String>,
    pub key_expires_at: DateTimeUtc,
    pub threshold_days: i32,
    pub recipient: Option<String>,
    pub locale: String,
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: DateTimeUtc,
    pub claim_id: Option<String>,
    pub claimed_until: Option<DateTimeUtc>,
    pub last_error: Option<String>,
    pub created_at: DateTimeUtc,
    pub sent_at: Option<DateTimeUtc>,
    /// `key_expiry` or `destination_failing` (see migration 000120).
    pub kind: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl From<Model> for crate::ExpiryNotice {
    fn from(m: Model) -> Self {
        Self {
            id: m.id,
            tenant_id: crate::TenantId::new(m.tenant_id),
            api_key_id: m.api_key_id,
            key_name: m.key_name,
            key_label: m.key_label,
            key_scope: m.key_scope,
            machine_name: m.machine_name,
            key_expires_at: m.key_expires_at,
            threshold_days: m.threshold_days,
            recipient: m.recipient,
            locale: m.locale,
            status: crate::NoticeStatus::parse(&m.status),
            attempts: m.attempts,
            next_attempt_at: m.next_attempt_at,
            last_error: m.last_error,
            created_at: m.created_at,
            sent_at: m.sent_at,
            kind: crate::NoticeKind::parse(&m.kind),
        }
    }
}
