//! The store's connection: PostgreSQL through scimd's pool of sqlx connections
//! ([`crate::postgres`]), SQLite through scimd's own driver ([`crate::sqlite`]). Both are sea-orm
//! connections ([`ConnectionTrait`]), so every repository builds its statements once with
//! sea-orm and runs them on either.

use sea_orm::{ConnectionTrait, DbBackend, DbErr, ExecResult, QueryResult, Statement};

use sea_orm::{
    sea_query::{Alias, Expr, Query},
    EntityTrait, QueryTrait, Select,
};

use crate::{
    postgres::{PgDb, PgTxn},
    sqlite::{SqliteDb, SqliteTxn},
};

/// Locks `m`; a panic while it was held leaves a usable connection or list behind.
pub(crate) fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// How many rows `select` matches (`COUNT(*)` over it, read as a 64-bit integer on every
/// backend; sea-orm's own `count` reads a 32-bit one on SQLite).
pub(crate) async fn count<E: EntityTrait, C: ConnectionTrait>(
    select: Select<E>,
    db: &C,
) -> Result<u64, DbErr> {
    let mut inner = select.into_query();
    inner.clear_order_by().reset_limit().reset_offset();
    let stmt = Query::select()
        .expr_as(Expr::cust("COUNT(*)"), Alias::new("num_items"))
        .from_subquery(inner, Alias::new("sub_query"))
        .to_owned();
    let row = db.query_one(db.get_database_backend().build(&stmt)).await?;
    let n: i64 = match row {
        Some(row) => row.try_get("", "num_items")?,
        None => 0,
    };
    Ok(u64::try_from(n).unwrap_or(0))
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

/// A pooled connection to the database.
#[derive(Debug, Clone)]
pub(crate) enum Db {
    /// PostgreSQL.
    Postgres(PgDb),
    /// SQLite, driven on the caller's thread.
    Sqlite(SqliteDb),
}

/// A write transaction; dropped without [`Txn::commit`], it rolls back.
#[derive(Debug)]
pub(crate) enum Txn {
    Postgres(PgTxn),
    Sqlite(SqliteTxn),
}

impl Db {
    /// Begins a transaction (on SQLite, holding the write lock from the start).
    pub(crate) async fn begin(&self) -> Result<Txn, DbErr> {
        counted();
        match self {
            Self::Postgres(db) => Ok(Txn::Postgres(db.begin().await?)),
            Self::Sqlite(db) => Ok(Txn::Sqlite(db.begin().await?)),
        }
    }
}

impl Txn {
    /// Commits the transaction.
    pub(crate) async fn commit(self) -> Result<(), DbErr> {
        counted();
        match self {
            Self::Postgres(txn) => txn.commit().await,
            Self::Sqlite(txn) => txn.commit().await,
        }
    }
}

#[async_trait::async_trait]
impl ConnectionTrait for Db {
    fn get_database_backend(&self) -> DbBackend {
        match self {
            Self::Postgres(_) => crate::postgres::BACKEND,
            Self::Sqlite(_) => crate::sqlite::BACKEND,
        }
    }

    async fn execute(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        counted();
        match self {
            Self::Postgres(db) => db.execute(stmt).await,
            Self::Sqlite(db) => db.execute(stmt).await,
        }
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        counted();
        match self {
            Self::Postgres(db) => db.execute_unprepared(sql).await,
            Self::Sqlite(db) => db.execute_unprepared(sql).await,
        }
    }

    async fn query_one(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        counted();
        match self {
            Self::Postgres(db) => db.query_one(stmt).await,
            Self::Sqlite(db) => db.query_one(stmt).await,
        }
    }

    async fn query_all(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        counted();
        match self {
            Self::Postgres(db) => db.query_all(stmt).await,
            Self::Sqlite(db) => db.query_all(stmt).await,
        }
    }
}

#[async_trait::async_trait]
impl ConnectionTrait for Txn {
    fn get_database_backend(&self) -> DbBackend {
        match self {
            Self::Postgres(_) => crate::postgres::BACKEND,
            Self::Sqlite(_) => crate::sqlite::BACKEND,
        }
    }

    async fn execute(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        counted();
        match self {
            Self::Postgres(txn) => txn.execute(&stmt).await,
            Self::Sqlite(txn) => txn.execute(&stmt),
        }
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        counted();
        match self {
            Self::Postgres(txn) => txn.execute_unprepared(sql).await,
            Self::Sqlite(txn) => txn.execute_unprepared(sql),
        }
    }

    async fn query_one(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        counted();
        match self {
            Self::Postgres(txn) => txn.query_one(&stmt).await,
            Self::Sqlite(txn) => txn.query_one(&stmt),
        }
    }

    async fn query_all(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        counted();
        match self {
            Self::Postgres(txn) => txn.query_all(&stmt).await,
            Self::Sqlite(txn) => txn.query_all(&stmt),
        }
    }
}
