//! `groups`: the validated resource as JSON (without members) plus indexed shadow columns.

use scim_model::{Resource, ResourceKind};
use sea_orm::entity::prelude::*;

/// A group row.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "groups")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub tenant_id: String,
    pub display_name: String,
    pub display_name_lower: String,
    pub external_id: Option<String>,
    #[sea_orm(column_type = "JsonBinary")]
    pub attributes: Json,
    pub version: i64,
    pub member_count: i64,
    pub created_at: DateTimeUtc,
    pub last_modified: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl From<Model> for Resource {
    fn from(m: Model) -> Self {
        Resource {
            kind: ResourceKind::Group,
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
