//! API key rows and their lifecycle: create, list, update (label, permissions, enabled), revoke,
//! rotate with a grace period, delete, and the throttled `lastUsedAt` stamp. Tokens themselves
//! never reach the store, only their SHA-256; every change writes its audit event in the same
//! transaction. Values in audit events are names, flags and permissions, never hashes.

use chrono::{DateTime, Duration, Utc};
use sea_orm::{
    sea_query::Expr, ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait,
    FromQueryResult, IntoActiveModel, JoinType, ModelTrait, QueryFilter, QueryOrder, QuerySelect,
    QueryTrait, RelationTrait, Set,
};
use serde_json::{json, Map, Value};

use scim_db::Prepared;

use crate::{
    audit::{begin_write, record, Actor, Change},
    entity::{api_key, machine},
    settings::set_custom_attributes,
    Store, StoreError, StoreResult, TenantId,
};

/// `lastUsedAt` is written at most this often per key.
pub const LAST_USED_RESOLUTION: Duration = Duration::seconds(60);

const UNIQUE: &[(&str, &str)] = &[
    ("client_id", "client id"),
    ("previous_token_hash", "token"),
    ("token_hash", "token"),
    ("name", "key name"),
];

/// What it takes to store a new key.
#[derive(Debug, Clone)]
pub struct NewApiKey {
    /// Unique per tenant, immutable.
    pub name: String,
    /// Free display text.
    pub label: Option<String>,
    /// `scim`, `on_premise` or `public_api`.
    pub scope: String,
    /// Granted permissions.
    pub permissions: Vec<String>,
    /// Hex SHA-256 of the token.
    pub token_hash: String,
    /// A short, non-secret prefix for display (`scimd_scim_Ab12…`).
    pub token_hint: String,
    /// Whether the key may be used.
    pub enabled: bool,
    /// When the key stops working.
    pub expires_at: DateTime<Utc>,
    /// The key's OAuth client id (`scim` and `on_premise` keys), stable for its life.
    pub client_id: Option<String>,
}

/// Where a new key hangs: its machine, and the tenant-wide switch a SCIM key may set.
#[derive(Debug, Clone, Default)]
pub struct KeyPlacement {
    /// The owning machine's id (must exist in the tenant).
    pub machine_id: Option<String>,
    /// New value of the tenant-wide SCIM custom-attributes switch.
    pub scim_custom_attributes: Option<bool>,
}

/// A change of a key: absent fields stay as they are.
#[derive(Debug, Clone, Default)]
pub struct KeyUpdate {
    /// Enable or disable (a revoked key can never be enabled).
    pub enabled: Option<bool>,
    /// New permission list.
    pub permissions: Option<Vec<String>>,
    /// New label (`Some(None)` clears it).
    pub label: Option<Option<String>>,
    /// New value of the tenant-wide SCIM custom-attributes switch (SCIM keys only).
    pub scim_custom_attributes: Option<bool>,
}

/// A new value for a key.
#[derive(Clone)]
pub struct KeyRotation {
    /// Hex SHA-256 of the new token.
    pub token_hash: String,
    /// Display hint of the new token.
    pub token_hint: String,
    /// Until when the old token keeps working (`None`: it stops now).
    pub grace_until: Option<DateTime<Utc>>,
    /// The key's new expiry.
    pub expires_at: DateTime<Utc>,
}

impl std::fmt::Debug for KeyRotation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyRotation")
            .field("token_hash", &"<redacted>")
            .field("grace_until", &self.grace_until)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// A stored key. It carries the hashes for the constant-time check at authentication; they are
/// never serialised into a response or a log.
#[derive(Clone, PartialEq)]
pub struct ApiKey {
    /// Row id.
    pub id: String,
    /// Owning tenant.
    pub tenant_id: TenantId,
    /// Unique name within the tenant.
    pub name: String,
    /// Display label.
    pub label: Option<String>,
    /// `scim`, `on_premise` or `public_api`.
    pub scope: String,
    /// Granted permissions.
    pub permissions: Vec<String>,
    /// Hex SHA-256 of the token.
    pub token_hash: String,
    /// Non-secret display hint.
    pub token_hint: String,
    /// Whether the key may be used.
    pub enabled: bool,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Expiry time.
    pub expires_at: DateTime<Utc>,
    /// Set once the key is revoked for good.
    pub revoked_at: Option<DateTime<Utc>>,
    /// Stored options (reserved; the SCIM switch lives on the tenant).
    pub options: Value,
    /// The owning machine, if any.
    pub machine_id: Option<String>,
    /// Last successful authentication (to the minute).
    pub last_used_at: Option<DateTime<Utc>>,
    /// Address of that caller.
    pub last_used_addr: Option<String>,
    /// Hash of the value replaced by the last rotation, while its grace period lasts.
    pub previous_token_hash: Option<String>,
    /// End of that grace period.
    pub previous_valid_until: Option<DateTime<Utc>>,
    /// Time of the last change.
    pub updated_at: DateTime<Utc>,
    /// The key's OAuth client id (`scim` and `on_premise` keys): not secret, stable for life.
    pub client_id: Option<String>,
    /// The federated credential (workload identity federation) of a `scim` key, as stored.
    pub federation: Option<Value>,
}

impl std::fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiKey")
            .field("id", &self.id)
            .field("tenant_id", &self.tenant_id)
            .field("name", &self.name)
            .field("scope", &self.scope)
            .field("client_id", &self.client_id)
            .field("permissions", &self.permissions)
            .field("token_hash", &"<redacted>")
            .field("enabled", &self.enabled)
            .field("expires_at", &self.expires_at)
            .field("revoked_at", &self.revoked_at)
            .finish_non_exhaustive()
    }
}

pub(crate) fn key_event<'a>(action: &'a str, name: &'a str, changes: Value) -> Change<'a> {
    Change {
        action,
        target_type: "apiKey",
        target_id: name,
        changes,
    }
}

pub(crate) async fn find<C: ConnectionTrait>(
    conn: &C,
    tenant: &TenantId,
    name: &str,
) -> StoreResult<api_key::Model> {
    api_key::Entity::find()
        .filter(api_key::Column::TenantId.eq(tenant.as_str()))
        .filter(api_key::Column::Name.eq(name))
        .one(conn)
        .await?
        .ok_or(StoreError::NotFound)
}

impl Store {
    /// Stores a new key for `tenant` (actor `system`, no machine); a name in use is
    /// [`StoreError::Conflict`].
    pub async fn insert_api_key(
        &self,
        tenant: &TenantId,
        key: NewApiKey,
        now: DateTime<Utc>,
    ) -> StoreResult<ApiKey> {
        self.create_api_key(
            tenant,
            key,
            KeyPlacement::default(),
            &Actor::local("system"),
            now,
        )
        .await
    }

    /// Stores a new key, optionally on a machine and setting the tenant's SCIM switch, with
    /// its audit event, in one transaction.
    #[tracing::instrument(skip_all, fields(tenant = %tenant))]
    pub async fn create_api_key(
        &self,
        tenant: &TenantId,
        key: NewApiKey,
        placement: KeyPlacement,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> StoreResult<ApiKey> {
        let txn = begin_write(&self.db).await?;
        if let Some(machine) = &placement.machine_id {
            let found = machine::Entity::find_by_id(machine.as_str())
                .filter(machine::Column::TenantId.eq(tenant.as_str()))
                .one(&txn)
                .await?;
            if found.is_none() {
                return Err(StoreError::InvalidValue(format!(
                    "machine '{machine}' does not exist"
                )));
            }
        }
        let changes = json!({
            "scope": key.scope,
            "permissions": key.permissions,
            "enabled": key.enabled,
            "label": key.label,
            "machine": placement.machine_id,
            "expiresAt": key.expires_at,
        });
        let model = api_key::ActiveModel {
            id: Set(uuid::Uuid::now_v7().to_string()),
            tenant_id: Set(tenant.as_str().to_owned()),
            name: Set(key.name),
            label: Set(key.label),
            scope: Set(key.scope),
            permissions: Set(json!(key.permissions)),
            options: Set(json!({})),
            machine_id: Set(placement.machine_id),
            token_hash: Set(key.token_hash),
            hash_alg: Set("sha256".into()),
            token_hint: Set(key.token_hint),
            enabled: Set(key.enabled),
            created_at: Set(now),
            expires_at: Set(key.expires_at),
            revoked_at: Set(None),
            last_used_at: Set(None),
            last_used_addr: Set(None),
            previous_token_hash: Set(None),
            previous_valid_until: Set(None),
            updated_at: Set(Some(now)),
            expiry_notified: Set(None),
            client_id: Set(key.client_id),
            federation: Set(None),
        }
        .insert(&txn)
        .await
        .map_err(|e| StoreError::from_write(e, UNIQUE))?;
        record(
            &txn,
            tenant,
            actor,
            key_event("apiKey.create", &model.name, changes),
            now,
        )
        .await?;
        if let Some(enabled) = placement.scim_custom_attributes {
            set_custom_attributes(&txn, tenant, enabled, &model.name, actor, now).await?;
        }
        txn.commit().await?;
        Ok(model.into())
    }

    /// The keys of `tenant` (or of one of its machines), oldest first.
    pub async fn list_api_keys(
        &self,
        tenant: &TenantId,
        machine: Option<&str>,
    ) -> StoreResult<Vec<ApiKey>> {
        let mut select =
            api_key::Entity::find().filter(api_key::Column::TenantId.eq(tenant.as_str()));
        if let Some(m) = machine {
            select = select.filter(api_key::Column::MachineId.eq(m));
        }
        Ok(select
            .order_by_asc(api_key::Column::CreatedAt)
            .order_by_asc(api_key::Column::Name)
            .all(&self.db)
            .await?
            .into_iter()
            .map(Into::into)
            .collect())
    }

    /// For each tenant (or only `tenant`) with usable keys (not revoked, not yet expired) that
    /// expire within `days` of `now`: the expiry times of those keys, soonest first (for the
    /// `scimd_api_keys_expiring` gauge and the console's banner).
    pub async fn expiring_keys(
        &self,
        tenant: Option<&TenantId>,
        now: DateTime<Utc>,
        days: i64,
    ) -> StoreResult<Vec<(TenantId, Vec<DateTime<Utc>>)>> {
        let mut select = api_key::Entity::find();
        if let Some(t) = tenant {
            select = select.filter(api_key::Column::TenantId.eq(t.as_str()));
        }
        let rows = select
            .filter(api_key::Column::RevokedAt.is_null())
            .filter(api_key::Column::ExpiresAt.gt(now))
            .filter(api_key::Column::ExpiresAt.lte(now + Duration::days(days)))
            .order_by_asc(api_key::Column::TenantId)
            .order_by_asc(api_key::Column::ExpiresAt)
            .all(&self.db)
            .await?;
        let mut out: Vec<(TenantId, Vec<DateTime<Utc>>)> = Vec::new();
        for (tenant, at) in rows.into_iter().map(|k| (k.tenant_id, k.expires_at)) {
            match out.last_mut() {
                Some((t, list)) if t.as_str() == tenant => list.push(at),
                _ => out.push((TenantId::new(tenant), vec![at])),
            }
        }
        Ok(out)
    }

    /// One key of `tenant`, by name.
    pub async fn get_api_key(&self, tenant: &TenantId, name: &str) -> StoreResult<ApiKey> {
        find(&self.db, tenant, name).await.map(Into::into)
    }

    /// Changes label, permissions or enabled state; never the value. Enabling a revoked key
    /// is [`StoreError::Refused`].
    #[tracing::instrument(skip_all, fields(tenant = %tenant))]
    pub async fn update_api_key(
        &self,
        tenant: &TenantId,
        name: &str,
        update: KeyUpdate,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> StoreResult<ApiKey> {
        let txn = begin_write(&self.db).await?;
        let row = find(&txn, tenant, name).await?;
        if update.enabled == Some(true) && row.revoked_at.is_some() {
            return Err(StoreError::Refused(
                "a revoked key can never be enabled again".into(),
            ));
        }
        let mut changes = Map::new();
        let mut active = row.clone().into_active_model();
        if let Some(enabled) = update.enabled.filter(|e| *e != row.enabled) {
            changes.insert(
                "enabled".into(),
                json!({"from": row.enabled, "to": enabled}),
            );
            active.enabled = Set(enabled);
        }
        if let Some(perms) = update.permissions {
            let perms = json!(perms);
            if perms != row.permissions {
                changes.insert(
                    "permissions".into(),
                    json!({"from": row.permissions, "to": perms}),
                );
                active.permissions = Set(perms);
            }
        }
        if let Some(label) = update.label.filter(|l| *l != row.label) {
            changes.insert("label".into(), json!({"from": row.label, "to": label}));
            active.label = Set(label);
        }
        let action = match (changes.len(), changes.get("enabled")) {
            (1, Some(_)) if row.enabled => "apiKey.disable",
            (1, Some(_)) => "apiKey.enable",
            _ => "apiKey.update",
        };
        let model = if changes.is_empty() {
            row
        } else {
            active.updated_at = Set(Some(now));
            let model = active.update(&txn).await?;
            record(
                &txn,
                tenant,
                actor,
                key_event(action, name, Value::Object(changes)),
                now,
            )
            .await?;
            model
        };
        if let Some(enabled) = update.scim_custom_attributes {
            set_custom_attributes(&txn, tenant, enabled, name, actor, now).await?;
        }
        txn.commit().await?;
        Ok(model.into())
    }

    /// Revokes a key for good; revoking twice is [`StoreError::Refused`].
    #[tracing::instrument(skip_all, fields(tenant = %tenant))]
    pub async fn revoke_api_key(
        &self,
        tenant: &TenantId,
        name: &str,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> StoreResult<ApiKey> {
        let txn = begin_write(&self.db).await?;
        let row = find(&txn, tenant, name).await?;
        if row.revoked_at.is_some() {
            return Err(StoreError::Refused("the key is already revoked".into()));
        }
        let mut active = row.into_active_model();
        active.revoked_at = Set(Some(now));
        active.enabled = Set(false);
        active.previous_token_hash = Set(None);
        active.previous_valid_until = Set(None);
        active.updated_at = Set(Some(now));
        let model = active.update(&txn).await?;
        record(
            &txn,
            tenant,
            actor,
            key_event("apiKey.revoke", name, json!({"revokedAt": now})),
            now,
        )
        .await?;
        txn.commit().await?;
        Ok(model.into())
    }

    /// Gives a key a new value; the old one keeps working until `grace_until`, if given. A
    /// revoked or expired key cannot be rotated ([`StoreError::Refused`]).
    #[tracing::instrument(skip_all, fields(tenant = %tenant))]
    pub async fn rotate_api_key(
        &self,
        tenant: &TenantId,
        name: &str,
        rotation: KeyRotation,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> StoreResult<ApiKey> {
        let txn = begin_write(&self.db).await?;
        let row = find(&txn, tenant, name).await?;
        if row.revoked_at.is_some() {
            return Err(StoreError::Refused(
                "a revoked key cannot be rotated".into(),
            ));
        }
        if now >= row.expires_at {
            return Err(StoreError::Refused(
                "an expired key cannot be rotated: create a new key".into(),
            ));
        }
        let old_hash = row.token_hash.clone();
        let mut active = row.into_active_model();
        active.previous_token_hash = Set(rotation.grace_until.map(|_| old_hash));
        active.previous_valid_until = Set(rotation.grace_until);
        active.token_hash = Set(rotation.token_hash);
        active.token_hint = Set(rotation.token_hint);
        active.expires_at = Set(rotation.expires_at);
        // A new expiry: its warnings are all still to come.
        active.expiry_notified = Set(None);
        active.updated_at = Set(Some(now));
        let model = active
            .update(&txn)
            .await
            .map_err(|e| StoreError::from_write(e, UNIQUE))?;
        record(
            &txn,
            tenant,
            actor,
            key_event(
                "apiKey.rotate",
                name,
                json!({"previousValueValidUntil": rotation.grace_until, "expiresAt": rotation.expires_at}),
            ),
            now,
        )
        .await?;
        txn.commit().await?;
        Ok(model.into())
    }

    /// Deletes a key; it stops working at once.
    #[tracing::instrument(skip_all, fields(tenant = %tenant))]
    pub async fn delete_api_key(
        &self,
        tenant: &TenantId,
        name: &str,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        let txn = begin_write(&self.db).await?;
        let row = find(&txn, tenant, name).await?;
        let scope = row.scope.clone();
        row.delete(&txn).await?;
        record(
            &txn,
            tenant,
            actor,
            key_event("apiKey.delete", name, json!({"scope": scope})),
            now,
        )
        .await?;
        txn.commit().await?;
        Ok(())
    }

    /// The key whose current (or rotated-out, still in grace) token hashes to `token_hash`, in
    /// any tenant (authentication decides the tenant from it).
    pub async fn find_api_key_by_hash(&self, token_hash: &str) -> StoreResult<Option<ApiKey>> {
        Ok(api_key::Entity::find()
            .filter(
                Condition::any()
                    .add(api_key::Column::TokenHash.eq(token_hash))
                    .add(api_key::Column::PreviousTokenHash.eq(token_hash)),
            )
            .one(&self.db)
            .await?
            .map(Into::into))
    }

    /// [`Self::find_api_key_by_hash`] with the key's tenant's SCIM switch and declaration tag,
    /// read in the same statement (a join on the tenant's primary key, two small columns), so
    /// that SCIM requests learn the tenant-wide custom-attributes switch without a second round
    /// trip and without decoding the declaration.
    pub async fn find_api_key_and_scim_switch(
        &self,
        token_hash: &str,
    ) -> StoreResult<Option<(ApiKey, crate::ScimSwitch)>> {
        let stmt = key_and_switch_statement(self.db.get_database_backend(), token_hash);
        let found = KeyAndSwitch::find_by_statement(stmt).one(&self.db).await?;
        Ok(found.map(|row| (row.key.into(), row.switch)))
    }

    /// The counter that every change to a key, or to the SCIM switch of a tenant, moves in
    /// its own transaction (triggers of migration 000180): a key verified when the counter
    /// read *before* reading it was N is still exactly what the database holds while the
    /// counter is N. One row by its key, read without sea-orm's row maps.
    pub async fn auth_epoch(&self) -> StoreResult<i64> {
        const SQL: &str = "SELECT \"epoch\" FROM \"auth_epoch\" WHERE \"id\" = 1";
        let stmt = sea_orm::Statement::from_string(self.db.get_database_backend(), SQL);
        self.db
            .read_i64(stmt)
            .await?
            .ok_or_else(|| StoreError::InvalidValue("auth_epoch has no row".into()))
    }

    /// Records a use of key `id` by `addr`, unless one was recorded less than a minute before
    /// `now` (also across processes: the condition is in the `UPDATE`). Returns whether a row
    /// was written.
    pub async fn touch_api_key(
        &self,
        id: &str,
        addr: Option<&str>,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let res = api_key::Entity::update_many()
            .col_expr(api_key::Column::LastUsedAt, Expr::value(now))
            .col_expr(
                api_key::Column::LastUsedAddr,
                Expr::value(addr.map(str::to_owned)),
            )
            .filter(api_key::Column::Id.eq(id))
            .filter(
                Condition::any()
                    .add(api_key::Column::LastUsedAt.is_null())
                    .add(api_key::Column::LastUsedAt.lte(now - LAST_USED_RESOLUTION)),
            )
            .exec(&self.db.bookkeeping())
            .await?;
        Ok(res.rows_affected > 0)
    }
}

/// The statement of [`Store::find_api_key_and_scim_switch`], rendered once (it runs on every
/// SCIM request).
pub(crate) fn key_and_switch_statement(
    backend: sea_orm::DbBackend,
    token_hash: &str,
) -> sea_orm::Statement {
    static SQL: Prepared = Prepared::new();
    SQL.statement(backend, vec![token_hash.into(), token_hash.into()], || {
        api_key::Entity::find()
            .filter(
                Condition::any()
                    .add(api_key::Column::TokenHash.eq(token_hash))
                    .add(api_key::Column::PreviousTokenHash.eq(token_hash)),
            )
            .join(JoinType::InnerJoin, api_key::Relation::Tenant.def())
            .column_as(
                crate::entity::tenant::Column::ScimCustomAttributes,
                "t_custom_attributes",
            )
            .column_as(
                crate::entity::tenant::Column::CustomSchemaTag,
                "t_schema_tag",
            )
            .column_as(
                crate::entity::tenant::Column::EventsFullData,
                "t_events_full",
            )
            .build(backend)
    })
}

/// A key row with two columns of its tenant (see [`Store::find_api_key_and_scim_switch`]).
struct KeyAndSwitch {
    key: api_key::Model,
    switch: crate::ScimSwitch,
}

impl sea_orm::FromQueryResult for KeyAndSwitch {
    fn from_query_result(res: &sea_orm::QueryResult, pre: &str) -> Result<Self, sea_orm::DbErr> {
        Ok(Self {
            key: api_key::Model::from_query_result(res, pre)?,
            switch: crate::ScimSwitch {
                custom_attributes_enabled: res.try_get(pre, "t_custom_attributes")?,
                custom_schema_tag: res.try_get(pre, "t_schema_tag")?,
                events_full_data: res.try_get(pre, "t_events_full")?,
            },
        })
    }
}
