//! Persistence of scimd: sea-orm entities and tenant-scoped repositories on SQLite or
//! PostgreSQL. Every function that touches tenant data takes the tenant first, and the current
//! time is passed in by the caller (the HTTP edge or the scheduler), never read here.

mod api_keys;
mod audit;
mod console_sessions;
pub mod entity;
mod error;
mod expiry;
mod filter;
mod groups;
mod machines;
mod members;
mod patch;
mod resources;
mod settings;
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
pub use settings::{ScimSettings, ScimSwitch, IGNORED_ATTRIBUTE_ACTION};
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
#[derive(Debug, Clone)]
pub struct Store {
    db: DatabaseConnection,
    /// SQLite only: the turn of this process's writers. SQLite admits one writer at a time and
    /// makes the others retry on a sleeping back-off (up to 100 ms a try), which under
    /// concurrent writes turns into p99 latencies of hundreds of milliseconds; queueing the
    /// writers here instead hands the write lock over the moment it is released.
    writers: Option<Arc<tokio::sync::Mutex<()>>>,
}

impl Store {
    /// Connects to `url` (`sqlite://path?mode=rwc` or `postgres://...`).
    pub async fn connect(url: &str, options: &StoreOptions) -> StoreResult<Self> {
        let mut opts = ConnectOptions::new(url.to_owned());
        opts.max_connections(options.max_connections)
            .min_connections(1)
            .acquire_timeout(options.acquire_timeout)
            .connect_timeout(options.acquire_timeout)
            .sqlx_logging(false);
        let db = Database::connect(opts).await?;
        if db.get_database_backend() == DbBackend::Sqlite {
            // WAL lets readers proceed while one writer commits; the setting is kept in the file.
            db.execute_unprepared("PRAGMA journal_mode=WAL").await?;
        }
        let writers = (db.get_database_backend() == DbBackend::Sqlite)
            .then(|| Arc::new(tokio::sync::Mutex::new(())));
        Ok(Self { db, writers })
    }

    /// Waits for this process's turn to write (SQLite), held until the guard is dropped; on
    /// PostgreSQL writers proceed at once and row locks order them. Never taken twice by one
    /// call chain: the functions that take it call no other function that does.
    pub(crate) async fn write_turn(&self) -> Option<tokio::sync::MutexGuard<'_, ()>> {
        match &self.writers {
            Some(m) => Some(m.lock().await),
            None => None,
        }
    }

    /// Applies every pending migration.
    pub async fn migrate(&self) -> StoreResult<()> {
        Migrator::up(&self.db, None).await?;
        Ok(())
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
        Ok(Migrator::get_pending_migrations(&self.db).await?.len())
    }

    /// Checks that the database answers (for readiness probes).
    pub async fn ping(&self) -> StoreResult<()> {
        self.db.ping().await?;
        Ok(())
    }

    /// The pool's `(open, idle)` connections, for metrics.
    pub fn pool_stats(&self) -> Option<(u32, u32)> {
        match self.db.get_database_backend() {
            DbBackend::Postgres => {
                let pool = self.db.get_postgres_connection_pool();
                Some((
                    pool.size(),
                    u32::try_from(pool.num_idle()).unwrap_or(u32::MAX),
                ))
            }
            DbBackend::Sqlite => {
                let pool = self.db.get_sqlite_connection_pool();
                Some((
                    pool.size(),
                    u32::try_from(pool.num_idle()).unwrap_or(u32::MAX),
                ))
            }
            DbBackend::MySql => None,
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
        self.db.close().await?;
        Ok(())
    }
}
