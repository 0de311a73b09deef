//! A stored user or group as the requests read it: the five columns a [`Resource`] is made of,
//! read by position ([`scim_db::FromRow`]) instead of through sea-orm's model of the whole row
//! (whose per-row map of eleven named columns cost more than SQLite's own work on a
//! `GET /Users/{id}`).

use chrono::{DateTime, Utc};
use scim_model::{resource::StoredResource, Resource, ResourceKind};
use sea_orm::{DbErr, EntityTrait, QuerySelect, Select};

use crate::entity::{group, user};

/// The columns of a [`StoredRow`], in its order.
pub(crate) trait StoredColumns: EntityTrait {
    /// `id`, `attributes`, `version`, `created_at`, `last_modified`.
    const COLUMNS: [Self::Column; 5];
    /// `tenant_id`.
    const TENANT: Self::Column;
    /// `id`.
    const ID: Self::Column;
}

impl StoredColumns for user::Entity {
    const COLUMNS: [user::Column; 5] = [
        user::Column::Id,
        user::Column::Attributes,
        user::Column::Version,
        user::Column::CreatedAt,
        user::Column::LastModified,
    ];
    const TENANT: user::Column = user::Column::TenantId;
    const ID: user::Column = user::Column::Id;
}

impl StoredColumns for group::Entity {
    const COLUMNS: [group::Column; 5] = [
        group::Column::Id,
        group::Column::Attributes,
        group::Column::Version,
        group::Column::CreatedAt,
        group::Column::LastModified,
    ];
    const TENANT: group::Column = group::Column::TenantId;
    const ID: group::Column = group::Column::Id;
}

/// `select` narrowed to the columns of a [`StoredRow`] (extra expressions may follow them).
pub(crate) fn stored_columns<E: StoredColumns>(select: Select<E>) -> Select<E> {
    select.select_only().columns(E::COLUMNS)
}

/// One stored resource, without its kind (the statement's table says it); its attributes as
/// the stored JSON text.
#[derive(Debug)]
pub(crate) struct StoredRow {
    id: String,
    attributes: String,
    version: i64,
    created: DateTime<Utc>,
    last_modified: DateTime<Utc>,
}

impl StoredRow {
    /// The resource, of `kind`, without members or groups, its attributes still text.
    pub(crate) fn into_stored(self, kind: ResourceKind) -> StoredResource {
        StoredResource {
            kind,
            id: self.id,
            attributes_json: self.attributes,
            members: None,
            groups: None,
            version: self.version,
            created: self.created,
            last_modified: self.last_modified,
        }
    }

    /// The resource, of `kind`, without members or groups, its attributes parsed.
    pub(crate) fn into_resource(self, kind: ResourceKind) -> Result<Resource, DbErr> {
        parsed(self.into_stored(kind))
    }
}

/// `res` with its attributes parsed; stored text that does not parse is a database error.
pub(crate) fn parsed(res: StoredResource) -> Result<Resource, DbErr> {
    res.into_resource().map_err(|e| DbErr::Json(e.to_string()))
}

/// Reads columns 0–4 as [`StoredColumns::COLUMNS`] selects them.
pub(crate) fn read_stored(row: &dyn scim_db::Row) -> Result<StoredRow, DbErr> {
    Ok(StoredRow {
        id: row.text(0)?,
        attributes: row.json_text(1)?,
        version: row.int(2)?,
        created: row.time(3)?,
        last_modified: row.time(4)?,
    })
}

impl scim_db::FromRow for StoredRow {
    fn from_row(row: &dyn scim_db::Row) -> Result<Self, DbErr> {
        read_stored(row)
    }
}

/// A [`StoredRow`] followed by one integer column (a deep list page's `list_version`).
#[derive(Debug)]
pub(crate) struct StoredWithInt(pub(crate) StoredRow, pub(crate) i64);

impl scim_db::FromRow for StoredWithInt {
    fn from_row(row: &dyn scim_db::Row) -> Result<Self, DbErr> {
        Ok(Self(read_stored(row)?, row.int(5)?))
    }
}

/// A [`StoredRow`] followed by one text column (a user's groups as JSON text, see
/// `members::groups_json_column`).
#[derive(Debug)]
pub(crate) struct StoredWithText(pub(crate) StoredRow, pub(crate) String);

impl scim_db::FromRow for StoredWithText {
    fn from_row(row: &dyn scim_db::Row) -> Result<Self, DbErr> {
        Ok(Self(read_stored(row)?, row.text(5)?))
    }
}
