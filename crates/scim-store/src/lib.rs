//! Persistence of scimd: sea-orm entities and tenant-scoped repositories on SQLite or
//! PostgreSQL. Every function that touches tenant data takes the tenant first, and the current
//! time is passed in by the caller (the HTTP edge or the scheduler), never read here.

// On the request path a panic must never be a request's normal failure: no lossy casts, no
// indexing that can go out of bounds (issue 18).
#![deny(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap,
    clippy::indexing_slicing
)]

mod activity;
mod api_keys;
mod audit;
mod console_sessions;
mod count;
mod cursor;
pub mod entity;
mod error;
mod event_streams;
mod events;
mod expiry;
mod filter;
mod groups;
mod machines;
mod member_chunks;
mod members;
mod oauth;
mod patch;
mod positions;
mod prepared_statements;
mod resources;
mod settings;
mod stored;
mod tenants;
mod users;
mod webhooks;

use std::sync::Arc;

use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, DbErr};

pub use activity::{
    activity_id, hour_of, ActivityCount, ActivityPage, ActivityQuery, ActivityRecord,
    ActivitySettings, ActivityWritten, NewActivity, StatusFilter, MAX_PAGE as MAX_ACTIVITY_PAGE,
    RETENTION_DAYS as ACTIVITY_RETENTION_DAYS,
};
pub use api_keys::{ApiKey, NewApiKey};
pub use api_keys::{KeyPlacement, KeyRotation, KeyUpdate, LAST_USED_RESOLUTION};
pub use audit::{Actor, AuditEvent, AuditQuery};
pub use console_sessions::ConsoleSession;
pub use error::StoreError;
pub use event_streams::{
    DeliveryBacklog, EventStream, EventStreamSettings, NewEventStream, PollSecret,
    MAX_EVENT_STREAMS_PER_TENANT,
};
pub use events::{
    Capture, ChangeOrigin, Event, EventActor, EventPage, EventQuery, EventSettings, EventStart,
    NewEvent, Written, DEFAULT_RETENTION_DAYS as DEFAULT_EVENT_RETENTION_DAYS,
    MAX_PAGE as MAX_EVENT_PAGE, RETENTION_DAYS as EVENT_RETENTION_DAYS,
};
pub use expiry::{
    ClaimedNotice, ExpiryNotice, NoticeKind, NoticeQuery, NoticeStatus, QueuedNotices,
};
pub use machines::{Machine, MachinePatch};
pub use member_chunks::{MemberChunks, MEMBER_CHUNK};
pub use members::NamedMember;
pub use oauth::{
    AccessTokenGrant, NewAccessToken, OAuthSettings, DEFAULT_ACCESS_TOKEN_LIFETIME_SECS,
    MAX_LIVE_TOKENS_PER_KEY,
};
pub use patch::{PatchDecision, PatchFailure, PatchOutcome, PatchRelations, Patched};
pub use resources::{ListPage, ListQuery, Pagination, SortOrder};
pub use scim_db::{count_statements, SNAPSHOT_LIFETIME};
pub use settings::{
    enterprise_clash_message, IgnoredNote, ScimSettings, ScimSwitch, IGNORED_ATTRIBUTE_ACTION,
};
pub use tenants::{Tenant, TenantId};
pub use webhooks::{
    AttemptOutcome, ClaimedWebhook, Destination, NewWebhook, ResendSelection, Webhook,
    WebhookAttempt, WebhookSettings, MAX_RESENDS, MAX_WEBHOOKS_PER_TENANT,
};

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
pub type StoreOptions = scim_db::DbOptions;

/// The scimd database: a pooled connection to SQLite or PostgreSQL.
#[derive(Clone)]
pub struct Store {
    db: scim_db::Db,
    /// The URL connected to (the migrator opens its own short-lived connection with it). It
    /// may hold a password: never printed.
    url: Arc<str>,
    /// The HMAC key of pagination cursors, read (or created) on first use.
    cursor_key: Arc<tokio::sync::OnceCell<cursor::CursorKey>>,
    /// Where deep `startIndex` pages start (see [`positions`]).
    positions: Arc<positions::Positions>,
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
        let db = scim_db::Db::connect(url, options).await?;
        Ok(Self {
            db,
            url: Arc::from(url),
            cursor_key: Arc::default(),
            positions: Arc::default(),
        })
    }

    /// The HMAC key of pagination cursors: the server secret `cursor.hmac`.
    pub(crate) async fn cursor_key(&self) -> StoreResult<&cursor::CursorKey> {
        self.cursor_key
            .get_or_try_init(|| async {
                let secret = self.server_secret("cursor.hmac").await?;
                cursor::CursorKey::from_hex(&secret).ok_or_else(|| {
                    StoreError::Db(sea_orm::DbErr::Custom(
                        "server_keys holds a malformed cursor key".into(),
                    ))
                })
            })
            .await
    }

    /// The server secret `name` (256 random bits, hex) shared by every process of this
    /// database: the one in `server_keys`, created there by the first process that needs it
    /// (insert if absent, then read, so concurrent first uses on several processes agree).
    pub async fn server_secret(&self, name: &str) -> StoreResult<String> {
        use entity::server_key;
        use sea_orm::{sea_query::OnConflict, ActiveValue::Set, EntityTrait};
        server_key::Entity::insert(server_key::ActiveModel {
            name: Set(name.to_owned()),
            secret: Set(cursor::CursorKey::random_hex()),
            // Bookkeeping of an internal secret, not request data: the clock is read here.
            created_at: Set(chrono::Utc::now()),
        })
        .on_conflict(
            OnConflict::column(server_key::Column::Name)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(&self.db.bookkeeping())
        .await?;
        Ok(server_key::Entity::find_by_id(name)
            .one(&self.db)
            .await?
            .ok_or(StoreError::NotFound)?
            .secret)
    }

    /// A short-lived sea-orm connection (sqlx, one connection) for the migrator.
    ///
    /// The sqlx pool is built here rather than by `sea_orm::Database::connect` so that it has
    /// no idle timeout and no maximum lifetime, hence no maintenance task: sqlx 0.8's reaper
    /// can spin forever at full CPU when its first sweep races the migrator's first statement
    /// (an idle-count underflow, transact-rs/sqlx#3645), which hung `scimd` CLI commands.
    pub(crate) async fn migration_connection(&self) -> StoreResult<DatabaseConnection> {
        use sea_orm::sqlx::{self, ConnectOptions as _};
        use std::str::FromStr as _;
        let sqlx_err = |e: sqlx::Error| DbErr::Conn(sea_orm::RuntimeErr::SqlxError(e));
        fn pool<DB: sqlx::Database>() -> sqlx::pool::PoolOptions<DB> {
            sqlx::pool::PoolOptions::new()
                .max_connections(1)
                .min_connections(0)
                .idle_timeout(None)
                .max_lifetime(None)
        }
        Ok(if self.url.starts_with("sqlite:") {
            let opts = sqlx::sqlite::SqliteConnectOptions::from_str(&self.url)
                .map_err(sqlx_err)?
                .disable_statement_logging();
            sea_orm::SqlxSqliteConnector::from_sqlx_sqlite_pool(
                pool().connect_with(opts).await.map_err(sqlx_err)?,
            )
        } else {
            let opts = sqlx::postgres::PgConnectOptions::from_str(&self.url)
                .map_err(sqlx_err)?
                .disable_statement_logging();
            sea_orm::SqlxPostgresConnector::from_sqlx_postgres_pool(
                pool().connect_with(opts).await.map_err(sqlx_err)?,
            )
        })
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
        Ok(self.db.ping().await?)
    }

    /// The pool's `(open, idle)` connections, for metrics.
    pub fn pool_stats(&self) -> Option<(u32, u32)> {
        Some(self.db.pool_stats())
    }

    /// Runs one SQL statement as is. For operator tooling and test harnesses (creating and
    /// dropping databases); never called with request data.
    pub async fn execute_unprepared(&self, sql: &str) -> StoreResult<()> {
        self.db.execute_unprepared(sql).await?;
        Ok(())
    }

    /// Closes the pool.
    pub async fn close(self) -> StoreResult<()> {
        self.db.close().await;
        Ok(())
    }
}
