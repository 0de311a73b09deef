//! scimd's connections, below the repositories: PostgreSQL through scimd's pool of sqlx
//! connections ([`postgres`]), SQLite through scimd's own driver with group commit
//! ([`sqlite`]), the text of prepared statements ([`Prepared`]) and the request deadline's rule
//! for writes ([`deadline`]).
//!
//! One small interface: a [`Db`] (a pool) and a [`Txn`] (a write transaction) are sea-orm
//! connections ([`ConnectionTrait`]), so the store builds its statements with sea-orm and runs
//! them on either backend; [`Db::scan`] is the same connection for statements that are not
//! point lookups (filtered scans, counts, list pages), which must not hold the caller's thread;
//! a [`Snapshot`] is a read of several statements that all see one state (a response streamed in
//! parts).

// On the request path a panic must never be a request's normal failure (issue 18).
#![deny(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap,
    clippy::indexing_slicing
)]

pub mod deadline;
mod postgres;
mod prepared;
mod rows;
mod snapshot;
mod sqlite;

use std::time::Duration;

use sea_orm::{ConnectionTrait, DbBackend, DbErr, ExecResult, QueryResult, Statement};

pub use prepared::Prepared;
pub use rows::{FromRow, Row};
pub use snapshot::{Snapshot, SNAPSHOT_LIFETIME};
pub use sqlite::{codes as sqlite_codes, error_code as sqlite_error_code};

use crate::{
    postgres::{PgDb, PgTxn},
    sqlite::{SqliteDb, SqliteTxn},
};

/// Locks `m`; a panic while it was held leaves a usable connection or list behind.
pub(crate) fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

tokio::task_local! {
    /// Statements the current task sent, while [`count_statements`] watches it.
    static STATEMENTS: std::cell::Cell<u64>;
}

/// Counts one statement (or `BEGIN`/`COMMIT`) for the task, when it is being counted.
fn counted() {
    let _ = STATEMENTS.try_with(|n| n.set(n.get() + 1));
}

/// Runs `f` and counts the statements it sends to the database (each one a round trip on
/// PostgreSQL), `BEGIN` and `COMMIT` included, on this task only: tests that pin what a
/// request costs (docs/ARCHITECTURE.md) use it.
pub async fn count_statements<F: std::future::Future>(f: F) -> (F::Output, u64) {
    STATEMENTS
        .scope(std::cell::Cell::new(0), async {
            let out = f.await;
            (out, STATEMENTS.with(std::cell::Cell::get))
        })
        .await
}

/// Connection settings.
#[derive(Debug, Clone)]
pub struct DbOptions {
    /// Largest number of pooled connections (on SQLite: idle readers kept).
    pub max_connections: u32,
    /// How long a request waits for a pooled connection.
    pub acquire_timeout: Duration,
    /// How long one statement may run before the database stops it (`SCIMD_DB_STATEMENT_TIMEOUT_SECS`):
    /// every read on SQLite, every statement on PostgreSQL (`statement_timeout`).
    pub statement_timeout: Duration,
    /// PostgreSQL: a connection older than this is closed instead of reused.
    pub max_lifetime: Duration,
    /// PostgreSQL: a connection idle for longer than this is checked (one round trip) before
    /// it is handed out; one used more recently is handed out unchecked.
    pub idle_check_after: Duration,
}

impl Default for DbOptions {
    fn default() -> Self {
        Self {
            max_connections: 16,
            acquire_timeout: Duration::from_secs(10),
            statement_timeout: Duration::from_secs(10),
            max_lifetime: Duration::from_secs(30 * 60),
            idle_check_after: Duration::from_secs(60),
        }
    }
}

/// A pool of connections to SQLite or PostgreSQL.
#[derive(Debug, Clone)]
pub struct Db(Pool);

#[derive(Debug, Clone)]
enum Pool {
    Postgres(PgDb),
    /// SQLite, point lookups driven on the caller's thread.
    Sqlite(SqliteDb),
}

/// A write transaction; dropped without [`Txn::commit`], it rolls back.
#[derive(Debug)]
pub struct Txn(Open);

#[derive(Debug)]
enum Open {
    Postgres(PgTxn),
    Sqlite(SqliteTxn),
}

/// [`Db`] for a statement that is not a point lookup: on SQLite it runs on a blocking thread
/// (an actix worker serving other tenants is never held by a long scan), under the statement
/// deadline, and is interrupted when its caller goes away.
#[derive(Debug, Clone, Copy)]
pub struct Scan<'a>(&'a Db);

/// [`Db`] for bookkeeping writes (`lastUsedAt`, console sessions, once-a-day audit rows): a
/// request whose only write so far is bookkeeping can still be given up at its deadline (see
/// [`deadline`]); every other write takes its request out of the deadline's reach.
#[derive(Debug, Clone, Copy)]
pub struct Bookkeeping<'a>(&'a Db);

impl Db {
    /// Connects to `url` (`sqlite://path?mode=rwc` or `postgres://...`).
    pub async fn connect(url: &str, options: &DbOptions) -> Result<Self, DbErr> {
        if url.starts_with("sqlite:") {
            let target = sqlite::SqliteTarget::parse(url)?;
            Ok(Self(Pool::Sqlite(SqliteDb::open(target, options)?)))
        } else {
            Ok(Self(Pool::Postgres(PgDb::connect(url, options).await?)))
        }
    }

    /// Begins a transaction (on SQLite, holding the write lock from the start).
    pub async fn begin(&self) -> Result<Txn, DbErr> {
        counted();
        match &self.0 {
            Pool::Postgres(db) => Ok(Txn(Open::Postgres(db.begin().await?))),
            Pool::Sqlite(db) => Ok(Txn(Open::Sqlite(db.begin().await?))),
        }
    }

    /// This connection, for statements that scan (see [`Scan`]).
    pub fn scan(&self) -> Scan<'_> {
        Scan(self)
    }

    /// A list page (its rows decoded by `T`) and, when `needs_count` (given the number of rows
    /// on the page) says so, the number of all matches (`count`, a statement whose one row has
    /// `num_items`). On SQLite
    /// both run on a blocking thread in one hand-over (see [`Scan`]).
    pub async fn scan_page<T: FromRow>(
        &self,
        page: Statement,
        count: Statement,
        needs_count: impl FnOnce(usize) -> bool + Send + 'static,
    ) -> Result<(Vec<T>, Option<u64>), DbErr> {
        fn total(row: Option<&QueryResult>) -> Result<u64, DbErr> {
            let n: i64 = match row {
                Some(row) => row.try_get("", "num_items")?,
                None => 0,
            };
            Ok(u64::try_from(n).unwrap_or(0))
        }
        counted();
        match &self.0 {
            Pool::Postgres(db) => {
                let rows: Vec<T> = db.read(&page).await?;
                let n = if needs_count(rows.len()) {
                    counted();
                    Some(total(db.query_one(count, true).await?.as_ref())?)
                } else {
                    None
                };
                Ok((rows, n))
            }
            Pool::Sqlite(db) => {
                db.scan_with(move |conn| {
                    let rows: Vec<T> = sqlite::typed_rows(conn, &page, usize::MAX, true)?;
                    let n = if needs_count(rows.len()) {
                        Some(total(sqlite::read_only(conn, &count, 1)?.first())?)
                    } else {
                        None
                    };
                    Ok((rows, n))
                })
                .await
            }
        }
    }

    /// The first column of the first row of `stmt` (a read) as an integer, without sea-orm's
    /// row maps: for a statement that runs on every request and answers one number (the key
    /// cache's counter).
    pub async fn read_i64(&self, stmt: Statement) -> Result<Option<i64>, DbErr> {
        counted();
        match &self.0 {
            Pool::Postgres(db) => db.read_i64(&stmt).await,
            Pool::Sqlite(db) => db.read_i64(&stmt),
        }
    }

    /// This connection, for bookkeeping writes (see [`Bookkeeping`]).
    pub fn bookkeeping(&self) -> Bookkeeping<'_> {
        Bookkeeping(self)
    }

    async fn execute_as(&self, stmt: Statement, guarded: bool) -> Result<ExecResult, DbErr> {
        counted();
        match &self.0 {
            Pool::Postgres(db) => db.execute(stmt, guarded).await,
            Pool::Sqlite(db) => db.execute(stmt, guarded).await,
        }
    }

    async fn execute_unprepared_as(&self, sql: &str, guarded: bool) -> Result<ExecResult, DbErr> {
        counted();
        match &self.0 {
            Pool::Postgres(db) => db.execute_unprepared(sql, guarded).await,
            Pool::Sqlite(db) => db.execute_unprepared(sql, guarded).await,
        }
    }

    async fn query_one_as(
        &self,
        stmt: Statement,
        guarded: bool,
    ) -> Result<Option<QueryResult>, DbErr> {
        counted();
        match &self.0 {
            Pool::Postgres(db) => db.query_one(stmt, guarded).await,
            Pool::Sqlite(db) => db.query_one(stmt, guarded).await,
        }
    }

    async fn query_all_as(
        &self,
        stmt: Statement,
        guarded: bool,
    ) -> Result<Vec<QueryResult>, DbErr> {
        counted();
        match &self.0 {
            Pool::Postgres(db) => db.query_all(stmt, guarded).await,
            Pool::Sqlite(db) => db.query_all(stmt, guarded).await,
        }
    }

    /// Checks that the database answers.
    pub async fn ping(&self) -> Result<(), DbErr> {
        match &self.0 {
            Pool::Postgres(db) => db.ping().await,
            Pool::Sqlite(db) => db.ping(),
        }
    }

    /// The pool's `(open, idle)` connections, for metrics.
    pub fn pool_stats(&self) -> (u32, u32) {
        match &self.0 {
            Pool::Postgres(db) => db.pool_stats(),
            Pool::Sqlite(db) => db.pool_stats(),
        }
    }

    /// Closes the pool.
    pub async fn close(&self) {
        match &self.0 {
            Pool::Postgres(db) => db.close().await,
            Pool::Sqlite(db) => db.close(),
        }
    }
}

/// A connection that reads rows straight into the caller's types ([`FromRow`], by column
/// position, without sea-orm's per-row maps): a [`Db`], a [`Txn`] or a [`Snapshot`].
#[async_trait::async_trait]
pub trait ReadRows {
    /// The rows of `stmt` (a point read, not a scan), decoded by `T`.
    async fn read<T: FromRow>(&self, stmt: Statement) -> Result<Vec<T>, DbErr>;

    /// The first row of `stmt`, decoded by `T`.
    async fn read_one<T: FromRow>(&self, stmt: Statement) -> Result<Option<T>, DbErr> {
        Ok(self.read(stmt).await?.into_iter().next())
    }
}

#[async_trait::async_trait]
impl ReadRows for Db {
    async fn read<T: FromRow>(&self, stmt: Statement) -> Result<Vec<T>, DbErr> {
        counted();
        match &self.0 {
            Pool::Postgres(db) => db.read(&stmt).await,
            Pool::Sqlite(db) => db.read(&stmt),
        }
    }
}

#[async_trait::async_trait]
impl ReadRows for Txn {
    async fn read<T: FromRow>(&self, stmt: Statement) -> Result<Vec<T>, DbErr> {
        counted();
        match &self.0 {
            Open::Postgres(txn) => txn.read(&stmt).await,
            Open::Sqlite(txn) => txn.read(&stmt),
        }
    }
}

impl Txn {
    /// Commits the transaction.
    pub async fn commit(self) -> Result<(), DbErr> {
        counted();
        match self.0 {
            Open::Postgres(txn) => txn.commit().await,
            Open::Sqlite(txn) => txn.commit().await,
        }
    }
}

#[async_trait::async_trait]
impl ConnectionTrait for Scan<'_> {
    fn get_database_backend(&self) -> DbBackend {
        self.0.get_database_backend()
    }

    async fn execute(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        self.0.execute(stmt).await
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        self.0.execute_unprepared(sql).await
    }

    async fn query_one(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        counted();
        match &self.0 .0 {
            Pool::Postgres(db) => db.query_one(stmt, true).await,
            Pool::Sqlite(db) => Ok(db.scan(stmt, 1).await?.into_iter().next()),
        }
    }

    async fn query_all(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        counted();
        match &self.0 .0 {
            Pool::Postgres(db) => db.query_all(stmt, true).await,
            Pool::Sqlite(db) => db.scan(stmt, usize::MAX).await,
        }
    }
}

#[async_trait::async_trait]
impl ConnectionTrait for Db {
    fn get_database_backend(&self) -> DbBackend {
        match &self.0 {
            Pool::Postgres(_) => postgres::BACKEND,
            Pool::Sqlite(_) => sqlite::BACKEND,
        }
    }

    async fn execute(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        self.execute_as(stmt, true).await
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        self.execute_unprepared_as(sql, true).await
    }

    async fn query_one(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        self.query_one_as(stmt, true).await
    }

    async fn query_all(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        self.query_all_as(stmt, true).await
    }
}

#[async_trait::async_trait]
impl ConnectionTrait for Bookkeeping<'_> {
    fn get_database_backend(&self) -> DbBackend {
        self.0.get_database_backend()
    }

    async fn execute(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        self.0.execute_as(stmt, false).await
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        self.0.execute_unprepared_as(sql, false).await
    }

    async fn query_one(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        self.0.query_one_as(stmt, false).await
    }

    async fn query_all(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        self.0.query_all_as(stmt, false).await
    }
}

#[async_trait::async_trait]
impl ConnectionTrait for Txn {
    fn get_database_backend(&self) -> DbBackend {
        match &self.0 {
            Open::Postgres(_) => postgres::BACKEND,
            Open::Sqlite(_) => sqlite::BACKEND,
        }
    }

    async fn execute(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        counted();
        match &self.0 {
            Open::Postgres(txn) => txn.execute(&stmt).await,
            Open::Sqlite(txn) => txn.execute(&stmt),
        }
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        counted();
        match &self.0 {
            Open::Postgres(txn) => txn.execute_unprepared(sql).await,
            Open::Sqlite(txn) => txn.execute_unprepared(sql),
        }
    }

    async fn query_one(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        counted();
        match &self.0 {
            Open::Postgres(txn) => txn.query_one(&stmt).await,
            Open::Sqlite(txn) => txn.query_one(&stmt),
        }
    }

    async fn query_all(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        counted();
        match &self.0 {
            Open::Postgres(txn) => txn.query_all(&stmt).await,
            Open::Sqlite(txn) => txn.query_all(&stmt),
        }
    }
}
