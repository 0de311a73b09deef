//! Groups: create, read, replace, patch and delete, scoped to a tenant. Members live in
//! `group_members` and are written in the same transaction as the group row; `member_count`
//! follows every change.

use chrono::{DateTime, Utc};
use scim_model::{resource::StoredResource, MemberRef, Resource, ResourceKind, ValidatedResource};
use std::collections::HashSet;

use sea_orm::{
    sea_query::{Expr, Query},
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter,
    QuerySelect, Set, UpdateMany,
};

use scim_db::{Prepared, ReadRows};

use crate::events::{capture_written, Capture, Written};
use crate::settings::{write_ignored_notes, IgnoredNote};
use crate::stored::{stored_columns, StoredRow};
use crate::{audit::begin_write, entity::group, members, Store, StoreError, StoreResult, TenantId};

/// Unique indexes of `groups` and the attribute each protects.
pub(crate) const UNIQUE: &[(&str, &str)] = &[("display_name", "displayName")];

fn display_name(input: &ValidatedResource) -> StoreResult<&str> {
    input
        .str_attr("displayName")
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| StoreError::InvalidValue("displayName must not be empty".into()))
}

/// `SELECT <stored columns> FROM groups WHERE tenant_id = ? AND id = ?` (read as a
/// [`StoredRow`]), rendered once.
pub(crate) fn find_group_statement(
    backend: DbBackend,
    tenant: &TenantId,
    id: &str,
) -> sea_orm::Statement {
    use sea_orm::QueryTrait;
    static SQL: Prepared = Prepared::new();
    SQL.statement(backend, vec![tenant.as_str().into(), id.into()], || {
        stored_columns(group::Entity::find())
            .filter(group::Column::TenantId.eq(tenant.as_str()))
            .filter(group::Column::Id.eq(id))
            .build(backend)
    })
}

/// `UPDATE groups SET <attributes>, version + 1` for `input`.
pub(crate) fn update_attributes(
    input: &ValidatedResource,
    now: DateTime<Utc>,
) -> StoreResult<UpdateMany<group::Entity>> {
    let name = display_name(input)?;
    Ok(group::Entity::update_many()
        .col_expr(group::Column::DisplayName, Expr::value(name))
        .col_expr(
            group::Column::DisplayNameLower,
            Expr::value(name.to_lowercase()),
        )
        .col_expr(
            group::Column::ExternalId,
            Expr::value(input.str_attr("externalId").map(str::to_owned)),
        )
        .col_expr(
            group::Column::Attributes,
            Expr::value(serde_json::Value::Object(input.attributes.clone())),
        )
        .col_expr(
            group::Column::Version,
            Expr::col(group::Column::Version).add(1),
        )
        .col_expr(group::Column::LastModified, Expr::value(now)))
}

/// The group `model` with the members `resolved` (as `members_of` lists them: by id, once
/// each).
fn with_members(model: group::Model, resolved: &[(String, ResourceKind)]) -> Resource {
    let mut list: Vec<MemberRef> = resolved
        .iter()
        .map(|(value, kind)| MemberRef {
            value: value.clone(),
            kind: *kind,
            display: None,
        })
        .collect();
    list.sort_by(|a, b| a.value.cmp(&b.value));
    list.dedup_by(|a, b| a.value == b.value);
    let mut res: Resource = model.into();
    res.members = Some(list);
    res
}

impl Store {
    /// Creates a group with its members; unknown members are refused, nothing is written.
    #[tracing::instrument(skip_all, fields(tenant = %tenant, members = input.members.len()))]
    pub async fn create_group(
        &self,
        tenant: &TenantId,
        input: &ValidatedResource,
        notes: &[IgnoredNote],
        capture: Option<Capture<'_>>,
        now: DateTime<Utc>,
    ) -> StoreResult<Resource> {
        let name = display_name(input)?;
        let id = uuid::Uuid::now_v7().to_string();
        let txn = begin_write(&self.db).await?;
        let resolved = members::resolve(&txn, tenant, &id, &input.members).await?;
        let model = group::ActiveModel {
            id: Set(id.clone()),
            tenant_id: Set(tenant.as_str().to_owned()),
            display_name: Set(name.to_owned()),
            display_name_lower: Set(name.to_lowercase()),
            external_id: Set(input.str_attr("externalId").map(str::to_owned)),
            attributes: Set(serde_json::Value::Object(input.attributes.clone())),
            version: Set(1),
            member_count: Set(i64::try_from(resolved.len()).unwrap_or(i64::MAX)),
            created_at: Set(now),
            last_modified: Set(now),
        }
        .insert(&txn)
        .await
        .map_err(|e| StoreError::from_write(e, UNIQUE))?;
        let added = members::insert(&txn, tenant, &id, &resolved).await?;
        write_ignored_notes(&txn, tenant, notes, now).await?;
        let written = Written {
            kind: ResourceKind::Group,
            id: &id,
            before: None,
            after: Some(&input.attributes),
            external_id: model.external_id.as_deref(),
            version: 1,
            added: &added,
            removed: &[],
            left: &[],
        };
        capture_written(&txn, tenant, capture, written, now).await?;
        txn.commit().await?;
        // The answer is what was written: no read after the commit.
        Ok(with_members(model, &resolved))
    }

    async fn find_group(&self, tenant: &TenantId, id: &str) -> StoreResult<StoredResource> {
        let stmt = find_group_statement(self.db.get_database_backend(), tenant, id);
        let row: Option<StoredRow> = self.db.read_one(stmt).await?;
        Ok(row
            .ok_or(StoreError::NotFound)?
            .into_stored(ResourceKind::Group))
    }

    /// The group `id` of `tenant`, with its members when `with_members`.
    pub async fn get_group(
        &self,
        tenant: &TenantId,
        id: &str,
        with_members: bool,
    ) -> StoreResult<Resource> {
        self.get_group_stored(tenant, id, with_members)
            .await
            .and_then(|res| Ok(crate::stored::parsed(res)?))
    }

    /// [`Store::get_group`] with the attributes left as their stored JSON text.
    #[tracing::instrument(skip_all, fields(tenant = %tenant))]
    pub async fn get_group_stored(
        &self,
        tenant: &TenantId,
        id: &str,
        with_members: bool,
    ) -> StoreResult<StoredResource> {
        let mut res = self.find_group(tenant, id).await?;
        if with_members {
            let mut all =
                members::members_of(&self.db.scan(), tenant, std::slice::from_ref(&res.id)).await?;
            res.members = Some(all.remove(&res.id).unwrap_or_default());
        }
        Ok(res)
    }

    /// Replaces the group's attributes and its whole member list (PUT), atomically. With
    /// `expected`, the write happens only if the group is still at that version. Only the
    /// members that differ are written: a PUT that keeps 1,000 members and adds one writes one.
    #[tracing::instrument(skip_all, fields(tenant = %tenant, members = input.members.len()))]
    #[allow(clippy::too_many_arguments)] // tenant first, `now` last (STYLE 4); a struct would only rename them
    pub async fn replace_group(
        &self,
        tenant: &TenantId,
        id: &str,
        expected: Option<i64>,
        input: &ValidatedResource,
        notes: &[IgnoredNote],
        capture: Option<Capture<'_>>,
        now: DateTime<Utc>,
    ) -> StoreResult<Resource> {
        let txn = begin_write(&self.db).await?;
        // The row lock first (PostgreSQL), so that the members read next are the ones replaced.
        let mut current = group::Entity::find()
            .filter(group::Column::TenantId.eq(tenant.as_str()))
            .filter(group::Column::Id.eq(id));
        if txn.get_database_backend() == DbBackend::Postgres {
            current = current.lock_exclusive();
        }
        let current = current.one(&txn).await?.ok_or(StoreError::NotFound)?;
        if expected.is_some_and(|v| v != current.version) {
            return Err(StoreError::PreconditionFailed);
        }
        let resolved = members::resolve(&txn, tenant, id, &input.members).await?;
        let wanted: HashSet<&str> = resolved.iter().map(|(m, _)| m.as_str()).collect();
        let held = members::member_ids_of(&txn, tenant, id).await?;
        let held_set: HashSet<&str> = held.iter().map(String::as_str).collect();
        let gone: Vec<String> = held
            .iter()
            .filter(|m| !wanted.contains(m.as_str()))
            .cloned()
            .collect();
        let new: Vec<(String, ResourceKind)> = resolved
            .iter()
            .filter(|(m, _)| !held_set.contains(m.as_str()))
            .cloned()
            .collect();
        let removed = members::remove(&txn, tenant, id, &gone).await?;
        let added = members::insert(&txn, tenant, id, &new).await?;
        update_attributes(input, now)?
            .col_expr(
                group::Column::MemberCount,
                Expr::value(i64::try_from(wanted.len()).unwrap_or(i64::MAX)),
            )
            .filter(group::Column::TenantId.eq(tenant.as_str()))
            .filter(group::Column::Id.eq(id))
            .exec(&txn)
            .await
            .map_err(|e| StoreError::from_write(e, UNIQUE))?;
        write_ignored_notes(&txn, tenant, notes, now).await?;
        let before = scim_model::Resource::from(current.clone()).attributes;
        let written = Written {
            kind: ResourceKind::Group,
            id,
            before: Some(&before),
            after: Some(&input.attributes),
            external_id: input.str_attr("externalId"),
            version: current.version + 1,
            added: &added,
            removed: &removed,
            left: &[],
        };
        capture_written(&txn, tenant, capture, written, now).await?;
        // The row as updated (version, timestamps), read in the transaction; the members are
        // the ones just written.
        let model = group::Entity::find_by_id(id)
            .filter(group::Column::TenantId.eq(tenant.as_str()))
            .one(&txn)
            .await?
            .ok_or(StoreError::NotFound)?;
        txn.commit().await?;
        Ok(with_members(model, &resolved))
    }

    /// Deletes the group, its members and its own memberships in other groups.
    #[tracing::instrument(skip_all, fields(tenant = %tenant))]
    pub async fn delete_group(
        &self,
        tenant: &TenantId,
        id: &str,
        expected: Option<i64>,
        capture: Option<Capture<'_>>,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        let txn = begin_write(&self.db).await?;
        let mut delete = Query::delete()
            .from_table(group::Entity)
            .and_where(group::Column::TenantId.eq(tenant.as_str()))
            .and_where(group::Column::Id.eq(id))
            .returning(
                Query::returning().columns([group::Column::ExternalId, group::Column::Version]),
            )
            .to_owned();
        if let Some(v) = expected {
            delete.and_where(group::Column::Version.eq(v));
        }
        let left = members::remove_member_everywhere(&txn, tenant, id, now).await?;
        members::drop_all(&txn, tenant, id).await?;
        let backend = txn.get_database_backend();
        let Some(row) = txn.query_one(backend.build(&delete)).await? else {
            drop(txn);
            return Err(self.missing_or_changed_group(tenant, id).await);
        };
        let external_id: Option<String> = row.try_get("", "external_id")?;
        let version: i64 = row.try_get("", "version")?;
        let written = Written::deleted(
            ResourceKind::Group,
            id,
            external_id.as_deref(),
            version,
            &left,
        );
        capture_written(&txn, tenant, capture, written, now).await?;
        txn.commit().await?;
        Ok(())
    }

    async fn missing_or_changed_group(&self, tenant: &TenantId, id: &str) -> StoreError {
        match self.find_group(tenant, id).await {
            Ok(_) => StoreError::PreconditionFailed,
            Err(e) => e,
        }
    }
}
