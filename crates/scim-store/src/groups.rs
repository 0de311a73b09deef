//! Groups: create, read, replace, patch and delete, scoped to a tenant. Members live in
//! `group_members` and are written in the same transaction as the group row; `member_count`
//! follows every change.

use chrono::{DateTime, Utc};
use scim_model::{MemberRef, Resource, ResourceKind, ValidatedResource};
use sea_orm::{
    sea_query::Expr, ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set, UpdateMany,
};

use crate::settings::{write_ignored_notes, IgnoredNote};
use crate::{audit::begin_write, entity::group, members, Store, StoreError, StoreResult, TenantId};

/// Unique indexes of `groups` and the attribute each protects.
pub(crate) const UNIQUE: &[(&str, &str)] = &[("display_name", "displayName")];

fn display_name(input: &ValidatedResource) -> StoreResult<&str> {
    input
        .str_attr("displayName")
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| StoreError::InvalidValue("displayName must not be empty".into()))
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
        members::insert(&txn, tenant, &id, &resolved).await?;
        write_ignored_notes(&txn, tenant, notes, now).await?;
        txn.commit().await?;
        // The answer is what was written: no read after the commit.
        Ok(with_members(model, &resolved))
    }

    async fn find_group(&self, tenant: &TenantId, id: &str) -> StoreResult<group::Model> {
        group::Entity::find()
            .filter(group::Column::TenantId.eq(tenant.as_str()))
            .filter(group::Column::Id.eq(id))
            .one(&self.db)
            .await?
            .ok_or(StoreError::NotFound)
    }

    /// The group `id` of `tenant`, with its members when `with_members`.
    #[tracing::instrument(skip_all, fields(tenant = %tenant))]
    pub async fn get_group(
        &self,
        tenant: &TenantId,
        id: &str,
        with_members: bool,
    ) -> StoreResult<Resource> {
        let mut res: Resource = self.find_group(tenant, id).await?.into();
        if with_members {
            let mut all =
                members::members_of(&self.db.scan(), tenant, std::slice::from_ref(&res.id)).await?;
            res.members = Some(all.remove(&res.id).unwrap_or_default());
        }
        Ok(res)
    }

    /// Replaces the group's attributes and its whole member list (PUT), atomically. With
    /// `expected`, the write happens only if the group is still at that version.
    #[tracing::instrument(skip_all, fields(tenant = %tenant, members = input.members.len()))]
    pub async fn replace_group(
        &self,
        tenant: &TenantId,
        id: &str,
        expected: Option<i64>,
        input: &ValidatedResource,
        notes: &[IgnoredNote],
        now: DateTime<Utc>,
    ) -> StoreResult<Resource> {
        let txn = begin_write(&self.db).await?;
        let resolved = members::resolve(&txn, tenant, id, &input.members).await?;
        let mut update = update_attributes(input, now)?
            .col_expr(
                group::Column::MemberCount,
                Expr::value(i64::try_from(resolved.len()).unwrap_or(i64::MAX)),
            )
            .filter(group::Column::TenantId.eq(tenant.as_str()))
            .filter(group::Column::Id.eq(id));
        if let Some(v) = expected {
            update = update.filter(group::Column::Version.eq(v));
        }
        let updated = update
            .exec(&txn)
            .await
            .map_err(|e| StoreError::from_write(e, UNIQUE))?;
        if updated.rows_affected == 0 {
            drop(txn);
            return Err(self.missing_or_changed_group(tenant, id).await);
        }
        members::clear(&txn, tenant, id).await?;
        members::insert(&txn, tenant, id, &resolved).await?;
        write_ignored_notes(&txn, tenant, notes, now).await?;
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
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        let txn = begin_write(&self.db).await?;
        let mut delete = group::Entity::delete_many()
            .filter(group::Column::TenantId.eq(tenant.as_str()))
            .filter(group::Column::Id.eq(id));
        if let Some(v) = expected {
            delete = delete.filter(group::Column::Version.eq(v));
        }
        members::remove_member_everywhere(&txn, tenant, id, now).await?;
        members::clear(&txn, tenant, id).await?;
        if delete.exec(&txn).await?.rows_affected == 0 {
            drop(txn);
            return Err(self.missing_or_changed_group(tenant, id).await);
        }
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
