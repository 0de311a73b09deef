//! `events`: the provisioning events outbox, written in the transaction of each SCIM change
//! (see migration 000100 for how `sequence` and `capture` order it).

use sea_orm::entity::prelude::*;

/// An event row.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "events")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub tenant_id: String,
    /// The tenant's order; `None` on PostgreSQL until the sequencer has seen the row committed.
    pub sequence: Option<i64>,
    /// PostgreSQL: the order of capture (a database sequence); `None` on SQLite.
    pub capture: Option<i64>,
    pub time: DateTimeUtc,
    pub event_type: String,
    pub resource_type: String,
    pub resource_id: String,
    pub external_id: Option<String>,
    pub version: i64,
    /// The changed attribute paths (a JSON array of strings).
    #[sea_orm(column_type = "JsonBinary")]
    pub attributes: Json,
    /// Members added or removed (`group.members_*`), groups left (`user.deleted`).
    #[sea_orm(column_type = "JsonBinary", nullable)]
    pub related: Option<Json>,
    /// `{"type": "key"|"client"|"operator"|"console", "name": …}`.
    #[sea_orm(column_type = "JsonBinary")]
    pub actor: Json,
    pub request_id: Option<String>,
    /// The resource after the change, kept only while the tenant has a full event stream.
    #[sea_orm(column_type = "JsonBinary", nullable)]
    pub data: Option<Json>,
    /// Whether the change was a replace (PUT) rather than a PATCH.
    pub replaced: bool,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
