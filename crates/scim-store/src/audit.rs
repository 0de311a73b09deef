//! The audit trail: every change of a key, machine, setting or tenant writes one event, in the
//! same transaction as the change, so a change without its event (or the reverse) cannot exist.
//! Events carry field names and non-secret values only, never a token or a hash.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};
use serde_json::Value;

use scim_db::{Db, Txn};

use crate::{entity::audit_event, Page, Store, StoreResult, TenantId};

/// Who makes a change: a key name (`key:<name>`), `operator`, `cli` or `system`, and the caller's
/// address when the change came over HTTP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// The actor's display name.
    pub name: String,
    /// The caller's IP address, if known.
    pub addr: Option<String>,
}

impl Actor {
    /// An actor with no network address (CLI, start-up, scheduler).
    pub fn local(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            addr: None,
        }
    }
}

/// One recorded change.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEvent {
    /// Event id (UUIDv7, time-ordered).
    pub id: String,
    /// When the change happened.
    pub at: DateTime<Utc>,
    /// Who made it.
    pub actor: String,
    /// What was done (`apiKey.create`, `machine.delete`, ...).
    pub action: String,
    /// Kind of the target (`apiKey`, `machine`, `settings`, `tenant`).
    pub target_type: String,
    /// The target's name or id.
    pub target_id: String,
    /// The fields changed, with their new (and, for updates, old) values.
    pub changes: Value,
    /// The caller's address.
    pub caller_addr: Option<String>,
}

/// Which events to list.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    /// Only events on targets of this kind.
    pub target_type: Option<String>,
    /// Only events on this target (name or id).
    pub target_id: Option<String>,
    /// Only events at or after this time.
    pub from: Option<DateTime<Utc>>,
    /// Only events before this time.
    pub to: Option<DateTime<Utc>>,
    /// Events to skip (newest first).
    pub offset: u64,
    /// Largest number of events returned.
    pub limit: u64,
}

/// Begins a transaction that will write. On SQLite it takes the write lock first
/// (`BEGIN IMMEDIATE`): a deferred transaction that reads and then writes fails at once with
/// `SQLITE_BUSY` when another connection committed in between (for instance the `lastUsedAt`
/// stamp), whereas waiting for the lock up front is covered by the busy timeout.
pub(crate) async fn begin_write(db: &Db) -> StoreResult<Txn> {
    // scimd's SQLite driver begins with `BEGIN IMMEDIATE`; PostgreSQL orders writers by row locks.
    Ok(db.begin().await?)
}

/// What to record; written by [`record`].
pub(crate) struct Change<'a> {
    pub action: &'a str,
    pub target_type: &'a str,
    pub target_id: &'a str,
    pub changes: Value,
}

/// Writes one event on `conn` (the change's transaction).
pub(crate) async fn record<C: ConnectionTrait>(
    conn: &C,
    tenant: &TenantId,
    actor: &Actor,
    change: Change<'_>,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    audit_event::ActiveModel {
        id: Set(uuid::Uuid::now_v7().to_string()),
        tenant_id: Set(tenant.as_str().to_owned()),
        at: Set(now),
        actor: Set(actor.name.clone()),
        action: Set(change.action.to_owned()),
        target_type: Set(change.target_type.to_owned()),
        target_id: Set(change.target_id.to_owned()),
        changes: Set(change.changes),
        caller_addr: Set(actor.addr.clone()),
    }
    .insert(conn)
    .await?;
    Ok(())
}

impl Store {
    /// Events of `tenant`, newest first, filtered by target and time range.
    #[tracing::instrument(skip_all, fields(tenant = %tenant))]
    pub async fn list_audit_events(
        &self,
        tenant: &TenantId,
        query: &AuditQuery,
    ) -> StoreResult<Page<AuditEvent>> {
        let mut select =
            audit_event::Entity::find().filter(audit_event::Column::TenantId.eq(tenant.as_str()));
        if let Some(t) = &query.target_type {
            select = select.filter(audit_event::Column::TargetType.eq(t.as_str()));
        }
        if let Some(t) = &query.target_id {
            select = select.filter(audit_event::Column::TargetId.eq(t.as_str()));
        }
        if let Some(from) = query.from {
            select = select.filter(audit_event::Column::At.gte(from));
        }
        if let Some(to) = query.to {
            select = select.filter(audit_event::Column::At.lt(to));
        }
        let total = crate::count::count(select.clone(), &self.db.scan()).await?;
        let items = select
            .order_by_desc(audit_event::Column::At)
            .order_by_desc(audit_event::Column::Id)
            .offset(query.offset)
            .limit(query.limit)
            .all(&self.db.scan())
            .await?
            .into_iter()
            .map(Into::into)
            .collect();
        Ok(Page { total, items })
    }
}

#[cfg(test)]
mod tests {
    use migration::{Migrator, MigratorTrait};

    use crate::Store;

    /// The key-management migrations (000010-000012) can be rolled back and applied again.
    #[tokio::test]
    async fn key_migrations_go_down_and_up_again() {
        let path = std::env::temp_dir().join(format!("scimd-mig-{}.db", uuid::Uuid::new_v4()));
        let url = format!("sqlite://{}?mode=rwc", path.display());
        let store = Store::connect(&url, &Default::default()).await.unwrap();
        store.migrate().await.unwrap();
        // Debug never shows the URL (it may hold a password).
        assert!(!format!("{store:?}").contains(&url));
        let db = store.migration_connection().await.unwrap();
        Migrator::down(&db, Some(3)).await.unwrap();
        let pending = Migrator::get_pending_migrations(&db).await.unwrap();
        assert_eq!(pending.len(), 3);
        // The store's own reading of the migrator's table agrees.
        assert_eq!(store.pending_migrations().await.unwrap(), 3);
        Migrator::up(&db, None).await.unwrap();
        assert!(Migrator::get_pending_migrations(&db)
            .await
            .unwrap()
            .is_empty());
        assert_eq!(store.pending_migrations().await.unwrap(), 0);
        db.close().await.unwrap();
        store.close().await.unwrap();
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
    }
}
