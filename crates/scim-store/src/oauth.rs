//! OAuth 2.0 clients of a tenant (issue 19): the key behind a client id, access tokens (stored
//! only as SHA-256 hashes, at most [`MAX_LIVE_TOKENS_PER_KEY`] per key), the lookup that turns
//! an access token into its key and tenant switch in one statement, the purge of expired
//! tokens, the tenant's token lifetime and a key's federated credential. Which keys are clients
//! and what makes a token usable is decided by `scim-service` and `scim-auth`.

use chrono::{DateTime, Utc};
use sea_orm::{
    sea_query::{Expr, Query},
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, FromQueryResult, IntoActiveModel,
    JoinType, QueryFilter, QueryOrder, QuerySelect, QueryTrait, RelationTrait, Set,
};
use serde_json::{json, Value};

use scim_db::Prepared;

use crate::{
    audit::{begin_write, record, Actor},
    entity::{access_token, api_key, tenant},
    ApiKey, ScimSwitch, Store, StoreError, StoreResult, TenantId,
};

/// The access-token lifetime of a new tenant, in seconds.
pub const DEFAULT_ACCESS_TOKEN_LIFETIME_SECS: i32 = 3600;
/// Live access tokens kept per key; issuing one more removes the oldest.
pub const MAX_LIVE_TOKENS_PER_KEY: u64 = 100;
/// Expired tokens deleted per statement by the purge.
const PURGE_BATCH: u64 = 1000;

/// A new access token, as stored.
#[derive(Clone)]
pub struct NewAccessToken {
    /// Hex SHA-256 of the token.
    pub token_hash: String,
    /// Hex SHA-256 of the key value it was issued under.
    pub secret_hash: String,
    /// When it stops working (never after its key's expiry).
    pub expires_at: DateTime<Utc>,
}

impl std::fmt::Debug for NewAccessToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewAccessToken")
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// What a stored access token says beside its key.
#[derive(Clone, PartialEq, Eq)]
pub struct AccessTokenGrant {
    /// Hex SHA-256 of the key value the token was issued under.
    pub secret_hash: String,
    /// When the token stops working.
    pub expires_at: DateTime<Utc>,
}

impl std::fmt::Debug for AccessTokenGrant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessTokenGrant")
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// The tenant's OAuth settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OAuthSettings {
    /// Lifetime of the access tokens issued from now on, in seconds.
    pub access_token_lifetime_secs: i32,
}

impl Store {
    /// The key of `tenant` whose OAuth client id is `client_id`, whatever its state.
    pub async fn find_oauth_client(
        &self,
        tenant: &TenantId,
        client_id: &str,
    ) -> StoreResult<Option<ApiKey>> {
        Ok(api_key::Entity::find()
            .filter(api_key::Column::TenantId.eq(tenant.as_str()))
            .filter(api_key::Column::ClientId.eq(client_id))
            .one(&self.db)
            .await?
            .map(Into::into))
    }

    /// Stores an access token of `key` (of `tenant`), then removes the key's expired tokens
    /// and, past [`MAX_LIVE_TOKENS_PER_KEY`], its oldest ones, in one transaction.
    #[tracing::instrument(skip_all, fields(tenant = %tenant))]
    pub async fn insert_access_token(
        &self,
        tenant: &TenantId,
        key_id: &str,
        token: NewAccessToken,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        let txn = begin_write(&self.db).await?;
        access_token::ActiveModel {
            token_hash: Set(token.token_hash),
            key_id: Set(key_id.to_owned()),
            tenant_id: Set(tenant.as_str().to_owned()),
            secret_hash: Set(token.secret_hash),
            created_at: Set(now),
            expires_at: Set(token.expires_at),
        }
        .insert(&txn)
        .await
        .map_err(|e| StoreError::from_write(e, &[("access_tokens", "access token")]))?;
        access_token::Entity::delete_many()
            .filter(access_token::Column::KeyId.eq(key_id))
            .filter(access_token::Column::ExpiresAt.lte(now))
            .exec(&txn)
            .await?;
        let surplus: Vec<String> = access_token::Entity::find()
            .select_only()
            .column(access_token::Column::TokenHash)
            .filter(access_token::Column::KeyId.eq(key_id))
            .order_by_desc(access_token::Column::CreatedAt)
            .order_by_desc(access_token::Column::TokenHash)
            .offset(MAX_LIVE_TOKENS_PER_KEY)
            // SQLite takes OFFSET only after a LIMIT.
            .limit(u64::from(u32::MAX))
            .into_tuple()
            .all(&txn)
            .await?;
        if !surplus.is_empty() {
            access_token::Entity::delete_many()
                .filter(access_token::Column::TokenHash.is_in(surplus))
                .exec(&txn)
                .await?;
        }
        txn.commit().await?;
        Ok(())
    }

    /// The key, its tenant's SCIM switch and the grant of the access token that hashes to
    /// `token_hash`, in one statement (an access token is used as often as a key).
    pub async fn find_access_token_and_scim_switch(
        &self,
        token_hash: &str,
    ) -> StoreResult<Option<(ApiKey, ScimSwitch, AccessTokenGrant)>> {
        let stmt = token_and_switch_statement(self.db.get_database_backend(), token_hash);
        let found = TokenAndSwitch::find_by_statement(stmt)
            .one(&self.db)
            .await?;
        Ok(found.map(|row| (row.key.into(), row.switch, row.grant)))
    }

    /// Live access tokens of key `key_id` at `now`.
    pub async fn count_live_access_tokens(
        &self,
        key_id: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<u64> {
        Ok(crate::count::count(
            access_token::Entity::find()
                .filter(access_token::Column::KeyId.eq(key_id))
                .filter(access_token::Column::ExpiresAt.gt(now)),
            &self.db,
        )
        .await?)
    }

    /// Deletes the access tokens expired at `now`, in batches; returns how many.
    pub async fn purge_expired_access_tokens(&self, now: DateTime<Utc>) -> StoreResult<u64> {
        let mut purged = 0;
        loop {
            let batch = Query::select()
                .column(access_token::Column::TokenHash)
                .from(access_token::Entity)
                .and_where(access_token::Column::ExpiresAt.lte(now))
                .limit(PURGE_BATCH)
                .to_owned();
            let deleted = access_token::Entity::delete_many()
                .filter(Expr::col(access_token::Column::TokenHash).in_subquery(batch))
                .exec(&self.db.bookkeeping())
                .await?
                .rows_affected;
            purged += deleted;
            if deleted < PURGE_BATCH {
                return Ok(purged);
            }
        }
    }

    /// The OAuth settings of `tenant`.
    pub async fn get_oauth_settings(&self, tenant: &TenantId) -> StoreResult<OAuthSettings> {
        let row = tenant::Entity::find_by_id(tenant.as_str())
            .one(&self.db)
            .await?
            .ok_or(StoreError::NotFound)?;
        Ok(OAuthSettings {
            access_token_lifetime_secs: row.access_token_lifetime_secs,
        })
    }

    /// Replaces the OAuth settings of `tenant` (audited when something changes).
    #[tracing::instrument(skip_all, fields(tenant = %tenant))]
    pub async fn put_oauth_settings(
        &self,
        tenant: &TenantId,
        settings: OAuthSettings,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> StoreResult<OAuthSettings> {
        self.put_tenant_setting(
            tenant,
            crate::tenants::TenantSetting {
                target: "oauth",
                name: "accessTokenLifetimeSeconds",
                get: |row| row.access_token_lifetime_secs,
                set: |row, v| row.access_token_lifetime_secs = Set(v),
            },
            settings.access_token_lifetime_secs,
            actor,
            now,
        )
        .await?;
        Ok(settings)
    }

    /// Audits a client assertion refused for key `name`, with the reason (never the
    /// assertion). Written outside any transaction of the request: nothing else changes.
    pub async fn record_federation_refusal(
        &self,
        tenant: &TenantId,
        name: &str,
        reason: &str,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        record(
            &self.db.bookkeeping(),
            tenant,
            actor,
            crate::api_keys::key_event(
                "apiKey.federation.refused",
                name,
                json!({"reason": reason}),
            ),
            now,
        )
        .await
    }

    /// Sets (`Some`) or removes (`None`) the federated credential of key `name`, audited with
    /// the credential's public fields.
    #[tracing::instrument(skip_all, fields(tenant = %tenant))]
    pub async fn set_key_federation(
        &self,
        tenant: &TenantId,
        name: &str,
        federation: Option<Value>,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> StoreResult<ApiKey> {
        let txn = begin_write(&self.db).await?;
        let row = crate::api_keys::find(&txn, tenant, name).await?;
        if row.federation == federation {
            txn.commit().await?;
            return Ok(row.into());
        }
        let action = if federation.is_some() {
            "apiKey.federation.set"
        } else {
            "apiKey.federation.clear"
        };
        let changes = json!({"from": row.federation, "to": federation});
        let mut active = row.into_active_model();
        active.federation = Set(federation);
        active.updated_at = Set(Some(now));
        let model = active.update(&txn).await?;
        record(
            &txn,
            tenant,
            actor,
            crate::api_keys::key_event(action, name, changes),
            now,
        )
        .await?;
        txn.commit().await?;
        Ok(model.into())
    }
}

/// The statement of [`Store::find_access_token_and_scim_switch`], rendered once.
fn token_and_switch_statement(backend: sea_orm::DbBackend, token_hash: &str) -> sea_orm::Statement {
    static SQL: Prepared = Prepared::new();
    SQL.statement(backend, vec![token_hash.into()], || {
        api_key::Entity::find()
            .join_rev(JoinType::InnerJoin, access_token::Relation::ApiKey.def())
            .join(JoinType::InnerJoin, api_key::Relation::Tenant.def())
            .filter(access_token::Column::TokenHash.eq(token_hash))
            .column_as(access_token::Column::SecretHash, "at_secret_hash")
            .column_as(access_token::Column::ExpiresAt, "at_expires_at")
            .column_as(tenant::Column::ScimCustomAttributes, "t_custom_attributes")
            .column_as(tenant::Column::CustomSchemaTag, "t_schema_tag")
            .column_as(tenant::Column::EventsFullData, "t_events_full")
            .build(backend)
    })
}

/// A key row with its tenant's switch and an access token's grant.
struct TokenAndSwitch {
    key: api_key::Model,
    switch: ScimSwitch,
    grant: AccessTokenGrant,
}

impl FromQueryResult for TokenAndSwitch {
    fn from_query_result(res: &sea_orm::QueryResult, pre: &str) -> Result<Self, sea_orm::DbErr> {
        Ok(Self {
            key: api_key::Model::from_query_result(res, pre)?,
            switch: ScimSwitch {
                custom_attributes_enabled: res.try_get(pre, "t_custom_attributes")?,
                custom_schema_tag: res.try_get(pre, "t_schema_tag")?,
                events_full_data: res.try_get(pre, "t_events_full")?,
            },
            grant: AccessTokenGrant {
                secret_hash: res.try_get(pre, "at_secret_hash")?,
                expires_at: res.try_get(pre, "at_expires_at")?,
            },
        })
    }
}
