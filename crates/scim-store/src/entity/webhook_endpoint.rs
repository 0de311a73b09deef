//! `webhook_endpoints`: where a tenant's events are delivered, and how far each has got (see
//! migration 000110): webhook endpoints (`kind = "webhook"`) and RFC 9967 event streams
//! (`kind = "set"`, migration 000120).

use sea_orm::entity::prelude::*;

/// A webhook endpoint row.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "webhook_endpoints")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub tenant_id: String,
    pub url: String,
    /// Event types (JSON array of strings; `["*"]` for all).
    #[sea_orm(column_type = "JsonBinary")]
    pub event_types: Json,
    pub enabled: bool,
    /// The signing secret (`whsec_…`); never in a response after creation.
    pub secret: String,
    /// The last event sequence sent (or skipped as not wanted).
    pub position: i64,
    /// Failed attempts at the event after `position`.
    pub attempts: i32,
    pub next_attempt_at: DateTimeUtc,
    pub failing_since: Option<DateTimeUtc>,
    pub failure_notified_at: Option<DateTimeUtc>,
    pub last_success_at: Option<DateTimeUtc>,
    pub last_error: Option<String>,
    pub claimed_by: Option<String>,
    pub claimed_until: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    /// `webhook` or `set` (an RFC 9967 event stream).
    pub kind: String,
    /// Streams: `push` or `poll`.
    pub delivery: Option<String>,
    /// Streams: the SETs' `aud`.
    pub audience: Option<String>,
    /// Streams: `notice` or `full`.
    pub format: Option<String>,
    /// Polled streams: SHA-256 (hex) of the receiver's secret.
    pub poll_secret_hash: Option<String>,
    /// Streams: what the admin calls it.
    pub description: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
