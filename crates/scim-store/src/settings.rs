//! Tenant SCIM settings: the tenant-wide custom-attributes switch and the custom extension
//! schema. One stored value per tenant, shown on every SCIM key as
//! `options.scimCustomAttributes`, so flipping it anywhere flips it for all SCIM keys.

use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait, ConnectionTrait, EntityTrait, IntoActiveModel, Set};
use serde_json::{json, Map, Value};

use crate::{
    audit::{begin_write, record, Actor, Change},
    entity::tenant,
    Store, StoreError, StoreResult, TenantId,
};

/// The SCIM settings of a tenant.
#[derive(Debug, Clone, PartialEq)]
pub struct ScimSettings {
    /// Whether declared custom attributes are accepted, stored and returned.
    pub custom_attributes_enabled: bool,
    /// The custom extension schema (RFC 7643 §7 representation), if declared.
    pub custom_schema: Option<Value>,
}

impl Store {
    /// The SCIM settings of `tenant`.
    pub async fn get_scim_settings(&self, tenant: &TenantId) -> StoreResult<ScimSettings> {
        let row = find(&self.db, tenant).await?;
        Ok(ScimSettings {
            custom_attributes_enabled: row.scim_custom_attributes,
            custom_schema: row.custom_schema,
        })
    }

    /// Replaces the SCIM settings of `tenant`.
    #[tracing::instrument(skip_all, fields(tenant = %tenant))]
    pub async fn put_scim_settings(
        &self,
        tenant: &TenantId,
        settings: ScimSettings,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> StoreResult<ScimSettings> {
        let txn = begin_write(&self.db).await?;
        let row = find(&txn, tenant).await?;
        let mut changes = Map::new();
        if row.scim_custom_attributes != settings.custom_attributes_enabled {
            changes.insert(
                "customAttributesEnabled".into(),
                json!({"from": row.scim_custom_attributes, "to": settings.custom_attributes_enabled}),
            );
        }
        if row.custom_schema != settings.custom_schema {
            changes.insert("customSchema".into(), json!("replaced"));
        }
        if !changes.is_empty() {
            let mut active = row.into_active_model();
            active.scim_custom_attributes = Set(settings.custom_attributes_enabled);
            active.custom_schema = Set(settings.custom_schema.clone());
            active.update(&txn).await?;
            record(
                &txn,
                tenant,
                actor,
                Change {
                    action: "settings.update",
                    target_type: "settings",
                    target_id: "scim",
                    changes: Value::Object(changes),
                },
                now,
            )
            .await?;
        }
        txn.commit().await?;
        Ok(settings)
    }
}

/// Sets the switch inside a larger transaction (a key update), with its own audit event.
pub(crate) async fn set_custom_attributes<C: ConnectionTrait>(
    conn: &C,
    tenant: &TenantId,
    enabled: bool,
    via_key: &str,
    actor: &Actor,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    let row = find(conn, tenant).await?;
    if row.scim_custom_attributes == enabled {
        return Ok(());
    }
    let from = row.scim_custom_attributes;
    let mut active = row.into_active_model();
    active.scim_custom_attributes = Set(enabled);
    active.update(conn).await?;
    record(
        conn,
        tenant,
        actor,
        Change {
            action: "settings.update",
            target_type: "settings",
            target_id: "scim",
            changes: json!({
                "customAttributesEnabled": {"from": from, "to": enabled},
                "viaKey": via_key,
            }),
        },
        now,
    )
    .await
}

async fn find<C: ConnectionTrait>(conn: &C, tenant: &TenantId) -> StoreResult<tenant::Model> {
    tenant::Entity::find_by_id(tenant.as_str())
        .one(conn)
        .await?
        .ok_or(StoreError::NotFound)
}
