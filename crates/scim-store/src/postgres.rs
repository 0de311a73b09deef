//! scimd's PostgreSQL connection pool under sea-orm: sqlx connections, each statement one round
//! trip.
//!
//! Why not sqlx's pool: it pings a connection (a round trip to the server) every time one comes
//! back to the pool, so every statement sea-orm ran cost two round trips, and on a 2-core machine
//! shared with the database the second one was a third of the server's work. This pool hands a
//! connection out and takes it back without asking the server anything. A connection that met a
//! connection-level error (I/O, protocol) is closed instead of returned, so after a database
//! restart each stale connection fails one statement (`503`) and is replaced; a statement whose
//! caller went away drops its connection with it (its state is unknown).
//!
//! Statements are bound exactly as sea-orm binds them for sqlx (sea-query-binder), and rows and
//! results are sea-orm's own `QueryResult`/`ExecResult` for sqlx rows, so errors, types and
//! unique-violation detection are the same as through sea-orm's pool.

use std::{
    str::FromStr,
    sync::{Arc, Mutex},
    time::Duration,
};

use sea_orm::{
    sqlx::{
        self,
        postgres::{PgConnectOptions, PgConnection},
        Connection, Executor,
    },
    DbBackend, DbErr, ExecResult, QueryResult, RuntimeErr, Statement,
};
use sea_query_binder::SqlxValues;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::db::lock;

/// The backend sea-orm builds statements for.
pub(crate) const BACKEND: DbBackend = DbBackend::Postgres;

struct Shared {
    options: PgConnectOptions,
    idle: Mutex<Vec<PgConnection>>,
    /// One permit per connection that may be open at once.
    permits: Arc<Semaphore>,
    max_connections: u32,
    acquire_timeout: Duration,
}

/// A pool of PostgreSQL connections.
#[derive(Clone)]
pub(crate) struct PgDb {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for PgDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgDb")
            .field("max_connections", &self.shared.max_connections)
            .finish_non_exhaustive()
    }
}

/// A connection taken from the pool; given back by [`Lease::release`], closed when dropped.
struct Lease {
    conn: Option<PgConnection>,
    _permit: OwnedSemaphorePermit,
    shared: Arc<Shared>,
}

impl Lease {
    fn conn(&mut self) -> Result<&mut PgConnection, DbErr> {
        self.conn
            .as_mut()
            .ok_or_else(|| DbErr::Conn(RuntimeErr::Internal("the connection was closed".into())))
    }

    /// Closes the connection instead of returning it.
    fn discard(mut self) {
        self.conn = None;
    }

    /// Returns the connection to the pool, unless `outcome` says it is broken.
    fn release<T>(mut self, outcome: &Result<T, sqlx::Error>) {
        let broken = outcome.as_ref().err().is_some_and(is_connection_error);
        if let (Some(conn), false) = (self.conn.take(), broken) {
            lock(&self.shared.idle).push(conn);
        }
    }
}

/// Errors after which the connection cannot be trusted (anything but an error the server
/// reported for the statement).
fn is_connection_error(e: &sqlx::Error) -> bool {
    !matches!(
        e,
        sqlx::Error::Database(_)
            | sqlx::Error::RowNotFound
            | sqlx::Error::ColumnNotFound(_)
            | sqlx::Error::ColumnDecode { .. }
            | sqlx::Error::Decode(_)
            | sqlx::Error::TypeNotFound { .. }
    )
}

fn query_err(e: sqlx::Error) -> DbErr {
    DbErr::Query(RuntimeErr::SqlxError(e))
}

fn exec_err(e: sqlx::Error) -> DbErr {
    DbErr::Exec(RuntimeErr::SqlxError(e))
}

fn query(stmt: &Statement) -> sqlx::query::Query<'_, sqlx::Postgres, SqlxValues> {
    let values = stmt
        .values
        .clone()
        .unwrap_or(sea_orm::sea_query::Values(Vec::new()));
    sqlx::query_with(&stmt.sql, SqlxValues(values))
}

impl PgDb {
    /// A pool for `url` of at most `max_connections`, waiting at most `acquire_timeout` for a
    /// connection; one connection is opened now, to fail early on a wrong URL.
    pub(crate) async fn connect(
        url: &str,
        max_connections: u32,
        acquire_timeout: Duration,
    ) -> Result<Self, DbErr> {
        let options =
            PgConnectOptions::from_str(url).map_err(|e| DbErr::Conn(RuntimeErr::SqlxError(e)))?;
        let db = Self {
            shared: Arc::new(Shared {
                options,
                idle: Mutex::new(Vec::new()),
                permits: Arc::new(Semaphore::new(max_connections.max(1) as usize)),
                max_connections: max_connections.max(1),
                acquire_timeout,
            }),
        };
        let lease = db.acquire().await?;
        lease.release::<()>(&Ok(()));
        Ok(db)
    }

    async fn acquire(&self) -> Result<Lease, DbErr> {
        let shared = &self.shared;
        let timed_out = || DbErr::ConnectionAcquire(sea_orm::ConnAcquireErr::Timeout);
        let permit = tokio::time::timeout(
            shared.acquire_timeout,
            shared.permits.clone().acquire_owned(),
        )
        .await
        .map_err(|_| timed_out())?
        .map_err(|_| DbErr::ConnectionAcquire(sea_orm::ConnAcquireErr::ConnectionClosed))?;
        let idle = lock(&shared.idle).pop();
        let conn = match idle {
            Some(conn) => conn,
            None => tokio::time::timeout(
                shared.acquire_timeout,
                PgConnection::connect_with(&shared.options),
            )
            .await
            .map_err(|_| timed_out())?
            .map_err(|e| DbErr::Conn(RuntimeErr::SqlxError(e)))?,
        };
        Ok(Lease {
            conn: Some(conn),
            _permit: permit,
            shared: shared.clone(),
        })
    }

    /// `(open, idle)` connections.
    pub(crate) fn pool_stats(&self) -> (u32, u32) {
        let idle = u32::try_from(lock(&self.shared.idle).len()).unwrap_or(u32::MAX);
        let busy = self.shared.max_connections
            - u32::try_from(self.shared.permits.available_permits()).unwrap_or(0);
        (busy + idle, idle)
    }

    pub(crate) async fn execute(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        let mut lease = self.acquire().await?;
        let out = query(&stmt).execute(lease.conn()?).await;
        lease.release(&out);
        out.map(ExecResult::from).map_err(exec_err)
    }

    pub(crate) async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        let mut lease = self.acquire().await?;
        let out = lease.conn()?.execute(sql).await;
        lease.release(&out);
        out.map(ExecResult::from).map_err(exec_err)
    }

    pub(crate) async fn query_one(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        let mut lease = self.acquire().await?;
        let out = query(&stmt).fetch_optional(lease.conn()?).await;
        lease.release(&out);
        out.map(|row| row.map(QueryResult::from)).map_err(query_err)
    }

    pub(crate) async fn query_all(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        let mut lease = self.acquire().await?;
        let out = query(&stmt).fetch_all(lease.conn()?).await;
        lease.release(&out);
        out.map(|rows| rows.into_iter().map(QueryResult::from).collect())
            .map_err(query_err)
    }

    /// Checks that the server answers.
    pub(crate) async fn ping(&self) -> Result<(), DbErr> {
        let mut lease = self.acquire().await?;
        let out = lease.conn()?.ping().await;
        lease.release(&out);
        out.map_err(|e| DbErr::Conn(RuntimeErr::SqlxError(e)))
    }

    /// Closes the idle connections and refuses new ones.
    pub(crate) async fn close(&self) {
        self.shared.permits.close();
        let idle: Vec<PgConnection> = std::mem::take(&mut *lock(&self.shared.idle));
        for conn in idle {
            let _ = conn.close().await;
        }
    }

    /// Begins a transaction on a connection of its own.
    pub(crate) async fn begin(&self) -> Result<PgTxn, DbErr> {
        let mut lease = self.acquire().await?;
        let out = lease.conn()?.execute("BEGIN").await;
        if let Err(e) = out {
            lease.discard();
            return Err(exec_err(e));
        }
        Ok(PgTxn {
            lease: tokio::sync::Mutex::new(Some(lease)),
        })
    }
}

/// A transaction holding its connection. Dropped without [`PgTxn::commit`], it is rolled back
/// (on a spawned task, then the connection goes back to the pool) or, outside a runtime, its
/// connection is closed, which ends the transaction on the server.
pub(crate) struct PgTxn {
    lease: tokio::sync::Mutex<Option<Lease>>,
}

impl std::fmt::Debug for PgTxn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgTxn").finish_non_exhaustive()
    }
}

fn finished() -> DbErr {
    DbErr::Exec(RuntimeErr::Internal("the transaction is over".into()))
}

impl PgTxn {
    pub(crate) async fn execute(&self, stmt: &Statement) -> Result<ExecResult, DbErr> {
        let mut guard = self.lease.lock().await;
        let lease = guard.as_mut().ok_or_else(finished)?;
        query(stmt)
            .execute(lease.conn()?)
            .await
            .map(ExecResult::from)
            .map_err(exec_err)
    }

    pub(crate) async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        let mut guard = self.lease.lock().await;
        let lease = guard.as_mut().ok_or_else(finished)?;
        lease
            .conn()?
            .execute(sql)
            .await
            .map(ExecResult::from)
            .map_err(exec_err)
    }

    pub(crate) async fn query_one(&self, stmt: &Statement) -> Result<Option<QueryResult>, DbErr> {
        let mut guard = self.lease.lock().await;
        let lease = guard.as_mut().ok_or_else(finished)?;
        query(stmt)
            .fetch_optional(lease.conn()?)
            .await
            .map(|row| row.map(QueryResult::from))
            .map_err(query_err)
    }

    pub(crate) async fn query_all(&self, stmt: &Statement) -> Result<Vec<QueryResult>, DbErr> {
        let mut guard = self.lease.lock().await;
        let lease = guard.as_mut().ok_or_else(finished)?;
        query(stmt)
            .fetch_all(lease.conn()?)
            .await
            .map(|rows| rows.into_iter().map(QueryResult::from).collect())
            .map_err(query_err)
    }

    /// Commits; the connection goes back to the pool unless it broke.
    pub(crate) async fn commit(self) -> Result<(), DbErr> {
        let Some(mut lease) = self.lease.lock().await.take() else {
            return Err(finished());
        };
        let out = lease.conn()?.execute("COMMIT").await;
        lease.release(&out);
        out.map(|_| ()).map_err(exec_err)
    }
}

impl Drop for PgTxn {
    fn drop(&mut self) {
        let Some(mut lease) = self.lease.get_mut().take() else {
            return;
        };
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            handle.spawn(async move {
                let out = match lease.conn() {
                    Ok(conn) => conn.execute("ROLLBACK").await.map(|_| ()),
                    Err(_) => return,
                };
                lease.release(&out);
            });
        }
        // Outside a runtime the lease is dropped here: the connection closes and the server
        // rolls the transaction back.
    }
}
