//! `users`: the validated resource as JSON plus indexed shadow columns.

use scim_model::{Resource, ResourceKind};
use sea_orm::entity::prelude::*;

/// A user row.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "users")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub tenant_id: String,
    pub user_name: String,
    pub user_name_lower: String,
    pub external_id: Option<String>,
    pub display_name: Option<String>,
    pub active: bool,
    #[sea_orm(column_type = "JsonBinary")]
    pub attributes: Json,
    pub version: i64,
    pub created_at: DateTimeUtc,
    pub last_modified: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl From<Model> for Resource {
    fn from(m: Model) -> Self {
        Resource {
            kind: ResourceKind::User,
            id: m.id,
            attributes: match m.attributes {
                Json::Object(map) => map,
                _ => Default::default(),
            },
            members: None,
            groups: None,
            version: m.version,
            created: m.created_at,
            last_modified: m.last_modified,
        }
    }
}
