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
//! Deadlines and health, without a round trip per statement: every session runs with
//! `statement_timeout` (the server stops a statement at the deadline) and with server-side TCP
//! keepalives (sqlx 0.8 has no client socket option; the server drops the session of a client
//! that vanished); every statement also has a client-side deadline a little past the server's,
//! after which its connection is discarded (a server that vanished costs one deadline, not the
//! kernel's 15-minute retransmission timeout). A connection older than the maximum lifetime is
//! closed instead of reused, one idle for longer than a minute is pinged before it is handed
//! out (never one used more recently), and a transaction dropped in the middle of a statement
//! closes its connection instead of rolling back on it.
//!
//! Statements are bound exactly as sea-orm binds them for sqlx (sea-query-binder), and rows and
//! results are sea-orm's own `QueryResult`/`ExecResult` for sqlx rows, so errors, types and
//! unique-violation detection are the same as through sea-orm's pool.

use std::{
    future::Future,
    str::FromStr,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
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

use crate::{
    lock,
    rows::{FromRow, PgRow},
    DbOptions,
};

/// How long past the server's `statement_timeout` the client waits for an answer before it
/// takes the connection for dead.
const CLIENT_GRACE: Duration = Duration::from_secs(5);
/// Server-side TCP keepalive of every session: first probe after this many idle seconds ...
const KEEPALIVE_IDLE_SECS: u32 = 60;
/// ... then one probe every this many seconds, and the session is dropped after six misses.
const KEEPALIVE_INTERVAL_SECS: u32 = 10;

/// The backend sea-orm builds statements for.
pub(crate) const BACKEND: DbBackend = DbBackend::Postgres;

struct Shared {
    options: PgConnectOptions,
    idle: Mutex<Vec<Pooled>>,
    /// One permit per connection that may be open at once.
    permits: Arc<Semaphore>,
    max_connections: u32,
    acquire_timeout: Duration,
    /// Client-side deadline of one statement.
    statement_deadline: Duration,
    max_lifetime: Duration,
    idle_check_after: Duration,
}

/// A connection with its age and its last use.
struct Pooled {
    conn: PgConnection,
    opened: Instant,
    used: Instant,
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
    opened: Instant,
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

    /// Returns the connection to the pool, unless `outcome` says it is broken or it has lived
    /// its lifetime.
    fn release<T>(mut self, outcome: &Result<T, sqlx::Error>) {
        let broken = outcome.as_ref().err().is_some_and(is_connection_error);
        let expired = self.opened.elapsed() >= self.shared.max_lifetime;
        if let (Some(conn), false, false) = (self.conn.take(), broken, expired) {
            lock(&self.shared.idle).push(Pooled {
                conn,
                opened: self.opened,
                used: Instant::now(),
            });
        }
    }
}

/// Errors after which the connection cannot be trusted (anything but an error the server
/// reported for the statement).
fn is_connection_error(e: &sqlx::Error) -> bool {
    if let sqlx::Error::Database(db) = e {
        // The server ends the session after these (a FATAL such as 57P01 "terminating
        // connection due to administrator command", or a connection exception).
        return db
            .code()
            .is_some_and(|c| c.starts_with("08") || c.starts_with("57P"));
    }
    !matches!(
        e,
        sqlx::Error::RowNotFound
            | sqlx::Error::ColumnNotFound(_)
            | sqlx::Error::ColumnDecode { .. }
            | sqlx::Error::Decode(_)
            | sqlx::Error::TypeNotFound { .. }
    )
}

/// `statement` under the client-side deadline `deadline`: past it, an I/O error (which makes
/// [`Lease::release`] close the connection).
async fn within<T>(
    deadline: Duration,
    statement: impl Future<Output = Result<T, sqlx::Error>>,
) -> Result<T, sqlx::Error> {
    tokio::time::timeout(deadline, statement)
        .await
        .unwrap_or_else(|_| {
            Err(sqlx::Error::Io(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "the database did not answer within the statement deadline",
            )))
        })
}

/// A write outside a transaction begins when it is sent: from then on its request's deadline
/// waits for it (see [`crate::deadline`]); bookkeeping writes are not `guarded`.
fn sending_write(guarded: bool) -> Result<(), DbErr> {
    if guarded {
        crate::deadline::enter_write()?;
    }
    Ok(())
}

/// Whether a statement sent as a query writes (`INSERT … RETURNING` and the like).
fn writes(stmt: &Statement) -> bool {
    let head = stmt.sql.trim_start();
    ["INSERT", "UPDATE", "DELETE", "WITH"].iter().any(|w| {
        head.get(..w.len())
            .is_some_and(|h| h.eq_ignore_ascii_case(w))
    })
}

fn query_err(e: sqlx::Error) -> DbErr {
    DbErr::Query(RuntimeErr::SqlxError(e))
}

fn exec_err(e: sqlx::Error) -> DbErr {
    DbErr::Exec(RuntimeErr::SqlxError(e))
}

/// Rows that came back, decoded by `T`.
fn decode<T: FromRow>(
    rows: Result<Vec<sqlx::postgres::PgRow>, sqlx::Error>,
) -> Result<Vec<T>, DbErr> {
    rows.map_err(query_err)?
        .iter()
        .map(|row| T::from_row(&PgRow(row)))
        .collect()
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
    pub(crate) async fn connect(url: &str, options: &DbOptions) -> Result<Self, DbErr> {
        let timeout_ms = options.statement_timeout.as_millis().max(1).to_string();
        let connect = PgConnectOptions::from_str(url)
            .map_err(|e| DbErr::Conn(RuntimeErr::SqlxError(e)))?
            .options([
                ("statement_timeout", timeout_ms.as_str()),
                ("tcp_keepalives_idle", &KEEPALIVE_IDLE_SECS.to_string()),
                (
                    "tcp_keepalives_interval",
                    &KEEPALIVE_INTERVAL_SECS.to_string(),
                ),
                ("tcp_keepalives_count", "6"),
            ]);
        let max_connections = options.max_connections.max(1);
        let db = Self {
            shared: Arc::new(Shared {
                options: connect,
                idle: Mutex::new(Vec::new()),
                permits: Arc::new(Semaphore::new(
                    usize::try_from(max_connections).unwrap_or(1),
                )),
                max_connections,
                acquire_timeout: options.acquire_timeout,
                statement_deadline: options.statement_timeout + CLIENT_GRACE,
                max_lifetime: options.max_lifetime,
                idle_check_after: options.idle_check_after,
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
        loop {
            let idle = lock(&shared.idle).pop();
            let Some(mut pooled) = idle else { break };
            if pooled.opened.elapsed() >= shared.max_lifetime {
                continue;
            }
            if pooled.used.elapsed() >= shared.idle_check_after {
                // Sat idle long enough for the server (or a proxy) to have dropped it.
                let alive = tokio::time::timeout(shared.acquire_timeout, pooled.conn.ping()).await;
                if !matches!(alive, Ok(Ok(()))) {
                    continue;
                }
            }
            return Ok(Lease {
                conn: Some(pooled.conn),
                opened: pooled.opened,
                _permit: permit,
                shared: shared.clone(),
            });
        }
        let conn = tokio::time::timeout(
            shared.acquire_timeout,
            PgConnection::connect_with(&shared.options),
        )
        .await
        .map_err(|_| timed_out())?
        .map_err(|e| DbErr::Conn(RuntimeErr::SqlxError(e)))?;
        Ok(Lease {
            conn: Some(conn),
            opened: Instant::now(),
            _permit: permit,
            shared: shared.clone(),
        })
    }

    fn deadline(&self) -> Duration {
        self.shared.statement_deadline
    }

    /// `(open, idle)` connections.
    pub(crate) fn pool_stats(&self) -> (u32, u32) {
        let idle = u32::try_from(lock(&self.shared.idle).len()).unwrap_or(u32::MAX);
        let busy = self.shared.max_connections
            - u32::try_from(self.shared.permits.available_permits()).unwrap_or(0);
        (busy + idle, idle)
    }

    pub(crate) async fn execute(
        &self,
        stmt: Statement,
        guarded: bool,
    ) -> Result<ExecResult, DbErr> {
        let mut lease = self.acquire().await?;
        sending_write(guarded)?;
        let out = within(self.deadline(), query(&stmt).execute(lease.conn()?)).await;
        lease.release(&out);
        out.map(ExecResult::from).map_err(exec_err)
    }

    pub(crate) async fn execute_unprepared(
        &self,
        sql: &str,
        guarded: bool,
    ) -> Result<ExecResult, DbErr> {
        let mut lease = self.acquire().await?;
        sending_write(guarded)?;
        let out = within(self.deadline(), lease.conn()?.execute(sql)).await;
        lease.release(&out);
        out.map(ExecResult::from).map_err(exec_err)
    }

    pub(crate) async fn query_one(
        &self,
        stmt: Statement,
        guarded: bool,
    ) -> Result<Option<QueryResult>, DbErr> {
        let mut lease = self.acquire().await?;
        sending_write(guarded && writes(&stmt))?;
        let out = within(self.deadline(), query(&stmt).fetch_optional(lease.conn()?)).await;
        lease.release(&out);
        out.map(|row| row.map(QueryResult::from)).map_err(query_err)
    }

    /// See [`crate::Db::read_i64`].
    pub(crate) async fn read_i64(&self, stmt: &Statement) -> Result<Option<i64>, DbErr> {
        use sqlx::Row;
        let mut lease = self.acquire().await?;
        let out = within(self.deadline(), query(stmt).fetch_optional(lease.conn()?)).await;
        lease.release(&out);
        match out.map_err(query_err)? {
            Some(row) => row.try_get::<i64, usize>(0).map(Some).map_err(query_err),
            None => Ok(None),
        }
    }

    /// See [`crate::Db::read`].
    pub(crate) async fn read<T: FromRow>(&self, stmt: &Statement) -> Result<Vec<T>, DbErr> {
        let mut lease = self.acquire().await?;
        let out = within(self.deadline(), query(stmt).fetch_all(lease.conn()?)).await;
        lease.release(&out);
        decode(out)
    }

    pub(crate) async fn query_all(
        &self,
        stmt: Statement,
        guarded: bool,
    ) -> Result<Vec<QueryResult>, DbErr> {
        let mut lease = self.acquire().await?;
        sending_write(guarded && writes(&stmt))?;
        let out = within(self.deadline(), query(&stmt).fetch_all(lease.conn()?)).await;
        lease.release(&out);
        out.map(|rows| rows.into_iter().map(QueryResult::from).collect())
            .map_err(query_err)
    }

    /// Checks that the server answers.
    pub(crate) async fn ping(&self) -> Result<(), DbErr> {
        let mut lease = self.acquire().await?;
        let out = within(self.deadline(), lease.conn()?.ping()).await;
        lease.release(&out);
        out.map_err(|e| DbErr::Conn(RuntimeErr::SqlxError(e)))
    }

    /// Closes the idle connections and refuses new ones.
    pub(crate) async fn close(&self) {
        self.shared.permits.close();
        let idle: Vec<Pooled> = std::mem::take(&mut *lock(&self.shared.idle));
        for pooled in idle {
            let _ = pooled.conn.close().await;
        }
    }

    /// Begins a transaction on a connection of its own.
    pub(crate) async fn begin(&self) -> Result<PgTxn, DbErr> {
        let txn = self.begin_with("BEGIN").await?;
        // Begun: from here on the request's deadline waits for this write (or, past the
        // deadline already, the write is rolled back before it did anything).
        crate::deadline::enter_write()?;
        Ok(txn)
    }

    /// Begins a read-only transaction whose statements all see the state of its first one
    /// (`REPEATABLE READ`): a snapshot, not a write.
    pub(crate) async fn begin_snapshot(&self) -> Result<PgTxn, DbErr> {
        self.begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            .await
    }

    async fn begin_with(&self, begin: &str) -> Result<PgTxn, DbErr> {
        let mut lease = self.acquire().await?;
        let out = within(self.deadline(), lease.conn()?.execute(begin)).await;
        if let Err(e) = out {
            lease.discard();
            return Err(exec_err(e));
        }
        Ok(PgTxn {
            lease: tokio::sync::Mutex::new(Some(lease)),
            in_statement: std::sync::atomic::AtomicBool::new(false),
        })
    }
}

/// A transaction holding its connection. Dropped without [`PgTxn::commit`], it is rolled back
/// (on a spawned task, then the connection goes back to the pool); dropped in the middle of a
/// statement, or outside a runtime, its connection is closed instead, which ends the
/// transaction on the server (the connection's state is unknown).
pub(crate) struct PgTxn {
    lease: tokio::sync::Mutex<Option<Lease>>,
    /// A statement is on the wire.
    in_statement: std::sync::atomic::AtomicBool,
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
    /// The transaction's lease, marked as having a statement on the wire (a drop before
    /// [`PgTxn::answered`] closes the connection).
    fn on_wire<'g>(
        &self,
        guard: &'g mut tokio::sync::MutexGuard<'_, Option<Lease>>,
    ) -> Result<&'g mut Lease, DbErr> {
        let lease = guard.as_mut().ok_or_else(finished)?;
        self.in_statement
            .store(true, std::sync::atomic::Ordering::SeqCst);
        Ok(lease)
    }

    /// The statement has its answer; after a connection error the transaction is over (its
    /// connection is closed, the server rolls it back).
    fn answered<T>(
        &self,
        guard: &mut tokio::sync::MutexGuard<'_, Option<Lease>>,
        out: &Result<T, sqlx::Error>,
    ) {
        self.in_statement
            .store(false, std::sync::atomic::Ordering::SeqCst);
        if out.as_ref().err().is_some_and(is_connection_error) {
            if let Some(lease) = guard.take() {
                lease.discard();
            }
        }
    }

    pub(crate) async fn execute(&self, stmt: &Statement) -> Result<ExecResult, DbErr> {
        let mut guard = self.lease.lock().await;
        let lease = self.on_wire(&mut guard)?;
        let deadline = lease.shared.statement_deadline;
        let out = within(deadline, query(stmt).execute(lease.conn()?)).await;
        self.answered(&mut guard, &out);
        out.map(ExecResult::from).map_err(exec_err)
    }

    pub(crate) async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        let mut guard = self.lease.lock().await;
        let lease = self.on_wire(&mut guard)?;
        let deadline = lease.shared.statement_deadline;
        let out = within(deadline, lease.conn()?.execute(sql)).await;
        self.answered(&mut guard, &out);
        out.map(ExecResult::from).map_err(exec_err)
    }

    pub(crate) async fn query_one(&self, stmt: &Statement) -> Result<Option<QueryResult>, DbErr> {
        let mut guard = self.lease.lock().await;
        let lease = self.on_wire(&mut guard)?;
        let deadline = lease.shared.statement_deadline;
        let out = within(deadline, query(stmt).fetch_optional(lease.conn()?)).await;
        self.answered(&mut guard, &out);
        out.map(|row| row.map(QueryResult::from)).map_err(query_err)
    }

    pub(crate) async fn query_all(&self, stmt: &Statement) -> Result<Vec<QueryResult>, DbErr> {
        let mut guard = self.lease.lock().await;
        let lease = self.on_wire(&mut guard)?;
        let deadline = lease.shared.statement_deadline;
        let out = within(deadline, query(stmt).fetch_all(lease.conn()?)).await;
        self.answered(&mut guard, &out);
        out.map(|rows| rows.into_iter().map(QueryResult::from).collect())
            .map_err(query_err)
    }

    /// Rows decoded by `T` (see [`crate::Db::read`]).
    pub(crate) async fn read<T: FromRow>(&self, stmt: &Statement) -> Result<Vec<T>, DbErr> {
        let mut guard = self.lease.lock().await;
        let lease = self.on_wire(&mut guard)?;
        let deadline = lease.shared.statement_deadline;
        let out = within(deadline, query(stmt).fetch_all(lease.conn()?)).await;
        self.answered(&mut guard, &out);
        decode(out)
    }

    /// Rows of `N` text columns, read without sea-orm's row maps (see [`crate::Snapshot`]).
    pub(crate) async fn text_rows<const N: usize>(
        &self,
        stmt: &Statement,
    ) -> Result<Vec<[String; N]>, DbErr> {
        use sqlx::Row;
        let mut guard = self.lease.lock().await;
        let lease = self.on_wire(&mut guard)?;
        let deadline = lease.shared.statement_deadline;
        let out = within(deadline, query(stmt).fetch_all(lease.conn()?)).await;
        self.answered(&mut guard, &out);
        out.map_err(query_err)?
            .iter()
            .map(|row| {
                let mut cells: [String; N] = std::array::from_fn(|_| String::new());
                for (i, cell) in cells.iter_mut().enumerate() {
                    *cell = row.try_get::<String, usize>(i).map_err(query_err)?;
                }
                Ok(cells)
            })
            .collect()
    }

    /// Commits; the connection goes back to the pool unless it broke.
    pub(crate) async fn commit(self) -> Result<(), DbErr> {
        let Some(mut lease) = self.lease.lock().await.take() else {
            return Err(finished());
        };
        let deadline = lease.shared.statement_deadline;
        // Dropped while COMMIT is on the wire, the lease (and its connection) is dropped with
        // this future: closed, not reused.
        let out = within(deadline, lease.conn()?.execute("COMMIT")).await;
        lease.release(&out);
        out.map(|_| ()).map_err(exec_err)
    }
}

impl Drop for PgTxn {
    fn drop(&mut self) {
        let Some(mut lease) = self.lease.get_mut().take() else {
            return;
        };
        if *self.in_statement.get_mut() {
            // Dropped with a statement on the wire: what the connection will say next is
            // unknown. Closing it ends the transaction on the server.
            lease.discard();
            return;
        }
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            handle.spawn(async move {
                let deadline = lease.shared.statement_deadline;
                let out = match lease.conn() {
                    Ok(conn) => within(deadline, conn.execute("ROLLBACK")).await.map(|_| ()),
                    Err(_) => return,
                };
                lease.release(&out);
            });
        }
        // Outside a runtime the lease is dropped here: the connection closes and the server
        // rolls the transaction back.
    }
}

#[cfg(test)]
mod tests {
    //! Against the machine's PostgreSQL, named by `SCIMD_TEST_DATABASE_URL` (CI sets it, as for
    //! the black-box suite); without it each test says so on the terminal and checks nothing.

    use super::*;

    fn url() -> Option<String> {
        let url = std::env::var("SCIMD_TEST_DATABASE_URL").ok()?;
        if url.starts_with("postgres") {
            Some(url)
        } else {
            None
        }
    }

    fn skipped(test: &str) {
        eprintln!("{test}: SCIMD_TEST_DATABASE_URL is not set; not run on PostgreSQL");
    }

    async fn pool(options: DbOptions) -> Option<PgDb> {
        Some(PgDb::connect(&url()?, &options).await.unwrap())
    }

    fn stmt(sql: &str) -> Statement {
        Statement::from_string(BACKEND, sql)
    }

    async fn backend_pid(db: &PgDb) -> i32 {
        let row = db
            .query_one(stmt("SELECT pg_backend_pid() AS pid"), true)
            .await
            .unwrap()
            .unwrap();
        row.try_get("", "pid").unwrap()
    }

    async fn session_exists(db: &PgDb, pid: i32) -> bool {
        let row = db
            .query_one(
                Statement::from_sql_and_values(
                    BACKEND,
                    "SELECT COUNT(*) AS n FROM pg_stat_activity WHERE pid = $1",
                    [pid.into()],
                ),
                true,
            )
            .await
            .unwrap()
            .unwrap();
        row.try_get::<i64>("", "n").unwrap() > 0
    }

    /// The server stops a statement at `statement_timeout` (SQLSTATE 57014), and the
    /// connection serves the next statement.
    #[tokio::test]
    async fn statements_stop_at_the_statement_timeout() {
        let Some(db) = pool(DbOptions {
            statement_timeout: Duration::from_millis(200),
            ..DbOptions::default()
        })
        .await
        else {
            return skipped("statements_stop_at_the_statement_timeout");
        };
        let started = Instant::now();
        let err = db
            .query_one(stmt("SELECT pg_sleep(5)"), true)
            .await
            .unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(3));
        let DbErr::Query(RuntimeErr::SqlxError(sqlx::Error::Database(e))) = &err else {
            panic!("{err:?}")
        };
        assert_eq!(e.code().as_deref(), Some("57014"));
        db.ping().await.unwrap();
        db.close().await;
    }

    /// A transaction dropped while a statement is on the wire closes its connection (the
    /// server ends the session) instead of rolling back on it and reusing it.
    #[tokio::test]
    async fn a_transaction_dropped_mid_statement_closes_its_connection() {
        let Some(db) = pool(DbOptions::default()).await else {
            return skipped("a_transaction_dropped_mid_statement_closes_its_connection");
        };
        let txn = db.begin().await.unwrap();
        let row = txn
            .query_one(&stmt("SELECT pg_backend_pid() AS pid"))
            .await
            .unwrap()
            .unwrap();
        let pid: i32 = row.try_get("", "pid").unwrap();
        // The server notices the closed socket when the sleep ends.
        let slow = stmt("SELECT pg_sleep(1)");
        let cut = tokio::time::timeout(Duration::from_millis(100), txn.query_one(&slow)).await;
        assert!(cut.is_err());
        drop(txn);
        let started = Instant::now();
        while session_exists(&db, pid).await {
            assert!(
                started.elapsed() < Duration::from_secs(3),
                "session {pid} lives on"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(
            db.pool_stats(),
            (1, 1),
            "only the checking connection is open"
        );
        db.close().await;
    }

    /// Connections are reused while young, and closed once past their lifetime.
    #[tokio::test]
    async fn connections_live_their_lifetime_only() {
        let Some(db) = pool(DbOptions::default()).await else {
            return skipped("connections_live_their_lifetime_only");
        };
        assert_eq!(backend_pid(&db).await, backend_pid(&db).await);
        db.close().await;
        let Some(db) = pool(DbOptions {
            max_lifetime: Duration::ZERO,
            ..DbOptions::default()
        })
        .await
        else {
            unreachable!()
        };
        assert_ne!(backend_pid(&db).await, backend_pid(&db).await);
        db.close().await;
    }

    /// A connection that sat idle is checked before it is handed out: one the server dropped
    /// meanwhile is replaced, and the statement succeeds. Without the check (a connection used
    /// recently) the same drop costs one failed statement.
    #[tokio::test]
    async fn idle_connections_are_checked_before_use() {
        for (check_after, survives) in [(Duration::ZERO, true), (Duration::from_secs(3600), false)]
        {
            let Some(db) = pool(DbOptions {
                idle_check_after: check_after,
                ..DbOptions::default()
            })
            .await
            else {
                return skipped("idle_connections_are_checked_before_use");
            };
            let pid = backend_pid(&db).await;
            let killer = pool(DbOptions::default()).await.unwrap();
            killer
                .execute(
                    Statement::from_sql_and_values(
                        BACKEND,
                        "SELECT pg_terminate_backend($1)",
                        [pid.into()],
                    ),
                    true,
                )
                .await
                .unwrap();
            while session_exists(&killer, pid).await {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            killer.close().await;
            let after = db.query_one(stmt("SELECT 1 AS one"), true).await;
            assert_eq!(after.is_ok(), survives, "{after:?}");
            // Either way the pool recovers.
            db.ping().await.unwrap();
            db.close().await;
        }
    }
}
