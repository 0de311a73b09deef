//! Sessions of the admin web console, shared by every scimd process on the database. A session
//! is found by the SHA-256 of its id (computed by the caller); it names the tenant and the key
//! it was opened with (by row id), and carries the CSRF token of its forms. Whether a session is
//! still valid (idle and absolute timeouts, the key still usable) is decided by the console with
//! the `now` it passes in.

use chrono::{DateTime, Utc};
use sea_orm::{
    sea_query::Expr, ActiveModelTrait, ColumnTrait, Condition, EntityTrait, QueryFilter, Set,
};

use crate::{
    entity::{api_key, console_session},
    ApiKey, Store, StoreError, StoreResult, TenantId,
};

/// A console session (its id hash is the lookup key and is not repeated here).
#[derive(Clone, PartialEq)]
pub struct ConsoleSession {
    /// The tenant the session administers.
    pub tenant_id: TenantId,
    /// The row id of the key the session was opened with; `None` for the operator token.
    pub key_id: Option<String>,
    /// The synchronizer token every form of the session must echo.
    pub csrf_token: String,
    /// Sign-in time (absolute timeout).
    pub created_at: DateTime<Utc>,
    /// Last request (idle timeout).
    pub last_seen_at: DateTime<Utc>,
}

impl std::fmt::Debug for ConsoleSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConsoleSession")
            .field("tenant_id", &self.tenant_id)
            .field("key_id", &self.key_id)
            .field("csrf_token", &"<redacted>")
            .field("created_at", &self.created_at)
            .field("last_seen_at", &self.last_seen_at)
            .finish()
    }
}

impl Store {
    /// Stores a new session under `id_hash`.
    #[tracing::instrument(skip_all, fields(tenant = %tenant))]
    pub async fn create_console_session(
        &self,
        id_hash: &str,
        tenant: &TenantId,
        key_id: Option<&str>,
        csrf_token: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<ConsoleSession> {
        let model = console_session::ActiveModel {
            id_hash: Set(id_hash.to_owned()),
            tenant_id: Set(tenant.as_str().to_owned()),
            key_id: Set(key_id.map(str::to_owned)),
            csrf_token: Set(csrf_token.to_owned()),
            created_at: Set(now),
            last_seen_at: Set(now),
        }
        .insert(&self.db.bookkeeping())
        .await
        .map_err(|e| StoreError::from_write(e, &[]))?;
        Ok(model.into())
    }

    /// The session stored under `id_hash`, if any.
    pub async fn get_console_session(&self, id_hash: &str) -> StoreResult<Option<ConsoleSession>> {
        Ok(console_session::Entity::find_by_id(id_hash)
            .one(&self.db)
            .await?
            .map(Into::into))
    }

    /// Records activity on a session (for its idle timeout).
    pub async fn touch_console_session(
        &self,
        id_hash: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        console_session::Entity::update_many()
            .col_expr(console_session::Column::LastSeenAt, Expr::value(now))
            .filter(console_session::Column::IdHash.eq(id_hash))
            .exec(&self.db.bookkeeping())
            .await?;
        Ok(())
    }

    /// Ends a session (sign-out); ending an unknown session is not an error.
    pub async fn delete_console_session(&self, id_hash: &str) -> StoreResult<()> {
        console_session::Entity::delete_by_id(id_hash)
            .exec(&self.db.bookkeeping())
            .await?;
        Ok(())
    }

    /// Deletes the sessions idle since before `idle_before` or opened before `created_before`;
    /// returns how many.
    pub async fn purge_console_sessions(
        &self,
        idle_before: DateTime<Utc>,
        created_before: DateTime<Utc>,
    ) -> StoreResult<u64> {
        let res = console_session::Entity::delete_many()
            .filter(
                Condition::any()
                    .add(console_session::Column::LastSeenAt.lt(idle_before))
                    .add(console_session::Column::CreatedAt.lt(created_before)),
            )
            .exec(&self.db.bookkeeping())
            .await?;
        Ok(res.rows_affected)
    }

    /// One key of `tenant` by row id (the console re-checks its session's key on every request).
    pub async fn get_api_key_by_id(&self, tenant: &TenantId, id: &str) -> StoreResult<ApiKey> {
        api_key::Entity::find_by_id(id)
            .filter(api_key::Column::TenantId.eq(tenant.as_str()))
            .one(&self.db)
            .await?
            .map(Into::into)
            .ok_or(StoreError::NotFound)
    }
}
