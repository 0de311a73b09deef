//! Tenants: creation and lookup.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, IntoActiveModel, ModelTrait, QueryFilter,
    QueryOrder, Set,
};
use serde_json::json;

use crate::{
    audit::{begin_write, record, Actor, Change},
    entity::tenant,
    oauth::DEFAULT_ACCESS_TOKEN_LIFETIME_SECS,
    Store, StoreError, StoreResult,
};

/// A tenant id: 1–64 of `[a-z0-9-]`, starting with a letter or digit.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TenantId(String);

impl TenantId {
    /// Wraps an id read from the database (already valid).
    pub(crate) fn new(id: String) -> Self {
        Self(id)
    }

    /// Validates a tenant id given by a person or a URL.
    pub fn parse(id: &str) -> Result<Self, String> {
        let ok = !id.is_empty()
            && id.len() <= 64
            && id
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !id.starts_with('-');
        if ok {
            Ok(Self(id.to_owned()))
        } else {
            Err(format!(
                "invalid tenant id '{id}': use 1-64 lowercase letters, digits or '-', not starting with '-'"
            ))
        }
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for TenantId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A tenant.
#[derive(Debug, Clone, PartialEq)]
pub struct Tenant {
    /// The tenant's id.
    pub id: TenantId,
    /// Display name.
    pub display_name: String,
    /// Where expiry warnings go.
    pub admin_email: Option<String>,
    /// Language of e-mails (`en`, `fr`).
    pub locale: String,
    /// When the tenant was created.
    pub created_at: DateTime<Utc>,
}

impl Store {
    /// Creates a tenant; an id in use is [`StoreError::Conflict`].
    pub async fn create_tenant(
        &self,
        id: &TenantId,
        admin_email: Option<&str>,
        now: DateTime<Utc>,
    ) -> StoreResult<Tenant> {
        let model = tenant::ActiveModel {
            id: Set(id.as_str().to_owned()),
            display_name: Set(id.as_str().to_owned()),
            admin_email: Set(admin_email.map(str::to_owned)),
            locale: Set("en".into()),
            scim_custom_attributes: Set(false),
            custom_schema: Set(None),
            custom_schema_tag: Set(None),
            access_token_lifetime_secs: Set(DEFAULT_ACCESS_TOKEN_LIFETIME_SECS),
            events_retention_days: Set(crate::events::DEFAULT_RETENTION_DAYS),
            events_purged_through: Set(0),
            events_full_data: Set(false),
            activity_retention_days: Set(crate::activity::DEFAULT_RETENTION_DAYS),
            activity_keep_failed_bodies: Set(false),
            created_at: Set(now),
        }
        .insert(&self.db)
        .await
        .map_err(|e| StoreError::from_write(e, &[("tenants", "tenant id")]))?;
        Ok(model.into())
    }

    /// The tenant with this id.
    pub async fn get_tenant(&self, id: &TenantId) -> StoreResult<Tenant> {
        tenant::Entity::find_by_id(id.as_str())
            .one(&self.db)
            .await?
            .map(Into::into)
            .ok_or(StoreError::NotFound)
    }

    /// Every tenant, by id.
    pub async fn list_tenants(&self) -> StoreResult<Vec<Tenant>> {
        Ok(tenant::Entity::find()
            .order_by_asc(tenant::Column::Id)
            .all(&self.db)
            .await?
            .into_iter()
            .map(Into::into)
            .collect())
    }

    /// Changes the address that receives expiry warnings.
    #[tracing::instrument(skip_all, fields(tenant = %id))]
    pub async fn update_tenant_admin_email(
        &self,
        id: &TenantId,
        admin_email: Option<&str>,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> StoreResult<Tenant> {
        let txn = begin_write(&self.db).await?;
        let row = tenant::Entity::find_by_id(id.as_str())
            .one(&txn)
            .await?
            .ok_or(StoreError::NotFound)?;
        if row.admin_email.as_deref() == admin_email {
            return Ok(row.into());
        }
        let from = row.admin_email.clone();
        let mut active = row.into_active_model();
        active.admin_email = Set(admin_email.map(str::to_owned));
        let model = active.update(&txn).await?;
        record(
            &txn,
            id,
            actor,
            Change {
                action: "tenant.update",
                target_type: "tenant",
                target_id: id.as_str(),
                changes: json!({"adminEmail": {"from": from, "to": admin_email}}),
            },
            now,
        )
        .await?;
        txn.commit().await?;
        Ok(model.into())
    }

    /// Changes the address that receives expiry warnings and the language of e-mails (and of
    /// the console's default), in one audited change; nothing is written when neither changes.
    #[tracing::instrument(skip_all, fields(tenant = %id))]
    pub async fn update_tenant_contact(
        &self,
        id: &TenantId,
        admin_email: Option<&str>,
        locale: &str,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> StoreResult<Tenant> {
        let txn = begin_write(&self.db).await?;
        let row = tenant::Entity::find_by_id(id.as_str())
            .one(&txn)
            .await?
            .ok_or(StoreError::NotFound)?;
        let mut changes = serde_json::Map::new();
        if row.admin_email.as_deref() != admin_email {
            changes.insert(
                "adminEmail".into(),
                json!({"from": row.admin_email, "to": admin_email}),
            );
        }
        if row.locale != locale {
            changes.insert("locale".into(), json!({"from": row.locale, "to": locale}));
        }
        if changes.is_empty() {
            return Ok(row.into());
        }
        let mut active = row.into_active_model();
        active.admin_email = Set(admin_email.map(str::to_owned));
        active.locale = Set(locale.to_owned());
        let model = active.update(&txn).await?;
        record(
            &txn,
            id,
            actor,
            Change {
                action: "tenant.update",
                target_type: "tenant",
                target_id: id.as_str(),
                changes: serde_json::Value::Object(changes),
            },
            now,
        )
        .await?;
        txn.commit().await?;
        Ok(model.into())
    }

    /// Deletes a tenant with everything it holds (keys, machines, users, groups, audit).
    #[tracing::instrument(skip_all, fields(tenant = %id))]
    pub async fn delete_tenant(&self, id: &TenantId) -> StoreResult<()> {
        let txn = crate::audit::begin_write(&self.db).await?;
        let row = tenant::Entity::find_by_id(id.as_str())
            .one(&txn)
            .await?
            .ok_or(StoreError::NotFound)?;
        // SQLite's events have no foreign key to cascade from (migration 000130).
        crate::entity::event::Entity::delete_many()
            .filter(crate::entity::event::Column::TenantId.eq(id.as_str()))
            .exec(&txn)
            .await?;
        crate::activity::delete_tenant_activity(&txn, id).await?;
        row.delete(&txn).await?;
        txn.commit().await?;
        Ok(())
    }

    /// Number of tenants (zero on a fresh database).
    pub async fn count_tenants(&self) -> StoreResult<u64> {
        Ok(crate::count::count(tenant::Entity::find(), &self.db).await?)
    }
}

/// One setting kept on the tenant row: where it is read and written, and how the audit names
/// it (`settings.update` on target `target`, changes `{name: {from, to}}`).
pub(crate) struct TenantSetting<T> {
    /// The audit target id (`oauth`, `events`).
    pub target: &'static str,
    /// The field's name in the audit and the admin API.
    pub name: &'static str,
    /// Reads it from a row.
    pub get: fn(&tenant::Model) -> T,
    /// Writes it into a row.
    pub set: fn(&mut tenant::ActiveModel, T),
}

impl Store {
    /// Sets `setting` of `tenant` to `value`; audited, in the same transaction, when it
    /// changes.
    pub(crate) async fn put_tenant_setting<T>(
        &self,
        tenant: &TenantId,
        setting: TenantSetting<T>,
        value: T,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> StoreResult<()>
    where
        T: PartialEq + Copy + serde::Serialize,
    {
        let txn = begin_write(&self.db).await?;
        let row = tenant::Entity::find_by_id(tenant.as_str())
            .one(&txn)
            .await?
            .ok_or(StoreError::NotFound)?;
        let from = (setting.get)(&row);
        if from != value {
            let mut active = row.into_active_model();
            (setting.set)(&mut active, value);
            active.update(&txn).await?;
            record(
                &txn,
                tenant,
                actor,
                Change {
                    action: "settings.update",
                    target_type: "settings",
                    target_id: setting.target,
                    changes: json!({setting.name: {"from": from, "to": value}}),
                },
                now,
            )
            .await?;
        }
        txn.commit().await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenant_ids_are_validated() {
        assert!(TenantId::parse("default").is_ok());
        assert!(TenantId::parse("acme-42").is_ok());
        for bad in ["", "-x", "Acme", "a b", "a/b", &"x".repeat(65)] {
            assert!(TenantId::parse(bad).is_err(), "{bad}");
        }
    }
}
