//! Machines (service accounts): create, read, rename, delete. Deleting a machine deletes its
//! keys in the same transaction, so they stop working at once.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, IntoActiveModel, ModelTrait, QueryFilter,
    QueryOrder, Set,
};
use serde_json::{json, Map, Value};

use crate::{
    audit::{begin_write, record, Actor, Change},
    entity::{api_key, machine},
    Store, StoreError, StoreResult, TenantId,
};

/// A machine of a tenant.
#[derive(Debug, Clone, PartialEq)]
pub struct Machine {
    /// Machine id (UUIDv7).
    pub id: String,
    /// Owning tenant.
    pub tenant_id: TenantId,
    /// Display name, unique within the tenant.
    pub name: String,
    /// Free text.
    pub description: Option<String>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Time of the last change.
    pub updated_at: DateTime<Utc>,
}

/// A partial update of a machine: absent fields stay as they are.
#[derive(Debug, Clone, Default)]
pub struct MachinePatch {
    /// New name.
    pub name: Option<String>,
    /// New description (`Some(None)` clears it).
    pub description: Option<Option<String>>,
}

const UNIQUE: &[(&str, &str)] = &[("name", "machine name")];

impl Store {
    /// Creates a machine; a name in use is a conflict.
    #[tracing::instrument(skip_all, fields(tenant = %tenant))]
    pub async fn create_machine(
        &self,
        tenant: &TenantId,
        name: &str,
        description: Option<&str>,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> StoreResult<Machine> {
        let txn = begin_write(&self.db).await?;
        let model = machine::ActiveModel {
            id: Set(uuid::Uuid::now_v7().to_string()),
            tenant_id: Set(tenant.as_str().to_owned()),
            name: Set(name.to_owned()),
            description: Set(description.map(str::to_owned)),
            created_at: Set(now),
            updated_at: Set(now),
        }
        .insert(&txn)
        .await
        .map_err(|e| StoreError::from_write(e, UNIQUE))?;
        record(
            &txn,
            tenant,
            actor,
            Change {
                action: "machine.create",
                target_type: "machine",
                target_id: &model.id,
                changes: json!({"name": name, "description": description}),
            },
            now,
        )
        .await?;
        txn.commit().await?;
        Ok(model.into())
    }

    /// The machines of `tenant`, oldest first.
    pub async fn list_machines(&self, tenant: &TenantId) -> StoreResult<Vec<Machine>> {
        Ok(machine::Entity::find()
            .filter(machine::Column::TenantId.eq(tenant.as_str()))
            .order_by_asc(machine::Column::Id)
            .all(&self.db)
            .await?
            .into_iter()
            .map(Into::into)
            .collect())
    }

    /// One machine of `tenant`.
    pub async fn get_machine(&self, tenant: &TenantId, id: &str) -> StoreResult<Machine> {
        find(&self.db, tenant, id).await.map(Into::into)
    }

    /// Renames or re-describes a machine.
    #[tracing::instrument(skip_all, fields(tenant = %tenant))]
    pub async fn update_machine(
        &self,
        tenant: &TenantId,
        id: &str,
        patch: MachinePatch,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> StoreResult<Machine> {
        let txn = begin_write(&self.db).await?;
        let row = find(&txn, tenant, id).await?;
        let mut changes = Map::new();
        let mut active = row.clone().into_active_model();
        if let Some(name) = patch.name.filter(|n| *n != row.name) {
            changes.insert("name".into(), json!({"from": row.name, "to": name}));
            active.name = Set(name);
        }
        if let Some(description) = patch.description.filter(|d| *d != row.description) {
            changes.insert(
                "description".into(),
                json!({"from": row.description, "to": description}),
            );
            active.description = Set(description);
        }
        if changes.is_empty() {
            return Ok(row.into());
        }
        active.updated_at = Set(now);
        let model = active
            .update(&txn)
            .await
            .map_err(|e| StoreError::from_write(e, UNIQUE))?;
        record(
            &txn,
            tenant,
            actor,
            Change {
                action: "machine.update",
                target_type: "machine",
                target_id: id,
                changes: Value::Object(changes),
            },
            now,
        )
        .await?;
        txn.commit().await?;
        Ok(model.into())
    }

    /// Deletes a machine and its keys.
    #[tracing::instrument(skip_all, fields(tenant = %tenant))]
    pub async fn delete_machine(
        &self,
        tenant: &TenantId,
        id: &str,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        let txn = begin_write(&self.db).await?;
        let row = find(&txn, tenant, id).await?;
        let keys = api_key::Entity::find()
            .filter(api_key::Column::TenantId.eq(tenant.as_str()))
            .filter(api_key::Column::MachineId.eq(id))
            .all(&txn)
            .await?;
        for key in keys {
            let name = key.name.clone();
            key.delete(&txn).await?;
            record(
                &txn,
                tenant,
                actor,
                Change {
                    action: "apiKey.delete",
                    target_type: "apiKey",
                    target_id: &name,
                    changes: json!({"reason": "machine deleted", "machine": id}),
                },
                now,
            )
            .await?;
        }
        let name = row.name.clone();
        row.delete(&txn).await?;
        record(
            &txn,
            tenant,
            actor,
            Change {
                action: "machine.delete",
                target_type: "machine",
                target_id: id,
                changes: json!({"name": name}),
            },
            now,
        )
        .await?;
        txn.commit().await?;
        Ok(())
    }
}

async fn find<C: sea_orm::ConnectionTrait>(
    conn: &C,
    tenant: &TenantId,
    id: &str,
) -> StoreResult<machine::Model> {
    machine::Entity::find_by_id(id)
        .filter(machine::Column::TenantId.eq(tenant.as_str()))
        .one(conn)
        .await?
        .ok_or(StoreError::NotFound)
}
