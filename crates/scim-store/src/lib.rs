//! Persistence of scimd: sea-orm entities and tenant-scoped repositories on SQLite or
//! PostgreSQL. Every function that touches tenant data takes the tenant first, and the current
//! time is passed in by the caller (the HTTP edge or the scheduler), never read here.

mod api_keys;
mod audit;
mod console_sessions;
mod db;
pub mod entity;
mod error;
mod expiry;
mod filter;
mod groups;
mod machines;
mod members;
mod patch;
mod postgres;
mod prepared;
mod resources;
mod settings;
mod sqlite;
mod tenants;
mod users;

use std::sync::Arc;
use std::time::Duration;

use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend};

pub use api_keys::{ApiKey, NewApiKey};
pub use api_keys::{KeyPlacement, KeyRotation, KeyUpdate, LAST_USED_RESOLUTION};
pub use audit::{Actor, AuditEvent, AuditQuery};
pub use console_sessions::ConsoleSession;
pub use error::StoreError;
pub use expiry::{ClaimedNotice, ExpiryNotice, NoticeQuery, NoticeStatus, QueuedNotices};
pub use machines::{Machine, MachinePatch};
pub use patch::{PatchDecision, PatchFailure, Patched};
pub use resources::{ListPage, ListQuery, Pagination, SortOrder};
pub use settings::{enterprise_clash_message, ScimSettings, ScimSwitch, IGNORED_ATTRIBUTE_ACTION};
pub use tenants::{Tenant, TenantId};

/// Result of a store call.
pub type StoreResult<T> = Result<T, StoreError>;

/// One page of a list, with the number of all matches.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    /// Number of items matching the query, whatever the page.
    pub total: u64,
    /// The items of this page, in stable order.
    pub items: Vec<T>,
}

/// Connection settings of the store.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// Largest number of pooled connections.
    pub max_connections: u32,
    /// How long a request waits for a pooled connection.
    pub acquire_timeout: Duration,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            max_connections: 16,
            acquire_timeout: Duration::from_secs(10),
        }
    }
}

/// The scimd database: a pooled connection to SQLite or PostgreSQL.
#[derive(Clone)]
pub struct Store {
    db: db::Db,
    /// The URL connected to (the migrator opens its own short-lived connection with it). It
    /// may hold a password: never printed.
    url: Arc<str>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.backend_name())
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Connects to `url` (`sqlite://path?mode=rwc` or `postgres://...`).
    pub async fn connect(url: &str, options: &StoreOptions) -> StoreResult<Self> {
        let db = if url.starts_with("sqlite:") {
            let target = sqlite::SqliteTarget::parse(url)?;
            db::Db::Sqlite(sqlite::SqliteDb::open(
                target,
                options.max_connections as usize,
            )?)
        } else {
            db::Db::Postgres(
                postgres::PgDb::connect(url, options.max_connections, options.acquire_timeout)
                    .await?,
            )
        };
        Ok(Self {
            db,
            url: Arc::from(url),
        })
    }

    /// A short-lived sea-orm connection (sqlx, one connection) for the migrator.
    pub(crate) async fn migration_connection(&self) -> StoreResult<DatabaseConnection> {
        let mut opts = ConnectOptions::new(self.url.to_string());
        opts.max_connections(1)
            .min_connections(0)
            .sqlx_logging(false);
        Ok(Database::connect(opts).await?)
    }

    /// Applies every pending migration.
    pub async fn migrate(&self) -> StoreResult<()> {
        let conn = self.migration_connection().await?;
        let result = Migrator::up(&conn, None).await;
        conn.close().await?;
        Ok(result?)
    }

    /// `sqlite` or `postgres`.
    pub fn backend_name(&self) -> &'static str {
        match self.db.get_database_backend() {
            DbBackend::Sqlite => "sqlite",
            DbBackend::Postgres => "postgres",
            DbBackend::MySql => "mysql",
        }
    }

    /// How many migrations this binary knows that the database has not applied (for readiness:
    /// an old schema is not ready). Also checks that the database answers.
    pub async fn pending_migrations(&self) -> StoreResult<usize> {
        // Read the migrator's table directly (no second connection per probe).
        let stmt = sea_orm::Statement::from_string(
            self.db.get_database_backend(),
            "SELECT version FROM seaql_migrations",
        );
        let applied: std::collections::HashSet<String> = match self.db.query_all(stmt).await {
            Ok(rows) => rows
                .iter()
                .map(|r| r.try_get::<String>("", "version"))
                .collect::<Result<_, _>>()?,
            // No table yet: nothing applied. A database that does not answer is an error.
            Err(e) => match StoreError::from(e) {
                StoreError::Unavailable(e) => return Err(StoreError::Unavailable(e)),
                _ => Default::default(),
            },
        };
        Ok(Migrator::migrations()
            .iter()
            .filter(|m| !applied.contains(m.name()))
            .count())
    }

    /// Checks that the database answers (for readiness probes).
    pub async fn ping(&self) -> StoreResult<()> {
        match &self.db {
            db::Db::Postgres(db) => db.ping().await?,
            db::Db::Sqlite(db) => db.ping()?,
        }
        Ok(())
    }

    /// The pool's `(open, idle)` connections, for metrics.
    pub fn pool_stats(&self) -> Option<(u32, u32)> {
        match &self.db {
            db::Db::Postgres(db) => Some(db.pool_stats()),
            db::Db::Sqlite(db) => Some(db.pool_stats()),
        }
    }

    /// Runs one SQL statement as is. For operator tooling and test harnesses (creating and
    /// dropping databases); never called with request data.
    pub async fn execute_unprepared(&self, sql: &str) -> StoreResult<()> {
        self.db.execute_unprepared(sql).await?;
        Ok(())
    }

    /// Closes the pool.
    pub async fn close(self) -> StoreResult<()> {
        match self.db {
            db::Db::Postgres(db) => db.close().await,
            db::Db::Sqlite(db) => db.close(),
        }
        Ok(())
    }
}
