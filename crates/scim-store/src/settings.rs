//! Tenant SCIM settings: the tenant-wide custom-attributes switch and the custom extension
//! schema. One stored value per tenant, shown on every SCIM key as
//! `options.scimCustomAttributes`, so flipping it anywhere flips it for all SCIM keys.
//!
//! A new declaration is checked against the values users already hold under its URN, in the
//! same transaction as the write: a declaration that stored data does not fit is refused
//! ([`StoreError::Refused`]) rather than leaving values the schema cannot describe.

use chrono::{DateTime, Utc};
use scim_model::{custom, schema::Schema};
use sea_orm::{
    sea_query::Expr, ActiveModelTrait, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait,
    IntoActiveModel, QueryFilter, QueryOrder, QuerySelect, Set,
};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use crate::{
    audit::{begin_write, record, Actor, Change},
    entity::{audit_event, tenant, user},
    Store, StoreError, StoreResult, TenantId,
};

/// Users read per round trip when a declaration is checked against stored values.
const CHECK_BATCH: u64 = 500;

/// The audit action of an undeclared custom attribute that a request sent.
pub const IGNORED_ATTRIBUTE_ACTION: &str = "scim.customAttribute.ignored";

/// The SCIM settings of a tenant.
#[derive(Debug, Clone, PartialEq)]
pub struct ScimSettings {
    /// Whether declared custom attributes are accepted, stored and returned.
    pub custom_attributes_enabled: bool,
    /// The custom extension schema (RFC 7643 §7 representation), if declared.
    pub custom_schema: Option<Value>,
}

/// What a SCIM request needs to know of its tenant's settings, read with the key: the switch
/// and the tag of the declaration (a short value that changes whenever the declaration does).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScimSwitch {
    /// Whether declared custom attributes are in force.
    pub custom_attributes_enabled: bool,
    /// Tag of the stored declaration; `None` when none is declared.
    pub custom_schema_tag: Option<String>,
    /// Whether events keep the resource after each change (the tenant has a full event
    /// stream).
    pub events_full_data: bool,
}

impl Store {
    /// The tenant's declared custom schema and its tag, read together (so the tag names this
    /// declaration).
    pub async fn get_custom_schema(
        &self,
        tenant: &TenantId,
    ) -> StoreResult<(Option<Value>, Option<String>)> {
        let row = find(&self.db, tenant).await?;
        Ok((row.custom_schema, row.custom_schema_tag))
    }

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
            if let Some(value) = &settings.custom_schema {
                let schema = custom::parse_declaration(value)
                    .map_err(|e| StoreError::InvalidValue(e.to_string()))?;
                if let Some(name) = custom::enterprise_clash(&schema) {
                    return Err(StoreError::Refused(enterprise_clash_message(name)));
                }
                let old_urn = row
                    .custom_schema
                    .as_ref()
                    .and_then(|v| v.get("id"))
                    .and_then(Value::as_str)
                    .unwrap_or(scim_model::urn::CUSTOM_USER_DEFAULT);
                if old_urn != schema.id && old_urn.eq_ignore_ascii_case(&schema.id) {
                    return Err(StoreError::Refused(format!(
                        "The schema URN '{old_urn}' cannot change only in letter case"
                    )));
                }
                check_stored_values(&txn, tenant, &schema).await?;
            }
            changes.insert("customSchema".into(), json!("replaced"));
        }
        if !changes.is_empty() {
            let schema_changed = row.custom_schema != settings.custom_schema;
            let mut active = row.into_active_model();
            active.scim_custom_attributes = Set(settings.custom_attributes_enabled);
            if schema_changed {
                active.custom_schema = Set(settings.custom_schema.clone());
                active.custom_schema_tag = Set(settings
                    .custom_schema
                    .as_ref()
                    .map(|_| uuid::Uuid::new_v4().to_string()));
            }
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

/// Why a declaration naming an enterprise attribute is refused.
pub fn enterprise_clash_message(name: &str) -> String {
    format!(
        "The custom attribute '{name}' has the name of an enterprise User attribute; an \
         unqualified '{name}' means the enterprise one, so choose another name"
    )
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

/// Refuses `schema` when a user of `tenant` holds a value under its URN that does not fit
/// its declared type; the error names the user and the attribute.
async fn check_stored_values<C: ConnectionTrait>(
    conn: &C,
    tenant: &TenantId,
    schema: &Schema,
) -> StoreResult<()> {
    if schema.attributes.is_empty() {
        return Ok(());
    }
    let has_key = match conn.get_database_backend() {
        DbBackend::Postgres => Expr::cust_with_values(
            "(\"users\".\"attributes\" -> $1) IS NOT NULL",
            [schema.id.clone()],
        ),
        _ => Expr::cust_with_values(
            "json_extract(\"users\".\"attributes\", ?) IS NOT NULL",
            [format!("$.\"{}\"", schema.id.replace('"', ""))],
        ),
    };
    let mut after = String::new();
    loop {
        let rows = user::Entity::find()
            .filter(user::Column::TenantId.eq(tenant.as_str()))
            .filter(has_key.clone())
            .filter(user::Column::Id.gt(after.as_str()))
            .order_by_asc(user::Column::Id)
            .limit(CHECK_BATCH)
            .all(conn)
            .await?;
        for row in &rows {
            if let Some(stored) = row.attributes.get(&schema.id) {
                custom::check_stored(schema, stored).map_err(|why| {
                    StoreError::Refused(format!(
                        "The declaration does not fit data already stored: user '{}' (id {}): {why}. \
                         Change or remove that value first, or keep the attribute's previous type",
                        row.user_name, row.id
                    ))
                })?;
            }
        }
        match rows.last() {
            Some(last) if rows.len() as u64 == CHECK_BATCH => after = last.id.clone(),
            _ => return Ok(()),
        }
    }
}

/// An attribute of a schema the tenant has not declared that a SCIM write ignored: audited
/// once per tenant, key, schema, attribute name and UTC day, in the transaction of the write
/// that ignored it (also across processes: the event id is derived from those, and a second
/// insert does nothing).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IgnoredNote {
    /// The id of the key that sent it.
    pub key_id: String,
    /// That key's name (the audit's actor and target).
    pub key_name: String,
    /// The undeclared schema URN.
    pub schema: String,
    /// The attribute's name.
    pub name: String,
}

/// Writes the audit events of `notes` with `conn` (a write transaction), skipping those already
/// written today.
pub(crate) async fn write_ignored_notes<C: ConnectionTrait>(
    conn: &C,
    tenant: &TenantId,
    notes: &[IgnoredNote],
    now: DateTime<Utc>,
) -> Result<(), sea_orm::DbErr> {
    if notes.is_empty() {
        return Ok(());
    }
    let day = now.date_naive().to_string();
    let rows = notes.iter().map(|note| {
        let mut hash = Sha256::new();
        for part in [
            tenant.as_str(),
            &note.key_id,
            &note.schema,
            &note.name,
            &day,
        ] {
            hash.update(part.as_bytes());
            hash.update([0]);
        }
        let digest: String = hash
            .finalize()
            .iter()
            .take(16)
            .map(|b| format!("{b:02x}"))
            .collect();
        audit_event::ActiveModel {
            id: Set(format!("ign-{digest}")),
            tenant_id: Set(tenant.as_str().to_owned()),
            at: Set(now),
            actor: Set(format!("key:{}", note.key_name)),
            action: Set(IGNORED_ATTRIBUTE_ACTION.to_owned()),
            target_type: Set("apiKey".to_owned()),
            target_id: Set(note.key_name.clone()),
            changes: Set(json!({"schema": note.schema, "attribute": note.name, "day": day})),
            caller_addr: Set(None),
        }
    });
    audit_event::Entity::insert_many(rows)
        .on_conflict(
            sea_orm::sea_query::OnConflict::column(audit_event::Column::Id)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(conn)
        .await?;
    Ok(())
}

async fn find<C: ConnectionTrait>(conn: &C, tenant: &TenantId) -> StoreResult<tenant::Model> {
    tenant::Entity::find_by_id(tenant.as_str())
        .one(conn)
        .await?
        .ok_or(StoreError::NotFound)
}
